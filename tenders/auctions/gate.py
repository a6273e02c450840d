"""What awarding asks of auctions: a lot whose live auction has not ended is not awarded on its sealed prices.

Kept apart from service.py (which calls the awards service) so the awards service can import it freely.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from marketplace.core import db
from marketplace.core.errors import Conflict
from marketplace.core.i18n import N_


async def check_awardable(*, lot_ids: Iterable[UUID]) -> None:
    """409 when one of the lots has an auction scheduled or running (it is awarded when it closes)."""
    ids = list(lot_ids)
    if not ids:
        return
    row = await db.fetchrow(
        "SELECT l.number, a.state FROM auction a JOIN tender_lot l ON l.id = a.lot_id"
        " WHERE a.lot_id = ANY($1::uuid[]) AND a.state IN ('scheduled', 'running') ORDER BY l.number LIMIT 1", ids)
    if row is not None:
        raise Conflict(N_("Lot {number} has a live auction ({state}); it is awarded when the auction ends"),
                       field="lot_ids", rule="auction_pending", params={"number": row["number"], "state": row["state"]})
