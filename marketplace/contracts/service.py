"""Contracts use cases: a contract from a consented award or an accepted order, milestones, signature with
a performance guarantee, amendments (cumulative % kept), deliveries and their acceptance (conformidad),
milestone payments (through payments.service), termination.

Every write locks the contract row first (SELECT ... FOR UPDATE), checks the move with the state objects
in domain.py, writes an audit event and an outbox event in the same transaction. Outbox topics:
'contract.created', 'contract.signed', 'contract.amended', 'contract.terminated', 'contract.completed',
'milestone.delivered', 'milestone.accepted', 'milestone.rejected', 'milestone.paid',
'milestone.payment_reversed'; payloads carry {contract_id, source_type, agency_org_id, supplier_org_id,
tender_id, lot_id, state, value_cents, currency, ...}.

Layers: contracts sits above payments and orders (and tenders below them): it calls their services
(payments: pay a milestone, what the ledger says was paid; orders and tenders' awards: the source of a
contract). Payments never calls contracts: a milestone's payment that succeeds or is reversed reaches
contracts as the 'payment.succeeded' / 'payment.reversed' outbox events (consumers.py).
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from piccolo.columns import Column
from piccolo.custom_types import Combinable
from piccolo.query.functions.aggregate import Max, Sum

from marketplace.contracts import domain
from marketplace.contracts.domain import CONTRACT, MILESTONE
from marketplace.contracts.queries import (
    AmendmentRow,
    Balance,
    ContractRow,
    DeliveryRow,
    Detail,
    DocumentRow,
    MilestoneRow,
)
from marketplace.contracts.schemas import (
    AmendmentCreate,
    ContractSign,
    DeliveryCreate,
    DocumentCreate,
    MilestoneCreate,
)
from marketplace.contracts.tables import Amendment, Contract, Delivery, Document, Milestone
from marketplace.core import audit, clock, outbox, rows
from marketplace.core.actor import SYSTEM, Actor, require, require_authenticated, require_member
from marketplace.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from marketplace.core.i18n import N_
from marketplace.core.money import Money
from marketplace.orders import service as orders
from marketplace.payments import service as payments
from marketplace.payments.queries import PaymentRow
from marketplace.settings import Settings
from suppliers import service as suppliers
from tenders import service as tenders
from tenders.awards import service as awards

AGENCY_WRITERS = ("officer", "agency_admin")
SUPPLIER_WRITERS = ("bidder", "supplier_admin")


def cents(value: Money, field: str, *, positive: bool = True) -> int:
    """An amount taken as input, in céntimos: it must be in soles (PEN), and positive unless said otherwise."""
    if value.currency != "PEN":
        raise InvalidInput(N_("Amounts are in soles: the currency must be PEN"), field=f"{field}.currency",
                           rule="currency")
    if positive and value.amount <= 0:
        raise InvalidInput(N_("The amount must be positive"), field=f"{field}.amount", rule="range")
    return value.amount


# --- reads ------------------------------------------------------------------------------------------

def _scope(actor: Actor) -> Combinable | None:
    """The condition limiting contracts to what `actor` may see (None: everything)."""
    require_authenticated(actor)
    if actor.via == "system" or actor.is_("platform", "admin") or actor.is_("oversight", "auditor"):
        return None
    if actor.org_kind == "agency":
        return Contract.agency_org == actor.org_id
    if actor.org_kind == "supplier":
        return Contract.supplier_org == actor.org_id
    raise Forbidden(N_("Your role does not allow this action"))


def _contract(row: dict[str, Any] | None) -> ContractRow | None:
    return rows.one(ContractRow, row)


async def list_contracts(*, actor: Actor, state: str | None = None, limit: int = 50,
                         offset: int = 0) -> list[ContractRow]:
    query = Contract.select().order_by(Contract.created_at, ascending=False).order_by(Contract.id)
    scope = _scope(actor)
    if scope is not None:
        query = query.where(scope)
    if state is not None:
        query = query.where(Contract.state == state)
    return rows.many(ContractRow, await query.limit(limit).offset(offset))


async def get_contract(*, actor: Actor, contract_id: UUID) -> ContractRow:
    query = Contract.select().where(Contract.id == contract_id)
    scope = _scope(actor)
    if scope is not None:
        query = query.where(scope)
    row = _contract(await query.first())
    if row is None:
        raise NotFound(N_("Contract not found"))
    return row


async def milestones(*, contract_id: UUID) -> list[MilestoneRow]:
    return rows.many(MilestoneRow, await Milestone.select().where(Milestone.contract == contract_id)
                     .order_by(Milestone.seq))


async def amendments(*, contract_id: UUID) -> list[AmendmentRow]:
    return rows.many(AmendmentRow, await Amendment.select().where(Amendment.contract == contract_id)
                     .order_by(Amendment.seq))


async def deliveries(*, contract_id: UUID) -> list[DeliveryRow]:
    return rows.many(DeliveryRow, await Delivery.select().where(Delivery.contract == contract_id)
                     .order_by(Delivery.submitted_at).order_by(Delivery.id))


async def documents(*, contract_id: UUID) -> list[DocumentRow]:
    return rows.many(DocumentRow, await Document.select().where(Document.contract == contract_id)
                     .order_by(Document.created_at).order_by(Document.id))


async def _balance(c: ContractRow) -> Balance:
    paid = await payments.contract_paid(contract_id=c.id)
    return Balance(contract_id=c.id, currency=c.currency.strip(), value_cents=c.value_cents,
                   paid_cents=paid.paid_cents, outstanding_cents=c.value_cents - paid.paid_cents,
                   entries=paid.entries)


async def contract_detail(*, actor: Actor, contract_id: UUID) -> Detail:
    """A contract with its milestones, amendments, deliveries, documents, balance and payments (each payment
    with its state, and why it failed when it did)."""
    c = await get_contract(actor=actor, contract_id=contract_id)
    return Detail(contract=c, milestones=await milestones(contract_id=contract_id),
                  amendments=await amendments(contract_id=contract_id),
                  deliveries=await deliveries(contract_id=contract_id),
                  documents=await documents(contract_id=contract_id), balance=await _balance(c),
                  payments=await payments.contract_payments(contract_id=contract_id))


async def balance(*, actor: Actor, contract_id: UUID) -> Balance:
    return await _balance(await get_contract(actor=actor, contract_id=contract_id))


async def contract_payments(*, actor: Actor, contract_id: UUID) -> list[PaymentRow]:
    await get_contract(actor=actor, contract_id=contract_id)
    return await payments.contract_payments(contract_id=contract_id)


# --- helpers ----------------------------------------------------------------------------------------

async def _lock(contract_id: UUID) -> ContractRow:
    row = _contract(await Contract.select().where(Contract.id == contract_id).lock_rows().first())
    if row is None:
        raise NotFound(N_("Contract not found"))
    return row


async def _lock_for_agency(actor: Actor, contract_id: UUID) -> ContractRow:
    """The contract locked, for a writer of its agency (others: 404 when they may not see it, else 403)."""
    require_authenticated(actor)
    await get_contract(actor=actor, contract_id=contract_id)  # 404 for outsiders
    require(actor, "agency", *AGENCY_WRITERS)
    c = await _lock(contract_id)
    require_member(actor, c.agency_org_id)
    return c


def _payload(c: ContractRow, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "contract_id": str(c.id), "source_type": c.source_type, "agency_org_id": str(c.agency_org_id),
        "supplier_org_id": str(c.supplier_org_id), "state": c.state, "value_cents": c.value_cents,
        "currency": c.currency.strip()}
    if c.tender_id:
        out["tender_id"] = str(c.tender_id)
    if c.lot_id:
        out["lot_id"] = str(c.lot_id)
    out.update({k: (str(v) if isinstance(v, (UUID, date)) else v) for k, v in extra.items()})
    return out


async def _update(c: ContractRow, values: dict[Column | str, Any]) -> ContractRow:
    updated = await Contract.update(values).where(Contract.id == c.id).returning(*Contract.all_columns())
    row = _contract(updated[0])
    assert row is not None
    return row


async def _set_state(actor: Actor, c: ContractRow, action: str,
                     columns: dict[Column | str, Any] | None = None) -> ContractRow:
    target = CONTRACT.next(c.state, action)
    row = await _update(c, {Contract.state: target, Contract.updated_at: clock.now(), **(columns or {})})
    if target != c.state:
        await audit.record(actor=actor, action=f"contract.{action}", entity_type="contract", entity_id=c.id,
                           data={"from": c.state, "to": target})
    return row


# --- creation ---------------------------------------------------------------------------------------

async def _insert(*, actor: Actor, source_type: str, source_id: UUID, agency_org_id: UUID, supplier_org_id: UUID,
                  title: str, value_cents: int, currency: str, tender_id: UUID | None = None,
                  lot_id: UUID | None = None) -> tuple[ContractRow, bool]:
    now = clock.now()
    new = rows.new(Contract, {
        "source_type": source_type, "source_id": source_id, "tender_id": tender_id, "lot_id": lot_id,
        "agency_org_id": agency_org_id, "supplier_org_id": supplier_org_id, "title": title[:500],
        "currency": currency, "original_value_cents": value_cents, "value_cents": value_cents, "state": "pending",
        "cumulative_change_pct": 0, "created_at": now, "updated_at": now})
    inserted = await Contract.insert(new).on_conflict(
        target=(Contract.source_type, Contract.source_id), action="DO NOTHING").returning(*Contract.all_columns())
    if not inserted:
        existing = _contract(await Contract.select().where(
            (Contract.source_type == source_type) & (Contract.source_id == source_id)).first())
        assert existing is not None
        return existing, False
    row = _contract(inserted[0])
    assert row is not None
    await audit.record(actor=actor, action="contract.created", entity_type="contract", entity_id=row.id,
                       data={"source_type": source_type, "source_id": str(source_id), "value_cents": value_cents,
                             "currency": currency})
    await outbox.emit(topic="contract.created", aggregate_type="contract", aggregate_id=row.id,
                      payload=_payload(row, source_id=source_id))
    return row, True


async def create_from_award(*, actor: Actor = SYSTEM, award_id: UUID, tender_id: UUID, lot_id: UUID,
                            supplier_org_id: UUID, value_cents: int, currency: str) -> ContractRow:
    """The contract of a consented award (the 'award.consented' consumer). Idempotent by award."""
    tender = await tenders.load_tender(tender_id=tender_id)
    lots = {lot["id"]: lot for lot in await tenders.load_lots(tender_id=tender_id)}
    lot = lots.get(lot_id)
    title = tender["title"] + (f" — {lot['title']}" if lot and len(lots) > 1 else "")
    row, _ = await _insert(actor=actor, source_type="award", source_id=award_id, agency_org_id=tender["agency_id"],
                           supplier_org_id=supplier_org_id, title=title, value_cents=value_cents,
                           currency=currency, tender_id=tender_id, lot_id=lot_id)
    return row


async def create_from_order(*, actor: Actor = SYSTEM, order_id: UUID, agency_org_id: UUID, supplier_org_id: UUID,
                            number: str | int | None, total_cents: int, currency: str) -> ContractRow:
    """The contract of an accepted purchase order (the 'order.accepted' consumer). Idempotent by order."""
    title = f"Orden de compra {number}" if number else f"Orden de compra {order_id}"
    row, _ = await _insert(actor=actor, source_type="order", source_id=order_id, agency_org_id=agency_org_id,
                           supplier_org_id=supplier_org_id, title=title, value_cents=total_cents, currency=currency)
    return row


async def create(*, actor: Actor, source_type: str, source_id: UUID) -> tuple[ContractRow, bool]:
    """An officer asks for the contract of a consented award or an accepted order of their agency (the
    consumers normally create it first; then this returns it)."""
    require(actor, "agency", *AGENCY_WRITERS)
    existing = _contract(await Contract.select().where(
        (Contract.source_type == source_type) & (Contract.source_id == source_id)).first())
    if existing is not None:
        require_member(actor, existing.agency_org_id)
        return existing, False
    if source_type == "order":
        order = await orders.read_order(actor=actor, order_id=source_id)
        require_member(actor, order.agency_id)
        if order.status != "accepted":
            raise Conflict(N_("Only an accepted purchase order becomes a contract"), field="source_id",
                           rule="order-not-accepted")
        row = await create_from_order(actor=actor, order_id=source_id, agency_org_id=order.agency_id,
                                      supplier_org_id=order.supplier_id, number=order.number,
                                      total_cents=order.total.amount, currency=order.total.currency)
        return row, True
    try:
        award = await awards.get_award(actor=actor, award_id=source_id)
    except NotFound as exc:
        raise NotFound(N_("Award not found"), field="source_id") from exc
    tender = await tenders.load_tender(tender_id=award.tender_id)
    require_member(actor, tender["agency_id"])
    if award.state != "consented":
        raise Conflict(N_("Only a consented award becomes a contract"), field="source_id", rule="award-not-consented")
    row = await create_from_award(actor=actor, award_id=award.id, tender_id=award.tender_id, lot_id=award.lot_id,
                                  supplier_org_id=award.supplier_id, value_cents=award.value.amount,
                                  currency=award.value.currency)
    return row, True


# --- before and at signature ------------------------------------------------------------------------

async def add_milestone(*, actor: Actor, contract_id: UUID, data: MilestoneCreate) -> MilestoneRow:
    c = await _lock_for_agency(actor, contract_id)
    CONTRACT.next(c.state, "edit")
    amount = cents(data.amount, "amount")
    so_far = await Milestone.select(Sum(Milestone.amount_cents).as_alias("total"), Max(Milestone.seq).as_alias("last")
                                    ).where(Milestone.contract == contract_id).first()
    total, last = (so_far or {}).get("total") or 0, (so_far or {}).get("last") or 0
    if total + amount > c.value_cents:
        raise InvalidInput(N_("The milestones would add up to more than the contract's value ({value})"),
                           field="amount", rule="exceeds-contract-value", params={"value": c.value_cents})
    if c.period_end and data.due_date > c.period_end:
        raise InvalidInput(N_("The due date falls after the contract's period"), field="due_date", rule="range")
    inserted = await Milestone.insert(rows.new(Milestone, {
        "contract_id": contract_id, "seq": last + 1, "deliverable": data.deliverable, "due_date": data.due_date,
        "amount_cents": amount, "state": "pending", "created_at": clock.now()})).returning(*Milestone.all_columns())
    row = rows.one(MilestoneRow, inserted[0])
    assert row is not None
    await audit.record(actor=actor, action="contract.milestone_added", entity_type="contract", entity_id=contract_id,
                       data={"milestone_id": str(row.id), "amount_cents": amount,
                             "due_date": data.due_date.isoformat()})
    return row


async def add_document(*, actor: Actor, contract_id: UUID, data: DocumentCreate) -> DocumentRow:
    c = await _lock_for_agency(actor, contract_id)
    if c.state == "terminated":
        CONTRACT.next(c.state, "edit")
    inserted = await Document.insert(rows.new(Document, {
        "contract_id": contract_id, "name": data.name, "media_type": data.media_type, "sha256": data.sha256,
        "url": data.url, "uploaded_by": actor.user_id, "created_at": clock.now()})).returning(*Document.all_columns())
    row = rows.one(DocumentRow, inserted[0])
    assert row is not None
    await audit.record(actor=actor, action="contract.document_added", entity_type="contract",
                       entity_id=contract_id, data={"document_id": str(row.id), "sha256": data.sha256})
    return row


async def sign(*, actor: Actor, contract_id: UUID, data: ContractSign) -> ContractRow:
    """Sign: the period, the performance guarantee, and milestones adding up to the contract's value."""
    c = await _lock_for_agency(actor, contract_id)
    CONTRACT.next(c.state, "sign")
    # A supplier suspended or disqualified since the award (or the order) cannot sign (issue 17, finding 2).
    standing = (await suppliers.standing_reasons(org_ids=[c.supplier_org_id])).get(c.supplier_org_id)
    if standing is not None:
        raise Conflict(N_("The supplier is not in good standing ({reason}): the contract cannot be signed"),
                       field="supplier_org_id", rule="supplier_good_standing", params={"reason": standing})
    if data.period_end < data.period_start:
        raise InvalidInput(N_("The period ends before it starts"), field="period_end", rule="range")
    g = data.guarantee
    guarantee = cents(g.amount, "guarantee.amount")
    minimum = domain.guarantee_minimum(c.value_cents)
    if guarantee < minimum:
        raise InvalidInput(N_("The performance guarantee must be at least {minimum} céntimos (a tenth of the value)"),
                           field="guarantee.amount", rule="minimum", params={"minimum": minimum})
    if g.expires_on < data.period_end:
        raise InvalidInput(N_("The performance guarantee must last until the end of the contract"),
                           field="guarantee.expires_on", rule="range")
    ms = await milestones(contract_id=contract_id)
    if sum(m.amount_cents for m in ms) != c.value_cents:
        raise Conflict(N_("The milestones must add up to the contract's value before signing"),
                       rule="milestones-incomplete")
    if any(m.due_date > data.period_end for m in ms):
        raise InvalidInput(N_("A milestone falls due after the contract's period"), field="period_end", rule="range")
    row = await _set_state(actor, c, "sign", {
        Contract.period_start: data.period_start, Contract.period_end: data.period_end,
        Contract.guarantee_kind: g.kind, Contract.guarantee_amount_cents: guarantee,
        Contract.guarantee_issuer: g.issuer, Contract.guarantee_reference: g.reference,
        Contract.guarantee_expires_on: g.expires_on, Contract.signed_at: clock.now(),
        Contract.signed_by: actor.user_id})
    await outbox.emit(topic="contract.signed", aggregate_type="contract", aggregate_id=contract_id,
                      payload=_payload(row, period_start=data.period_start, period_end=data.period_end,
                                       milestones=len(ms)))
    return row


