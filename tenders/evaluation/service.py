"""Evaluation use cases: the tender's scoring rules, the committee's points and qualifications, score sheets.

Functions the awards package calls:

- `load_rules(tender_id=...) -> ScoringRules` : the tender's rules (price alone when none were set).
- `evaluate(tender=..., lot=..., policy=...) -> LotResult` : scores one lot from the opening record, the
  committee's entries and the suppliers' registry facts (domicile, MYPE), applying the bonus policies of
  `policy` (built from Settings by `tenders.evaluation.policy.of(settings)`).
- `next_round(lot_id=...) -> int`, `save_sheet(...) -> UUID` : the score sheet of an evaluation round.

Who may do what: the owning agency's officers set the rules before tendering starts; its evaluation
committee (role 'committee') enters points and qualifies or disqualifies bids while the lot is in
evaluation; score sheets are public once written (when the lot is awarded or declared desierto), and the
owning agency sees provisional ones before.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec

from marketplace.core import audit, clock, db
from marketplace.core.actor import Actor, require
from marketplace.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from marketplace.core.i18n import N_
from marketplace.core.money import score
from marketplace.settings import Settings
from suppliers import service as suppliers
from tenders import service as tenders
from tenders.domain import State
from tenders.evaluation import committee, domain
from tenders.evaluation import policy as policies
from tenders.evaluation.schemas import (
    CriterionRead,
    QualificationCreate,
    QualificationRead,
    ScoreSheetRead,
    ScoringRulesRead,
    ScoringRulesWrite,
    TechnicalPointsCreate,
    TechnicalPointsRead,
)

COMMITTEE_ROLES = ("committee",)
RULES_EDITABLE = (State.DRAFT.value, State.PUBLISHED.value)
_canonical = msgspec.json.Encoder(order="sorted")


# --------------------------------------------------------------------------------------------- rules

async def load_rules(*, tender_id: UUID) -> domain.ScoringRules:
    row = await db.fetchrow("SELECT * FROM tender_scoring WHERE tender_id = $1", tender_id)
    if row is None:
        return domain.PRICE_ONLY
    return _rules(row)


def _rules(row: dict[str, Any]) -> domain.ScoringRules:
    criteria = row["criteria"]
    if isinstance(criteria, str):
        criteria = msgspec.json.decode(criteria)
    return domain.ScoringRules(
        technical_weight=Decimal(row["technical_weight"]).normalize(),
        price_weight=Decimal(row["price_weight"]).normalize(),
        criteria=tuple(domain.Criterion(c["code"], c["name"], Decimal(c["max_points"])) for c in criteria),
        technical_minimum=None if row["technical_minimum"] is None else Decimal(row["technical_minimum"]),
    )


def _rules_read(tender_id: UUID, rules: domain.ScoringRules, settings: Settings) -> ScoringRulesRead:
    return ScoringRulesRead(
        # weights as given (up to 3 decimals: 0.125), points rounded to 2
        tender_id=tender_id, technical_weight=float(rules.technical_weight), price_weight=float(rules.price_weight),
        price_max=score(rules.price_max),
        technical_minimum=None if rules.technical_minimum is None else score(rules.technical_minimum),
        criteria=[CriterionRead(code=c.code, name=c.name, max_points=score(c.max_points)) for c in rules.criteria],
        price_only=rules.price_only, bonus_policies=[p.describe() for p in policies.bonuses(settings.bonus)],
        tie_rule=list(domain.TIE_RULE), formulas=dict(domain.FORMULAS), rounding=domain.ROUNDING,
    )


def _is_agency_member(actor: Actor, t: dict[str, Any]) -> bool:
    return actor.via == "system" or actor.member_of(t["agency_id"])


async def get_rules(*, actor: Actor, settings: Settings, tender_id: UUID) -> ScoringRulesRead:
    t = await tenders.load_tender(tender_id=tender_id)
    if not tenders.can_see(actor, t):
        raise NotFound(N_("Tender not found"))
    return _rules_read(tender_id, await load_rules(tender_id=tender_id), settings)


def _finite(value: Decimal, field: str) -> Decimal:
    if not value.is_finite():
        raise InvalidInput(N_("A number is required"), field=field, rule="type")
    return value


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


async def set_rules(*, actor: Actor, settings: Settings, tender_id: UUID,
                    data: ScoringRulesWrite) -> ScoringRulesRead:
    """The officer sets how the tender is scored, before tendering starts (bidders must know it)."""
    t = await tenders.lock_tender(tender_id=tender_id)
    tenders.require_tender_officer(actor, t)
    tw = _finite(data.technical_weight, "technical_weight")
    for i, c in enumerate(data.criteria):
        _finite(c.max_points, f"criteria[{i}].max_points")
    minimum = None if data.technical_minimum is None else _finite(data.technical_minimum, "technical_minimum")
    if t["method"] in domain.PRICE_ONLY_METHODS and (tw != 0 or data.criteria):
        raise InvalidInput(N_("This method is evaluated on price alone"), field="technical_weight",
                           rule="price_only")
    if not (Decimal(0) <= tw <= Decimal(1)):
        raise InvalidInput(N_("A weight must be between 0 and 1"), field="technical_weight", rule="range")
    # Stored as numeric(4,3) and numeric(6,2): refuse what would be rounded (weights summing to 1.001).
    if _decimals(tw) > 3:
        raise InvalidInput(N_("A weight has at most three decimals"), field="technical_weight", rule="precision")
    if minimum is not None and _decimals(minimum) > 2:
        raise InvalidInput(N_("Points have at most two decimals"), field="technical_minimum", rule="precision")
    rules = domain.ScoringRules(
        technical_weight=tw, price_weight=Decimal(1) - tw,
        criteria=tuple(domain.Criterion(c.code, c.name, c.max_points) for c in data.criteria),
        technical_minimum=minimum)
    rules.validate()
    now = clock.now()
    # Judged by the clock too: the sweeper may not yet have moved a tender whose enquiry period ended.
    if t["state"] not in RULES_EDITABLE or (t["enquiry_end"] is not None and t["state"] != State.DRAFT.value
                                            and now >= t["enquiry_end"]):
        raise Conflict(N_("The scoring rules can only change before tendering starts (the tender is {state})"),
                       field="state", rule="state", params={"state": t["state"]})
    criteria = [{"code": c.code, "name": c.name, "max_points": str(c.max_points)} for c in rules.criteria]
    await db.execute(
        "INSERT INTO tender_scoring (tender_id, technical_weight, price_weight, technical_minimum, criteria,"
        " set_by, set_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)"
        " ON CONFLICT (tender_id) DO UPDATE SET technical_weight = EXCLUDED.technical_weight,"
        " price_weight = EXCLUDED.price_weight, technical_minimum = EXCLUDED.technical_minimum,"
        " criteria = EXCLUDED.criteria, set_by = EXCLUDED.set_by, set_at = EXCLUDED.set_at",
        tender_id, rules.technical_weight, rules.price_weight, rules.technical_minimum,
        _canonical.encode(criteria).decode(), actor.user_id, now)
    await audit.record(actor=actor, action="evaluation.rules_set", entity_type="tender", entity_id=tender_id,
                       data=rules.as_dict())
    return _rules_read(tender_id, rules, settings)


# ------------------------------------------------------------------------------------------ committee

async def _committee_lot(actor: Actor, tender_id: UUID, lot_id: UUID,
                         bid_id: UUID) -> tuple[dict[str, Any], dict[str, Any], UUID]:
    """Authorise a committee member of the owning agency; the lot is in evaluation and the bid was opened
    in it. Locks the tender row (awarding takes it too, so entries and the award are ordered)."""
    t = await tenders.lock_tender(tender_id=tender_id)
    if not tenders.can_see(actor, t):
        raise NotFound(N_("Tender not found"))
    require(actor, "agency", *COMMITTEE_ROLES)
    if not _is_agency_member(actor, t):
        raise Forbidden(N_("This tender belongs to another agency"))
    lot = await db.fetchrow("SELECT id, number, state FROM tender_lot WHERE id = $1 AND tender_id = $2",
                            lot_id, tender_id)
    if lot is None:
        raise NotFound(N_("Lot not found"), field="lot_id", rule="exists")
    if lot["state"] != State.EVALUATION.value:
        raise Conflict(N_("The lot is not in evaluation (it is {state})"), field="lot_id", rule="state",
                       params={"state": lot["state"]})
    entry = await db.fetchrow("SELECT bid_id, supplier_id FROM opening_entry WHERE lot_id = $1 AND bid_id = $2",
                              lot_id, bid_id)
    if entry is None:
        raise NotFound(N_("No opened bid with this id in the lot"), field="bid_id", rule="exists")
    return t, lot, entry["supplier_id"]


async def _refuse_out_of_standing(supplier_id: UUID) -> None:
    """A bid of a supplier suspended or disqualified since the opening is not scored (nor qualified)."""
    reason = (await suppliers.standing_reasons(org_ids=[supplier_id])).get(supplier_id)
    if reason is not None:
        raise Conflict(N_("The bidder is not in good standing ({reason}): its bid cannot be scored"),
                       field="bid_id", rule="supplier_good_standing", params={"reason": reason})


async def enter_points(*, actor: Actor, tender_id: UUID, data: TechnicalPointsCreate) -> TechnicalPointsRead:
    """A committee member enters (or corrects) technical points of a bid per criterion."""
    t, _, supplier_id = await _committee_lot(actor, tender_id, data.lot_id, data.bid_id)
    board, _ = await committee.members(tender=t)
    committee.require_member(actor, board)
    await _refuse_out_of_standing(supplier_id)
    rules = await load_rules(tender_id=tender_id)
    if rules.price_only:
        raise Conflict(N_("This tender is evaluated on price alone: there are no technical points"),
                       field="scores", rule="price_only")
    codes = [e.criterion for e in data.scores]
    if len(set(codes)) != len(codes):
        raise InvalidInput(N_("Each criterion once"), field="scores", rule="unique")
    for i, e in enumerate(data.scores):
        try:
            domain.check_technical_points(rules, e.criterion, e.points)
        except InvalidInput as exc:
            exc.field = f"scores[{i}].{exc.field}"
            raise
    now = clock.now()
    assert actor.user_id is not None  # a member of the committee is a person
    agreed = await committee.record_points(
        tender_id=tender_id, lot_id=data.lot_id, bid_id=data.bid_id, member_id=actor.user_id,
        scores={e.criterion: e.points for e in data.scores}, committee=board, now=now)
    await audit.record(actor=actor, action="evaluation.points_entered", entity_type="bid", entity_id=data.bid_id,
                       data={"tender_id": str(tender_id), "lot_id": str(data.lot_id),
                             "scores": {e.criterion: str(e.points) for e in data.scores}})
    scores = await committee.member_points(tender_id=tender_id, lot_id=data.lot_id, bid_id=data.bid_id,
                                           member_id=actor.user_id)
    return TechnicalPointsRead(lot_id=data.lot_id, bid_id=data.bid_id,
                               scores={k: score(v) for k, v in scores.items()},
                               total=score(domain.r2(sum(scores.values(), Decimal(0)))),
                               complete=all(c.code in scores for c in rules.criteria),
                               committee={k: score(v) for k, v in agreed.items()})


async def qualify(*, actor: Actor, tender_id: UUID, data: QualificationCreate) -> QualificationRead:
    """A committee member qualifies or disqualifies a bid (a reason is required to disqualify)."""
    t, _, supplier_id = await _committee_lot(actor, tender_id, data.lot_id, data.bid_id)
    committee.require_member(actor, (await committee.members(tender=t))[0])
    if data.qualified:
        await _refuse_out_of_standing(supplier_id)
    reason = data.reason.strip()
    if not data.qualified and len(reason) < 3:
        raise InvalidInput(N_("A reason is required to disqualify a bid"), field="reason", rule="required")
    now = clock.now()
    await db.execute(
        "INSERT INTO bid_qualification (tender_id, lot_id, bid_id, qualified, reason, decided_by, decided_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (lot_id, bid_id) DO UPDATE SET"
        " qualified = EXCLUDED.qualified, reason = EXCLUDED.reason, decided_by = EXCLUDED.decided_by,"
        " decided_at = EXCLUDED.decided_at",
        tender_id, data.lot_id, data.bid_id, data.qualified, reason, actor.user_id, now)
    await audit.record(actor=actor, action="evaluation.bid_qualified" if data.qualified
                       else "evaluation.bid_disqualified", entity_type="bid", entity_id=data.bid_id,
                       data={"tender_id": str(tender_id), "lot_id": str(data.lot_id), "reason": reason})
    return QualificationRead(lot_id=data.lot_id, bid_id=data.bid_id, qualified=data.qualified, reason=reason,
                             decided_at=now)


# ------------------------------------------------------------------------------------------ evaluation

async def opening_seed(*, tender_id: UUID) -> str:
    """The public draw's seed: the SHA-256 of the published opening record (canonical JSON)."""
    row = await db.fetchrow("SELECT record FROM tender_opening WHERE tender_id = $1", tender_id)
    if row is None:
        return hashlib.sha256(str(tender_id).encode()).hexdigest()
    record = row["record"]
    if isinstance(record, str):
        record = msgspec.json.decode(record)
    return hashlib.sha256(_canonical.encode(record)).hexdigest()


