"""Award and appeal payloads. Amounts are Money objects ({"amount": <céntimos>, "currency": "PEN"}); scores are
numbers rounded to 2 decimals."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from marketplace.core.money import Money, Score


class AwardCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Award the lots in evaluation (all of them, or those listed)."""

    lot_ids: Annotated[list[UUID], msgspec.Meta(max_length=200)] | None = None


class AwardRead(msgspec.Struct):
    id: UUID
    tender_id: UUID
    lot_id: UUID
    bid_id: UUID
    supplier_id: UUID
    supplier_name: str
    value: Money
    final_score: Score
    state: str
    standstill_days: int
    notified_at: datetime
    standstill_ends_at: datetime
    score_sheet_id: UUID
    consented_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None


class LotOutcome(msgspec.Struct):
    lot_id: UUID
    lot_number: int
    outcome: Literal["awarded", "unsuccessful"]
    score_sheet_id: UUID
    award: AwardRead | None = None


class AwardResult(msgspec.Struct):
    tender_id: UUID
    lots: list[LotOutcome]


class AppealCreate(msgspec.Struct, forbid_unknown_fields=True):
    grounds: Annotated[str, msgspec.Meta(min_length=10, max_length=10_000)]


class AppealDecisionCreate(msgspec.Struct, forbid_unknown_fields=True):
    decision: Literal["upheld", "dismissed"]
    reason: Annotated[str, msgspec.Meta(min_length=3, max_length=5_000)]


class AppealRead(msgspec.Struct):
    id: UUID
    award_id: UUID
    tender_id: UUID
    lot_id: UUID
    appellant_id: UUID
    appellant_name: str
    grounds: str
    state: str
    filed_at: datetime
    award_state: str
    decided_at: datetime | None = None
    decision_reason: str | None = None
    bond: Money | None = None  # the bond this appeal owes (none if 0); while unpaid the appeal is 'pending_bond'
    # who decides it: 'agency_head' (the lot's estimated value is at most APPEAL_TRIBUNAL_UIT UIT) or 'tribunal'
    deciding_body: str = "tribunal"
