"""The winner-to-runner-up ratio that R024 and R058 judge: (lowest other valid bid - winning bid) / winning bid.

Taken where prices are compared, every award is final, exactly one is active and it has one supplier; over
the valid bids with one tenderer, an amount and the main currency. The winner's lowest bid and the lowest
bid of anyone else (the first of equal amounts) are compared; when the runner-up is cheaper than the winner
the award was not on price alone and there is no ratio.
"""

from __future__ import annotations

import sys

from marketplace.oversight.redflags.indicators.common import (
    Release,
    get,
    number,
    obj,
    single_supplier_of_single_award,
    single_tenderer_id,
    string,
)
from marketplace.oversight.redflags.model import MainCurrency, ProcessResult


def contribute(release: Release, result: ProcessResult, currency: MainCurrency) -> None:
    found = single_supplier_of_single_award(release)
    if found is None:
        return
    supplier_id, details = found
    winner: str | None = None
    winner_amount = 0.0
    other: str | None = None
    other_amount = 0.0
    for bid in details:
        if get(bid, "status") != "valid":
            continue
        value = obj(get(bid, "value"))
        if value is None:
            continue
        amount, code = number(value.get("amount")), string(value.get("currency"))
        tenderer = single_tenderer_id(bid)
        if amount is None or code is None or tenderer is None:
            continue
        if not currency.accepts(code):
            continue
        if tenderer == supplier_id:
            if winner is None or amount < winner_amount:
                winner, winner_amount = tenderer, amount
        elif other is None or amount < other_amount:
            other, other_amount = tenderer, amount
    if winner is not None and other is not None and other_amount >= winner_amount:
        result.second_lowest = ((other_amount - winner_amount) / winner_amount, sys.intern(winner),
                                sys.intern(other))
