"""Contracts use cases: a contract from a consented award or an accepted order, milestones, signature with
a performance guarantee, amendments (cumulative % kept), deliveries and their acceptance (conformidad),
milestone payments (through payments.service), termination.

Every write locks the contract row first (SELECT ... FOR UPDATE), checks the move with the state objects
in domain.py, writes an audit event and an outbox event in the same transaction. Outbox topics:
'contract.created', 'contract.signed', 'contract.amended', 'contract.terminated', 'contract.completed',
'milestone.delivered', 'milestone.accepted', 'milestone.rejected', 'milestone.paid',
'milestone.payment_reversed'; payloads carry {contract_id, agency_org_id, supplier_org_id, ...}.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from marketplace.contracts import domain
from marketplace.contracts.domain import CONTRACT, MILESTONE
from marketplace.contracts.schemas import (
    AmendmentCreate,
    ContractSign,
    DeliveryCreate,
    DocumentCreate,
    MilestoneCreate,
)
from marketplace.core import audit, clock, db, outbox
from marketplace.core.actor import SYSTEM, Actor, require, require_authenticated, require_member
from marketplace.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from marketplace.core.i18n import N_

AGENCY_WRITERS = ("officer", "agency_admin")
SUPPLIER_WRITERS = ("bidder", "supplier_admin")


# --- reads ------------------------------------------------------------------------------------------

def _scope(actor: Actor, alias: str = "c") -> tuple[str, list[Any]]:
    require_authenticated(actor)
    if actor.via == "system" or actor.is_("platform", "admin") or actor.is_("oversight", "auditor"):
        return "true", []
    if actor.org_kind == "agency":
        return f"{alias}.agency_org_id = $1", [actor.org_id]
    if actor.org_kind == "supplier":
        return f"{alias}.supplier_org_id = $1", [actor.org_id]
    raise Forbidden(N_("Your role does not allow this action"))


async def list_contracts(*, actor: Actor, state: str | None = None, limit: int = 50,
                         offset: int = 0) -> list[dict[str, Any]]:
    where, args = _scope(actor)
    if state is not None:
        args.append(state)
        where += f" AND c.state = ${len(args)}"
    args += [limit, offset]
    return await db.fetch(f"SELECT c.* FROM contract c WHERE {where} ORDER BY c.created_at DESC, c.id"
                          f" LIMIT ${len(args) - 1} OFFSET ${len(args)}", *args)


async def get_contract(*, actor: Actor, contract_id: UUID) -> dict[str, Any]:
    where, args = _scope(actor)
    args.append(contract_id)
    row = await db.fetchrow(f"SELECT c.* FROM contract c WHERE {where} AND c.id = ${len(args)}", *args)
    if row is None:
        raise NotFound(N_("Contract not found"))
    return row


async def contract_detail(*, actor: Actor, contract_id: UUID) -> dict[str, Any]:
    from marketplace.payments import service as payments

    row = await get_contract(actor=actor, contract_id=contract_id)
    row["milestones"] = await milestones(contract_id=contract_id)
    row["amendments"] = await db.fetch(
        "SELECT * FROM contract_amendment WHERE contract_id = $1 ORDER BY seq", contract_id)
    row["deliveries"] = await db.fetch(
        "SELECT * FROM contract_delivery WHERE contract_id = $1 ORDER BY submitted_at, id", contract_id)
    row["documents"] = await db.fetch(
        "SELECT * FROM contract_document WHERE contract_id = $1 ORDER BY created_at, id", contract_id)
    row["balance"] = await payments.contract_balance(contract_id=contract_id)
    return row


async def milestones(*, contract_id: UUID) -> list[dict[str, Any]]:
    return await db.fetch("SELECT * FROM contract_milestone WHERE contract_id = $1 ORDER BY seq", contract_id)


async def balance(*, actor: Actor, contract_id: UUID) -> dict[str, Any]:
    from marketplace.payments import service as payments

    await get_contract(actor=actor, contract_id=contract_id)
    return await payments.contract_balance(contract_id=contract_id)


# --- helpers ----------------------------------------------------------------------------------------

async def _lock(contract_id: UUID) -> dict[str, Any]:
    row = await db.fetchrow("SELECT * FROM contract WHERE id = $1 FOR UPDATE", contract_id)
    if row is None:
        raise NotFound(N_("Contract not found"))
    return row


async def _lock_for_agency(actor: Actor, contract_id: UUID) -> dict[str, Any]:
    """The contract locked, for a writer of its agency (others: 404 when they may not see it, else 403)."""
    require_authenticated(actor)
    await get_contract(actor=actor, contract_id=contract_id)  # 404 for outsiders
    require(actor, "agency", *AGENCY_WRITERS)
    c = await _lock(contract_id)
    require_member(actor, c["agency_org_id"])
    return c


def _payload(c: dict[str, Any], **extra: Any) -> dict[str, Any]:
    out = {"contract_id": str(c["id"]), "agency_org_id": str(c["agency_org_id"]),
           "supplier_org_id": str(c["supplier_org_id"]), "state": c["state"],
           "value_cents": c["value_cents"], "currency": c["currency"].strip()}
    if c.get("tender_id"):
        out["tender_id"] = str(c["tender_id"])
    out.update({k: (str(v) if isinstance(v, (UUID, date)) else v) for k, v in extra.items()})
    return out


async def _set_state(actor: Actor, c: dict[str, Any], action: str, **columns: Any) -> dict[str, Any]:
    target = CONTRACT.next(c["state"], action)
    sets = ["state = $2", "updated_at = $3"]
    args: list[Any] = [c["id"], target, clock.now()]
    for name, value in columns.items():
        args.append(value)
        sets.append(f"{name} = ${len(args)}")
    row = await db.fetchrow(f"UPDATE contract SET {', '.join(sets)} WHERE id = $1 RETURNING *", *args)
    assert row is not None
    if target != c["state"]:
        await audit.record(actor=actor, action=f"contract.{action}", entity_type="contract", entity_id=c["id"],
                           data={"from": c["state"], "to": target})
    return row


# --- creation ---------------------------------------------------------------------------------------

async def _insert(*, actor: Actor, source_type: str, source_id: UUID, agency_org_id: UUID, supplier_org_id: UUID,
                  title: str, value_cents: int, currency: str, tender_id: UUID | None = None,
                  lot_id: UUID | None = None) -> tuple[dict[str, Any], bool]:
    now = clock.now()
    row = await db.fetchrow(
        "INSERT INTO contract (source_type, source_id, tender_id, lot_id, agency_org_id, supplier_org_id, title,"
        " currency, original_value_cents, value_cents, created_at, updated_at)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$9,$10,$10)"
        " ON CONFLICT (source_type, source_id) DO NOTHING RETURNING *",
        source_type, source_id, tender_id, lot_id, agency_org_id, supplier_org_id, title[:500], currency,
        value_cents, now)
    if row is None:
        existing = await db.fetchrow("SELECT * FROM contract WHERE source_type = $1 AND source_id = $2",
                                     source_type, source_id)
        assert existing is not None
        return existing, False
    await audit.record(actor=actor, action="contract.created", entity_type="contract", entity_id=row["id"],
                       data={"source_type": source_type, "source_id": str(source_id), "value_cents": value_cents,
                             "currency": currency})
    await outbox.emit(topic="contract.created", aggregate_type="contract", aggregate_id=row["id"],
                      payload=_payload(row, source_type=source_type, source_id=source_id))
    return row, True


async def create_from_award(*, actor: Actor = SYSTEM, award_id: UUID, tender_id: UUID, lot_id: UUID,
                            supplier_org_id: UUID, value_cents: int, currency: str) -> dict[str, Any]:
    """The contract of a consented award (the 'award.consented' consumer). Idempotent by award."""
    from tenders import service as tenders

    tender = await tenders.load_tender(tender_id=tender_id)
    lots = {lot["id"]: lot for lot in await tenders.load_lots(tender_id=tender_id)}
    lot = lots.get(lot_id)
    title = tender["title"] + (f" — {lot['title']}" if lot and len(lots) > 1 else "")
    row, _ = await _insert(actor=actor, source_type="award", source_id=award_id, agency_org_id=tender["agency_id"],
                           supplier_org_id=supplier_org_id, title=title, value_cents=value_cents,
                           currency=currency, tender_id=tender_id, lot_id=lot_id)
    return row


async def create_from_order(*, actor: Actor = SYSTEM, order_id: UUID, agency_org_id: UUID, supplier_org_id: UUID,
                            number: str | None, total_cents: int, currency: str) -> dict[str, Any]:
    """The contract of an accepted purchase order (the 'order.accepted' consumer). Idempotent by order."""
    title = f"Orden de compra {number}" if number else f"Orden de compra {order_id}"
    row, _ = await _insert(actor=actor, source_type="order", source_id=order_id, agency_org_id=agency_org_id,
                           supplier_org_id=supplier_org_id, title=title, value_cents=total_cents, currency=currency)
    return row


async def create(*, actor: Actor, source_type: str, source_id: UUID) -> tuple[dict[str, Any], bool]:
    """An officer asks for the contract of a consented award or an accepted order of their agency (the
    consumers normally create it first; then this returns it)."""
    require(actor, "agency", *AGENCY_WRITERS)
    existing = await db.fetchrow("SELECT * FROM contract WHERE source_type = $1 AND source_id = $2",
                                 source_type, source_id)
    if existing is not None:
        require_member(actor, existing["agency_org_id"])
        return existing, False
    if source_type == "order":
        from marketplace.orders import service as orders

        order = await orders.read_order(actor=actor, order_id=source_id)
        require_member(actor, order.agency_id)
        if order.status != "accepted":
            raise Conflict(N_("Only an accepted purchase order becomes a contract"), field="source_id",
                           rule="order-not-accepted")
        row = await create_from_order(actor=actor, order_id=source_id, agency_org_id=order.agency_id,
                                      supplier_org_id=order.supplier_id, number=order.number,
                                      total_cents=order.total.amount, currency=order.total.currency)
        return row, True
    from tenders import service as tenders
    from tenders.awards import service as awards

    try:
        award = await awards.get_award(actor=actor, award_id=source_id)
    except NotFound as exc:
        raise NotFound(N_("Award not found"), field="source_id") from exc
    tender = await tenders.load_tender(tender_id=award.tender_id)
    require_member(actor, tender["agency_id"])
    if award.state != "consented":
        raise Conflict(N_("Only a consented award becomes a contract"), field="source_id", rule="award-not-consented")
    row = await create_from_award(actor=actor, award_id=award.id, tender_id=award.tender_id, lot_id=award.lot_id,
                                  supplier_org_id=award.supplier_id, value_cents=award.value, currency=award.currency)
    return row, True


# --- before and at signature ------------------------------------------------------------------------

async def add_milestone(*, actor: Actor, contract_id: UUID, data: MilestoneCreate) -> dict[str, Any]:
    c = await _lock_for_agency(actor, contract_id)
    CONTRACT.next(c["state"], "edit")
    total = (await db.fetchrow("SELECT coalesce(sum(amount_cents), 0) AS s, coalesce(max(seq), 0) AS n"
                               " FROM contract_milestone WHERE contract_id = $1", contract_id))
    if total["s"] + data.amount_cents > c["value_cents"]:
        raise InvalidInput(N_("The milestones would add up to more than the contract's value ({value})"),
                           field="amount_cents", rule="exceeds-contract-value",
                           params={"value": c["value_cents"]})
    if c["period_end"] and data.due_date > c["period_end"]:
        raise InvalidInput(N_("The due date falls after the contract's period"), field="due_date", rule="range")
    row = await db.fetchrow(
        "INSERT INTO contract_milestone (contract_id, seq, deliverable, due_date, amount_cents, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        contract_id, total["n"] + 1, data.deliverable, data.due_date, data.amount_cents, clock.now())
    await audit.record(actor=actor, action="contract.milestone_added", entity_type="contract", entity_id=contract_id,
                       data={"milestone_id": str(row["id"]), "amount_cents": data.amount_cents,
                             "due_date": data.due_date.isoformat()})
    return row


async def add_document(*, actor: Actor, contract_id: UUID, data: DocumentCreate) -> dict[str, Any]:
    c = await _lock_for_agency(actor, contract_id)
    if c["state"] == "terminated":
        CONTRACT.next(c["state"], "edit")
    row = await db.fetchrow(
        "INSERT INTO contract_document (contract_id, name, media_type, sha256, url, uploaded_by, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
        contract_id, data.name, data.media_type, data.sha256, data.url, actor.user_id, clock.now())
    await audit.record(actor=actor, action="contract.document_added", entity_type="contract",
                       entity_id=contract_id, data={"document_id": str(row["id"]), "sha256": data.sha256})
    return row


async def sign(*, actor: Actor, contract_id: UUID, data: ContractSign) -> dict[str, Any]:
    """Sign: the period, the performance guarantee, and milestones adding up to the contract's value."""
    c = await _lock_for_agency(actor, contract_id)
    CONTRACT.next(c["state"], "sign")
    if data.period_end < data.period_start:
        raise InvalidInput(N_("The period ends before it starts"), field="period_end", rule="range")
    minimum = domain.guarantee_minimum(c["value_cents"])
    if data.guarantee.amount_cents < minimum:
        raise InvalidInput(N_("The performance guarantee must be at least {minimum} céntimos (a tenth of the value)"),
                           field="guarantee.amount_cents", rule="minimum", params={"minimum": minimum})
    if data.guarantee.expires_on < data.period_end:
        raise InvalidInput(N_("The performance guarantee must last until the end of the contract"),
                           field="guarantee.expires_on", rule="range")
    ms = await milestones(contract_id=contract_id)
    if sum(m["amount_cents"] for m in ms) != c["value_cents"]:
        raise Conflict(N_("The milestones must add up to the contract's value before signing"),
                       rule="milestones-incomplete")
    late = [m for m in ms if m["due_date"] > data.period_end]
    if late:
        raise InvalidInput(N_("A milestone falls due after the contract's period"), field="period_end", rule="range")
    g = data.guarantee
    row = await _set_state(actor, c, "sign", period_start=data.period_start, period_end=data.period_end,
                           guarantee_kind=g.kind, guarantee_amount_cents=g.amount_cents, guarantee_issuer=g.issuer,
                           guarantee_reference=g.reference, guarantee_expires_on=g.expires_on,
                           signed_at=clock.now(), signed_by=actor.user_id)
    await outbox.emit(topic="contract.signed", aggregate_type="contract", aggregate_id=contract_id,
                      payload=_payload(row, period_start=data.period_start, period_end=data.period_end,
                                       milestones=len(ms)))
    return row


