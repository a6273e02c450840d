"""Payments use cases: requesting payments, running them against Stripe in jobs, applying webhooks, the ledger.

Money never moves inside a request transaction. A request writes a `payment` row in state 'requested'
(plus audit and outbox) and enqueues `payments_execute` after commit; the job locks the row, calls Stripe
with the operation's deterministic idempotency key, and records the result in the same transaction. A job
killed between the call and the commit leaves the row 'requested'; the retry sends the same key and
Stripe answers with the same object, so each operation is charged once.

A payment through Stripe is refused at once (503 payments-not-configured, naming the settings) when
STRIPE_SECRET_KEY or STRIPE_WEBHOOK_SECRET is missing, and nothing is written; a payment that fails later
ends in 'failed' with `failure_reason` (Stripe's message, or ours); one still 'requested' after
PAYMENT_STUCK_MINUTES raises an alarm (`raise_alarms`).

Webhooks are verified, stored once by event id, and applied by `payments_apply_event`, which moves the
payment forward only (see domain.py) and writes the ledger entries the new state implies, once each.

Payments import no other domain. They tell the others what happened through the outbox: 'payment.<state>'
for every move (contracts mark a milestone paid on 'payment.succeeded' and unpaid on 'payment.reversed'),
'appeal_bond.paid' and 'appeal_bond.refunded' (tenders' awards), 'registry_fee.paid' (suppliers),
'payment.stuck' (oversight tells the agency). They learn what they must do from tenders' events the same
way (consumers.py: 'appeal.bond_due', 'appeal.bond_refund_due', 'appeal.decided').
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
import stripe
from piccolo.custom_types import Combinable

from marketplace.core import audit, clock, db, outbox, queue, rows
from marketplace.core.actor import SYSTEM, Actor, require, require_authenticated, require_member
from marketplace.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from marketplace.core.i18n import N_
from marketplace.core.tables import Organisation
from marketplace.payments import domain, gateway, queries
from marketplace.payments.queries import ConnectedAccountRow, LedgerRow, PaymentRow, StripeEventRow
from marketplace.payments.tables import ConnectedAccount, LedgerEntry, Payment, StripeEvent
from marketplace.settings import Settings

log = logging.getLogger(__name__)

EXECUTE_JOB = "payments_execute"
APPLY_EVENT_JOB = "payments_apply_event"

_json = msgspec.json.Encoder(order="sorted")

# Our reasons for a failure Stripe gave no message for (message ids, shown in the reader's language).
FAILED_WITHOUT_MESSAGE = N_("Stripe reported the payment as failed without a reason")


class RetryLater(Exception):
    """Stripe could not be reached or asked us to slow down: run the job again later."""


# --- reads -----------------------------------------------------------------------------------------

def _sees_all(actor: Actor) -> bool:
    return actor.via == "system" or actor.is_("platform", "admin") or actor.is_("oversight", "auditor")


def _scope(actor: Actor) -> Combinable | None:
    """The condition limiting payments to what `actor` may see (None: everything)."""
    require_authenticated(actor)
    if _sees_all(actor):
        return None
    if actor.org_kind == "supplier":
        return Payment.supplier_org == actor.org_id
    if actor.is_("agency", "officer", "agency_admin", "committee"):
        return Payment.agency_org == actor.org_id
    raise Forbidden(N_("Your role does not allow this action"))


def _visible(actor: Actor, row: PaymentRow) -> PaymentRow:
    """The payment as `actor` may see it: the client secret only for the paying supplier."""
    if actor.org_kind == "supplier" and actor.org_id == row.supplier_org_id:
        return row
    return msgspec.structs.replace(row, client_secret=None)


def _one(row: dict[str, Any] | None) -> PaymentRow | None:
    return rows.one(PaymentRow, row)


async def list_payments(*, actor: Actor, kind: str | None = None, state: str | None = None,
                        contract_id: UUID | None = None, appeal_id: UUID | None = None,
                        limit: int = 50, offset: int = 0) -> list[PaymentRow]:
    query = Payment.select().order_by(Payment.created_at, ascending=False).order_by(Payment.id)
    scope = _scope(actor)
    if scope is not None:
        query = query.where(scope)
    for column, value in ((Payment.kind, kind), (Payment.state, state), (Payment.contract, contract_id),
                          (Payment.appeal_id, appeal_id)):
        if value is not None:
            query = query.where(column == value)
    return [_visible(actor, r) for r in rows.many(PaymentRow, await query.limit(limit).offset(offset))]


async def get_payment(*, actor: Actor, payment_id: UUID) -> PaymentRow:
    query = Payment.select().where(Payment.id == payment_id)
    scope = _scope(actor)
    if scope is not None:
        query = query.where(scope)
    row = _one(await query.first())
    if row is None:
        raise NotFound(N_("Payment not found"))
    return _visible(actor, row)


async def contract_payments(*, contract_id: UUID) -> list[PaymentRow]:
    """Every payment of a contract, oldest first, without client secrets. Callers authorise (contracts)."""
    found = rows.many(PaymentRow, await Payment.select().where(Payment.contract == contract_id)
                      .order_by(Payment.created_at).order_by(Payment.id))
    return [msgspec.structs.replace(r, client_secret=None) for r in found]


async def ledger(*, actor: Actor, contract_id: UUID | None = None, limit: int = 200) -> list[LedgerRow]:
    require_authenticated(actor)
    query = LedgerEntry.select().order_by(LedgerEntry.id).limit(limit)
    if not _sees_all(actor):
        if actor.org_kind == "supplier":
            query = query.where(LedgerEntry.supplier_org == actor.org_id)
        elif actor.org_kind == "agency":
            query = query.where(LedgerEntry.payment.agency_org == actor.org_id)
        else:
            raise Forbidden(N_("Your role does not allow this action"))
    if contract_id is not None:
        query = query.where(LedgerEntry.contract == contract_id)
    return rows.many(LedgerRow, await query)


async def contract_paid(*, contract_id: UUID) -> queries.ContractPaid:
    """What the ledger says was paid on a contract. Callers authorise (contracts)."""
    return await queries.contract_paid(contract_id)


# --- requests (inside the caller's transaction; no network) ---------------------------------------

async def _insert_payment(*, actor: Actor, kind: str, method: str, key: str, amount_cents: int, currency: str,
                          supplier_org_id: UUID, agency_org_id: UUID | None = None,
                          contract_id: UUID | None = None, milestone_id: UUID | None = None,
                          appeal_id: UUID | None = None, fee_year: int | None = None,
                          refund_of: UUID | None = None, attempt: int = 1, state: str = "requested",
                          stripe_account_id: str | None = None,
                          external_reference: str | None = None) -> tuple[PaymentRow, bool]:
    """Insert the payment for operation `key`, or return the one already there. (row, created)."""
    now = clock.now()
    new = rows.new(Payment, {
        "kind": kind, "method": method, "state": state, "idempotency_key": key, "attempt": attempt,
        "amount_cents": amount_cents, "currency": currency, "supplier_org_id": supplier_org_id,
        "agency_org_id": agency_org_id, "contract_id": contract_id, "milestone_id": milestone_id,
        "appeal_id": appeal_id, "fee_year": fee_year, "refund_of": refund_of, "stripe_account_id": stripe_account_id,
        "external_reference": external_reference, "requested_by": actor.user_id, "created_at": now,
        "updated_at": now, "settled_at": now if state == "succeeded" else None})
    inserted = await Payment.insert(new).on_conflict(target=Payment.idempotency_key, action="DO NOTHING").returning(
        *Payment.all_columns())
    if not inserted:
        existing = _one(await Payment.select().where(Payment.idempotency_key == key).first())
        assert existing is not None
        return existing, False
    row = _one(inserted[0])
    assert row is not None
    await audit.record(actor=actor, action="payment.requested", entity_type="payment", entity_id=row.id,
                       data={"kind": kind, "method": method, "amount_cents": amount_cents, "currency": currency,
                             "idempotency_key": key})
    if state == "requested":
        queue.enqueue_after_commit(EXECUTE_JOB, str(row.id))
    return row, True


async def request_registry_fee(*, actor: Actor, settings: Settings, year: int | None = None) -> PaymentRow:
    """The supplier's yearly registry fee, paid with a PaymentIntent. Asking twice returns the same payment."""
    require(actor, "supplier", "supplier_admin")
    assert actor.org_id is not None
    year = year or clock.now().year
    if abs(year - clock.now().year) > 1:
        raise InvalidInput(N_("The fee year must be this year or the next"), field="year", rule="range")
    gateway.require_configured(settings)
    row, _ = await _insert_payment(
        actor=actor, kind="registry_fee", method="stripe", key=domain.fee_key(actor.org_id, year),
        amount_cents=settings.registry_fee_cents, currency="PEN", supplier_org_id=actor.org_id, fee_year=year)
    return _visible(actor, row)


