"""Awards over HTTP: award per lot with bonuses and the tie rule, desierto, standstill in business days,
consent by the job, appeals decided by their deciding body (here the agency's head: the lots are below
APPEAL_TRIBUNAL_UIT; tests/tenders/test_appeal_bodies.py has both sides); every refusal and role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

from marketplace.core import db
from marketplace.core.calendar import BusinessCalendar
from marketplace.payments import service as payments
from tenders.awards import jobs
from tests import factories
from tests.harness import check_matrix, personas
from tests.payments.helpers import pay_appeal_bond, request_bonds, run_jobs
from tests.suppliers.factories import active_supplier
from tests.tenders.test_evaluation_http import audit_actions, hdr, in_evaluation, ok, outbox, points


async def consent_job() -> int:
    return await jobs.consent_awards({})


async def agency_head(settings, p):
    """The head (titular) of the owning agency: decides appeals up to APPEAL_TRIBUNAL_UIT."""
    return await factories.login(settings, "agency", "agency_head", org_id=p.agency_id)


async def lot_states(tender_id) -> list[str]:
    rows = await db.fetch("SELECT state FROM tender_lot WHERE tender_id = $1 ORDER BY number", UUID(tender_id))
    return [r["state"] for r in rows]


async def tender_state(tender_id) -> str:
    return (await db.fetchrow("SELECT state FROM tender WHERE id = $1", UUID(tender_id)))["state"]


async def scored_two_lot_tender(client, settings, fixed_clock, p):
    """Two lots in Cusco (services, S/150,000 and S/180,000), three bidders:
    A: MYPE domiciled in Cusco (regional + MYPE bonus); B: Arequipa (no bonus); C: Lima."""
    a = await active_supplier(settings, ubigeo="080101", mype=True, name="Andes Servicios S.A.C.")
    b = await active_supplier(settings, ubigeo="040101", name="Arequipa Mantenimiento S.A.")
    c = await active_supplier(settings, ubigeo="150101", name="Lima Facilities S.A.")
    s = await in_evaluation(client, settings, fixed_clock, p, [a, b, c],
                            [{0: 12_000_000, 1: 15_000_000}, {0: 10_000_000, 1: 14_000_000}, {0: 9_000_000}],
                            lots=((15_000_000, "080101"), (18_000_000, "080101")))
    await points(client, settings, p, s, 0, 0, 50, 30)
    await points(client, settings, p, s, 1, 0, 55, 35)
    await points(client, settings, p, s, 2, 0, 20, 10)
    await points(client, settings, p, s, 0, 1, 58, 38)
    await points(client, settings, p, s, 1, 1, 40, 20)
    return s, (a, b, c)


async def test_whole_flow_award_standstill_and_consent(client, settings, fixed_clock):
    fixed_clock.set(datetime(2026, 11, 24, 15, 0, tzinfo=UTC))  # the opening falls on Sunday 6 Dec
    p = await personas(settings, client)
    s, (a, b, c) = await scored_two_lot_tender(client, settings, fixed_clock, p)
    ok(await client.post(f"/api/v1/tenders/{s.tender_id}/evaluation/qualifications", headers=hdr(settings, p.committee),
                         json={"lot_id": s.lot_ids[0], "bid_id": s.bids[(2, 0)], "qualified": False,
                               "reason": "Sin constancia de RNP vigente"}))
    awarded_at = fixed_clock.now()
    result = ok(await client.post(f"/api/v1/tenders/{s.tender_id}/awards", headers=hdr(settings, p.officer)), 201)
    lots = {lot["lot_number"]: lot for lot in result["lots"]}
    # Lot 1: B: 0.6*90 + 0.4*100 = 94.00; A: 0.6*80 + 0.4*83.33 = 81.33 + 10% 8.13 + 5% 4.07 = 93.53 -> B wins.
    assert lots[1]["outcome"] == "awarded" and lots[1]["award"]["supplier_id"] == str(b.org_id)
    assert lots[1]["award"]["final_score"] == 94.0
    assert lots[1]["award"]["value"] == {"amount": 10_000_000, "currency": "PEN"}
    # Lot 2: A: 0.6*96 + 0.4*93.33 = 94.93 + 9.49 + 4.75 = 109.17; B: 0.6*60 + 40 = 76.00.
    assert lots[2]["award"]["supplier_id"] == str(a.org_id) and lots[2]["award"]["final_score"] == 109.17
    award1 = lots[1]["award"]
    assert award1["state"] == "standstill" and award1["standstill_days"] == 5
    # Notified on Sunday 6 Dec 2026 (Lima): 5 business days are Mon 7, Thu 10, Fri 11, Mon 14 and
    # Tue 15 (8 and 9 Dec are holidays)... counted: 7, 10, 11, 14, 15 -> ends at 00:00 Lima on Wed 16 Dec.
    assert awarded_at.astimezone(timezone(timedelta(hours=-5))).date().isoformat() == "2026-12-06"
    expected_end = BusinessCalendar().ends_after_business_days(awarded_at, 5)
    assert expected_end == datetime(2026, 12, 16, 5, 0, tzinfo=UTC)
    assert datetime.fromisoformat(award1["standstill_ends_at"]) == expected_end
    assert await lot_states(s.tender_id) == ["awarded", "awarded"]
    assert await tender_state(s.tender_id) == "awarded"

    # The score sheets are now public and explain every figure.
    sheets = ok(await client.get(f"/api/v1/tenders/{s.tender_id}/evaluation/score-sheets"))
    assert [(x["lot_number"], x["provisional"], x["round"]) for x in sheets] == [(1, False, 1), (2, False, 1)]
    sheet = sheets[0]["sheet"]
    entry_a = next(e for e in sheet["bids"] if e["bid_id"] == s.bids[(0, 0)])
    assert entry_a["final"]["computation"] == "81.33 + 8.13 + 4.07 = 93.53"
    assert [x["reason"] for x in entry_a["bonuses"]] == ["same_province", "mype_in_range"]
    entry_c = next(e for e in sheet["bids"] if e["bid_id"] == s.bids[(2, 0)])
    assert entry_c["valid"] is False and "RNP" in entry_c["excluded_reason"]
    assert sheet["tie_rule"] and sheet["draw_seed"] and sheet["rounding"]
    assert sheets[0]["id"] == award1["score_sheet_id"]

    # Reads are public.
    assert ok(await client.get(f"/api/v1/awards/{award1['id']}"))["supplier_name"] == "Arequipa Mantenimiento S.A."
    assert len(ok(await client.get(f"/api/v1/tenders/{s.tender_id}/awards"))) == 2
    created = await outbox("award.created")
    assert {e["award_id"] for e in created} == {lots[1]["award"]["id"], lots[2]["award"]["id"]}
    assert created[0]["ocid"].startswith("ocds-test01-")
    assert "award.created" in await audit_actions(award1["id"])

    # Consent: not before the standstill ends (idempotent job), then exactly once.
    fixed_clock.set(expected_end - timedelta(seconds=1))
    assert await consent_job() == 0
    assert ok(await client.get(f"/api/v1/awards/{award1['id']}"))["state"] == "standstill"
    fixed_clock.set(expected_end)
    assert await consent_job() == 2
    assert await consent_job() == 0
    got = ok(await client.get(f"/api/v1/awards/{award1['id']}"))
    assert got["state"] == "consented" and datetime.fromisoformat(got["consented_at"]) == expected_end
    consented = await outbox("award.consented")
    assert len(consented) == 2 and {e["supplier_id"] for e in consented} == {str(a.org_id), str(b.org_id)}
    assert "award.consent" in await audit_actions(award1["id"])
    # Awarding again: nothing is in evaluation any more.
    r = await client.post(f"/api/v1/tenders/{s.tender_id}/awards", headers=hdr(settings, p.officer))
    assert r.status_code == 409


async def test_award_roles_and_refusals(client, settings, fixed_clock):
    p = await personas(settings, client)
    a = await active_supplier(settings, ubigeo="080101")
    b = await active_supplier(settings, ubigeo="040101")
    s = await in_evaluation(client, settings, fixed_clock, p, [a, b], [{0: 12_000_000}, {0: 10_000_000}])
    url = f"/api/v1/tenders/{s.tender_id}/awards"
    await p.refresh(settings)
    # The committee has not scored yet: the award is refused and writes nothing.
    r = await client.post(url, headers=p.officer.headers)
    assert r.status_code == 409 and r.json()["type"].endswith("evaluation-incomplete"), r.text
    assert s.bids[(0, 0)] in r.json()["detail"] or s.bids[(1, 0)] in r.json()["detail"]
    assert (await db.fetchrow("SELECT count(*) AS n FROM score_sheet"))["n"] == 0
    await points(client, settings, p, s, 0, 0, 50, 30)
    await points(client, settings, p, s, 1, 0, 55, 35)
    r = await client.post(url, json={"lot_ids": ["00000000-0000-0000-0000-000000000001"]}, headers=p.officer.headers)
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "lot_ids"
    r = await client.post(url, json={"lot_ids": "x"}, headers=p.officer.headers)
    assert r.status_code == 422
    await check_matrix(client, "POST", url, {
        p.anonymous: 401, p.other_officer: 403, p.committee: 403, p.bidder: 403, p.auditor: 403, p.admin: 403,
        p.officer: 201,
    }, json={"lot_ids": [s.lot_ids[0]]})
    r = await client.post(url, json={"lot_ids": [s.lot_ids[0]]}, headers=p.officer.headers)
    assert r.status_code == 409 and r.json()["errors"][0]["rule"] == "state"
    # Once awarded, the committee can no longer change the points.
    r = await client.post(f"/api/v1/tenders/{s.tender_id}/evaluation/scores", headers=hdr(settings, p.committee),
                          json={"lot_id": s.lot_ids[0], "bid_id": s.bids[(0, 0)],
                                "scores": [{"criterion": "exp", "points": "60"}]})
    assert r.status_code == 409


async def test_desierto_when_no_valid_bid(client, settings, fixed_clock):
    p = await personas(settings, client)
    a = await active_supplier(settings, ubigeo="080101")
    s = await in_evaluation(client, settings, fixed_clock, p, [a], [{0: 12_000_000}], rules=None)
    ok(await client.post(f"/api/v1/tenders/{s.tender_id}/evaluation/qualifications", headers=hdr(settings, p.committee),
                         json={"lot_id": s.lot_ids[0], "bid_id": s.bids[(0, 0)], "qualified": False,
                               "reason": "Oferta sin firma del representante"}))
    result = ok(await client.post(f"/api/v1/tenders/{s.tender_id}/awards", headers=hdr(settings, p.officer)), 201)
    assert result["lots"][0]["outcome"] == "unsuccessful" and result["lots"][0]["award"] is None
    assert await lot_states(s.tender_id) == ["unsuccessful"]
    assert await tender_state(s.tender_id) == "unsuccessful"
    events = await outbox("lot.unsuccessful")
    assert len(events) == 1 and events[0]["lot_id"] == s.lot_ids[0] and events[0]["reason"] == "no valid bid"
    sheets = ok(await client.get(f"/api/v1/tenders/{s.tender_id}/evaluation/score-sheets"))
    assert sheets[0]["outcome"] == "unsuccessful" and sheets[0]["sheet"]["unsuccessful_reason"] == "no valid bid"
    assert ok(await client.get(f"/api/v1/tenders/{s.tender_id}/awards")) == []
    assert "lot.unsuccessful" in await audit_actions(s.lot_ids[0])


async def test_price_only_tie_goes_to_the_mype_bidder(client, settings, fixed_clock):
    p = await personas(settings, client)
    big = await active_supplier(settings, ubigeo="150101")
    mype = await active_supplier(settings, ubigeo="150101", mype=True)
    s = await in_evaluation(client, settings, fixed_clock, p, [big, mype], [{0: 5_000_000}, {0: 5_000_000}],
                            method="reverse_auction", category="goods", rules=None,
                            lots=((6_000_000, "150101"),))
    result = ok(await client.post(f"/api/v1/tenders/{s.tender_id}/awards", headers=hdr(settings, p.officer)), 201)
    award = result["lots"][0]["award"]
    assert award["supplier_id"] == str(mype.org_id) and award["final_score"] == 100.0
    sheet = ok(await client.get(f"/api/v1/tenders/{s.tender_id}/evaluation/score-sheets"))[0]["sheet"]
    first = sheet["bids"][0]
    assert "MYPE bidder first" in first["tie_break"]
    assert all(b["reason"] == "method_excluded" for b in first["bonuses"])


# ---------------------------------------------------------------------------------------------- appeals

async def awarded(client, settings, fixed_clock, p):
    """A lot awarded to B; A and the harness's bidder persona (registered here as a supplier) lost."""
    async with db.unit_of_work():
        await db.execute("INSERT INTO supplier (organisation_id, ruc, legal_name, ubigeo, person_type, status)"
                         " SELECT id, ruc, name, '150101', 'company', 'active' FROM organisation WHERE id = $1",
                         p.supplier_id)
    a = await active_supplier(settings, ubigeo="080101")
    b = await active_supplier(settings, ubigeo="040101")
    s = await in_evaluation(client, settings, fixed_clock, p, [a, b, p.bidder], [{0: 12_000_000}, {0: 10_000_000},
                                                                                 {0: 11_000_000}])
    await points(client, settings, p, s, 0, 0, 50, 30)
    await points(client, settings, p, s, 1, 0, 55, 35)
    await points(client, settings, p, s, 2, 0, 30, 30)
    result = ok(await client.post(f"/api/v1/tenders/{s.tender_id}/awards", headers=hdr(settings, p.officer)), 201)
    award = result["lots"][0]["award"]
    assert award["supplier_id"] == str(b.org_id)
    return s, award, a, b


