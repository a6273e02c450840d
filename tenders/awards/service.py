"""Award use cases: award per lot (or desierto), standstill in business days, consent, appeals.

Outbox topics emitted here (payloads carry ids as strings and times in RFC 3339):

- 'award.created'    {award_id, tender_id, ocid, lot_id, bid_id, supplier_id, value, currency, final_score,
                      standstill_ends_at, score_sheet_id, round}
- 'lot.unsuccessful' {tender_id, ocid, lot_id, score_sheet_id, round, reason}        (desierto)
- 'award.appealed'   {award_id, appeal_id, tender_id, lot_id, appellant_id, filed_at}
- 'appeal.decided'   {award_id, appeal_id, tender_id, lot_id, decision, reason, decided_at}
- 'award.consented'  {award_id, tender_id, ocid, lot_id, bid_id, supplier_id, value, currency, consented_at}
                     (contracts consume it)
- 'award.cancelled'  {award_id, tender_id, lot_id, reason, cancelled_at}
- 'appeal.bond_due'  {appeal_id, award_id, tender_id, lot_id, appellant_id, agency_id, bond_cents, currency}
                     (payments consume it: the bond's payment is requested)
- 'appeal.bond_refund_due' {appeal_id, award_id, reason}   (payments consume it: a paid bond goes back)

Payments sit above tenders: this module never calls them. It learns that a bond was paid from the
'appeal_bond.paid' event (jobs.py; `_admit_paid_bonds` also reads one still on its way).

Locks: awarding locks the tender row (as committee entries do); appeals, decisions and consent lock the
award row first, so an appeal filed at the last second and the consent job are ordered by that lock and
judged by the clock read after it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from marketplace.core import audit, clock, db, outbox
from marketplace.core.actor import SYSTEM, Actor, require
from marketplace.core.errors import Conflict, Forbidden, NotFound
from marketplace.core.i18n import N_
from marketplace.core.money import Money, percent_of, score
from marketplace.settings import Settings
from suppliers import service as suppliers
from tenders import service as tenders
from tenders.awards import domain
from tenders.awards.domain import APPEAL, AWARD
from tenders.awards.schemas import (
    AppealCreate,
    AppealDecisionCreate,
    AppealRead,
    AwardCreate,
    AwardRead,
    AwardResult,
    LotOutcome,
)
from tenders.domain import Action, State
from tenders.evaluation import acta
from tenders.evaluation import policy as policies
from tenders.evaluation import service as evaluation

TOPIC_CREATED = "award.created"
TOPIC_UNSUCCESSFUL = "lot.unsuccessful"
TOPIC_APPEALED = "award.appealed"
TOPIC_APPEAL_DECIDED = "appeal.decided"
TOPIC_APPEAL_ADMITTED = "appeal.admitted"
TOPIC_CONSENTED = "award.consented"
TOPIC_CANCELLED = "award.cancelled"
TOPIC_BOND_DUE = "appeal.bond_due"
TOPIC_BOND_REFUND_DUE = "appeal.bond_refund_due"
PAID_BONDS_CONSUMER = "awards.paid_bonds"  # jobs.py: 'appeal_bond.paid' admits the appeal

BIDDER_ROLES = ("bidder", "supplier_admin")
# Who may decide an appeal: its deciding body (domain.deciding_body). The agency's head only of its own agency.
DECIDING_ROLES = {domain.AGENCY_HEAD: ("agency", "agency_head"), domain.TRIBUNAL: ("oversight", "tribunal")}

_AWARD_COLUMNS = (
    "a.id, a.tender_id, a.lot_id, a.bid_id, a.supplier_id, o.name AS supplier_name, a.value, a.currency,"
    " a.final_score, a.state, a.standstill_days, a.notified_at, a.standstill_ends_at, a.score_sheet_id,"
    " a.consented_at, a.cancelled_at, a.cancel_reason"
)


def _award_read(row: dict[str, Any]) -> AwardRead:
    return AwardRead(**{k: row[k] for k in AwardRead.__struct_fields__ if k not in ("value", "final_score")},
                     value=Money(amount=row["value"], currency=row["currency"].strip()),
                     final_score=score(row["final_score"]))


async def _award_row(award_id: UUID, *, lock: bool = False) -> dict[str, Any]:
    sql = f"SELECT {_AWARD_COLUMNS} FROM award a JOIN organisation o ON o.id = a.supplier_id WHERE a.id = $1"
    if lock:
        sql += " FOR UPDATE OF a"
    row = await db.fetchrow(sql, award_id)
    if row is None:
        raise NotFound(N_("Award not found"))
    return row


# -------------------------------------------------------------------------------------------- award

async def award(*, actor: Actor, settings: Settings, tender_id: UUID, data: AwardCreate) -> AwardResult:
    """Score every lot in evaluation (or the listed ones), award each to its first-ranked bid or declare it
    desierto when no bid is valid; the standstill runs from now for the method's business days."""
    t = await tenders.lock_tender(tender_id=tender_id)
    tenders.require_tender_officer(actor, t)
    lots = await tenders.load_lots(tender_id=tender_id)
    if data.lot_ids is not None:
        by_id = {lot["id"]: lot for lot in lots}
        unknown = [i for i in data.lot_ids if i not in by_id]
        if unknown:
            raise NotFound(N_("Lot not found"), field="lot_ids", rule="exists")
        chosen = [by_id[i] for i in dict.fromkeys(data.lot_ids)]
        not_ready = [lot for lot in chosen if lot["state"] != State.EVALUATION.value]
        if not_ready:
            raise Conflict(N_("Lot {number} is not in evaluation (it is {state})"), field="lot_ids", rule="state",
                           params={"number": not_ready[0]["number"], "state": not_ready[0]["state"]})
    else:
        chosen = [lot for lot in lots if lot["state"] == State.EVALUATION.value]
    if not chosen:
        raise Conflict(N_("No lot of this tender is in evaluation (the tender is {state})"), field="state",
                       rule="state", params={"state": t["state"]})
    gate = __import__("tenders.auctions.gate", fromlist=["x"])
    await gate.check_awardable(lot_ids=[lot["id"] for lot in chosen])  # live auctions first
    await acta.require_confirmed(actor=actor, settings=settings, t=t)  # the whole committee confirmed its acta
    policy = policies.of(settings)
    rules = await evaluation.load_rules(tender_id=tender_id)
    seed = await evaluation.opening_seed(tender_id=tender_id)
    # Score every lot first: an incomplete evaluation refuses the whole request before anything is written.
    results = [(lot, await evaluation.evaluate(tender=t, lot=lot, rules=rules, policy=policy, seed=seed))
               for lot in chosen]
    now = clock.now()
    days = policy.standstill_for(t["method"], t.get("standstill_days"))
    if settings.training:  # the sandbox: a business day of the standstill lasts TRAINING_DAY_SECONDS
        ends = now + days * timedelta(seconds=settings.training_day_seconds)
    else:
        ends = policy.calendar.ends_after_business_days(now, days)
    outcomes: list[LotOutcome] = []
    for lot, result in results:
        sheet_id, rnd = await evaluation.save_sheet(actor=actor, tender_id=tender_id, lot_id=lot["id"],
                                                    result=result, now=now)
        winner = result.winner
        if winner is None:
            await tenders.apply_lot_action(actor=actor, tender_id=tender_id, lot_id=lot["id"],
                                           action=Action.DECLARE_UNSUCCESSFUL, reason="no valid bid", locked=t)
            await audit.record(actor=actor, action="lot.unsuccessful", entity_type="tender_lot", entity_id=lot["id"],
                               data={"tender_id": str(tender_id), "score_sheet_id": str(sheet_id), "round": rnd})
            await outbox.emit(topic=TOPIC_UNSUCCESSFUL, aggregate_type="tender", aggregate_id=tender_id, payload={
                "tender_id": str(tender_id), "ocid": t["ocid"], "lot_id": str(lot["id"]),
                "score_sheet_id": str(sheet_id), "round": rnd, "reason": "no valid bid"})
            outcomes.append(LotOutcome(lot_id=lot["id"], lot_number=lot["number"], outcome="unsuccessful",
                                       score_sheet_id=sheet_id))
            continue
        state = AWARD.next(AWARD.initial, "notify")
        row = await db.fetchrow(
            "INSERT INTO award (tender_id, lot_id, score_sheet_id, bid_id, supplier_id, value, currency,"
            " final_score, state, standstill_days, notified_at, standstill_ends_at, created_by, created_at,"
            " state_changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $11, $11)"
            " RETURNING id",
            tender_id, lot["id"], sheet_id, winner.bid.bid_id, winner.bid.supplier_id, winner.bid.price,
            t["currency"], winner.final, state, days, now, ends, actor.user_id)
        assert row is not None
        award_id = row["id"]
        await tenders.apply_lot_action(actor=actor, tender_id=tender_id, lot_id=lot["id"], action=Action.AWARD,
                                       locked=t)
        await audit.record(actor=actor, action="award.created", entity_type="award", entity_id=award_id, data={
            "tender_id": str(tender_id), "lot_id": str(lot["id"]), "bid_id": str(winner.bid.bid_id),
            "supplier_id": str(winner.bid.supplier_id), "value": winner.bid.price,
            "final_score": str(winner.final), "standstill_days": days, "standstill_ends_at": ends.isoformat(),
            "score_sheet_id": str(sheet_id), "round": rnd})
        await outbox.emit(topic=TOPIC_CREATED, aggregate_type="award", aggregate_id=award_id, payload={
            "award_id": str(award_id), "tender_id": str(tender_id), "ocid": t["ocid"], "lot_id": str(lot["id"]),
            "bid_id": str(winner.bid.bid_id), "supplier_id": str(winner.bid.supplier_id),
            "value": winner.bid.price, "currency": t["currency"], "final_score": str(winner.final),
            "standstill_ends_at": ends.isoformat(), "score_sheet_id": str(sheet_id), "round": rnd,
            "awarded_at": now.isoformat()})
        outcomes.append(LotOutcome(lot_id=lot["id"], lot_number=lot["number"], outcome="awarded",
                                   score_sheet_id=sheet_id, award=_award_read(await _award_row(award_id))))
    return AwardResult(tender_id=tender_id, lots=outcomes)


