"""Data preparation before the indicators, as Cardinal's `prepare` command does it, configured per publisher.

Each compiled release is corrected in place (the line was just decoded: nothing is copied), in Cardinal's
order, from the settings file's sections:

- ids of parties, buyer, procuring entity, tenderers, suppliers, awards, contracts' awardID and award item
  classifications become strings (1 -> "1"); a single tenderer or supplier object becomes an array;
- `[redactions]`: amounts (`amount = 0|99999999`) and organisation ids that are placeholders are removed;
- `[modifications]`: prefixes for buyer/procuring entity and tenderer/supplier ids; procurementMethodDetails
  cut at a separator; auction stage bids moved to bids.details;
- `[defaults]`: a bid's currency, an item classification scheme, a bid or award status when not set;
  party roles from where each party appears (buyer, procuringEntity, tenderer, supplier);
- `[codelists.bid_status]`, `[codelists.award_status]`: a publisher's codes remapped to OCDS codes (Armenia:
  `qualified = valid`, `not-qualified = disqualified`; Prozorro: `active = valid`);
- `[corrections] award_status_by_contract_status`: an award whose contracts are all cancelled is cancelled.

Two additions of ours, for publishers whose data needs them (Cardinal has no such key and would refuse them):

- `[modifications] tenderer_id_from_identifier = true`: a tenderer or supplier without an `id` gets
  `identifier.scheme + "-" + identifier.id` (Prozorro's bids name their tenderers only by identifier; its
  parties and suppliers use the same "UA-EDR-..." ids);
- `[corrections] bid_status_by_award_status = true`: award-implied disqualification. A valid or pending bid
  whose tenderers all had an unsuccessful award and no active one is disqualified (Prozorro records a
  rejected bidder only as an unsuccessful award; its bids all stay "active").

What was changed is counted per (path, old value, new value) in a PrepareReport; the quality issues Cardinal
reports (a value not set and no default, a code outside the codelist, a zero amount) go, one row each, to
`on_issue` with Cardinal's columns: line number, ocid, path, array indexes, value, description.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from marketplace.oversight.redflags.engine import decode_line, is_blank
from marketplace.oversight.redflags.settings import PrepareSettings

BID_STATUS = frozenset({"invited", "pending", "valid", "disqualified", "withdrawn"})
AWARD_STATUS = frozenset({"pending", "active", "cancelled", "unsuccessful"})


@dataclass(frozen=True, slots=True)
class Issue:
    line: int
    ocid: str
    path: str
    indexes: str
    value: str
    description: str

    def row(self) -> list[str]:
        return [str(self.line), self.ocid, self.path, self.indexes, self.value, self.description]


@dataclass
class PrepareReport:
    """What preparation changed, counted per (path, from, to), and the quality issues per (path, description)."""
    lines: int = 0
    written: int = 0
    invalid: int = 0  # lines that are not JSON, or not a JSON object (skipped, as Cardinal skips them)
    changes: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    issues: Counter[tuple[str, str]] = field(default_factory=Counter)

    def change(self, path: str, old: str, new: str) -> None:
        self.changes[(path, old, new)] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines, "written": self.written, "invalid": self.invalid,
            "changes": [{"path": p, "from": a, "to": b, "count": n} for (p, a, b), n in sorted(self.changes.items())],
            "issues": [{"path": p, "description": d, "count": n} for (p, d), n in sorted(self.issues.items())],
        }


def _swap_remove(d: dict[str, Any], key: str) -> None:
    """serde_json's Map::remove with preserve_order (IndexMap::swap_remove): the last key takes the removed
    one's place. Cardinal's output has its keys in that order, so ours does too."""
    keys = list(d)
    i = keys.index(key)
    if i == len(keys) - 1:
        del d[key]
        return
    last_key, last_value = d.popitem()
    items = list(d.items())
    items[i] = (last_key, last_value)
    d.clear()
    d.update(items)


def _to_text(value: Any) -> str:
    """A JSON number as serde_json's Number::to_string writes it."""
    return msgspec.json.encode(value).decode()