async def test_appeal_upheld_cancels_the_award_and_reopens_the_evaluation(client, settings, fixed_clock,
                                                                          stripe_server, pay_settings):
    p = await personas(settings, client)
    s, award, a, b = await awarded(client, settings, fixed_clock, p)
    url = f"/api/v1/awards/{award['id']}/appeals"
    fixed_clock.advance(days=1)
    await p.refresh(settings)
    grounds = {"grounds": "El postor adjudicado no acreditó la experiencia exigida en las bases."}
    await check_matrix(client, "POST", url, {
        p.anonymous: 401, p.officer: 403, p.other_officer: 403, p.committee: 403, p.auditor: 403, p.admin: 403,
        p.bidder: 201,
    }, json=grounds)
    appeal = ok(await client.post(url, json=grounds, headers=hdr(settings, a)), 201)
    # The appeal owes its bond (3% of the lot's estimated value) and suspends nothing until it is paid.
    assert appeal["state"] == "pending_bond" and appeal["award_state"] == "standstill"
    assert appeal["bond"]["amount"] > 0 and appeal["bond"]["currency"] == "PEN"
    await pay_appeal_bond(client, pay_settings, stripe_server, appeal["id"])
    appeal = next(x for x in ok(await client.get(url)) if x["id"] == appeal["id"])
    assert appeal["state"] == "filed" and appeal["award_state"] == "appealed"
    # The same bidder cannot appeal twice while its appeal is open; the awardee cannot appeal.
    assert (await client.post(url, json=grounds, headers=hdr(settings, a))).status_code == 409
    assert (await client.post(url, json=grounds, headers=hdr(settings, b))).status_code == 403
    assert (await client.post(url, json={"grounds": "no"}, headers=hdr(settings, a))).status_code == 422
    assert len(ok(await client.get(url))) == 2
    assert len(await outbox("award.appealed")) == 2

    # Oversight's work list holds the paid appeal only; the other still waits for its bond.
    pending = ok(await client.get("/api/v1/appeals"))
    assert [x["id"] for x in pending] == [appeal["id"]]
    assert len(ok(await client.get("/api/v1/appeals", params={"state": "pending_bond"}))) == 1
    assert (await client.get("/api/v1/appeals", params={"state": "nope"})).status_code == 422
    # While appealed, the consent job leaves the award alone, even after the standstill.
    fixed_clock.set(datetime.fromisoformat(award["standstill_ends_at"]) + timedelta(days=1))
    assert await consent_job() == 0
    assert ok(await client.get(f"/api/v1/awards/{award['id']}"))["state"] == "appealed"

    await p.refresh(settings)
    decision = {"decision": "upheld", "reason": "La experiencia no fue acreditada"}
    # Oversight's auditor no longer decides appeals: the agency's head does (the lot is below 50 UIT).
    await check_matrix(client, "POST", f"{url}/{appeal['id']}/decision", {
        p.anonymous: 401, p.officer: 403, p.other_officer: 403, p.committee: 403, p.bidder: 403, p.admin: 403,
        p.auditor: 403, p.agency_admin: 403,
    }, json=decision)
    head = await agency_head(settings, p)
    ok(await client.post(f"{url}/{appeal['id']}/decision", json=decision, headers=hdr(settings, head)))
    assert (await client.post(f"{url}/{appeal['id']}/decision", json=decision, headers=hdr(settings, head))
            ).status_code == 409  # already decided
    assert (await client.post(f"{url}/{appeal['id']}/decision", json={"decision": "maybe", "reason": "x y z"},
                              headers=hdr(settings, head))).status_code == 422
    got = ok(await client.get(f"/api/v1/awards/{award['id']}"))
    assert got["state"] == "cancelled" and got["cancel_reason"].startswith("appeal upheld")
    appeals = {x["id"]: x for x in ok(await client.get(url))}
    assert appeals[appeal["id"]]["state"] == "upheld"
    assert [x["state"] for x in appeals.values() if x["id"] != appeal["id"]] == ["moot"]
    assert ok(await client.get("/api/v1/appeals")) == []
    assert [x["id"] for x in ok(await client.get("/api/v1/appeals", params={"state": "upheld"}))] == [appeal["id"]]
    assert await lot_states(s.tender_id) == ["evaluation"]
    assert [e["decision"] for e in await outbox("appeal.decided")] == ["upheld"]
    assert [e["award_id"] for e in await outbox("award.cancelled")] == [award["id"]]

    # The committee re-evaluates (disqualifies the former winner) and the officer awards again: round 2.
    ok(await client.post(f"/api/v1/tenders/{s.tender_id}/evaluation/qualifications", headers=hdr(settings, p.committee),
                         json={"lot_id": s.lot_ids[0], "bid_id": s.bids[(1, 0)], "qualified": False,
                               "reason": "Experiencia no acreditada (recurso fundado)"}))
    again = ok(await client.post(f"/api/v1/tenders/{s.tender_id}/awards", headers=hdr(settings, p.officer)), 201)
    new_award = again["lots"][0]["award"]
    assert new_award["supplier_id"] != str(b.org_id) and new_award["state"] == "standstill"
    sheets = ok(await client.get(f"/api/v1/tenders/{s.tender_id}/evaluation/score-sheets"))
    assert [x["round"] for x in sheets] == [1, 2]
    assert len(ok(await client.get(f"/api/v1/tenders/{s.tender_id}/awards"))) == 2


