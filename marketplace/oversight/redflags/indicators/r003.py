"""R003 Short submission period: the tender period is shorter than the threshold for the procedure.

Days are (tenderPeriod.endDate - tenderPeriod.startDate), whole days counted toward zero (chrono's
num_days); flagged when fewer than the threshold (15; per procurementMethodDetails in
`[R003.procurement_method_details]`). `procurement_methods` limits the indicator to those
tender.procurementMethod values. Dates must be RFC 3339 with an offset, else the process is skipped.
Value: 1.0.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from marketplace.oversight.redflags.indicators.common import Release, matches_procurement_method, obj, string
from marketplace.oversight.redflags.model import ProcessResult
from marketplace.oversight.redflags.settings import R003Settings

CODE = "R003"
_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})")
_DAY_US = 86_400_000_000


def parse_rfc3339(text: str) -> datetime | None:
    """chrono's DateTime::parse_from_rfc3339: a date, a time and an offset, nothing else."""
    m = _RFC3339.fullmatch(text)
    if m is None:
        return None
    fraction = m.group(7)
    if text[10] == "T" and text[-1] != "z" and m.group(6) != "60" and (fraction is None or len(fraction) in (3, 6)):
        try:
            return datetime.fromisoformat(text)  # the common case, in C
        except ValueError:
            return None
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    if second == 60:  # a leap second, which chrono accepts
        second, micro = 59, 999_999
    zone = m.group(8)
    if zone in ("Z", "z"):
        tz = UTC
    else:
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            return None
        sign = -1 if zone[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError:
        return None


def whole_days(start: datetime, end: datetime) -> int:
    delta = end - start
    micro = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return micro // _DAY_US if micro >= 0 else -((-micro) // _DAY_US)


def evaluate(release: Release, result: ProcessResult, settings: R003Settings) -> None:
    tender = obj(release.get("tender"))
    if tender is None or not matches_procurement_method(tender, settings.procurement_methods):
        return
    period = obj(tender.get("tenderPeriod"))
    if period is None:
        return
    start_text, end_text = string(period.get("startDate")), string(period.get("endDate"))
    if start_text is None or end_text is None:
        return
    start, end = parse_rfc3339(start_text), parse_rfc3339(end_text)
    if start is None or end is None:
        return
    days = whole_days(start, end)
    details = string(tender.get("procurementMethodDetails"))
    if details is not None and details in settings.procurement_method_details:
        threshold = settings.procurement_method_details[details]
    else:
        threshold = settings.threshold
    if days < threshold:
        result.flag(CODE, 1.0, days=days, threshold=threshold)
