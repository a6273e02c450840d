"""Payments use cases: requesting payments, running them against Stripe in jobs, applying webhooks, the ledger.

Money never moves inside a request transaction. A request writes a `payment` row in state 'requested'
(plus audit and outbox) and enqueues `payments_execute` after commit; the job locks the row, calls Stripe
with the operation's deterministic idempotency key, and records the result in the same transaction. A job
killed between the call and the commit leaves the row 'requested'; the retry sends the same key and
Stripe answers with the same object, so each operation is charged once.

Webhooks are verified, stored once by event id, and applied by `payments_apply_event`, which moves the
payment forward only (see domain.py) and writes the ledger entries the new state implies, once each.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec
import stripe

from marketplace.core import audit, clock, db, outbox, queue
from marketplace.core.actor import SYSTEM, Actor, require, require_authenticated, require_member
from marketplace.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unavailable
from marketplace.core.i18n import N_
from marketplace.payments import domain, gateway
from marketplace.settings import Settings

log = logging.getLogger(__name__)

EXECUTE_JOB = "payments_execute"
APPLY_EVENT_JOB = "payments_apply_event"

_json = msgspec.json.Encoder(order="sorted")

PUBLIC_COLUMNS = (
    "id, kind, method, state, idempotency_key, attempt, amount_cents, currency, supplier_org_id,"
    " agency_org_id, contract_id, milestone_id, appeal_id, fee_year, refund_of, stripe_object_id,"
    " stripe_account_id, client_secret, external_reference, failure_reason, created_at, updated_at, settled_at"
)


class RetryLater(Exception):
    """Stripe could not be reached or asked us to slow down: run the job again later."""


# --- reads -----------------------------------------------------------------------------------------

def _scope(actor: Actor) -> tuple[str, list[Any]]:
    """SQL condition limiting payments to what `actor` may see."""
    require_authenticated(actor)
    if actor.via == "system" or actor.is_("platform", "admin") or actor.is_("oversight", "auditor"):
        return "true", []
    if actor.org_kind == "supplier":
        return "supplier_org_id = $1", [actor.org_id]
    if actor.is_("agency", "officer", "agency_admin", "committee"):
        return "agency_org_id = $1", [actor.org_id]
    raise Forbidden(N_("Your role does not allow this action"))


def _visible(actor: Actor, row: dict[str, Any]) -> dict[str, Any]:
    """The payment as `actor` may see it: the client secret only for the paying supplier."""
    out = dict(row)
    if not (actor.org_kind == "supplier" and actor.org_id == row["supplier_org_id"]):
        out["client_secret"] = None
    return out


async def list_payments(*, actor: Actor, kind: str | None = None, state: str | None = None,
                        contract_id: UUID | None = None, appeal_id: UUID | None = None,
                        limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    where, args = _scope(actor)
    conds = [where]
    for column, value in (("kind", kind), ("state", state), ("contract_id", contract_id),
                          ("appeal_id", appeal_id)):
        if value is not None:
            args.append(value)
            conds.append(f"{column} = ${len(args)}")
    args += [limit, offset]
    rows = await db.fetch(
        f"SELECT {PUBLIC_COLUMNS} FROM payment WHERE {' AND '.join(conds)}"
        f" ORDER BY created_at DESC, id LIMIT ${len(args) - 1} OFFSET ${len(args)}", *args)
    return [_visible(actor, r) for r in rows]


async def get_payment(*, actor: Actor, payment_id: UUID) -> dict[str, Any]:
    where, args = _scope(actor)
    args.append(payment_id)
    row = await db.fetchrow(f"SELECT {PUBLIC_COLUMNS} FROM payment WHERE {where} AND id = ${len(args)}", *args)
    if row is None:
        raise NotFound(N_("Payment not found"))
    return _visible(actor, row)


async def ledger(*, actor: Actor, contract_id: UUID | None = None, limit: int = 200) -> list[dict[str, Any]]:
    require_authenticated(actor)
    conds, args = [], []
    if not (actor.via == "system" or actor.is_("platform", "admin") or actor.is_("oversight", "auditor")):
        if actor.org_kind == "supplier":
            args.append(actor.org_id)
            conds.append(f"l.supplier_org_id = ${len(args)}")
        elif actor.org_kind == "agency":
            args.append(actor.org_id)
            conds.append(f"p.agency_org_id = ${len(args)}")
        else:
            raise Forbidden(N_("Your role does not allow this action"))
    if contract_id is not None:
        args.append(contract_id)
        conds.append(f"l.contract_id = ${len(args)}")
    args.append(limit)
    where = " AND ".join(conds) or "true"
    return await db.fetch(
        "SELECT l.id, l.occurred_at, l.payment_id, l.entry_type, l.direction, l.amount_cents, l.currency,"
        " l.supplier_org_id, l.contract_id, l.milestone_id, l.appeal_id, l.fee_year, l.reference"
        f" FROM ledger_entry l JOIN payment p ON p.id = l.payment_id WHERE {where}"
        f" ORDER BY l.id LIMIT ${len(args)}", *args)


async def contract_balance(*, contract_id: UUID) -> dict[str, Any]:
    """Paid and outstanding amounts of a contract, derived from the ledger. Callers authorise."""
    row = await db.fetchrow(
        "SELECT contract_id, currency, value_cents, paid_cents, outstanding_cents, entries"
        " FROM contract_balance WHERE contract_id = $1", contract_id)
    if row is None:
        raise NotFound(N_("Contract not found"))
    row["currency"] = row["currency"].strip()
    return row


# --- requests (inside the caller's transaction; no network) ---------------------------------------

async def _insert_payment(*, actor: Actor, kind: str, method: str, key: str, amount_cents: int, currency: str,
                          supplier_org_id: UUID, agency_org_id: UUID | None = None,
                          contract_id: UUID | None = None, milestone_id: UUID | None = None,
                          appeal_id: UUID | None = None, fee_year: int | None = None,
                          refund_of: UUID | None = None, attempt: int = 1, state: str = "requested",
                          stripe_account_id: str | None = None,
                          external_reference: str | None = None) -> tuple[dict[str, Any], bool]:
    """Insert the payment for operation `key`, or return the one already there. (row, created)."""
    now = clock.now()
    row = await db.fetchrow(
        "INSERT INTO payment (kind, method, state, idempotency_key, attempt, amount_cents, currency,"
        " supplier_org_id, agency_org_id, contract_id, milestone_id, appeal_id, fee_year, refund_of,"
        " stripe_account_id, external_reference, requested_by, created_at, updated_at, settled_at)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$18,"
        " CASE WHEN $3 = 'succeeded' THEN $18::timestamptz END)"
        f" ON CONFLICT (idempotency_key) DO NOTHING RETURNING {PUBLIC_COLUMNS}",
        kind, method, state, key, attempt, amount_cents, currency, supplier_org_id, agency_org_id, contract_id,
        milestone_id, appeal_id, fee_year, refund_of, stripe_account_id, external_reference, actor.user_id, now)
    if row is None:
        existing = await db.fetchrow(f"SELECT {PUBLIC_COLUMNS} FROM payment WHERE idempotency_key = $1", key)
        assert existing is not None
        return existing, False
    await audit.record(actor=actor, action="payment.requested", entity_type="payment", entity_id=row["id"],
                       data={"kind": kind, "method": method, "amount_cents": amount_cents, "currency": currency,
                             "idempotency_key": key})
    if state == "requested":
        queue.enqueue_after_commit(EXECUTE_JOB, str(row["id"]))
    return row, True


async def request_registry_fee(*, actor: Actor, settings: Settings, year: int | None = None) -> dict[str, Any]:
    """The supplier's yearly registry fee, paid with a PaymentIntent. Asking twice returns the same payment."""
    require(actor, "supplier", "supplier_admin")
    year = year or clock.now().year
    if abs(year - clock.now().year) > 1:
        raise InvalidInput(N_("The fee year must be this year or the next"), field="year", rule="range")
    row, _ = await _insert_payment(
        actor=actor, kind="registry_fee", method="stripe", key=domain.fee_key(actor.org_id, year),
        amount_cents=settings.registry_fee_cents, currency="PEN", supplier_org_id=actor.org_id, fee_year=year)
    return _visible(actor, row)