async def test_appeal_dismissed_lets_consent_proceed(client, settings, fixed_clock, stripe_server, pay_settings):
    p = await personas(settings, client)
    s, award, a, b = await awarded(client, settings, fixed_clock, p)
    url = f"/api/v1/awards/{award['id']}/appeals"
    appeal = ok(await client.post(url, json={"grounds": "La evaluación técnica del comité es arbitraria."},
                                  headers=hdr(settings, a)), 201)
    # An appeal whose bond is unpaid cannot be decided.
    r = await client.post(f"{url}/{appeal['id']}/decision", headers=hdr(settings, await agency_head(settings, p)),
                          json={"decision": "dismissed", "reason": "Infundado"})
    assert r.status_code == 409
    await pay_appeal_bond(client, pay_settings, stripe_server, appeal["id"])
    # Dismissed while the period still runs: back to standstill; the job consents at its end.
    got = ok(await client.post(f"{url}/{appeal['id']}/decision", headers=hdr(settings, await agency_head(settings, p)),
                               json={"decision": "dismissed", "reason": "Infundado"}))
    assert got["state"] == "dismissed" and got["award_state"] == "standstill"
    ends = datetime.fromisoformat(award["standstill_ends_at"])
    fixed_clock.set(ends)
    assert await consent_job() == 1
    assert ok(await client.get(f"/api/v1/awards/{award['id']}"))["state"] == "consented"
    # After the standstill nobody can appeal any more.
    r = await client.post(url, json={"grounds": "Otra apelación fuera de plazo, presentada tarde."},
                          headers=hdr(settings, a))
    assert r.status_code == 409