# --- after signature --------------------------------------------------------------------------------

async def amend(*, actor: Actor, contract_id: UUID, data: AmendmentCreate) -> dict[str, Any]:
    """Change the value and/or the term, with a reason; the cumulative change in % is kept."""
    from marketplace.payments import service as payments

    c = await _lock_for_agency(actor, contract_id)
    CONTRACT.next(c["state"], "amend")
    if data.value_change_cents == 0 and data.new_period_end is None:
        raise InvalidInput(N_("An amendment changes the value, the term or both"), field="value_change_cents",
                           rule="required")
    new_value = c["value_cents"] + data.value_change_cents
    paid = (await payments.contract_balance(contract_id=contract_id))["paid_cents"]
    if new_value < max(paid, 1):
        raise InvalidInput(N_("The new value cannot be below what has already been paid ({paid})"),
                           field="value_change_cents", rule="below-paid", params={"paid": paid})
    if data.new_period_end is not None and c["period_start"] and data.new_period_end < c["period_start"]:
        raise InvalidInput(N_("The period ends before it starts"), field="new_period_end", rule="range")
    seq = (await db.fetchrow("SELECT coalesce(max(seq), 0) + 1 AS n FROM contract_amendment WHERE contract_id = $1",
                             contract_id))["n"]
    step = domain.change_pct(data.value_change_cents, c["value_cents"])
    cumulative = domain.change_pct(new_value - c["original_value_cents"], c["original_value_cents"])
    new_end = data.new_period_end or c["period_end"]
    row = await db.fetchrow(
        "INSERT INTO contract_amendment (contract_id, seq, reason, value_change_cents, previous_value_cents,"
        " new_value_cents, previous_period_end, new_period_end, change_pct, cumulative_change_pct, created_by,"
        " created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) RETURNING *",
        contract_id, seq, data.reason, data.value_change_cents, c["value_cents"], new_value, c["period_end"],
        new_end, step, cumulative, actor.user_id, clock.now())
    updated = await db.fetchrow(
        "UPDATE contract SET value_cents = $2, period_end = $3, cumulative_change_pct = $4, updated_at = $5"
        " WHERE id = $1 RETURNING *", contract_id, new_value, new_end, cumulative, clock.now())
    await audit.record(actor=actor, action="contract.amended", entity_type="contract", entity_id=contract_id,
                       data={"amendment_id": str(row["id"]), "reason": data.reason,
                             "value_change_cents": data.value_change_cents, "new_value_cents": new_value,
                             "new_period_end": new_end.isoformat() if new_end else None,
                             "cumulative_change_pct": str(cumulative)})
    await outbox.emit(topic="contract.amended", aggregate_type="contract", aggregate_id=contract_id,
                      payload=_payload(updated, amendment_id=row["id"], value_change_cents=data.value_change_cents,
                                       cumulative_change_pct=str(cumulative),
                                       flagged=domain.flagged(cumulative)))
    return row


