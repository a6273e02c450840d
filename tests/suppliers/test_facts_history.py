"""MYPE status and domicile over time (issue 17, finding 4): every value is recorded with its source and
effective date in a public history, and the score bonuses read the values in force when the tender was
published, so switching them on just before bidding (and off afterwards) gains nothing and shows."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests import factories
from tests.harness import personas
from tests.tenders import factories as tf
from tests.tenders.test_evaluation_http import draft, hdr, ok


async def test_a_flip_before_bidding_gives_no_bonus_and_the_public_history_shows_it(client, settings, fixed_clock):
    p = await personas(settings, client)
    flipper = await tf.supplier(settings, ubigeo="150101", mype=False, name="Oportunista Lima S.A.C.")
    local = await tf.supplier(settings, ubigeo="080101", mype=True, name="Andes Cusco S.A.C.")
    # services in Cusco, S/ 150,000: both bonuses apply to a MYPE domiciled in Cusco
    s = await draft(client, settings, fixed_clock, p, rules=None)
    ok(await client.post(f"/api/v1/tenders/{s.tender_id}/publish", headers=hdr(settings, p.officer)))
    published_at = fixed_clock.now()
    fixed_clock.advance(days=5)

    flipped_at = fixed_clock.now()
    ok(await client.patch(f"/api/v1/suppliers/{flipper.org_id}", json={"mype": True, "ubigeo": "080101"},
                          headers=hdr(settings, flipper)))
    bids = {}
    for who, price in ((flipper, 9_000_000), (local, 10_000_000)):
        body = {"lots": [{"lot_id": s.lot_ids[0], "price": {"amount": price, "currency": "PEN"}}]}
        bids[who.org_id] = ok(await client.post(f"/api/v1/tenders/{s.tender_id}/bids", json=body,
                                                headers=hdr(settings, who)), 201)["bid_id"]
    fixed_clock.advance(minutes=10)
    restored_at = fixed_clock.now()
    ok(await client.patch(f"/api/v1/suppliers/{flipper.org_id}", json={"mype": False, "ubigeo": "150101"},
                          headers=hdr(settings, flipper)))

    fixed_clock.set(s.deadline + timedelta(minutes=5))
    await tf.open_with_quorum(client, settings, p, s.tender_id)
    result = ok(await client.post(f"/api/v1/tenders/{s.tender_id}/awards", headers=hdr(settings, p.officer)), 201)
    # flipper: 100 price points, no bonus; local: 90 + 10% 9.00 + 5% 4.50 = 103.50 wins. Had the switch
    # counted, flipper would have had 115.00.
    award = result["lots"][0]["award"]
    assert (award["supplier_id"], award["final_score"]) == (str(local.org_id), 103.5)
    sheet = ok(await client.get(f"/api/v1/tenders/{s.tender_id}/evaluation/score-sheets"))[0]["sheet"]
    entry = next(e for e in sheet["bids"] if e["bid_id"] == bids[flipper.org_id])
    assert (entry["is_mype"], entry["domicile_ubigeo"]) == (False, "150101")
    assert [b["applies"] for b in entry["bonuses"]] == [False, False]
    assert entry["final"]["value"] == 100.0

    # The public history (no sign-in) shows the declaration at registration, the switch and the switch back.
    history = ok(await client.get(f"/api/v1/suppliers/{flipper.org_id}/facts-history"))
    assert [(h["fact"], h["previous"], h["value"], h["source"]) for h in history] == [
        ("mype", None, "false", "registration"), ("domicile", None, "150101", "registration"),
        ("mype", "false", "true", "supplier"), ("domicile", "150101", "080101", "supplier"),
        ("mype", "true", "false", "supplier"), ("domicile", "080101", "150101", "supplier")]
    effective = [datetime.fromisoformat(h["effective_at"]) for h in history]
    assert all(e <= published_at for e in effective[:2])
    assert set(effective[2:4]) == {flipped_at} and set(effective[4:]) == {restored_at}


async def test_an_unchanged_value_is_not_recorded_and_a_platform_change_is_marked_verified(client, settings):
    supplier = await tf.supplier(settings, ubigeo="080101", mype=False)
    ok(await client.patch(f"/api/v1/suppliers/{supplier.org_id}", json={"mype": False, "ubigeo": "080101"},
                          headers=supplier.headers))
    admin = await factories.login(settings, "platform", "admin")
    ok(await client.patch(f"/api/v1/suppliers/{supplier.org_id}", json={"mype": True}, headers=admin.headers))
    history = ok(await client.get(f"/api/v1/suppliers/{supplier.org_id}/facts-history"))
    assert [(h["fact"], h["value"], h["source"]) for h in history] == [
        ("mype", "false", "registration"), ("domicile", "080101", "registration"), ("mype", "true", "platform")]
    r = await client.get("/api/v1/suppliers/00000000-0000-0000-0000-000000000000/facts-history",
                         params={"lang": "en"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
