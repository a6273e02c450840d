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
    lot_id: UUID
    bid_id: UUID
    scores: dict[str, Score]
    total: Score
    complete: bool


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
