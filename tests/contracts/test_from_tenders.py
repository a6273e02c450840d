"""End to end with the tenders package: an appeal owes its bond (paid through Stripe, refunded when upheld),
and a consented award becomes a contract."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import marketplace.contracts.jobs  # noqa: F401  (registers the consumers)
import marketplace.payments.jobs  # noqa: F401
from marketplace.core import db
from marketplace.payments import service as payments
from tests.contracts.test_contracts_http import _drain
from tests.harness import personas
from tests.payments.helpers import deliver, request_bonds, run_jobs
from tests.tenders.test_award_http import agency_head, awarded, consent_job
from tests.tenders.test_evaluation_http import hdr, ok, outbox


async def test_appeal_bond_paid_through_stripe_and_refunded_when_upheld(client, pay_settings, stripe_server,
                                                                         fixed_clock):
    settings = pay_settings
    p = await personas(settings, client)
    s, award, a, b = await awarded(client, settings, fixed_clock, p)
    fixed_clock.advance(days=1)
    url = f"/api/v1/awards/{award['id']}/appeals"
    appeal = ok(await client.post(url, json={"grounds": "El postor adjudicado no acreditó la experiencia."},
                                  headers=hdr(settings, a)), 201)
    assert appeal["state"] == "pending_bond" and appeal["award_state"] == "standstill"
    lot = await db.fetchrow("SELECT estimated_value FROM tender_lot WHERE id = $1", UUID(award["lot_id"]))
    assert appeal["bond"]["amount"] == round(lot["estimated_value"] * 3 / 100)
    # Tenders say the bond is due ('appeal.bond_due'); payments request it.
    assert [e["appeal_id"] for e in await outbox("appeal.bond_due")] == [appeal["id"]]
    assert ok(await client.get("/api/v1/payments", params={"appeal_id": appeal["id"]}, headers=hdr(settings, a))) == []
    await request_bonds()
    mine = ok(await client.get("/api/v1/payments", params={"appeal_id": appeal["id"]}, headers=hdr(settings, a)))
    assert len(mine) == 1
    bond = mine[0]
    assert bond["kind"] == "appeal_bond" and bond["supplier_org_id"] == str(a.org_id)
    assert bond["agency_org_id"] == str(p.agency_id)
    assert bond["amount"] == appeal["bond"]
    assert not await payments.bond_paid(appeal_id=UUID(appeal["id"]))
    # The agency sees it too (without the client secret); another supplier does not.
    seen = ok(await client.get(f"/api/v1/payments/{bond['id']}", headers=hdr(settings, p.officer)))
    assert seen["client_secret"] is None
    assert (await client.get(f"/api/v1/payments/{bond['id']}", headers=hdr(settings, b))).status_code == 404

    await run_jobs(settings)
    bond = ok(await client.get(f"/api/v1/payments/{bond['id']}", headers=hdr(settings, a)))
    assert bond["state"] == "pending" and bond["client_secret"]
    r = await deliver(client, settings, stripe_server.intent_event(bond["stripe_object_id"],
                                                                    "payment_intent.succeeded"))
    assert r.status_code == 200
    await run_jobs(settings)
    assert await payments.bond_paid(appeal_id=UUID(appeal["id"]))
    assert [e["appeal_id"] for e in await outbox("appeal_bond.paid")] == [appeal["id"]]
    # The paid bond opens the appeal: consent now waits for the decision.
    assert (await _drain("awards.paid_bonds")).delivered == 1
    admitted = ok(await client.get(url))[0]
    assert (admitted["state"], admitted["award_state"]) == ("filed", "appealed")

    ok(await client.post(f"{url}/{appeal['id']}/decision", headers=hdr(settings, await agency_head(settings, p)),
                         json={"decision": "upheld", "reason": "La experiencia no fue acreditada"}))
    assert (await _drain("payments.appeals")).delivered == 1
    await run_jobs(settings)
    assert stripe_server.created == {"payment_intent": 1, "refund": 1}
    assert (await payments.bond_refund(appeal_id=UUID(appeal["id"]))).state == "succeeded"
    ledger = ok(await client.get("/api/v1/payments/ledger", headers=hdr(settings, a)))
    assert [(e["entry_type"], e["direction"]) for e in ledger] == [("appeal_bond", "in"), ("bond_refund", "out")]


async def test_a_consented_award_becomes_a_contract(client, settings, fixed_clock):
    p = await personas(settings, client)
    s, award, a, b = await awarded(client, settings, fixed_clock, p)
    fixed_clock.set(datetime.fromisoformat(award["standstill_ends_at"]) + timedelta(seconds=1))
    assert await consent_job() == 1
    assert (await _drain("contracts.sources")).delivered == 1
    contracts = ok(await client.get("/api/v1/contracts", headers=hdr(settings, p.officer)))
    assert len(contracts) == 1
    c = contracts[0]
    assert (c["source_type"], c["source_id"], c["tender_id"], c["lot_id"]) == (
        "award", award["id"], s.tender_id, award["lot_id"])
    assert c["supplier_org_id"] == str(b.org_id) and c["agency_org_id"] == str(p.agency_id)
    assert c["value"] == award["value"] and c["state"] == "pending"
    assert ok(await client.get(f"/api/v1/contracts/{c['id']}", headers=hdr(settings, b)))["id"] == c["id"]
    r = await client.post("/api/v1/contracts", headers=hdr(settings, p.officer),
                          json={"source_type": "award", "source_id": award["id"]})
    assert r.status_code == 200 and r.json()["id"] == c["id"]
    assert [e["contract_id"] for e in await outbox("contract.created")] == [c["id"]]