async def bid_facts(*, lot_id: UUID, as_of: datetime | None = None) -> list[domain.BidFacts]:
    """The opened bids of a lot with the committee's entries and the bidder facts (MYPE, domicile) as they
    stood at `as_of` (the tender's publication) in the suppliers' public history, so that switching them
    during the submission period gains nothing; without such a history, those recorded on the bid when it
    was submitted, and the registry's current ones only for bids that predate that record."""
    entries = await db.fetch(
        "SELECT e.bid_id, e.supplier_id, e.price, e.received_at, o.name, o.ubigeo,"
        " b.is_mype AS bid_mype, b.domicile_ubigeo AS bid_ubigeo,"
        " q.qualified, q.reason FROM opening_entry e JOIN organisation o ON o.id = e.supplier_id"
        " JOIN bid b ON b.id = e.bid_id"
        " LEFT JOIN bid_qualification q ON q.lot_id = e.lot_id AND q.bid_id = e.bid_id"
        " WHERE e.lot_id = $1 ORDER BY e.received_at, e.bid_id", lot_id)
    points = await db.fetch("SELECT bid_id, criterion, points FROM technical_score WHERE lot_id = $1", lot_id)
    by_bid: dict[UUID, dict[str, Decimal]] = {}
    for p in points:
        by_bid.setdefault(p["bid_id"], {})[p["criterion"]] = Decimal(p["points"])
    registry = await _registry([e["supplier_id"] for e in entries])
    history = (await suppliers.facts_as_of(org_ids=list({e["supplier_id"] for e in entries}), at=as_of)
               if as_of is not None else {})
    out_of_standing = await suppliers.standing_reasons(org_ids=list({e["supplier_id"] for e in entries}))
    out = []
    for e in entries:
        reg = registry.get(e["supplier_id"])
        known = history.get(e["supplier_id"])
        is_mype = e["bid_mype"] if e["bid_mype"] is not None else bool(reg and reg.mype)
        ubigeo = e["bid_ubigeo"] or (reg.ubigeo if reg else e["ubigeo"])
        if known is not None and known.mype is not None:
            is_mype = known.mype
        if known is not None and known.domicile is not None:
            ubigeo = known.domicile
        out.append(domain.BidFacts(
            bid_id=e["bid_id"], supplier_id=e["supplier_id"], price=e["price"], received_at=e["received_at"],
            is_mype=is_mype, domicile_ubigeo=ubigeo,
            supplier_name=(reg.legal_name if reg else e["name"]), technical=by_bid.get(e["bid_id"], {}),
            disqualified_reason=(e["reason"] or "disqualified") if e["qualified"] is False else None,
            standing_reason=out_of_standing.get(e["supplier_id"]),
        ))
    return out


