"""SQL of the red-flag read model, with typed rows. Writes are one multi-row statement each (`unnest` of
arrays: one round trip whatever the batch), in the caller's transaction (the sync and population jobs'
units of work); the page is a keyset range scan on the index of its filter (the bench measures it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from marketplace.core import db
from marketplace.oversight import reads
from marketplace.oversight.imports.queries import CompiledFeedRow

# The sync job and the population job take this lock (try-lock: a second worker skips the tick), so the
# tallies, the fences and the flags are changed by one of them at a time.
LOCK = 7_300_016
FEED = "compiled"
MAX_LIMIT = 500


class StoredProcess(msgspec.Struct):
    ocid: str
    publisher_id: int
    hash: bytes
    parts: str  # ProcessResult.as_dict() as JSON text


class PublisherState(msgspec.Struct):
    publisher_id: int
    currency: str | None
    meta: str  # JSON text: {code: {name: value}}
    fences_at: datetime | None
    settings_file: str | None = None  # the settings file it was computed with ('' : Cardinal's defaults)
    settings_hash: bytes | None = None  # their digest (publishers_ini.fingerprint); None: not met yet
    ocid_sample: str | None = None
    rebuild_after: str | None = None  # a recomputation under way: the last ocid done


class ProcessRow(msgspec.Struct):
    ocid: str
    publisher_id: int
    hash: bytes
    date: datetime
    buyer_id: str | None
    buyer_ruc: str | None
    ratio: float | None
    ratio_winner: str | None
    ratio_runner_up: str | None
    parts: str
    notes: str
    region: str | None = None  # ubigeo's first 2 digits: our own processes only


class FlagRow(msgspec.Struct):
    code: str
    scope: str  # process, tenderer, buyer, procuring_entity
    subject: str
    ocid: str | None
    origin: str  # process, ratio, population, alarm
    publisher_id: int
    buyer_id: str | None
    buyer_ruc: str | None
    supplier_id: str | None
    supplier_ruc: str | None
    value: float
    evidence: str  # JSON text
    date: datetime
    region: str | None = None  # the process's (our own processes only)


class FlagRead(msgspec.Struct):
    id: int
    code: str
    scope: str
    subject: str
    ocid: str | None
    publisher_id: int
    buyer_id: str | None
    buyer_ruc: str | None
    supplier_id: str | None
    supplier_ruc: str | None
    value: float
    evidence: str
    date: datetime
    computed_at: datetime
    region: str | None = None


async def try_lock() -> bool:
    row = await db.fetchrow("SELECT pg_try_advisory_xact_lock($1) AS ok", LOCK)
    return bool(row and row["ok"])


async def cursor() -> tuple[int, int]:
    row = await db.fetchrow("SELECT last_txid, last_seq FROM redflag_feed WHERE name = $1", FEED)
    return (row["last_txid"], row["last_seq"]) if row else (0, 0)


async def set_cursor(txid: int, seq: int) -> None:
    await db.execute(
        "INSERT INTO redflag_feed (name, last_txid, last_seq) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE"
        " SET last_txid = excluded.last_txid, last_seq = excluded.last_seq, updated_at = now()", FEED, txid, seq)


async def processes(ocids: list[str]) -> dict[str, StoredProcess]:
    rows = await db.fetch("SELECT ocid, publisher_id, hash, parts::text AS parts FROM redflag_process"
                          " WHERE ocid = ANY($1::text[])", ocids)
    return {r["ocid"]: StoredProcess(**{**r, "hash": bytes(r["hash"])}) for r in rows}


async def publisher_states(ids: list[int]) -> dict[int, PublisherState]:
    """Each publisher's state (a publisher not met yet has no currency and no fences)."""
    rows = await db.fetch("SELECT publisher_id, currency, meta::text AS meta, fences_at, settings_file, settings_hash,"
                          " ocid_sample, rebuild_after FROM redflag_publisher WHERE publisher_id = ANY($1::bigint[])",
                          ids)
    found = {r["publisher_id"]: PublisherState(**{**r, "settings_hash": None if r["settings_hash"] is None
                                                  else bytes(r["settings_hash"])}) for r in rows}
    return {i: found.get(i) or PublisherState(publisher_id=i, currency=None, meta="{}", fences_at=None) for i in ids}


