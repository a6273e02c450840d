"""Business days in Peru: weekends and a configurable holiday calendar.

Procurement periods (the standstill after an award, appeal windows) are counted in business days
("días hábiles"): Monday to Friday, except national holidays and the non-working days the government
declares for the public sector. The national holidays for 2025-2027 ship below as data; more dates (a
non-working day decreed next month, a regional holiday, a later year) are added without a code change
through the environment:

    PE_EXTRA_HOLIDAYS="2026-12-24,2026-12-31"          # comma-separated ISO dates

or by building a `BusinessCalendar` with `extra=`. Days are civil dates in America/Lima.

The rule for a period of N business days that starts with a notification at instant t:
the count begins on the first business day AFTER the local date of t (the day of the notification does
not count), and the period ends at the end of the Nth business day, i.e. at 00:00 America/Lima of the
following calendar day. `ends_after_business_days` returns that instant in UTC: an act is in time when it
happens strictly before it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LIMA = ZoneInfo("America/Lima")

# National holidays ("feriados nacionales", Ley 31542 and earlier laws; Holy Thursday and Good Friday move
# with Easter). Source: the holiday list of the Peruvian government (gob.pe/feriados), per year.
_FIXED = (
    (1, 1, "Año Nuevo"),
    (5, 1, "Día del Trabajo"),
    (6, 7, "Batalla de Arica y Día de la Bandera"),
    (6, 29, "San Pedro y San Pablo"),
    (7, 23, "Día de la Fuerza Aérea del Perú"),
    (7, 28, "Fiestas Patrias"),
    (7, 29, "Fiestas Patrias"),
    (8, 6, "Batalla de Junín"),
    (8, 30, "Santa Rosa de Lima"),
    (10, 8, "Combate de Angamos"),
    (11, 1, "Día de Todos los Santos"),
    (12, 8, "Inmaculada Concepción"),
    (12, 9, "Batalla de Ayacucho"),
    (12, 25, "Navidad"),
)
_HOLY_WEEK = {  # Easter Sunday: 2025-04-20, 2026-04-05, 2027-03-28
    2025: (date(2025, 4, 17), date(2025, 4, 18)),
    2026: (date(2026, 4, 2), date(2026, 4, 3)),
    2027: (date(2027, 3, 25), date(2027, 3, 26)),
}


def _national(years: Iterable[int]) -> dict[date, str]:
    out: dict[date, str] = {}
    for year in years:
        for month, day, name in _FIXED:
            out[date(year, month, day)] = name
        thursday, friday = _HOLY_WEEK[year]
        out[thursday] = "Jueves Santo"
        out[friday] = "Viernes Santo"
    return out


PERU_NATIONAL_HOLIDAYS: Mapping[date, str] = _national(_HOLY_WEEK)
COVERED_YEARS = frozenset(_HOLY_WEEK)


@dataclass(frozen=True)
class BusinessCalendar:
    """Weekends plus `holidays` (national ones by default) plus `extra` dates are not business days."""

    holidays: Mapping[date, str] = field(default_factory=lambda: dict(PERU_NATIONAL_HOLIDAYS))
    extra: frozenset[date] = frozenset()
    tz: ZoneInfo = LIMA

    def is_holiday(self, day: date) -> bool:
        return day in self.holidays or day in self.extra

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < 5 and not self.is_holiday(day)

    def add_business_days(self, start: date, n: int) -> date:
        """The Nth business day after `start` (`start` itself never counts). n >= 1."""
        if n < 1:
            raise ValueError("n must be at least 1")
        day, counted = start, 0
        while counted < n:
            day += timedelta(days=1)
            if self.is_business_day(day):
                counted += 1
        return day

    def business_days_between(self, start: date, end: date) -> int:
        """How many business days lie in (start, end]."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            if self.is_business_day(day):
                count += 1
        return count

    def local_date(self, at: datetime) -> date:
        if at.tzinfo is None:
            raise ValueError("an aware datetime is required")
        return at.astimezone(self.tz).date()

    def ends_after_business_days(self, notified_at: datetime, n: int) -> datetime:
        """The instant (UTC) a period of `n` business days from a notification at `notified_at` ends."""
        last_day = self.add_business_days(self.local_date(notified_at), n)
        end_local = datetime.combine(last_day + timedelta(days=1), time(0, 0), tzinfo=self.tz)
        return end_local.astimezone(UTC)


def parse_dates(raw: str | None) -> frozenset[date]:
    """'2026-12-24, 2026-12-31' -> dates. Raises ValueError naming the bad item."""
    out: set[date] = set()
    for item in (raw or "").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            out.add(date.fromisoformat(item))
        except ValueError as exc:
            raise ValueError(f"PE_EXTRA_HOLIDAYS: {item!r} is not an ISO date (YYYY-MM-DD)") from exc
    return frozenset(out)


def calendar_from_env(env: Mapping[str, str] | None = None) -> BusinessCalendar:
    env = os.environ if env is None else env
    return BusinessCalendar(extra=parse_dates(env.get("PE_EXTRA_HOLIDAYS")))


@functools.cache
def peru() -> BusinessCalendar:
    """The calendar in force for this process (national holidays + PE_EXTRA_HOLIDAYS)."""
    return calendar_from_env()


__all__ = [
    "BusinessCalendar", "COVERED_YEARS", "LIMA", "PERU_NATIONAL_HOLIDAYS", "calendar_from_env", "parse_dates",
    "peru",
]
