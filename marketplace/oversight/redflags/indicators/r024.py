"""R024 Price close to the winning bid: the winner-to-runner-up ratio (second_lowest.py) is a low outlier,
at or below the lower fence Q1 - 1.5 IQR of all the ratios (or `threshold`). Nothing is flagged when Q1 or
the fence is not above zero (most processes would be). Value: the ratio; the winner and the runner-up are
named in the Tenderer group with 0.0.
"""

from __future__ import annotations

from marketplace.oversight.redflags import stats
from marketplace.oversight.redflags.model import Results
from marketplace.oversight.redflags.settings import ThresholdSettings

CODE = "R024"


def finalize(ratios: dict[str, tuple[float, str, str]], settings: ThresholdSettings, out: Results) -> None:
    if settings.threshold is None:
        data = sorted(r for r, _, _ in ratios.values())
        q1, q3 = stats.quantile_sorted(data, 0.25), stats.quantile_sorted(data, 0.75)
        out.meta(CODE, q1=q1, q3=q3)
        fence = stats.lower_fence(q1, q3)
    else:
        q1, fence = 1.0, settings.threshold  # Cardinal's stand-in q1, to pass the guard
    out.meta(CODE, lower_fence=fence)
    if not (q1 > 0.0 and fence > 0.0):
        return
    for ocid, (ratio, winner, other) in ratios.items():
        if ratio <= fence:
            out.set("OCID", ocid, CODE, ratio)
            out.set("Tenderer", winner, CODE, 0.0)
            out.set("Tenderer", other, CODE, 0.0)
