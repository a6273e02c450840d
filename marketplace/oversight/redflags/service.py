"""Red flags: patterns in our own data that deserve a second look, each with its definition, the thresholds
it used (marketplace.oversight.policy, from the environment) and the evidence behind it.

A flag is not a finding: it says where an auditor may want to look. Flags are computed on request from
the tenders, opening records, qualifications, awards and contracts (read-only, on the replica when one is
configured). Population flags (a bidder that almost never wins, a buyer that disqualifies many bids, a
supplier winning in many classification families, an outlying price gap) compare against all the data.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from marketplace.oversight import policy as policy_mod
from marketplace.oversight import reads

DEFINITIONS: dict[str, str] = {
    "single_bid": "Only one bid was received for a lot of a competitive procedure.",
    "short_submission_period": "The time from publication to the submission deadline was shorter than the "
                               "minimum for the procurement method.",
    "identical_bid_prices": "Two or more bids for the same lot have exactly the same price.",
    "late_bid_won": "The winning bid was received after the deadline, or was the last bid received within "
                    "the last minutes before it.",
    "all_but_winner_disqualified": "Every bid for the lot except the winner's was disqualified.",
    "lowest_bid_disqualified": "In a price-only award, the lowest bid was disqualified and a dearer one won.",
    "price_gap_outlier": "The gap between the winning price and the next lowest price is outside the quartile "
                         "fence (below Q1 - 1.5 IQR or above Q3 + 1.5 IQR) of all awarded lots.",
    "rare_winner": "A bidder that bids often but almost never wins (a possible cover bidder).",
    "buyer_disqualifies_many": "An agency that disqualifies an unusually large share of the bids it opens.",
    "supplier_many_families": "A supplier winning awards across unusually many classification families.",
    "contract_value_raised": "The contract's value was raised by amendments by more than the allowed share.",
}


@dataclass
class Flag:
    code: str
    tender_id: UUID | None
    ocid: str | None
    lot_id: UUID | None
    subject: str  # tender, lot, supplier, agency, contract
    subject_id: str
    definition: str
    thresholds: dict[str, Any]
    evidence: dict[str, Any] = field(default_factory=dict)


def _d(x: float | Decimal) -> str:
    return str(round(Decimal(str(x)), 4))


async def _lots(tender_ids: list[UUID] | None) -> list[dict[str, Any]]:
    cond = "" if tender_ids is None else "WHERE t.id = ANY($1::uuid[])"
    args = [] if tender_ids is None else [tender_ids]
    return await reads.fetch(
        "SELECT t.id AS tender_id, t.ocid, t.agency_id, t.method, t.published_at, t.submission_deadline,"
        "       s.price_weight, l.id AS lot_id, l.number, l.classification_code"
        "  FROM tender t JOIN tender_lot l ON l.tender_id = t.id"
        "  LEFT JOIN tender_scoring s ON s.tender_id = t.id"
        f" {cond} ORDER BY t.id, l.number", *args)


async def _entries(lot_ids: list[UUID] | None) -> dict[UUID, list[dict[str, Any]]]:
    cond = "" if lot_ids is None else "WHERE e.lot_id = ANY($1::uuid[])"
    args = [] if lot_ids is None else [lot_ids]
    rows = await reads.fetch(
        "SELECT e.lot_id, e.bid_id, e.supplier_id, e.price, e.received_at, q.qualified"
        "  FROM opening_entry e LEFT JOIN bid_qualification q ON q.lot_id = e.lot_id AND q.bid_id = e.bid_id"
        f" {cond} ORDER BY e.lot_id, e.received_at", *args)
    out: dict[UUID, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        out[r["lot_id"]].append(r)
    return out


async def _awards(lot_ids: list[UUID] | None) -> dict[UUID, dict[str, Any]]:
    cond = "" if lot_ids is None else "AND lot_id = ANY($1::uuid[])"
    args = [] if lot_ids is None else [lot_ids]
    rows = await reads.fetch(
        f"SELECT id, lot_id, bid_id, supplier_id, value FROM award WHERE state <> 'cancelled' {cond}", *args)
    return {r["lot_id"]: r for r in rows}


def _gap(entries: list[dict[str, Any]], award: dict[str, Any]) -> Decimal | None:
    win = next((e for e in entries if e["bid_id"] == award["bid_id"]), None)
    others = [e["price"] for e in entries if e["bid_id"] != award["bid_id"]]
    if win is None or not others or win["price"] <= 0:
        return None
    return (Decimal(min(others)) - Decimal(win["price"])) / Decimal(win["price"])


def lot_flags(p: policy_mod.Policy, lot: dict[str, Any], entries: list[dict[str, Any]],
              award: dict[str, Any] | None, fence: tuple[Decimal, Decimal, Decimal, Decimal] | None) -> list[Flag]:
    """The flags one lot raises on its own (plus the gap, judged against the population's fence)."""
    flags: list[Flag] = []

    def add(code: str, thresholds: dict[str, Any], **evidence: Any) -> None:
        flags.append(Flag(code=code, tender_id=lot["tender_id"], ocid=lot["ocid"], lot_id=lot["lot_id"],
                          subject="lot", subject_id=str(lot["lot_id"]), definition=DEFINITIONS[code],
                          thresholds=thresholds, evidence=evidence))

    method = lot["method"]
    if method in policy_mod.COMPETITIVE_METHODS and len(entries) == 1:
        add("single_bid", {"competitive_methods": sorted(policy_mod.COMPETITIVE_METHODS)}, bids=1, method=method,
            supplier_id=str(entries[0]["supplier_id"]))
    prices: dict[int, list[str]] = defaultdict(list)
    for e in entries:
        prices[e["price"]].append(str(e["supplier_id"]))
    same = {str(k): v for k, v in prices.items() if len(v) > 1}
    if same:
        add("identical_bid_prices", {}, prices=same)
    if award is None:
        return flags
    win = next((e for e in entries if e["bid_id"] == award["bid_id"]), None)
    others = [e for e in entries if e["bid_id"] != award["bid_id"]]
    deadline = lot["submission_deadline"]
    if win is not None and deadline is not None:
        window = timedelta(minutes=p.late_bid_minutes)
        last = all(e["received_at"] <= win["received_at"] for e in others)
        if win["received_at"] > deadline or (others and last and win["received_at"] >= deadline - window):
            add("late_bid_won", {"late_bid_minutes": p.late_bid_minutes}, received_at=win["received_at"].isoformat(),
                submission_deadline=deadline.isoformat(), after_deadline=win["received_at"] > deadline,
                other_bids=len(others))
    if others and all(e["qualified"] is False for e in others):
        add("all_but_winner_disqualified", {}, disqualified=len(others), winner=str(award["supplier_id"]))
    price_only = (lot["price_weight"] is None or Decimal(lot["price_weight"]) == 1
                  or method == "subasta_inversa_electronica")
    if price_only and entries:
        low = min(e["price"] for e in entries)
        lowest = [e for e in entries if e["price"] == low]
        if len(lowest) == 1 and lowest[0]["qualified"] is False and lowest[0]["bid_id"] != award["bid_id"]:
            add("lowest_bid_disqualified", {"price_only": True}, lowest_price=low,
                lowest_supplier=str(lowest[0]["supplier_id"]), winning_price=win["price"] if win else award["value"])
    if fence is not None:
        gap = _gap(entries, award)
        q1, q3, lo, hi = fence
        if gap is not None and (gap < lo or gap > hi):
            add("price_gap_outlier", {"rule": "Q1 - 1.5 IQR, Q3 + 1.5 IQR"}, gap=_d(gap), q1=_d(q1), q3=_d(q3),
                lower_fence=_d(lo), upper_fence=_d(hi), direction="small" if gap < lo else "large")
    return flags


async def compute(settings: Any, *, tender_id: UUID | None = None) -> list[Flag]:
    """Every flag (or those that concern one tender)."""
    p = policy_mod.of(settings)
    all_lots = await _lots(None)
    all_entries = await _entries(None)
    all_awards = await _awards(None)
    flags: list[Flag] = []

    # Population: the price gap fence over every awarded lot with two bids or more.
    gaps = [g for lot_id, a in all_awards.items()
            if (g := _gap(all_entries.get(lot_id, []), a)) is not None]
    fence = None
    if len(gaps) >= max(p.gap_min_sample, 4):
        q1, _, q3 = statistics.quantiles(gaps, n=4, method="inclusive")
        iqr = q3 - q1
        fence = (q1, q3, q1 - Decimal("1.5") * iqr, q3 + Decimal("1.5") * iqr)

    lots = [x for x in all_lots if tender_id is None or x["tender_id"] == tender_id]
    tenders = {x["tender_id"]: x for x in lots}
    for t in tenders.values():
        days = p.min_submission_days.get(t["method"])
        if days is not None and t["published_at"] and t["submission_deadline"]:
            period = t["submission_deadline"] - t["published_at"]
            if period < timedelta(days=days):
                flags.append(Flag(code="short_submission_period", tender_id=t["tender_id"], ocid=t["ocid"],
                                  lot_id=None, subject="tender", subject_id=str(t["tender_id"]),
                                  definition=DEFINITIONS["short_submission_period"],
                                  thresholds={"min_submission_days": days, "method": t["method"]},
                                  evidence={"days": _d(period.total_seconds() / 86400),
                                            "published_at": t["published_at"].isoformat(),
                                            "submission_deadline": t["submission_deadline"].isoformat()}))
    for lot in lots:
        flags += lot_flags(p, lot, all_entries.get(lot["lot_id"], []), all_awards.get(lot["lot_id"]), fence)

    # Suppliers that bid often and almost never win.
    bids: dict[UUID, int] = defaultdict(int)
    wins: dict[UUID, int] = defaultdict(int)
    for entries in all_entries.values():
        for e in entries:
            bids[e["supplier_id"]] += 1
    for a in all_awards.values():
        wins[a["supplier_id"]] += 1
    rare = {s for s, n in bids.items()
            if n >= p.rare_winner_min_bids and Decimal(wins[s]) / n <= p.rare_winner_max_rate}
    # Agencies that disqualify many of the bids they open.
    lot_agency = {x["lot_id"]: x["agency_id"] for x in all_lots}
    opened: dict[UUID, int] = defaultdict(int)
    disq: dict[UUID, int] = defaultdict(int)
    for lot_id, entries in all_entries.items():
        ag = lot_agency.get(lot_id)
        for e in entries:
            opened[ag] += 1
            disq[ag] += e["qualified"] is False
    strict = {a for a, n in opened.items()
              if n >= p.disqualify_min_bids and Decimal(disq[a]) / n > p.disqualify_max_rate}
    # Suppliers winning across many classification families (the first 4 digits: segment + family).
    lot_class = {x["lot_id"]: x["classification_code"][:4] for x in all_lots}
    families: dict[UUID, set[str]] = defaultdict(set)
    for lot_id, a in all_awards.items():
        families[a["supplier_id"]].add(lot_class.get(lot_id, ""))
    broad = {s for s, f in families.items() if len(f) >= p.max_families}

    in_scope_suppliers: set[UUID] | None = None
    in_scope_agencies: set[UUID] | None = None
    if tender_id is not None:
        lot_ids = [x["lot_id"] for x in lots]
        in_scope_suppliers = {e["supplier_id"] for i in lot_ids for e in all_entries.get(i, [])}
        in_scope_agencies = {x["agency_id"] for x in lots}
    for s in sorted(rare, key=str):
        if in_scope_suppliers is None or s in in_scope_suppliers:
            flags.append(Flag(code="rare_winner", tender_id=tender_id, ocid=None, lot_id=None, subject="supplier",
                              subject_id=str(s), definition=DEFINITIONS["rare_winner"],
                              thresholds={"min_bids": p.rare_winner_min_bids,
                                          "max_win_rate": str(p.rare_winner_max_rate)},
                              evidence={"bids": bids[s], "wins": wins[s], "win_rate": _d(Decimal(wins[s]) / bids[s])}))
    for a in sorted(strict, key=str):
        if in_scope_agencies is None or a in in_scope_agencies:
            flags.append(Flag(code="buyer_disqualifies_many", tender_id=tender_id, ocid=None, lot_id=None,
                              subject="agency", subject_id=str(a), definition=DEFINITIONS["buyer_disqualifies_many"],
                              thresholds={"min_bids": p.disqualify_min_bids,
                                          "max_rate": str(p.disqualify_max_rate)},
                              evidence={"bids_opened": opened[a], "disqualified": disq[a],
                                        "rate": _d(Decimal(disq[a]) / opened[a])}))
    winners = None if tender_id is None else {all_awards[x["lot_id"]]["supplier_id"] for x in lots
                                              if x["lot_id"] in all_awards}
    for s in sorted(broad, key=str):
        if winners is None or s in winners:
            flags.append(Flag(code="supplier_many_families", tender_id=tender_id, ocid=None, lot_id=None,
                              subject="supplier", subject_id=str(s), definition=DEFINITIONS["supplier_many_families"],
                              thresholds={"max_families": p.max_families},
                              evidence={"families": sorted(families[s]), "count": len(families[s])}))

    cond = "" if tender_id is None else "AND c.tender_id = $2"
    args: list[Any] = [p.amendment_max_pct] + ([] if tender_id is None else [tender_id])
    for c in await reads.fetch(
            "SELECT c.id, c.tender_id, c.lot_id, t.ocid, c.original_value_cents, c.value_cents,"
            "       c.cumulative_change_pct FROM contract c LEFT JOIN tender t ON t.id = c.tender_id"
            f" WHERE c.cumulative_change_pct > $1 {cond}", *args):
        flags.append(Flag(code="contract_value_raised", tender_id=c["tender_id"], ocid=c["ocid"], lot_id=c["lot_id"],
                          subject="contract", subject_id=str(c["id"]), definition=DEFINITIONS["contract_value_raised"],
                          thresholds={"amendment_max_pct": str(p.amendment_max_pct)},
                          evidence={"original_value": c["original_value_cents"], "value": c["value_cents"],
                                    "cumulative_change_pct": str(c["cumulative_change_pct"])}))
    return flags
