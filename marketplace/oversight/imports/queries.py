"""SQL of the OCDS import, with typed rows. Each write is one multi-row statement per batch (`unnest` of
arrays: one round trip whatever the batch size); all run in the caller's transaction (`db.execute` raises
outside one once the framework lands)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from marketplace.core import db

# Every import batch (CLI, harvest, our own publication) compiles under this transaction-level lock: two
# batches that touch the same ocid must not both merge on top of the same stored compiled release.
COMPILE_LOCK = 7_300_015
SEP = "\x1f"  # joins a row's text[] values inside one text (unit separator: never in tags or roles)


class PublisherRow(msgspec.Struct):
    id: int
    slug: str
    name: str
    uri: str
    ocid_prefixes: list[str]
    own: bool
    feed_url: str | None
    feed_kind: str
    feed_after_param: str
    feed_interval_minutes: int
    feed_cursor: str
    feed_next_at: datetime | None
    feed_failures: int
    feed_last_error: str
    last_harvest_at: datetime | None
    last_import_at: datetime | None
    process_count: int
    release_count: int


class StoredCompiled(msgspec.Struct):
    ocid: str
    publisher_id: int
    source: str
    hash: bytes
    release_date: str
    version: str
    data: str  # JSON text


class CompiledRow(msgspec.Struct):
    ocid: str
    publisher_id: int
    source: str
    hash: bytes
    release_date: str
    version: str
    date: datetime | None
    buyer_id: str
    buyer_name: str
    buyer_ruc: str | None
    tender_status: str
    procurement_method: str
    award_count: int
    contract_count: int
    data: str


class PartyRow(msgspec.Struct):
    ocid: str
    party_id: str
    name: str
    ruc: str | None
    roles: list[str]


class ReleaseRow(msgspec.Struct):
    hash: bytes
    publisher_id: int
    ocid: str
    release_id: str
    date: str
    version: str
    tags: list[str]
    data: str


class StoredRelease(msgspec.Struct):
    version: str
    data: str


class CompiledFeedRow(msgspec.Struct):
    ocid: str
    publisher_id: int
    txid: str
    seq: int
    hash: bytes
    data: str


PUBLISHER_COLUMNS = ", ".join(PublisherRow.__struct_fields__)


async def publishers() -> list[PublisherRow]:
    rows = await db.fetch(f"SELECT {PUBLISHER_COLUMNS} FROM ocds_publisher ORDER BY own DESC, name, id")
    return [PublisherRow(**r) for r in rows]


async def publisher_by_slug(slug: str) -> PublisherRow | None:
    row = await db.fetchrow(f"SELECT {PUBLISHER_COLUMNS} FROM ocds_publisher WHERE slug = $1", slug)
    return PublisherRow(**row) if row else None


async def publisher_by_id(publisher_id: int) -> PublisherRow | None:
    row = await db.fetchrow(f"SELECT {PUBLISHER_COLUMNS} FROM ocds_publisher WHERE id = $1", publisher_id)
    return PublisherRow(**row) if row else None


async def insert_publisher(*, slug: str, name: str, uri: str, uid: str, prefixes: list[str],
                           own: bool = False) -> int | None:
    """The new publisher's id, or None when the slug is taken."""
    row = await db.fetchrow(
        "INSERT INTO ocds_publisher (slug, name, uri, uid, ocid_prefixes, own) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT DO NOTHING RETURNING id", slug, name, uri, uid, prefixes, own)
    return row["id"] if row else None


async def name_publisher(publisher_id: int, *, name: str, uri: str, uid: str) -> None:
    await db.execute("UPDATE ocds_publisher SET name = $2, uri = CASE WHEN uri = '' THEN $3 ELSE uri END,"
                     " uid = CASE WHEN uid = '' THEN $4 ELSE uid END WHERE id = $1", publisher_id, name, uri, uid)


async def add_prefix(publisher_id: int, prefix: str) -> None:
    await db.execute(
        "UPDATE ocds_publisher SET ocid_prefixes = array_append(ocid_prefixes, $2)"
        " WHERE id = $1 AND NOT ($2 = ANY(ocid_prefixes))", publisher_id, prefix)


