"""Payments payloads (msgspec). Every amount is a Money object: {"amount": <céntimos>, "currency": "PEN"}."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from marketplace.core.i18n import gettext
from marketplace.core.money import Money, money
from marketplace.payments.queries import AlarmRow, ConnectedAccountRow, LedgerRow, PaymentRow


class RegistryFeeCreate(msgspec.Struct, forbid_unknown_fields=True):
    year: Annotated[int, msgspec.Meta(ge=2000, le=2100)] | None = None


class ConnectedAccountUpdate(msgspec.Struct, forbid_unknown_fields=True):
    stripe_account_id: Annotated[str, msgspec.Meta(pattern="^acct_[A-Za-z0-9]{1,64}$")]


class ConnectedAccountRead(msgspec.Struct):
    organisation_id: UUID
    stripe_account_id: str
    transfers_enabled: bool
    updated_at: datetime


class PaymentRead(msgspec.Struct):
    id: UUID
    kind: str
    method: str
    state: str
    idempotency_key: str
    attempt: int
    amount: Money
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
    failure_reason: Annotated[str | None, msgspec.Meta(
        description="why the payment failed ('failed'): Stripe's message, or ours in the caller's language")]
    created_at: datetime
    updated_at: datetime
    settled_at: datetime | None


class LedgerEntryRead(msgspec.Struct):
    id: int
    occurred_at: datetime
    payment_id: UUID
    entry_type: str
    direction: str
    amount: Money
    supplier_org_id: UUID
    contract_id: UUID | None
    milestone_id: UUID | None
    appeal_id: UUID | None
    fee_year: int | None
    reference: str


class WebhookAck(msgspec.Struct):
    received: bool
    duplicate: bool


class PaymentAlarmRead(msgspec.Struct):
    """A payment that stayed 'requested' (Stripe not reached) longer than PAYMENT_STUCK_MINUTES."""

    id: int
    payment_id: UUID
    kind: str
    method: str
    state: str
    amount: Money
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


def payment_read(row: PaymentRow) -> PaymentRead:
    return PaymentRead(
        id=row.id, kind=row.kind, method=row.method, state=row.state, idempotency_key=row.idempotency_key,
        attempt=row.attempt, amount=money(row.amount_cents, row.currency.strip()), supplier_org_id=row.supplier_org_id,
        agency_org_id=row.agency_org_id, contract_id=row.contract_id, milestone_id=row.milestone_id,
        appeal_id=row.appeal_id, fee_year=row.fee_year, refund_of=row.refund_of, stripe_object_id=row.stripe_object_id,
        stripe_account_id=row.stripe_account_id, client_secret=row.client_secret,
        external_reference=row.external_reference,
        # our reasons are message ids (said in the caller's language); Stripe's come back as Stripe wrote them
        failure_reason=gettext(row.failure_reason) if row.failure_reason else None,
        created_at=row.created_at, updated_at=row.updated_at, settled_at=row.settled_at)


def ledger_read(row: LedgerRow) -> LedgerEntryRead:
    return LedgerEntryRead(
        id=row.id, occurred_at=row.occurred_at, payment_id=row.payment_id, entry_type=row.entry_type,
        direction=row.direction, amount=money(row.amount_cents, row.currency.strip()),
        supplier_org_id=row.supplier_org_id, contract_id=row.contract_id, milestone_id=row.milestone_id,
        appeal_id=row.appeal_id, fee_year=row.fee_year, reference=row.reference)


def connected_account_read(row: ConnectedAccountRow) -> ConnectedAccountRead:
    return ConnectedAccountRead(organisation_id=row.organisation_id, stripe_account_id=row.stripe_account_id,
                                transfers_enabled=row.transfers_enabled, updated_at=row.updated_at)


def alarm_read(row: AlarmRow) -> PaymentAlarmRead:
    return PaymentAlarmRead(
        id=row.id, payment_id=row.payment_id, kind=row.kind, method=row.method, state=row.state,
        amount=money(row.amount_cents, row.currency.strip()), supplier_org_id=row.supplier_org_id,
        supplier_name=row.supplier_name, agency_org_id=row.agency_org_id, agency_name=row.agency_name,
        contract_id=row.contract_id, milestone_id=row.milestone_id, appeal_id=row.appeal_id,
        requested_at=row.requested_at, limit_minutes=row.limit_minutes, raised_at=row.raised_at,
        cleared_at=row.cleared_at)
