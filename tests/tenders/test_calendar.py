"""Business days in Peru: weekends, national holidays for any year (the `holidays` package), extra declared
days, standstill ends. The arithmetic is pure: properties are checked on made-up holiday calendars too."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.core.calendar import EXTRA_NAME, LIMA, BusinessCalendar, peru_national_holidays

CAL = BusinessCalendar()

# Peru's fixed national holidays (Ley 31542 and earlier laws), by (month, day).
FIXED = [(1, 1), (5, 1), (6, 7), (6, 29), (7, 23), (7, 28), (7, 29), (8, 6), (8, 30), (10, 8), (11, 1), (12, 8),
         (12, 9), (12, 25)]


def easter(year: int) -> date:
    """Easter Sunday (the anonymous Gregorian algorithm), to check the package's Holy Week on its own terms."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


@pytest.mark.parametrize("year", range(2025, 2036))
def test_national_holidays_come_for_every_year_not_only_a_shipped_table(year):
    days = peru_national_holidays(year)
    for month, day in FIXED:
        assert date(year, month, day) in days, (year, month, day)
    assert days[easter(year) - timedelta(days=3)] == "Jueves Santo"
    assert days[easter(year) - timedelta(days=2)] == "Viernes Santo"
    # Nothing else falls on a weekday: a surprise holiday would stretch every period without anyone noticing.
    expected = {date(year, m, d) for m, d in FIXED} | {easter(year) - timedelta(days=n) for n in (2, 3)}
    assert {d for d in days if d.weekday() < 5} <= expected


def test_2028_counts_its_holidays():
    # The old hand-written table stopped at 2027. Holy Week 2028: Thursday 13 and Friday 14 April.
    assert CAL.holiday(date(2028, 4, 13)) == "Jueves Santo" and CAL.holiday(date(2028, 4, 14)) == "Viernes Santo"
    assert CAL.add_business_days(date(2028, 4, 12), 1) == date(2028, 4, 17)  # Wed -> (Thu, Fri, weekend) Mon
    # Fiestas Patrias 2028: Friday 28 July (and Saturday 29). Thursday 27 + 1 -> Monday 31 July.
    assert CAL.add_business_days(date(2028, 7, 27), 1) == date(2028, 7, 31)
    # Notified Friday 2028-12-01 10:00 Lima: Mon 4, Tue 5, Wed 6, Thu 7, (Fri 8 Inmaculada Concepción,
    # weekend) Mon 11 -> five business days end at 00:00 Lima on Tue 12 December = 05:00 UTC.
    notified = datetime(2028, 12, 1, 15, 0, tzinfo=UTC)
    assert CAL.ends_after_business_days(notified, 5) == datetime(2028, 12, 12, 5, 0, tzinfo=UTC)


def test_weekends_and_holidays_are_not_business_days():
    assert CAL.is_business_day(date(2026, 11, 30))       # Monday
    assert not CAL.is_business_day(date(2026, 11, 28))   # Saturday
    assert not CAL.is_business_day(date(2026, 11, 29))   # Sunday
    assert not CAL.is_business_day(date(2026, 12, 8))    # Tuesday, Inmaculada Concepción
    assert not CAL.is_business_day(date(2026, 7, 28))
    assert CAL.holiday(date(2026, 11, 30)) is None


def test_add_business_days_skips_weekends_and_holidays():
    # Friday 2026-12-04 + 3 business days: Mon 7, (Tue 8 and Wed 9 holidays), Thu 10, Fri 11.
    assert CAL.add_business_days(date(2026, 12, 4), 3) == date(2026, 12, 11)
    # Wednesday 2026-04-01 + 1: Holy Thursday and Good Friday, weekend -> Monday 6 April.
    assert CAL.add_business_days(date(2026, 4, 1), 1) == date(2026, 4, 6)
    # Across a new year: Wed 2025-12-31 + 1 -> (1 January) Friday 2 January 2026.
    assert CAL.add_business_days(date(2025, 12, 31), 1) == date(2026, 1, 2)
    with pytest.raises(ValueError):
        CAL.add_business_days(date(2026, 4, 1), 0)


