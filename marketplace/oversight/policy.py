"""Oversight thresholds of our own (beside Cardinal's, which are tuned per publisher: REDFLAG_SETTINGS_DIR):
how long each stage may take, and how far amendments may raise a contract's value, built from Settings.

The values are settings (REDFLAG_AMENDMENT_MAX_PCT and STAGE_LIMIT_DAYS; README, Settings), parsed and
checked when the process starts; `of(settings)` gives the policy they describe.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from marketplace.settings import COMPETITIVE_METHODS as _COMPETITIVE
from marketplace.settings import Settings

COMPETITIVE_METHODS = frozenset(_COMPETITIVE)
STAGES = ("draft", "published", "tendering", "opening", "evaluation", "awarded")
TERMINAL = frozenset({"contracted", "cancelled", "unsuccessful"})


@dataclass(frozen=True)
class Policy:
    amendment_max_pct: Decimal  # MA-AMEND
    stage_limit_days: dict[str, int]  # MA-STAGE and the stage alarms

    def public(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in self.__dict__.items()}


def of(settings: Settings) -> Policy:
    """The policy in force for these Settings (REDFLAG_AMENDMENT_MAX_PCT and STAGE_LIMIT_DAYS)."""
    return Policy(amendment_max_pct=settings.redflags.amendment_max_pct,
                  stage_limit_days=dict(settings.stage_limit_days))
