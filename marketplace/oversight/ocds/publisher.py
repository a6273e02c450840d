"""OCDS publication: immutable releases from the outbox, the change feed, records, packages, bulk files.

* `oversight.ocds` (an outbox consumer) turns each lifecycle event (build.TOPIC_TAGS) into one release
  built from the tender's current state and stores it in `ocds_release`, never to be changed (a trigger
  refuses UPDATE and DELETE). The release id is the ocid plus the outbox event id, so a redelivered event
  writes nothing new.
* The change feed (`feed()`) reads releases in (txid, seq) order below the watermark `local_xmin()` (the
  oldest transaction still running in this database), exactly like the outbox: a release whose transaction
  took its id early but committed late is served when it commits, never jumped over by a client's cursor.
* A record (`record()`) holds every release of one ocid and the compiled release merged by `ocdsmerge`
  with the schema (core + lots + bids extensions) bundled in release-schema.json.
* `write_bulk()` (an hourly job, and the demo at seeding) writes each finished UTC day's releases as gzip JSON
  Lines files into DATA_DIR/ocds/bulk/, never rewritten, and the current day's so far as a `.partial` file.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO
from uuid import UUID

import msgspec

from marketplace.core import clock, db, outbox
from marketplace.core.errors import InvalidInput, NotFound
from marketplace.core.i18n import N_
from marketplace.oversight.imports import domain as import_domain
from marketplace.oversight.imports import service as imports
from marketplace.oversight.ocds import build

VERSION = "1.1"
EXTENSIONS = [
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_lots_extension/v1.1.5/extension.json",
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_bid_extension/v1.1.5/extension.json",
]
PUBLISHER = {"name": "Mercado Abierto", "scheme": "PE-RUC", "uri": "https://mercado-abierto.pe"}
LICENSE = "https://creativecommons.org/licenses/by/4.0/"
_encoder = msgspec.json.Encoder(decimal_format="number")


def encode(value: Any) -> bytes:
    return _encoder.encode(value)


def decode(raw: str | bytes) -> Any:
    """JSON with decimals kept exact (amounts)."""
    return json.loads(raw, parse_float=Decimal)


# --- the consumer ---------------------------------------------------------------------------------------

async def _tender_of(ev: outbox.OutboxEvent) -> UUID | None:
    if ev.aggregate_type == "tender":
        return UUID(ev.aggregate_id)
    if ev.aggregate_type == "award":
        row = await db.fetchrow("SELECT tender_id FROM award WHERE id = $1", UUID(ev.aggregate_id))
        return row["tender_id"] if row else None
    if ev.aggregate_type == "contract":
        row = await db.fetchrow("SELECT tender_id FROM contract WHERE id = $1 AND source_type = 'award'",
                                UUID(ev.aggregate_id))
        return row["tender_id"] if row else None
    return None


@outbox.consumer("oversight.ocds", topics=list(build.TOPIC_TAGS), batch_size=20)
async def publish(events: list[outbox.OutboxEvent]) -> None:
    """Store one release per public event (idempotent). Every release is built first and all are written in
    one statement at the end: the drain's transaction takes a transaction id only at its first write, and
    from then until it commits it holds back every consumer's watermark (the outbox's and this feed's)."""
    rows = [row for ev in events if (row := await _release_row(ev)) is not None]
    if rows:
        stored = await db.fetch(
            "INSERT INTO ocds_release (release_id, ocid, tender_id, tags, date, source_event, data)"
            " SELECT r.id, r.ocid, r.tender_id, string_to_array(r.tags, ','), r.date, r.source_event, r.data::jsonb"
            " FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::timestamptz[], $6::bigint[], $7::text[])"
            "   AS r(id, ocid, tender_id, tags, date, source_event, data)"
            " ON CONFLICT (release_id) DO NOTHING RETURNING release_id",
            *(list(col) for col in zip(*rows, strict=True)))
        # Our processes join imported ones in ocds_compiled (one compiled release per ocid), in this transaction.
        new_ids = {r["release_id"] for r in stored}
        new: dict[str, list[Any]] = {}
        for row in rows:
            if row[0] in new_ids:
                new.setdefault(row[1], []).append(decode(row[6]))
        await imports.compile_own(new)


