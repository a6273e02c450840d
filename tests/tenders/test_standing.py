"""A supplier suspended or disqualified after bidding (issue 17, finding 2): it cannot reconfirm its bid; the
opening excludes the bid with the reason in the public record; the committee cannot score it; the award
passes it over; the contract cannot be signed. All over HTTP, the registry decisions taken by oversight."""

from __future__ import annotations

from datetime import datetime, timedelta

import marketplace.contracts.jobs  # noqa: F401  (registers the contracts consumers)
from marketplace.core import clock
from tests import factories
from tests.contracts.test_contracts_http import GUARANTEE, _drain, pen
from tests.harness import personas
from tests.tenders import factories as tf
from tests.tenders.test_award_http import consent_job
from tests.tenders.test_evaluation_http import hdr, in_evaluation, ok


async def decide(client, settings, org_id, status: str) -> None:
    """A registry decision, as an oversight auditor takes it over HTTP."""
    auditor = await factories.login(settings, "oversight", "auditor")
    body = {"status": status, "reason": "Sanción del Tribunal de Contrataciones"}
    if status == "suspended":
        body["until"] = (clock.now() + timedelta(days=90)).isoformat()
    ok(await client.post(f"/api/v1/suppliers/{org_id}/status", json=body, headers=hdr(settings, auditor)))


async def test_a_supplier_suspended_after_bidding_cannot_reconfirm_and_its_bid_is_excluded_at_opening(
        client, settings, fixed_clock):
    officer = await tf.officer(settings)
    a, b, c = [await tf.supplier(settings) for _ in range(3)]
    t = await tf.published(client, officer)
    tf.to_tendering(fixed_clock, t)
    bid_a = await tf.bid(client, a, t, [100_000_00])
    await tf.bid(client, b, t, [110_000_00])
    bid_c = await tf.bid(client, c, t, [90_000_00])
    await decide(client, settings, a.org_id, "suspended")
    await decide(client, settings, c.org_id, "disqualified")

    for who, receipt, rule in ((a, bid_a, "suspended"), (c, bid_c, "disqualified")):
        r = await client.post(f"/api/v1/bids/{receipt['bid_id']}/confirm", headers=who.headers,
                              params={"lang": "en"})
        assert r.status_code == 403, r.text
        body = r.json()
        assert r.headers["content-type"].startswith("application/problem+json")
        assert body["type"].endswith(f"/supplier-{rule}") and (body["field"], body["rule"]) == ("supplier", rule)
        for lang in ("es", "qu"):
            again = await client.post(f"/api/v1/bids/{receipt['bid_id']}/confirm", headers=who.headers,
                                      params={"lang": lang})
            assert again.status_code == 403 and again.headers["content-language"].startswith(lang)

    opening = await tf.opened(client, fixed_clock, officer, t)
    assert [x["supplier_id"] for x in opening["lots"][0]["bids"]] == [str(b.org_id)]
    assert opening["bid_count"] == 1
    assert sorted((x["supplier_id"], x["reason"]) for x in opening["excluded"]) == sorted([
        (str(a.org_id), "supplier_suspended"), (str(c.org_id), "supplier_disqualified")])
    # the excluded bids stay sealed: not even their owner reads a price
    assert ok(await client.get(f"/api/v1/bids/{bid_a['bid_id']}", headers=a.headers))["content"] is None


async def test_a_supplier_suspended_during_evaluation_is_neither_scored_nor_awarded(client, settings, fixed_clock):
    p = await personas(settings, client)
    cheap = await tf.supplier(settings, ubigeo="040101")
    dear = await tf.supplier(settings, ubigeo="040101")
    s = await in_evaluation(client, settings, fixed_clock, p, [cheap, dear], [{0: 9_000_000}, {0: 12_000_000}],
                            rules=None)
    await decide(client, settings, cheap.org_id, "suspended")
    r = await client.post(f"/api/v1/tenders/{s.tender_id}/evaluation/qualifications",
                          headers=hdr(settings, p.committee),
                          json={"lot_id": s.lot_ids[0], "bid_id": s.bids[(0, 0)], "qualified": True})
    assert r.status_code == 409 and (r.json()["field"], r.json()["rule"]) == ("bid_id", "supplier_good_standing")
    r = await client.post(f"/api/v1/tenders/{s.tender_id}/evaluation/scores", headers=hdr(settings, p.committee),
                          json={"lot_id": s.lot_ids[0], "bid_id": s.bids[(0, 0)],
                                "scores": [{"criterion": "exp", "points": "50"}]}, params={"lang": "en"})
    assert r.status_code == 409 and r.json()["rule"] == "supplier_good_standing", r.text
    assert "not in good standing" in r.json()["detail"]

    result = ok(await client.post(f"/api/v1/tenders/{s.tender_id}/awards", headers=hdr(settings, p.officer)), 201)
    award = result["lots"][0]["award"]
    assert award["supplier_id"] == str(dear.org_id) and award["value"] == {"amount": 12_000_000, "currency": "PEN"}
    sheet = ok(await client.get(f"/api/v1/tenders/{s.tender_id}/evaluation/score-sheets"))[0]["sheet"]
    assert "supplier_suspended" in str(sheet)


async def test_a_supplier_suspended_before_signature_cannot_sign_the_contract(client, settings, fixed_clock):
    p = await personas(settings, client)
    winner = await tf.supplier(settings, ubigeo="040101")
    s = await in_evaluation(client, settings, fixed_clock, p, [winner], [{0: 1_000_000}], rules=None)
    award = ok(await client.post(f"/api/v1/tenders/{s.tender_id}/awards",
                                 headers=hdr(settings, p.officer)), 201)["lots"][0]["award"]
    fixed_clock.set(datetime.fromisoformat(award["standstill_ends_at"]) + timedelta(seconds=1))
    assert await consent_job() == 1
    assert (await _drain("contracts.sources")).delivered == 1
    contract = ok(await client.get("/api/v1/contracts", headers=hdr(settings, p.officer)))[0]
    cid = contract["id"]
    ok(await client.post(f"/api/v1/contracts/{cid}/milestones", headers=hdr(settings, p.officer), json={
        "deliverable": "Servicio completo", "due_date": "2027-03-15", "amount": pen(1_000_000)}), 201)
    await decide(client, settings, winner.org_id, "disqualified")
    sign = {"period_start": "2027-01-04", "period_end": "2027-05-31", "guarantee": GUARANTEE}
    r = await client.post(f"/api/v1/contracts/{cid}/sign", headers=hdr(settings, p.officer), json=sign)
    assert r.status_code == 409, r.text
    assert (r.json()["field"], r.json()["rule"]) == ("supplier_org_id", "supplier_good_standing")
    assert ok(await client.get(f"/api/v1/contracts/{cid}", headers=hdr(settings, p.officer)))["state"] == "pending"
