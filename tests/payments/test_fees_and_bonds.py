"""Registry fees and appeal bonds through Stripe PaymentIntents: the request, the job, the webhook, the ledger."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid

from marketplace.core import db, outbox
from marketplace.core.actor import Actor
from marketplace.payments import jobs, service
from tests import factories
from tests.payments.helpers import deliver, run_jobs


async def _outbox(topic: str) -> list[dict]:
    rows = await db.fetch("SELECT * FROM outbox WHERE topic = $1 ORDER BY id", topic)
    return [{**r, "payload": json.loads(r["payload"])} for r in rows]


async def test_registry_fee_is_paid_once_and_ledgered(client, pay_settings, stripe_server):
    supplier = await factories.login(pay_settings, "supplier", "supplier_admin")
    r = await client.post("/api/v1/payments/registry-fee", json={}, headers=supplier.headers)
    assert r.status_code == 202, r.text
    fee = r.json()
    assert fee["state"] == "requested" and fee["kind"] == "registry_fee"
    assert fee["amount"] == {"amount": pay_settings.registry_fee_cents, "currency": "PEN"}
    assert fee["idempotency_key"] == f"fee:{supplier.org_id}:{fee['fee_year']}"

    again = await client.post("/api/v1/payments/registry-fee", json={}, headers=supplier.headers)
    assert again.status_code == 202 and again.json()["id"] == fee["id"]

    await run_jobs(pay_settings)
    got = (await client.get(f"/api/v1/payments/{fee['id']}", headers=supplier.headers)).json()
    assert got["state"] == "pending"
    assert got["stripe_object_id"].startswith("pi_") and got["client_secret"].startswith(got["stripe_object_id"])
    assert stripe_server.created == {"payment_intent": 1}
    assert stripe_server.keys() == [fee["idempotency_key"]]
    sent = stripe_server.requests[0].params
    assert sent["amount"] == str(pay_settings.registry_fee_cents) and sent["currency"] == "pen"
    assert sent["metadata"]["payment_id"] == fee["id"]

    succeeded = stripe_server.intent_event(got["stripe_object_id"], "payment_intent.succeeded")
    r = await deliver(client, pay_settings, succeeded)
    assert r.status_code == 200 and r.json() == {"received": True, "duplicate": False}
    r = await deliver(client, pay_settings, succeeded)  # Stripe retries deliveries
    assert r.status_code == 200 and r.json() == {"received": True, "duplicate": True}
    await run_jobs(pay_settings)

    got = (await client.get(f"/api/v1/payments/{fee['id']}", headers=supplier.headers)).json()
    assert got["state"] == "succeeded" and got["settled_at"]
    ledger = (await client.get("/api/v1/payments/ledger", headers=supplier.headers)).json()
    assert [(e["entry_type"], e["direction"], e["amount"]) for e in ledger] == [
        ("registry_fee", "in", {"amount": pay_settings.registry_fee_cents, "currency": "PEN"})]
    assert len(await _outbox("registry_fee.paid")) == 1
    # Running every job again changes nothing and calls Stripe no more.
    await jobs.payments_execute({"settings": pay_settings}, fee["id"])
    assert stripe_server.created == {"payment_intent": 1}


async def test_fee_is_only_for_supplier_admins_and_reads_are_scoped(client, pay_settings):
    supplier = await factories.login(pay_settings, "supplier", "supplier_admin")
    other = await factories.login(pay_settings, "supplier", "supplier_admin")
    officer = await factories.login(pay_settings, "agency", "officer")
    auditor = await factories.login(pay_settings, "oversight", "auditor")
    assert (await client.post("/api/v1/payments/registry-fee", json={})).status_code == 401
    assert (await client.post("/api/v1/payments/registry-fee", json={}, headers=officer.headers)).status_code == 403
    r = await client.post("/api/v1/payments/registry-fee", json={"year": 1999}, headers=supplier.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "year"
    r = await client.post("/api/v1/payments/registry-fee", json={"amount": 1}, headers=supplier.headers)
    assert r.status_code == 422
    fee = (await client.post("/api/v1/payments/registry-fee", json={}, headers=supplier.headers)).json()
    assert (await client.get(f"/api/v1/payments/{fee['id']}", headers=other.headers)).status_code == 404
    assert (await client.get("/api/v1/payments", headers=other.headers)).json() == []
    assert (await client.get("/api/v1/payments", headers=officer.headers)).json() == []
    seen = (await client.get(f"/api/v1/payments/{fee['id']}", headers=auditor.headers)).json()
    assert seen["id"] == fee["id"] and seen["client_secret"] is None
    assert (await client.get("/api/v1/payments")).status_code == 401


async def _bond_due(appeal_id, supplier, officer, bond_cents: int) -> None:
    """What tenders' awards say when an appeal is filed that owes a bond: 'appeal.bond_due', then delivered."""
    from tests.contracts.test_contracts_http import _drain

    async with db.unit_of_work():
        await outbox.emit(topic="appeal.bond_due", aggregate_type="award", aggregate_id=uuid.uuid4(), payload={
            "appeal_id": str(appeal_id), "award_id": str(uuid.uuid4()), "appellant_id": str(supplier.org_id),
            "agency_id": str(officer.org_id), "bond_cents": bond_cents, "currency": "PEN"})
    assert (await _drain("payments.appeals")).delivered == 1