async def _release_row(ev: outbox.OutboxEvent) -> tuple[str, str, UUID, str, Any, int, str] | None:
    """The ocds_release row for one event (reads only), or None when the event is not public."""
    tender_id = await _tender_of(ev)
    if tender_id is None:
        return None  # a purchase order's contract, or a row that is gone: no contracting process to publish
    t = await db.fetchrow("SELECT ocid FROM tender WHERE id = $1", tender_id)
    if t is None:
        return None
    tags = list(build.TOPIC_TAGS[ev.topic])
    if ev.topic == "tender.cancelled" and ev.payload.get("lot_id"):
        tags = ["tenderUpdate"]
    release_id = f"{t['ocid']}-{ev.id}"
    release = await build.build_release(tender_id=tender_id, ocid=t["ocid"], release_id=release_id, tags=tags,
                                        date_=ev.created_at)
    if release is None:
        return None
    return release_id, t["ocid"], tender_id, ",".join(tags), ev.created_at, ev.id, encode(release).decode()


# --- packages -------------------------------------------------------------------------------------------

def package_meta(settings: Any, uri: str) -> dict[str, Any]:
    return {
        "uri": uri,
        "version": VERSION,
        "extensions": EXTENSIONS,
        "publishedDate": build.ts(clock.now()),
        "publisher": PUBLISHER,
        "license": LICENSE,
        "publicationPolicy": f"{settings.public_base_url.rstrip('/')}/ocds/",
    }


def release_package(settings: Any, uri: str, releases: list[Any], **extra: Any) -> dict[str, Any]:
    return {**package_meta(settings, uri), "releases": releases, **extra}


def record_package(settings: Any, uri: str, records: list[Any]) -> dict[str, Any]:
    return {**package_meta(settings, uri), "records": records}


# --- the change feed ------------------------------------------------------------------------------------

def encode_since(txid: str, seq: int) -> str:
    return f"{txid}.{seq}"


def decode_since(since: str | None) -> tuple[str, int]:
    if not since:
        return "0", 0
    txid, sep, seq = since.partition(".")
    if (not sep or not txid.isascii() or not txid.isdigit() or not seq.isascii() or not seq.isdigit()
            or len(txid) > 19 or len(seq) > 18):
        raise InvalidInput(N_("This cursor is not one we gave out"), field="query.since", rule="cursor")
    return txid, int(seq)


async def feed(*, since: str | None, limit: int) -> tuple[list[Any], str]:
    """Releases after `since` in commit-safe order; returns (releases, the cursor to pass next)."""
    txid, seq = decode_since(since)
    rows = await db.fetch(
        "SELECT r.seq, r.txid::text AS txid, r.data::text AS data FROM ocds_release r"
        " WHERE (r.txid, r.seq) > ($1::text::xid8, $2::bigint) AND r.txid < (SELECT local_xmin())"
        " ORDER BY r.txid, r.seq LIMIT $3", txid, seq, limit)  # the xid8 column: text order would skip releases
    nxt = encode_since(rows[-1]["txid"], rows[-1]["seq"]) if rows else encode_since(txid, seq)
    return [decode(r["data"]) for r in rows], nxt


async def get_release(release_id: str) -> Any:
    row = await db.fetchrow("SELECT data::text AS data FROM ocds_release WHERE release_id = $1", release_id)
    if row is None:
        raise NotFound(N_("Release not found"))
    return decode(row["data"])


# --- records --------------------------------------------------------------------------------------------

SCHEMA_PATH = Path(__file__).with_name("release-schema.json")


def merger() -> Any:
    """ocdsmerge with the bundled schema (one instance, shared with the importer)."""
    return import_domain.merger()


async def releases_of(ocid: str) -> list[Any]:
    rows = await db.fetch("SELECT data::text AS data FROM ocds_release WHERE ocid = $1 ORDER BY date, seq", ocid)
    return [decode(r["data"]) for r in rows]


def compile_record(ocid: str, releases: list[Any]) -> dict[str, Any]:
    compiled = merger().create_compiled_release(releases)
    return {"ocid": ocid, "releases": releases, "compiledRelease": compiled}


async def record(ocid: str) -> dict[str, Any]:
    releases = await releases_of(ocid)
    if not releases:
        raise NotFound(N_("Record not found"))
    return compile_record(ocid, releases)


# --- bulk files -----------------------------------------------------------------------------------------

def bulk_dir(settings: Any) -> Path:
    return Path(settings.data_dir) / "ocds" / "bulk"


