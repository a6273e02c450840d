"""R048 Heterogeneous supplier: the variety of what a supplier was awarded is a high outlier.

Per supplier of active awards with one supplier: the distinct first `digits` (2) characters of the awarded
items' classification ids, across processes. Suppliers seen in fewer than `minimum_contracting_processes`
(20) processes are left out. Flagged at or above the upper fence Q3 + 1.5 IQR of the varieties (or
`threshold`). Value: the variety.
"""

from __future__ import annotations

import sys
from typing import Any

from marketplace.oversight.redflags import stats
from marketplace.oversight.redflags.indicators.common import Release, arr, get, obj
from marketplace.oversight.redflags.model import ProcessResult, Results
from marketplace.oversight.redflags.settings import R048Settings

CODE = "R048"


def contribute(release: Release, result: ProcessResult, settings: R048Settings) -> None:
    awards = arr(release.get("awards"))
    if awards is None:
        return
    codes: dict[str, dict[str, None]] = {}
    for award in awards:
        if get(award, "status") != "active":
            continue
        items, suppliers = arr(award.get("items")), arr(award.get("suppliers"))
        if items is None or suppliers is None or len(suppliers) != 1:
            continue
        supplier = get(suppliers[0], "id")
        if not isinstance(supplier, str):
            continue
        for item in items:
            classification = obj(get(item, "classification"))
            cid = classification.get("id") if classification is not None else None
            if isinstance(cid, str):
                codes.setdefault(sys.intern(supplier), {})[sys.intern(cid[:settings.digits])] = None
    if codes:
        result.r048 = tuple((s, tuple(c)) for s, c in codes.items())


def finalize(suppliers: dict[str, list[Any]], settings: R048Settings, out: Results) -> None:
    varieties = {s: float(sum(1 for n in counter.values() if n > 0)) for s, (processes, counter) in suppliers.items()
                 if processes >= settings.minimum_contracting_processes}
    if settings.threshold is None:
        data = sorted(varieties.values())
        q1, q3 = stats.quantile_sorted(data, 0.25), stats.quantile_sorted(data, 0.75)
        out.meta(CODE, q1=q1, q3=q3)
        fence = stats.upper_fence(q1, q3)
    else:
        fence = float(settings.threshold)
    out.meta(CODE, upper_fence=fence)
    for supplier, variety in varieties.items():
        if variety >= fence:
            out.set("Tenderer", supplier, CODE, variety)