async def _registry(org_ids: list[UUID]) -> dict[UUID, Any]:
    if not org_ids:
        return {}
    return await suppliers.get_suppliers(org_ids=org_ids)


def lot_facts(t: dict[str, Any], lot: dict[str, Any]) -> domain.LotFacts:
    return domain.LotFacts(lot_id=lot["id"], method=t["method"],
                           kind=policies.lot_kind(t["category"], t["consultancy"]),
                           estimated_value=lot["estimated_value"], place_ubigeo=lot["delivery_ubigeo"])


async def evaluate(*, tender: dict[str, Any], lot: dict[str, Any], policy: policies.AwardPolicy,
                   rules: domain.ScoringRules | None = None, seed: str | None = None) -> domain.LotResult:
    """Score a lot now (raises TechnicalIncomplete when the committee has not finished)."""
    rules = rules or await load_rules(tender_id=tender["id"])
    seed = seed if seed is not None else await opening_seed(tender_id=tender["id"])
    bids = await bid_facts(lot_id=lot["id"], as_of=tender["published_at"])
    return domain.evaluate_lot(lot=lot_facts(tender, lot), rules=rules, bids=bids,
                               geo=domain.default_geography(), policies=policy.bonuses, draw_seed=seed)


async def next_round(*, lot_id: UUID) -> int:
    row = await db.fetchrow("SELECT coalesce(max(round), 0) + 1 AS n FROM score_sheet WHERE lot_id = $1", lot_id)
    return row["n"] if row else 1


