"""R030 Late bid won: a valid bid dated after tender.tenderPeriod.endDate was submitted by a supplier of an
active award. Dates are compared as text, as Cardinal does (so both should be in the same offset, as OCDS
publishers write them). Value: 1.0 for the process and the tenderer.
"""

from __future__ import annotations

from marketplace.oversight.redflags.indicators.common import Release, arr, bid_details, get, obj, string
from marketplace.oversight.redflags.model import ProcessResult

CODE = "R030"


def evaluate(release: Release, result: ProcessResult) -> None:
    period = obj(get(release.get("tender"), "tenderPeriod"))
    end_date = string(period.get("endDate")) if period is not None else None
    awards = arr(release.get("awards"))
    details = bid_details(release)
    if end_date is None or awards is None or details is None:
        return
    winners: set[str] = set()
    for award in awards:
        suppliers = arr(get(award, "suppliers"))
        if get(award, "status") == "active" and suppliers is not None:
            winners.update(s for s in (get(x, "id") for x in suppliers) if isinstance(s, str))
    for bid in details:
        date = string(get(bid, "date"))
        tenderers = arr(get(bid, "tenderers"))
        if get(bid, "status") != "valid" or date is None or tenderers is None or not date > end_date:
            continue
        for tenderer in tenderers:
            tid = get(tenderer, "id")
            if isinstance(tid, str) and tid in winners:
                result.flag(CODE, 1.0, bid_date=date, end_date=end_date)
                result.flag_tenderer(tid, CODE, 1.0)