async def request_appeal_bond(*, actor: Actor, bond_percent: Decimal, appeal_id: UUID, supplier_org_id: UUID,
                              agency_org_id: UUID | None, estimated_value_cents: int,
                              currency: str = "PEN") -> dict[str, Any]:
    """The appeal bond (`bond_percent`, APPEAL_BOND_PERCENT, of the lot's estimated value), paid by the
    appellant. Asking twice for one appeal returns the same bond.

    The appeals service asks for it in the transaction that files the appeal; the appeal suspends consent
    only once the bond is paid (the 'appeal_bond.paid' outbox event, consumed by tenders.awards).
    """
    require(actor, "supplier", "supplier_admin", "bidder")
    require_member(actor, supplier_org_id)
    if estimated_value_cents <= 0:
        raise InvalidInput(N_("The estimated value must be positive"), field="estimated_value_cents", rule="range")
    amount = domain.appeal_bond_cents(estimated_value_cents, bond_percent)
    row, _ = await _insert_payment(
        actor=actor, kind="appeal_bond", method="stripe", key=domain.bond_key(appeal_id), amount_cents=amount,
        currency=currency, supplier_org_id=supplier_org_id, agency_org_id=agency_org_id, appeal_id=appeal_id)
    return _visible(actor, row)


async def appeal_bond(*, appeal_id: UUID) -> dict[str, Any] | None:
    """The bond of an appeal (with `refund_state` when a refund was asked), or None."""
    row = await db.fetchrow(
        f"SELECT {PUBLIC_COLUMNS}, (SELECT r.state FROM payment r WHERE r.refund_of = p.id) AS refund_state"
        " FROM payment p WHERE kind = 'appeal_bond' AND appeal_id = $1", appeal_id)
    if row is not None:
        row["client_secret"] = None
    return row