async def save_sheet(*, actor: Actor, tender_id: UUID, lot_id: UUID, result: domain.LotResult,
                     now: datetime) -> tuple[UUID, int]:
    rnd = await next_round(lot_id=lot_id)
    sheet = {**result.sheet, "round": rnd, "computed_at": now.isoformat()}
    row = await db.fetchrow(
        "INSERT INTO score_sheet (tender_id, lot_id, round, outcome, sheet, created_by, created_at)"
        " VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7) RETURNING id",
        tender_id, lot_id, rnd, result.outcome, _canonical.encode(sheet).decode(), actor.user_id, now)
    assert row is not None
    return row["id"], rnd


# In a score sheet as the API gives it: points, weights and rates are numbers (rounded to 2 decimals where the
# sheet computes them), amounts are Money (README, "Vocabulary"). The stored sheet keeps the exact text the
# committee's record was computed with; each `computation` string stays the arithmetic written out.
_SHEET_NUMBERS = frozenset({"value", "points", "max_points", "total", "rate", "technical_weight", "price_weight",
                            "price_max", "technical_minimum"})
_SHEET_EXACT = frozenset({"technical_weight", "price_weight", "rate"})  # as given (0.125 stays 0.125)
_SHEET_MONEY = frozenset({"price", "estimated_value", "lowest_valid_price"})