async def get_award(*, actor: Actor, award_id: UUID) -> AwardRead:
    """Awards are public."""
    return _award_read(await _award_row(award_id))


async def list_awards(*, actor: Actor, tender_id: UUID) -> list[AwardRead]:
    t = await tenders.load_tender(tender_id=tender_id)
    if not tenders.can_see(actor, t):
        raise NotFound(N_("Tender not found"))
    rows = await db.fetch(f"SELECT {_AWARD_COLUMNS} FROM award a JOIN organisation o ON o.id = a.supplier_id"
                          " WHERE a.tender_id = $1 ORDER BY a.created_at, a.id", tender_id)
    return [_award_read(r) for r in rows]


# ------------------------------------------------------------------------------------------ consent

async def _set_award_state(*, actor: Actor, a: dict[str, Any], action: str, now: datetime,
                           reason: str | None = None) -> str:
    target = AWARD.next(a["state"], action)
    extra = ""
    if target == "consented":
        extra = ", consented_at = $3"
    elif target == "cancelled":
        extra = ", cancelled_at = $3, cancel_reason = $4"
    args: list[Any] = [a["id"], target, now]
    if target == "cancelled":
        args.append(reason)
    await db.execute(f"UPDATE award SET state = $2, state_changed_at = $3{extra} WHERE id = $1", *args)
    await audit.record(actor=actor, action=f"award.{action}", entity_type="award", entity_id=a["id"],
                       data={"from": a["state"], "to": target, "reason": reason,
                             "tender_id": str(a["tender_id"]), "lot_id": str(a["lot_id"])})
    if target == "consented":
        t = await tenders.load_tender(tender_id=a["tender_id"])
        await outbox.emit(topic=TOPIC_CONSENTED, aggregate_type="award", aggregate_id=a["id"], payload={
            "award_id": str(a["id"]), "tender_id": str(a["tender_id"]), "ocid": t["ocid"],
            "lot_id": str(a["lot_id"]), "bid_id": str(a["bid_id"]), "supplier_id": str(a["supplier_id"]),
            "value": a["value"], "currency": a["currency"], "consented_at": now.isoformat()})
    elif target == "cancelled":
        await outbox.emit(topic=TOPIC_CANCELLED, aggregate_type="award", aggregate_id=a["id"], payload={
            "award_id": str(a["id"]), "tender_id": str(a["tender_id"]), "lot_id": str(a["lot_id"]),
            "reason": reason, "cancelled_at": now.isoformat()})
    return target