class _Preparer:
    def __init__(self, settings: PrepareSettings, report: PrepareReport,
                 on_issue: Callable[[Issue], None] | None) -> None:
        self.s = settings
        self.report = report
        self.on_issue = on_issue
        self.line = 0
        self.ocid = ""

    def issue(self, path: str, indexes: str, value: str, description: str) -> None:
        self.report.issues[(path, description)] += 1
        if self.on_issue is not None:
            self.on_issue(Issue(self.line, self.ocid, path, indexes, value, description))

    # -- ids

    def stringify(self, obj: dict[str, Any], key: str, path: str) -> None:
        value = obj.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            obj[key] = _to_text(value)
            self.report.change(path, "number", "string")

    def prepare_id(self, obj: dict[str, Any], path: str, prefix: str, roles: dict[str, set[str]] | None,
                   role: str) -> None:
        self.stringify(obj, "id", path)
        ident = obj.get("id")
        if not isinstance(ident, str):
            return
        if ident in self.s.redact_organization_ids:
            _swap_remove(obj, "id")
            self.report.change(path, "redacted", "")
            return
        if not ident.startswith(prefix):
            ident = obj["id"] = prefix + ident
            self.report.change(path, "", prefix)
        if roles is not None and ident in roles:
            roles[ident].add(role)

    def id_object(self, parent: dict[str, Any], key: str, path: str, prefix: str = "",
                  roles: dict[str, set[str]] | None = None, role: str = "") -> None:
        obj = parent.get(key)
        if isinstance(obj, dict):
            self.prepare_id(obj, f"{path}/{key}/id", prefix, roles, role)

    def id_array(self, parent: dict[str, Any], key: str, path: str, prefix: str = "",
                 roles: dict[str, set[str]] | None = None, role: str = "") -> None:
        value = parent.get(key)
        if isinstance(value, dict):  # a single object where an array belongs
            value = parent[key] = [value]
            self.report.change(f"{path}/{key}", "object", "array")
        if isinstance(value, list):
            for entry in value:
                if isinstance(entry, dict):
                    self.prepare_id(entry, f"{path}/{key}[]/id", prefix, roles, role)

    def id_from_identifier(self, parent: dict[str, Any], key: str, path: str) -> None:
        value = parent.get(key)
        entries = [value] if isinstance(value, dict) else value if isinstance(value, list) else ()
        for entry in entries:
            if isinstance(entry, dict) and "id" not in entry:
                identifier = entry.get("identifier")
                scheme = identifier.get("scheme") if isinstance(identifier, dict) else None
                ident = identifier.get("id") if isinstance(identifier, dict) else None
                if isinstance(scheme, str) and isinstance(ident, str | int) and not isinstance(ident, bool):
                    entry["id"] = f"{scheme}-{ident}"
                    self.report.change(f"{path}/{key}[]/id", "", "identifier")

    # -- the release

    def run(self, release: dict[str, Any]) -> None:
        s = self.s
        ocid = release.get("ocid")
        self.ocid = ocid if isinstance(ocid, str) else ""

        self.id_array(release, "parties", "")
        roles: dict[str, set[str]] | None = None
        if s.default_party_roles:
            roles = {}
            for party in release.get("parties") or () if isinstance(release.get("parties"), list) else ():
                pid = party.get("id") if isinstance(party, dict) else None
                if isinstance(pid, str):
                    given = party.get("roles")
                    roles[pid] = {r for r in given if isinstance(r, str)} if isinstance(given, list) else set()

        self.id_object(release, "buyer", "", s.prefix_buyer_or_procuring_entity_id, roles, "buyer")

        tender = release.get("tender")
        if isinstance(tender, dict):
            self.id_object(tender, "procuringEntity", "/tender", s.prefix_buyer_or_procuring_entity_id, roles,
                           "procuringEntity")
            details = tender.get("procurementMethodDetails")
            if s.split_procurement_method_details is not None and isinstance(details, str):
                sep = s.split_procurement_method_details
                cut = details.split(sep, 1)[0].rstrip() if sep else ""  # Rust's split("") starts with ""
                if cut != details:
                    tender["procurementMethodDetails"] = cut
                    self.report.change("/tender/procurementMethodDetails", details, cut)

        if s.move_auctions:
            self.move_auctions(release)
        self.bids(release, roles)
        cancelled_awards = self.contracts(release)
        self.awards(release, roles, cancelled_awards)
        if s.bid_status_by_award_status:
            self.disqualify_by_awards(release)

        if roles is not None and isinstance(release.get("parties"), list):
            for party in release["parties"]:
                pid = party.get("id") if isinstance(party, dict) else None
                if isinstance(pid, str) and roles.get(pid):
                    new = sorted(roles[pid])
                    if party.get("roles") != new:
                        party["roles"] = new
                        self.report.change("/parties[]/roles", "", "filled")

    def move_auctions(self, release: dict[str, Any]) -> None:
        if "auctions" in release and "bids" in release:
            self.issue("/auctions", "", "", "not moved: /bids is set")
            return
        auctions = release.get("auctions")
        if not isinstance(auctions, list):
            return
        details: list[Any] = []
        for auction in auctions:
            stages = auction.get("stages") if isinstance(auction, dict) else None
            for stage in stages if isinstance(stages, list) else ():
                if isinstance(stage, dict) and isinstance(stage.get("bids"), list):
                    bids = stage["bids"]
                    _swap_remove(stage, "bids")
                    details.extend(bids)
        release["bids"] = {"details": details}
        self.report.change("/bids/details", "", "moved from /auctions")

    def bids(self, release: dict[str, Any], roles: dict[str, set[str]] | None) -> None:
        s = self.s
        bids = release.get("bids")
        details = bids.get("details") if isinstance(bids, dict) else None
        if not isinstance(details, list):
            return
        for j, bid in enumerate(details):
            if not isinstance(bid, dict):
                continue
            value = bid.get("value")
            if isinstance(value, dict):
                amount = value.get("amount")
                if isinstance(amount, int | float) and not isinstance(amount, bool):
                    if self.redacted_amount(float(amount)):
                        _swap_remove(value, "amount")
                        self.report.change("/bids/details[]/value/amount", _to_text(amount), "")
                    elif amount == 0:
                        self.issue("/bids/details[]/value/amount", str(j), "", "is zero")
                if "currency" not in value:
                    if s.default_currency is not None:
                        value["currency"] = s.default_currency
                        self.report.change("/bids/details[]/value/currency", "", s.default_currency)
                    else:
                        self.issue("/bids/details[]/value/currency", str(j), "", "not set")
            items = bid.get("items")
            for k, item in enumerate(items if isinstance(items, list) else ()):
                classification = item.get("classification") if isinstance(item, dict) else None
                if isinstance(classification, dict) and "scheme" not in classification:
                    self.fill_scheme(classification, "/bids/details[]/items[]/classification/scheme", f"{j}.{k}")
            self.status(bid, "/bids/details[]/status", str(j), s.default_bid_status, s.bid_status_codes,
                        BID_STATUS)
            if s.tenderer_id_from_identifier:
                self.id_from_identifier(bid, "tenderers", "/bids/details[]")
            self.id_array(bid, "tenderers", "/bids/details[]", s.prefix_tenderer_or_supplier_id, roles, "tenderer")

    def contracts(self, release: dict[str, Any]) -> dict[str, bool]:
        """award id -> whether every contract for it is cancelled (only with award_status_by_contract_status)."""
        cancelled: dict[str, bool] = {}
        contracts = release.get("contracts")
        if not self.s.award_status_by_contract_status or not isinstance(contracts, list):
            return cancelled
        for contract in contracts:
            if not isinstance(contract, dict):
                continue
            self.stringify(contract, "awardID", "/contracts[]/awardID")
            award_id = contract.get("awardID")
            if isinstance(award_id, str):
                is_cancelled = contract.get("status") == "cancelled"
                cancelled[award_id] = cancelled.get(award_id, True) and is_cancelled
        return cancelled

    def awards(self, release: dict[str, Any], roles: dict[str, set[str]] | None,
               cancelled: dict[str, bool]) -> None:
        s = self.s
        awards = release.get("awards")
        if not isinstance(awards, list):
            return
        for j, award in enumerate(awards):
            if not isinstance(award, dict):
                continue
            self.stringify(award, "id", "/awards[]/id")
            items = award.get("items")
            for k, item in enumerate(items if isinstance(items, list) else ()):
                if not isinstance(item, dict):
                    continue
                classification = item.get("classification")
                if isinstance(classification, dict):
                    self.stringify(classification, "id", "/awards[]/items[]/classification/id")
                    if "scheme" not in classification:
                        self.fill_scheme(classification, "/awards[]/items[]/classification/scheme", f"{j}.{k}")
            self.status(award, "/awards[]/status", str(j), s.default_award_status, s.award_status_codes,
                        AWARD_STATUS)
            award_id = award.get("id")
            if s.award_status_by_contract_status and isinstance(award_id, str) and cancelled.get(award_id, False):
                old = award.get("status")
                award["status"] = "cancelled"
                if old != "cancelled":
                    self.report.change("/awards[]/status", old if isinstance(old, str) else "", "cancelled")
            if s.tenderer_id_from_identifier:
                self.id_from_identifier(award, "suppliers", "/awards[]")
            self.id_array(award, "suppliers", "/awards[]", s.prefix_tenderer_or_supplier_id, roles, "supplier")

    def fill_scheme(self, classification: dict[str, Any], path: str, indexes: str) -> None:
        default = self.s.default_item_classification_scheme
        if default is not None:
            classification["scheme"] = default
            self.report.change(path, "", default)
        else:
            self.issue(path, indexes, "", "not set")

    def status(self, obj: dict[str, Any], path: str, index: str, default: str | None, codes: Any,
               codelist: frozenset[str]) -> None:
        if "status" not in obj:
            if default is not None:
                obj["status"] = default
                self.report.change(path, "", default)
            else:
                self.issue(path, index, "", "not set")
        status = obj.get("status")
        if isinstance(status, str):
            if status in codes:
                obj["status"] = codes[status]
                self.report.change(path, status, codes[status])
                status = codes[status]
            if status not in codelist:
                self.issue(path, index, status, "invalid")

    def redacted_amount(self, amount: float) -> bool:
        values = self.s.redact_amounts
        i = bisect.bisect_left(values, amount)
        return i < len(values) and values[i] == amount

    def disqualify_by_awards(self, release: dict[str, Any]) -> None:
        unsuccessful: set[str] = set()
        active: set[str] = set()
        for award in release.get("awards") or () if isinstance(release.get("awards"), list) else ():
            status = award.get("status") if isinstance(award, dict) else None
            into = unsuccessful if status == "unsuccessful" else active if status == "active" else None
            suppliers = award.get("suppliers") if into is not None else None
            for supplier in suppliers if isinstance(suppliers, list) else ():
                sid = supplier.get("id") if isinstance(supplier, dict) else None
                if isinstance(sid, str) and into is not None:
                    into.add(sid)
        rejected = unsuccessful - active
        if not rejected:
            return
        bids = release.get("bids")
        details = bids.get("details") if isinstance(bids, dict) else None
        for bid in details if isinstance(details, list) else ():
            if not isinstance(bid, dict) or bid.get("status") not in ("valid", "pending"):
                continue
            tenderers = bid.get("tenderers")
            ids = [t.get("id") for t in tenderers if isinstance(t, dict)] if isinstance(tenderers, list) else []
            if ids and all(isinstance(i, str) and i in rejected for i in ids):
                self.report.change("/bids/details[]/status", bid["status"], "disqualified")
                bid["status"] = "disqualified"


def prepare_release(release: dict[str, Any], settings: PrepareSettings, *, report: PrepareReport | None = None,
                    line: int = 0, on_issue: Callable[[Issue], None] | None = None) -> dict[str, Any]:
    """Correct one compiled release in place, and return it."""
    preparer = _Preparer(settings, report if report is not None else PrepareReport(), on_issue)
    preparer.line = line
    preparer.run(release)
    return release


def prepare_lines(lines: Iterable[bytes | str], settings: PrepareSettings, report: PrepareReport, *,
                  on_issue: Callable[[Issue], None] | None = None) -> Iterator[bytes]:
    """Prepared JSON Lines (bytes, each ending in a newline), streamed; invalid lines are skipped."""
    preparer = _Preparer(settings, report, on_issue)
    encode = msgspec.json.Encoder().encode
    for number, line in enumerate(lines, start=1):
        report.lines = number
        try:
            release = decode_line(line)
        except ValueError:
            if not is_blank(line):
                report.invalid += 1
            continue
        if not isinstance(release, dict):
            report.invalid += 1
            continue
        preparer.line = number
        preparer.run(release)
        report.written += 1
        yield encode(release) + b"\n"
