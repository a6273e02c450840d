"""R044 Business similarities between suppliers: two parties with the role tenderer in one process share
an address or a contact point. Cardinal's rule, kept exactly: an address is compared only when
streetAddress is present, as the lower-cased, trimmed streetAddress, locality, region, postalCode and
countryName joined (text fields only); contact points are compared on the FIRST of name, email,
telephone, faxNumber, url that both have as text. Value: 1.0 for the process and each tenderer concerned.
"""

from __future__ import annotations

from typing import Any

from marketplace.oversight.redflags.indicators.common import Release, arr, obj
from marketplace.oversight.redflags.model import ProcessResult

CODE = "R044"
_ADDRESS_FIELDS = ("streetAddress", "locality", "region", "postalCode", "countryName")
_CONTACT_FIELDS = ("name", "email", "telephone", "faxNumber", "url")


def _address(party: dict[str, Any]) -> str | None:
    address = obj(party.get("address"))
    if address is None or "streetAddress" not in address:
        return None
    return "".join(f"{v.strip().lower()} " for v in (address.get(f) for f in _ADDRESS_FIELDS) if isinstance(v, str))


def _same_contact(a: Any, b: Any) -> bool:
    if not isinstance(a, dict) or not isinstance(b, dict):
        return False
    for f in _CONTACT_FIELDS:
        x, y = a.get(f), b.get(f)
        if isinstance(x, str) and isinstance(y, str):
            return x == y
    return False


def evaluate(release: Release, result: ProcessResult) -> None:
    parties = arr(release.get("parties"))
    if parties is None:
        return
    tenderers: dict[str, tuple[str | None, Any]] = {}  # id -> (address, contactPoint); a repeated id: the last
    for party in parties:
        roles = arr(party.get("roles")) if isinstance(party, dict) else None
        pid = party.get("id") if roles is not None else None
        if roles is not None and "tenderer" in roles and isinstance(pid, str):
            tenderers[pid] = (_address(party), party.get("contactPoint"))
    if len(tenderers) < 2:
        return
    flagged: set[str] = set()
    by_address: dict[str, list[str]] = {}
    for pid, (address, _) in tenderers.items():
        if address is not None:
            by_address.setdefault(address, []).append(pid)
    for ids in by_address.values():
        if len(ids) > 1:
            flagged.update(ids)
    # Contact points: pairwise, as the rule is not an equivalence (it stops at the first shared field); only
    # parties with a contact point object take part, and a pair already flagged both ways is not compared.
    with_contact = [(pid, cp) for pid, (_, cp) in tenderers.items() if isinstance(cp, dict)]
    for i, (a, cp_a) in enumerate(with_contact):
        for b, cp_b in with_contact[i + 1:]:
            if (a not in flagged or b not in flagged) and _same_contact(cp_a, cp_b):
                flagged.update((a, b))
    if flagged:
        result.flag(CODE, 1.0, tenderers=sorted(flagged))
        for pid in sorted(flagged):
            result.flag_tenderer(pid, CODE, 1.0)
