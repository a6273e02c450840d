"""The committee acts as a committee (issue 17, finding 6): the officer designates it before the opening; each
member keeps their own sheet per bid and criterion; the committee's points are those a majority gave; the
acta records every member's points and differences and must be confirmed, current, by every member before
the award; all of it public after the award. Over HTTP."""

from __future__ import annotations

from datetime import timedelta

from tests import factories
from tests.harness import personas
from tests.suppliers.factories import active_supplier
from tests.tenders import factories as tf
from tests.tenders.test_evaluation_http import draft, hdr, ok


def pen(cents: int) -> dict[str, object]:
    return {"amount": cents, "currency": "PEN"}


async def sheet(client, settings, who, s, bidder: int, exp, team, *, expect: int = 200):
    r = await client.post(f"/api/v1/tenders/{s.tender_id}/evaluation/scores", headers=hdr(settings, who),
                          json={"lot_id": s.lot_ids[0], "bid_id": s.bids[(bidder, 0)],
                                "scores": [{"criterion": "exp", "points": str(exp)},
                                           {"criterion": "team", "points": str(team)}]})
    return ok(r, expect)


async def test_members_sheets_majority_and_an_acta_confirmed_by_all_before_the_award(client, settings, fixed_clock):
    p = await personas(settings, client)
    m1 = p.committee
    m2, m3, outsider = [tf.long_lived(settings, await factories.login(settings, "agency", "committee",
                                                                        org_id=p.agency_id)) for _ in range(3)]
    s = await draft(client, settings, fixed_clock, p)
    base = f"/api/v1/tenders/{s.tender_id}/evaluation"

    # Designation: by the officer, 2 to 9 distinct committee members of the agency.
    for members, field, rule in (([m1.user_id], "members", "range"), ([m1.user_id, m1.user_id], "members", "unique"),
                                 ([m1.user_id, p.officer.user_id], "members[1]", "committee_member"),
                                 ([m1.user_id, p.other_officer.user_id], "members[1]", "committee_member")):
        r = await client.put(f"{base}/committee", headers=hdr(settings, p.officer),
                             json={"members": [str(x) for x in members]}, params={"lang": "en"})
        assert r.status_code == 422 and (r.json()["field"], r.json()["rule"]) == (field, rule), r.text
    r = await client.put(f"{base}/committee", headers=hdr(settings, m1), json={"members": [str(m1.user_id)] * 2})
    assert r.status_code == 403
    board = [str(m.user_id) for m in (m1, m2, m3)]
    for quorum in (1, 4):
        r = await client.put(f"{base}/committee", headers=hdr(settings, p.officer),
                             json={"members": board, "opening_quorum": quorum})
        assert r.status_code == 422 and (r.json()["field"], r.json()["rule"]) == ("opening_quorum", "range")
    committee = ok(await client.put(f"{base}/committee", headers=hdr(settings, p.officer),
                                    json={"members": board, "opening_quorum": 3}))
    assert committee["designated"] is True and [m["user_id"] for m in committee["members"]] == board
    assert committee["opening_quorum"] == 3

    a = await active_supplier(settings, ubigeo="040101")
    b = await active_supplier(settings, ubigeo="040101")
    ok(await client.post(f"/api/v1/tenders/{s.tender_id}/publish", headers=hdr(settings, p.officer)))
    assert ok(await client.get(f"{base}/committee"))["members"] == committee["members"]  # public
    fixed_clock.advance(days=5)
    for i, (who, price) in enumerate(((a, 10_000_000), (b, 9_000_000))):
        receipt = ok(await client.post(f"/api/v1/tenders/{s.tender_id}/bids", headers=hdr(settings, who),
                                       json={"lots": [{"lot_id": s.lot_ids[0], "price": pen(price)}]}), 201)
        s.bids[(i, 0)] = receipt["bid_id"]
    fixed_clock.set(s.deadline + timedelta(minutes=5))
    # With a designated committee, its members open: the officer is not one of them.
    r = await client.post(f"/api/v1/tenders/{s.tender_id}/opening", headers=hdr(settings, p.officer))
    assert r.status_code == 403 and (r.json()["field"], r.json()["rule"]) == ("committee", "committee_member")
    # This tender's quorum is its three members: two confirmations open nothing.
    await tf.confirm_opening(client, s.tender_id, hdr(settings, m2), hdr(settings, m3), hdr(settings, m1))
    r = await client.put(f"{base}/committee", headers=hdr(settings, p.officer), json={"members": board[:2]})
    assert r.status_code == 409 and r.json()["rule"] == "committee_fixed"

    # Each member's own sheet; a committee member of the agency outside this committee may not score.
    err = await sheet(client, settings, outsider, s, 0, 50, 30, expect=403)
    assert (err["field"], err["rule"]) == ("committee", "committee_member")
    mine = await sheet(client, settings, m1, s, 0, 50, 30)
    assert mine["scores"] == {"exp": 50.0, "team": 30.0} and mine["committee"] == {}  # 1 of 3: no majority yet
    await sheet(client, settings, m1, s, 1, 40, 20)
    agreed = await sheet(client, settings, m2, s, 0, 50, 30)
    assert agreed["committee"] == {"exp": 50.0, "team": 30.0}
    split = await sheet(client, settings, m2, s, 1, 45, 20)
    assert set(split["committee"]) == {"team"}  # exp: 40 against 45, no majority of three
    provisional = ok(await client.get(f"{base}/score-sheets", headers=hdr(settings, p.officer)))[0]
    assert provisional["missing"] == [{"bid_id": s.bids[(1, 0)], "criteria": ["exp"]}]
    assert (await client.get(f"{base}/member-sheets")).status_code == 404  # not public before the award
    await sheet(client, settings, m3, s, 0, 55, 30)
    await sheet(client, settings, m3, s, 1, 40, 25)  # exp 40 by m1 and m3; team 20 by m1 and m2

    award_url = f"/api/v1/tenders/{s.tender_id}/awards"
    r = await client.post(award_url, headers=hdr(settings, p.officer), params={"lang": "qu"})
    assert r.status_code == 409 and (r.json()["field"], r.json()["rule"]) == ("acta", "acta_required"), r.text
    assert r.headers["content-language"].startswith("qu")

    acta = ok(await client.post(f"{base}/acta", headers=hdr(settings, m1)), 201)
    assert acta["number"] == 1 and [c["member_id"] for c in acta["confirmations"]] == [str(m1.user_id)]
    differences = {(d["member_id"], d["bid_id"], d["criterion"], d["points"], d["committee_points"])
                   for d in acta["content"]["differences"]}
    assert differences == {(str(m2.user_id), s.bids[(1, 0)], "exp", "45.00", "40.00"),
                           (str(m3.user_id), s.bids[(0, 0)], "exp", "55.00", "50.00"),
                           (str(m3.user_id), s.bids[(1, 0)], "team", "25.00", "20.00")}
    r = await client.post(award_url, headers=hdr(settings, p.officer))
    assert r.status_code == 409 and r.json()["rule"] == "acta_not_confirmed", r.text
    ok(await client.post(f"{base}/acta/confirm", headers=hdr(settings, m2),
                         json={"acta_id": acta["id"], "dissent": "La experiencia del postor B vale 45 puntos."}))

    # A member changes a point after the drafting: the acta no longer says what the committee decided.
    await sheet(client, settings, m3, s, 0, 56, 30)
    r = await client.post(f"{base}/acta/confirm", headers=hdr(settings, m3), json={"acta_id": acta["id"]})
    assert r.status_code == 409 and (r.json()["field"], r.json()["rule"]) == ("acta_id", "acta_stale")
    r = await client.post(award_url, headers=hdr(settings, p.officer))
    assert r.status_code == 409 and r.json()["rule"] == "acta_stale"
    again = ok(await client.post(f"{base}/acta", headers=hdr(settings, m1)), 201)
    assert again["number"] == 2
    r = await client.post(f"{base}/acta/confirm", headers=hdr(settings, m2), json={"acta_id": acta["id"]})
    assert r.status_code == 409 and r.json()["rule"] == "acta_superseded"
    for who in (m2, m3):
        last = ok(await client.post(f"{base}/acta/confirm", headers=hdr(settings, who),
                                    json={"acta_id": again["id"]}))
    assert last["confirmed_by_all"] is True and last["current"] is True

    result = ok(await client.post(award_url, headers=hdr(settings, p.officer)), 201)
    award = result["lots"][0]["award"]
    # A: 0.6 x 80 + 0.4 x 90 = 84.00; B: 0.6 x 60 + 0.4 x 100 = 76.00
    assert (award["supplier_id"], award["final_score"]) == (str(a.org_id), 84.0)

    # Published after the award: the acta with every confirmation, and every member's own sheet.
    public = ok(await client.get(f"{base}/acta"))
    assert public["id"] == again["id"] and public["confirmed_by_all"] is True
    assert {c["member_id"] for c in public["confirmations"]} == set(board)
    sheets = ok(await client.get(f"{base}/member-sheets"))
    assert len(sheets) == 12 and {x["member_id"] for x in sheets} == set(board)
