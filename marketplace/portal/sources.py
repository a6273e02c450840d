"""Where the portal's figures come from: the domains' service functions, read as the anonymous actor.

Oversight's read models (award history, red flags, stage times, OCDS releases) ship with the marketplace: they
are always there (the pages' "not available" notices are for a source that answers nothing).
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from typing import Any
from uuid import UUID

from marketplace.core import clock
from marketplace.core.errors import InvalidInput
from marketplace.core.i18n import N_
from marketplace.oversight.awards import export
from marketplace.oversight.awards import service as awards_service
from marketplace.oversight.ocds import publisher
from marketplace.oversight.ocds.build import build_release
from marketplace.oversight.redflags import readmodel
from marketplace.oversight.stages import service as stages_service
from marketplace.portal.formatting import LIMA


def available() -> bool:
    """Whether the award history can be read (oversight ships with the marketplace: always)."""
    return True


def filters(*, agency_id: UUID | None = None, supplier_ruc: str | None = None, region: str | None = None,
            province: str | None = None, method: str | None = None, category: str | None = None,
            classification: str | None = None, date_from: str | None = None, date_to: str | None = None,
            state: str | None = None) -> Any:
    """Award history filters from a form (dates as YYYY-MM-DD, Lima days; the `to` day included)."""
    def day(value: str | None, field: str, end: bool) -> datetime | None:
        if not value:
            return None
        try:
            d = datetime.strptime(value, "%Y-%m-%d").date()
        except ValueError:
            raise InvalidInput(N_("Give the date as YYYY-MM-DD"), field=f"query.{field}", rule="date") from None
        at = datetime.combine(d, time.min, tzinfo=LIMA)
        if end:
            at += timedelta(days=1)
        return at

    f = awards_service.Filters(agency_id=agency_id, supplier_ruc=supplier_ruc or None, region=region or None,
                    province=province or None, method=method or None, category=category or None,
                    classification=classification or None, date_from=day(date_from, "from", False),
                    date_to=day(date_to, "to", True), state=state or None)
    f.check()
    return f


async def award_page(f: Any, *, cursor: str | None = None, limit: int = 50) -> tuple[list[dict[str, Any]], str | None]:
    if f is None:
        return [], None
    return await awards_service.page(filters=f, limit=limit, cursor=cursor or None)


async def totals_by(f: Any, by: str, limit: int = 100) -> list[dict[str, Any]]:
    if f is None:
        return []
    return await awards_service.aggregates(filters=f, by=by, limit=limit)


async def concentration(f: Any, limit: int = 20) -> list[dict[str, Any]]:
    if f is None:
        return []
    return await awards_service.concentration(filters=f, limit=limit)


async def concentration_sized(f: Any, min_sample: int, limit: int = 10) -> list[dict[str, Any]]:
    """Concentration per agency with `awards`, the number of awards behind it, and `enough` (at least
    `min_sample`): agencies with enough awards first (most concentrated first), then the others."""
    rows = await concentration(f, limit=1000)
    counts = {str(r["key"]): int(r["count"]) for r in await totals_by(f, "agency", limit=1000)}
    for r in rows:
        r["awards"] = counts.get(str(r["agency_id"]), 0)
        r["enough"] = r["awards"] >= min_sample
    rows.sort(key=lambda r: (not r["enough"], -float(r["hhi"]) if r["enough"] else -r["awards"]))
    return rows[:limit]


def stage_rows(rows: list[dict[str, Any]] | None, min_sample: int) -> list[dict[str, Any]]:
    """Stage times as the portal shows them: no draft stage (not public) and no stage that took no time at all
    (a stage passed through in the same instant says nothing about delays); `enough` when at least
    `min_sample` tenders are behind the figures."""
    out = []
    for r in rows or []:
        if r["stage"] == "draft" or float(r["p90_days"]) <= 0:
            continue
        out.append({**r, "enough": int(r["count"]) >= min_sample})
    return out


MONTHS_SCANNED = 100_000  # the monthly chart reads at most this many awards (newest first)


async def by_month(f: Any, *, months: int = 24) -> tuple[list[tuple[str, int, int]], bool]:
    """((YYYY-MM in Lima, count, total céntimos) per month over the last `months` months, oldest first;
    whether the chart had to stop early). Cancelled awards are left out unless the filter asks for them.

    Oversight's aggregates group by supplier, agency, region and method; a monthly grouping there (GROUPS
    "month") is used when it exists, else the export's stream is bucketed here, at most MONTHS_SCANNED rows."""
    if f is None:
        return [], False
    since = (clock.now().astimezone(LIMA).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
             - timedelta(days=31 * (months - 1))).replace(day=1)
    if f.date_from is None or f.date_from < since:
        f = dataclasses.replace(f, date_from=since)
    if "month" in awards_service.GROUPS:
        rows = await awards_service.aggregates(filters=f, by="month", limit=months)
        return _months(OrderedDict((str(r["key"])[:7], [int(r["count"]), int(r["total"])]) for r in rows)), False
    buckets: OrderedDict[str, list[int]] = OrderedDict()
    seen = 0
    async for rows in awards_service.stream_rows(filters=f):
        for r in rows:
            seen += 1
            if f.state is None and r["state"] == "cancelled":
                continue
            b = buckets.setdefault(r["awarded_at"].astimezone(LIMA).strftime("%Y-%m"), [0, 0])
            b[0] += 1
            b[1] += int(r["value"])
        if seen >= MONTHS_SCANNED:
            return _months(buckets)[1:], True  # the oldest month seen may be cut short: leave it out
    return _months(buckets), False


