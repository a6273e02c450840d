"""SQL of the oversight service that is not a sub-package's, with typed rows.

Why SQL here: the tender audit trail gathers every entity of a contracting process (tender, lots, bids,
auctions, awards, appeals, contracts and their payments) in one statement, then reads their events by the
(entity_type, entity_id) index: a UNION over six domains' tables that no query builder expresses better.
"""

from __future__ import annotations

from uuid import UUID

import msgspec

from marketplace.core import db
from marketplace.core.audit_api import AuditEventRead


class TenderState(msgspec.Struct):
    id: UUID
    state: str


async def tender_state(tender_id: UUID) -> TenderState | None:
    row = await db.fetchrow("SELECT id, state FROM tender WHERE id = $1", tender_id)
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
