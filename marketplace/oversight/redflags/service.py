"""Red flags: patterns in our own data that deserve a second look, each with its definition, the thresholds
it used (marketplace.oversight.policy, from Settings) and the evidence behind it.

A flag is not a finding: it says where an auditor may want to look. Flags are computed on request from
the tenders, opening records, qualifications, awards and contracts (read-only, on the replica when one is
configured). Population flags (a bidder that almost never wins, a buyer that disqualifies many bids, a
supplier winning in many classification families, an outlying price gap) compare against all the data.
"""

from __future__ import annotations

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
    """The lots in scope with their tender's facts (drafts are not public and never flagged)."""
    cond = "WHERE t.state <> 'draft'" + ("" if tender_ids is None else " AND t.id = ANY($1::uuid[])")
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
                  or method == "reverse_auction")
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


_GAPS = (
    "SELECT a.lot_id, (min(o.price) - w.price)::numeric / w.price AS gap"
    "  FROM award a JOIN opening_entry w ON w.lot_id = a.lot_id AND w.bid_id = a.bid_id"
    "  JOIN opening_entry o ON o.lot_id = a.lot_id AND o.bid_id <> a.bid_id"
    " WHERE a.state <> 'cancelled' AND w.price > 0 GROUP BY a.lot_id, w.price")


async def _fence(p: policy_mod.Policy) -> tuple[Decimal, Decimal, Decimal, Decimal] | None:
    """Q1, Q3 and the fences of the winner-to-second gap over every awarded lot with two bids or more
    (percentile_cont interpolates as the 'inclusive' quartile method does)."""
    row = await reads.fetchrow(
        f"SELECT count(*) AS n, percentile_cont(0.25) WITHIN GROUP (ORDER BY gap) AS q1,"
        f" percentile_cont(0.75) WITHIN GROUP (ORDER BY gap) AS q3 FROM ({_GAPS}) g")
    if row is None or row["n"] < max(p.gap_min_sample, 4):
        return None
    q1, q3 = Decimal(str(row["q1"])), Decimal(str(row["q3"]))
    iqr = q3 - q1
    return q1, q3, q1 - Decimal("1.5") * iqr, q3 + Decimal("1.5") * iqr


async def compute(settings: Any, *, tender_id: UUID | None = None) -> list[Flag]:
    """Every flag (or those that concern one tender). Population figures (quartiles, win and
    disqualification rates, families) are aggregated by PostgreSQL; lot-level rules read only the lots
    in scope."""
    p = policy_mod.of(settings)
    scope = None if tender_id is None else [tender_id]
    lots = await _lots(scope)
    lot_ids = None if tender_id is None else [x["lot_id"] for x in lots]
    entries = await _entries(lot_ids)
    awards = await _awards(lot_ids)
    fence = await _fence(p)
    flags: list[Flag] = []

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
        flags += lot_flags(p, lot, entries.get(lot["lot_id"], []), awards.get(lot["lot_id"]), fence)

    # Suppliers that bid often and almost never win (among this tender's bidders, for one tender).
    args: list[Any] = [p.rare_winner_min_bids, p.rare_winner_max_rate]
    only = ""
    if tender_id is not None:
        args.append(tender_id)
        only = " AND s.supplier_id IN (SELECT supplier_id FROM opening_entry WHERE tender_id = $3)"
    for r in await reads.fetch(
            "SELECT s.supplier_id, s.bids, coalesce(w.wins, 0) AS wins"
            " FROM (SELECT supplier_id, count(*) AS bids FROM opening_entry GROUP BY supplier_id) s"
            " LEFT JOIN (SELECT supplier_id, count(*) AS wins FROM award WHERE state <> 'cancelled'"
            "            GROUP BY supplier_id) w USING (supplier_id)"
            f" WHERE s.bids >= $1 AND coalesce(w.wins, 0) <= s.bids * $2 {only} ORDER BY s.supplier_id", *args):
        flags.append(Flag(code="rare_winner", tender_id=tender_id, ocid=None, lot_id=None, subject="supplier",
                          subject_id=str(r["supplier_id"]), definition=DEFINITIONS["rare_winner"],
                          thresholds={"min_bids": p.rare_winner_min_bids,
                                      "max_win_rate": str(p.rare_winner_max_rate)},
                          evidence={"bids": r["bids"], "wins": r["wins"],
                                    "win_rate": _d(Decimal(r["wins"]) / r["bids"])}))

    # Agencies that disqualify many of the bids they open (the tender's agency, for one tender).
    args = [p.disqualify_min_bids, p.disqualify_max_rate]
    only = ""
    if tender_id is not None:
        args.append(tender_id)
        only = " AND t.agency_id = (SELECT agency_id FROM tender WHERE id = $3)"
    for r in await reads.fetch(
            "SELECT t.agency_id, count(*) AS opened, count(*) FILTER (WHERE q.qualified = false) AS disq"
            " FROM opening_entry e JOIN tender t ON t.id = e.tender_id"
            " LEFT JOIN bid_qualification q ON q.lot_id = e.lot_id AND q.bid_id = e.bid_id"
            f" WHERE TRUE {only} GROUP BY t.agency_id"
            " HAVING count(*) >= $1 AND count(*) FILTER (WHERE q.qualified = false) > count(*) * $2"
            " ORDER BY t.agency_id", *args):
        flags.append(Flag(code="buyer_disqualifies_many", tender_id=tender_id, ocid=None, lot_id=None,
                          subject="agency", subject_id=str(r["agency_id"]),
                          definition=DEFINITIONS["buyer_disqualifies_many"],
                          thresholds={"min_bids": p.disqualify_min_bids, "max_rate": str(p.disqualify_max_rate)},
                          evidence={"bids_opened": r["opened"], "disqualified": r["disq"],
                                    "rate": _d(Decimal(r["disq"]) / r["opened"])}))

    # Suppliers winning across many classification families (the first 4 digits: segment + family);
    # for one tender, its winners.
    args = [p.max_families]
    only = ""
    if tender_id is not None:
        args.append(tender_id)
        only = (" AND a.supplier_id IN (SELECT supplier_id FROM award WHERE tender_id = $2"
                " AND state <> 'cancelled')")
    for r in await reads.fetch(
            "SELECT a.supplier_id, array_agg(DISTINCT left(l.classification_code, 4)) AS families"
            " FROM award a JOIN tender_lot l ON l.id = a.lot_id"
            f" WHERE a.state <> 'cancelled' {only} GROUP BY a.supplier_id"
            " HAVING count(DISTINCT left(l.classification_code, 4)) >= $1 ORDER BY a.supplier_id", *args):
        fams = sorted(r["families"])
        flags.append(Flag(code="supplier_many_families", tender_id=tender_id, ocid=None, lot_id=None,
                          subject="supplier", subject_id=str(r["supplier_id"]),
                          definition=DEFINITIONS["supplier_many_families"],
                          thresholds={"max_families": p.max_families},
                          evidence={"families": fams, "count": len(fams)}))

    cond = "" if tender_id is None else "AND c.tender_id = $2"
    args = [p.amendment_max_pct] + ([] if tender_id is None else [tender_id])
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