async def request_appeal_bond(*, actor: Actor = SYSTEM, appeal_id: UUID, supplier_org_id: UUID,
                              agency_org_id: UUID | None, amount_cents: int, currency: str = "PEN") -> PaymentRow:
    """The bond an appeal owes, paid by the appellant with a PaymentIntent. Asking twice for one appeal
    returns the same bond.

    Asked for by the 'appeal.bond_due' consumer (tenders' awards set the amount, APPEAL_BOND_PERCENT of the
    lot's estimated value, when the appeal is filed). The appeal suspends consent only once the bond is paid
    (the 'appeal_bond.paid' outbox event, consumed by tenders' awards).
    """
    if amount_cents <= 0:
        raise InvalidInput(N_("The bond must be positive"), field="amount", rule="range")
    row, _ = await _insert_payment(
        actor=actor, kind="appeal_bond", method="stripe", key=domain.bond_key(appeal_id), amount_cents=amount_cents,
        currency=currency, supplier_org_id=supplier_org_id, agency_org_id=agency_org_id, appeal_id=appeal_id)
    return row


async def appeal_bond(*, appeal_id: UUID) -> PaymentRow | None:
    """The bond of an appeal (without its client secret), or None."""
    row = _one(await Payment.select().where((Payment.kind == "appeal_bond") & (Payment.appeal_id == appeal_id))
               .first())
    return None if row is None else msgspec.structs.replace(row, client_secret=None)


