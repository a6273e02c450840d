"""The evaluation and award policy in force: bonus policies, standstill periods and the business-day calendar,
built from Settings (`of(settings)`).

The rules themselves live in domain.py as policy objects with parameters; their values are settings
(settings.bonus, STANDSTILL_BUSINESS_DAYS, PE_EXTRA_HOLIDAYS; README, Settings), checked when the process
starts, so a change of thresholds, rates or ranges (the budget law changes them every year) is a
configuration change, not a code change. Every score sheet records the parameters it was computed with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from marketplace.core.calendar import BusinessCalendar
from marketplace.settings import BonusSettings, Settings
from tenders.evaluation.domain import BonusPolicy, MypeBonusPolicy, RegionalBonusPolicy

KINDS = ("goods", "services", "consultancy", "works")


@dataclass(frozen=True)
class AwardPolicy:
    bonuses: tuple[BonusPolicy, ...]
    standstill_days: Mapping[str, int]  # business days, per method
    calendar: BusinessCalendar

    def standstill_for(self, method: str, tender_days: int | None = None) -> int:
        """A tender's own standstill_days, when set (> 0), wins over the method's."""
        if tender_days and tender_days > 0:
            return tender_days
        return self.standstill_days[method]


def bonuses(b: BonusSettings) -> tuple[BonusPolicy, ...]:
    regional = RegionalBonusPolicy(
        rate=b.regional_rate,
        thresholds={"services": b.regional_threshold_services, "consultancy": b.regional_threshold_consultancy,
                    "works": b.regional_threshold_works},
        excluded_methods=b.excluded_methods,
        lima_callao_metropolitan=b.regional_lima_scope == "province",
    )
    mype = MypeBonusPolicy(
        rate=b.mype_rate,
        ranges={"goods": b.mype_range_goods, "services": b.mype_range_services,
                "consultancy": b.mype_range_consultancy, "works": b.mype_range_works},
        excluded_methods=b.excluded_methods,
    )
    return regional, mype


def of(settings: Settings) -> AwardPolicy:
    """The award policy these settings describe."""
    return AwardPolicy(bonuses=bonuses(settings.bonus), standstill_days=settings.standstill_business_days,
                       calendar=BusinessCalendar(extra=settings.extra_holidays))


def lot_kind(category: str, consultancy: bool) -> str:
    """A tender's category and consultancy flag -> the kind the bonus policies use."""
    return "consultancy" if consultancy and category == "services" else category