async def test_appeal_bond_paid_then_refunded_when_upheld(client, pay_settings, stripe_server):
    from tests.contracts.test_contracts_http import _drain

    supplier = await factories.login(pay_settings, "supplier", "bidder")
    officer = await factories.login(pay_settings, "agency", "officer")
    appeal_id = uuid.uuid4()
    await _bond_due(appeal_id, supplier, officer, 3_703_704)
    bond = await service.appeal_bond(appeal_id=appeal_id)
    assert (bond.kind, bond.state, bond.amount_cents, bond.supplier_org_id) == (
        "appeal_bond", "requested", 3_703_704, supplier.org_id)
    assert not await service.bond_paid(appeal_id=appeal_id)
    await run_jobs(pay_settings)
    intent = (await service.appeal_bond(appeal_id=appeal_id)).stripe_object_id
    for event_type in ("payment_intent.processing", "payment_intent.succeeded"):
        assert (await deliver(client, pay_settings, stripe_server.intent_event(intent, event_type))).status_code == 200
    await run_jobs(pay_settings)
    assert await service.bond_paid(appeal_id=appeal_id)
    paid = await _outbox("appeal_bond.paid")
    assert [e["payload"]["appeal_id"] for e in paid] == [str(appeal_id)]
    assert paid[0]["payload"]["settled_at"]  # tenders judge the appeal by when its bond was paid

    # The appeal is upheld: tenders say so ('appeal.decided'), twice (delivered again): one refund.
    for _ in range(2):
        async with db.unit_of_work():
            await outbox.emit(topic="appeal.decided", aggregate_type="award", aggregate_id=uuid.uuid4(), payload={
                "appeal_id": str(appeal_id), "decision": "upheld", "reason": "fundada"})
    assert (await _drain("payments.appeals")).delivered == 2
    # An officer of the agency may also refund it by hand: still the same refund.
    officer_actor = Actor(user_id=officer.user_id, org_id=officer.org_id, org_kind="agency",
                          roles=frozenset({"officer"}), via="jwt")
    async with db.unit_of_work():
        refund = await service.refund_appeal_bond(actor=officer_actor, appeal_id=appeal_id)
    await run_jobs(pay_settings)
    assert stripe_server.created == {"payment_intent": 1, "refund": 1}
    assert stripe_server.keys("/v1/refunds") == [f"bond-refund:{appeal_id}"]
    # Stripe's events for the refund arrive by webhook too: nothing changes twice.
    for ev in [e for e in stripe_server.events if e["type"] in ("refund.created", "charge.refunded")]:
        assert (await deliver(client, pay_settings, ev)).status_code == 200
    await run_jobs(pay_settings)
    assert (await service.appeal_bond(appeal_id=appeal_id)).state == "succeeded"
    assert (await service.bond_refund(appeal_id=appeal_id)).state == "succeeded"
    rows = await db.fetch("SELECT entry_type, direction, amount_cents FROM ledger_entry ORDER BY id")
    assert [(r["entry_type"], r["direction"], r["amount_cents"]) for r in rows] == [
        ("appeal_bond", "in", 3_703_704), ("bond_refund", "out", 3_703_704)]
    assert len(await _outbox("appeal_bond.refunded")) == 1
    assert refund.refund_of == bond.id