async def test_appeal_after_the_standstill_is_refused_and_late_dismissal_consents(client, settings, fixed_clock,
                                                                                  stripe_server, pay_settings):
    p = await personas(settings, client)
    s, award, a, b = await awarded(client, settings, fixed_clock, p)
    url = f"/api/v1/awards/{award['id']}/appeals"
    ends = datetime.fromisoformat(award["standstill_ends_at"])
    fixed_clock.set(ends - timedelta(seconds=1))
    appeal = ok(await client.post(url, json={"grounds": "Presentada en el último segundo del plazo."},
                                  headers=hdr(settings, a)), 201)
    await pay_appeal_bond(client, pay_settings, stripe_server, appeal["id"])
    fixed_clock.set(ends)
    r = await client.post(url, json={"grounds": "Presentada cuando el plazo ya venció."},
                          headers=hdr(settings, p.bidder))
    assert r.status_code == 409 and r.json()["type"].endswith("standstill-over")
    # A supplier that did not bid in the lot may not appeal.
    stranger = await active_supplier(settings, ubigeo="080101")
    fixed_clock.set(ends - timedelta(hours=1))
    assert (await client.post(url, json={"grounds": "No participé pero quiero apelar."},
                              headers=hdr(settings, stranger))).status_code == 403
    fixed_clock.set(ends + timedelta(days=2))
    got = ok(await client.post(f"{url}/{appeal['id']}/decision", headers=hdr(settings, await agency_head(settings, p)),
                               json={"decision": "dismissed", "reason": "Infundado"}))
    assert got["award_state"] == "consented"
    assert [e["award_id"] for e in await outbox("award.consented")] == [award["id"]]
    assert await consent_job() == 0
    r = await client.post(f"/api/v1/awards/{award['id']}/appeals/00000000-0000-0000-0000-000000000001/decision",
                          headers=hdr(settings, await agency_head(settings, p)),
                          json={"decision": "dismissed", "reason": "nada"})
    assert r.status_code == 404
    assert (await client.get("/api/v1/awards/00000000-0000-0000-0000-000000000001")).status_code == 404


