"""SQL of the oversight service that is not a sub-package's, with typed rows.

Why SQL here: the tender audit trail gathers every entity of a contracting process (tender, lots, bids,
auctions, awards, appeals, contracts and their payments) in one statement, then reads their events by the
(entity_type, entity_id) index: a UNION over six domains' tables that no query builder expresses better.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from marketplace.core import db
from marketplace.core.audit_api import AuditEventRead


class TenderState(msgspec.Struct):
    id: UUID
    state: str
    ocid: str


async def tender_state(tender_id: UUID) -> TenderState | None:
    row = await db.fetchrow("SELECT id, state, ocid FROM tender WHERE id = $1", tender_id)
    return TenderState(**row) if row else None


_TENDER_AUDIT = (
    "WITH c AS (SELECT id FROM contract WHERE tender_id = $1 AND source_type = 'award'),"
    " p AS (SELECT id FROM award_appeal WHERE tender_id = $1),"
    " ids (et, eid) AS ("
    "  SELECT 'tender', $1::uuid::text"
    "  UNION ALL SELECT 'tender_lot', id::text FROM tender_lot WHERE tender_id = $1"
    "  UNION ALL SELECT 'bid', id::text FROM bid WHERE tender_id = $1"
    "  UNION ALL SELECT 'award', id::text FROM award WHERE tender_id = $1"
    "  UNION ALL SELECT 'award_appeal', id::text FROM p"
    "  UNION ALL SELECT 'auction', id::text FROM auction WHERE tender_id = $1"
    "  UNION ALL SELECT 'contract', id::text FROM c"
    "  UNION ALL SELECT 'payment', id::text FROM payment"
    "            WHERE contract_id IN (SELECT id FROM c) OR appeal_id IN (SELECT id FROM p))"
    " SELECT e.id, e.seq, e.occurred_at, e.actor_user_id, e.actor_org_id, e.action, e.entity_type, e.entity_id,"
    "        e.data::text AS data, e.prev_hash, e.hash"
    " FROM ids JOIN audit_event e ON e.entity_type = ids.et AND e.entity_id = ids.eid"
    " WHERE e.id > $2 ORDER BY e.id LIMIT $3")


async def tender_audit_events(tender_id: UUID, *, after: int, limit: int) -> list[AuditEventRead]:
    """The tender's audit events after event id `after`, oldest first."""
    rows = await db.fetch(_TENDER_AUDIT, tender_id, after, limit)
    return [AuditEventRead(**{**r, "data": msgspec.json.decode(r["data"])}) for r in rows]


# --- the compiled releases' projection into the award history and stage times (projection.py) -------------
# Set-based writes of a whole feed batch: one DELETE and one INSERT ... unnest per table, whatever its size.

class FeedCursor(msgspec.Struct):
    txid: str
    seq: int


class OrgByRuc(msgspec.Struct):
    id: UUID
    ruc: str
    kind: str


async def lock_feed_cursor(name: str) -> FeedCursor:
    """The reader's cursor, locked for this transaction (two projections never take the same batch)."""
    await db.execute("INSERT INTO oversight_feed_cursor (name) VALUES ($1) ON CONFLICT DO NOTHING", name)
    row = await db.fetchrow("SELECT txid, seq FROM oversight_feed_cursor WHERE name = $1 FOR UPDATE", name)
    assert row is not None
    return FeedCursor(**row)


async def set_feed_cursor(name: str, cursor: FeedCursor) -> None:
    await db.execute("UPDATE oversight_feed_cursor SET txid = $2, seq = $3, updated_at = now() WHERE name = $1",
                     name, cursor.txid, cursor.seq)


async def organisations_by_ruc(rucs: list[str]) -> list[OrgByRuc]:
    if not rucs:
        return []
    rows = await db.fetch("SELECT id, ruc, kind FROM organisation WHERE ruc = ANY($1::text[])", rucs)
    return [OrgByRuc(**r) for r in rows]


class ImportedAwardRow(msgspec.Struct):
    award_id: UUID
    ocid: str
    tender_title: str
    lot_title: str
    agency_id: UUID | None
    agency_ruc: str | None
    agency_name: str
    supplier_id: UUID | None
    supplier_ruc: str | None
    supplier_name: str
    method: str
    category: str
    classification_scheme: str
    classification_code: str
    value: int | None
    currency: str
    state: str
    awarded_at: datetime
    publisher: str


