"""Evaluation rules: price points, technical points, weights, bonuses, the tie rule, the score sheet.

Pure: no I/O. The service gathers the facts (opening record, committee entries, suppliers' domicile and
MYPE flag, the lot) and calls `evaluate_lot`; what comes back is the ranking and a score sheet that
explains every figure.

Arithmetic and rounding
-----------------------
All scores are `Decimal`; prices are integer céntimos. Every figure shown in the score sheet is the
figure used: each step is rounded to two decimals, half up (ROUND_HALF_UP, "redondeo al centésimo"),
before the next step uses it. The steps:

1. Technical score  T_i = sum of the committee's points per criterion (each 0..max of the criterion,
   at most two decimals; the criteria's maxima add up to TECHNICAL_MAX = 100).
2. Price points     P_i = Pmax x Pmin / price_i   (lowest-price rule: the lowest valid price gets Pmax,
   the others in inverse proportion; Pmax = 100 by default).
3. Base total       S_i = wT x T_i + wP x P_i     (the tender's weights, wT + wP = 1; price-only methods
   such as subasta inversa electrónica and comparación de precios use wT = 0, wP = 1).
4. Bonuses          B_i,k = rate_k % of S_i for each bonus policy k that applies (each on the base total,
   they do not compound).
5. Final score      F_i = S_i + sum_k B_i,k.

Ties (TIE_RULE): bids are ranked by final score, higher first; among equal final scores: a MYPE bidder
first, then the higher technical score, then the earlier receipt time of the bid, and last a public draw:
the lower SHA-256 of "<draw seed>:<bid id>" wins, where the draw seed is recorded in the score sheet
(the service uses the SHA-256 of the published opening record, so anyone can repeat the draw).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol
from uuid import UUID

from marketplace.core import geo
from marketplace.core.errors import Conflict, InvalidInput
from marketplace.core.i18n import N_

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
TECHNICAL_MAX = HUNDRED
ROUNDING = "each figure rounded to 0.01, half up (ROUND_HALF_UP), before the next step uses it"

# Procurement methods (tenders' codes) whose evaluation uses price alone.
PRICE_ONLY_METHODS = frozenset({"reverse_auction", "price_comparison"})

TIE_RULE: tuple[str, ...] = (
    "higher final score",
    "MYPE bidder first",
    "higher technical score",
    "earlier bid receipt time",
    "public draw: lower SHA-256 of '<draw seed>:<bid id>'",
)

FORMULAS = {
    "technical": "T_i = sum of the committee's points per criterion",
    "price_points": "P_i = Pmax x Pmin / price_i (lowest valid price gets Pmax)",
    "base_total": "S_i = wT x T_i + wP x P_i",
    "bonus": "B_i,k = rate_k / 100 x S_i, for each bonus policy k that applies (not compounded)",
    "final": "F_i = S_i + sum of B_i,k",
}


def r2(value: Decimal) -> Decimal:
    """Round to two decimals, half up: the rounding of every figure in a score sheet."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def fmt(value: Decimal | int) -> str:
    return str(r2(Decimal(value)))


# --------------------------------------------------------------------------------------------- rules


@dataclass(frozen=True, slots=True)
class Criterion:
    """A technical criterion the committee scores, from 0 to `max_points`."""

    code: str
    name: str
    max_points: Decimal