async def test_cancelling_the_tender_cancels_its_awards(client, settings, fixed_clock):
    p = await personas(settings, client)
    s, award, a, b = await awarded(client, settings, fixed_clock, p)
    ok(await client.post(f"/api/v1/awards/{award['id']}/appeals", headers=hdr(settings, a),
                         json={"grounds": "La evaluación técnica del comité es arbitraria."}), 201)
    ok(await client.post(f"/api/v1/tenders/{s.tender_id}/cancel", headers=hdr(settings, p.officer),
                         json={"reason": "Desaparecieron las necesidades"}))
    # Before the job runs, nobody can appeal an award whose lot was cancelled.
    r = await client.post(f"/api/v1/awards/{award['id']}/appeals", headers=hdr(settings, p.bidder),
                          json={"grounds": "La evaluación técnica del comité es arbitraria."})
    assert r.status_code == 409 and r.json()["errors"][0]["rule"] == "lot_cancelled"
    assert await consent_job() == 1
    got = ok(await client.get(f"/api/v1/awards/{award['id']}"))
    assert got["state"] == "cancelled" and "lot cancelled" in got["cancel_reason"]
    assert [x["state"] for x in ok(await client.get(f"/api/v1/awards/{award['id']}/appeals"))] == ["moot"]
    assert [e["award_id"] for e in await outbox("award.cancelled")] == [award["id"]]
    assert await consent_job() == 0