# --- after signature --------------------------------------------------------------------------------

async def amend(*, actor: Actor, contract_id: UUID, data: AmendmentCreate) -> AmendmentRow:
    """Change the value and/or the term, with a reason; the cumulative change in % is kept."""
    c = await _lock_for_agency(actor, contract_id)
    CONTRACT.next(c.state, "amend")
    change = cents(data.value_change, "value_change", positive=False) if data.value_change else 0
    if change == 0 and data.new_period_end is None:
        raise InvalidInput(N_("An amendment changes the value, the term or both"), field="value_change",
                           rule="required")
    new_value = c.value_cents + change
    paid = (await payments.contract_paid(contract_id=contract_id)).paid_cents
    if new_value < max(paid, 1):
        raise InvalidInput(N_("The new value cannot be below what has already been paid ({paid})"),
                           field="value_change", rule="below-paid", params={"paid": paid})
    if data.new_period_end is not None and c.period_start and data.new_period_end < c.period_start:
        raise InvalidInput(N_("The period ends before it starts"), field="new_period_end", rule="range")
    last = await Amendment.select(Max(Amendment.seq).as_alias("last")).where(Amendment.contract == contract_id).first()
    step = domain.change_pct(change, c.value_cents)
    cumulative = domain.change_pct(new_value - c.original_value_cents, c.original_value_cents)
    new_end = data.new_period_end or c.period_end
    now = clock.now()
    inserted = await Amendment.insert(rows.new(Amendment, {
        "contract_id": contract_id, "seq": ((last or {}).get("last") or 0) + 1, "reason": data.reason,
        "value_change_cents": change, "previous_value_cents": c.value_cents, "new_value_cents": new_value,
        "previous_period_end": c.period_end, "new_period_end": new_end, "change_pct": step,
        "cumulative_change_pct": cumulative, "created_by": actor.user_id, "created_at": now,
    })).returning(*Amendment.all_columns())
    row = rows.one(AmendmentRow, inserted[0])
    assert row is not None
    updated = await _update(c, {Contract.value_cents: new_value, Contract.period_end: new_end,
                                Contract.cumulative_change_pct: cumulative, Contract.updated_at: now})
    await audit.record(actor=actor, action="contract.amended", entity_type="contract", entity_id=contract_id,
                       data={"amendment_id": str(row.id), "reason": data.reason,
                             "value_change_cents": change, "new_value_cents": new_value,
                             "new_period_end": new_end.isoformat() if new_end else None,
                             "cumulative_change_pct": str(cumulative)})
    await outbox.emit(topic="contract.amended", aggregate_type="contract", aggregate_id=contract_id,
                      payload=_payload(updated, amendment_id=row.id, value_change_cents=change,
                                       cumulative_change_pct=str(cumulative), flagged=domain.flagged(cumulative)))
    return row


