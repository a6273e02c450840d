"""R035 All except winning bid disqualified: one tenderer has valid bids, it is the only supplier of the
active awards, and at least `threshold` (1) other tenderers have disqualified bids. Every award must be
final (a pending award skips the process). Value: the number of other tenderers disqualified; the winner is
named in the Tenderer group with 0.0.
"""

from __future__ import annotations

from marketplace.oversight.redflags.indicators.common import Release, arr, complete_awards_and_bids, get
from marketplace.oversight.redflags.model import ProcessResult
from marketplace.oversight.redflags.settings import R035Settings

CODE = "R035"


def evaluate(release: Release, result: ProcessResult, settings: R035Settings) -> None:
    found = complete_awards_and_bids(release)
    if found is None:
        return
    complete, details = found
    suppliers: set[str] = set()
    for award in complete:
        for supplier in arr(award.get("suppliers")) or ():
            sid = get(supplier, "id")
            if isinstance(sid, str):
                suppliers.add(sid)
    valid: set[str] = set()
    disqualified: set[str] = set()
    for bid in details:
        status = get(bid, "status")
        tenderers = arr(get(bid, "tenderers"))
        if not isinstance(status, str) or tenderers is None:
            continue
        if status == "valid":
            into = valid
        elif status == "disqualified":
            into = disqualified
        else:
            continue
        into.update(t for t in (get(x, "id") for x in tenderers) if isinstance(t, str))
    if len(valid) != 1 or valid != suppliers:
        return
    others = len(disqualified - valid)
    if others >= settings.threshold:
        (winner,) = valid
        result.flag(CODE, float(others), winner=winner, disqualified_tenderers=others)
        result.flag_tenderer(winner, CODE, 0.0)