def test_extra_declared_days_are_added_on_top_of_the_national_ones():
    cal = BusinessCalendar(extra=frozenset({date(2026, 12, 24), date(2026, 12, 31), date(2028, 1, 3)}))
    assert not cal.is_business_day(date(2026, 12, 24)) and cal.holiday(date(2026, 12, 24)) == EXTRA_NAME
    assert cal.is_business_day(date(2026, 12, 23))
    assert CAL.is_business_day(date(2026, 12, 24))
    assert cal.add_business_days(date(2026, 12, 23), 1) == date(2026, 12, 28)
    assert not cal.is_business_day(date(2026, 12, 8))  # the national ones are still there
    assert cal.add_business_days(date(2027, 12, 31), 1) == date(2028, 1, 4)  # (1 Jan Saturday, 3 Jan declared)


def test_standstill_ends_at_midnight_lima_after_the_nth_business_day():
    # Notified Monday 2026-11-30 at 10:00 Lima (15:00 UTC): day 1 is Tue 1 Dec ... 5 business days:
    # Tue 1, Wed 2, Thu 3, Fri 4, Mon 7 -> ends at 00:00 Lima on Tue 8 Dec = 05:00 UTC.
    notified = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert CAL.ends_after_business_days(notified, 5) == datetime(2026, 12, 8, 5, 0, tzinfo=UTC)
    # 8 days: ... Mon 7, (8, 9 holidays) Thu 10, Fri 11, Mon 14 -> ends 00:00 Lima Tue 15 Dec.
    assert CAL.ends_after_business_days(notified, 8) == datetime(2026, 12, 15, 5, 0, tzinfo=UTC)
    # Late evening in Lima is still the same local day even though UTC has moved to the next one.
    late = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # 22:00 Lima, Monday 30 Nov
    assert CAL.ends_after_business_days(late, 5) == datetime(2026, 12, 8, 5, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        CAL.ends_after_business_days(datetime(2026, 11, 30), 5)


def _made_up(holidays: frozenset[date]) -> BusinessCalendar:
    """A calendar whose 'national' holidays are `holidays`: the arithmetic must not care where they come from."""
    return BusinessCalendar(national=lambda year: {d: "feriado" for d in holidays if d.year == year})


DAYS = st.dates(date(2024, 1, 1), date(2031, 12, 31))


@given(DAYS, st.integers(1, 30), st.frozensets(DAYS, max_size=200), st.frozensets(DAYS, max_size=20))
def test_business_day_arithmetic_on_any_calendar(start, n, national, extra):
    cal = BusinessCalendar(national=_made_up(national).national, extra=extra)
    end = cal.add_business_days(start, n)
    assert end > start and cal.is_business_day(end)
    assert cal.business_days_between(start, end) == n
    # Every day skipped on the way is a weekend, a holiday or a declared day; every other one was counted.
    skipped = [start + timedelta(days=i) for i in range(1, (end - start).days)
               if not cal.is_business_day(start + timedelta(days=i))]
    assert all(d.weekday() >= 5 or d in national or d in extra for d in skipped)
    assert (end - start).days - 1 - len(skipped) == n - 1
    # Periods compose: n then m business days is n + m business days.
    assert cal.add_business_days(end, 3) == cal.add_business_days(start, n + 3)
    # Declaring one more day never makes a period end earlier.
    assert BusinessCalendar(national=cal.national, extra=extra | {start + timedelta(days=1)}) \
        .add_business_days(start, n) >= end


@given(st.dates(date(2025, 1, 1), date(2035, 11, 30)), st.integers(1, 30))
def test_business_day_arithmetic_in_peru(start, n):
    end = CAL.add_business_days(start, n)
    assert CAL.is_business_day(end) and end > start
    assert CAL.business_days_between(start, end) == n
    assert (end - start).days < n * 3 + 10
    # The period ends at local midnight after the last business day; an act before it is in time.
    at = datetime.combine(start, datetime.min.time(), tzinfo=LIMA) + timedelta(hours=12)
    ends = CAL.ends_after_business_days(at, n)
    assert ends.astimezone(LIMA).date() == end + timedelta(days=1)
    assert ends.astimezone(LIMA).hour == 0
