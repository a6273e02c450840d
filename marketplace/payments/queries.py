"""The payments rows as typed Structs, and the SQL that earns its place: a contract's balance from the ledger
and the stuck-payment alarms (an insert from a select, run by a cron; a report joining names).

Plain reads and writes are piccolo queries in service.py; they hand on these Structs. Fields are named after
the columns as PostgreSQL knows them (piccolo selects a foreign key under its database name).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from marketplace.core import db, rows


class PaymentRow(msgspec.Struct):
    id: UUID
    kind: str
    method: str
    state: str
    idempotency_key: str
    attempt: int
    amount_cents: int
    currency: str
    supplier_org_id: UUID
    agency_org_id: UUID | None
    contract_id: UUID | None
    milestone_id: UUID | None
    appeal_id: UUID | None
    fee_year: int | None
    refund_of: UUID | None
    stripe_object_id: str | None
    stripe_account_id: str | None
    client_secret: str | None
    external_reference: str | None
    failure_reason: str | None
    requested_by: UUID | None
    created_at: datetime
    updated_at: datetime
    settled_at: datetime | None


class LedgerRow(msgspec.Struct):
    id: int
    occurred_at: datetime
    payment_id: UUID
    entry_type: str
    direction: str
    amount_cents: int
    currency: str
    supplier_org_id: UUID
    contract_id: UUID | None
    milestone_id: UUID | None
    appeal_id: UUID | None
    fee_year: int | None
    reference: str


class StripeEventRow(msgspec.Struct):
    id: str
    type: str
    object_id: str | None
    api_created: datetime | None
    livemode: bool
    payload: dict[str, Any] | str  # jsonb (as text unless the query loads it)
    received_at: datetime
    applied_at: datetime | None
    outcome: str | None


class ConnectedAccountRow(msgspec.Struct):
    organisation_id: UUID
    stripe_account_id: str
    transfers_enabled: bool
    updated_at: datetime


# --- a contract's balance, from the ledger only ------------------------------------------------------

class ContractPaid(msgspec.Struct):
    """What the ledger says was paid on a contract: milestone payments out, less transfers taken back."""

    paid_cents: int
    entries: int


_CONTRACT_PAID = (
    "SELECT COALESCE(SUM(CASE WHEN direction = 'out' THEN amount_cents ELSE -amount_cents END), 0)::bigint"
    " AS paid_cents, count(*)::integer AS entries FROM ledger_entry WHERE contract_id = $1"
)


async def contract_paid(contract_id: UUID) -> ContractPaid:
    found = rows.one(ContractPaid, await db.fetchrow(_CONTRACT_PAID, contract_id))
    assert found is not None  # an aggregate always gives its row
    return found


# --- payments stuck in 'requested' ------------------------------------------------------------------

class AlarmRow(msgspec.Struct):
    id: int
    payment_id: UUID
    kind: str
    method: str
    state: str
    amount_cents: int
    currency: str
    supplier_org_id: UUID
    supplier_name: str | None
    agency_org_id: UUID | None
    agency_name: str | None
    contract_id: UUID | None
    milestone_id: UUID | None
    appeal_id: UUID | None
    requested_at: datetime
    limit_minutes: int
    raised_at: datetime
    cleared_at: datetime | None


_ALARM_COLUMNS = (
    "a.id, a.payment_id, p.kind, p.method, p.state, p.amount_cents, p.currency, p.supplier_org_id,"
    " s.name AS supplier_name, p.agency_org_id, g.name AS agency_name, p.contract_id, p.milestone_id,"
    " p.appeal_id, a.requested_at, a.limit_minutes, a.raised_at, a.cleared_at"
)
_ALARM_FROM = (
    " FROM payment_alarm a JOIN payment p ON p.id = a.payment_id"
    " LEFT JOIN organisation s ON s.id = p.supplier_org_id LEFT JOIN organisation g ON g.id = p.agency_org_id"
)

# One alarm per payment: a payment is 'requested' once (its state only moves forward).
_RAISE = (
    "WITH raised AS ("
    " INSERT INTO payment_alarm (payment_id, requested_at, limit_minutes, raised_at)"
    " SELECT p.id, p.created_at, $3, $2 FROM payment p"
    " WHERE p.state = 'requested' AND p.created_at < $1"
    " AND NOT EXISTS (SELECT 1 FROM payment_alarm x WHERE x.payment_id = p.id)"
    " ORDER BY p.created_at LIMIT 500"
    " ON CONFLICT (payment_id) DO NOTHING RETURNING *)"
    f" SELECT {_ALARM_COLUMNS} FROM raised a JOIN payment p ON p.id = a.payment_id"
    " LEFT JOIN organisation s ON s.id = p.supplier_org_id LEFT JOIN organisation g ON g.id = p.agency_org_id"
    " ORDER BY a.requested_at"
)


async def raise_alarms(*, requested_before: datetime, now: datetime, limit_minutes: int) -> list[AlarmRow]:
    """An alarm for every payment 'requested' since before `requested_before` that has none yet; the new ones."""
    return rows.many(AlarmRow, await db.fetch(_RAISE, requested_before, now, limit_minutes))


async def clear_alarms(*, now: datetime, payment_id: UUID | None = None) -> int:
    """Clear the open alarms of payments that left 'requested' (of one payment, or all). How many."""
    status = await db.execute(
        "UPDATE payment_alarm a SET cleared_at = $1 FROM payment p WHERE a.cleared_at IS NULL"
        " AND p.id = a.payment_id AND p.state <> 'requested' AND ($2::uuid IS NULL OR a.payment_id = $2)",
        now, payment_id)
    return int(status.rsplit(" ", 1)[-1])


async def alarms(*, open_only: bool = True, limit: int = 200) -> list[AlarmRow]:
    where = " WHERE a.cleared_at IS NULL" if open_only else ""
    return rows.many(AlarmRow, await db.fetch(
        f"SELECT {_ALARM_COLUMNS}{_ALARM_FROM}{where} ORDER BY a.raised_at DESC, a.id DESC LIMIT $1", limit))