async def paid_bonds(*, appeal_ids: list[UUID]) -> set[UUID]:
    """Which of these appeals have a paid bond (for counting the appeals that suspend consent)."""
    rows = await db.fetch("SELECT appeal_id FROM payment WHERE kind = 'appeal_bond' AND state = 'succeeded'"
                          " AND appeal_id = ANY($1::uuid[])", appeal_ids)
    return {r["appeal_id"] for r in rows}


async def bond_paid(*, appeal_id: UUID) -> bool:
    """True once the appeal's bond has been paid (a verified payment_intent.succeeded was applied)."""
    row = await db.fetchrow(
        "SELECT state FROM payment WHERE kind = 'appeal_bond' AND appeal_id = $1", appeal_id)
    return row is not None and row["state"] == "succeeded"


async def refund_appeal_bond(*, actor: Actor, appeal_id: UUID) -> dict[str, Any]:
    """Refund an upheld appeal's bond in full (a Stripe Refund, run by the job). Safe to call twice."""
    require(actor, "agency", "officer", "committee", "agency_admin")
    bond = await db.fetchrow(
        "SELECT * FROM payment WHERE kind = 'appeal_bond' AND appeal_id = $1 FOR UPDATE", appeal_id)
    if bond is None:
        raise NotFound(N_("This appeal has no bond"))
    if actor.via != "system" and bond["agency_org_id"] is not None:
        require_member(actor, bond["agency_org_id"])
    if bond["state"] != "succeeded":
        raise Conflict(N_("The bond has not been paid, so there is nothing to refund"), rule="bond-not-paid")
    row, _ = await _insert_payment(
        actor=actor, kind="bond_refund", method="stripe", key=domain.bond_refund_key(appeal_id),
        amount_cents=bond["amount_cents"], currency=bond["currency"].strip(),
        supplier_org_id=bond["supplier_org_id"], agency_org_id=bond["agency_org_id"], appeal_id=appeal_id,
        refund_of=bond["id"])
    return row


async def connected_account(*, organisation_id: UUID) -> str | None:
    row = await db.fetchrow(
        "SELECT stripe_account_id FROM connected_account WHERE organisation_id = $1 AND transfers_enabled",
        organisation_id)
    return row["stripe_account_id"] if row else None