@dataclass(frozen=True, slots=True)
class ScoringRules:
    """How a lot is scored: the weights, the technical criteria, the price points' maximum."""

    technical_weight: Decimal
    price_weight: Decimal
    criteria: tuple[Criterion, ...] = ()
    price_max: Decimal = HUNDRED
    technical_minimum: Decimal | None = None  # a bid below it is not valid (e.g. 80 in consultancies)

    @property
    def price_only(self) -> bool:
        return self.technical_weight == 0

    def validate(self) -> None:
        """Raises InvalidInput naming the field and rule at fault."""
        for name, w in (("technical_weight", self.technical_weight), ("price_weight", self.price_weight)):
            if not (Decimal(0) <= w <= Decimal(1)):
                raise InvalidInput(N_("A weight must be between 0 and 1"), field=f"scoring.{name}", rule="range")
        if self.technical_weight + self.price_weight != 1:
            raise InvalidInput(N_("The technical and price weights must add up to 1"),
                               field="scoring.price_weight", rule="sum")
        if self.price_max <= 0:
            raise InvalidInput(N_("The maximum price points must be positive"), field="scoring.price_max",
                               rule="range")
        codes = [c.code for c in self.criteria]
        if len(set(codes)) != len(codes):
            raise InvalidInput(N_("Criterion codes must be unique"), field="scoring.criteria", rule="unique")
        if any(c.max_points <= 0 for c in self.criteria):
            raise InvalidInput(N_("A criterion's maximum points must be positive"),
                               field="scoring.criteria", rule="range")
        if self.price_only:
            if self.criteria:
                raise InvalidInput(N_("A price-only evaluation has no technical criteria"),
                                   field="scoring.criteria", rule="price_only")
            return
        if sum((c.max_points for c in self.criteria), Decimal(0)) != TECHNICAL_MAX:
            raise InvalidInput(N_("The technical criteria's maximum points must add up to 100"),
                               field="scoring.criteria", rule="sum")
        if self.technical_minimum is not None and not (0 <= self.technical_minimum <= TECHNICAL_MAX):
            raise InvalidInput(N_("The technical minimum must be between 0 and 100"),
                               field="scoring.technical_minimum", rule="range")

    def criterion(self, code: str) -> Criterion | None:
        return next((c for c in self.criteria if c.code == code), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "technical_weight": str(self.technical_weight),
            "price_weight": str(self.price_weight),
            "price_max": str(self.price_max),
            "technical_minimum": None if self.technical_minimum is None else str(self.technical_minimum),
            "criteria": [{"code": c.code, "name": c.name, "max_points": str(c.max_points)} for c in self.criteria],
        }


PRICE_ONLY = ScoringRules(technical_weight=Decimal(0), price_weight=Decimal(1))


def rules_for(method: str, *, technical_weight: Decimal | None = None,
              criteria: Sequence[Criterion] = (), technical_minimum: Decimal | None = None) -> ScoringRules:
    """The rules of a lot: price alone for price-only methods or when no criteria are given."""
    if method in PRICE_ONLY_METHODS or not criteria:
        return PRICE_ONLY
    tw = Decimal("0.5") if technical_weight is None else Decimal(technical_weight)
    rules = ScoringRules(technical_weight=tw, price_weight=Decimal(1) - tw, criteria=tuple(criteria),
                         technical_minimum=technical_minimum)
    rules.validate()
    return rules


def check_technical_points(rules: ScoringRules, code: str, points: Decimal) -> Criterion:
    """A committee entry: the criterion exists, 0 <= points <= its maximum, at most two decimals."""
    criterion = rules.criterion(code)
    if criterion is None:
        raise InvalidInput(N_("No technical criterion '{code}' in this tender"), field="criterion",
                           rule="unknown", params={"code": code})
    if not points.is_finite() or points < 0 or points > criterion.max_points:
        raise InvalidInput(N_("Points for '{code}' must be between 0 and {max}"), field="points", rule="range",
                           params={"code": code, "max": str(criterion.max_points)})
    if points != points.quantize(CENT):
        raise InvalidInput(N_("Points have at most two decimals"), field="points", rule="precision")
    return criterion


def price_points(prices: Mapping[Any, int], price_max: Decimal = HUNDRED) -> dict[Any, Decimal]:
    """Lowest-price rule: the lowest price gets `price_max`, each other price_max x Pmin / price (r2)."""
    if not prices:
        return {}
    if any(p <= 0 for p in prices.values()):
        raise ValueError("prices must be positive")
    lowest = min(prices.values())
    return {k: (r2(price_max) if p == lowest else r2(price_max * Decimal(lowest) / Decimal(p)))
            for k, p in prices.items()}


# ------------------------------------------------------------------------------------------ bonuses


class Geography(Protocol):
    """What the regional bonus needs to know about places (marketplace.core.geo provides it)."""

    def province_code(self, ubigeo: str) -> str | None: ...
    def provinces_adjoining(self, province_code: str) -> frozenset[str]: ...
    def is_lima_or_callao(self, code: str, *, metropolitan: bool = False) -> bool: ...


