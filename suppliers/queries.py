"""The registry's SQL that earns its place, each with a typed row.

- `standing_for_share`: a supplier's standing under a share lock. Every bid replacement and every auction
  lance reads it (bench/auction.py, bench/rush.py measure those paths), so it is one prepared statement
  rather than a query built on each call.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from marketplace.core import db


class StandingRow(msgspec.Struct, frozen=True):
    organisation_id: UUID
    ruc: str
    legal_name: str
    ubigeo: str
    person_type: str
    mype: bool
    status: str
    suspended_until: datetime | None


_STANDING_FOR_SHARE = (
    "SELECT organisation_id, ruc, legal_name, ubigeo, person_type, mype, status, suspended_until"
    " FROM supplier WHERE organisation_id = $1 FOR SHARE"
)


async def standing_for_share(org_id: UUID) -> StandingRow | None:
    """The supplier's registry facts, its row share-locked in the current transaction (a concurrent
    suspension waits for it, and it for the suspension); None when it is not registered."""
    row = await db.fetchrow(_STANDING_FOR_SHARE, org_id)
    return None if row is None else msgspec.convert(row, StandingRow)
