"""Oversight thresholds: red flag limits and how long each stage may take, from the environment.

Every value has a development default and may be overridden by an environment variable (README, Settings):

    REDFLAG_MIN_SUBMISSION_DAYS   method=days,...  shortest acceptable time from publication to the deadline
    REDFLAG_LATE_BID_MINUTES      60     a winning bid received this close to the deadline, after every other
    REDFLAG_RARE_WINNER_MIN_BIDS  10     a bidder needs this many bids before its win rate is judged
    REDFLAG_RARE_WINNER_MAX_RATE  0.05   ...and is flagged when it wins this share of them or less
    REDFLAG_DISQUALIFY_MIN_BIDS   10     an agency needs this many opened bids before its rate is judged
    REDFLAG_DISQUALIFY_MAX_RATE   0.30   ...and is flagged when it disqualifies more than this share
    REDFLAG_MAX_FAMILIES          5      a supplier winning in this many classification families or more
    REDFLAG_AMENDMENT_MAX_PCT     20     contract value raised by amendments by more than this % in total
    REDFLAG_GAP_MIN_SAMPLE        8      awarded lots needed before the price gap quartile fence is used
    STAGE_LIMIT_DAYS              stage=days,...   alarm when a tender stays in a stage longer

Parsed once per Settings object; a bad value raises SettingsError naming the variable.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from marketplace.settings import SettingsError

COMPETITIVE_METHODS = frozenset({"licitacion_publica", "concurso_publico", "adjudicacion_simplificada",
                                 "subasta_inversa_electronica", "comparacion_precios"})
STAGES = ("draft", "published", "tendering", "opening", "evaluation", "awarded")
TERMINAL = frozenset({"contracted", "cancelled", "unsuccessful"})


@dataclass(frozen=True)
class Policy:
    min_submission_days: dict[str, int] = field(default_factory=lambda: {
        "licitacion_publica": 22, "concurso_publico": 22, "adjudicacion_simplificada": 8,
        "subasta_inversa_electronica": 5, "comparacion_precios": 3})
    late_bid_minutes: int = 60
    rare_winner_min_bids: int = 10
    rare_winner_max_rate: Decimal = Decimal("0.05")
    disqualify_min_bids: int = 10
    disqualify_max_rate: Decimal = Decimal("0.30")
    max_families: int = 5
    amendment_max_pct: Decimal = Decimal("20")
    gap_min_sample: int = 8
    stage_limit_days: dict[str, int] = field(default_factory=lambda: {
        "published": 45, "tendering": 60, "opening": 2, "evaluation": 20, "awarded": 30})

    def public(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in self.__dict__.items()}


_ENV = {
    "REDFLAG_MIN_SUBMISSION_DAYS": "min_submission_days",
    "REDFLAG_LATE_BID_MINUTES": "late_bid_minutes",
    "REDFLAG_RARE_WINNER_MIN_BIDS": "rare_winner_min_bids",
    "REDFLAG_RARE_WINNER_MAX_RATE": "rare_winner_max_rate",
    "REDFLAG_DISQUALIFY_MIN_BIDS": "disqualify_min_bids",
    "REDFLAG_DISQUALIFY_MAX_RATE": "disqualify_max_rate",
    "REDFLAG_MAX_FAMILIES": "max_families",
    "REDFLAG_AMENDMENT_MAX_PCT": "amendment_max_pct",
    "REDFLAG_GAP_MIN_SAMPLE": "gap_min_sample",
    "STAGE_LIMIT_DAYS": "stage_limit_days",
}


def _mapping(name: str, raw: str, base: dict[str, int]) -> dict[str, int]:
    out = dict(base)
    for part in raw.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep or key.strip() not in base or not value.strip().isdigit():
            raise SettingsError(f"{name} must be key=days pairs with keys among {', '.join(base)}; got {raw!r}")
        out[key.strip()] = int(value)
    return out


def parse(env: dict[str, str] | tuple[tuple[str, str], ...]) -> Policy:
    env = dict(env)
    policy = Policy()
    changes: dict[str, Any] = {}
    for name, raw in env.items():
        attr = _ENV.get(name)
        if attr is None:
            raise SettingsError(f"unknown oversight setting {name}")
        current = getattr(policy, attr)
        if isinstance(current, dict):
            changes[attr] = _mapping(name, raw, current)
        elif isinstance(current, Decimal):
            try:
                value = Decimal(raw)
            except InvalidOperation:
                raise SettingsError(f"{name} must be a decimal number, got {raw!r}") from None
            if value < 0:
                raise SettingsError(f"{name} must not be negative")
            changes[attr] = value
        else:
            if not raw.strip().isdigit():
                raise SettingsError(f"{name} must be a whole number, got {raw!r}")
            changes[attr] = int(raw)
    return replace(policy, **changes)


@lru_cache(maxsize=8)
def _cached(env: tuple[tuple[str, str], ...]) -> Policy:
    return parse(env)


def of(settings: Any) -> Policy:
    """The policy in force for these Settings (their REDFLAG_* and STAGE_LIMIT_DAYS values)."""
    env = tuple((name, value) for name in _ENV if (value := getattr(settings, name.lower(), "") or ""))
    return _cached(env)