@dataclass(frozen=True, slots=True)
class LotFacts:
    """The facts about a lot the bonuses look at."""

    lot_id: Any
    method: str
    kind: str                  # goods | services | consultancy | works
    estimated_value: int       # céntimos
    place_ubigeo: str | None   # place of delivery or execution


@dataclass(frozen=True, slots=True)
class BidFacts:
    """A bid as the evaluation sees it, after opening."""

    bid_id: Any
    supplier_id: Any
    price: int                                  # céntimos, from the opening record
    received_at: datetime
    is_mype: bool = False
    domicile_ubigeo: str | None = None
    supplier_name: str = ""
    technical: Mapping[str, Decimal] | None = None   # committee's points per criterion
    disqualified_reason: str | None = None           # set by the committee
    standing_reason: str | None = None               # the supplier is suspended/disqualified (registry), now


@dataclass(frozen=True, slots=True)
class BonusDecision:
    code: str
    applies: bool
    rate: Decimal
    reason: str                        # a stable reason code
    detail: str                        # an English message id with {placeholders}
    params: Mapping[str, str] = field(default_factory=dict)
    points: Decimal = Decimal(0)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "applies": self.applies, "rate": str(self.rate), "points": fmt(self.points),
                "reason": self.reason, "detail": self.detail.format(**self.params), "params": dict(self.params)}


class BonusPolicy(Protocol):
    @property
    def code(self) -> str: ...

    def decide(self, lot: LotFacts, bid: BidFacts, geo: Geography) -> BonusDecision: ...

    def describe(self) -> dict[str, Any]: ...


def _no(code: str, rate: Decimal, reason: str, detail: str, **params: Any) -> BonusDecision:
    return BonusDecision(code, False, rate, reason, detail, {k: str(v) for k, v in params.items()})


def _province(geo: Geography, ubigeo: str | None) -> str | None:
    if not ubigeo:
        return None
    try:
        return geo.province_code(ubigeo)
    except ValueError:  # not a valid ubigeo
        return None


def _soles(cents: int) -> str:
    return f"S/ {Decimal(cents) / 100:,.2f}"


@dataclass(frozen=True, slots=True)
class RegionalBonusPolicy:
    """+rate% of the total score for a bidder domiciled in the province where the work is done or an
    adjoining one; only for the listed kinds (services, consultancies, works), outside Lima and Callao,
    and only when the lot's value is at most the threshold in force for its kind."""

    code: str = "regional"
    rate: Decimal = Decimal(10)
    kinds: frozenset[str] = frozenset({"services", "consultancy", "works"})
    thresholds: Mapping[str, int] = field(default_factory=lambda: {
        "services": 20_000_000, "consultancy": 20_000_000, "works": 90_000_000})  # S/200,000 and S/900,000
    excluded_methods: frozenset[str] = frozenset({"reverse_auction"})
    lima_callao_metropolitan: bool = True  # "outside Lima and Callao" means outside the province of Lima

    def decide(self, lot: LotFacts, bid: BidFacts, geo: Geography) -> BonusDecision:
        c, rate = self.code, self.rate
        if lot.method in self.excluded_methods:
            return _no(c, rate, "method_excluded", "not applicable to the method {method}", method=lot.method)
        if lot.kind not in self.kinds:
            return _no(c, rate, "kind_excluded", "only for {kinds}; this lot is {kind}",
                       kinds=", ".join(sorted(self.kinds)), kind=lot.kind)
        threshold = self.thresholds.get(lot.kind)
        if threshold is None or lot.estimated_value > threshold:
            return _no(c, rate, "over_threshold", "the lot's value {value} exceeds the threshold {threshold}",
                       value=_soles(lot.estimated_value),
                       threshold=_soles(threshold) if threshold is not None else "-")
        place_province = _province(geo, lot.place_ubigeo)
        if lot.place_ubigeo is None or place_province is None:
            return _no(c, rate, "no_place_province", "the place of execution does not name a province")
        if geo.is_lima_or_callao(lot.place_ubigeo, metropolitan=self.lima_callao_metropolitan):
            return _no(c, rate, "lima_callao", "the work is done in Lima or Callao ({place})",
                       place=lot.place_ubigeo)
        bidder_province = _province(geo, bid.domicile_ubigeo)
        if bidder_province is None:
            return _no(c, rate, "no_domicile", "the bidder's domicile does not name a province")
        if bidder_province == place_province:
            return BonusDecision(c, True, rate, "same_province",
                                 "domiciled in the province of execution ({province})",
                                 {"province": place_province})
        if bidder_province in geo.provinces_adjoining(place_province):
            return BonusDecision(c, True, rate, "adjoining_province",
                                 "domiciled in {bidder_province}, which adjoins the province of execution "
                                 "({province})", {"province": place_province, "bidder_province": bidder_province})
        return _no(c, rate, "not_local", "domiciled in {bidder_province}, neither the province of execution "
                   "({province}) nor an adjoining one", province=place_province, bidder_province=bidder_province)

    def describe(self) -> dict[str, Any]:
        return {"code": self.code, "rate": str(self.rate), "kinds": sorted(self.kinds),
                "thresholds": dict(self.thresholds), "excluded_methods": sorted(self.excluded_methods),
                "lima_callao": "province of Lima and Callao" if self.lima_callao_metropolitan
                else "regions of Lima and Callao"}