async def terminate(*, actor: Actor, contract_id: UUID, reason: str) -> dict[str, Any]:
    c = await _lock_for_agency(actor, contract_id)
    row = await _set_state(actor, c, "terminate", terminated_at=clock.now(), termination_reason=reason)
    await outbox.emit(topic="contract.terminated", aggregate_type="contract", aggregate_id=contract_id,
                      payload=_payload(row, reason=reason))
    return row


async def _milestone(contract_id: UUID, milestone_id: UUID, *, lock: bool = True) -> dict[str, Any]:
    row = await db.fetchrow(
        "SELECT * FROM contract_milestone WHERE id = $1 AND contract_id = $2" + (" FOR UPDATE" if lock else ""),
        milestone_id, contract_id)
    if row is None:
        raise NotFound(N_("Milestone not found"), field="milestone_id")
    return row


async def submit_delivery(*, actor: Actor, contract_id: UUID, data: DeliveryCreate) -> dict[str, Any]:
    """The supplier reports a milestone's deliverable as delivered; the agency then accepts or rejects it."""
    require_authenticated(actor)
    await get_contract(actor=actor, contract_id=contract_id)
    require(actor, "supplier", *SUPPLIER_WRITERS)
    c = await _lock(contract_id)
    require_member(actor, c["supplier_org_id"])
    CONTRACT.next(c["state"], "deliver")
    m = await _milestone(contract_id, data.milestone_id)
    MILESTONE.next(m["state"], "deliver")
    now = clock.now()
    row = await db.fetchrow(
        "INSERT INTO contract_delivery (contract_id, milestone_id, note, submitted_by, submitted_at)"
        " VALUES ($1, $2, $3, $4, $5) RETURNING *", contract_id, m["id"], data.note, actor.user_id, now)
    await db.execute("UPDATE contract_milestone SET state = 'delivered' WHERE id = $1", m["id"])
    await audit.record(actor=actor, action="milestone.delivered", entity_type="contract", entity_id=contract_id,
                       data={"milestone_id": str(m["id"]), "delivery_id": str(row["id"])})
    await outbox.emit(topic="milestone.delivered", aggregate_type="contract", aggregate_id=contract_id,
                      payload=_payload(c, milestone_id=m["id"], delivery_id=row["id"]))
    return row