async def bond_refund(*, appeal_id: UUID) -> PaymentRow | None:
    """The refund of an appeal's bond, once one was asked for, or None."""
    return _one(await Payment.select().where((Payment.kind == "bond_refund") & (Payment.appeal_id == appeal_id))
                .first())


async def bond_paid(*, appeal_id: UUID) -> bool:
    """True once the appeal's bond has been paid (a verified payment_intent.succeeded was applied)."""
    bond = await appeal_bond(appeal_id=appeal_id)
    return bond is not None and bond.state == "succeeded"


async def refund_appeal_bond(*, actor: Actor, appeal_id: UUID) -> PaymentRow:
    """Refund an appeal's paid bond in full (a Stripe Refund, run by the job). Safe to call twice."""
    require(actor, "agency", "officer", "committee", "agency_admin")
    bond = _one(await Payment.select().where((Payment.kind == "appeal_bond") & (Payment.appeal_id == appeal_id))
                .lock_rows().first())
    if bond is None:
        raise NotFound(N_("This appeal has no bond"))
    if actor.via != "system" and bond.agency_org_id is not None:
        require_member(actor, bond.agency_org_id)
    if bond.state != "succeeded":
        raise Conflict(N_("The bond has not been paid, so there is nothing to refund"), rule="bond-not-paid")
    row, _ = await _insert_payment(
        actor=actor, kind="bond_refund", method="stripe", key=domain.bond_refund_key(appeal_id),
        amount_cents=bond.amount_cents, currency=bond.currency.strip(), supplier_org_id=bond.supplier_org_id,
        agency_org_id=bond.agency_org_id, appeal_id=appeal_id, refund_of=bond.id)
    return row


async def connected_account(*, organisation_id: UUID) -> str | None:
    row = await ConnectedAccount.select(ConnectedAccount.stripe_account_id).where(
        (ConnectedAccount.organisation == organisation_id) & ConnectedAccount.transfers_enabled.eq(True)).first()
    return row["stripe_account_id"] if row else None