async def _moot_open_appeals(*, actor: Actor, award_id: UUID, now: datetime, reason: str,
                             except_id: UUID | None = None) -> None:
    rows = await db.fetch("SELECT id, state FROM award_appeal WHERE award_id = $1 AND state = ANY($3::text[])"
                          " AND id IS DISTINCT FROM $2 FOR UPDATE", award_id, except_id,
                          list(domain.OPEN_APPEAL_STATES))
    for r in rows:
        # A paid bond goes back to an appellant whose appeal will never be heard ('appeal.bond_refund_due',
        # emitted by _lapse_appeal; payments refund it if it was paid).
        await _lapse_appeal(actor=actor, appeal_id=r["id"], state=r["state"], now=now, reason=reason)


async def _admit_paid_bonds(*, actor: Actor, award_id: UUID) -> None:
    """Appeals whose bond is already paid but not yet admitted (their 'appeal_bond.paid' event is committed but
    the consumer has not handled it yet): admit them now, judged by when the bond was paid, before the consent
    job decides."""
    rows = await db.fetch("SELECT id FROM award_appeal WHERE award_id = $1 AND state = 'pending_bond'", award_id)
    if not rows:
        return
    paid = await outbox.pending_for(PAID_BONDS_CONSUMER, topic="appeal_bond.paid",
                                    aggregate_ids=[r["id"] for r in rows])
    for ev in sorted(paid, key=lambda e: e.aggregate_id):
        await admit_paid_appeal(appeal_id=UUID(ev.aggregate_id), paid_at=bond_paid_at(ev), actor=actor)