async def decide_delivery(*, actor: Actor, contract_id: UUID, delivery_id: UUID, accept: bool,
                          note: str) -> dict[str, Any]:
    """The agency's conformidad (accept) or its rejection (the milestone goes back to pending)."""
    c = await _lock_for_agency(actor, contract_id)
    d = await db.fetchrow("SELECT * FROM contract_delivery WHERE id = $1 AND contract_id = $2 FOR UPDATE",
                          delivery_id, contract_id)
    if d is None:
        raise NotFound(N_("Delivery not found"))
    if d["state"] != "submitted":
        raise Conflict(N_("This delivery has already been decided"), rule="delivery-decided")
    m = await _milestone(contract_id, d["milestone_id"])
    action = "accept" if accept else "reject"
    target = MILESTONE.next(m["state"], action)
    now = clock.now()
    row = await db.fetchrow(
        "UPDATE contract_delivery SET state = $2, decided_by = $3, decided_at = $4, decision_note = $5"
        " WHERE id = $1 RETURNING *", delivery_id, "accepted" if accept else "rejected", actor.user_id, now, note)
    await db.execute("UPDATE contract_milestone SET state = $2, accepted_at = $3 WHERE id = $1",
                     m["id"], target, now if accept else None)
    await audit.record(actor=actor, action=f"milestone.{action}ed" if accept else "milestone.rejected",
                       entity_type="contract", entity_id=contract_id,
                       data={"milestone_id": str(m["id"]), "delivery_id": str(delivery_id), "note": note})
    await outbox.emit(topic="milestone.accepted" if accept else "milestone.rejected", aggregate_type="contract",
                      aggregate_id=contract_id, payload=_payload(c, milestone_id=m["id"], delivery_id=delivery_id))
    return row


