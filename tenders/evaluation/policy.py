"""The evaluation and award policy in force: bonus policies and standstill periods, from the environment.

The rules themselves live in domain.py as policy objects with parameters; this module builds them from
the environment once per process, so a change of thresholds, rates or ranges (the budget law changes
them every year) is a configuration change, not a code change. Every score sheet records the
parameters it was computed with.

Environment (all optional; amounts in céntimos; defaults in brackets):

    BONUS_REGIONAL_RATE                  percent of the total score [10]
    BONUS_REGIONAL_THRESHOLD_SERVICES    [20000000]  (S/ 200,000)
    BONUS_REGIONAL_THRESHOLD_CONSULTANCY [20000000]  (S/ 200,000)
    BONUS_REGIONAL_THRESHOLD_WORKS       [90000000]  (S/ 900,000)
    BONUS_REGIONAL_LIMA_SCOPE            'province' (Lima Metropolitana and Callao) or 'region' [province]
    BONUS_MYPE_RATE                      percent of the total score [5]
    BONUS_MYPE_RANGE_GOODS               'low-high', the adjudicación simplificada range [4280000-40000000]
    BONUS_MYPE_RANGE_SERVICES            [4280000-40000000]
    BONUS_MYPE_RANGE_CONSULTANCY         [4280000-40000000]
    BONUS_MYPE_RANGE_WORKS               [4280000-180000000]
    BONUS_EXCLUDED_METHODS               methods neither bonus applies to [subasta_inversa_electronica]
    STANDSTILL_BUSINESS_DAYS             'method=days,...' overriding the defaults below; a tender's own
                                         standstill_days, when set (> 0), wins
    PE_EXTRA_HOLIDAYS                    extra non-business days (see marketplace.core.calendar)
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from marketplace.core.calendar import BusinessCalendar, calendar_from_env
from tenders.evaluation.domain import BonusPolicy, MypeBonusPolicy, RegionalBonusPolicy

KINDS = ("goods", "services", "consultancy", "works")

# Days to appeal an award ("plazo para apelar la buena pro"), in business days, per method.
DEFAULT_STANDSTILL_DAYS: Mapping[str, int] = {
    "licitacion_publica": 8,
    "concurso_publico": 8,
    "adjudicacion_simplificada": 5,
    "subasta_inversa_electronica": 5,
    "comparacion_precios": 5,
    "contratacion_directa": 5,
}


class PolicyError(ValueError):
    """The environment describes an invalid policy (raised at start-up, naming the variable)."""


@dataclass(frozen=True)
class AwardPolicy:
    bonuses: tuple[BonusPolicy, ...]
    standstill_days: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_STANDSTILL_DAYS))
    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)

    def standstill_for(self, method: str, tender_days: int | None = None) -> int:
        if tender_days and tender_days > 0:
            return tender_days
        return self.standstill_days.get(method, 5)


def _decimal(env: Mapping[str, str], name: str, default: str) -> Decimal:
    raw = env.get(name) or default
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise PolicyError(f"{name} must be a number, got {raw!r}") from exc
    if not value.is_finite() or value < 0 or value > 100:
        raise PolicyError(f"{name} must be a percentage between 0 and 100, got {raw!r}")
    return value


def _cents(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise PolicyError(f"{name} must be an amount in céntimos, got {raw!r}") from exc
    if value < 0:
        raise PolicyError(f"{name} must not be negative")
    return value


def _range(env: Mapping[str, str], name: str, default: tuple[int, int]) -> tuple[int, int]:
    raw = env.get(name)
    if not raw:
        return default
    try:
        low, high = (int(x) for x in raw.split("-", 1))
    except ValueError as exc:
        raise PolicyError(f"{name} must be 'low-high' in céntimos, got {raw!r}") from exc
    if not 0 <= low <= high:
        raise PolicyError(f"{name}: low must be <= high")
    return low, high


def _days(env: Mapping[str, str]) -> dict[str, int]:
    days = dict(DEFAULT_STANDSTILL_DAYS)
    for item in (env.get("STANDSTILL_BUSINESS_DAYS") or "").split(","):
        if not item.strip():
            continue
        method, _, n = item.partition("=")
        try:
            value = int(n)
        except ValueError as exc:
            raise PolicyError(f"STANDSTILL_BUSINESS_DAYS: {item!r} is not 'method=days'") from exc
        if value < 1:
            raise PolicyError("STANDSTILL_BUSINESS_DAYS: days must be at least 1")
        days[method.strip()] = value
    return days


def policy_from_env(env: Mapping[str, str] | None = None) -> AwardPolicy:
    env = os.environ if env is None else env
    regional_defaults = RegionalBonusPolicy()
    mype_defaults = MypeBonusPolicy()
    excluded = frozenset(m.strip() for m in (env.get("BONUS_EXCLUDED_METHODS") or "subasta_inversa_electronica")
                         .split(",") if m.strip())
    scope = (env.get("BONUS_REGIONAL_LIMA_SCOPE") or "province").strip().lower()
    if scope not in ("province", "region"):
        raise PolicyError("BONUS_REGIONAL_LIMA_SCOPE must be 'province' or 'region'")
    regional = RegionalBonusPolicy(
        rate=_decimal(env, "BONUS_REGIONAL_RATE", "10"),
        thresholds={k: _cents(env, f"BONUS_REGIONAL_THRESHOLD_{k.upper()}", v)
                    for k, v in regional_defaults.thresholds.items()},
        excluded_methods=excluded,
        lima_callao_metropolitan=scope == "province",
    )
    mype = MypeBonusPolicy(
        rate=_decimal(env, "BONUS_MYPE_RATE", "5"),
        ranges={k: _range(env, f"BONUS_MYPE_RANGE_{k.upper()}", v) for k, v in mype_defaults.ranges.items()},
        excluded_methods=excluded,
    )
    return AwardPolicy(bonuses=(regional, mype), standstill_days=_days(env), calendar=calendar_from_env(env))


@functools.cache
def current() -> AwardPolicy:
    """The policy in force for this process (read once from the environment)."""
    return policy_from_env()


def lot_kind(category: str, consultancy: bool) -> str:
    """A tender's category and consultancy flag -> the kind the bonus policies use."""
    return "consultancy" if consultancy and category == "services" else category