_AWARD_TYPES = {"award_id": "uuid", "agency_id": "uuid", "supplier_id": "uuid", "value": "bigint",
                "awarded_at": "timestamptz"}
_AWARD_COLS = ImportedAwardRow.__struct_fields__
_AWARD_INSERT = (
    f"INSERT INTO award_history ({', '.join(_AWARD_COLS)})"
    " SELECT * FROM unnest(" + ", ".join(f"${i + 1}::{_AWARD_TYPES.get(c, 'text')}[]"
                                        for i, c in enumerate(_AWARD_COLS)) + ")"
    " ON CONFLICT (award_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _AWARD_COLS if c != "award_id") + ", updated_at = now()")


async def replace_imported_awards(ocids: list[str], own_slug: str, rows: list[ImportedAwardRow]) -> None:
    """These imported processes' awards become `rows` (awards a process no longer has go)."""
    if not ocids:
        return
    await db.execute("DELETE FROM award_history WHERE ocid = ANY($1::text[]) AND publisher <> $2", ocids, own_slug)
    if rows:
        await db.execute(_AWARD_INSERT, *([getattr(r, c) for r in rows] for c in _AWARD_COLS))


class StageTimeRow(msgspec.Struct):
    ocid: str
    stage: str
    entered_at: datetime
    left_at: datetime
    publisher: str
    buyer_id: str
    buyer_name: str
    agency_id: UUID | None
    method: str


_STAGE_TYPES = {"entered_at": "timestamptz", "left_at": "timestamptz", "agency_id": "uuid"}
_STAGE_COLS = StageTimeRow.__struct_fields__


async def replace_stage_times(ocids: list[str], rows: list[StageTimeRow]) -> None:
    if not ocids:
        return
    await db.execute("DELETE FROM ocds_stage_time WHERE ocid = ANY($1::text[])", ocids)
    if rows:
        await db.execute(
            f"INSERT INTO ocds_stage_time ({', '.join(_STAGE_COLS)}) SELECT * FROM unnest("
            + ", ".join(f"${i + 1}::{_STAGE_TYPES.get(c, 'text')}[]" for i, c in enumerate(_STAGE_COLS))
            + ") ON CONFLICT DO NOTHING", *([getattr(r, c) for r in rows] for c in _STAGE_COLS))


# --- one contracting process, ours or imported (process.py) -------------------------------------------------

class ProcessRow(msgspec.Struct):
    ocid: str
    data: str  # the compiled release, JSON text
    source: str  # releases | record | own
    updated_at: datetime
    publisher_slug: str
    publisher_name: str
    publisher_uri: str
    publisher_own: bool
    publisher_feed_url: str | None


class ProcessReleaseRow(msgspec.Struct):
    release_id: str
    date: str
    tags: list[str]


async def process(ocid: str) -> ProcessRow | None:
    row = await db.fetchrow(
        "SELECT c.ocid, c.data::text AS data, c.source, c.updated_at, p.slug AS publisher_slug,"
        " p.name AS publisher_name, p.uri AS publisher_uri, p.own AS publisher_own,"
        " p.feed_url AS publisher_feed_url"
        " FROM ocds_compiled c JOIN ocds_publisher p ON p.id = c.publisher_id WHERE c.ocid = $1", ocid)
    return ProcessRow(**row) if row else None


async def process_releases(ocid: str, *, own: bool, limit: int) -> list[ProcessReleaseRow]:
    """The process's releases in date order: ours from ocds_release, imported from ocds_import_release."""
    if own:
        sql = ("SELECT release_id, to_char(date AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS date, tags"
               " FROM ocds_release WHERE ocid = $1 ORDER BY date, seq LIMIT $2")
    else:
        sql = "SELECT release_id, date, tags FROM ocds_import_release WHERE ocid = $1 ORDER BY date, id LIMIT $2"
    return [ProcessReleaseRow(**r) for r in await db.fetch(sql, ocid, limit)]


async def own_tender_id(ocid: str) -> UUID | None:
    row = await db.fetchrow("SELECT tender_id FROM ocds_release WHERE ocid = $1 LIMIT 1", ocid)
    return row["tender_id"] if row else None