async def terminate(*, actor: Actor, contract_id: UUID, reason: str) -> ContractRow:
    c = await _lock_for_agency(actor, contract_id)
    row = await _set_state(actor, c, "terminate", {Contract.terminated_at: clock.now(),
                                                   Contract.termination_reason: reason})
    await outbox.emit(topic="contract.terminated", aggregate_type="contract", aggregate_id=contract_id,
                      payload=_payload(row, reason=reason))
    return row


async def _milestone(contract_id: UUID, milestone_id: UUID) -> MilestoneRow:
    """The contract's milestone, locked (its contract is locked first by every caller)."""
    row = rows.one(MilestoneRow, await Milestone.select().where(
        (Milestone.id == milestone_id) & (Milestone.contract == contract_id)).lock_rows().first())
    if row is None:
        raise NotFound(N_("Milestone not found"), field="milestone_id")
    return row


async def _set_milestone(m: MilestoneRow, values: dict[Column | str, Any]) -> None:
    await Milestone.update(values).where(Milestone.id == m.id)


async def submit_delivery(*, actor: Actor, contract_id: UUID, data: DeliveryCreate) -> DeliveryRow:
    """The supplier reports a milestone's deliverable as delivered; the agency then accepts or rejects it."""
    require_authenticated(actor)
    await get_contract(actor=actor, contract_id=contract_id)
    require(actor, "supplier", *SUPPLIER_WRITERS)
    c = await _lock(contract_id)
    require_member(actor, c.supplier_org_id)
    CONTRACT.next(c.state, "deliver")
    m = await _milestone(contract_id, data.milestone_id)
    MILESTONE.next(m.state, "deliver")
    inserted = await Delivery.insert(rows.new(Delivery, {
        "contract_id": contract_id, "milestone_id": m.id, "note": data.note, "state": "submitted",
        "submitted_by": actor.user_id, "submitted_at": clock.now(), "decision_note": ""})).returning(
        *Delivery.all_columns())
    row = rows.one(DeliveryRow, inserted[0])
    assert row is not None
    await _set_milestone(m, {Milestone.state: "delivered"})
    await audit.record(actor=actor, action="milestone.delivered", entity_type="contract", entity_id=contract_id,
                       data={"milestone_id": str(m.id), "delivery_id": str(row.id)})
    await outbox.emit(topic="milestone.delivered", aggregate_type="contract", aggregate_id=contract_id,
                      payload=_payload(c, milestone_id=m.id, delivery_id=row.id))
    return row


