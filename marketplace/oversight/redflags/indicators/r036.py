"""R036 Lowest bid disqualified: with an active award and a valid bid with an amount, the lowest submitted
bid amount (in the main currency; the first of equal amounts) belongs to a disqualified bid. Skipped where
prices are not compared. Value: 1.0.
"""

from __future__ import annotations

from marketplace.oversight.redflags.indicators.common import Release, arr, get, number, obj, string, submitted_bids
from marketplace.oversight.redflags.model import MainCurrency, ProcessResult

CODE = "R036"


def evaluate(release: Release, result: ProcessResult, currency: MainCurrency) -> None:
    awards = arr(release.get("awards"))
    if awards is None or not any(get(a, "status") == "active" for a in awards):
        return
    lowest: float | None = None
    lowest_disqualified = False
    has_valid_amount = False
    for bid in submitted_bids(release):
        value = obj(bid.get("value"))
        if value is None:
            continue
        amount, code = number(value.get("amount")), string(value.get("currency"))
        if amount is None or code is None or not currency.accepts(code):
            continue
        status = bid["status"]
        if lowest is None or amount < lowest:
            lowest = amount
            lowest_disqualified = status == "disqualified"
        if status == "valid":
            has_valid_amount = True
    if has_valid_amount and lowest_disqualified:
        result.flag(CODE, 1.0, lowest_amount=lowest, currency=currency.value)
