"""R038 Excessive disqualified bids: the share of submitted bids that were disqualified is a high outlier
per buyer, per procuring entity and per tenderer.

Shares add up bids across processes (disqualified / submitted, submitted = not invited nor withdrawn).
Buyers and procuring entities need `minimum_contracting_processes` (2) and tenderers
`minimum_submitted_bids` (2); as in Cardinal's code, both are compared with the number of submitted bids.
Flagged at or above the upper fence Q3 + 1.5 IQR of the group's shares (or `threshold`), when the fence is
above zero. Value: the share.
"""

from __future__ import annotations

import sys

from marketplace.oversight.redflags import stats
from marketplace.oversight.redflags.indicators.common import Release, get, string, submitted_bids, tenderer_ids
from marketplace.oversight.redflags.model import ProcessResult, R038Part, Results
from marketplace.oversight.redflags.settings import R038Settings

CODE = "R038"


def contribute(release: Release, result: ProcessResult) -> None:
    submitted = 0
    disqualified = 0
    per_tenderer: dict[str, list[int]] = {}
    for bid in submitted_bids(release):
        submitted += 1
        inc = 1 if bid["status"] == "disqualified" else 0
        disqualified += inc
        for tid in tenderer_ids(bid):
            counts = per_tenderer.get(tid)
            if counts is None:
                per_tenderer[sys.intern(tid)] = [inc, 1]
            else:
                counts[0] += inc
                counts[1] += 1
    if submitted == 0:
        return
    buyer = string(get(release.get("buyer"), "id"))
    entity = string(get(get(release.get("tender"), "procuringEntity"), "id"))
    result.r038 = R038Part(
        buyer_id=sys.intern(buyer) if buyer is not None else None,
        procuring_entity_id=sys.intern(entity) if entity is not None else None,
        disqualified=disqualified, submitted=submitted,
        tenderers=tuple((tid, d, n) for tid, (d, n) in per_tenderer.items()))


def finalize(group: str, fractions: dict[str, tuple[int, int]], minimum: int, settings: R038Settings,
             out: Results) -> None:
    ratios = {key: d / n for key, (d, n) in fractions.items() if n >= minimum}
    if not ratios:
        return
    if settings.threshold is None:
        data = sorted(ratios.values())
        q1, q3 = stats.quantile_sorted(data, 0.25), stats.quantile_sorted(data, 0.75)
        out.meta(CODE, **{f"{group}_q1": q1, f"{group}_q3": q3})
        fence = stats.upper_fence(q1, q3)
    else:
        fence = settings.threshold
    out.meta(CODE, **{f"{group}_upper_fence": fence})
    if not fence > 0.0:
        return
    for key, ratio in ratios.items():
        if ratio >= fence:
            out.set(group, key, CODE, ratio)