@dataclass(frozen=True, slots=True)
class MypeBonusPolicy:
    """+rate% of the total score for a MYPE bidder when the lot's value falls in the adjudicación
    simplificada range of its kind (inclusive bounds, céntimos)."""

    code: str = "mype"
    rate: Decimal = Decimal(5)
    # Defaults: from 8 UIT (S/ 42,800 with the 2025 UIT of S/ 5,350) to the budget law's upper limits.
    ranges: Mapping[str, tuple[int, int]] = field(default_factory=lambda: {
        "goods": (4_280_000, 40_000_000), "services": (4_280_000, 40_000_000),
        "consultancy": (4_280_000, 40_000_000), "works": (4_280_000, 180_000_000)})
    excluded_methods: frozenset[str] = frozenset({"reverse_auction"})

    def decide(self, lot: LotFacts, bid: BidFacts, geo: Geography) -> BonusDecision:
        c, rate = self.code, self.rate
        if lot.method in self.excluded_methods:
            return _no(c, rate, "method_excluded", "not applicable to the method {method}", method=lot.method)
        if not bid.is_mype:
            return _no(c, rate, "not_mype", "the bidder is not registered as a MYPE")
        bounds = self.ranges.get(lot.kind)
        if bounds is None:
            return _no(c, rate, "kind_excluded", "no adjudicación simplificada range for {kind}", kind=lot.kind)
        low, high = bounds
        if not (low <= lot.estimated_value <= high):
            return _no(c, rate, "out_of_range", "the lot's value {value} is outside the adjudicación "
                       "simplificada range {low} to {high}", value=_soles(lot.estimated_value),
                       low=_soles(low), high=_soles(high))
        return BonusDecision(c, True, rate, "mype_in_range", "MYPE bidder; the lot's value {value} is in the "
                             "adjudicación simplificada range", {"value": _soles(lot.estimated_value)})

    def describe(self) -> dict[str, Any]:
        return {"code": self.code, "rate": str(self.rate),
                "ranges": {k: list(v) for k, v in self.ranges.items()},
                "excluded_methods": sorted(self.excluded_methods)}


DEFAULT_POLICIES: tuple[BonusPolicy, ...] = (RegionalBonusPolicy(), MypeBonusPolicy())


# ------------------------------------------------------------------------------------ lot evaluation


@dataclass(frozen=True, slots=True)
class BidScore:
    bid: BidFacts
    valid: bool
    excluded_reason: str | None = None
    technical: Decimal = Decimal(0)
    price_points: Decimal = Decimal(0)
    base_total: Decimal = Decimal(0)
    bonuses: tuple[BonusDecision, ...] = ()
    final: Decimal = Decimal(0)
    rank: int | None = None
    tie_break: str | None = None


@dataclass(frozen=True, slots=True)
class LotResult:
    lot_id: Any
    outcome: str                      # awarded | unsuccessful
    ranking: tuple[BidScore, ...]     # valid bids, best first
    excluded: tuple[BidScore, ...]    # bids that are not valid, with the reason
    sheet: dict[str, Any]

    @property
    def winner(self) -> BidScore | None:
        return self.ranking[0] if self.ranking else None


