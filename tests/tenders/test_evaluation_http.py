"""Evaluation over HTTP: scoring rules, the committee's points and qualifications, score sheets, by role."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

from marketplace.core import db
from marketplace.core.auth import tokens
from tests.harness import check_matrix, personas
from tests.suppliers.factories import active_supplier
from tests.tenders.factories import open_with_quorum

MIXED_RULES = {"technical_weight": "0.6", "criteria": [
    {"code": "exp", "name": "Experiencia del postor", "max_points": "60"},
    {"code": "team", "name": "Personal clave", "max_points": "40"}]}


def hdr(settings, who) -> dict[str, str]:
    """Fresh bearer headers for a persona or a Login (the fixed clock moves past token lifetimes)."""
    token, _ = tokens.issue(secret=settings.keys.jwt_secret, ttl_seconds=3600, user_id=who.user_id,
                            org_id=who.org_id, org_kind=who.kind, roles=list(who.roles))
    return {"Authorization": f"Bearer {token}"}


def ok(r, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


@dataclass
class Setup:
    tender_id: str
    lot_ids: list[str]
    bids: dict[tuple[int, int], str] = field(default_factory=dict)  # (bidder index, lot index) -> bid id
    deadline: Any = None


async def draft(client, settings, clock_, p, *, method="simplified_award", category="services",
                consultancy=False, lots=((15_000_000, "080101"),), rules: dict | None = MIXED_RULES) -> Setup:
    now = clock_.now()
    body = {
        "title": "Servicio de mantenimiento de locales escolares", "method": method, "category": category,
        "consultancy": consultancy,
        "lots": [{"title": f"Lote {i + 1}", "estimated_value": {"amount": value, "currency": "PEN"},
                  "classification_scheme": "UNSPSC",
                  "classification_code": "72101500", "quantity": "1", "unit": "servicio", "delivery_ubigeo": ubigeo}
                 for i, (value, ubigeo) in enumerate(lots)],
        "enquiry_end": (now + timedelta(days=4)).isoformat(),
        "submission_deadline": (now + timedelta(days=12)).isoformat(),
        "opening_time": (now + timedelta(days=12, hours=1)).isoformat(),
    }
    t = ok(await client.post("/api/v1/tenders", json=body, headers=hdr(settings, p.officer)), 201)
    if rules is not None:
        ok(await client.put(f"/api/v1/tenders/{t['id']}/evaluation/rules", json=rules,
                            headers=hdr(settings, p.officer)))
    return Setup(tender_id=t["id"], lot_ids=[lot["id"] for lot in sorted(t["lots"], key=lambda x: x["number"])],
                 deadline=now + timedelta(days=12, hours=1))


async def publish_and_bid(client, settings, clock_, p, s: Setup, bidders: list, prices: list[dict[int, int]]) -> None:
    ok(await client.post(f"/api/v1/tenders/{s.tender_id}/publish", headers=hdr(settings, p.officer)))
    clock_.advance(days=5)
    for i, (who, by_lot) in enumerate(zip(bidders, prices, strict=False)):
        body = {"lots": [{"lot_id": s.lot_ids[j], "price": {"amount": price}} for j, price in by_lot.items()]}
        receipt = ok(await client.post(f"/api/v1/tenders/{s.tender_id}/bids", json=body,
                                       headers=hdr(settings, who)), 201)
        for j in by_lot:
            s.bids[(i, j)] = receipt["bid_id"]
        clock_.advance(minutes=3)
    clock_.set(s.deadline + timedelta(minutes=5))
    await open_with_quorum(client, settings, p, s.tender_id)


async def in_evaluation(client, settings, clock_, p, bidders, prices, **kw) -> Setup:
    s = await draft(client, settings, clock_, p, **kw)
    await publish_and_bid(client, settings, clock_, p, s, bidders, prices)
    return s


async def points(client, settings, p, s: Setup, bidder: int, lot: int, exp, team, *, expect: int = 200):
    r = await client.post(f"/api/v1/tenders/{s.tender_id}/evaluation/scores", headers=hdr(settings, p.committee),
                          json={"lot_id": s.lot_ids[lot], "bid_id": s.bids[(bidder, lot)],
                                "scores": [{"criterion": "exp", "points": str(exp)},
                                           {"criterion": "team", "points": str(team)}]})
    return ok(r, expect)


async def outbox(topic: str) -> list[dict]:
    import json

    rows = await db.fetch("SELECT payload FROM outbox WHERE topic = $1 ORDER BY id", topic)
    return [json.loads(r["payload"]) if isinstance(r["payload"], str) else r["payload"] for r in rows]


async def audit_actions(entity_id) -> list[str]:
    rows = await db.fetch("SELECT action FROM audit_event WHERE entity_id = $1 ORDER BY id", str(entity_id))
    return [r["action"] for r in rows]


# ------------------------------------------------------------------------------------------------ rules

async def test_scoring_rules_by_role_state_and_validation(client, settings, fixed_clock):
    p = await personas(settings, client)
    s = await draft(client, settings, fixed_clock, p, rules=None)
    url = f"/api/v1/tenders/{s.tender_id}/evaluation/rules"
    # A draft is hidden from everyone outside the owning agency.
    await check_matrix(client, "PUT", url, {
        p.anonymous: 404, p.other_officer: 404, p.committee: 403, p.bidder: 404, p.auditor: 404,
        p.admin: 404, p.agency_admin: 200, p.officer: 200,
    }, json=MIXED_RULES)
    # Drafts are the agency's own: others do not see the rules.
    await check_matrix(client, "GET", url, {p.anonymous: 404, p.bidder: 404, p.officer: 200, p.committee: 200},
                       complete=False)
    got = ok(await client.get(url, headers=hdr(settings, p.officer)))
    assert (got["technical_weight"], got["price_weight"], got["price_only"]) == (0.6, 0.4, False)
    assert [c["code"] for c in got["criteria"]] == ["exp", "team"]
    assert {b["code"] for b in got["bonus_policies"]} == {"regional", "mype"}
    assert got["tie_rule"][1] == "MYPE bidder first"

    bad = [
        ({**MIXED_RULES, "criteria": MIXED_RULES["criteria"][:1]}, "scoring.criteria", "sum"),
        ({**MIXED_RULES, "technical_weight": "1.5"}, "technical_weight", "range"),
        ({"technical_weight": "0.5"}, "scoring.criteria", "sum"),
        ({"technical_weight": "0", "criteria": MIXED_RULES["criteria"]}, "scoring.criteria", "price_only"),
        ({**MIXED_RULES, "technical_minimum": "120"}, "scoring.technical_minimum", "range"),
        ({**MIXED_RULES, "technical_weight": "NaN"}, "technical_weight", "type"),
        ({**MIXED_RULES, "technical_weight": "0.1235"}, "technical_weight", "precision"),
        ({**MIXED_RULES, "technical_minimum": "50.125"}, "technical_minimum", "precision"),
        ({**MIXED_RULES, "extra": 1}, None, None),
    ]
    for body, field_, rule in bad:
        r = await client.put(url, json=body, headers=hdr(settings, p.officer))
        assert r.status_code == 422, (body, r.text)
        if field_:
            assert r.json()["errors"][0]["field"] == field_ and r.json()["errors"][0]["rule"] == rule, r.text
    # Nothing of the refused requests was written.
    assert ok(await client.get(url, headers=hdr(settings, p.officer)))["technical_weight"] == 0.6
    # Three decimals are kept exactly and the weights add up to 1.
    got = ok(await client.put(url, json={**MIXED_RULES, "technical_weight": "0.125"},
                              headers=hdr(settings, p.officer)))
    assert (got["technical_weight"], got["price_weight"]) == (0.125, 0.875)
    got = ok(await client.get(url, headers=hdr(settings, p.officer)))
    assert (got["technical_weight"], got["price_weight"]) == (0.125, 0.875)
    ok(await client.put(url, json=MIXED_RULES, headers=hdr(settings, p.officer)))

    # Published: public, and still editable by the owning officers until tendering starts.
    ok(await client.post(f"/api/v1/tenders/{s.tender_id}/publish", headers=hdr(settings, p.officer)))
    ok(await client.get(url))
    await p.refresh(settings)
    await check_matrix(client, "PUT", url, {
        p.anonymous: 401, p.other_officer: 403, p.committee: 403, p.bidder: 403, p.auditor: 403,
        p.admin: 403, p.officer: 200,
    }, json=MIXED_RULES)
    fixed_clock.advance(days=5)
    r = await client.put(url, json=MIXED_RULES, headers=hdr(settings, p.officer))
    assert r.status_code == 409 and r.json()["errors"][0]["rule"] == "state"
    assert "evaluation.rules_set" in await audit_actions(s.tender_id)


async def test_price_only_methods_refuse_technical_criteria(client, settings, fixed_clock):
    p = await personas(settings, client)
    s = await draft(client, settings, fixed_clock, p, method="reverse_auction", category="goods",
                    rules=None)
    r = await client.put(f"/api/v1/tenders/{s.tender_id}/evaluation/rules", json=MIXED_RULES,
                         headers=hdr(settings, p.officer))
    assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "price_only"
    got = ok(await client.get(f"/api/v1/tenders/{s.tender_id}/evaluation/rules", headers=hdr(settings, p.officer)))
    assert got["price_only"] and got["price_weight"] == 1


# -------------------------------------------------------------------------------------------- committee

async def test_committee_enters_points_and_qualifies_bids(client, settings, fixed_clock):
    p = await personas(settings, client)
    a = await active_supplier(settings, ubigeo="080101")
    b = await active_supplier(settings, ubigeo="040101")
    s = await draft(client, settings, fixed_clock, p)
    def body(who):
        return {"lot_id": s.lot_ids[0], "bid_id": s.bids.get((0, 0), "00000000-0000-0000-0000-000000000000"),
                            "scores": [{"criterion": "exp", "points": "50"}]}
    await publish_and_bid(client, settings, fixed_clock, p, s, [a, b], [{0: 12_000_000}, {0: 10_000_000}])
    url = f"/api/v1/tenders/{s.tender_id}/evaluation/scores"
    await p.refresh(settings)
    await check_matrix(client, "POST", url, {
        p.anonymous: 401, p.other_officer: 403, p.officer: 403, p.agency_admin: 403, p.bidder: 403,
        p.auditor: 403, p.admin: 403, p.committee: 200,
    }, json=body)
    got = await points(client, settings, p, s, 0, 0, "55.5", 30)
    assert got["scores"] == {"exp": 55.5, "team": 30} and got["total"] == 85.5 and got["complete"]
    # Corrections replace the earlier entry; every entry is audited.
    got = await points(client, settings, p, s, 0, 0, 50, 30)
    assert got["total"] == 80
    assert (await audit_actions(s.bids[(0, 0)])).count("evaluation.points_entered") == 3

    refusals = [
        ({"scores": [{"criterion": "exp", "points": "60.5"}]}, 422, "scores[0].points", "range"),
        ({"scores": [{"criterion": "nope", "points": "1"}]}, 422, "scores[0].criterion", "unknown"),
        ({"scores": [{"criterion": "exp", "points": "1.234"}]}, 422, "scores[0].points", "precision"),
        ({"scores": [{"criterion": "exp", "points": "1"}, {"criterion": "exp", "points": "2"}]}, 422, "scores",
         "unique"),
        ({"scores": []}, 422, "scores", "range"),
        ({"bid_id": "00000000-0000-0000-0000-000000000001"}, 404, "bid_id", "exists"),
        ({"lot_id": "00000000-0000-0000-0000-000000000001"}, 404, "lot_id", "exists"),
    ]
    for change, status, field_, rule in refusals:
        payload = {"lot_id": s.lot_ids[0], "bid_id": s.bids[(0, 0)], "scores": [{"criterion": "exp", "points": "1"}],
                   **change}
        r = await client.post(url, json=payload, headers=hdr(settings, p.committee))
        assert r.status_code == status, (change, r.text)
        err = r.json()["errors"][0]
        assert (err["field"], err["rule"]) == (field_, rule) or rule == "range", (change, r.text)
    assert (await db.fetchrow("SELECT points FROM technical_score WHERE criterion = 'exp' AND bid_id = $1",
                              UUID(s.bids[(0, 0)])))["points"] == 50

    qurl = f"/api/v1/tenders/{s.tender_id}/evaluation/qualifications"
    q = {"lot_id": s.lot_ids[0], "bid_id": s.bids[(1, 0)], "qualified": False, "reason": ""}
    r = await client.post(qurl, json=q, headers=hdr(settings, p.committee))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    for who, status in ((p.officer, 403), (p.bidder, 403), (p.other_officer, 403)):
        assert (await client.post(qurl, json={**q, "reason": "sin garantía"}, headers=hdr(settings, who))
                ).status_code == status
    got = ok(await client.post(qurl, json={**q, "reason": "Sin carta de garantía"}, headers=hdr(settings, p.committee)))
    assert got["qualified"] is False and got["reason"] == "Sin carta de garantía"
    assert "evaluation.bid_disqualified" in await audit_actions(s.bids[(1, 0)])


async def test_provisional_score_sheets_are_the_agencys_until_the_award(client, settings, fixed_clock):
    p = await personas(settings, client)
    a = await active_supplier(settings, ubigeo="080101", mype=True)
    b = await active_supplier(settings, ubigeo="040101")
    s = await in_evaluation(client, settings, fixed_clock, p, [a, b], [{0: 12_000_000}, {0: 10_000_000}])
    url = f"/api/v1/tenders/{s.tender_id}/evaluation/score-sheets"
    sheets = ok(await client.get(url, headers=hdr(settings, p.committee)))
    assert len(sheets) == 1 and sheets[0]["provisional"] and sheets[0]["sheet"] is None
    assert {m["bid_id"] for m in sheets[0]["missing"]} == {s.bids[(0, 0)], s.bids[(1, 0)]}
    await points(client, settings, p, s, 0, 0, 50, 30)
    await points(client, settings, p, s, 1, 0, 55, 35)
    sheets = ok(await client.get(url, headers=hdr(settings, p.officer)))
    assert sheets[0]["provisional"] and sheets[0]["outcome"] == "awarded"
    assert sheets[0]["sheet"]["winner_bid_id"] == s.bids[(1, 0)]
    # The public, competitors and other agencies see no provisional sheet.
    for who in (p.anonymous, p.bidder, p.other_officer, p.auditor):
        assert ok(await client.get(url, headers=hdr(settings, who) if who.user_id else {})) == []


async def test_bonuses_are_judged_on_the_registry_facts_at_submission(client, settings, fixed_clock):
    """A bidder that turns MYPE or moves its domicile after seeing the opened prices gains no bonus."""
    p = await personas(settings, client)
    a = await active_supplier(settings, ubigeo="080101", mype=True)
    b = await active_supplier(settings, ubigeo="040101")
    s = await in_evaluation(client, settings, fixed_clock, p, [a, b], [{0: 12_000_000}, {0: 11_800_000}])
    # After the opening, b claims MYPE status and a domicile in the lot's province.
    ok(await client.patch(f"/api/v1/suppliers/{b.org_id}", json={"mype": True, "ubigeo": "080108"},
                          headers=hdr(settings, b)))
    await points(client, settings, p, s, 0, 0, 50, 30)
    await points(client, settings, p, s, 1, 0, 50, 30)
    sheets = ok(await client.get(f"/api/v1/tenders/{s.tender_id}/evaluation/score-sheets",
                                 headers=hdr(settings, p.officer)))
    by_bid = {e["bid_id"]: e for e in sheets[0]["sheet"]["bids"]}
    assert by_bid[s.bids[(1, 0)]]["is_mype"] is False
    assert by_bid[s.bids[(1, 0)]]["domicile_ubigeo"] == "040101"
    assert by_bid[s.bids[(0, 0)]]["is_mype"] is True
    assert sheets[0]["sheet"]["winner_bid_id"] == s.bids[(0, 0)]