async def test_an_unpaid_appeal_lapses_and_a_bond_paid_too_late_is_refunded(client, settings, fixed_clock,
                                                                            stripe_server, pay_settings):
    p = await personas(settings, client)
    s, award, a, b = await awarded(client, settings, fixed_clock, p)
    url = f"/api/v1/awards/{award['id']}/appeals"
    appeal = ok(await client.post(url, json={"grounds": "La evaluación técnica del comité es arbitraria."},
                                  headers=hdr(settings, a)), 201)
    assert appeal["state"] == "pending_bond"
    await request_bonds()  # payments request the bond tenders said is due ('appeal.bond_due')
    await run_jobs(pay_settings)  # the PaymentIntent exists; the appellant never pays in time
    # The standstill ends with the bond unpaid: the appeal lapses and the award is consented.
    fixed_clock.set(datetime.fromisoformat(award["standstill_ends_at"]))
    assert await consent_job() == 1
    assert ok(await client.get(f"/api/v1/awards/{award['id']}"))["state"] == "consented"
    lapsed = ok(await client.get(url))[0]
    assert lapsed["state"] == "moot" and "bond" in lapsed["decision_reason"]
    # A payment arriving afterwards changes nothing but is given back.
    await pay_appeal_bond(client, pay_settings, stripe_server, appeal["id"])
    assert ok(await client.get(f"/api/v1/awards/{award['id']}"))["state"] == "consented"
    assert [e["reason"] for e in await outbox("appeal.bond_refund_due")] == [
        "the bond was not paid within the standstill", "the bond was paid after it lapsed"]
    await request_bonds()  # ('appeal.bond_refund_due': payments refund the bond now that it is paid)
    await run_jobs(pay_settings)
    assert (await payments.bond_refund(appeal_id=UUID(appeal["id"]))).state == "succeeded"
    assert stripe_server.created == {"payment_intent": 1, "refund": 1}