def draw_key(seed: str, bid_id: Any) -> str:
    return hashlib.sha256(f"{seed}:{bid_id}".encode()).hexdigest()


def sort_key(score: BidScore, seed: str) -> tuple[Any, ...]:
    """The documented order (TIE_RULE): smaller is better."""
    return (-score.final, not score.bid.is_mype, -score.technical, score.bid.received_at,
            draw_key(seed, score.bid.bid_id))


def _decided_by(a: BidScore, b: BidScore, seed: str) -> str:
    """Which step of TIE_RULE separates `a` (ranked first) from `b`."""
    ka, kb = sort_key(a, seed), sort_key(b, seed)
    for i, (x, y) in enumerate(zip(ka, kb, strict=False)):
        if x != y:
            return TIE_RULE[i]
    return TIE_RULE[-1]


def rank(scores: Sequence[BidScore], seed: str) -> list[BidScore]:
    """Order valid scores by TIE_RULE and number them; note the rule that separated each from the next."""
    ordered = sorted(scores, key=lambda s: sort_key(s, seed))
    out: list[BidScore] = []
    for i, s in enumerate(ordered):
        note = None
        if i + 1 < len(ordered) and ordered[i + 1].final == s.final:
            note = f"tied on final score with the next bid; decided by: {_decided_by(s, ordered[i + 1], seed)}"
        elif i > 0 and ordered[i - 1].final == s.final:
            note = f"tied on final score with the previous bid; decided by: {_decided_by(ordered[i - 1], s, seed)}"
        out.append(_replace(s, rank=i + 1, tie_break=note))
    return out


def _replace(score: BidScore, **kw: Any) -> BidScore:

    return replace(score, **kw)


class TechnicalIncomplete(Conflict):
    type = "evaluation-incomplete"
    title = N_("The evaluation is not complete")


def evaluate_lot(*, lot: LotFacts, rules: ScoringRules, bids: Sequence[BidFacts], geo: Geography,
                 policies: Sequence[BonusPolicy] = DEFAULT_POLICIES, draw_seed: str = "") -> LotResult:
    """Score the bids of a lot, rank them and explain every figure. Desierto when no bid is valid."""
    rules.validate()
    valid: list[BidFacts] = []
    excluded: list[BidScore] = []
    technical: dict[Any, Decimal] = {}
    for bid in bids:
        if bid.standing_reason:
            excluded.append(BidScore(bid, False, f"the supplier is not in good standing: {bid.standing_reason}"))
            continue
        if bid.disqualified_reason:
            excluded.append(BidScore(bid, False, f"disqualified by the committee: {bid.disqualified_reason}"))
            continue
        if bid.price <= 0:
            excluded.append(BidScore(bid, False, "the price is not positive"))
            continue
        if not rules.price_only:
            entries = bid.technical or {}
            missing = [c.code for c in rules.criteria if c.code not in entries]
            if missing:
                raise TechnicalIncomplete(
                    N_("Technical points are missing for bid {bid} (criteria: {criteria})"),
                    params={"bid": str(bid.bid_id), "criteria": ", ".join(missing)})
            for code, pts in entries.items():
                check_technical_points(rules, code, Decimal(pts))
            t = r2(sum((Decimal(entries[c.code]) for c in rules.criteria), Decimal(0)))
            if rules.technical_minimum is not None and t < rules.technical_minimum:
                excluded.append(BidScore(bid, False, f"technical score {fmt(t)} is below the minimum "
                                                     f"{fmt(rules.technical_minimum)}", technical=t))
                continue
            technical[bid.bid_id] = t
        valid.append(bid)

    points = price_points({b.bid_id: b.price for b in valid}, rules.price_max)
    scored: list[BidScore] = []
    for bid in valid:
        t = technical.get(bid.bid_id, Decimal(0))
        p = points[bid.bid_id]
        base = r2(rules.technical_weight * t + rules.price_weight * p)
        decisions = []
        for policy in policies:
            d = policy.decide(lot, bid, geo)
            if d.applies:
                d = _replace_bonus(d, points=r2(base * d.rate / HUNDRED))
            decisions.append(d)
        final = r2(base + sum((d.points for d in decisions), Decimal(0)))
        scored.append(BidScore(bid, True, None, t, p, base, tuple(decisions), final))
    ranking = rank(scored, draw_seed)
    outcome = "awarded" if ranking else "unsuccessful"
    sheet = score_sheet(lot=lot, rules=rules, policies=policies, ranking=ranking, excluded=excluded,
                        outcome=outcome, draw_seed=draw_seed, lowest=min((b.price for b in valid), default=None))
    return LotResult(lot.lot_id, outcome, tuple(ranking), tuple(excluded), sheet)