def bond_paid_at(ev: outbox.OutboxEvent) -> datetime:
    """When an 'appeal_bond.paid' event says the bond was paid (when it was recorded, if it does not say)."""
    settled = ev.payload.get("settled_at")
    return datetime.fromisoformat(settled) if settled else ev.created_at


async def due_award_ids(*, limit: int = 200) -> list[UUID]:
    """The consent job's work list: awards in standstill whose period is over, or whose lot was cancelled."""
    rows = await db.fetch(
        "SELECT a.id FROM award a JOIN tender_lot l ON l.id = a.lot_id WHERE"
        " (a.state = 'standstill' AND a.standstill_ends_at <= $1)"
        " OR (a.state <> 'cancelled' AND l.state = 'cancelled')"
        " ORDER BY a.standstill_ends_at LIMIT $2", clock.now(), limit)
    return [r["id"] for r in rows]


async def settle(*, award_id: UUID, actor: Actor = SYSTEM) -> str | None:
    """What the consent job does for one award, idempotently, under the award's row lock: consent it
    when its standstill is over with no open appeal; cancel it when its lot was cancelled. Returns the new
    state, or None when there was nothing to do."""
    a = await _award_row(award_id, lock=True)
    now = clock.now()
    lot = await db.fetchrow("SELECT state, cancel_reason FROM tender_lot WHERE id = $1", a["lot_id"])
    if lot and lot["state"] == State.CANCELLED.value and a["state"] != "cancelled":
        reason = "lot cancelled" + (f": {lot['cancel_reason']}" if lot["cancel_reason"] else "")
        await _moot_open_appeals(actor=actor, award_id=award_id, now=now, reason=reason)
        return await _set_award_state(actor=actor, a=a, action="cancel", now=now, reason=reason)
    if a["state"] == "standstill" and not domain.in_standstill(now, a["standstill_ends_at"]):
        await _admit_paid_bonds(actor=actor, award_id=award_id)
        admitted = await _award_row(award_id, lock=True)
        if admitted["state"] != a["state"]:
            return str(admitted["state"])
    open_appeals = await _open_appeals(award_id)
    if domain.can_consent(state=a["state"], now=now, standstill_ends_at=a["standstill_ends_at"],
                          open_appeals=open_appeals):
        # Appeals whose bond never arrived lapse with the standstill.
        await _moot_open_appeals(actor=actor, award_id=award_id, now=now,
                                 reason="the bond was not paid within the standstill")
        return await _set_award_state(actor=actor, a=a, action="consent", now=now)
    return None


