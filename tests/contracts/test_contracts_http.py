"""Contracts over HTTP: milestones and signature, amendments, deliveries (conformidad), payments and
balances, termination; each role checked."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date

import pytest

import marketplace.contracts.jobs  # noqa: F401  (registers the contracts consumers)
from marketplace.contracts import service
from marketplace.core import db, outbox
from marketplace.core.actor import SYSTEM
from marketplace.payments import service as payments_service
from tests import waiting
from tests.harness import check_matrix, personas
from tests.payments.helpers import run_jobs

VALUE = 1_000_000  # S/ 10,000.00
GUARANTEE = {"kind": "bank_letter", "amount": {"amount": 100_000, "currency": "PEN"}, "issuer": "Banco de la Nación",
             "reference": "CF-2026-0001", "expires_on": "2027-06-30"}


def pen(amount: int) -> dict:
    return {"amount": amount, "currency": "PEN"}


async def _contract(p, value: int = VALUE) -> str:
    async with db.unit_of_work():
        row = await service.create_from_order(order_id=uuid.uuid4(), agency_org_id=p.agency_id,
                                              supplier_org_id=p.supplier_id, number="OC-2026-000001",
                                              total_cents=value, currency="PEN")
    return str(row.id)


async def _signed(client, p, amounts=(600_000, 400_000)) -> tuple[str, list[str]]:
    cid = await _contract(p, sum(amounts))
    ids = []
    for i, amount in enumerate(amounts):
        r = await client.post(f"/api/v1/contracts/{cid}/milestones", headers=p.officer.headers, json={
            "deliverable": f"Entregable {i + 1}", "due_date": f"2027-0{i + 1}-15", "amount": pen(amount)})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    r = await client.post(f"/api/v1/contracts/{cid}/sign", headers=p.officer.headers, json={
        "period_start": "2026-12-01", "period_end": "2027-05-31", "guarantee": GUARANTEE})
    assert r.status_code == 200, r.text
    return cid, ids


async def _drain(name: str) -> outbox.DrainResult:
    """Drain a consumer, waiting while another transaction on the server holds the watermark back."""
    results: list[outbox.DrainResult] = []

    async def drained() -> bool:
        results.append(await outbox.drain(name))
        return bool(results[-1].delivered or not results[-1].held_back)

    await waiting.until(drained, f"the outbox to deliver to {name}")
    return results[-1]


async def _outbox(topic: str) -> list[dict]:
    rows = await db.fetch("SELECT payload FROM outbox WHERE topic = $1 ORDER BY id", topic)
    return [json.loads(r["payload"]) for r in rows]


async def test_milestones_and_signature(client, settings):
    p = await personas(settings, client)
    cid = await _contract(p)
    body = {"deliverable": "Primer entregable", "due_date": "2027-01-15", "amount": pen(600_000)}
    await check_matrix(client, "POST", f"/api/v1/contracts/{cid}/milestones", {
        p.anonymous: 401, p.other_officer: 404, p.committee: 403, p.bidder: 403, p.auditor: 403, p.admin: 403,
        p.officer: 201}, json=body)
    r = await client.post(f"/api/v1/contracts/{cid}/milestones", headers=p.officer.headers,
                          json={**body, "amount": pen(400_001)})
    assert r.status_code == 422 and (r.json()["field"], r.json()["rule"]) == ("amount", "exceeds-contract-value")
    for amount, field, rule in (({"amount": 1, "currency": "USD"}, "amount.currency", "currency"),
                                (pen(0), "amount.amount", "range"), (pen(-5), "amount.amount", "range"),
                                (600_000, "amount", "type")):
        r = await client.post(f"/api/v1/contracts/{cid}/milestones", headers=p.officer.headers,
                              json={**body, "amount": amount})
        assert r.status_code == 422 and (r.json()["field"], r.json()["rule"]) == (field, rule), r.text
    sign = {"period_start": "2026-12-01", "period_end": "2027-05-31", "guarantee": GUARANTEE}
    r = await client.post(f"/api/v1/contracts/{cid}/sign", headers=p.officer.headers, json=sign)
    assert r.status_code == 409, r.text  # the milestones do not add up to the value yet
    await client.post(f"/api/v1/contracts/{cid}/milestones", headers=p.officer.headers,
                      json={**body, "deliverable": "Segundo", "amount": pen(400_000)})
    low = {**sign, "guarantee": {**GUARANTEE, "amount": pen(99_999)}}
    r = await client.post(f"/api/v1/contracts/{cid}/sign", headers=p.officer.headers, json=low)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "guarantee.amount"
    dollars = {**sign, "guarantee": {**GUARANTEE, "amount": {"amount": 100_000, "currency": "USD"}}}
    r = await client.post(f"/api/v1/contracts/{cid}/sign", headers=p.officer.headers, json=dollars)
    assert r.status_code == 422 and (r.json()["field"], r.json()["rule"]) == ("guarantee.amount.currency", "currency")
    r = await client.post(f"/api/v1/contracts/{cid}/sign", headers=p.officer.headers,
                          json={**sign, "period_end": "2026-11-01"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "period_end"
    await check_matrix(client, "POST", f"/api/v1/contracts/{cid}/sign", {
        p.anonymous: 401, p.other_officer: 404, p.committee: 403, p.bidder: 403, p.auditor: 403, p.admin: 403,
        p.officer: 200}, json=sign)
    got = (await client.get(f"/api/v1/contracts/{cid}", headers=p.bidder.headers)).json()
    assert got["state"] == "signed" and got["guarantee"]["amount"] == pen(100_000)
    assert got["value"] == got["original_value"] == pen(VALUE) and got["cumulative_change_pct"] == 0
    assert [(m["seq"], m["amount"]) for m in got["milestones"]] == [(1, pen(600_000)), (2, pen(400_000))]
    assert got["balance"] == {"contract_id": cid, "value": pen(VALUE), "paid": pen(0), "outstanding": pen(VALUE),
                              "entries": 0}
    assert got["payments"] == []
    r = await client.post(f"/api/v1/contracts/{cid}/sign", headers=p.officer.headers, json=sign)
    assert r.status_code == 409
    assert len(await _outbox("contract.signed")) == 1
    actions = {r["action"] for r in await db.fetch("SELECT action FROM audit_event WHERE entity_id = $1", cid)}
    assert {"contract.created", "contract.milestone_added", "contract.sign"} <= actions


async def test_reads_are_scoped_to_the_parties_and_oversight(client, settings):
    p = await personas(settings, client)
    cid, _ = await _signed(client, p)
    await check_matrix(client, "GET", f"/api/v1/contracts/{cid}", {
        p.anonymous: 401, p.other_officer: 404, p.committee: 200, p.bidder: 200, p.auditor: 200, p.admin: 200,
        p.officer: 200})
    await check_matrix(client, "GET", f"/api/v1/contracts/{cid}/balance", {
        p.anonymous: 401, p.other_officer: 404, p.committee: 200, p.bidder: 200, p.auditor: 200, p.admin: 200,
        p.officer: 200})
    r = await client.get(f"/api/v1/contracts/{uuid.uuid4()}", headers={**p.officer.headers, "Accept-Language": "es"})
    assert r.status_code == 404 and r.json()["detail"] == "Contrato no encontrado"
    listed = (await client.get("/api/v1/contracts", headers=p.other_officer.headers)).json()
    assert listed == []
    assert [c["id"] for c in (await client.get("/api/v1/contracts", headers=p.bidder.headers)).json()] == [cid]


async def test_amendments_keep_the_cumulative_change(client, settings):
    p = await personas(settings, client)
    cid, _ = await _signed(client, p)
    first = {"reason": "Prestaciones adicionales por ampliación del local", "value_change": pen(100_000)}
    responses = await check_matrix(client, "POST", f"/api/v1/contracts/{cid}/amendments", {
        p.anonymous: 401, p.other_officer: 404, p.committee: 403, p.bidder: 403, p.auditor: 403, p.admin: 403,
        p.officer: 201}, json=first)
    a1 = responses["officer"].json()
    assert a1["change_pct"] == 10 and a1["cumulative_change_pct"] == 10 and not a1["flagged"]
    assert (a1["value_change"], a1["previous_value"], a1["new_value"]) == (pen(100_000), pen(VALUE), pen(1_100_000))
    r = await client.post(f"/api/v1/contracts/{cid}/amendments", headers=p.officer.headers, json={
        "reason": "Mayores metrados", "value_change": pen(200_000), "new_period_end": "2027-08-31"})
    a2 = r.json()
    assert r.status_code == 201 and a2["change_pct"] == 18.18 and a2["cumulative_change_pct"] == 30
    assert a2["flagged"] is True and a2["previous_period_end"] == "2027-05-31"
    r = await client.post(f"/api/v1/contracts/{cid}/amendments", headers=p.officer.headers, json={
        "reason": "Reducción de prestaciones", "value_change": pen(-150_000)})
    assert r.json()["cumulative_change_pct"] == 15 and r.json()["flagged"] is False
    assert r.json()["value_change"] == pen(-150_000)
    got = (await client.get(f"/api/v1/contracts/{cid}", headers=p.auditor.headers)).json()
    assert got["value"] == pen(1_150_000) and got["original_value"] == pen(VALUE)
    assert got["period_end"] == "2027-08-31" and got["cumulative_change_pct"] == 15
    assert [a["seq"] for a in (await client.get(f"/api/v1/contracts/{cid}/amendments",
                                                headers=p.bidder.headers)).json()] == [1, 2, 3]
    # bad input: a reason is required; an amendment changes something; never below zero
    for body, field in (({"value_change": pen(5)}, "reason"),
                        ({"reason": "Sin cambios"}, "value_change"),
                        ({"reason": "Sin cambios", "value_change": pen(0)}, "value_change"),
                        ({"reason": "Reducción total", "value_change": pen(-2_000_000)}, "value_change"),
                        ({"reason": "En dólares", "value_change": {"amount": 5, "currency": "USD"}},
                         "value_change.currency"),
                        ({"reason": "x", "value_change": pen(5)}, "reason")):
        r = await client.post(f"/api/v1/contracts/{cid}/amendments", headers=p.officer.headers, json=body)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
    assert len(await _outbox("contract.amended")) == 3


async def test_deliveries_are_accepted_or_rejected_by_the_agency(client, settings):
    p = await personas(settings, client)
    cid, (m1, m2) = await _signed(client, p)
    responses = await check_matrix(client, "POST", f"/api/v1/contracts/{cid}/deliveries", {
        p.anonymous: 401, p.other_officer: 404, p.committee: 403, p.officer: 403, p.auditor: 403, p.admin: 403,
        p.bidder: 201}, json={"milestone_id": m1, "note": "Se entregó el primer lote"})
    d1 = responses["bidder"].json()
    r = await client.post(f"/api/v1/contracts/{cid}/deliveries", headers=p.bidder.headers,
                          json={"milestone_id": m1})
    assert r.status_code == 409  # already delivered, awaiting a decision
    await check_matrix(client, "POST", f"/api/v1/contracts/{cid}/deliveries/{d1['id']}/reject", {
        p.anonymous: 401, p.other_officer: 404, p.committee: 403, p.bidder: 403, p.auditor: 403, p.admin: 403,
        p.officer: 200}, json={"note": "Faltan las actas de conformidad técnica"})
    ms = {m["id"]: m for m in (await client.get(f"/api/v1/contracts/{cid}/milestones",
                                                headers=p.officer.headers)).json()}
    assert ms[m1]["state"] == "pending"
    d2 = (await client.post(f"/api/v1/contracts/{cid}/deliveries", headers=p.supplier_admin.headers,
                            json={"milestone_id": m1, "note": "Con actas"})).json()
    r = await client.post(f"/api/v1/contracts/{cid}/deliveries/{d2['id']}/accept", headers=p.bidder.headers,
                          json={})
    assert r.status_code == 403
    r = await client.post(f"/api/v1/contracts/{cid}/deliveries/{d2['id']}/accept", headers=p.officer.headers,
                          json={"note": "Conforme"})
    assert r.status_code == 200 and r.json()["state"] == "accepted"
    r = await client.post(f"/api/v1/contracts/{cid}/deliveries/{d2['id']}/accept", headers=p.officer.headers,
                          json={})
    assert r.status_code == 409
    deliveries = (await client.get(f"/api/v1/contracts/{cid}/deliveries", headers=p.auditor.headers)).json()
    assert [d["state"] for d in deliveries] == ["rejected", "accepted"]
    ms = {m["id"]: m for m in (await client.get(f"/api/v1/contracts/{cid}/milestones",
                                                headers=p.officer.headers)).json()}
    assert ms[m1]["state"] == "accepted" and ms[m1]["accepted_at"] and ms[m2]["state"] == "pending"
    r = await client.post(f"/api/v1/contracts/{cid}/deliveries", headers=p.bidder.headers,
                          json={"milestone_id": str(uuid.uuid4())})
    assert r.status_code == 404


async def _accept(client, p, cid: str, mid: str) -> None:
    d = (await client.post(f"/api/v1/contracts/{cid}/deliveries", headers=p.bidder.headers,
                           json={"milestone_id": mid})).json()
    r = await client.post(f"/api/v1/contracts/{cid}/deliveries/{d['id']}/accept", headers=p.officer.headers,
                          json={})
    assert r.status_code == 200, r.text


async def test_milestone_payments_and_balances(client, pay_settings, stripe_server):
    settings = pay_settings
    p = await personas(settings, client)
    cid, (m1, m2) = await _signed(client, p)
    url1 = f"/api/v1/contracts/{cid}/milestones/{m1}/payments"
    r = await client.post(url1, headers=p.officer.headers, json={"external_reference": "SIAF-2026-000123"})
    assert r.status_code == 409  # not accepted yet: no conformidad, no payment
    await _accept(client, p, cid, m1)
    r = await client.post(url1, headers=p.officer.headers, json={})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "external_reference"  # no Stripe account
    treasury = {"external_reference": "SIAF-2026-000123"}
    key = {"Idempotency-Key": "pay-m1"}
    responses = await check_matrix(client, "POST", url1, {
        p.anonymous: 401, p.other_officer: 404, p.committee: 403, p.bidder: 403, p.auditor: 403, p.admin: 403,
        p.officer: 202}, json=treasury, headers=key)
    paid = responses["officer"].json()
    assert paid["method"] == "treasury" and paid["state"] == "succeeded"
    assert paid["idempotency_key"] == f"milestone:{m1}:1"
    again = await client.post(url1, headers={**p.officer.headers, **key}, json=treasury)
    assert again.status_code == 202 and again.json()["id"] == paid["id"]  # replayed, not paid twice
    r = await client.post(url1, headers=p.officer.headers, json=treasury)
    assert r.status_code == 409  # a new request for a paid milestone
    balance = (await client.get(f"/api/v1/contracts/{cid}/balance", headers=p.bidder.headers)).json()
    assert (balance["paid"], balance["outstanding"], balance["entries"]) == (pen(600_000), pen(400_000), 1)
    # The milestone becomes 'paid' when payments announce it ('payment.succeeded'), not in the request.
    assert (await _drain("contracts.payments")).delivered == 1
    ms = (await client.get(f"/api/v1/contracts/{cid}/milestones", headers=p.officer.headers)).json()
    assert [m["state"] for m in ms] == ["paid", "pending"]

    # The supplier links a Stripe Connect account: the second milestone goes by transfer, in a job.
    r = await client.put(f"/api/v1/payments/connected-accounts/{p.supplier_id}", headers=p.bidder.headers,
                         json={"stripe_account_id": "acct_1MTfjCQ9PRzxEwkZ"})
    assert r.status_code == 403  # the supplier's admin (or the platform) links it
    r = await client.put(f"/api/v1/payments/connected-accounts/{p.supplier_id}", headers=p.supplier_admin.headers,
                         json={"stripe_account_id": "acct_1MTfjCQ9PRzxEwkZ"})
    assert r.status_code == 200, r.text
    await _accept(client, p, cid, m2)
    r = await client.post(f"/api/v1/contracts/{cid}/milestones/{m2}/payments", headers=p.officer.headers, json={})
    assert r.status_code == 202 and r.json()["state"] == "requested" and r.json()["method"] == "stripe_connect"
    transfer = r.json()
    assert stripe_server.requests == []  # no network call inside the request
    await run_jobs(settings)
    assert stripe_server.created == {"transfer": 1}
    sent = stripe_server.requests[0]
    assert sent.idempotency_key == f"milestone:{m2}:1" and sent.params["destination"] == "acct_1MTfjCQ9PRzxEwkZ"
    assert sent.params["amount"] == "400000" and sent.params["transfer_group"] == f"contract:{cid}"
    # Stripe's transfer.created arrives too: nothing changes twice.
    from tests.payments.helpers import deliver

    for ev in stripe_server.events:
        assert (await deliver(client, settings, ev)).status_code == 200
    await run_jobs(settings)
    await _drain("contracts.payments")
    got = (await client.get(f"/api/v1/contracts/{cid}", headers=p.officer.headers)).json()
    assert got["state"] == "completed" and {m["state"] for m in got["milestones"]} == {"paid"}
    assert (got["balance"]["paid"], got["balance"]["outstanding"]) == (pen(VALUE), pen(0))
    assert [(x["method"], x["state"], x["amount"]) for x in got["payments"]] == [
        ("treasury", "succeeded", pen(600_000)), ("stripe_connect", "succeeded", pen(400_000))]
    pay = (await client.get(f"/api/v1/payments/{transfer['id']}", headers=p.bidder.headers)).json()
    assert pay["state"] == "succeeded" and pay["stripe_object_id"].startswith("tr_")
    ledger = (await client.get("/api/v1/payments/ledger", params={"contract_id": cid},
                               headers=p.auditor.headers)).json()
    assert [(e["entry_type"], e["amount"], e["reference"][:3]) for e in ledger] == [
        ("milestone_payment", pen(600_000), "SIA"), ("milestone_payment", pen(400_000), "tr_")]
    assert (await client.get("/api/v1/payments/ledger", params={"contract_id": cid},
                             headers=p.other_officer.headers)).json() == []
    assert len(await _outbox("milestone.paid")) == 2 and len(await _outbox("contract.completed")) == 1


async def test_reversed_transfer_reopens_the_milestone(client, pay_settings, stripe_server):
    from tests.payments.helpers import deliver
    from tests.stripe_server import event

    p = await personas(pay_settings, client)
    cid, (m1,) = await _signed(client, p, amounts=(500_000,))
    await client.put(f"/api/v1/payments/connected-accounts/{p.supplier_id}", headers=p.supplier_admin.headers,
                     json={"stripe_account_id": "acct_1MTfjCQ9PRzxEwkZ"})
    await _accept(client, p, cid, m1)
    await client.post(f"/api/v1/contracts/{cid}/milestones/{m1}/payments", headers=p.officer.headers, json={})
    await run_jobs(pay_settings)
    tr = next(o for o in stripe_server.objects.values() if o["object"] == "transfer")
    reversed_ = event("transfer.reversed", {**tr, "reversed": True, "amount_reversed": tr["amount"]})
    assert (await deliver(client, pay_settings, reversed_)).status_code == 200
    await run_jobs(pay_settings)
    await _drain("contracts.payments")
    balance = (await client.get(f"/api/v1/contracts/{cid}/balance", headers=p.officer.headers)).json()
    assert balance["paid"] == pen(0) and balance["entries"] == 2
    ms = (await client.get(f"/api/v1/contracts/{cid}/milestones", headers=p.officer.headers)).json()
    assert ms[0]["state"] == "accepted"
    # a second attempt is a new operation with its own key
    r = await client.post(f"/api/v1/contracts/{cid}/milestones/{m1}/payments", headers=p.officer.headers, json={})
    assert r.status_code == 202 and r.json()["idempotency_key"] == f"milestone:{m1}:2"


async def test_transfer_job_killed_after_the_call_pays_once(client, pay_settings, stripe_server, monkeypatch):
    from marketplace.payments import jobs

    p = await personas(pay_settings, client)
    cid, (m1,) = await _signed(client, p, amounts=(500_000,))
    await client.put(f"/api/v1/payments/connected-accounts/{p.supplier_id}", headers=p.supplier_admin.headers,
                     json={"stripe_account_id": "acct_1MTfjCQ9PRzxEwkZ"})
    await _accept(client, p, cid, m1)
    pay = (await client.post(f"/api/v1/contracts/{cid}/milestones/{m1}/payments", headers=p.officer.headers,
                             json={})).json()
    real = payments_service._record_result

    async def killed(*args, **kwargs):
        raise RuntimeError("worker killed between the transfer and the commit")

    monkeypatch.setattr(payments_service, "_record_result", killed)
    with pytest.raises(RuntimeError):
        await jobs.payments_execute({"settings": pay_settings}, pay["id"])
    monkeypatch.setattr(payments_service, "_record_result", real)
    await run_jobs(pay_settings)
    assert stripe_server.created == {"transfer": 1}
    assert stripe_server.keys("/v1/transfers") == [f"milestone:{m1}:1"] * 2
    balance = (await client.get(f"/api/v1/contracts/{cid}/balance", headers=p.officer.headers)).json()
    assert balance["paid"] == pen(500_000) and balance["entries"] == 1


async def test_termination_with_a_reason(client, settings):
    p = await personas(settings, client)
    cid, (m1, _) = await _signed(client, p)
    r = await client.post(f"/api/v1/contracts/{cid}/terminate", headers=p.officer.headers, json={})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    await check_matrix(client, "POST", f"/api/v1/contracts/{cid}/terminate", {
        p.anonymous: 401, p.other_officer: 404, p.committee: 403, p.bidder: 403, p.auditor: 403, p.admin: 403,
        p.officer: 200}, json={"reason": "Incumplimiento injustificado de obligaciones"})
    got = (await client.get(f"/api/v1/contracts/{cid}", headers=p.auditor.headers)).json()
    assert got["state"] == "terminated" and got["termination_reason"].startswith("Incumplimiento")
    r = await client.post(f"/api/v1/contracts/{cid}/deliveries", headers=p.bidder.headers,
                          json={"milestone_id": m1})
    assert r.status_code == 409
    r = await client.post(f"/api/v1/contracts/{cid}/amendments", headers=p.officer.headers,
                          json={"reason": "Tarde", "value_change": pen(1)})
    assert r.status_code == 409
    assert [e["reason"] for e in await _outbox("contract.terminated")] == [
        "Incumplimiento injustificado de obligaciones"]


async def test_an_accepted_order_becomes_one_contract(client, settings):
    p = await personas(settings, client)
    order_id = uuid.uuid4()
    async with db.unit_of_work():
        await outbox.emit(topic="order.accepted", aggregate_type="purchase_order", aggregate_id=order_id, payload={
            "order_id": str(order_id), "number": "OC-2026-000042", "agency_id": str(p.agency_id),
            "supplier_id": str(p.supplier_id), "offer_id": str(uuid.uuid4()), "quantity": 10,
            "unit_price_cents": 12_345, "total_cents": 123_450, "currency": "PEN", "status": "accepted"})
    first = await _drain("contracts.sources")
    assert first.delivered == 1 and not first.failed, first
    async with db.unit_of_work():
        await db.execute("UPDATE outbox_cursor SET last_id = 0, last_txid = '0'::xid8 WHERE consumer = $1",
                         "contracts.sources")
    assert (await _drain("contracts.sources")).delivered == 1  # delivered again: still one contract
    listed = (await client.get("/api/v1/contracts", headers=p.officer.headers)).json()
    assert len(listed) == 1
    c = listed[0]
    assert (c["source_type"], c["source_id"], c["value"], c["state"]) == ("order", str(order_id), pen(123_450),
                                                                          "pending")
    assert c["title"] == "Orden de compra OC-2026-000042" and c["supplier_org_id"] == str(p.supplier_id)
    r = await client.post("/api/v1/contracts", headers=p.officer.headers,
                          json={"source_type": "order", "source_id": str(order_id)})
    assert r.status_code == 200 and r.json()["id"] == c["id"]
    assert date.fromisoformat(c["created_at"][:10])
    _ = SYSTEM


async def test_an_offset_out_of_range_is_a_422_naming_it(client, settings):
    from tests import factories

    auditor = await factories.login(settings, "oversight", "auditor")
    r = await client.get("/api/v1/contracts?offset=99999999999999999999", headers=auditor.headers)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "query.offset"
    assert (await client.get("/api/v1/contracts?offset=1000000", headers=auditor.headers)).json() == []


async def test_a_settling_payment_waits_for_the_contract_lock_instead_of_deadlocking(client, settings):
    p = await personas(settings, client)
    cid, (m1,) = await _signed(client, p, amounts=(500_000,))
    await _accept(client, p, cid, m1)
    contract_locked = asyncio.Event()

    async def agency_write():  # as pay_milestone and decide_delivery do: the contract, then the milestone
        async with db.unit_of_work():
            await db.execute("SELECT 1 FROM contract WHERE id = $1 FOR UPDATE", uuid.UUID(cid))
            contract_locked.set()
            await waiting.until_waiting_on_a_lock()  # the settling payment has reached a lock we hold
            await db.execute("SELECT 1 FROM contract_milestone WHERE id = $1 FOR UPDATE", uuid.UUID(m1))

    async def payment_settles():  # what the 'contracts.payments' consumer does on 'payment.succeeded'
        await contract_locked.wait()
        async with db.unit_of_work():
            await service.milestone_paid(milestone_id=uuid.UUID(m1), payment_id=uuid.uuid4())

    # Had the payment taken the milestone first, it would now wait for the contract while we wait for the
    # milestone: PostgreSQL would abort one of us as a deadlock.
    await asyncio.wait_for(asyncio.gather(agency_write(), payment_settles()), 120)
    ms = (await client.get(f"/api/v1/contracts/{cid}/milestones", headers=p.officer.headers)).json()
    assert ms[0]["state"] == "paid"
    assert (await client.get(f"/api/v1/contracts/{cid}", headers=p.officer.headers)).json()["state"] == "completed"