async def set_connected_account(*, actor: Actor, organisation_id: UUID, stripe_account_id: str) -> dict[str, Any]:
    """Link a supplier's Stripe Connect account (the supplier's admin or a platform admin)."""
    require(actor, ("supplier", "platform"), "supplier_admin", "admin")
    if actor.org_kind == "supplier":
        require_member(actor, organisation_id)
    org = await db.fetchrow("SELECT kind FROM organisation WHERE id = $1", organisation_id)
    if org is None or org["kind"] != "supplier":
        raise NotFound(N_("Supplier not found"))
    row = await db.fetchrow(
        "INSERT INTO connected_account (organisation_id, stripe_account_id, transfers_enabled, updated_at)"
        " VALUES ($1, $2, true, $3) ON CONFLICT (organisation_id) DO UPDATE SET"
        " stripe_account_id = EXCLUDED.stripe_account_id, transfers_enabled = true, updated_at = EXCLUDED.updated_at"
        " RETURNING organisation_id, stripe_account_id, transfers_enabled, updated_at",
        organisation_id, stripe_account_id, clock.now())
    await audit.record(actor=actor, action="payment.connected_account", entity_type="organisation",
                       entity_id=organisation_id, data={"stripe_account_id": stripe_account_id})
    return row


async def pay_milestone(*, actor: Actor, contract_id: UUID, milestone_id: UUID, amount_cents: int, currency: str,
                        supplier_org_id: UUID, agency_org_id: UUID,
                        external_reference: str | None = None) -> dict[str, Any]:
    """Pay an accepted milestone: a Connect transfer when the supplier has an account, else a treasury
    transfer recorded with its reference (settled at once). The contracts service checks the milestone.
    """
    require(actor, "agency", "officer", "agency_admin")
    require_member(actor, agency_org_id)
    live = await db.fetchrow(
        "SELECT id, state FROM payment WHERE milestone_id = $1 AND kind = 'milestone'"
        " AND state NOT IN ('failed', 'canceled', 'reversed')", milestone_id)
    if live is not None:
        raise Conflict(N_("This milestone already has a payment under way or made"), rule="milestone-paid",
                       payment_id=str(live["id"]))
    attempt = 1 + (await db.fetchrow(
        "SELECT count(*) AS n FROM payment WHERE milestone_id = $1 AND kind = 'milestone'", milestone_id))["n"]
    key = domain.milestone_key(milestone_id, attempt)
    common = dict(actor=actor, kind="milestone", key=key, amount_cents=amount_cents, currency=currency,
                  supplier_org_id=supplier_org_id, agency_org_id=agency_org_id, contract_id=contract_id,
                  milestone_id=milestone_id, attempt=attempt)
    if external_reference:
        row, _ = await _insert_payment(**common, method="treasury", state="succeeded",
                                       external_reference=external_reference)
        await _settle(row, "requested", "succeeded", cause="treasury")
        return row
    account = await connected_account(organisation_id=supplier_org_id)
    if account is None:
        raise InvalidInput(
            N_("The supplier has no Stripe account: record the treasury transfer with its reference"),
            field="external_reference", rule="required")
    row, _ = await _insert_payment(**common, method="stripe_connect", stripe_account_id=account)
    return row


# --- applying what Stripe tells us -----------------------------------------------------------------

async def _write_ledger(row: dict[str, Any], state: str) -> None:
    for entry in domain.ledger_entries(row["kind"], state):
        reference = row.get("external_reference") or row.get("stripe_object_id") or ""
        await db.execute(
            "INSERT INTO ledger_entry (occurred_at, payment_id, entry_type, direction, amount_cents, currency,"
            " supplier_org_id, contract_id, milestone_id, appeal_id, fee_year, reference)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) ON CONFLICT (payment_id, entry_type) DO NOTHING",
            clock.now(), row["id"], entry.entry_type, entry.direction, row["amount_cents"],
            row["currency"].strip(), row["supplier_org_id"], row["contract_id"], row["milestone_id"],
            row["appeal_id"], row["fee_year"], reference)