async def test_a_declined_call_marks_the_payment_failed(client, pay_settings, stripe_server):
    supplier = await factories.login(pay_settings, "supplier", "supplier_admin")
    fee = (await client.post("/api/v1/payments/registry-fee", json={}, headers=supplier.headers)).json()
    stripe_server.fail_next("/v1/payment_intents", 402, "error_card_declined")
    await run_jobs(pay_settings)
    got = (await client.get(f"/api/v1/payments/{fee['id']}", headers=supplier.headers)).json()
    assert got["state"] == "failed" and "declined" in got["failure_reason"]
    assert await db.fetch("SELECT * FROM ledger_entry") == []


async def test_stripe_down_retries_with_the_same_key(client, pay_settings, stripe_server):
    import pytest
    from arq import Retry

    supplier = await factories.login(pay_settings, "supplier", "supplier_admin")
    fee = (await client.post("/api/v1/payments/registry-fee", json={}, headers=supplier.headers)).json()
    for _ in range(3):  # the client's own retries (max_network_retries=2) all hit the outage
        stripe_server.fail_next("/v1/payment_intents", 500, "error_api")
    with pytest.raises(Retry):
        await jobs.payments_execute({"settings": pay_settings, "job_try": 1}, fee["id"])
    assert (await service.get_payment(actor=_system(), payment_id=uuid.UUID(fee["id"]))).state == "requested"
    assert await jobs.payments_execute({"settings": pay_settings, "job_try": 2}, fee["id"]) == "pending"
    assert set(stripe_server.keys()) == {fee["idempotency_key"]}
    assert stripe_server.created == {"payment_intent": 1}


def _system():
    from marketplace.core.actor import SYSTEM

    return SYSTEM


async def test_an_offset_out_of_range_is_a_422_naming_it(client, pay_settings):
    auditor = await factories.login(pay_settings, "oversight", "auditor")
    r = await client.get("/api/v1/payments?offset=99999999999999999999", headers=auditor.headers)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "query.offset"
    assert (await client.get("/api/v1/payments?offset=1000000", headers=auditor.headers)).json() == []


async def test_a_slow_stripe_does_not_hold_the_payment_row(client, pay_settings, stripe_server):
    supplier = await factories.login(pay_settings, "supplier", "supplier_admin")
    fee = (await client.post("/api/v1/payments/registry-fee", json={}, headers=supplier.headers)).json()
    loop = asyncio.get_running_loop()
    arrived, answer = asyncio.Event(), threading.Event()
    real = stripe_server.dispatch

    def slow(*args):  # Stripe answers only when the test says so (the server's thread waits for it)
        loop.call_soon_threadsafe(arrived.set)
        answer.wait()
        return real(*args)

    stripe_server.dispatch = slow
    job = asyncio.create_task(jobs.payments_execute({"settings": pay_settings}, fee["id"]))
    try:
        call = asyncio.ensure_future(arrived.wait())
        await asyncio.wait([job, call], return_when=asyncio.FIRST_COMPLETED)
        call.cancel()
        assert arrived.is_set() and not job.done(), job
        # while the call is in flight, a webhook or another job can lock the payment row at once
        async with db.unit_of_work():
            row = await db.fetchrow("SELECT state FROM payment WHERE id = $1 FOR UPDATE NOWAIT",
                                    uuid.UUID(fee["id"]))
        assert row["state"] == "requested"
    finally:
        answer.set()
    assert await job == "pending"
    got = await service.get_payment(actor=Actor(user_id=supplier.user_id, org_id=supplier.org_id,
                                                org_kind="supplier", roles=frozenset({"supplier_admin"})),
                                    payment_id=uuid.UUID(fee["id"]))
    assert got.stripe_object_id.startswith("pi_") and got.client_secret
    assert stripe_server.created == {"payment_intent": 1}