async def set_connected_account(*, actor: Actor, organisation_id: UUID, stripe_account_id: str) -> ConnectedAccountRow:
    """Link a supplier's Stripe Connect account (the supplier's admin or a platform admin)."""
    require(actor, ("supplier", "platform"), "supplier_admin", "admin")
    if actor.org_kind == "supplier":
        require_member(actor, organisation_id)
    org = await Organisation.select(Organisation.kind).where(Organisation.id == organisation_id).first()
    if org is None or org["kind"] != "supplier":
        raise NotFound(N_("Supplier not found"))
    account = rows.new(ConnectedAccount, {"organisation_id": organisation_id, "stripe_account_id": stripe_account_id,
                                          "transfers_enabled": True, "updated_at": clock.now()})
    saved = await ConnectedAccount.insert(account).on_conflict(
        target=ConnectedAccount.organisation, action="DO UPDATE",
        values=[ConnectedAccount.stripe_account_id, ConnectedAccount.transfers_enabled, ConnectedAccount.updated_at],
    ).returning(*ConnectedAccount.all_columns())
    await audit.record(actor=actor, action="payment.connected_account", entity_type="organisation",
                       entity_id=organisation_id, data={"stripe_account_id": stripe_account_id})
    row = rows.one(ConnectedAccountRow, saved[0])
    assert row is not None
    return row


_DEAD = ("failed", "canceled", "reversed")  # a milestone payment in these states leaves room for another attempt


async def pay_milestone(*, actor: Actor, settings: Settings, contract_id: UUID, milestone_id: UUID,
                        amount_cents: int, currency: str, supplier_org_id: UUID, agency_org_id: UUID,
                        external_reference: str | None = None) -> PaymentRow:
    """Pay an accepted milestone: a Connect transfer when the supplier has an account, else a treasury
    transfer recorded with its reference (settled at once). The contracts service checks the milestone.
    """
    require(actor, "agency", "officer", "agency_admin")
    require_member(actor, agency_org_id)
    mine = (Payment.milestone == milestone_id) & (Payment.kind == "milestone")
    live = await Payment.select(Payment.id).where(mine & Payment.state.not_in(list(_DEAD))).first()
    if live is not None:
        raise Conflict(N_("This milestone already has a payment under way or made"), rule="milestone-paid",
                       payment_id=str(live["id"]))
    attempt = 1 + await Payment.count().where(mine)
    key = domain.milestone_key(milestone_id, attempt)
    common: dict[str, Any] = dict(
        actor=actor, kind="milestone", key=key, amount_cents=amount_cents, currency=currency,
        supplier_org_id=supplier_org_id, agency_org_id=agency_org_id, contract_id=contract_id,
        milestone_id=milestone_id, attempt=attempt)
    if external_reference:  # a treasury transfer already made: recorded, nothing to call
        row, _ = await _insert_payment(**common, method="treasury", state="succeeded",
                                       external_reference=external_reference)
        await _settle(row, "requested", "succeeded", cause="treasury")
        return row
    account = await connected_account(organisation_id=supplier_org_id)
    if account is None:
        raise InvalidInput(
            N_("The supplier has no Stripe account: record the treasury transfer with its reference"),
            field="external_reference", rule="required")
    gateway.require_configured(settings)
    row, _ = await _insert_payment(**common, method="stripe_connect", stripe_account_id=account)
    return row


# --- applying what Stripe tells us -----------------------------------------------------------------

async def _write_ledger(row: PaymentRow, state: str) -> None:
    reference = row.external_reference or row.stripe_object_id or ""
    for entry in domain.ledger_entries(row.kind, state):
        new = rows.new(LedgerEntry, {
            "occurred_at": clock.now(), "payment_id": row.id, "entry_type": entry.entry_type,
            "direction": entry.direction, "amount_cents": row.amount_cents, "currency": row.currency.strip(),
            "supplier_org_id": row.supplier_org_id, "contract_id": row.contract_id, "milestone_id": row.milestone_id,
            "appeal_id": row.appeal_id, "fee_year": row.fee_year, "reference": reference})
        await LedgerEntry.insert(new).on_conflict(target=(LedgerEntry.payment, LedgerEntry.entry_type),
                                                  action="DO NOTHING")