async def _settle(row: dict[str, Any], old: str, new: str, *, cause: str) -> None:
    """Side effects of a state change (already written to the row): ledger, audit, outbox, contracts."""
    if old == new:
        return
    await _write_ledger(row, new)
    await audit.record(actor=SYSTEM, action="payment.state", entity_type="payment", entity_id=row["id"],
                       data={"from": old, "to": new, "cause": cause})
    payload = {"payment_id": str(row["id"]), "kind": row["kind"], "state": new,
               "amount_cents": row["amount_cents"], "currency": row["currency"].strip(),
               "supplier_org_id": str(row["supplier_org_id"])}
    for name in ("appeal_id", "contract_id", "milestone_id"):
        if row.get(name):
            payload[name] = str(row[name])
    await outbox.emit(topic=f"payment.{new}", aggregate_type="payment", aggregate_id=row["id"], payload=payload)
    if new == "succeeded" and row["kind"] == "appeal_bond":
        await outbox.emit(topic="appeal_bond.paid", aggregate_type="appeal", aggregate_id=row["appeal_id"],
                          payload=payload)
    if new == "succeeded" and row["kind"] == "bond_refund":
        await outbox.emit(topic="appeal_bond.refunded", aggregate_type="appeal", aggregate_id=row["appeal_id"],
                          payload=payload)
    if new == "succeeded" and row["kind"] == "registry_fee":
        await outbox.emit(topic="registry_fee.paid", aggregate_type="organisation",
                          aggregate_id=row["supplier_org_id"], payload={**payload, "year": row["fee_year"]})
    if row["kind"] == "milestone" and new in ("succeeded", "reversed"):
        from marketplace.contracts import service as contracts

        if new == "succeeded":
            await contracts.milestone_paid(milestone_id=row["milestone_id"], payment_id=row["id"])
        elif old == "succeeded":
            await contracts.milestone_payment_reversed(milestone_id=row["milestone_id"], payment_id=row["id"])
        else:  # reached 'reversed' without seeing 'succeeded' first (events out of order)
            await contracts.milestone_paid(milestone_id=row["milestone_id"], payment_id=row["id"])
            await contracts.milestone_payment_reversed(milestone_id=row["milestone_id"], payment_id=row["id"])


async def _move(row: dict[str, Any], target: str | None, *, cause: str, stripe_object_id: str | None = None,
                client_secret: str | None = None, failure_reason: str | None = None) -> dict[str, Any]:
    """Move a locked payment row forward to `target` and record what Stripe told us."""
    old = row["state"]
    new = domain.advance(old, target)
    updated = await db.fetchrow(
        "UPDATE payment SET state = $2, stripe_object_id = COALESCE(stripe_object_id, $3),"
        " client_secret = COALESCE(client_secret, $4),"
        " failure_reason = CASE WHEN $2 = 'failed' THEN COALESCE($5, failure_reason) ELSE failure_reason END,"
        " settled_at = CASE WHEN $2 IN ('succeeded', 'reversed') THEN COALESCE(settled_at, $6) ELSE settled_at END,"
        " updated_at = $6 WHERE id = $1 RETURNING *",
        row["id"], new, stripe_object_id, client_secret, failure_reason, clock.now())
    assert updated is not None
    await _settle(updated, old, new, cause=cause)
    return updated


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
    row = await db.fetchrow(
        "INSERT INTO stripe_event (id, type, object_id, api_created, livemode, payload, received_at)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) ON CONFLICT (id) DO NOTHING RETURNING id",
        event["id"], event["type"], obj.get("id") if isinstance(obj.get("id"), str) else None,
        datetime.fromtimestamp(created, UTC) if isinstance(created, int) else None,
        bool(event.get("livemode")), _json.encode(event).decode(), clock.now())
    if row is None:
        return False
    queue.enqueue_after_commit(APPLY_EVENT_JOB, event["id"])
    return True


async def _payment_for(event_type: str, obj: dict[str, Any]) -> dict[str, Any] | None:
    """The payment an event's object is about (locked), through our metadata or the Stripe id."""
    if event_type == "charge.refunded":
        intent = obj.get("payment_intent")
        return await db.fetchrow(
            "SELECT r.* FROM payment r JOIN payment b ON b.id = r.refund_of"
            " WHERE b.stripe_object_id = $1 FOR UPDATE OF r", intent) if intent else None
    meta = obj.get("metadata") or {}
    payment_id = meta.get("payment_id")
    if payment_id:
        try:
            row = await db.fetchrow("SELECT * FROM payment WHERE id = $1 FOR UPDATE", UUID(payment_id))
        except ValueError:
            row = None
        if row is not None:
            return row
    if isinstance(obj.get("id"), str):
        return await db.fetchrow("SELECT * FROM payment WHERE stripe_object_id = $1 FOR UPDATE", obj["id"])
    return None


