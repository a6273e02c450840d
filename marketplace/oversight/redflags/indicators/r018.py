"""R018 Single bid received: tender.numberOfTenderers is exactly 1 (a JSON integer) in a procedure whose
tender.procurementMethod is one of `procurement_methods` (open and selective). Value: 1.0.
"""

from __future__ import annotations

from marketplace.oversight.redflags.indicators.common import Release, matches_procurement_method, obj
from marketplace.oversight.redflags.model import ProcessResult
from marketplace.oversight.redflags.settings import R018Settings

CODE = "R018"


def evaluate(release: Release, result: ProcessResult, settings: R018Settings) -> None:
    tender = obj(release.get("tender"))
    if tender is None or not matches_procurement_method(tender, settings.procurement_methods):
        return
    n = tender.get("numberOfTenderers")
    # serde_json's as_u64: a non-negative integer (1.0 is a float and does not count)
    if type(n) is int and n == 1:
        result.flag(CODE, 1.0, number_of_tenderers=1)