def _event_payload(row: PaymentRow, old: str) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "payment_id": str(row.id), "kind": row.kind, "method": row.method, "state": row.state,
        "previous_state": old, "amount_cents": row.amount_cents, "currency": row.currency.strip(),
        "supplier_org_id": str(row.supplier_org_id),
        "settled_at": row.settled_at.isoformat() if row.settled_at else None,
    }
    for name in ("agency_org_id", "appeal_id", "contract_id", "milestone_id"):
        value = getattr(row, name)
        if value:
            payload[name] = str(value)
    if row.state == "failed":
        payload["failure_reason"] = row.failure_reason
    return payload


async def _settle(row: PaymentRow, old: str, new: str, *, cause: str) -> None:
    """Side effects of a state change (already written to the row): ledger, audit, outbox."""
    if old == new:
        return
    await _write_ledger(row, new)
    await audit.record(actor=SYSTEM, action="payment.state", entity_type="payment", entity_id=row.id,
                       data={"from": old, "to": new, "cause": cause})
    if old == "requested":
        await queries.clear_alarms(now=clock.now(), payment_id=row.id)
    payload = _event_payload(row, old)
    await outbox.emit(topic=f"payment.{new}", aggregate_type="payment", aggregate_id=row.id, payload=payload)
    if new == "succeeded" and row.kind == "appeal_bond":
        await outbox.emit(topic="appeal_bond.paid", aggregate_type="appeal", aggregate_id=row.appeal_id,
                          payload=payload)
    if new == "succeeded" and row.kind == "bond_refund":
        await outbox.emit(topic="appeal_bond.refunded", aggregate_type="appeal", aggregate_id=row.appeal_id,
                          payload=payload)
    if new == "succeeded" and row.kind == "registry_fee":
        await outbox.emit(topic="registry_fee.paid", aggregate_type="organisation",
                          aggregate_id=row.supplier_org_id, payload={**payload, "year": row.fee_year})


async def _move(row: PaymentRow, target: str | None, *, cause: str, stripe_object_id: str | None = None,
                client_secret: str | None = None, failure_reason: str | None = None) -> PaymentRow:
    """Move a locked payment row forward to `target` and record what Stripe told us."""
    old = row.state
    new = domain.advance(old, target)
    now = clock.now()
    values: dict[Any, Any] = {Payment.state: new, Payment.updated_at: now}
    if stripe_object_id and row.stripe_object_id is None:
        values[Payment.stripe_object_id] = stripe_object_id
    if client_secret and row.client_secret is None:
        values[Payment.client_secret] = client_secret
    if new == "failed" and failure_reason:
        values[Payment.failure_reason] = failure_reason[:500]
    if new in ("succeeded", "reversed") and row.settled_at is None:
        values[Payment.settled_at] = now
    updated = _one((await Payment.update(values).where(Payment.id == row.id).returning(*Payment.all_columns()))[0])
    assert updated is not None
    await _settle(updated, old, new, cause=cause)
    return updated


async def _lock(payment_id: UUID) -> PaymentRow | None:
    return _one(await Payment.select().where(Payment.id == payment_id).lock_rows().first())


async def receive_webhook(*, settings: Settings, payload: bytes, signature: str | None) -> bool:
    """Verify a delivery and store its event once. True when new (then applied by a job after commit)."""
    if not settings.stripe_webhook_secret:
        raise NotFound(N_("Not found"))
    try:
        event = gateway.verify_webhook(payload, signature, settings.stripe_webhook_secret)
    except gateway.BadSignature as exc:
        raise InvalidInput(N_("The Stripe signature is missing, wrong or too old"), field="Stripe-Signature",
                           rule="signature") from exc
    except ValueError as exc:
        raise InvalidInput(N_("The body is not a Stripe event"), field="body", rule="stripe-event") from exc
    return await store_event(event)


