"""Payments that cannot be made, that fail, and that get stuck (issue 19).

* Without a configured provider a payment through Stripe is refused at once: 503 payments-not-configured,
  naming the missing setting, and nothing is written (no payment, no ledger entry, no audit event).
* A payment that fails later ends 'failed' with a reason the officer reads (Stripe's message, or ours in the
  caller's language), in the payment and in the contract that shows its payments.
* A payment stuck in 'requested' past PAYMENT_STUCK_MINUTES raises one alarm, tells the agency once, and the
  alarm clears when the payment moves on.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from contextlib import asynccontextmanager

import httpx

import marketplace.oversight.jobs  # noqa: F401  (registers oversight's consumers: the agency's notification)
from marketplace import worker
from marketplace.app import create_app
from marketplace.core import db, outbox
from marketplace.payments import service
from tests import factories
from tests.contracts.test_contracts_http import _accept, _drain, _signed, pen
from tests.harness import personas
from tests.payments.helpers import deliver, run_jobs

ACCOUNT = "acct_1MTfjCQ9PRzxEwkZ"


@asynccontextmanager
async def _app_without(settings, *names: str):
    """A client on the app built with these settings unset (the database and Redis are the tests')."""
    app = create_app(dataclasses.replace(settings, **{n: None for n in names}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver.local") as c:
        yield c


async def _written() -> tuple[int, int, int, int]:
    """(payments, ledger entries, audit events, idempotency keys)."""
    row = await db.fetchrow(
        "SELECT (SELECT count(*) FROM payment) AS p, (SELECT count(*) FROM ledger_entry) AS l,"
        " (SELECT count(*) FROM audit_event) AS a, (SELECT count(*) FROM idempotency_key) AS k")
    return row["p"], row["l"], row["a"], row["k"]


def _not_configured(r: httpx.Response, *missing: str) -> None:
    assert r.status_code == 503, r.text
    body = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert body["type"].endswith("/payments-not-configured") and body["missing_settings"] == list(missing), body
    assert all(name in body["detail"] for name in missing), body


async def test_without_a_provider_a_payment_is_a_503_that_writes_nothing(client, settings, stripe_server):
    supplier = await factories.login(settings, "supplier", "supplier_admin")
    before = await _written()
    async with _app_without(settings, "stripe_secret_key") as c:
        r = await c.post("/api/v1/payments/registry-fee", json={}, headers=supplier.headers)
    _not_configured(r, "STRIPE_SECRET_KEY")
    async with _app_without(settings, "stripe_webhook_secret") as c:
        r = await c.post("/api/v1/payments/registry-fee", json={}, headers={**supplier.headers,
                                                                           "Accept-Language": "en"})
    _not_configured(r, "STRIPE_WEBHOOK_SECRET")
    assert r.json()["title"] == "Payments are not configured"
    assert await _written() == before  # no payment row, no ledger entry, no audit event

    # A milestone paid through Stripe Connect: refused too, and the Idempotency-Key is not spent.
    p = await personas(settings, client)
    cid, (m1, m2) = await _signed(client, p)
    await client.put(f"/api/v1/payments/connected-accounts/{p.supplier_id}", headers=p.supplier_admin.headers,
                     json={"stripe_account_id": ACCOUNT})
    await _accept(client, p, cid, m1)
    url = f"/api/v1/contracts/{cid}/milestones/{m1}/payments"
    before = await _written()
    async with _app_without(settings, "stripe_secret_key", "stripe_webhook_secret") as c:
        r = await c.post(url, json={}, headers={**p.officer.headers, "Idempotency-Key": "pay-m1",
                                                "Accept-Language": "es"})
        _not_configured(r, "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")
        assert r.json()["title"] == "Los pagos no están configurados"
        # A treasury transfer needs no provider: recorded at once.
        r = await c.post(url, json={"external_reference": "SIAF-2026-000123"}, headers=p.officer.headers)
        assert r.status_code == 202 and r.json()["state"] == "succeeded", r.text
    payments, ledger, audits, keys = await _written()
    assert (payments, ledger, keys) == (before[0] + 1, before[1] + 1, before[3])
    assert stripe_server.requests == []
    assert await service.pending_work(older_than_seconds=-10**9) == ([], [])


async def test_a_payment_refused_by_stripe_fails_with_its_reason(client, pay_settings, stripe_server):
    p = await personas(pay_settings, client)
    cid, (m1, m2) = await _signed(client, p)
    await client.put(f"/api/v1/payments/connected-accounts/{p.supplier_id}", headers=p.supplier_admin.headers,
                     json={"stripe_account_id": ACCOUNT})
    await _accept(client, p, cid, m1)
    r = await client.post(f"/api/v1/contracts/{cid}/milestones/{m1}/payments", headers=p.officer.headers, json={})
    assert r.status_code == 202 and r.json()["state"] == "requested"
    pay = r.json()
    # Stripe refuses the transfer (the platform's balance cannot cover it): the job records Stripe's words.
    stripe_server.fail_next("/v1/transfers", 400, "error_balance_insufficient")
    await run_jobs(pay_settings)
    got = (await client.get(f"/api/v1/payments/{pay['id']}", headers=p.officer.headers)).json()
    reason = got["failure_reason"]
    assert got["state"] == "failed" and reason.startswith("You have insufficient available funds"), got
    # The officer reads it where the contract shows its payments; the milestone can be paid again.
    detail = (await client.get(f"/api/v1/contracts/{cid}", headers=p.officer.headers)).json()
    assert [(x["id"], x["state"], x["failure_reason"]) for x in detail["payments"]] == [(pay["id"], "failed", reason)]
    listed = (await client.get(f"/api/v1/contracts/{cid}/payments", headers=p.bidder.headers)).json()
    assert [x["failure_reason"] for x in listed] == [reason]
    assert (await client.get(f"/api/v1/contracts/{cid}/payments", headers=p.other_officer.headers)).status_code == 404
    assert (await db.fetchrow("SELECT count(*) AS n FROM ledger_entry"))["n"] == 0
    assert [e["failure_reason"] for e in await _payloads("payment.failed")] == [reason]
    again = await client.post(f"/api/v1/contracts/{cid}/milestones/{m1}/payments", headers=p.officer.headers,
                              json={})
    assert again.status_code == 202 and again.json()["attempt"] == 2

    # A PaymentIntent whose charge fails later: Stripe's own message, from the signed webhook.
    supplier = await factories.login(pay_settings, "supplier", "supplier_admin")
    fee = (await client.post("/api/v1/payments/registry-fee", json={}, headers=supplier.headers)).json()
    await run_jobs(pay_settings)
    intent = (await client.get(f"/api/v1/payments/{fee['id']}", headers=supplier.headers)).json()["stripe_object_id"]
    failed = stripe_server.intent_event(intent, "payment_intent.payment_failed")
    failed["data"]["object"]["last_payment_error"] = {"code": "card_declined", "message": "Your card was declined."}
    assert (await deliver(client, pay_settings, failed)).status_code == 200
    await run_jobs(pay_settings)
    got = (await client.get(f"/api/v1/payments/{fee['id']}", headers=supplier.headers)).json()
    assert (got["state"], got["failure_reason"]) == ("failed", "Your card was declined.")


async def test_a_payment_that_cannot_be_made_later_fails_with_our_reason(client, pay_settings, stripe_server):
    """An appeal's bond is requested by an event (no request to refuse): with the provider unconfigured when its
    job runs, the payment fails with a reason said in the reader's language, and nothing reaches Stripe."""
    appellant = await factories.login(pay_settings, "supplier", "bidder")
    async with db.unit_of_work():
        await outbox.emit(topic="appeal.bond_due", aggregate_type="award", aggregate_id=uuid.uuid4(), payload={
            "appeal_id": str(uuid.uuid4()), "award_id": str(uuid.uuid4()), "appellant_id": str(appellant.org_id),
            "bond_cents": 30_000, "currency": "PEN"})
    assert (await _drain("payments.appeals")).delivered == 1
    await run_jobs(dataclasses.replace(pay_settings, stripe_webhook_secret=None))
    assert stripe_server.requests == []
    [bond] = (await client.get("/api/v1/payments", headers=appellant.headers)).json()
    assert bond["state"] == "failed"
    assert bond["failure_reason"] == "Los pagos no están configurados: falta STRIPE_WEBHOOK_SECRET"
    en = (await client.get(f"/api/v1/payments/{bond['id']}", headers={**appellant.headers,
                                                                      "Accept-Language": "en"})).json()
    assert en["failure_reason"] == "Payments are not configured: STRIPE_WEBHOOK_SECRET is not set"


async def _payloads(topic: str) -> list[dict]:
    rows = await db.fetch("SELECT payload::text AS payload FROM outbox WHERE topic = $1 ORDER BY id", topic)
    return [json.loads(r["payload"]) for r in rows]


async def _alarms(client, p, **params) -> list[dict]:
    r = await client.get("/api/v1/oversight/payment-alarms", headers=p.auditor.headers, params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_payment_stuck_in_requested_raises_one_alarm_until_it_moves(client, pay_settings, stripe_server,
                                                                            fixed_clock):
    settings = dataclasses.replace(pay_settings, payment_stuck_minutes=30)
    ctx = {"settings": settings}
    p = await personas(settings, client)
    cid, (m1, m2) = await _signed(client, p)
    await client.put(f"/api/v1/payments/connected-accounts/{p.supplier_id}", headers=p.supplier_admin.headers,
                     json={"stripe_account_id": ACCOUNT})
    await _accept(client, p, cid, m1)
    pay = (await client.post(f"/api/v1/contracts/{cid}/milestones/{m1}/payments", headers=p.officer.headers,
                             json={})).json()
    assert pay["state"] == "requested"  # and no worker reaches Stripe for it

    fixed_clock.advance(minutes=29)
    await p.refresh(settings)  # tokens honour the clock
    assert await worker.run_job("payments_alarms", ctx) == 0
    assert await _alarms(client, p) == []
    fixed_clock.advance(minutes=2)
    await p.refresh(settings)
    assert await worker.run_job("payments_alarms", ctx) == 1
    assert await worker.run_job("payments_alarms", ctx) == 0  # raised once
    [alarm] = await _alarms(client, p)
    assert (alarm["payment_id"], alarm["kind"], alarm["state"], alarm["amount"], alarm["limit_minutes"]) == (
        pay["id"], "milestone", "requested", pen(600_000), 30)
    assert alarm["agency_org_id"] == str(p.agency_id) and alarm["agency_name"] and alarm["cleared_at"] is None
    for who, status in ((p.officer, 403), (p.bidder, 403), (p.admin, 200)):
        r = await client.get("/api/v1/oversight/payment-alarms", headers=who.headers)
        assert r.status_code == status, (who.name, r.text)

    # The agency is told once.
    assert (await _drain("oversight.payment_alarms")).delivered == 1
    fixed_clock.advance(minutes=5)
    await p.refresh(settings)
    assert await worker.run_job("payments_alarms", ctx) == 0
    await _drain("oversight.payment_alarms")
    notes = (await client.get("/api/v1/oversight/notifications", headers=p.officer.headers)).json()
    assert [(n["kind"], n["data"]["payment_id"], n["data"]["minutes_requested"]) for n in notes] == [
        ("payment_stuck", pay["id"], 31)]
    assert "S/" in notes[0]["subject"] and "30 minutos" in notes[0]["subject"]

    # Stripe is reached at last: the payment moves on and its alarm clears.
    await run_jobs(settings)
    assert (await client.get(f"/api/v1/payments/{pay['id']}", headers=p.officer.headers)).json()["state"] == \
        "succeeded"
    assert await _alarms(client, p) == []
    [cleared] = await _alarms(client, p, include_cleared="true")
    assert cleared["state"] == "succeeded" and cleared["cleared_at"]
    fixed_clock.advance(hours=2)
    assert await worker.run_job("payments_alarms", ctx) == 0