def _months(buckets: OrderedDict[str, list[int]]) -> list[tuple[str, int, int]]:
    """Oldest first, with the months in between that had no awards as zeros (a gap is a fact too)."""
    if not buckets:
        return []
    keys = sorted(buckets)
    year, month = map(int, keys[0].split("-"))
    out = []
    while True:
        key = f"{year:04d}-{month:02d}"
        count, total = buckets.get(key, (0, 0))
        out.append((key, count, total))
        if key >= keys[-1]:
            return out
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


async def csv_chunks(f: Any) -> AsyncIterator[bytes]:
    """The award history export as CSV (oversight's own encoder: the same file as the API's)."""
    async for chunk in export.encode(filters=f, fmt="csv"):
        yield chunk


async def red_flag_pages(batch: int = 500) -> AsyncIterator[list[Any]]:
    """Every flag of the read model, newest first, a keyset page at a time (flat memory at any size)."""
    cursor = None
    while True:
        page = await red_flag_page(cursor=cursor, limit=batch)
        if page is None:
            return
        yield page.items
        cursor = page.next_cursor
        if cursor is None:
            return


def _day(value: str | None, field: str, end: bool) -> datetime | None:
    """A form's YYYY-MM-DD as the start of that Lima day (of the next one for an inclusive end)."""
    if not value:
        return None
    try:
        d = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise InvalidInput(N_("Give the date as YYYY-MM-DD"), field=f"query.{field}", rule="date") from None
    return datetime.combine(d + timedelta(days=1) if end else d, time.min, tzinfo=LIMA)


async def red_flag_page(*, code: str | None = None, buyer: str | None = None, supplier: str | None = None,
                        publisher: str | None = None, region: str | None = None, ocid: str | None = None,
                        date_from: str | None = None, date_to: str | None = None, cursor: str | None = None,
                        limit: int = 50) -> Any:
    """One page of oversight's red-flag read model (the same as GET /api/v1/oversight/red-flags). Dates are
    form days (Lima), the `to` day included."""
    return await readmodel.page(code=code or None, buyer=buyer or None, supplier=supplier or None,
                                publisher=publisher or None, region=region or None, ocid=ocid or None,
                                date_from=_day(date_from, "from", False), date_to=_day(date_to, "to", True),
                                cursor=cursor or None, limit=limit)


def red_flag_codes() -> list[str]:
    """Every indicator code of the read model (Cardinal's R### in order, then ours, MA-*)."""
    return sorted(readmodel.CODES, key=lambda c: (c.startswith("MA-"), c))


async def stage_times() -> list[dict[str, Any]] | None:
    return await stages_service.stage_times()


async def stuck(settings: Any) -> list[dict[str, Any]]:
    return await stages_service.stuck(settings)


async def release(*, tender_id: UUID, ocid: str) -> dict[str, Any] | None:
    """The tender's public OCDS release as it stands now (its contracts are what the portal shows)."""
    return await build_release(tender_id=tender_id, ocid=ocid, release_id=f"{ocid}-portal", tags=["tender"],
                               date_=clock.now())


def bulk_files(settings: Any) -> list[dict[str, Any]]:
    """OCDS bulk files published so far (name, date, size, sha256, url), newest first."""
    return sorted(publisher.list_bulk(settings), key=lambda b: b["name"], reverse=True)