async def store_event(event: dict[str, Any]) -> bool:
    obj = event["data"]["object"]
    created = event.get("created")
    object_id = obj.get("id")
    new = rows.new(StripeEvent, {
        "id": event["id"], "type": event["type"], "object_id": object_id if isinstance(object_id, str) else None,
        "api_created": datetime.fromtimestamp(created, UTC) if isinstance(created, int) else None,
        "livemode": bool(event.get("livemode")), "payload": _json.encode(event).decode(),
        "received_at": clock.now(), "applied_at": None, "outcome": None})
    stored = await StripeEvent.insert(new).on_conflict(target=StripeEvent.id, action="DO NOTHING")
    if not stored:
        return False
    queue.enqueue_after_commit(APPLY_EVENT_JOB, event["id"])
    return True


async def _payment_for(event_type: str, obj: dict[str, Any]) -> PaymentRow | None:
    """The payment an event's object is about (locked), through our metadata or the Stripe id."""
    if event_type == "charge.refunded":
        intent = obj.get("payment_intent")
        if not intent:
            return None
        bond = await Payment.select(Payment.id).where(Payment.stripe_object_id == intent).first()
        if bond is None:
            return None
        return _one(await Payment.select().where(Payment.refund_of == bond["id"]).lock_rows().first())
    payment_id = (obj.get("metadata") or {}).get("payment_id")
    if payment_id:
        try:
            row = await _lock(UUID(payment_id))
        except ValueError:
            row = None
        if row is not None:
            return row
    if isinstance(obj.get("id"), str):
        return _one(await Payment.select().where(Payment.stripe_object_id == obj["id"]).lock_rows().first())
    return None


async def apply_event(*, event_id: str) -> str | None:
    """Apply a stored event (once), in the caller's transaction. Returns its outcome: applied, ignored or
    unmatched."""
    ev = rows.one(StripeEventRow, await StripeEvent.select().where(StripeEvent.id == event_id).lock_rows()
                  .output(load_json=True).first())
    if ev is None:
        return None
    if ev.applied_at is not None:
        return ev.outcome
    event = ev.payload if isinstance(ev.payload, dict) else msgspec.json.decode(ev.payload)
    outcome = await _apply(event)
    await StripeEvent.update({StripeEvent.applied_at: clock.now(), StripeEvent.outcome: outcome}).where(
        StripeEvent.id == event_id)
    return outcome


async def _apply(event: dict[str, Any]) -> str:
    event_type = event["type"]
    obj = event["data"]["object"]
    if event_type not in domain.HANDLED_EVENTS:
        return "ignored"
    if event_type == "account.updated":
        transfers = (obj.get("capabilities") or {}).get("transfers")
        changed = await ConnectedAccount.update(
            {ConnectedAccount.transfers_enabled: transfers == "active", ConnectedAccount.updated_at: clock.now()}
        ).where(ConnectedAccount.stripe_account_id == obj.get("id")).returning(ConnectedAccount.organisation)
        return "applied" if changed else "unmatched"
    row = await _payment_for(event_type, obj)
    if row is None:
        return "unmatched"
    target = domain.state_of_event(event_type, obj)
    failure = None
    if target == "failed":
        failure = ((obj.get("last_payment_error") or {}).get("message") or obj.get("failure_reason")
                   or FAILED_WITHOUT_MESSAGE)
    own_object = event_type != "charge.refunded"
    await _move(row, target, cause=f"stripe:{event['id']}:{event_type}",
                stripe_object_id=obj.get("id") if own_object else None, failure_reason=failure)
    return "applied"


# --- the outbound job ------------------------------------------------------------------------------

def _needs_call(row: PaymentRow) -> bool:
    if row.method == "treasury":
        return False
    if row.state == "requested":
        return True
    # A webhook may have moved the row before the job recorded the client secret the payer needs.
    return row.kind in domain.INTENT_KINDS and row.client_secret is None and row.state in (
        "pending", "processing", "failed") and row.stripe_object_id is not None