async def test_concurrent_consent_jobs_consent_once(client, settings, fixed_clock):
    """Two workers running the consent job at once (real PostgreSQL, separate transactions): the award row
    lock orders them; one consents, the other finds nothing left to do; one outbox event."""
    import asyncio

    p = await personas(settings, client)
    s, award, a, b = await awarded(client, settings, fixed_clock, p)
    fixed_clock.set(datetime.fromisoformat(award["standstill_ends_at"]))
    results = await asyncio.gather(consent_job(), consent_job(), consent_job())
    assert sum(results) == 1
    assert len(await outbox("award.consented")) == 1
    assert (await audit_actions(award["id"])).count("award.consent") == 1


async def _bond_paid_not_admitted(client, pay_settings, stripe_server, appeal_id) -> None:
    """The appellant pays inside the standstill; the 'appeal_bond.paid' consumer has not run yet."""
    from tests.payments.helpers import deliver

    await request_bonds()
    await run_jobs(pay_settings)
    bond = await payments.appeal_bond(appeal_id=UUID(appeal_id))
    r = await deliver(client, pay_settings, stripe_server.intent_event(bond.stripe_object_id,
                                                                        "payment_intent.succeeded"))
    assert r.status_code == 200, r.text
    await run_jobs(pay_settings)
    assert await payments.bond_paid(appeal_id=UUID(appeal_id))


