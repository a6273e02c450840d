"""The supplier registry over HTTP: registration, RUC rules, registry decisions and good standing."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest
from stdnum.pe import ruc as ruc_mod

from marketplace.core import clock, db
from suppliers import service
from suppliers.domain import SupplierDisqualified, SupplierNotRegistered, SupplierPending, SupplierSuspended
from tests import factories, waiting
from tests.factories import make_ruc
from tests.suppliers.factories import active_supplier, registered_supplier


def ruc_with(prefix: str, body: str = "12345678") -> str:
    number = prefix + body
    return number + ruc_mod.calc_check_digit(number)


def registration(**over):
    body = {
        "ruc": make_ruc("20"),
        "legal_name": "Ferretería  Los Andes S.A.C.",
        "ubigeo": "080101",
        "mype": True,
        "contact": {"name": "Rosa Quispe", "email": "ventas@losandes.pe", "phone": "+51 984 000 111"},
        "admin": {"email": f"admin-{over.get('ruc', 'x')}@losandes.pe", "password": "una clave segura 123",
                  "full_name": "Rosa Quispe"},
        "categories": ["4321", "43211503", "4321"],
    }
    body.update(over)
    return body


async def test_registration_creates_a_pending_supplier_and_its_admin(client):
    body = registration()
    r = await client.post("/api/v1/suppliers", json=body)
    assert r.status_code == 202, r.text  # the same answer as for a RUC or email already registered
    assert r.json()["status"] == "received"
    # the administrator can sign in and is a supplier_admin of the new organisation
    r = await client.post("/api/v1/auth/token", json={"username": body["admin"]["email"],
                                                      "password": body["admin"]["password"]})
    assert r.status_code == 200, r.text
    auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
    me = (await client.get("/api/v1/auth/me", headers=auth)).json()
    sup = (await client.get(f"/api/v1/suppliers/{me['organisation']['id']}", headers=auth)).json()
    assert sup["status"] == "pending" and sup["ruc"] == body["ruc"] and sup["person_type"] == "company"
    assert sup["legal_name"] == "Ferretería Los Andes S.A.C."
    assert sup["ubigeo"] == "080101" and sup["region"] == "08" and sup["place"] == "Cusco, Cusco, Cusco"
    assert sup["mype"] is True and sup["categories"] == ["4321", "43211503"]
    assert sup["contact"]["email"] == "ventas@losandes.pe"
    assert me["organisation"]["id"] == sup["id"] and me["organisation"]["kind"] == "supplier"
    assert "supplier_admin" in me["user"]["roles"]
    # audited and announced
    audit = await db.fetch("SELECT action FROM audit_event WHERE entity_id = $1", sup["id"])
    assert "supplier.registered" in [a["action"] for a in audit]
    events = await db.fetch("SELECT topic FROM outbox WHERE aggregate_id = $1", sup["id"])
    assert [e["topic"] for e in events] == ["supplier.registered"]
    # pending registrations are not public
    assert (await client.get(f"/api/v1/suppliers/{sup['id']}")).status_code == 404
    assert (await client.get("/api/v1/suppliers")).json()["total"] == 0


@pytest.mark.parametrize(("ruc", "person_type"), [
    (ruc_with("10", "41234567"), "individual"),
    (ruc_with("15"), "individual"),
    (ruc_with("17"), "individual"),
    (ruc_with("20"), "company"),
    ("20100070970", "company"),  # a real RUC (Supermercados Peruanos)
])
async def test_valid_rucs(client, ruc, person_type):
    r = await client.post("/api/v1/suppliers", json=registration(ruc=ruc))
    assert r.status_code == 202, r.text
    assert (await db.fetchrow("SELECT person_type FROM supplier WHERE ruc = $1", ruc))["person_type"] == person_type


@pytest.mark.parametrize(("ruc", "rule", "words"), [
    ("2010007097", "length", "11 digits"),
    ("201000709701", "length", "11 digits"),
    ("2010007097A", "digits", "digits"),
    (ruc_with("16"), "prefix", "start with"),
    (ruc_with("30"), "prefix", "start with"),
    ("20100070971", "check_digit", "check digit"),
])
async def test_invalid_rucs_are_refused_naming_the_rule(client, ruc, rule, words):
    r = await client.post("/api/v1/suppliers", json=registration(ruc=ruc), headers={"Accept-Language": "en"})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert problem["errors"][0]["field"] == "ruc" and problem["errors"][0]["rule"] == rule
    assert words in problem["detail"]
    assert (await db.fetchrow("SELECT count(*) AS n FROM organisation"))["n"] == 0


async def test_invalid_ruc_message_in_spanish(client):
    r = await client.post("/api/v1/suppliers", json=registration(ruc="20100070971"),
                          headers={"Accept-Language": "es-PE"})
    assert r.status_code == 422
    assert "dígito verificador" in r.json()["detail"]


async def test_duplicate_ruc_is_answered_as_a_new_one_and_writes_nothing(client):
    """Registration never says whether a RUC or an email is registered (issue 17, finding 7)."""
    ruc = make_ruc("20")
    first = await client.post("/api/v1/suppliers", json=registration(ruc=ruc))
    again = registration(ruc=ruc)
    again["admin"]["email"] = "otro@example.pe"
    r = await client.post("/api/v1/suppliers", json=again)
    assert (r.status_code, r.json()) == (first.status_code, first.json()) == (202, first.json())
    assert (await db.fetchrow("SELECT count(*) AS n FROM supplier"))["n"] == 1
    assert await db.fetchrow("SELECT 1 FROM app_user WHERE email = 'otro@example.pe'") is None


@pytest.mark.parametrize(("over", "field", "rule"), [
    ({"ubigeo": "999999"}, "ubigeo", "ubigeo"),
    ({"ubigeo": "150100"}, "ubigeo", "district"),
    ({"ubigeo": "15010"}, "ubigeo", "pattern"),
    ({"legal_name": ""}, "legal_name", "length"),
    ({"categories": ["ropa"]}, "categories[0]", "pattern"),
    ({"mype": "sí"}, "mype", "type"),
    ({"surprise": 1}, "surprise", "unknown_field"),
])
async def test_invalid_registrations_write_nothing(client, over, field, rule):
    r = await client.post("/api/v1/suppliers", json=registration(**over))
    assert r.status_code == 422, r.text
    err = r.json()["errors"][0]
    assert err["field"] == field and err["rule"] == rule, err
    assert (await db.fetchrow("SELECT count(*) AS n FROM organisation"))["n"] == 0


async def test_only_platform_approves_and_status_changes_need_a_reason(client, settings):
    sup = await registered_supplier(settings, status="pending")
    admin = await factories.login(settings, "platform", "admin")
    auditor = await factories.login(settings, "oversight", "auditor")
    officer = await factories.login(settings, "agency", "officer")
    url = f"/api/v1/suppliers/{sup.org_id}/status"
    body = {"status": "active", "reason": "registry fee waived"}
    assert (await client.post(url, json=body, headers=sup.headers)).status_code == 403
    assert (await client.post(url, json=body, headers=officer.headers)).status_code == 403
    assert (await client.post(url, json=body)).status_code == 401
    assert (await client.post(url, json=body, headers=auditor.headers)).status_code == 403  # approval: platform
    r = await client.post(url, json={"status": "active"}, headers=admin.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    r = await client.post(url, json=body, headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active" and r.json()["status_reason"] == "registry fee waived"
    # now public
    assert (await client.get(f"/api/v1/suppliers/{sup.org_id}")).json()["contact"] is None
    assert (await client.get(f"/api/v1/suppliers/{sup.org_id}", headers=officer.headers)).json()["contact"]


async def test_suspension_blocks_bidding_until_its_end_date(client, settings, fixed_clock):
    sup = await active_supplier(settings, ubigeo="040101", mype=True)
    auditor = await factories.login(settings, "oversight", "auditor")
    standing = await service.require_good_standing(org_id=sup.org_id)
    assert standing.ubigeo == "040101" and standing.mype and standing.status == "active"
    url = f"/api/v1/suppliers/{sup.org_id}/status"
    r = await client.post(url, json={"status": "suspended", "reason": "sanción del Tribunal"},
                          headers=auditor.headers)
    assert r.status_code == 422 and r.json()["errors"][0] == {
        "field": "until", "rule": "required", "message": r.json()["detail"]}
    past = (clock.now() - timedelta(days=1)).isoformat()
    r = await client.post(url, json={"status": "suspended", "reason": "sanción", "until": past},
                          headers=auditor.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "future"
    until = clock.now() + timedelta(days=90)
    r = await client.post(url, json={"status": "suspended", "reason": "sanción del Tribunal de Contrataciones",
                                     "until": until.isoformat()}, headers=auditor.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "suspended"
    with pytest.raises(SupplierSuspended) as exc:
        await service.require_good_standing(org_id=sup.org_id)
    assert exc.value.status == 403 and exc.value.type == "supplier-suspended"
    # the suspension ends by itself
    fixed_clock.advance(days=91)
    assert (await service.require_good_standing(org_id=sup.org_id)).status == "active"
    async with db.unit_of_work():
        assert await service.end_due_suspensions() == 1
    sup_row = (await client.get(f"/api/v1/suppliers/{sup.org_id}")).json()
    assert sup_row["status"] == "active" and sup_row["suspended_until"] is None
    history = (await client.get(f"/api/v1/suppliers/{sup.org_id}/status-history")).json()
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        ("pending", "active"), ("active", "suspended"), ("suspended", "active")]
    topics = [e["topic"] for e in await db.fetch(
        "SELECT topic FROM outbox WHERE topic = 'supplier.status_changed' ORDER BY id")]
    assert len(topics) == 3


async def test_disqualification_is_final(client, settings):
    sup = await active_supplier(settings)
    admin = await factories.login(settings, "platform", "admin")
    url = f"/api/v1/suppliers/{sup.org_id}/status"
    r = await client.post(url, json={"status": "disqualified", "reason": "inhabilitación definitiva"},
                          headers=admin.headers)
    assert r.status_code == 200
    with pytest.raises(SupplierDisqualified):
        await service.require_good_standing(org_id=sup.org_id)
    r = await client.post(url, json={"status": "active", "reason": "error"}, headers=admin.headers)
    assert r.status_code == 409 and r.json()["type"].endswith("/supplier-status-transition")
    audit = await db.fetch("SELECT action FROM audit_event WHERE entity_id = $1 ORDER BY id", str(sup.org_id))
    assert [a["action"] for a in audit][-1] == "supplier.status.disqualified"


async def test_good_standing_of_pending_and_unregistered(client, settings):
    pending = await registered_supplier(settings, status="pending")
    with pytest.raises(SupplierPending) as exc:
        await service.require_good_standing(org_id=pending.org_id)
    assert exc.value.type == "supplier-pending"
    bare = await factories.organisation("supplier")
    with pytest.raises(SupplierNotRegistered):
        await service.require_good_standing(org_id=bare)
    got = await service.get_supplier(org_id=pending.org_id)
    assert got.status == "pending" and isinstance(got.org_id, UUID)


async def test_registry_list_filters(client, settings):
    await active_supplier(settings, ubigeo="080101", mype=True, categories=["4321"])
    await active_supplier(settings, ubigeo="150101", categories=["30"])
    await registered_supplier(settings, ubigeo="080101", status="pending")
    page = (await client.get("/api/v1/suppliers")).json()
    assert page["total"] == 2
    assert (await client.get("/api/v1/suppliers?region=08")).json()["total"] == 1
    assert (await client.get("/api/v1/suppliers?category=43211503")).json()["total"] == 1
    assert (await client.get("/api/v1/suppliers?mype=true")).json()["total"] == 1
    admin = await factories.login(settings, "platform", "admin")
    assert (await client.get("/api/v1/suppliers?status=pending", headers=admin.headers)).json()["total"] == 1
    r = await client.get("/api/v1/suppliers?region=8")
    assert r.status_code == 422 and r.json()["errors"][0]["field"].endswith("region")


async def test_supplier_admin_updates_its_entry(client, settings):
    sup = await active_supplier(settings)
    other = await active_supplier(settings)
    r = await client.patch(f"/api/v1/suppliers/{sup.org_id}", json={"mype": True, "categories": ["72"]},
                           headers=sup.headers)
    assert r.status_code == 200, r.text
    assert r.json()["mype"] is True and r.json()["categories"] == ["72"]
    r = await client.patch(f"/api/v1/suppliers/{sup.org_id}", json={"mype": False}, headers=other.headers)
    assert r.status_code == 403


async def test_paying_the_registry_fee_activates_a_pending_registration(client, settings):

    from marketplace.core import outbox
    from suppliers import consumers, jobs  # noqa: F401  (registers the consumers)

    pending = await registered_supplier(settings, status="pending")
    active = await active_supplier(settings)
    for org in (pending.org_id, pending.org_id, active.org_id):  # the first one delivered twice
        async with db.unit_of_work():
            await outbox.emit(topic="registry_fee.paid", aggregate_type="organisation", aggregate_id=org,
                              payload={"payment_id": "pay-1", "kind": "registry_fee", "supplier_org_id": str(org)})
    async def drained() -> bool:  # other test processes' transactions may hold the outbox watermark back
        result = await outbox.drain(consumers.REGISTRY_FEE_CONSUMER)
        assert not result.failed
        return not (result.held_back or result.busy)

    await waiting.until(drained, "the registry fee consumer to be drained")
    assert (await service.require_good_standing(org_id=pending.org_id)).status == "active"
    history = (await client.get(f"/api/v1/suppliers/{pending.org_id}/status-history")).json()
    assert [(h["from_status"], h["to_status"], h["reason"]) for h in history] == [
        ("pending", "active", "registry fee paid (payment pay-1)")]
    assert len((await client.get(f"/api/v1/suppliers/{active.org_id}/status-history")).json()) == 1


async def test_concurrent_registrations_of_one_ruc(client):
    import asyncio

    ruc = make_ruc("20")
    bodies = []
    for i in range(4):
        body = registration(ruc=ruc)
        body["admin"]["email"] = f"carrera{i}@example.pe"
        bodies.append(body)
    responses = await asyncio.gather(*(client.post("/api/v1/suppliers", json=b) for b in bodies))
    assert [r.status_code for r in responses] == [202] * 4  # one registered, the others silently not
    assert (await db.fetchrow("SELECT count(*) AS n FROM supplier"))["n"] == 1
    assert (await db.fetchrow("SELECT count(*) AS n FROM app_user"))["n"] == 1
