"""Business days in Peru: weekends, national holidays 2025-2027, extra days, standstill ends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.core.calendar import (
    COVERED_YEARS,
    LIMA,
    PERU_NATIONAL_HOLIDAYS,
    BusinessCalendar,
    calendar_from_env,
    parse_dates,
)

CAL = BusinessCalendar()


def test_national_holidays_are_shipped_for_2025_to_2027():
    assert {2025, 2026, 2027} == COVERED_YEARS
    for year in COVERED_YEARS:
        days = [d for d in PERU_NATIONAL_HOLIDAYS if d.year == year]
        assert len(days) == 16  # 14 fixed + Holy Thursday + Good Friday
        for md in [(1, 1), (5, 1), (6, 7), (6, 29), (7, 23), (7, 28), (7, 29), (8, 6), (8, 30), (10, 8),
                   (11, 1), (12, 8), (12, 9), (12, 25)]:
            assert date(year, *md) in PERU_NATIONAL_HOLIDAYS
    assert PERU_NATIONAL_HOLIDAYS[date(2026, 4, 3)] == "Viernes Santo"
    assert PERU_NATIONAL_HOLIDAYS[date(2025, 4, 17)] == "Jueves Santo"
    assert PERU_NATIONAL_HOLIDAYS[date(2027, 3, 26)] == "Viernes Santo"


def test_weekends_and_holidays_are_not_business_days():
    assert CAL.is_business_day(date(2026, 11, 30))       # Monday
    assert not CAL.is_business_day(date(2026, 11, 28))   # Saturday
    assert not CAL.is_business_day(date(2026, 11, 29))   # Sunday
    assert not CAL.is_business_day(date(2026, 12, 8))    # Tuesday, Inmaculada Concepción
    assert not CAL.is_business_day(date(2026, 7, 28))


def test_add_business_days_skips_weekends_and_holidays():
    # Friday 2026-12-04 + 3 business days: Mon 7, (Tue 8 and Wed 9 holidays), Thu 10, Fri 11.
    assert CAL.add_business_days(date(2026, 12, 4), 3) == date(2026, 12, 11)
    # Wednesday 2026-04-01 + 1: Holy Thursday and Good Friday, weekend -> Monday 6 April.
    assert CAL.add_business_days(date(2026, 4, 1), 1) == date(2026, 4, 6)
    with pytest.raises(ValueError):
        CAL.add_business_days(date(2026, 4, 1), 0)


def test_extra_holidays_come_from_settings():
    cal = calendar_from_env({"PE_EXTRA_HOLIDAYS": "2026-12-24, 2026-12-31"})
    assert not cal.is_business_day(date(2026, 12, 24))
    assert cal.is_business_day(date(2026, 12, 23))
    assert CAL.is_business_day(date(2026, 12, 24))
    assert cal.add_business_days(date(2026, 12, 23), 1) == date(2026, 12, 28)
    assert parse_dates("") == frozenset()
    with pytest.raises(ValueError, match="PE_EXTRA_HOLIDAYS"):
        parse_dates("2026-02-30")


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


@given(st.dates(date(2025, 1, 1), date(2027, 11, 30)), st.integers(1, 30))
def test_business_day_arithmetic_properties(start, n):
    end = CAL.add_business_days(start, n)
    assert CAL.is_business_day(end)
    assert end > start
    assert CAL.business_days_between(start, end) == n
    assert (end - start).days < n * 3 + 10
    # The period ends at local midnight after the last business day; an act before it is in time.
    at = datetime.combine(start, datetime.min.time(), tzinfo=LIMA) + timedelta(hours=12)
    ends = CAL.ends_after_business_days(at, n)
    assert ends.astimezone(LIMA).date() == end + timedelta(days=1)
    assert ends.astimezone(LIMA).hour == 0