async def decide_delivery(*, actor: Actor, contract_id: UUID, delivery_id: UUID, accept: bool,
                          note: str) -> DeliveryRow:
    """The agency's conformidad (accept) or its rejection (the milestone goes back to pending)."""
    c = await _lock_for_agency(actor, contract_id)
    d = rows.one(DeliveryRow, await Delivery.select().where(
        (Delivery.id == delivery_id) & (Delivery.contract == contract_id)).lock_rows().first())
    if d is None:
        raise NotFound(N_("Delivery not found"))
    if d.state != "submitted":
        raise Conflict(N_("This delivery has already been decided"), rule="delivery-decided")
    m = await _milestone(contract_id, d.milestone_id)
    action = "accept" if accept else "reject"
    target = MILESTONE.next(m.state, action)
    now = clock.now()
    updated = await Delivery.update({
        Delivery.state: "accepted" if accept else "rejected", Delivery.decided_by: actor.user_id,
        Delivery.decided_at: now, Delivery.decision_note: note,
    }).where(Delivery.id == delivery_id).returning(*Delivery.all_columns())
    row = rows.one(DeliveryRow, updated[0])
    assert row is not None
    await _set_milestone(m, {Milestone.state: target, Milestone.accepted_at: now if accept else None})
    await audit.record(actor=actor, action="milestone.accepted" if accept else "milestone.rejected",
                       entity_type="contract", entity_id=contract_id,
                       data={"milestone_id": str(m.id), "delivery_id": str(delivery_id), "note": note})
    await outbox.emit(topic="milestone.accepted" if accept else "milestone.rejected", aggregate_type="contract",
                      aggregate_id=contract_id, payload=_payload(c, milestone_id=m.id, delivery_id=delivery_id))
    return row