async def _call_stripe(settings: Settings, row: PaymentRow) -> tuple[dict[str, Any], str | None]:
    """The Stripe call for this payment, with its idempotency key. (object, state it implies)."""
    client = gateway.client(settings)
    options: Any = {"idempotency_key": row.idempotency_key}
    metadata = {"payment_id": str(row.id), "kind": row.kind}
    for name in ("appeal_id", "contract_id", "milestone_id"):
        value = getattr(row, name)
        if value:
            metadata[name] = str(value)
    currency = row.currency.strip().lower()
    if row.kind in domain.INTENT_KINDS:
        description = (f"Derecho de inscripción en el registro de proveedores {row.fee_year}"
                       if row.kind == "registry_fee" else "Garantía por interposición de apelación")
        intent = await client.v1.payment_intents.create_async(
            {"amount": row.amount_cents, "currency": currency, "description": description,
             "automatic_payment_methods": {"enabled": True}, "metadata": metadata}, options)
        data = gateway.as_dict(intent)
        return data, domain.state_of_intent(data.get("status"))
    if row.kind == "bond_refund":
        bond = await Payment.select(Payment.stripe_object_id).where(Payment.id == row.refund_of).first()
        if not bond or not bond["stripe_object_id"]:
            raise Conflict(N_("The bond has no Stripe payment to refund"))
        refund = await client.v1.refunds.create_async(
            {"payment_intent": bond["stripe_object_id"], "reason": "requested_by_customer", "metadata": metadata},
            options)
        data = gateway.as_dict(refund)
        return data, domain.state_of_refund(data.get("status"))
    if row.kind == "milestone":
        assert row.stripe_account_id is not None
        transfer = await client.v1.transfers.create_async(
            {"amount": row.amount_cents, "currency": currency, "destination": row.stripe_account_id,
             "transfer_group": f"contract:{row.contract_id}", "metadata": metadata}, options)
        data = gateway.as_dict(transfer)
        return data, domain.state_of_transfer(data)
    raise ValueError(f"unknown payment kind {row.kind}")


async def _record_result(row: PaymentRow, obj: dict[str, Any], state: str | None) -> PaymentRow:
    return await _move(row, state, cause="stripe:api", stripe_object_id=obj.get("id"),
                       client_secret=obj.get("client_secret"))


async def execute_payment(*, settings: Settings, payment_id: UUID) -> str | None:
    """Run one payment against Stripe (the job's body). Safe to run any number of times.

    Three steps, so that a slow Stripe holds neither a pooled connection nor the payment row's lock:
    read the row (committed at once), call Stripe outside any transaction, then lock the row again and
    record the result. The operation's deterministic idempotency key makes this safe: a second job, or a
    job killed before recording, repeats the same call and Stripe answers with the same object; recording
    only moves the row forward (domain.advance), so a webhook applied meanwhile is never undone.

    A payment that cannot be made ends 'failed' with its reason: Stripe's message when Stripe refused it,
    ours when the settings it needs are missing or Stripe refused our key. Stripe out of reach or asking us
    to slow down raises RetryLater (the payment stays 'requested'; past PAYMENT_STUCK_MINUTES it raises an
    alarm).
    """
    row = _one(await Payment.select().where(Payment.id == payment_id).first())
    if row is None or not _needs_call(row):
        return row.state if row else None
    failure: tuple[str, str] | None = None
    obj: dict[str, Any] = {}
    state: str | None = None
    missing = gateway.missing_settings(settings)
    if missing:
        failure = ("config", gateway.NOT_CONFIGURED_REASON[tuple(missing)])
    else:
        try:
            obj, state = await _call_stripe(settings, row)
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            raise RetryLater(str(exc)) from exc
        except stripe.AuthenticationError as exc:
            log.error("payment %s: Stripe refused the platform's key: %s", payment_id, exc)
            failure = ("stripe:auth", gateway.KEY_REFUSED_REASON)
        except (stripe.CardError, stripe.InvalidRequestError, stripe.IdempotencyError,
                stripe.PermissionError) as exc:
            message = getattr(exc, "user_message", None) or str(exc)
            log.warning("payment %s refused by Stripe: %s", payment_id, message)
            failure = ("stripe:api", message)
        except Conflict as exc:  # nothing Stripe could do (a refund of a bond never charged): stop retrying
            failure = ("stripe:precondition", str(exc))
    async with db.unit_of_work():  # the job's own transaction (payments_execute is marked own_transaction)
        locked = await _lock(payment_id)
        assert locked is not None  # payments are never deleted
        if failure is not None:
            updated = await _move(locked, "failed", cause=failure[0], failure_reason=failure[1])
        else:
            updated = await _record_result(locked, obj, state)
        return updated.state


