"""The agencies' SQL that earns its place, with its typed row.

- `agency_page`: the public list, a keyset page by (name, id) over the partial index
  organisation_agency_name_idx, with optional level, region and name filters. A row comparison
  `(o.name, o.id) > ($1, $2)` is what lets PostgreSQL start the index scan at the cursor; the same condition
  spelled with OR, as a query builder writes it, does not.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec

from marketplace.agencies.schemas import AgencyRead
from marketplace.core import db

_SELECT = (
    "SELECT o.id, o.ruc, o.name, a.level, a.sector, o.ubigeo, a.created_at"
    " FROM agency a JOIN organisation o ON o.id = a.organisation_id"
)


async def agency_page(*, limit: int, after: tuple[str, UUID] | None = None, level: str | None = None,
                      region: str | None = None, name_like: str | None = None) -> list[AgencyRead]:
    """Up to `limit` agencies by name after the cursor (name, id). `region` is a 2-digit region code;
    `name_like` an ILIKE pattern (escaped by the caller)."""
    where: list[str] = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if after is not None:
        where.append(f"(o.name, o.id) > ({arg(after[0])}, {arg(after[1])})")
    if level:
        where.append(f"a.level = {arg(level)}")
    if region:
        where.append(f"o.ubigeo LIKE {arg(region + '%')}")
    if name_like:
        where.append(f"o.name ILIKE {arg(name_like)}")
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "")
    sql += f" ORDER BY o.name, o.id LIMIT {arg(limit)}"
    return msgspec.convert(await db.fetch(sql, *args), list[AgencyRead])
