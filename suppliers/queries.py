"""The registry's SQL that earns its place, each with a typed row.

- `facts_as_of`: each supplier's MYPE status and domicile in force at a time (the tender's publication), from
  the history: one DISTINCT ON over every supplier of a lot rather than a query per supplier and fact.
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


class FactsRow(msgspec.Struct, frozen=True):
    supplier_id: UUID
    mype: bool | None
    domicile: str | None


# Per supplier and fact: the latest value effective at $2; a supplier registered after $2 has none, and then
# its first recorded value counts (what it declared when it registered, never a later switch).
_FACTS_AS_OF = """
SELECT s.id AS supplier_id,
       (SELECT f.value = 'true' FROM supplier_fact_change f WHERE f.supplier_id = s.id AND f.fact = 'mype'
        ORDER BY f.effective_at <= $2 DESC, CASE WHEN f.effective_at <= $2 THEN f.effective_at END DESC,
                 f.effective_at, f.id DESC LIMIT 1) AS mype,
       (SELECT f.value FROM supplier_fact_change f WHERE f.supplier_id = s.id AND f.fact = 'domicile'
        ORDER BY f.effective_at <= $2 DESC, CASE WHEN f.effective_at <= $2 THEN f.effective_at END DESC,
                 f.effective_at, f.id DESC LIMIT 1) AS domicile
FROM unnest($1::uuid[]) AS s(id)
"""


async def facts_as_of(org_ids: list[UUID], at: datetime) -> dict[UUID, FactsRow]:
    """The MYPE status and domicile of each supplier as they stood at `at` (None where no history exists)."""
    rows = await db.fetch(_FACTS_AS_OF, org_ids, at)
    return {r["supplier_id"]: msgspec.convert(r, FactsRow) for r in rows}