async def test_a_bond_paid_in_the_standstill_admits_the_appeal_even_if_the_consent_job_runs_first(
        client, settings, fixed_clock, stripe_server, pay_settings):
    p = await personas(settings, client)
    s, award, a, b = await awarded(client, settings, fixed_clock, p)
    url = f"/api/v1/awards/{award['id']}/appeals"
    appeal = ok(await client.post(url, json={"grounds": "La evaluación técnica del comité es arbitraria."},
                                  headers=hdr(settings, a)), 201)
    fixed_clock.set(datetime.fromisoformat(award["standstill_ends_at"]) - timedelta(seconds=5))
    await _bond_paid_not_admitted(client, pay_settings, stripe_server, appeal["id"])
    # The standstill ends before the paid-bond event is processed; the consent job runs first.
    fixed_clock.advance(seconds=10)
    await consent_job()
    got = ok(await client.get(url))[0]
    assert (got["state"], got["award_state"]) == ("filed", "appealed")
    from tests.contracts.test_contracts_http import _drain

    await _drain("awards.paid_bonds")  # the late event changes nothing
    got = ok(await client.get(url))[0]
    assert (got["state"], got["award_state"]) == ("filed", "appealed")
    await request_bonds()
    assert await payments.bond_refund(appeal_id=UUID(appeal["id"])) is None


async def test_a_bond_paid_in_the_standstill_and_processed_after_it_admits_the_appeal(
        client, settings, fixed_clock, stripe_server, pay_settings):
    p = await personas(settings, client)
    s, award, a, b = await awarded(client, settings, fixed_clock, p)
    url = f"/api/v1/awards/{award['id']}/appeals"
    appeal = ok(await client.post(url, json={"grounds": "La evaluación técnica del comité es arbitraria."},
                                  headers=hdr(settings, a)), 201)
    fixed_clock.set(datetime.fromisoformat(award["standstill_ends_at"]) - timedelta(seconds=5))
    await _bond_paid_not_admitted(client, pay_settings, stripe_server, appeal["id"])
    fixed_clock.advance(seconds=10)
    from tests.contracts.test_contracts_http import _drain

    assert (await _drain("awards.paid_bonds")).delivered == 1
    got = ok(await client.get(url))[0]
    assert (got["state"], got["award_state"]) == ("filed", "appealed")
    assert await consent_job() == 0


async def test_a_paid_bond_is_refunded_when_the_cancelled_lot_moots_its_appeal(client, settings, fixed_clock,
                                                                               stripe_server, pay_settings):
    p = await personas(settings, client)
    s, award, a, b = await awarded(client, settings, fixed_clock, p)
    url = f"/api/v1/awards/{award['id']}/appeals"
    appeal = ok(await client.post(url, json={"grounds": "La evaluación técnica del comité es arbitraria."},
                                  headers=hdr(settings, a)), 201)
    await pay_appeal_bond(client, pay_settings, stripe_server, appeal["id"])
    assert ok(await client.get(url))[0]["state"] == "filed"
    ok(await client.post(f"/api/v1/tenders/{s.tender_id}/cancel", headers=hdr(settings, p.officer),
                         json={"reason": "Desaparecieron las necesidades"}))
    assert await consent_job() == 1
    assert ok(await client.get(url))[0]["state"] == "moot"
    await request_bonds()  # 'appeal.bond_refund_due'
    await run_jobs(pay_settings)
    assert (await payments.bond_refund(appeal_id=UUID(appeal["id"]))).state == "succeeded"
    assert stripe_server.created == {"payment_intent": 1, "refund": 1}


async def test_a_suspended_bidder_cannot_appeal(client, settings, fixed_clock):
    from tests.tenders.test_enquiries_amendments import suspend

    p = await personas(settings, client)
    s, award, a, b = await awarded(client, settings, fixed_clock, p)
    await suspend(a.org_id)
    r = await client.post(f"/api/v1/awards/{award['id']}/appeals", headers=hdr(settings, a),
                          json={"grounds": "La evaluación técnica del comité es arbitraria."})
    assert r.status_code == 403 and r.json()["type"].endswith("supplier-suspended"), r.text
    assert ok(await client.get(f"/api/v1/awards/{award['id']}/appeals")) == []
