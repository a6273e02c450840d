"""Contracts payloads (msgspec): separate Create / Update / Read. Every amount is a Money object
({"amount": <céntimos>, "currency": "PEN"}; amounts taken as input must be PEN); percentages are numbers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from marketplace.core.money import Money, Score
from marketplace.payments.schemas import PaymentRead

Text300 = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
Reason = Annotated[str, msgspec.Meta(min_length=3, max_length=4000)]
Note = Annotated[str, msgspec.Meta(max_length=4000)]
Percent = Annotated[Score, msgspec.Meta(description="a percentage, a number rounded to 2 decimals")]


class ContractCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A contract from a consented award or an accepted purchase order (returns the existing one if any)."""

    source_type: Literal["award", "order"]
    source_id: UUID


class GuaranteeCreate(msgspec.Struct, forbid_unknown_fields=True):
    kind: Literal["bank_letter", "insurance_bond", "retention"]
    amount: Money  # PEN, positive, at least a tenth of the contract's value
    issuer: Text300
    reference: Text300
    expires_on: date


class ContractSign(msgspec.Struct, forbid_unknown_fields=True):
    period_start: date
    period_end: date
    guarantee: GuaranteeCreate


class MilestoneCreate(msgspec.Struct, forbid_unknown_fields=True):
    deliverable: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
    due_date: date
    amount: Money  # PEN, positive


class AmendmentCreate(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason
    value_change: Money | None = None  # PEN; negative lowers the value
    new_period_end: date | None = None


class DeliveryCreate(msgspec.Struct, forbid_unknown_fields=True):
    milestone_id: UUID
    note: Note = ""


class DeliveryDecision(msgspec.Struct, forbid_unknown_fields=True):
    note: Note = ""


class DeliveryRejection(msgspec.Struct, forbid_unknown_fields=True):
    note: Reason


class Termination(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason


class DocumentCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Text300
    sha256: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]
    media_type: Annotated[str, msgspec.Meta(min_length=3, max_length=100)] = "application/pdf"
    url: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class MilestonePayment(msgspec.Struct, forbid_unknown_fields=True):
    """Omit the reference to pay through Stripe Connect; give it to record a treasury transfer."""

    external_reference: Annotated[str, msgspec.Meta(min_length=3, max_length=200)] | None = None


class MilestoneRead(msgspec.Struct):
    id: UUID
    contract_id: UUID
    seq: int
    deliverable: str
    due_date: date
    amount: Money
    state: str
    accepted_at: datetime | None
    paid_at: datetime | None


class AmendmentRead(msgspec.Struct):
    id: UUID
    contract_id: UUID
    seq: int
    reason: str
    value_change: Money
    previous_value: Money
    new_value: Money
    previous_period_end: date | None
    new_period_end: date | None
    change_pct: Percent
    cumulative_change_pct: Percent
    flagged: bool
    created_at: datetime


class DeliveryRead(msgspec.Struct):
    id: UUID
    contract_id: UUID
    milestone_id: UUID
    note: str
    state: str
    submitted_at: datetime
    decided_at: datetime | None
    decision_note: str


class DocumentRead(msgspec.Struct):
    id: UUID
    contract_id: UUID
    name: str
    media_type: str
    sha256: str
    url: str
    created_at: datetime


class Guarantee(msgspec.Struct):
    kind: str
    amount: Money
    issuer: str
    reference: str
    expires_on: date


class BalanceRead(msgspec.Struct):
    """Paid and outstanding, derived from the payment ledger."""

    contract_id: UUID
    value: Money
    paid: Money
    outstanding: Money
    entries: int


class ContractRead(msgspec.Struct):
    id: UUID
    source_type: str
    source_id: UUID
    tender_id: UUID | None
    lot_id: UUID | None
    agency_org_id: UUID
    supplier_org_id: UUID
    title: str
    original_value: Money
    value: Money
    period_start: date | None
    period_end: date | None
    state: str
    cumulative_change_pct: Percent
    flagged: bool
    guarantee: Guarantee | None
    signed_at: datetime | None
    completed_at: datetime | None
    terminated_at: datetime | None
    termination_reason: str | None
    created_at: datetime
    updated_at: datetime


class ContractDetail(ContractRead):
    milestones: list[MilestoneRead] = []
    amendments: list[AmendmentRead] = []
    deliveries: list[DeliveryRead] = []
    documents: list[DocumentRead] = []
    balance: BalanceRead | None = None
    payments: list[PaymentRead] = []  # each with its state, and why it failed when it did