async def pay_milestone(*, actor: Actor, settings: Settings, contract_id: UUID, milestone_id: UUID,
                        external_reference: str | None) -> PaymentRow:
    """Pay an accepted milestone: Stripe Connect when the supplier has an account, else a treasury transfer
    recorded with its reference. The milestone becomes 'paid' when payments announces the payment's success
    ('payment.succeeded', consumers.py)."""
    c = await _lock_for_agency(actor, contract_id)
    CONTRACT.next(c.state, "pay")
    m = await _milestone(contract_id, milestone_id)
    MILESTONE.next(m.state, "pay")
    paid = (await payments.contract_paid(contract_id=contract_id)).paid_cents
    if paid + m.amount_cents > c.value_cents:
        raise Conflict(N_("Paying this milestone would exceed the contract's value"), rule="exceeds-contract-value")
    return await payments.pay_milestone(
        actor=actor, settings=settings, contract_id=contract_id, milestone_id=milestone_id,
        amount_cents=m.amount_cents, currency=c.currency.strip(), supplier_org_id=c.supplier_org_id,
        agency_org_id=c.agency_org_id, external_reference=external_reference)


# --- when payments announce that money moved ('payment.succeeded' / 'payment.reversed') ----------------

async def _lock_milestone_and_contract(milestone_id: UUID) -> tuple[MilestoneRow, ContractRow] | None:
    """Lock a milestone's contract, then the milestone: the order every contract write takes (contract
    first), so a payment settling and an agency deciding or paying on the same contract cannot deadlock."""
    ref = await Milestone.select(Milestone.contract).where(Milestone.id == milestone_id).first()
    if ref is None:
        return None
    c = await _lock(ref["contract_id"])
    return await _milestone(c.id, milestone_id), c


