"""Stripe webhooks: signed exactly as Stripe signs them; forged, stale and unsigned deliveries refused and
changing nothing; duplicates and any order reaching the same state; unknown types acknowledged; reconcile."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from marketplace.core import db
from marketplace.payments import domain, gateway, jobs, service
from tests import factories
from tests.payments.helpers import deliver, run_jobs
from tests.stripe_server import event, signed


async def _fee(client, settings) -> dict:
    supplier = await factories.login(settings, "supplier", "supplier_admin")
    fee = (await client.post("/api/v1/payments/registry-fee", json={}, headers=supplier.headers)).json()
    await run_jobs(settings)
    return (await client.get(f"/api/v1/payments/{fee['id']}", headers=supplier.headers)).json()


async def _state(payment_id) -> str:
    return (await db.fetchrow("SELECT state FROM payment WHERE id = $1", uuid.UUID(str(payment_id))))["state"]


async def _counts() -> tuple[int, int]:
    row = await db.fetchrow("SELECT (SELECT count(*) FROM stripe_event) AS events,"
                            " (SELECT count(*) FROM ledger_entry) AS entries")
    return row["events"], row["entries"]


async def test_forged_stale_tampered_and_unsigned_events_are_refused(client, pay_settings, stripe_server):
    fee = await _fee(client, pay_settings)
    ev = stripe_server.intent_event(fee["stripe_object_id"], "payment_intent.succeeded")
    url = "/api/v1/payments/stripe/webhook"
    body, headers = signed(ev, "whsec_not_the_endpoint_secret")
    forged = await client.post(url, content=body, headers=headers)
    body, headers = signed(ev, pay_settings.stripe_webhook_secret, timestamp=int(time.time()) - 301)
    stale = await client.post(url, content=body, headers=headers)
    body, headers = signed(ev, pay_settings.stripe_webhook_secret)
    tampered = await client.post(url, content=body.replace(b'"amount": ', b'"amount": 1'), headers=headers)
    unsigned = await client.post(url, content=body, headers={"Content-Type": "application/json"})
    garbage = await client.post(url, content=b"t=1,v1=abc", headers={"Stripe-Signature": "garbage"})
    for r in (forged, stale, tampered, unsigned, garbage):
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["errors"][0]["field"] == "Stripe-Signature"
    assert await _counts() == (0, 0)
    await run_jobs(pay_settings)
    assert await _state(fee["id"]) == "pending"

    # Inside the tolerance (Stripe's default, 300 s) the same event is accepted.
    body, headers = signed(ev, pay_settings.stripe_webhook_secret, timestamp=int(time.time()) - 200)
    assert (await client.post(url, content=body, headers=headers)).status_code == 200
    await run_jobs(pay_settings)
    assert await _state(fee["id"]) == "succeeded"
    assert gateway.WEBHOOK_TOLERANCE == 300


async def test_signed_body_that_is_not_an_event_is_422(client, pay_settings):
    body = "{\"hello\": \"world\"}"
    payload, headers = signed(body, pay_settings.stripe_webhook_secret)
    r = await client.post("/api/v1/payments/stripe/webhook", content=payload, headers=headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
    assert await _counts() == (0, 0)


async def test_empty_secret_disables_the_endpoint(app, pay_settings):
    from marketplace.app import create_app

    disabled = create_app(dataclasses.replace(pay_settings, stripe_webhook_secret=None))
    body, headers = signed(event("payment_intent.succeeded", {"id": "pi_1"}), "whsec_anything")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=disabled), base_url="http://t") as c:
        r = await c.post("/api/v1/payments/stripe/webhook", content=body, headers=headers)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_unknown_and_foreign_events_are_acknowledged_and_ignored(client, pay_settings):
    for ev in (event("customer.created", {"id": "cus_123", "object": "customer"}),
               event("payment_intent.succeeded", {"id": "pi_not_ours", "object": "payment_intent",
                                                  "metadata": {}, "status": "succeeded"})):
        r = await deliver(client, pay_settings, ev)
        assert r.status_code == 200 and r.json()["received"] is True
    await run_jobs(pay_settings)
    rows = await db.fetch("SELECT type, outcome FROM stripe_event ORDER BY type")
    assert [(r["type"], r["outcome"]) for r in rows] == [
        ("customer.created", "ignored"), ("payment_intent.succeeded", "unmatched")]
    assert await db.fetch("SELECT * FROM ledger_entry") == []


# --- the property: duplicated and shuffled deliveries always reach the same state -------------------

FAILED_ATTEMPT = ["payment_intent.processing", "payment_intent.payment_failed"]
ENDINGS = {
    "success": ["payment_intent.processing", "payment_intent.succeeded"],
    "cancel": ["payment_intent.canceled"],
    "none": [],
}


def _in_order(history: list[str]) -> str:
    state = "pending"
    for event_type in history:
        state = domain.advance(state, domain.state_of_event(event_type, {}))
    return state


@pytest.fixture
async def appellant(client, pay_settings):
    return await factories.login(pay_settings, "supplier", "bidder")


@hsettings(max_examples=20, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(failures=st.integers(0, 2), ending=st.sampled_from(sorted(ENDINGS)), data=st.data())
async def test_duplicated_and_shuffled_events_reach_the_same_state(
        client, pay_settings, stripe_server, appellant, failures, ending, data):
    appeal_id = uuid.uuid4()
    async with db.unit_of_work():
        bond = await service.request_appeal_bond(appeal_id=appeal_id, supplier_org_id=appellant.org_id,
                                                 agency_org_id=None, amount_cents=300_000)
    await jobs.payments_execute({"settings": pay_settings}, str(bond.id))
    intent = (await service.appeal_bond(appeal_id=appeal_id)).stripe_object_id
    created = [e for e in stripe_server.events
               if e["type"] == "payment_intent.created" and e["data"]["object"]["id"] == intent]
    history = FAILED_ATTEMPT * failures + ENDINGS[ending]
    events = created + [stripe_server.intent_event(intent, t) for t in history]
    expected = _in_order(["payment_intent.created", *history])

    extra = data.draw(st.lists(st.sampled_from(range(len(events))), max_size=6), label="duplicates")
    deliveries = data.draw(st.permutations([events[i] for i in range(len(events))] + [events[i] for i in extra]),
                           label="deliveries")
    for ev in deliveries:
        assert (await deliver(client, pay_settings, ev)).status_code == 200
        if data.draw(st.booleans(), label="apply now"):
            await run_jobs(pay_settings)
    await run_jobs(pay_settings)

    assert await _state(bond.id) == expected
    entries = await db.fetch("SELECT entry_type FROM ledger_entry WHERE payment_id = $1", bond.id)
    assert len(entries) == (1 if expected == "succeeded" else 0)
    assert await service.bond_paid(appeal_id=appeal_id) == (expected == "succeeded")
    stored = await db.fetchrow("SELECT count(*) AS n FROM stripe_event WHERE object_id = $1", intent)
    assert stored["n"] == len(events)


# --- a job killed between the Stripe call and its commit -------------------------------------------

async def test_job_killed_after_the_call_charges_once_after_retry(client, pay_settings, stripe_server, monkeypatch):
    supplier = await factories.login(pay_settings, "supplier", "supplier_admin")
    fee = (await client.post("/api/v1/payments/registry-fee", json={}, headers=supplier.headers)).json()

    real = service._record_result

    async def killed(*args, **kwargs):
        raise RuntimeError("worker killed after the Stripe call, before the commit")

    monkeypatch.setattr(service, "_record_result", killed)
    with pytest.raises(RuntimeError):
        await jobs.payments_execute({"settings": pay_settings}, fee["id"])
    assert await _state(fee["id"]) == "requested"  # the transaction rolled back
    assert stripe_server.created == {"payment_intent": 1}

    monkeypatch.setattr(service, "_record_result", real)
    await run_jobs(pay_settings)  # the retry (the sweeper finds the row still 'requested')
    await jobs.payments_execute({"settings": pay_settings}, fee["id"])  # and a duplicate run
    assert stripe_server.created == {"payment_intent": 1}
    assert stripe_server.keys() == [fee["idempotency_key"]] * 2
    assert [r.replayed for r in stripe_server.requests] == [False, True]
    row = await db.fetchrow("SELECT state, stripe_object_id FROM payment WHERE id = $1", uuid.UUID(fee["id"]))
    assert row["state"] == "pending" and row["stripe_object_id"] in stripe_server.objects


async def test_webhook_before_the_job_recorded_its_result(client, pay_settings, stripe_server, monkeypatch):
    """The call went through, the job died, and Stripe's success arrived first: one charge, secret kept."""
    supplier = await factories.login(pay_settings, "supplier", "supplier_admin")
    fee = (await client.post("/api/v1/payments/registry-fee", json={}, headers=supplier.headers)).json()
    real = service._record_result

    async def killed(*args, **kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(service, "_record_result", killed)
    with pytest.raises(RuntimeError):
        await jobs.payments_execute({"settings": pay_settings}, fee["id"])
    monkeypatch.setattr(service, "_record_result", real)
    intent = next(iter(stripe_server.objects))
    await deliver(client, pay_settings, stripe_server.intent_event(intent, "payment_intent.succeeded"))
    await run_jobs(pay_settings)
    row = await db.fetchrow("SELECT * FROM payment WHERE id = $1", uuid.UUID(fee["id"]))
    assert row["state"] == "succeeded" and row["stripe_object_id"] == intent
    assert stripe_server.created == {"payment_intent": 1}
    assert len(await db.fetch("SELECT * FROM ledger_entry")) == 1


# --- reconcile ------------------------------------------------------------------------------------

async def test_reconcile_lists_and_applies_events_not_applied(client, pay_settings, stripe_server):
    fee = await _fee(client, pay_settings)
    succeeded = stripe_server.intent_event(fee["stripe_object_id"], "payment_intent.succeeded")
    missing = await service.reconcile(settings=pay_settings)
    assert [(m.type, m.status) for m in missing] == [
        ("payment_intent.succeeded", "missing"), ("payment_intent.created", "missing")]

    await deliver(client, pay_settings, succeeded)  # stored, but no job has applied it yet
    listed = await service.reconcile(settings=pay_settings)
    assert {m.id: m.status for m in listed}[succeeded["id"]] == "unapplied"

    await service.reconcile(settings=pay_settings, apply=True)
    assert await _state(fee["id"]) == "succeeded"
    assert await service.reconcile(settings=pay_settings) == []
    assert any(r.path == "/v1/events" and r.method == "GET" for r in stripe_server.requests)


def test_events_carry_the_recorded_envelope():
    ev = event("payment_intent.succeeded", {"id": "pi_x"})
    assert set(ev) >= {"id", "object", "api_version", "created", "data", "livemode", "type", "request"}
    assert json.loads(json.dumps(ev))["object"] == "event"