async def own_publisher_id() -> int | None:
    row = await db.fetchrow("SELECT id FROM ocds_publisher WHERE own")
    return row["id"] if row else None


async def current_txid() -> str:
    row = await db.fetchrow("SELECT pg_current_xact_id()::text AS txid")
    assert row is not None
    txid: str = row["txid"]
    return txid


async def lock_compile() -> None:
    await db.execute("SELECT pg_advisory_xact_lock($1)", COMPILE_LOCK)


async def known_hashes(hashes: list[bytes]) -> set[bytes]:
    rows = await db.fetch("SELECT hash FROM ocds_import_release WHERE hash = ANY($1::bytea[])", hashes)
    return {bytes(r["hash"]) for r in rows}


async def stored_compiled(ocids: list[str]) -> dict[str, StoredCompiled]:
    rows = await db.fetch(
        "SELECT ocid, publisher_id, source, hash, release_date, version, data::text AS data"
        " FROM ocds_compiled WHERE ocid = ANY($1::text[])", ocids)
    return {r["ocid"]: StoredCompiled(**{**r, "hash": bytes(r["hash"])}) for r in rows}


async def imported_releases(ocids: list[str]) -> dict[str, list[StoredRelease]]:
    """Every stored release of these processes, in merge order (date, then arrival)."""
    rows = await db.fetch(
        "SELECT ocid, version, data::text AS data FROM ocds_import_release WHERE ocid = ANY($1::text[])"
        " ORDER BY ocid, date, id", ocids)
    out: dict[str, list[StoredRelease]] = {}
    for r in rows:
        out.setdefault(r["ocid"], []).append(StoredRelease(version=r["version"], data=r["data"]))
    return out


async def own_releases(ocids: list[str]) -> dict[str, list[str]]:
    """Our own processes' releases (ocds_release), in merge order."""
    rows = await db.fetch(
        "SELECT ocid, data::text AS data FROM ocds_release WHERE ocid = ANY($1::text[]) ORDER BY ocid, date, seq",
        ocids)
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["ocid"], []).append(r["data"])
    return out


async def own_without_compiled(limit: int) -> list[str]:
    rows = await db.fetch(
        "SELECT DISTINCT r.ocid FROM ocds_release r"
        " WHERE NOT EXISTS (SELECT 1 FROM ocds_compiled c WHERE c.ocid = r.ocid) LIMIT $1", limit)
    return [r["ocid"] for r in rows]


async def insert_releases(rows: list[ReleaseRow]) -> int:
    if not rows:
        return 0
    status = await db.execute(
        "INSERT INTO ocds_import_release (hash, publisher_id, ocid, release_id, date, version, tags, data)"
        " SELECT h, p, o, i, d, v, CASE WHEN t = '' THEN '{}'::text[] ELSE string_to_array(t, $9) END, j::jsonb"
        " FROM unnest($1::bytea[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],"
        "   $8::text[]) AS r(h, p, o, i, d, v, t, j)"
        " ON CONFLICT (hash) DO NOTHING",
        [r.hash for r in rows], [r.publisher_id for r in rows], [r.ocid for r in rows],
        [r.release_id for r in rows], [r.date for r in rows], [r.version for r in rows],
        [SEP.join(r.tags) for r in rows], [r.data for r in rows], SEP)
    return int(status.split()[-1])


async def copy_releases(rows: list[ReleaseRow]) -> int:
    """Insert releases known to be new (their hashes were checked under the compile lock) by binary COPY:
    no per-value array encoding and no ON CONFLICT probe. Returns how many."""
    if not rows:
        return 0
    conn = await db.require_transaction("copying releases").connection()
    await conn.copy_records_to_table(
        "ocds_import_release",
        columns=["hash", "publisher_id", "ocid", "release_id", "date", "version", "tags", "data"],
        records=[(r.hash, r.publisher_id, r.ocid, r.release_id, r.date, r.version, r.tags, r.data) for r in rows])
    return len(rows)


