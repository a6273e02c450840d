"""Award history: the denormalised read model, its filtered keyset pages and aggregates (exports: export.py).

`award_history` holds one row per award with everything a filter needs (agency, supplier RUC, region and
province of delivery, method, category, classification, value and currency, state, date, publisher). Our
awards: the outbox consumer `oversight.award_history` (consumers.py) refreshes an award's row from the
awards, tenders, lots and organisations tables whenever the award changes; `rebuild()` refills them.
Imported processes' awards: ../projection.py, from the compiled releases' change feed (awards/domain.py).
Amounts are in their currency's minor units; totals are per currency, never summed across currencies.

Pages are keyset pages newest first on (awarded_at, award_id): a page is `WHERE (awarded_at, award_id) <
cursor ORDER BY awarded_at DESC, award_id DESC LIMIT n`, so awards arriving meanwhile never shift or repeat
rows of later pages. Reads go to the replica when one is configured (reads.py).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from marketplace.core import db
from marketplace.core.errors import InvalidInput
from marketplace.core.i18n import N_
from marketplace.oversight import reads

_SELECT_SOURCE = """
SELECT a.id AS award_id, a.tender_id, a.lot_id, t.ocid, t.title AS tender_title, l.title AS lot_title,
       t.agency_id, ag.ruc AS agency_ruc, ag.name AS agency_name,
       a.supplier_id, su.ruc AS supplier_ruc, su.name AS supplier_name,
       t.method, t.category, l.classification_scheme, l.classification_code, l.delivery_ubigeo,
       substr(l.delivery_ubigeo, 1, 2) AS region, substr(l.delivery_ubigeo, 1, 4) AS province,
       a.value, a.currency, a.state, a.notified_at AS awarded_at, 'mercado-abierto'::text AS publisher
  FROM award a
  JOIN tender t ON t.id = a.tender_id
  JOIN tender_lot l ON l.id = a.lot_id
  JOIN organisation ag ON ag.id = t.agency_id
  JOIN organisation su ON su.id = a.supplier_id
"""

COLUMNS = ("award_id", "tender_id", "lot_id", "ocid", "tender_title", "lot_title", "agency_id", "agency_ruc",
           "agency_name", "supplier_id", "supplier_ruc", "supplier_name", "method", "category",
           "classification_scheme", "classification_code", "delivery_ubigeo", "region", "province", "value",
           "currency", "state", "awarded_at", "publisher")

_UPSERT = (
    f"INSERT INTO award_history ({', '.join(COLUMNS)}) {_SELECT_SOURCE} WHERE a.id = ANY($1::uuid[])"
    " ON CONFLICT (award_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS if c != "award_id")
    + ", updated_at = now()"
)


async def refresh(award_ids: list[UUID]) -> None:
    """Bring these awards' rows up to date (in the current transaction). Idempotent."""
    if award_ids:
        await db.execute(_UPSERT, award_ids)


async def rebuild() -> int:
    """Refill the read model from the source tables (in the current transaction)."""
    await db.execute("DELETE FROM award_history WHERE publisher = 'mercado-abierto'")
    status = await db.execute(f"INSERT INTO award_history ({', '.join(COLUMNS)}) {_SELECT_SOURCE}")
    return int(status.split()[-1])


# --- filters --------------------------------------------------------------------------------------------

# Ours, then OCDS's award statuses and procurement methods (imported processes keep the publisher's codes).
STATES = ("pending", "standstill", "appealed", "consented", "cancelled", "active", "unsuccessful")
METHODS = ("public_tender", "public_contest", "simplified_award", "reverse_auction", "price_comparison",
           "direct_contracting", "open", "selective", "limited", "direct")
# Left out of totals unless the state filter asks for them.
NOT_COUNTED = ("cancelled", "unsuccessful")
CATEGORIES = ("goods", "services", "works")