async def milestone_paid(*, milestone_id: UUID, payment_id: UUID) -> None:
    """A milestone's payment succeeded: mark it paid; complete the contract when everything is paid."""
    found = await _lock_milestone_and_contract(milestone_id)
    if found is None or found[0].state == "paid":
        return
    m, c = found
    now = clock.now()
    await _set_milestone(m, {Milestone.state: "paid", Milestone.paid_at: now})
    await audit.record(actor=SYSTEM, action="milestone.paid", entity_type="contract", entity_id=c.id,
                       data={"milestone_id": str(milestone_id), "payment_id": str(payment_id)})
    await outbox.emit(topic="milestone.paid", aggregate_type="contract", aggregate_id=c.id,
                      payload=_payload(c, milestone_id=milestone_id, payment_id=payment_id,
                                       amount_cents=m.amount_cents))
    unpaid = await Milestone.count().where((Milestone.contract == c.id) & (Milestone.state != "paid"))
    if unpaid == 0 and CONTRACT.can(c.state, "complete"):
        row = await _set_state(SYSTEM, c, "complete", {Contract.completed_at: now})
        await outbox.emit(topic="contract.completed", aggregate_type="contract", aggregate_id=c.id,
                          payload=_payload(row))


async def milestone_payment_reversed(*, milestone_id: UUID, payment_id: UUID) -> None:
    """A milestone's transfer was reversed: the milestone is accepted and unpaid again."""
    found = await _lock_milestone_and_contract(milestone_id)
    if found is None or found[0].state != "paid":
        return
    m, c = found
    await _set_milestone(m, {Milestone.state: "accepted", Milestone.paid_at: None})
    await audit.record(actor=SYSTEM, action="milestone.payment_reversed", entity_type="contract",
                       entity_id=m.contract_id, data={"milestone_id": str(milestone_id),
                                                      "payment_id": str(payment_id)})
    if CONTRACT.can(c.state, "reopen"):
        c = await _set_state(SYSTEM, c, "reopen", {Contract.completed_at: None})
    await outbox.emit(topic="milestone.payment_reversed", aggregate_type="contract", aggregate_id=m.contract_id,
                      payload=_payload(c, milestone_id=milestone_id, payment_id=payment_id))