async def copy_new_compiled(rows: list[CompiledRow], parties: list[PartyRow]) -> None:
    """Insert the compiled releases of processes not stored yet (checked under the compile lock), and their
    parties, by binary COPY; `txid` and `seq` take their defaults (the change feed)."""
    if not rows:
        return
    conn = await db.require_transaction("copying compiled releases").connection()
    fields = CompiledRow.__struct_fields__
    await conn.copy_records_to_table("ocds_compiled", columns=list(fields),
                                     records=[tuple(getattr(r, f) for f in fields) for r in rows])
    if parties:
        seen: set[tuple[str, str]] = set()
        records = []
        for p in parties:  # (ocid, party_id) is the key: the first of a repeated party wins, as ON CONFLICT did
            if (p.ocid, p.party_id) not in seen:
                seen.add((p.ocid, p.party_id))
                records.append((p.ocid, p.party_id, p.name, p.ruc, p.roles))
        await conn.copy_records_to_table("ocds_party", columns=["ocid", "party_id", "name", "ruc", "roles"],
                                         records=records)


async def upsert_compiled(rows: list[CompiledRow]) -> None:
    """Insert or replace compiled releases; every row written takes a new place in the change feed."""
    if not rows:
        return
    cols: dict[str, list[Any]] = {f: [getattr(r, f) for r in rows] for f in CompiledRow.__struct_fields__}
    await db.execute(
        "INSERT INTO ocds_compiled (ocid, publisher_id, source, hash, release_date, version, date, buyer_id,"
        " buyer_name, buyer_ruc, tender_status, procurement_method, award_count, contract_count, data)"
        " SELECT o, p, s, h, rd, v, d, bi, bn, br, ts, pm, ac, cc, j::jsonb FROM unnest($1::text[], $2::bigint[],"
        " $3::text[], $4::bytea[], $5::text[], $6::text[], $7::timestamptz[], $8::text[], $9::text[], $10::text[],"
        " $11::text[], $12::text[], $13::int[], $14::int[], $15::text[])"
        "   AS r(o, p, s, h, rd, v, d, bi, bn, br, ts, pm, ac, cc, j)"
        " ON CONFLICT (ocid) DO UPDATE SET source = excluded.source, hash = excluded.hash,"
        " release_date = excluded.release_date, version = excluded.version, date = excluded.date,"
        " buyer_id = excluded.buyer_id, buyer_name = excluded.buyer_name, buyer_ruc = excluded.buyer_ruc,"
        " tender_status = excluded.tender_status, procurement_method = excluded.procurement_method,"
        " award_count = excluded.award_count, contract_count = excluded.contract_count, data = excluded.data,"
        " txid = pg_current_xact_id(), seq = nextval('ocds_compiled_seq'), updated_at = now()",
        *cols.values())


async def replace_parties(ocids: list[str], rows: list[PartyRow]) -> None:
    if not ocids:
        return
    await db.execute("DELETE FROM ocds_party WHERE ocid = ANY($1::text[])", ocids)
    if not rows:
        return
    await db.execute(
        "INSERT INTO ocds_party (ocid, party_id, name, ruc, roles)"
        " SELECT o, i, n, r, CASE WHEN ro = '' THEN '{}'::text[] ELSE string_to_array(ro, $6) END"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS x(o, i, n, r, ro)"
        " ON CONFLICT DO NOTHING",
        [r.ocid for r in rows], [r.party_id for r in rows], [r.name for r in rows], [r.ruc for r in rows],
        [SEP.join(r.roles) for r in rows], SEP)


async def count_publishers(counts: dict[int, tuple[int, int]]) -> None:
    """Add (releases, processes) to each publisher's counters and stamp its last import."""
    if not counts:
        return
    ids = list(counts)
    await db.execute(
        "UPDATE ocds_publisher p SET release_count = p.release_count + d.r, process_count = p.process_count + d.n,"
        " last_import_at = now() FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS d(id, r, n)"
        " WHERE p.id = d.id",
        ids, [counts[i][0] for i in ids], [counts[i][1] for i in ids])


