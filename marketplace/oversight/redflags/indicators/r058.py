"""R058 Heavily discounted bid: the winner-to-runner-up ratio (second_lowest.py) is a high outlier, at or
above the upper fence Q3 + 1.5 IQR of all the ratios (or `threshold`), when the fence is above zero. Value:
the ratio; the winner is named in the Tenderer group with 0.0.
"""

from __future__ import annotations

from marketplace.oversight.redflags import stats
from marketplace.oversight.redflags.model import Results
from marketplace.oversight.redflags.settings import ThresholdSettings

CODE = "R058"


def finalize(ratios: dict[str, tuple[float, str, str]], settings: ThresholdSettings, out: Results) -> None:
    if settings.threshold is None:
        data = sorted(r for r, _, _ in ratios.values())
        q1, q3 = stats.quantile_sorted(data, 0.25), stats.quantile_sorted(data, 0.75)
        out.meta(CODE, q1=q1, q3=q3)
        fence = stats.upper_fence(q1, q3)
    else:
        fence = settings.threshold
    out.meta(CODE, upper_fence=fence)
    if not fence > 0.0:
        return
    for ocid, (ratio, winner, _) in ratios.items():
        if ratio >= fence:
            out.set("OCID", ocid, CODE, ratio)
            out.set("Tenderer", winner, CODE, 0.0)
