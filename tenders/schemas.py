"""Tender payloads: Create / Update / Read, validated by msgspec at the edge. Amounts are Money objects
({"amount": <céntimos>, "currency": "PEN"}); amounts taken as input must be PEN."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from marketplace.core.money import Money

MethodName = Literal["public_tender", "public_contest", "simplified_award",
                     "reverse_auction", "price_comparison", "direct_contracting"]
Category = Literal["goods", "services", "works"]
Scheme = Literal["UNSPSC", "CPV"]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
LongText = Annotated[str, msgspec.Meta(max_length=20_000)]
Reason = Annotated[str, msgspec.Meta(min_length=3, max_length=2_000)]
Ubigeo = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$", description="INEI ubigeo of a district")]
ClassificationCode = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{8}(-[0-9])?$",
                                                 description="UNSPSC (8 digits) or CPV (8 digits, check digit)")]
Quantity = Annotated[Decimal, msgspec.Meta(description="greater than 0, up to 3 decimals")]
Unit = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class LotCreate(msgspec.Struct, forbid_unknown_fields=True):
    title: Title
    estimated_value: Money  # PEN
    classification_scheme: Scheme
    classification_code: ClassificationCode
    quantity: Quantity
    unit: Unit
    delivery_ubigeo: Ubigeo
    description: LongText = ""


class LotUpdate(msgspec.Struct, forbid_unknown_fields=True):
    id: UUID
    title: Title | UnsetType = UNSET
    estimated_value: Money | UnsetType = UNSET  # PEN
    classification_scheme: Scheme | UnsetType = UNSET
    classification_code: ClassificationCode | UnsetType = UNSET
    quantity: Quantity | UnsetType = UNSET
    unit: Unit | UnsetType = UNSET
    delivery_ubigeo: Ubigeo | UnsetType = UNSET
    description: LongText | UnsetType = UNSET


class TenderCreate(msgspec.Struct, forbid_unknown_fields=True):
    title: Title
    method: MethodName
    category: Category
    lots: Annotated[list[LotCreate], msgspec.Meta(min_length=1, max_length=200)]
    description: LongText = ""
    consultancy: bool = False
    enquiry_end: datetime | None = None
    submission_deadline: datetime | None = None
    opening_time: datetime | None = None


class TenderUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """A draft edit, or (after publication) an amendment: `reason` is then required."""

    title: Title | UnsetType = UNSET
    description: LongText | UnsetType = UNSET
    method: MethodName | UnsetType = UNSET
    category: Category | UnsetType = UNSET
    consultancy: bool | UnsetType = UNSET
    enquiry_end: datetime | UnsetType = UNSET
    submission_deadline: datetime | UnsetType = UNSET
    opening_time: datetime | UnsetType = UNSET
    lots: Annotated[list[LotCreate], msgspec.Meta(min_length=1, max_length=200)] | UnsetType = UNSET
    lot_changes: Annotated[list[LotUpdate], msgspec.Meta(max_length=200)] | UnsetType = UNSET
    reason: Reason | UnsetType = UNSET


class CancelRequest(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason
    lot_id: UUID | None = None


class LotRead(msgspec.Struct):
    id: UUID
    number: int
    title: str
    description: str
    estimated_value: Money
    classification_scheme: str
    classification_code: str
    quantity: Decimal
    unit: str
    delivery_ubigeo: str
    state: str
    cancel_reason: str | None = None


class DocumentRead(msgspec.Struct):
    id: UUID
    document_id: UUID
    version: int
    title: str
    filename: str
    media_type: str
    size: int
    sha256: str
    uploaded_at: datetime
    lot_id: UUID | None = None


class AmendmentRead(msgspec.Struct):
    number: int
    reason: str
    changes: dict[str, Any]
    material: bool
    amended_at: datetime
    deadline_before: datetime | None = None
    deadline_after: datetime | None = None


class TenderRead(msgspec.Struct):
    id: UUID
    ocid: str
    agency_id: UUID
    title: str
    description: str
    method: str
    procurement_method: str
    category: str
    consultancy: bool
    currency: str
    state: str
    standstill_days: int
    amendment_count: int
    lots: list[LotRead]
    documents: list[DocumentRead]
    amendments: list[AmendmentRead]
    enquiry_end: datetime | None = None
    submission_deadline: datetime | None = None
    opening_time: datetime | None = None
    published_at: datetime | None = None
    opened_at: datetime | None = None
    cancel_reason: str | None = None


class EnquiryCreate(msgspec.Struct, forbid_unknown_fields=True):
    question: Annotated[str, msgspec.Meta(min_length=3, max_length=5_000)]
    lot_id: UUID | None = None


class EnquiryAnswer(msgspec.Struct, forbid_unknown_fields=True):
    answer: Annotated[str, msgspec.Meta(min_length=1, max_length=10_000)]


class EnquiryAnswerRead(msgspec.Struct):
    """One published answer; `corrects`: the number of the answer it corrects (None for the first)."""

    number: int
    answer: str
    answered_at: datetime
    corrects: int | None = None


class EnquiryRead(msgspec.Struct):
    """`answer` and `answered_at`: the latest answer; `answers`: every answer published, oldest first (a
    published answer is never rewritten: a correction is a new one)."""

    id: UUID
    number: int
    question: str
    asked_at: datetime
    mine: bool
    lot_id: UUID | None = None
    answer: str | None = None
    answered_at: datetime | None = None
    asker_org_id: UUID | None = None  # only for the owning agency
    answers: list[EnquiryAnswerRead] = msgspec.field(default_factory=list)


class OpeningBid(msgspec.Struct):
    bid_id: UUID
    supplier_id: UUID
    supplier_name: str
    supplier_ruc: str | None
    price: Money
    received_at: datetime


class OpeningLot(msgspec.Struct):
    lot_id: UUID
    number: int
    title: str
    state: str
    bids: list[OpeningBid]


class OpeningExcluded(msgspec.Struct):
    bid_id: UUID
    supplier_id: UUID
    reason: str


class OpeningConfirmation(msgspec.Struct):
    """One authorised person's confirmation of the opening."""

    user_id: UUID
    name: str
    confirmed_at: datetime


class OpeningRead(msgspec.Struct):
    tender_id: UUID
    ocid: str
    opened_at: datetime
    bid_count: int
    lots: list[OpeningLot]
    excluded: list[OpeningExcluded]
    confirmations: list[OpeningConfirmation] = []  # the quorum that opened the bids


class OpeningProgress(msgspec.Struct):
    """Where the opening stands: the confirmations in force (each counts for `window_minutes`) against the
    `quorum`; `opening` is the published record once the quorum opened the bids."""

    tender_id: UUID
    state: str
    quorum: int
    window_minutes: int
    confirmations: list[OpeningConfirmation]
    opened: bool
    opening: OpeningRead | None = None