async def start_run(origin: str, publisher_id: int | None) -> int:
    # Scratch rows of runs that ended or died (a killed import never cleans up after itself).
    await db.execute("DELETE FROM ocds_import_seen WHERE run_id IN (SELECT id FROM ocds_import_run"
                     " WHERE finished_at IS NOT NULL OR started_at < now() - interval '1 day')")
    row = await db.fetchrow("INSERT INTO ocds_import_run (origin, publisher_id) VALUES ($1, $2) RETURNING id",
                            origin, publisher_id)
    assert row is not None
    run_id: int = row["id"]
    return run_id


async def mark_seen(run_id: int, statuses: dict[str, int]) -> None:
    if not statuses:
        return
    await db.execute(
        "INSERT INTO ocds_import_seen (run_id, ocid, status) SELECT $1, o, s FROM unnest($2::text[], $3::smallint[])"
        "   AS x(o, s)"
        " ON CONFLICT (run_id, ocid) DO UPDATE SET status = GREATEST(ocds_import_seen.status, excluded.status)",
        run_id, list(statuses), list(statuses.values()))


async def finish_run(run_id: int, *, files: int, releases: int, records: int, releases_new: int,
                     refused: int) -> tuple[int, int, int]:
    """Close the run: its (new, changed, unchanged) process counts, from the scratch rows it then deletes."""
    rows = await db.fetch("SELECT status, count(*) AS n FROM ocds_import_seen WHERE run_id = $1 GROUP BY status",
                          run_id)
    by = {r["status"]: r["n"] for r in rows}
    new, changed, unchanged = by.get(2, 0), by.get(1, 0), by.get(0, 0)
    await db.execute("DELETE FROM ocds_import_seen WHERE run_id = $1", run_id)
    await db.execute(
        "UPDATE ocds_import_run SET finished_at = now(), files = $2, releases = $3, records = $4, releases_new = $5,"
        " processes_new = $6, processes_changed = $7, processes_unchanged = $8, refused = $9 WHERE id = $1",
        run_id, files, releases, records, releases_new, new, changed, unchanged, refused)
    return new, changed, unchanged


# --- the compiled releases' change feed ---------------------------------------------------------------------

# Ordered by the xid8 column (`p.txid`), not a text alias: in text order "100" < "99", and a page cut there
# would move the cursor past releases never read. The page's keys are chosen first (narrow rows), then only
# its compiled releases are read, by key: a backlog's other rows are never detoasted.
COMPILED_FEED = (
    "WITH p AS (SELECT ocid, txid, seq FROM ocds_compiled"
    "           WHERE (txid, seq) > ($1::text::xid8, $2::bigint) AND txid < (SELECT local_xmin())"
    "           ORDER BY txid, seq LIMIT $3)"
    " SELECT c.ocid, c.publisher_id, p.txid::text AS txid, p.seq, c.hash, c.data::text AS data"
    " FROM p CROSS JOIN LATERAL (SELECT * FROM ocds_compiled x WHERE x.ocid = p.ocid OFFSET 0) c")  # by key, one by one
# The same, of what transactions before $4 wrote only.
COMPILED_FEED_BELOW = COMPILED_FEED.replace("AND txid < (SELECT local_xmin())",
                                            "AND txid < (SELECT local_xmin()) AND txid < $4::text::xid8")
assert COMPILED_FEED_BELOW != COMPILED_FEED


async def compiled_feed(*, txid: str, seq: int, limit: int, below: str | None = None) -> list[CompiledFeedRow]:
    """Compiled releases changed after (txid, seq), in commit-safe order (below `local_xmin()`, the oldest
    transaction still running in this database: one that commits late is read when it commits, never jumped
    over); with `below` (a transaction id), only those written by transactions before it."""
    rows = await (db.fetch(COMPILED_FEED, txid, seq, limit) if below is None
                  else db.fetch(COMPILED_FEED_BELOW, txid, seq, limit, below))
    rows.sort(key=lambda r: (int(r["txid"]), r["seq"]))  # here rather than a sort of the wide rows in the server
    return [CompiledFeedRow(**{**r, "hash": bytes(r["hash"])}) for r in rows]


# --- harvesting ---------------------------------------------------------------------------------------------