def _replace_bonus(d: BonusDecision, **kw: Any) -> BonusDecision:

    return replace(d, **kw)


def _id(value: Any) -> Any:
    return str(value) if isinstance(value, UUID) else value


def _bid_entry(s: BidScore, rules: ScoringRules, lowest: int | None) -> dict[str, Any]:
    b = s.bid
    entry: dict[str, Any] = {
        "bid_id": _id(b.bid_id), "supplier_id": _id(b.supplier_id), "supplier_name": b.supplier_name,
        "price": b.price, "received_at": b.received_at.isoformat(), "is_mype": b.is_mype,
        "domicile_ubigeo": b.domicile_ubigeo, "valid": s.valid,
    }
    if not rules.price_only and b.technical is not None:
        entry["technical"] = {
            "criteria": [{"code": c.code, "points": fmt(Decimal(b.technical.get(c.code, 0))),
                          "max_points": fmt(c.max_points)} for c in rules.criteria],
            "total": fmt(s.technical),
        }
    if not s.valid:
        entry["excluded_reason"] = s.excluded_reason
        return entry
    weighted_t = rules.technical_weight * s.technical
    weighted_p = rules.price_weight * s.price_points
    entry.update({
        "price_points": {
            "value": fmt(s.price_points),
            "computation": f"{fmt(rules.price_max)} x {lowest} / {b.price} = {fmt(s.price_points)}",
        },
        "base_total": {
            "value": fmt(s.base_total),
            "computation": f"{rules.technical_weight} x {fmt(s.technical)} + {rules.price_weight} x "
                           f"{fmt(s.price_points)} = {weighted_t.normalize():f} + {weighted_p.normalize():f}"
                           f" = {fmt(s.base_total)}",
        },
        "bonuses": [d.as_dict() | ({"computation": f"{d.rate}% x {fmt(s.base_total)} = {fmt(d.points)}"}
                                   if d.applies else {}) for d in s.bonuses],
        "final": {
            "value": fmt(s.final),
            "computation": " + ".join([fmt(s.base_total), *(fmt(d.points) for d in s.bonuses if d.applies)])
                           + f" = {fmt(s.final)}",
        },
        "rank": s.rank,
        "tie_break": s.tie_break,
    })
    return entry


def score_sheet(*, lot: LotFacts, rules: ScoringRules, policies: Sequence[BonusPolicy],
                ranking: Sequence[BidScore], excluded: Sequence[BidScore], outcome: str, draw_seed: str,
                lowest: int | None) -> dict[str, Any]:
    """The score sheet of a lot: inputs, formulas, intermediate values, bonuses and why, the ranking."""
    winner = ranking[0] if ranking else None
    return {
        "lot_id": _id(lot.lot_id),
        "method": lot.method,
        "kind": lot.kind,
        "estimated_value": lot.estimated_value,
        "place_ubigeo": lot.place_ubigeo,
        "rules": rules.as_dict(),
        "formulas": dict(FORMULAS),
        "rounding": ROUNDING,
        "lowest_valid_price": lowest,
        "bonus_policies": [p.describe() for p in policies],
        "tie_rule": list(TIE_RULE),
        "draw_seed": draw_seed,
        "bids": [_bid_entry(s, rules, lowest) for s in ranking] + [_bid_entry(s, rules, lowest) for s in excluded],
        "outcome": outcome,
        "winner_bid_id": _id(winner.bid.bid_id) if winner else None,
        "unsuccessful_reason": None if winner else "no valid bid",
    }


GeoFactory = Callable[[], Geography]


def default_geography() -> Geography:
    """marketplace.core.geo, which has the functions the Geography protocol names."""

    return geo