# --- sweeping, reconciling, alarms -----------------------------------------------------------------

async def pending_work(*, older_than_seconds: int = 30) -> tuple[list[UUID], list[str]]:
    """Payments still 'requested' and events not yet applied, older than the given age."""
    cutoff = clock.now() - timedelta(seconds=older_than_seconds)
    payments = await Payment.select(Payment.id).where(
        (Payment.state == "requested") & (Payment.method != "treasury") & (Payment.created_at < cutoff)
    ).order_by(Payment.created_at).limit(500)
    events = await StripeEvent.select(StripeEvent.id).where(
        StripeEvent.applied_at.is_null() & (StripeEvent.received_at < cutoff)
    ).order_by(StripeEvent.received_at).limit(500)
    return [r["id"] for r in payments], [r["id"] for r in events]


class ReconcileItem(msgspec.Struct):
    id: str
    type: str
    created: int | None
    status: str  # missing: never received; unapplied: received, not applied


async def reconcile(*, settings: Settings, apply: bool = False, limit: int = 1000) -> list[ReconcileItem]:
    """Stripe's events (newest first, up to `limit`) that this database has not applied.

    With apply=True they are stored and applied now (events read from Stripe's API with our secret key need
    no signature).
    """
    client = gateway.client(settings)
    page = await client.v1.events.list_async({"limit": min(limit, 100)})
    seen: list[dict[str, Any]] = []
    async for listed in page.auto_paging_iter():
        seen.append(gateway.as_dict(listed))
        if len(seen) >= limit:
            break
    if not seen:
        return []
    stored = {r["id"]: r for r in await StripeEvent.select(StripeEvent.id, StripeEvent.applied_at).where(
        StripeEvent.id.is_in([e["id"] for e in seen]))}
    result = []
    for event in seen:
        have = stored.get(event["id"])
        if have is not None and have["applied_at"] is not None:
            continue
        result.append(ReconcileItem(id=event["id"], type=event["type"], created=event.get("created"),
                                    status="unapplied" if have is not None else "missing"))
        if apply:
            # One event at a time (the CLI runs outside any transaction): a failure keeps those applied before.
            async with db.unit_of_work():
                await store_event(event)
                await apply_event(event_id=event["id"])
    return result


async def raise_alarms(*, settings: Settings) -> int:
    """An alarm for each payment 'requested' longer than PAYMENT_STUCK_MINUTES (once per payment), announced
    as 'payment.stuck' (oversight notifies the agency); alarms of payments that moved on are cleared. Runs in
    the caller's transaction. Returns how many alarms were raised."""
    now = clock.now()
    await queries.clear_alarms(now=now)
    limit = settings.payment_stuck_minutes
    raised = await queries.raise_alarms(requested_before=now - timedelta(minutes=limit), now=now,
                                        limit_minutes=limit)
    for a in raised:
        payload: dict[str, Any] = {
            "alarm_id": a.id, "payment_id": str(a.payment_id), "kind": a.kind, "method": a.method,
            "amount_cents": a.amount_cents, "currency": a.currency.strip(), "supplier_org_id": str(a.supplier_org_id),
            "requested_at": a.requested_at.isoformat(), "limit_minutes": a.limit_minutes,
            "minutes_requested": int((now - a.requested_at).total_seconds() // 60)}
        for name in ("agency_org_id", "contract_id", "milestone_id", "appeal_id"):
            value = getattr(a, name)
            if value:
                payload[name] = str(value)
        await outbox.emit(topic="payment.stuck", aggregate_type="payment", aggregate_id=a.payment_id,
                          payload=payload)
    return len(raised)


async def alarms(*, actor: Actor, open_only: bool = True, limit: int = 200) -> list[queries.AlarmRow]:
    """Payments stuck in 'requested' (oversight bodies and the platform)."""
    require(actor, ("oversight", "platform"))
    return await queries.alarms(open_only=open_only, limit=limit)