async def publisher_ids() -> list[int]:
    """The publishers the read model has met."""
    return [r["publisher_id"] for r in await db.fetch("SELECT publisher_id FROM redflag_publisher ORDER BY 1")]


async def slugs(ids: list[int]) -> dict[int, str]:
    rows = await db.fetch("SELECT id, slug FROM ocds_publisher WHERE id = ANY($1::bigint[])", ids)
    return {r["id"]: r["slug"] for r in rows}


async def touch_publishers(ids: list[int], currencies: dict[int, str], settings: dict[int, tuple[str, bytes]],
                           samples: dict[int, str]) -> None:
    """These publishers' processes changed (their population pass is due); fix the main currencies met, and,
    for a publisher met for the first time, the settings it is computed with and one of its ocids."""
    if ids:
        await db.execute(
            "INSERT INTO redflag_publisher AS p (publisher_id, currency, dirty, settings_file, settings_hash,"
            " ocid_sample)"
            " SELECT i, c, true, f, h, o FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bytea[], $5::text[])"
            " AS x(i, c, f, h, o)"
            " ON CONFLICT (publisher_id) DO UPDATE SET dirty = true,"
            " currency = coalesce(p.currency, excluded.currency),"
            " settings_file = coalesce(p.settings_file, excluded.settings_file),"
            " settings_hash = coalesce(p.settings_hash, excluded.settings_hash),"
            " ocid_sample = coalesce(p.ocid_sample, excluded.ocid_sample)",
            ids, [currencies.get(i) for i in ids], [settings[i][0] if i in settings else None for i in ids],
            [settings[i][1] if i in settings else None for i in ids], [samples.get(i) for i in ids])


async def reset_publisher(publisher_id: int, settings_file: str, settings_hash: bytes) -> None:
    """Its settings changed: empty its part of the model (flags but the stage alarms', tallies, processes,
    fences, main currency) and start recomputing it under these settings from its first ocid."""
    await db.execute("DELETE FROM redflag WHERE publisher_id = $1 AND origin <> 'alarm'", publisher_id)
    await db.execute("DELETE FROM redflag_tally WHERE publisher_id = $1", publisher_id)
    await db.execute("DELETE FROM redflag_process WHERE publisher_id = $1", publisher_id)
    await db.execute(
        "UPDATE redflag_publisher SET settings_file = $2, settings_hash = $3, rebuild_after = '', meta = '{}',"
        " fences_at = NULL, currency = NULL, dirty = true WHERE publisher_id = $1",
        publisher_id, settings_file, settings_hash)


async def set_rebuild_after(publisher_id: int, ocid: str | None) -> None:
    """The recomputation's progress; None: done, the fences are due at once."""
    if ocid is None:
        await db.execute("UPDATE redflag_publisher SET rebuild_after = NULL, fences_at = NULL, dirty = true"
                         " WHERE publisher_id = $1", publisher_id)
    else:
        await db.execute("UPDATE redflag_publisher SET rebuild_after = $2 WHERE publisher_id = $1", publisher_id, ocid)


async def compiled_of(publisher_id: int, *, after: str, limit: int) -> list[CompiledFeedRow]:
    """A publisher's compiled releases in ocid order, after this ocid (a recomputation's batches)."""
    rows = await db.fetch(
        "SELECT ocid, publisher_id, '0' AS txid, 0::bigint AS seq, hash, data::text AS data FROM ocds_compiled"
        " WHERE publisher_id = $1 AND ocid > $2 ORDER BY ocid LIMIT $3", publisher_id, after, limit)
    return [CompiledFeedRow(**{**r, "hash": bytes(r["hash"])}) for r in rows]