async def _open_appeals(award_id: UUID, except_id: UUID | None = None) -> int:
    row = await db.fetchrow("SELECT count(*) AS n FROM award_appeal WHERE award_id = $1 AND state = 'filed'"
                            " AND id IS DISTINCT FROM $2", award_id, except_id)
    return row["n"] if row else 0


# ------------------------------------------------------------------------------------------ appeals

_APPEAL_COLUMNS = (
    "p.id, p.award_id, p.tender_id, p.lot_id, p.appellant_id, o.name AS appellant_name, p.grounds, p.state,"
    " p.filed_at, p.decided_at, p.decision_reason, p.bond_cents, p.deciding_body, a.state AS award_state, a.currency"
)


async def _appeal_row(appeal_id: UUID, award_id: UUID) -> dict[str, Any]:
    row = await db.fetchrow(
        f"SELECT {_APPEAL_COLUMNS} FROM award_appeal p JOIN organisation o ON o.id = p.appellant_id"
        " JOIN award a ON a.id = p.award_id WHERE p.id = $1 AND p.award_id = $2", appeal_id, award_id)
    if row is None:
        raise NotFound(N_("Appeal not found"))
    return row


def _appeal_read(row: dict[str, Any]) -> AppealRead:
    bond = Money(amount=row["bond_cents"], currency=row["currency"].strip()) if row["bond_cents"] else None
    return AppealRead(**{k: row[k] for k in AppealRead.__struct_fields__ if k != "bond"}, bond=bond)


