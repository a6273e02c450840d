"""The contracts rows as typed Structs, named after the columns as PostgreSQL knows them (piccolo selects a
foreign key under its database name).

Every contracts query is plain enough for piccolo's query builder (service.py); none needs SQL of its own.
The one figure read from elsewhere, what was paid, comes from the payments ledger (payments.service).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

import msgspec

from marketplace.payments.queries import PaymentRow


class ContractRow(msgspec.Struct):
    id: UUID
    source_type: str
    source_id: UUID
    tender_id: UUID | None
    lot_id: UUID | None
    agency_org_id: UUID
    supplier_org_id: UUID
    title: str
    currency: str
    original_value_cents: int
    value_cents: int
    period_start: date | None
    period_end: date | None
    state: str
    guarantee_kind: str | None
    guarantee_amount_cents: int | None
    guarantee_issuer: str | None
    guarantee_reference: str | None
    guarantee_expires_on: date | None
    cumulative_change_pct: Decimal
    signed_at: datetime | None
    signed_by: UUID | None
    completed_at: datetime | None
    terminated_at: datetime | None
    termination_reason: str | None
    created_at: datetime
    updated_at: datetime


class MilestoneRow(msgspec.Struct):
    id: UUID
    contract_id: UUID
    seq: int
    deliverable: str
    due_date: date
    amount_cents: int
    state: str
    accepted_at: datetime | None
    paid_at: datetime | None
    created_at: datetime


class AmendmentRow(msgspec.Struct):
    id: UUID
    contract_id: UUID
    seq: int
    reason: str
    value_change_cents: int
    previous_value_cents: int
    new_value_cents: int
    previous_period_end: date | None
    new_period_end: date | None
    change_pct: Decimal
    cumulative_change_pct: Decimal
    created_by: UUID | None
    created_at: datetime


class DeliveryRow(msgspec.Struct):
    id: UUID
    contract_id: UUID
    milestone_id: UUID
    note: str
    state: str
    submitted_by: UUID | None
    submitted_at: datetime
    decided_by: UUID | None
    decided_at: datetime | None
    decision_note: str


class DocumentRow(msgspec.Struct):
    id: UUID
    contract_id: UUID
    name: str
    media_type: str
    sha256: str
    url: str
    uploaded_by: UUID | None
    created_at: datetime


class Balance(msgspec.Struct):
    """Paid and outstanding, from the payments ledger: milestone payments out, less transfers taken back."""

    contract_id: UUID
    currency: str
    value_cents: int
    paid_cents: int
    outstanding_cents: int
    entries: int


class Detail(msgspec.Struct):
    contract: ContractRow
    milestones: list[MilestoneRow]
    amendments: list[AmendmentRow]
    deliveries: list[DeliveryRow]
    documents: list[DocumentRow]
    balance: Balance
    payments: list[PaymentRow]