async def upsert_processes(rows: list[ProcessRow]) -> None:
    if not rows:
        return
    cols = [[getattr(r, f) for r in rows] for f in ProcessRow.__struct_fields__]
    await db.execute(
        "INSERT INTO redflag_process (ocid, publisher_id, hash, date, buyer_id, buyer_ruc, ratio, ratio_winner,"
        " ratio_runner_up, parts, notes, region)"
        " SELECT o, p, h, d, bi, br, r, rw, rr, pa::jsonb, n::jsonb, rg FROM unnest($1::text[], $2::bigint[],"
        " $3::bytea[], $4::timestamptz[], $5::text[], $6::text[], $7::float8[], $8::text[], $9::text[], $10::text[],"
        " $11::text[], $12::text[]) AS x(o, p, h, d, bi, br, r, rw, rr, pa, n, rg)"
        " ON CONFLICT (ocid) DO UPDATE SET publisher_id = excluded.publisher_id, hash = excluded.hash,"
        " date = excluded.date, buyer_id = excluded.buyer_id, buyer_ruc = excluded.buyer_ruc, ratio = excluded.ratio,"
        " ratio_winner = excluded.ratio_winner, ratio_runner_up = excluded.ratio_runner_up, parts = excluded.parts,"
         " notes = excluded.notes, region = excluded.region, updated_at = now()", *cols)


async def delete_processes(ocids: list[str]) -> None:
    if ocids:
        await db.execute("DELETE FROM redflag_process WHERE ocid = ANY($1::text[])", ocids)


async def insert_flags(rows: list[FlagRow]) -> None:
    if not rows:
        return
    cols = [[getattr(r, f) for r in rows] for f in FlagRow.__struct_fields__]
    await db.execute(
        "INSERT INTO redflag (code, scope, subject, ocid, origin, publisher_id, buyer_id, buyer_ruc, supplier_id,"
        " supplier_ruc, value, evidence, date, region)"
        " SELECT c, sc, su, o, og, p, bi, br, si, sr, v, e::jsonb, d, rg FROM unnest($1::text[], $2::text[],"
        " $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[],"
        " $11::float8[], $12::text[], $13::timestamptz[], $14::text[])"
        " AS x(c, sc, su, o, og, p, bi, br, si, sr, v, e, d, rg)", *cols)


async def delete_process_flags(ocids: list[str]) -> None:
    """What a process showed on its own (and its ratio judged against the fences): replaced when it changes."""
    if ocids:
        await db.execute("DELETE FROM redflag WHERE ocid = ANY($1::text[]) AND origin IN ('process', 'ratio')",
                         ocids)


async def delete_entity_flags(publisher_id: int, keys: list[tuple[str, str, str]]) -> None:
    """Population flags of these (code, scope, subject)s of one publisher."""
    if keys:
        await db.execute(
            "DELETE FROM redflag f USING unnest($2::text[], $3::text[], $4::text[]) AS k(c, sc, su)"
            " WHERE f.publisher_id = $1 AND f.origin = 'population' AND f.code = k.c AND f.subject = k.su"
            " AND f.scope = k.sc", publisher_id, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys])


async def delete_population_flags(publisher_id: int) -> None:
    await db.execute("DELETE FROM redflag WHERE publisher_id = $1 AND origin IN ('ratio', 'population')",
                     publisher_id)


# --- tallies ----------------------------------------------------------------------------------------------

Tally = tuple[int, str, str, str]  # (publisher_id, kind, key, sub)