async def apply_event(*, event_id: str) -> str | None:
    """Apply a stored event (once), in the caller's transaction. Returns its outcome: applied, ignored or
    unmatched."""
    ev = await db.fetchrow("SELECT * FROM stripe_event WHERE id = $1 FOR UPDATE", event_id)
    if ev is None:
        return None
    if ev["applied_at"] is not None:
        return ev["outcome"]
    event = msgspec.json.decode(ev["payload"]) if isinstance(ev["payload"], (str, bytes)) else ev["payload"]
    outcome = await _apply(event)
    await db.execute("UPDATE stripe_event SET applied_at = $2, outcome = $3 WHERE id = $1",
                     event_id, clock.now(), outcome)
    return outcome


async def _apply(event: dict[str, Any]) -> str:
    event_type = event["type"]
    obj = event["data"]["object"]
    if event_type not in domain.HANDLED_EVENTS:
        return "ignored"
    if event_type == "account.updated":
        transfers = (obj.get("capabilities") or {}).get("transfers")
        status = await db.execute(
            "UPDATE connected_account SET transfers_enabled = $2, updated_at = $3 WHERE stripe_account_id = $1",
            obj.get("id"), transfers == "active", clock.now())
        return "applied" if status.endswith(" 1") else "unmatched"
    row = await _payment_for(event_type, obj)
    if row is None:
        return "unmatched"
    target = domain.state_of_event(event_type, obj)
    failure = None
    if event_type == "payment_intent.payment_failed":
        failure = ((obj.get("last_payment_error") or {}).get("message")) or "payment failed"
    own_object = event_type != "charge.refunded"
    await _move(row, target, cause=f"stripe:{event['id']}:{event_type}",
                stripe_object_id=obj.get("id") if own_object else None, failure_reason=failure)
    return "applied"


# --- the outbound job ------------------------------------------------------------------------------

def _needs_call(row: dict[str, Any]) -> bool:
    if row["method"] == "treasury":
        return False
    if row["state"] == "requested":
        return True
    # A webhook may have moved the row before the job recorded the client secret the payer needs.
    return row["kind"] in domain.INTENT_KINDS and row["client_secret"] is None and row["state"] in (
        "pending", "processing", "failed")


