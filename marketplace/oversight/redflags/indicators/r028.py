"""R028 Identical bid prices: different tenderers submitted bids with the same amount and currency.

Over the submitted bids (not invited, not withdrawn) with tenderer ids and a value: a bid whose (amount,
currency) was already seen from a different set of tenderers flags the process and both sets of tenderers.
Skipped where prices are not compared (`no_price_comparison_procurement_methods` /
`price_comparison_procurement_methods`). Value: 1.0 for the process and each tenderer named.
"""

from __future__ import annotations

from marketplace.oversight.redflags.indicators.common import (
    Release,
    arr,
    get,
    number,
    obj,
    string,
    submitted_bids,
)
from marketplace.oversight.redflags.model import ProcessResult

CODE = "R028"


def evaluate(release: Release, result: ProcessResult) -> None:
    prices: dict[tuple[float, str], frozenset[str]] = {}
    for bid in submitted_bids(release):
        tenderers = arr(bid.get("tenderers"))
        value = obj(bid.get("value"))
        if tenderers is None or value is None:
            continue
        amount, currency = number(value.get("amount")), string(value.get("currency"))
        if amount is None or currency is None:
            continue
        ids = frozenset(t for t in (get(x, "id") for x in tenderers) if isinstance(t, str))
        if not ids:
            continue
        key = (amount, currency)
        other = prices.get(key)
        if other is not None and ids != other:
            result.flag(CODE, 1.0, amount=amount, currency=currency)
            for tid in sorted(ids | other):
                result.flag_tenderer(tid, CODE, 1.0)
        prices[key] = ids