async def apply_tallies(deltas: dict[Tally, list[int]]) -> None:
    """Add the deltas; a count that falls to zero is deleted (as the engine's Population drops it)."""
    items = [(k, d) for k, d in deltas.items() if d[0] or d[1]]
    if not items:
        return
    cols: list[list[Any]] = [[k[i] for k, _ in items] for i in range(4)]
    cols += [[d[0] for _, d in items], [d[1] for _, d in items]]
    await db.execute(
        "INSERT INTO redflag_tally AS t (publisher_id, kind, key, sub, a, b)"
        " SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])"
        " ON CONFLICT (publisher_id, kind, key, sub) DO UPDATE SET a = t.a + excluded.a, b = t.b + excluded.b",
        *cols)
    falling = [k for k, d in items if d[1] < 0]  # only a count that went down can reach zero
    if falling:
        await db.execute(
            "DELETE FROM redflag_tally t USING unnest($1::bigint[], $2::text[], $3::text[], $4::text[])"
            " AS k(p, k, y, s) WHERE t.publisher_id = k.p AND t.kind = k.k AND t.key = k.y AND t.sub = k.s"
            " AND t.b <= 0", *[[k[i] for k in falling] for i in range(4)])


async def tallies(publisher_id: int, kinds: list[str], keys: list[str] | None = None) -> list[dict[str, Any]]:
    """Tallies of these kinds (of these keys only, when given)."""
    if keys is None:
        return await db.fetch("SELECT kind, key, sub, a, b FROM redflag_tally WHERE publisher_id = $1"
                              " AND kind = ANY($2::text[])", publisher_id, kinds)
    return await db.fetch("SELECT kind, key, sub, a, b FROM redflag_tally WHERE publisher_id = $1"
                          " AND kind = ANY($2::text[]) AND key = ANY($3::text[])", publisher_id, kinds, keys)


async def ratios(publisher_id: int) -> list[dict[str, Any]]:
    return await db.fetch(
        "SELECT ocid, ratio, ratio_winner, ratio_runner_up, date, buyer_id, buyer_ruc, region FROM redflag_process"
        " WHERE publisher_id = $1 AND ratio IS NOT NULL", publisher_id)


async def set_fences(publisher_id: int, meta: str, at: datetime) -> None:
    await db.execute("UPDATE redflag_publisher SET meta = $2::jsonb, fences_at = $3, dirty = false"
                     " WHERE publisher_id = $1", publisher_id, meta, at)


async def due_publishers(older_than: datetime, *, force: bool = False) -> list[int]:
    """Publishers whose processes changed since their fences were computed, computed before `older_than`
    (every publisher with `force`); not one being recomputed (its population is not whole yet)."""
    rows = await db.fetch("SELECT publisher_id FROM redflag_publisher WHERE rebuild_after IS NULL AND ($2 OR (dirty"
                          " AND (fences_at IS NULL OR fences_at < $1))) ORDER BY publisher_id", older_than, force)
    return [r["publisher_id"] for r in rows]


async def all_flags(publisher_id: int) -> list[dict[str, Any]]:
    return await db.fetch("SELECT code, scope, subject, value FROM redflag WHERE publisher_id = $1 ORDER BY id",
                          publisher_id)


# --- what our own data knows better than bare OCDS ----------------------------------------------------------

async def auction_bids(tender_ids: list[Any]) -> list[dict[str, Any]]:
    """Bids whose price and time a closed live auction rewrote (opening_entry then holds the auction's)."""
    return await db.fetch(
        "SELECT a.tender_id, p.bid_id, l.number, p.initial_received_at, p.price_at, a.id AS auction_id,"
        " a.started_at, a.closed_at FROM auction a JOIN auction_participant p ON p.auction_id = a.id"
        " JOIN tender_lot l ON l.id = a.lot_id WHERE a.tender_id = ANY($1::uuid[]) AND a.state = 'closed'",
        tender_ids)


async def regions(tender_ids: list[Any]) -> dict[Any, str]:
    """Our tenders' region: where the first lot is delivered, else the buyer agency's ubigeo (2 digits)."""
    rows = await db.fetch(
        "SELECT t.id, substr(coalesce((SELECT l.delivery_ubigeo FROM tender_lot l WHERE l.tender_id = t.id"
        " ORDER BY l.number LIMIT 1), o.ubigeo), 1, 2) AS region FROM tender t"
        " LEFT JOIN organisation o ON o.id = t.agency_id WHERE t.id = ANY($1::uuid[])", tender_ids)
    return {r["id"]: r["region"] for r in rows if r["region"]}