async def _call_stripe(settings: Settings, row: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The Stripe call for this payment, with its idempotency key. (object, state it implies)."""
    client = gateway.client(settings)
    options = {"idempotency_key": row["idempotency_key"]}
    metadata = {"payment_id": str(row["id"]), "kind": row["kind"]}
    for name in ("appeal_id", "contract_id", "milestone_id"):
        if row.get(name):
            metadata[name] = str(row[name])
    currency = row["currency"].strip().lower()
    if row["kind"] in domain.INTENT_KINDS:
        description = ("Derecho de inscripción en el registro de proveedores {}".format(row["fee_year"])
                       if row["kind"] == "registry_fee" else "Garantía por interposición de apelación")
        obj = await client.v1.payment_intents.create_async(
            {"amount": row["amount_cents"], "currency": currency, "description": description,
             "automatic_payment_methods": {"enabled": True}, "metadata": metadata}, options)
        data = gateway.as_dict(obj)
        return data, domain.state_of_intent(data.get("status"))
    if row["kind"] == "bond_refund":
        bond = await db.fetchrow("SELECT stripe_object_id FROM payment WHERE id = $1", row["refund_of"])
        if not bond or not bond["stripe_object_id"]:
            raise Conflict(N_("The bond has no Stripe payment to refund"))
        obj = await client.v1.refunds.create_async(
            {"payment_intent": bond["stripe_object_id"], "reason": "requested_by_customer", "metadata": metadata},
            options)
        data = gateway.as_dict(obj)
        return data, domain.state_of_refund(data.get("status"))
    if row["kind"] == "milestone":
        obj = await client.v1.transfers.create_async(
            {"amount": row["amount_cents"], "currency": currency, "destination": row["stripe_account_id"],
             "transfer_group": f"contract:{row['contract_id']}", "metadata": metadata}, options)
        data = gateway.as_dict(obj)
        return data, domain.state_of_transfer(data)
    raise ValueError(f"unknown payment kind {row['kind']}")


async def _record_result(row: dict[str, Any], obj: dict[str, Any], state: str | None) -> dict[str, Any]:
    return await _move(row, state, cause="stripe:api", stripe_object_id=obj.get("id"),
                       client_secret=obj.get("client_secret"))


async def execute_payment(*, settings: Settings, payment_id: UUID) -> str | None:
    """Run one payment against Stripe (the job's body). Safe to run any number of times.

    Three steps, so that a slow Stripe holds neither a pooled connection nor the payment row's lock:
    read the row (committed at once), call Stripe outside any transaction, then lock the row again and
    record the result. The operation's deterministic idempotency key makes this safe: a second job, or a
    job killed before recording, repeats the same call and Stripe answers with the same object; recording
    only moves the row forward (domain.advance), so a webhook applied meanwhile is never undone.
    """
    row = await db.fetchrow("SELECT * FROM payment WHERE id = $1", payment_id)
    if row is None or not _needs_call(row):
        return row["state"] if row else None
    failure: tuple[str, str] | None = None
    try:
        obj, state = await _call_stripe(settings, row)
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        raise RetryLater(str(exc)) from exc
    except (stripe.CardError, stripe.InvalidRequestError, stripe.IdempotencyError,
            stripe.PermissionError) as exc:
        message = getattr(exc, "user_message", None) or str(exc)
        log.warning("payment %s refused by Stripe: %s", payment_id, message)
        failure = ("stripe:api", message)
    except stripe.AuthenticationError as exc:
        raise Unavailable(N_("Payments through Stripe are not configured")) from exc
    except Conflict as exc:  # nothing Stripe could do (a refund of a bond never charged): stop retrying
        failure = ("stripe:precondition", str(exc))
    async with db.unit_of_work():
        row = await db.fetchrow("SELECT * FROM payment WHERE id = $1 FOR UPDATE", payment_id)
        assert row is not None  # payments are never deleted
        if failure is not None:
            updated = await _move(row, "failed", cause=failure[0], failure_reason=failure[1][:500])
        else:
            updated = await _record_result(row, obj, state)
        return updated["state"]


# --- sweeping and reconciling ----------------------------------------------------------------------

async def pending_work(*, older_than_seconds: int = 30) -> tuple[list[UUID], list[str]]:
    """Payments still 'requested' and events not yet applied, older than the given age."""
    cutoff = clock.now().timestamp() - older_than_seconds
    payments = await db.fetch(
        "SELECT id FROM payment WHERE state = 'requested' AND method <> 'treasury'"
        " AND extract(epoch FROM created_at) < $1 ORDER BY created_at LIMIT 500", cutoff)
    events = await db.fetch(
        "SELECT id FROM stripe_event WHERE applied_at IS NULL AND extract(epoch FROM received_at) < $1"
        " ORDER BY received_at LIMIT 500", cutoff)
    return [r["id"] for r in payments], [r["id"] for r in events]


async def reconcile(*, settings: Settings, apply: bool = False, limit: int = 1000) -> list[dict[str, Any]]:
    """Stripe's events (newest first, up to `limit`) that this database has not applied.

    Each item says whether we never received it ('missing') or received but did not apply it
    ('unapplied'). With apply=True they are stored and applied now (events read from Stripe's API with our
    secret key need no signature).
    """
    client = gateway.client(settings)
    page = await client.v1.events.list_async({"limit": min(limit, 100)})
    seen: list[dict[str, Any]] = []
    async for event in page.auto_paging_iter():
        seen.append(gateway.as_dict(event))
        if len(seen) >= limit:
            break
    if not seen:
        return []
    stored = {r["id"]: r for r in await db.fetch(
        "SELECT id, applied_at FROM stripe_event WHERE id = ANY($1::text[])", [e["id"] for e in seen])}
    result = []
    for event in seen:
        have = stored.get(event["id"])
        if have is not None and have["applied_at"] is not None:
            continue
        result.append({"id": event["id"], "type": event["type"], "created": event.get("created"),
                       "status": "unapplied" if have is not None else "missing"})
        if apply:
            async with db.unit_of_work():  # one event at a time: a failure keeps those applied before it
                await store_event(event)
                await apply_event(event_id=event["id"])
    return result