@dataclass(frozen=True)
class Filters:
    agency_id: UUID | None = None
    supplier_ruc: str | None = None
    region: str | None = None
    province: str | None = None
    method: str | None = None
    category: str | None = None
    classification: str | None = None  # code prefix
    date_from: datetime | None = None
    date_to: datetime | None = None
    value_min: int | None = None
    value_max: int | None = None
    state: str | None = None
    publisher: str | None = None  # ocds_publisher.slug ("mercado-abierto": ours)

    def check(self) -> None:
        def bad(field: str, rule: str, message: str) -> InvalidInput:
            return InvalidInput(message, field=f"query.{field}", rule=rule)

        def digits(value: str, n: int) -> bool:
            return value.isascii() and value.isdigit() and len(value) == n

        if self.supplier_ruc is not None and not digits(self.supplier_ruc, 11):
            raise bad("supplier_ruc", "pattern", N_("A RUC has 11 digits"))
        if self.region is not None and not digits(self.region, 2):
            raise bad("region", "pattern", N_("A region is the first 2 digits of an ubigeo"))
        if self.province is not None and not digits(self.province, 4):
            raise bad("province", "pattern", N_("A province is the first 4 digits of an ubigeo"))
        if self.method is not None and self.method not in METHODS:
            raise bad("method", "enum", N_("Unknown procurement method"))
        if self.category is not None and self.category not in CATEGORIES:
            raise bad("category", "enum", N_("Unknown category"))
        if self.state is not None and self.state not in STATES:
            raise bad("state", "enum", N_("Unknown award state"))
        if self.classification is not None and not (
                self.classification.isascii() and self.classification.isalnum() and len(self.classification) <= 16):
            raise bad("classification", "pattern", N_("A classification code prefix is up to 16 letters or digits"))
        if self.publisher is not None and not (
                0 < len(self.publisher) <= 64 and self.publisher.isascii()
                and all(c.islower() or c.isdigit() or c == "-" for c in self.publisher)):
            raise bad("publisher", "pattern", N_("A publisher is named by its slug (lower-case letters, digits, -)"))
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise bad("date_to", "range", N_("The end of the range comes before its start"))
        if self.value_min is not None and self.value_max is not None and self.value_min > self.value_max:
            raise bad("value_max", "range", N_("The end of the range comes before its start"))

    def where(self, args: list[Any]) -> str:
        """SQL conditions for these filters, appending their values to `args`."""
        parts: list[str] = []

        def add(cond: str, value: Any) -> None:
            args.append(value)
            parts.append(cond.replace("?", f"${len(args)}"))

        if self.agency_id is not None:
            add("agency_id = ?", self.agency_id)
        if self.supplier_ruc is not None:
            add("supplier_ruc = ?", self.supplier_ruc)
        if self.region is not None:
            add("region = ?", self.region)
        if self.province is not None:
            add("province = ?", self.province)
        if self.method is not None:
            add("method = ?", self.method)
        if self.category is not None:
            add("category = ?", self.category)
        if self.classification is not None:
            # LIKE with a literal prefix uses the text_pattern_ops index
            add("classification_code LIKE ?", self.classification.replace("%", "").replace("_", "") + "%")
        if self.date_from is not None:
            add("awarded_at >= ?", self.date_from)
        if self.date_to is not None:
            add("awarded_at < ?", self.date_to)
        if self.value_min is not None:
            add("value >= ?", self.value_min)
        if self.value_max is not None:
            add("value <= ?", self.value_max)
        if self.state is not None:
            add("state = ?", self.state)
        if self.publisher is not None:
            add("publisher = ?", self.publisher)
        return " AND ".join(parts) if parts else "TRUE"


# --- keyset pages ---------------------------------------------------------------------------------------

