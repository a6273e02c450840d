"""Payments payloads (msgspec)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from marketplace.core.money import Cents, Currency


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
    amount_cents: Cents
    currency: Currency
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
    created_at: datetime
    updated_at: datetime
    settled_at: datetime | None


class LedgerEntryRead(msgspec.Struct):
    id: int
    occurred_at: datetime
    payment_id: UUID
    entry_type: str
    direction: str
    amount_cents: Cents
    currency: Currency
    supplier_org_id: UUID
    contract_id: UUID | None
    milestone_id: UUID | None
    appeal_id: UUID | None
    fee_year: int | None
    reference: str


class WebhookAck(msgspec.Struct):
    received: bool
    duplicate: bool


def payment_read(row: dict) -> PaymentRead:
    data = dict(row)
    data["currency"] = data["currency"].strip()
    data.pop("refund_state", None)
    return msgspec.convert(data, PaymentRead, from_attributes=False)


def ledger_read(row: dict) -> LedgerEntryRead:
    data = dict(row)
    data["currency"] = data["currency"].strip()
    return msgspec.convert(data, LedgerEntryRead)