async def file_appeal(*, actor: Actor, award_id: UUID, data: AppealCreate,
                      bond_percent: Decimal = Decimal(0),
                      tribunal_above_cents: int = domain.DEFAULT_TRIBUNAL_ABOVE_CENTS) -> AppealRead:
    """A bidder of the lot (not the awardee) appeals during the standstill.

    Where the appeal owes a bond (`bond_percent` of the lot's estimated value, APPEAL_BOND_PERCENT) the bond
    is asked of payments in this same transaction ('appeal.bond_due') and the appeal waits for it
    ('pending_bond'): the award stays in standstill until the bond is paid (`admit_paid_appeal`); an appeal
    still unpaid when the standstill ends lapses. With no bond owed the appeal suspends consent at once.
    Who will decide it is fixed now: the agency's head when the lot's estimated value is at most
    `tribunal_above_cents` (APPEAL_TRIBUNAL_UIT x UIT_VALUE_CENTS), else the Tribunal."""
    require(actor, "supplier", *BIDDER_ROLES)
    if actor.org_id is None:  # a system actor passes `require`, but only a supplier organisation can appeal
        raise Forbidden(N_("Only a bidder of this lot may appeal its award"))
    await suppliers.require_good_standing(org_id=actor.org_id)
    a = await _award_row(award_id, lock=True)
    entry = await db.fetchrow("SELECT bid_id FROM opening_entry WHERE lot_id = $1 AND supplier_id = $2",
                              a["lot_id"], actor.org_id)
    if entry is None:
        raise Forbidden(N_("Only a bidder of this lot may appeal its award"))
    if actor.org_id == a["supplier_id"]:
        raise Forbidden(N_("The awarded bidder cannot appeal its own award"))
    now = clock.now()
    lot = await db.fetchrow(
        "SELECT l.state, l.estimated_value, t.agency_id, t.currency FROM tender_lot l"
        " JOIN tender t ON t.id = l.tender_id WHERE l.id = $1", a["lot_id"])
    assert lot is not None
    if lot["state"] == State.CANCELLED.value:
        raise Conflict(N_("The lot was cancelled"), field="award", rule="lot_cancelled")
    target = domain.check_can_appeal(state=a["state"], now=now, standstill_ends_at=a["standstill_ends_at"])
    mine = await db.fetchrow("SELECT id FROM award_appeal WHERE award_id = $1 AND appellant_id = $2"
                             " AND state = ANY($3::text[])", award_id, actor.org_id, list(domain.OPEN_APPEAL_STATES))
    if mine is not None:
        raise Conflict(N_("You already have an open appeal against this award"), field="award", rule="duplicate")
    owes_bond = domain.bond_required(bond_percent=bond_percent, estimated_value_cents=lot["estimated_value"])
    state = domain.first_appeal_state(owes_bond=owes_bond)
    body = domain.deciding_body(estimated_value_cents=lot["estimated_value"], tribunal_above_cents=tribunal_above_cents)
    row = await db.fetchrow(
        "INSERT INTO award_appeal (award_id, tender_id, lot_id, appellant_id, filed_by, bid_id, grounds, state,"
        " filed_at, deciding_body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        award_id, a["tender_id"], a["lot_id"], actor.org_id, actor.user_id, entry["bid_id"], data.grounds,
        state, now, body)
    assert row is not None
    appeal_id = row["id"]
    bond_cents = 0
    if owes_bond:
        # The bond (bond_percent of the lot's estimated value, at least a céntimo) is requested from payments
        # by the event; the appellant pays it there.
        bond_cents = max(1, percent_of(lot["estimated_value"], bond_percent))
        await db.execute("UPDATE award_appeal SET bond_cents = $2 WHERE id = $1", appeal_id, bond_cents)
        await outbox.emit(topic=TOPIC_BOND_DUE, aggregate_type="award", aggregate_id=award_id, payload={
            "appeal_id": str(appeal_id), "award_id": str(award_id), "tender_id": str(a["tender_id"]),
            "lot_id": str(a["lot_id"]), "appellant_id": str(actor.org_id), "agency_id": str(lot["agency_id"]),
            "bond_cents": bond_cents, "currency": lot["currency"].strip()})
        target = a["state"]  # consent is suspended only once the bond is paid
    if a["state"] != target:
        await db.execute("UPDATE award SET state = $2, state_changed_at = $3 WHERE id = $1", award_id, target, now)
    await audit.record(actor=actor, action="award.appeal", entity_type="award", entity_id=award_id, data={
        "appeal_id": str(appeal_id), "from": a["state"], "to": target, "appellant_id": str(actor.org_id),
        "bond_cents": bond_cents})
    await outbox.emit(topic=TOPIC_APPEALED, aggregate_type="award", aggregate_id=award_id, payload={
        "award_id": str(award_id), "appeal_id": str(appeal_id), "tender_id": str(a["tender_id"]),
        "lot_id": str(a["lot_id"]), "appellant_id": str(actor.org_id), "filed_at": now.isoformat(),
        "state": state, "bond_cents": bond_cents, "deciding_body": body})
    return _appeal_read(await _appeal_row(appeal_id, award_id))