def public_sheet(value: Any, key: str | None = None) -> Any:
    """A score sheet in the API's vocabulary (see _SHEET_NUMBERS, _SHEET_MONEY)."""
    if isinstance(value, dict):
        return {k: public_sheet(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [public_sheet(v, key) for v in value]
    if key in _SHEET_NUMBERS and isinstance(value, str):
        try:
            exact = Decimal(value)
        except ArithmeticError:
            return value
        return float(exact) if key in _SHEET_EXACT else score(exact)
    if key in _SHEET_MONEY and isinstance(value, int) and not isinstance(value, bool):
        return {"amount": value, "currency": "PEN"}
    return value


def _json(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str) else value


async def score_sheets(*, actor: Actor, settings: Settings, tender_id: UUID) -> list[ScoreSheetRead]:
    """Every lot's score sheets: the written ones (public), and for the owning agency a provisional sheet
    of each lot still in evaluation (what the award would compute now, or the points still missing)."""
    t = await tenders.load_tender(tender_id=tender_id)
    if not tenders.can_see(actor, t):
        raise NotFound(N_("Tender not found"))
    lots = await tenders.load_lots(tender_id=tender_id)
    written = await db.fetch("SELECT id, lot_id, round, outcome, sheet, created_at FROM score_sheet"
                             " WHERE tender_id = $1 ORDER BY lot_id, round", tender_id)
    out: list[ScoreSheetRead] = []
    agency = _is_agency_member(actor, t)
    rules = seed = None
    for lot in lots:
        for w in (w for w in written if w["lot_id"] == lot["id"]):
            out.append(ScoreSheetRead(lot_id=lot["id"], lot_number=lot["number"], provisional=False, id=w["id"],
                                      round=w["round"], outcome=w["outcome"], created_at=w["created_at"],
                                      sheet=public_sheet(_json(w["sheet"]))))
        if agency and lot["state"] == State.EVALUATION.value:
            if rules is None:
                rules = await load_rules(tender_id=tender_id)
                seed = await opening_seed(tender_id=tender_id)
            try:
                result = await evaluate(tender=t, lot=lot, policy=policies.of(settings), rules=rules, seed=seed)
            except domain.TechnicalIncomplete:
                out.append(ScoreSheetRead(lot_id=lot["id"], lot_number=lot["number"], provisional=True,
                                          missing=await _missing(lot["id"], rules)))
                continue
            out.append(ScoreSheetRead(lot_id=lot["id"], lot_number=lot["number"], provisional=True,
                                      outcome=result.outcome, sheet=public_sheet(result.sheet)))
    return out


async def _missing(lot_id: UUID, rules: domain.ScoringRules) -> list[dict[str, Any]]:
    out = []
    for b in await bid_facts(lot_id=lot_id):
        if b.disqualified_reason:
            continue
        missing = [c.code for c in rules.criteria if c.code not in (b.technical or {})]
        if missing:
            out.append({"bid_id": str(b.bid_id), "criteria": missing})
    return out