async def register_publisher(*, slug: str, name: str, uri: str, prefixes: list[str], feed_url: str | None,
                             feed_kind: str, after_param: str, interval_minutes: int, now: datetime) -> PublisherRow:
    """Create the publisher with this slug, or update it (its prefixes are added to, never removed). A new or
    changed feed is due at once."""
    row = await db.fetchrow(
        "INSERT INTO ocds_publisher AS p (slug, name, uri, ocid_prefixes, feed_url, feed_kind, feed_after_param,"
        " feed_interval_minutes, feed_next_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (slug) DO UPDATE SET name = excluded.name, uri = excluded.uri,"
        " ocid_prefixes = ARRAY(SELECT DISTINCT unnest(p.ocid_prefixes || excluded.ocid_prefixes) ORDER BY 1),"
        " feed_url = excluded.feed_url, feed_kind = excluded.feed_kind,"
        " feed_after_param = excluded.feed_after_param, feed_interval_minutes = excluded.feed_interval_minutes,"
        " feed_next_at = CASE WHEN p.feed_url IS DISTINCT FROM excluded.feed_url THEN $9 ELSE p.feed_next_at END,"
        " feed_cursor = CASE WHEN p.feed_url IS DISTINCT FROM excluded.feed_url THEN '' ELSE p.feed_cursor END"
        f" RETURNING {PUBLISHER_COLUMNS}",
        slug, name, uri, prefixes, feed_url, feed_kind if feed_url else "", after_param, interval_minutes, now)
    assert row is not None
    return PublisherRow(**row)


async def prefix_owners(prefixes: list[str]) -> dict[str, str]:
    """prefix -> slug of the publisher that already has it."""
    rows = await db.fetch(
        "SELECT p.slug, x AS prefix FROM ocds_publisher p, unnest(p.ocid_prefixes) x WHERE x = ANY($1::text[])",
        prefixes)
    return {r["prefix"]: r["slug"] for r in rows}


async def claim_due(now: datetime, lease_until: datetime, only_slug: str | None) -> PublisherRow | None:
    """Take the lease of one publisher whose feed is due (or of `only_slug`, due or not): a second worker
    never harvests the same feed at the same time. Commits on its own (the caller's transaction if any)."""
    row = await db.fetchrow(
        "UPDATE ocds_publisher SET feed_lease_until = $2 WHERE id = ("
        "  SELECT id FROM ocds_publisher WHERE feed_url IS NOT NULL"
        "   AND (feed_lease_until IS NULL OR feed_lease_until < $1)"
        "   AND (CASE WHEN $3::text IS NULL THEN feed_next_at IS NULL OR feed_next_at <= $1 ELSE slug = $3 END)"
        "  ORDER BY feed_next_at NULLS FIRST, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
        f" RETURNING {PUBLISHER_COLUMNS}", now, lease_until, only_slug)
    return PublisherRow(**row) if row else None


async def set_cursor(publisher_id: int, cursor: str, now: datetime) -> None:
    await db.execute("UPDATE ocds_publisher SET feed_cursor = $2, last_harvest_at = $3 WHERE id = $1",
                     publisher_id, cursor, now)


async def harvest_done(publisher_id: int, *, next_at: datetime, now: datetime) -> None:
    await db.execute(
        "UPDATE ocds_publisher SET feed_failures = 0, feed_last_error = '', feed_next_at = $2,"
        " feed_lease_until = NULL, last_harvest_at = $3 WHERE id = $1", publisher_id, next_at, now)


async def harvest_failed(publisher_id: int, *, error: str, backoff_seconds: list[int], now: datetime) -> datetime:
    """Count a failure and put the next attempt off by backoff_seconds[failures - 1] (the last one beyond)."""
    row = await db.fetchrow(
        "UPDATE ocds_publisher SET feed_failures = feed_failures + 1, feed_last_error = $2,"
        " feed_next_at = $3::timestamptz + make_interval(secs => ($4::int[])[LEAST(feed_failures + 1,"
        "   cardinality($4::int[]))]), feed_lease_until = NULL"
        " WHERE id = $1 RETURNING feed_next_at", publisher_id, error[:1000], now, backoff_seconds)
    assert row is not None
    next_at: datetime = row["feed_next_at"]
    return next_at