async def amended_contracts(tender_ids: list[Any]) -> list[dict[str, Any]]:
    return await db.fetch(
        "SELECT tender_id, id, original_value_cents, value_cents, currency, cumulative_change_pct FROM contract"
        " WHERE tender_id = ANY($1::uuid[]) AND source_type = 'award' AND value_cents > original_value_cents",
        tender_ids)


async def sync_stage_alarms() -> None:
    """MA-STAGE rows follow the open stage alarms (raised and cleared by oversight's stage job, with no OCDS
    change): add the missing, drop the cleared. Both statements touch only alarm rows."""
    await db.execute(
        "DELETE FROM redflag f WHERE f.origin = 'alarm' AND NOT EXISTS (SELECT 1 FROM stage_alarm s"
        " WHERE s.id::text = f.subject AND s.cleared_at IS NULL)")
    await db.execute(
        "INSERT INTO redflag (code, scope, subject, ocid, origin, publisher_id, buyer_id, buyer_ruc, region, value,"
        " evidence, date)"
        " SELECT 'MA-STAGE', 'process', s.id::text, p.ocid, 'alarm', p.publisher_id, p.buyer_id, p.buyer_ruc,"
        " p.region, s.limit_days, jsonb_build_object('stage', s.stage, 'entered_at', s.entered_at, 'limit_days',"
        " s.limit_days, 'raised_at', s.raised_at, 'tender_id', s.tender_id), s.raised_at"
        " FROM stage_alarm s JOIN tender t ON t.id = s.tender_id JOIN redflag_process p ON p.ocid = t.ocid"
        " WHERE s.cleared_at IS NULL AND NOT EXISTS (SELECT 1 FROM redflag f WHERE f.origin = 'alarm'"
        " AND f.subject = s.id::text)")


async def publisher_slugs() -> dict[int, str]:
    """id -> slug of every publisher (a few rows)."""
    return {r["id"]: r["slug"] for r in await reads.fetch("SELECT id, slug FROM ocds_publisher")}


# --- the public page -----------------------------------------------------------------------------------------

FILTER_COLUMNS = ("code", "publisher_id", "buyer_id", "buyer_ruc", "supplier_id", "supplier_ruc", "ocid", "region")


async def page(*, filters: dict[str, Any], date_from: datetime | None, date_to: datetime | None,
               after: tuple[datetime, int] | None, limit: int) -> list[FlagRead]:
    """Newest first, keyset on (date, id). Each equality filter has a (filter, date, id) index, so a page is
    a range scan of `limit` rows (a row comparison, hence SQL here)."""
    where: list[str] = []
    args: list[Any] = []
    for column in FILTER_COLUMNS:
        value = filters.get(column)
        if value is not None:
            args.append(value)
            where.append(f"{column} = ${len(args)}")
    if date_from is not None:
        args.append(date_from)
        where.append(f"date >= ${len(args)}")
    if date_to is not None:
        args.append(date_to)
        where.append(f"date < ${len(args)}")
    if after is not None:
        args += [after[0], after[1]]
        where.append(f"(date, id) < (${len(args) - 1}, ${len(args)})")
    args.append(limit)
    sql = ("SELECT id, code, scope, subject, ocid, publisher_id, buyer_id, buyer_ruc, supplier_id, supplier_ruc,"
           " value, evidence::text AS evidence, date, computed_at, region FROM redflag"
           + (" WHERE " + " AND ".join(where) if where else "")
           + f" ORDER BY date DESC, id DESC LIMIT ${len(args)}")
    return [FlagRead(**r) for r in await reads.fetch(sql, *args)]
