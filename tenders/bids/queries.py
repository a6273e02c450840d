"""The bids' SQL that earns its place, with a typed row.

- `supplier_bids`: a supplier's own bids as a keyset page (a row comparison on (received_at, id)), each with
  its tender, its lots (with the opened price once the bids are opened, never before) and the state it is in,
  derived in the same statement from the opening record (an excluded bid and why) and the awards.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from marketplace.core import db


class SupplierBidRow(msgspec.Struct, frozen=True):
    id: UUID
    tender_id: UUID
    ocid: str
    tender_title: str
    tender_state: str
    status: str
    state: str
    excluded_reason: str | None
    version: int
    needs_reconfirmation: bool
    received_at: datetime
    confirmed_at: datetime | None
    withdrawn_at: datetime | None
    opened_at: datetime | None
    currency: str
    lots: list[dict[str, Any]]
    award_ids: list[UUID]


# state: withdrawn; excluded (the opening record lists it, with its reason); awarded (an award of it stands);
# opened; to_reconfirm (a material amendment since it was confirmed); submitted.
_STATE = """
CASE WHEN b.status = 'withdrawn' THEN 'withdrawn'
     WHEN x.reason IS NOT NULL THEN 'excluded'
     WHEN cardinality(aw.ids) > 0 THEN 'awarded'
     WHEN b.opened_at IS NOT NULL THEN 'opened'
     WHEN b.needs_reconfirmation THEN 'to_reconfirm'
     ELSE 'submitted' END
"""

_PAGE = f"""
SELECT * FROM (
  SELECT b.id, b.tender_id, t.ocid, t.title AS tender_title, t.state AS tender_state, b.status,
         {_STATE} AS state, x.reason AS excluded_reason, b.version, b.needs_reconfirmation, b.received_at,
         b.confirmed_at, b.withdrawn_at, b.opened_at, trim(t.currency) AS currency,
         coalesce((SELECT jsonb_agg(jsonb_build_object('lot_id', l.id, 'number', l.number, 'title', l.title,
                                                        'price', e.price) ORDER BY l.number)
                   FROM bid_lot bl JOIN tender_lot l ON l.id = bl.lot_id
                   LEFT JOIN opening_entry e ON e.lot_id = bl.lot_id AND e.bid_id = b.id
                   WHERE bl.bid_id = b.id), '[]'::jsonb)::text AS lots,
         aw.ids AS award_ids
  FROM bid b
  JOIN tender t ON t.id = b.tender_id
  LEFT JOIN LATERAL (
      SELECT e->>'reason' AS reason FROM tender_opening o, jsonb_array_elements(o.record->'excluded') e
      WHERE o.tender_id = b.tender_id AND e->>'bid_id' = b.id::text LIMIT 1) x ON true
  CROSS JOIN LATERAL (
      SELECT coalesce(array_agg(a.id ORDER BY a.created_at), '{{}}') AS ids FROM award a
      WHERE a.bid_id = b.id AND a.state <> 'cancelled') aw
  WHERE b.supplier_id = $1
    AND ($2::uuid IS NULL OR b.tender_id = $2)
    AND ($3::timestamptz IS NULL OR b.received_at >= $3)
    AND ($4::timestamptz IS NULL OR b.received_at < $4)
    AND ($5::timestamptz IS NULL OR (b.received_at, b.id) < ($5, $6::uuid))
) s
WHERE ($7::text IS NULL OR s.state = $7)
ORDER BY received_at DESC, id DESC
LIMIT $8
"""

_lots = msgspec.json.Decoder(list[dict[str, Any]])


async def supplier_bids(*, supplier_id: UUID, tender_id: UUID | None, state: str | None,
                        received_from: datetime | None, received_before: datetime | None,
                        after: tuple[datetime, UUID] | None, limit: int) -> list[SupplierBidRow]:
    """Up to `limit` of the supplier's bids, newest first, after the keyset position `after`."""
    rows = await db.fetch(_PAGE, supplier_id, tender_id, received_from, received_before,
                          after[0] if after else None, after[1] if after else None, state, limit)
    return [SupplierBidRow(**{**r, "lots": _lots.decode(r["lots"]), "award_ids": list(r["award_ids"])})
            for r in rows]
