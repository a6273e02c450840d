"""Oversight thresholds: red-flag limits and how long each stage may take, built from Settings.

The values are settings (settings.redflags: the REDFLAG_* variables, and STAGE_LIMIT_DAYS; README,
Settings), parsed and checked when the process starts; `of(settings)` gives the policy they describe.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from marketplace.settings import COMPETITIVE_METHODS as _COMPETITIVE
from marketplace.settings import Settings

COMPETITIVE_METHODS = frozenset(_COMPETITIVE)
STAGES = ("draft", "published", "tendering", "opening", "evaluation", "awarded")
TERMINAL = frozenset({"contracted", "cancelled", "unsuccessful"})


@dataclass(frozen=True)
class Policy:
    min_submission_days: dict[str, int]  # per competitive method, from publication to the deadline
    late_bid_minutes: int
    rare_winner_min_bids: int
    rare_winner_max_rate: Decimal
    disqualify_min_bids: int
    disqualify_max_rate: Decimal
    max_families: int
    amendment_max_pct: Decimal
    gap_min_sample: int
    stage_limit_days: dict[str, int]

    def public(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in self.__dict__.items()}


def of(settings: Settings) -> Policy:
    """The policy in force for these Settings (their REDFLAG_* and STAGE_LIMIT_DAYS values)."""
    r = settings.redflags
    wanted = {f.name for f in fields(Policy)}  # the read model's own settings (fences_minutes...) are not thresholds
    values = {f.name: getattr(r, f.name) for f in fields(r) if f.name in wanted}
    values["min_submission_days"] = dict(r.min_submission_days)
    return Policy(**values, stage_limit_days=dict(settings.stage_limit_days))
