"""R025 Excessive unsuccessful bids: a top tenderer that rarely wins.

Per tenderer, over the processes where every award is final and one active award has one supplier: the
processes in which it had a valid bid (alone on the bid) and the ones it won. Flagged when its number of
such processes is at or above the `percentile` (75th) of all tenderers' numbers, and its win ratio at or
below the lower fence Q1 - 1.5 IQR of all ratios (or `threshold`). Value: the ratio.
"""

from __future__ import annotations

import sys

from marketplace.oversight.redflags import stats
from marketplace.oversight.redflags.indicators.common import Release, single_supplier_of_single_award
from marketplace.oversight.redflags.indicators.common import single_tenderer_id as _tenderer
from marketplace.oversight.redflags.model import ProcessResult, Results
from marketplace.oversight.redflags.settings import R025Settings

CODE = "R025"


def contribute(release: Release, result: ProcessResult) -> None:
    found = single_supplier_of_single_award(release)
    if found is None:
        return
    winner, details = found
    valid: dict[str, None] = {}
    for bid in details:
        if isinstance(bid, dict) and bid.get("status") == "valid":
            tenderer = _tenderer(bid)
            if tenderer is not None:
                valid[sys.intern(tenderer)] = None
    if valid:
        result.r025 = (sys.intern(winner), tuple(valid))


def finalize(tenderers: dict[str, tuple[int, int]], settings: R025Settings, out: Results) -> None:
    counts = sorted(float(n) for _, n in tenderers.values())
    top = stats.quantile_sorted(counts, settings.percentile / 100)
    if settings.threshold is None:
        ratios = sorted(w / n for w, n in tenderers.values())
        q1, q3 = stats.quantile_sorted(ratios, 0.25), stats.quantile_sorted(ratios, 0.75)
        out.meta(CODE, q1=q1, q3=q3)
        fence = stats.lower_fence(q1, q3)
    else:
        fence = settings.threshold
    out.meta(CODE, upper_fence=top, lower_fence=fence)
    for tid, (wins, n) in tenderers.items():
        ratio = wins / n
        if n >= top and ratio <= fence:
            out.set("Tenderer", tid, CODE, ratio)