async def pay_milestone(*, actor: Actor, contract_id: UUID, milestone_id: UUID,
                        external_reference: str | None) -> dict[str, Any]:
    """Pay an accepted milestone: Stripe Connect when the supplier has an account, else a treasury transfer
    recorded with its reference."""
    from marketplace.payments import service as payments

    c = await _lock_for_agency(actor, contract_id)
    CONTRACT.next(c["state"], "pay")
    m = await _milestone(contract_id, milestone_id)
    MILESTONE.next(m["state"], "pay")
    paid = (await payments.contract_balance(contract_id=contract_id))["paid_cents"]
    if paid + m["amount_cents"] > c["value_cents"]:
        raise Conflict(N_("Paying this milestone would exceed the contract's value"), rule="exceeds-contract-value")
    return await payments.pay_milestone(
        actor=actor, contract_id=contract_id, milestone_id=milestone_id, amount_cents=m["amount_cents"],
        currency=c["currency"].strip(), supplier_org_id=c["supplier_org_id"], agency_org_id=c["agency_org_id"],
        external_reference=external_reference)


# --- called by payments when money has moved ---------------------------------------------------------

async def _lock_milestone_and_contract(milestone_id: UUID) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Lock a milestone's contract, then the milestone: the order every contract write takes (contract
    first), so a payment settling and an agency deciding or paying on the same contract cannot deadlock."""
    ref = await db.fetchrow("SELECT contract_id FROM contract_milestone WHERE id = $1", milestone_id)
    if ref is None:
        return None
    c = await _lock(ref["contract_id"])
    m = await db.fetchrow("SELECT * FROM contract_milestone WHERE id = $1 FOR UPDATE", milestone_id)
    assert m is not None  # milestones are never deleted
    return m, c


async def milestone_paid(*, milestone_id: UUID, payment_id: UUID) -> None:
    """A milestone's payment succeeded: mark it paid; complete the contract when everything is paid."""
    found = await _lock_milestone_and_contract(milestone_id)
    if found is None or found[0]["state"] == "paid":
        return
    m, c = found
    now = clock.now()
    await db.execute("UPDATE contract_milestone SET state = 'paid', paid_at = $2 WHERE id = $1", milestone_id, now)
    await audit.record(actor=SYSTEM, action="milestone.paid", entity_type="contract", entity_id=c["id"],
                       data={"milestone_id": str(milestone_id), "payment_id": str(payment_id)})
    await outbox.emit(topic="milestone.paid", aggregate_type="contract", aggregate_id=c["id"],
                      payload=_payload(c, milestone_id=milestone_id, payment_id=payment_id,
                                       amount_cents=m["amount_cents"]))
    left = await db.fetchrow("SELECT count(*) AS n FROM contract_milestone WHERE contract_id = $1 AND state <> 'paid'",
                             c["id"])
    if left["n"] == 0 and CONTRACT.can(c["state"], "complete"):
        row = await _set_state(SYSTEM, c, "complete", completed_at=now)
        await outbox.emit(topic="contract.completed", aggregate_type="contract", aggregate_id=c["id"],
                          payload=_payload(row))


async def milestone_payment_reversed(*, milestone_id: UUID, payment_id: UUID) -> None:
    """A milestone's transfer was reversed: the milestone is accepted and unpaid again."""
    found = await _lock_milestone_and_contract(milestone_id)
    if found is None or found[0]["state"] != "paid":
        return
    m, c = found
    await db.execute("UPDATE contract_milestone SET state = 'accepted', paid_at = NULL WHERE id = $1", milestone_id)
    await audit.record(actor=SYSTEM, action="milestone.payment_reversed", entity_type="contract",
                       entity_id=m["contract_id"], data={"milestone_id": str(milestone_id),
                                                         "payment_id": str(payment_id)})
    if CONTRACT.can(c["state"], "reopen"):
        c = await _set_state(SYSTEM, c, "reopen", completed_at=None)
    await outbox.emit(topic="milestone.payment_reversed", aggregate_type="contract", aggregate_id=m["contract_id"],
                      payload=_payload(c, milestone_id=milestone_id, payment_id=payment_id))