def bulk_name(day: date, *, partial: bool = False) -> str:
    """`releases-<day>.jsonl.gz` for a finished day (never rewritten); `.partial` before `.jsonl.gz` for the
    current day so far (rewritten by each run of the bulk job until the day's final file replaces it)."""
    return f"releases-{day.isoformat()}{'.partial' if partial else ''}.jsonl.gz"


async def _day_is_settled(day_end: datetime) -> bool:
    """No transaction that began before the day ended is still running (it could still add a release)."""
    row = await db.fetchrow(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND xact_start < $1"
        " AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL", day_end)
    return not row or row["n"] == 0


class _Hashing:
    """A file object that hashes what it writes (the bulk file's SHA-256, computed on the way out)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


async def _write_file(target: Path, start: datetime, end: datetime, batch: int) -> None:
    """The releases published in [start, end) as gzip JSON Lines into `target`, with `target.sha256` beside it;
    written aside and renamed, so a reader never sees half a file."""
    tmp = target.with_name(target.name + ".tmp")
    last = 0
    with tmp.open("wb") as raw:
        hashing = _Hashing(raw)
        with gzip.GzipFile(fileobj=hashing, mode="wb", mtime=0) as fh:
            while True:
                rows = await db.fetch(
                    "SELECT seq, data::text AS data FROM ocds_release WHERE published_at >= $1 AND published_at < $2"
                    " AND seq > $3 ORDER BY seq LIMIT $4", start, end, last, batch)
                if not rows:
                    break
                for r in rows:
                    fh.write(r["data"].encode() + b"\n")
                last = rows[-1]["seq"]
    side = target.with_name(target.name + ".sha256")
    side_tmp = side.with_name(side.name + ".tmp")
    side_tmp.write_text(hashing.digest.hexdigest())
    os.replace(tmp, target)
    os.replace(side_tmp, side)


def _remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".sha256")):
        p.unlink(missing_ok=True)


async def write_bulk(settings: Any, *, batch: int = 1000) -> list[str]:
    """Write the file of every finished UTC day that has releases and no file yet: such a file appears whole
    and is never rewritten (idempotent). Also (re)write the current day's releases so far as
    `releases-<today>.partial.jsonl.gz`, replaced by the day's final file once the day has ended and settled,
    so today's data can be downloaded today (and a freshly seeded demo has a file). Returns the names written."""
    out_dir = bulk_dir(settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    now = clock.now().astimezone(UTC)
    midnight = datetime.combine(now.date(), datetime.min.time(), tzinfo=UTC)
    days = await db.fetch(
        "SELECT DISTINCT (published_at AT TIME ZONE 'UTC')::date AS day FROM ocds_release"
        " WHERE published_at < $1 ORDER BY day", midnight)
    written = []
    for d in days:
        day: date = d["day"]
        target = out_dir / bulk_name(day)
        if target.exists():
            continue
        start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
        end = start + timedelta(days=1)
        if not await _day_is_settled(end):
            continue
        await _write_file(target, start, end, batch)
        _remove(out_dir / bulk_name(day, partial=True))
        written.append(target.name)
    if await db.fetchrow("SELECT 1 FROM ocds_release WHERE published_at >= $1 LIMIT 1", midnight):
        target = out_dir / bulk_name(now.date(), partial=True)
        await _write_file(target, midnight, midnight + timedelta(days=1), batch)
        written.append(target.name)
    # A partial file whose day's final file exists (a run stopped between writing one and removing the other)
    # is stale.
    for p in out_dir.glob("releases-*.partial.jsonl.gz"):
        if (out_dir / bulk_name(_day_of(p.name))).exists():
            _remove(p)
    return written


def _day_of(name: str) -> date:
    return date.fromisoformat(name[len("releases-"):len("releases-") + 10])


def list_bulk(settings: Any) -> list[dict[str, Any]]:
    out_dir = bulk_dir(settings)
    if not out_dir.exists():
        return []
    items = []
    for p in sorted(out_dir.glob("releases-*.jsonl.gz")):
        side = p.with_name(p.name + ".sha256")
        sha = side.read_text().strip() if side.exists() else hashlib.sha256(p.read_bytes()).hexdigest()
        items.append({"name": p.name, "date": _day_of(p.name).isoformat(), "size": p.stat().st_size,
                      "sha256": sha, "complete": not p.name.endswith(".partial.jsonl.gz"),
                      "url": f"{settings.public_base_url.rstrip('/')}/ocds/bulk/{p.name}"})
    return items