def encode_cursor(awarded_at: datetime, award_id: UUID) -> str:
    return base64.urlsafe_b64encode(f"{awarded_at.isoformat()}|{award_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, ident = raw.partition("|")
        value = datetime.fromisoformat(at), UUID(ident)
        if value[0].tzinfo is None:
            raise ValueError
        return value
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(N_("This cursor is not one we gave out"), field="query.cursor", rule="cursor") from None


async def page(*, filters: Filters, limit: int = 50,
               cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    filters.check()
    args: list[Any] = []
    where = filters.where(args)
    if cursor:
        at, ident = decode_cursor(cursor)
        args += [at, ident]
        where += f" AND (awarded_at, award_id) < (${len(args) - 1}, ${len(args)})"
    args.append(limit + 1)
    rows = await reads.fetch(
        f"SELECT {', '.join(COLUMNS)} FROM award_history WHERE {where}"
        f" ORDER BY awarded_at DESC, award_id DESC LIMIT ${len(args)}", *args)
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = encode_cursor(rows[-1]["awarded_at"], rows[-1]["award_id"]) if more and rows else None
    return rows, nxt


# --- aggregates -----------------------------------------------------------------------------------------

# An imported award's agency or supplier may be unregistered here: it is then told apart by its RUC, else its
# name, within its publisher.
AGENCY_KEY = "coalesce(agency_id::text, publisher || '/' || coalesce(agency_ruc, agency_name))"
SUPPLIER_KEY = "coalesce(supplier_ruc, publisher || '/' || supplier_name)"
GROUPS = {"supplier": (SUPPLIER_KEY, "supplier_name"), "agency": (AGENCY_KEY, "agency_name"),
          "region": ("region", "region"), "method": ("method", "method"), "publisher": ("publisher", "publisher")}


def _counted(filters: Filters, where: str) -> str:
    if filters.state is None:
        where += " AND state <> ALL('{" + ",".join(NOT_COUNTED) + "}'::text[])"
    return where


async def aggregates(*, filters: Filters, by: str, limit: int = 100) -> list[dict[str, Any]]:
    """Total value and count per group and currency (amounts are never summed across currencies), largest
    total first. Cancelled and unsuccessful awards are left out unless the state filter asks for them."""
    filters.check()
    key, label = GROUPS[by]
    args: list[Any] = []
    where = _counted(filters, filters.where(args))
    args.append(limit)
    return await reads.fetch(
        f"SELECT {key} AS key, min({label}) AS label, rtrim(currency) AS currency, count(*) AS count,"
        f" coalesce(sum(value), 0)::bigint AS total"
        f" FROM award_history WHERE {where} GROUP BY {key}, currency ORDER BY total DESC, key, currency"
        f" LIMIT ${len(args)}", *args)


async def concentration(*, filters: Filters, limit: int = 100) -> list[dict[str, Any]]:
    """Supplier concentration per agency and currency: the Herfindahl-Hirschman index of the suppliers' shares
    of the agency's awarded value in that currency (0-10,000; above 2,500 is highly concentrated), with the
    top supplier's share."""
    filters.check()
    args: list[Any] = []
    where = _counted(filters, filters.where(args))
    args.append(limit)
    rows = await reads.fetch(
        f"WITH s AS (SELECT {AGENCY_KEY} AS ak, rtrim(currency) AS currency, (array_agg(agency_id))[1] AS agency_id,"
        "                   min(agency_name) AS agency_name, min(publisher) AS publisher, sum(value) AS v"
        f"            FROM award_history WHERE {where} AND value IS NOT NULL"
        f"            GROUP BY {AGENCY_KEY}, currency, {SUPPLIER_KEY}),"
        " t AS (SELECT ak, currency, sum(v) AS total FROM s GROUP BY ak, currency)"
        " SELECT (array_agg(s.agency_id))[1] AS agency_id, min(s.agency_name) AS agency_name,"
        "        min(s.publisher) AS publisher, s.currency, count(*) AS suppliers, t.total::bigint AS total,"
        "        sum(power(s.v * 100.0 / nullif(t.total, 0), 2)) AS hhi,"
        "        max(s.v * 1.0 / nullif(t.total, 0)) AS top_share"
        " FROM s JOIN t USING (ak, currency) GROUP BY s.ak, s.currency, t.total"
        f" ORDER BY hhi DESC NULLS LAST, s.ak, s.currency LIMIT ${len(args)}", *args)
    for r in rows:
        r["hhi"] = Decimal(str(round(r["hhi"] or 0, 2)))
        r["top_share"] = Decimal(str(round(r["top_share"] or 0, 4)))
    return rows


# --- streaming rows (for in-process readers such as the portal; HTTP and CLI exports use export.py) ---

EXPORT_BATCH = 2000


async def stream_rows(*, filters: Filters, batch: int = EXPORT_BATCH) -> AsyncIterator[list[Any]]:
    """Every matching row, newest first, in batches from a server-side cursor (flat memory whatever the
    size). Runs in one read-only transaction on the replica when configured."""
    filters.check()
    args: list[Any] = []
    where = filters.where(args)
    sql = (f"SELECT {', '.join(COLUMNS)} FROM award_history WHERE {where}"
           " ORDER BY awarded_at DESC, award_id DESC")
    async with reads.read_connection() as conn:
        cur = await conn.cursor(sql, *args)
        while True:
            rows = await cur.fetch(batch)
            if not rows:
                return
            yield rows