async def admit_paid_appeal(*, appeal_id: UUID, paid_at: datetime | None = None,
                            actor: Actor = SYSTEM) -> str | None:
    """The appeal's bond was paid (at `paid_at`, from the 'appeal_bond.paid' event): within the standstill
    the appeal opens and suspends consent; paid after the standstill (or once the award moved on) it lapses
    and its bond is refunded. Idempotent: returns the appeal's new state, or None when it was no longer
    waiting for its bond."""
    p = await db.fetchrow("SELECT award_id FROM award_appeal WHERE id = $1", appeal_id)
    if p is None:
        return None
    a = await _award_row(p["award_id"], lock=True)
    p = await db.fetchrow("SELECT id, state FROM award_appeal WHERE id = $1 FOR UPDATE", appeal_id)
    if p is None:
        return None
    now = clock.now()
    # Judged by when the bond was paid, not when this runs: a late webhook or outbox costs no appeal.
    paid_at = paid_at or now
    if (p["state"] == "pending_bond" and a["state"] in ("standstill", "appealed")
            and domain.in_standstill(paid_at, a["standstill_ends_at"])):
        new_state = APPEAL.next(p["state"], "admit")
        await db.execute("UPDATE award_appeal SET state = $2 WHERE id = $1", appeal_id, new_state)
        if a["state"] != "appealed":
            await _set_award_state(actor=actor, a=a, action="appeal", now=now)
        await audit.record(actor=actor, action="appeal.admitted", entity_type="award_appeal",
                           entity_id=appeal_id, data={"award_id": str(a["id"])})
        await outbox.emit(topic=TOPIC_APPEAL_ADMITTED, aggregate_type="award", aggregate_id=a["id"], payload={
            "award_id": str(a["id"]), "appeal_id": str(appeal_id), "tender_id": str(a["tender_id"]),
            "lot_id": str(a["lot_id"]), "admitted_at": now.isoformat()})
        return new_state
    if p["state"] == "pending_bond":
        await _lapse_appeal(actor=actor, appeal_id=appeal_id, state=p["state"], now=now,
                            reason="the bond was paid after the standstill ended")
    if p["state"] == "moot":  # paid for an appeal that can no longer be heard: the money goes back
        await _bond_refund_due(appeal_id=appeal_id, award_id=a["id"], reason="the bond was paid after it lapsed")
    if p["state"] in ("pending_bond", "moot"):  # (a pending one lapsed just above, which says the same)
        return "moot"
    return None


async def _lapse_appeal(*, actor: Actor, appeal_id: UUID, state: str, now: datetime, reason: str) -> None:
    row = await db.fetchrow("UPDATE award_appeal SET state = $2, decided_at = $3, decision_reason = $4 WHERE id = $1"
                            " RETURNING award_id", appeal_id, APPEAL.next(state, "moot"), now, reason)
    await audit.record(actor=actor, action="appeal.moot", entity_type="award_appeal", entity_id=appeal_id,
                       data={"reason": reason})
    assert row is not None
    await _bond_refund_due(appeal_id=appeal_id, award_id=row["award_id"], reason=reason)


async def _bond_refund_due(*, appeal_id: UUID, award_id: UUID, reason: str) -> None:
    """The appeal will never be heard: its bond, if paid, goes back to the appellant (payments refund it;
    the refund is the platform's doing whoever lapsed the appeal, and is idempotent by its key)."""
    await outbox.emit(topic=TOPIC_BOND_REFUND_DUE, aggregate_type="award", aggregate_id=award_id, payload={
        "appeal_id": str(appeal_id), "award_id": str(award_id), "reason": reason})


