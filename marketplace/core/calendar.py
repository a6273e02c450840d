"""Business days in Peru: weekends, national holidays and the extra non-working days declared on top.

Procurement periods (the standstill after an award, appeal windows) are counted in business days
("días hábiles"): Monday to Friday, except national holidays and the non-working days the government
declares for the public sector. The national holidays of any year come from the `holidays` package
(`holidays.country_holidays("PE")`: the fixed feriados of Ley 31542 and earlier laws, plus Holy Thursday
and Good Friday, which move with Easter). Days it cannot know (a non-working day decreed next month, a
regional holiday) are given as `extra`: the domain builds the calendar from Settings (PE_EXTRA_HOLIDAYS).
Days are civil dates in America/Lima.

The rule for a period of N business days that starts with a notification at instant t:
the count begins on the first business day AFTER the local date of t (the day of the notification does
not count), and the period ends at the end of the Nth business day, i.e. at 00:00 America/Lima of the
following calendar day. `ends_after_business_days` returns that instant in UTC: an act is in time when it
happens strictly before it.

Everything here is pure arithmetic over a holiday lookup; the lookup of national holidays is the only
outside fact, computed by the package once per year and kept.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays

LIMA = ZoneInfo("America/Lima")
EXTRA_NAME = "Día no laborable declarado"


@functools.lru_cache(maxsize=32)
def peru_national_holidays(year: int) -> Mapping[date, str]:
    """Peru's national holidays in `year`, named in Spanish (from the `holidays` package)."""
    return MappingProxyType(dict(holidays.country_holidays("PE", years=year, language="es")))


@dataclass(frozen=True)
class BusinessCalendar:
    """Weekends, the national holidays of each year (`national`, Peru's by default) and `extra` dates are
    not business days."""

    extra: frozenset[date] = frozenset()
    national: Callable[[int], Mapping[date, str]] = peru_national_holidays
    tz: ZoneInfo = LIMA

    def holiday(self, day: date) -> str | None:
        """The holiday's name, or None for a day that is not one."""
        name = self.national(day.year).get(day)
        if name is None and day in self.extra:
            return EXTRA_NAME
        return name

    def is_holiday(self, day: date) -> bool:
        return self.holiday(day) is not None

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


__all__ = ["EXTRA_NAME", "LIMA", "BusinessCalendar", "peru_national_holidays"]
