"""Evaluation payloads: scoring rules, committee points, qualifications, score sheets. Points and weights are
JSON numbers (read: rounded to 2 decimals; written: a number or a decimal string, at most two decimals)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

import msgspec

from marketplace.core.money import Score

CriterionCode = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_]{1,32}$",
                                            description="Short code of a technical criterion")]
Points = Annotated[Decimal, msgspec.Meta(description="Points, at most two decimals")]
Weight = Annotated[float, msgspec.Meta(description="a weight from 0 to 1, a number as given (up to 3 decimals)")]


class CriterionWrite(msgspec.Struct, forbid_unknown_fields=True):
    code: CriterionCode
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    max_points: Points


class ScoringRulesWrite(msgspec.Struct, forbid_unknown_fields=True):
    """The tender's evaluation: technical weight (price weight = 1 - it) and criteria adding up to 100.
    technical_weight 0 with no criteria: price alone."""

    technical_weight: Annotated[Decimal, msgspec.Meta(description="0 to 1; the price weight is 1 minus it")]
    criteria: Annotated[list[CriterionWrite], msgspec.Meta(max_length=30)] = []
    technical_minimum: Decimal | None = None


class CriterionRead(msgspec.Struct):
    code: str
    name: str
    max_points: Score


class ScoringRulesRead(msgspec.Struct):
    tender_id: UUID
    technical_weight: Weight
    price_weight: Weight
    price_max: Score
    technical_minimum: Score | None
    criteria: list[CriterionRead]
    price_only: bool
    bonus_policies: list[dict[str, Any]]
    tie_rule: list[str]
    formulas: dict[str, str]
    rounding: str


class PointsEntry(msgspec.Struct, forbid_unknown_fields=True):
    criterion: CriterionCode
    points: Points


class TechnicalPointsCreate(msgspec.Struct, forbid_unknown_fields=True):
    lot_id: UUID
    bid_id: UUID
    scores: Annotated[list[PointsEntry], msgspec.Meta(min_length=1, max_length=30)]


class TechnicalPointsRead(msgspec.Struct):
    """The member's own sheet for the bid (`scores`, `total`, `complete`) and the committee's points so far
    (`committee`: per criterion, the points a majority of the members gave)."""

    lot_id: UUID
    bid_id: UUID
    scores: dict[str, Score]
    total: Score
    complete: bool
    committee: dict[str, Score] = {}


class QualificationCreate(msgspec.Struct, forbid_unknown_fields=True):
    lot_id: UUID
    bid_id: UUID
    qualified: bool
    reason: Annotated[str, msgspec.Meta(max_length=2_000)] = ""


class QualificationRead(msgspec.Struct):
    lot_id: UUID
    bid_id: UUID
    qualified: bool
    reason: str
    decided_at: datetime


class ScoreSheetRead(msgspec.Struct):
    lot_id: UUID
    lot_number: int
    provisional: bool
    id: UUID | None = None
    round: int | None = None
    outcome: str | None = None
    created_at: datetime | None = None
    sheet: dict[str, Any] | None = None
    missing: list[dict[str, Any]] | None = None  # provisional sheets: the points still to enter


class CommitteeWrite(msgspec.Struct, forbid_unknown_fields=True):
    """The tender's evaluation committee: users of the agency with the role 'committee' (2 to 9)."""

    members: Annotated[list[UUID], msgspec.Meta(max_length=20)]
    # how many of them must confirm the opening (2 to the number of members); omitted: the OPENING_QUORUM setting
    opening_quorum: int | None = None


class CommitteeMemberRead(msgspec.Struct):
    user_id: UUID
    name: str


class CommitteeRead(msgspec.Struct):
    """`designated`: chosen for this tender by its officer; otherwise every committee member of the agency."""

    tender_id: UUID
    designated: bool
    members: list[CommitteeMemberRead]
    opening_quorum: int | None = None  # the tender's own; None: the OPENING_QUORUM setting


class MemberScoreRead(msgspec.Struct):
    member_id: UUID
    name: str
    lot_id: UUID
    bid_id: UUID
    criterion: str
    points: Decimal
    entered_at: datetime


class ActaConfirm(msgspec.Struct, forbid_unknown_fields=True):
    acta_id: UUID
    dissent: Annotated[str, msgspec.Meta(max_length=5_000)] = ""


class ActaConfirmationRead(msgspec.Struct):
    member_id: UUID
    name: str
    confirmed_at: datetime
    dissent: str


class ActaRead(msgspec.Struct):
    """The evaluation record: per lot the committee's result (its score sheet), each member's points and where
    they differ from the committee's (`dissent`), the qualifications; confirmed by every member before the
    award. `current`: nothing it records has changed since it was drafted."""

    id: UUID
    tender_id: UUID
    number: int
    sha256: str
    drafted_at: datetime
    content: dict[str, Any]
    members: list[CommitteeMemberRead]
    confirmations: list[ActaConfirmationRead]
    confirmed_by_all: bool
    current: bool
