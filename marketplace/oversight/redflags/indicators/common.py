"""What several of Cardinal's indicators read from a compiled release, read the way Cardinal reads it.

Cardinal reads JSON loosely and skips what has the wrong type: a status that is not a string, an amount that
is not a number, an id that is not a string. These helpers do the same, so that each indicator module states
only its rule. A release is the dict that json/msgspec decoded; nothing here copies or changes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Release = dict[str, Any]

SUBMITTED_EXCLUDED = ("invited", "withdrawn")


def obj(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def arr(value: Any) -> list[Any] | None:
    return value if isinstance(value, list) else None


def string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def number(value: Any) -> float | None:
    """A JSON number as f64 (serde_json's as_f64); booleans are not numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def get(value: Any, key: str) -> Any:
    """`value.get(key)` when value is an object, else None (serde_json's Value::get)."""
    return value.get(key) if isinstance(value, dict) else None


def bid_details(release: Release) -> list[Any] | None:
    return arr(get(release.get("bids"), "details"))


def submitted_bids(release: Release) -> Iterator[dict[str, Any]]:
    """Bids whose status is a string other than invited and withdrawn: pending, valid, disqualified (and any
    non-standard code, as Cardinal counts it)."""
    for bid in bid_details(release) or ():
        status = get(bid, "status")
        if isinstance(status, str) and status not in SUBMITTED_EXCLUDED:
            yield bid


def complete_awards_and_bids(release: Release) -> tuple[list[dict[str, Any]], list[Any]] | None:
    """The active awards and the bids when every award with a status is final, else None.

    Both `awards` (array) and `bids.details` (array) must be there. An award whose status is not a string is
    ignored; active awards are kept; cancelled and unsuccessful ones are skipped; any other status (pending,
    or a code outside the codelist) means the process is not final, and it is skipped whole."""
    awards = arr(release.get("awards"))
    details = bid_details(release)
    if awards is None or details is None:
        return None
    complete = []
    for award in awards:
        status = get(award, "status")
        if not isinstance(status, str):
            continue
        if status == "active":
            complete.append(award)
        elif status not in ("cancelled", "unsuccessful"):
            return None
    return complete, details


def single_supplier_of_single_award(release: Release) -> tuple[str, list[Any]] | None:
    """(the supplier id, the bids) when all awards are final, exactly one is active, and it has exactly one
    supplier with a string id; the shape R024, R025 and R058 need to know who won against whom."""
    found = complete_awards_and_bids(release)
    if found is None:
        return None
    complete, details = found
    if len(complete) != 1:
        return None
    suppliers = arr(get(complete[0], "suppliers"))
    if suppliers is None or len(suppliers) != 1:
        return None
    supplier_id = string(get(suppliers[0], "id"))
    if supplier_id is None:
        return None
    return supplier_id, details


def single_tenderer_id(bid: Any) -> str | None:
    """The bid's tenderer id when it has exactly one tenderer with a string id."""
    tenderers = arr(get(bid, "tenderers"))
    if tenderers is None or len(tenderers) != 1:
        return None
    return string(get(tenderers[0], "id"))


def tenderer_ids(bid: Any) -> Iterator[str]:
    for tenderer in arr(get(bid, "tenderers")) or ():
        tid = get(tenderer, "id")
        if isinstance(tid, str):
            yield tid


def procurement_method_details(release: Release) -> str | None:
    return string(get(release.get("tender"), "procurementMethodDetails"))


def matches_procurement_method_details(release: Release, include: frozenset[str], exclude: frozenset[str]) -> bool:
    """Cardinal's allow/deny list on tender.procurementMethodDetails: a non-empty allow list wins and needs
    the field; otherwise the deny list applies, and a process without the field passes."""
    details = procurement_method_details(release)
    if details is None:
        return not include
    if not include:
        return details not in exclude
    return details in include


def matches_procurement_method(tender: dict[str, Any], methods: frozenset[str]) -> bool:
    """No methods: every process; else tender.procurementMethod must be one of them."""
    if not methods:
        return True
    method = tender.get("procurementMethod")
    return isinstance(method, str) and method in methods


def is_cancelled(release: Release) -> bool:
    status = get(release.get("tender"), "status")
    return isinstance(status, str) and status == "cancelled"