async def decide_appeal(*, actor: Actor, award_id: UUID, appeal_id: UUID,
                        data: AppealDecisionCreate) -> AppealRead:
    """The appeal's deciding body decides (the agency's head of the tender's agency, or the Tribunal; see
    `file_appeal`): upheld cancels the award and sends the lot back to evaluation (the committee re-evaluates,
    the officer awards again); dismissed lets consent proceed."""
    require(actor, ("agency", "oversight"), "agency_head", "tribunal")
    a = await _award_row(award_id, lock=True)
    p = await db.fetchrow("SELECT id, state, deciding_body FROM award_appeal WHERE id = $1 AND award_id = $2"
                          " FOR UPDATE", appeal_id, award_id)
    if p is None:
        raise NotFound(N_("Appeal not found"))
    await _require_deciding_body(actor, body=p["deciding_body"], tender_id=a["tender_id"])
    now = clock.now()
    new_state = APPEAL.next(p["state"], "uphold" if data.decision == "upheld" else "dismiss")
    await db.execute("UPDATE award_appeal SET state = $2, decided_at = $3, decided_by = $4, decision_reason = $5"
                     " WHERE id = $1", appeal_id, new_state, now, actor.user_id, data.reason)
    await audit.record(actor=actor, action="appeal.decided", entity_type="award_appeal", entity_id=appeal_id,
                       data={"award_id": str(award_id), "decision": data.decision, "reason": data.reason})
    await outbox.emit(topic=TOPIC_APPEAL_DECIDED, aggregate_type="award", aggregate_id=award_id, payload={
        "award_id": str(award_id), "appeal_id": str(appeal_id), "tender_id": str(a["tender_id"]),
        "lot_id": str(a["lot_id"]), "decision": data.decision, "reason": data.reason,
        "decided_at": now.isoformat()})
    action = domain.after_decision(decision=data.decision, other_open_appeals=await _open_appeals(award_id),
                                   now=now, standstill_ends_at=a["standstill_ends_at"])
    if action == "uphold":
        reason = f"appeal upheld: {data.reason}"
        await _moot_open_appeals(actor=actor, award_id=award_id, now=now, reason="another appeal was upheld")
        await _set_award_state(actor=actor, a=a, action="uphold", now=now, reason=reason)
        await tenders.apply_lot_action(actor=actor, tender_id=a["tender_id"], lot_id=a["lot_id"],
                                       action=Action.REOPEN_EVALUATION, reason=reason)
    elif action is not None:
        await _set_award_state(actor=actor, a=a, action=action, now=now)
    return _appeal_read(await _appeal_row(appeal_id, award_id))


_DECIDED_BY = {domain.AGENCY_HEAD: N_("This appeal is decided by the head of the tender's agency"),
               domain.TRIBUNAL: N_("This appeal is decided by the Tribunal de Contrataciones del Estado")}


async def _require_deciding_body(actor: Actor, *, body: str, tender_id: UUID) -> None:
    """The actor is the appeal's deciding body: the Tribunal, or the head of the agency whose tender it is."""
    if actor.via == "system":
        return
    kind, role = DECIDING_ROLES[body]
    if not actor.is_(kind, role):
        raise Forbidden(_DECIDED_BY[body], field="deciding_body", rule="deciding_body", params={"body": body})
    if body == domain.AGENCY_HEAD:
        t = await tenders.load_tender(tender_id=tender_id)
        if not actor.member_of(t["agency_id"]):
            raise Forbidden(N_("This tender belongs to another agency"))


async def list_appeals(*, actor: Actor, award_id: UUID) -> list[AppealRead]:
    """Appeals are public (the grounds and the decision are part of the record)."""
    await _award_row(award_id)
    rows = await db.fetch(
        f"SELECT {_APPEAL_COLUMNS} FROM award_appeal p JOIN organisation o ON o.id = p.appellant_id"
        " JOIN award a ON a.id = p.award_id WHERE p.award_id = $1 ORDER BY p.filed_at, p.id", award_id)
    return [_appeal_read(r) for r in rows]


async def pending_appeals(*, actor: Actor, state: str | None = "filed", limit: int = 100,
                          offset: int = 0, deciding_body: str | None = None) -> list[AppealRead]:
    """Appeals across awards (public), oldest first: what the deciding bodies have to decide ('filed' by
    default; `deciding_body` for one body's work list)."""
    rows = await db.fetch(
        f"SELECT {_APPEAL_COLUMNS} FROM award_appeal p JOIN organisation o ON o.id = p.appellant_id"
        " JOIN award a ON a.id = p.award_id WHERE ($1::text IS NULL OR p.state = $1)"
        " AND ($4::text IS NULL OR p.deciding_body = $4)"
        " ORDER BY p.filed_at, p.id LIMIT $2 OFFSET $3", state, limit, offset, deciding_body)
    return [_appeal_read(r) for r in rows]
