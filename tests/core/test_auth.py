"""Sign-in, bearer tokens (issue, expiry, tampering), who-am-I, and users of an organisation."""

from __future__ import annotations

import base64
import json

from marketplace.core import db
from tests import factories
from tests.harness import check_matrix, personas


def _problem(r, status: int, rule: str | None = None, field: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    if rule or field:
        err = body["errors"][0]
        assert (err["field"], err["rule"]) == (field or err["field"], rule or err["rule"]), body
    return body


async def test_password_login_with_json_gives_a_bearer_token_for_me(client, settings):
    who = await factories.login(settings, "agency", "officer")
    r = await client.post("/api/v1/auth/token", json={"username": who.email.upper(), "password": factories.PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == settings.jwt_ttl_seconds
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200, me.text
    assert me.json()["user"]["id"] == str(who.user_id)
    assert me.json()["user"]["roles"] == ["officer"]
    assert me.json()["organisation"]["id"] == str(who.org_id)
    assert me.json()["organisation"]["kind"] == "agency"
    assert me.json()["via"] == "jwt"


async def test_password_login_accepts_the_oauth2_form(client, settings):
    who = await factories.login(settings, "supplier", "bidder")
    r = await client.post("/api/v1/auth/token", data={"grant_type": "password", "username": who.email,
                                                      "password": factories.PASSWORD})
    assert r.status_code == 200, r.text
    assert r.json()["access_token"]
    bad = await client.post("/api/v1/auth/token", data={"username": who.email})
    _problem(bad, 422, field="password", rule="required")


async def test_wrong_password_is_401_without_saying_which_part_was_wrong(client, settings):
    who = await factories.login(settings, "agency", "officer")
    wrong = await client.post("/api/v1/auth/token", json={"username": who.email, "password": "not the password"})
    nobody = await client.post("/api/v1/auth/token", json={"username": "nobody@example.pe", "password": "whatever1"})
    assert _problem(wrong, 401, rule="credentials")["detail"] == _problem(nobody, 401, rule="credentials")["detail"]


async def test_token_expires_after_its_lifetime_by_the_application_clock(client, settings, fixed_clock):
    who = await factories.login(settings, "agency", "officer")
    r = await client.post("/api/v1/auth/token", json={"username": who.email, "password": factories.PASSWORD})
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    fixed_clock.advance(seconds=settings.jwt_ttl_seconds - 1)
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    fixed_clock.advance(seconds=1)
    r = await client.get("/api/v1/auth/me", headers=headers, params={"lang": "en"})
    body = _problem(r, 401, field="header.authorization", rule="expired")
    assert body["detail"] == "The access token has expired"
    assert "invalid_token" in r.headers["www-authenticate"]


async def test_tampered_token_is_401(client, settings):
    who = await factories.login(settings, "agency", "officer")
    header, payload, signature = who.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["agency_admin"]  # promote oneself
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    r = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {header}.{forged}.{signature}"})
    _problem(r, 401, field="header.authorization", rule="invalid")
    r = await client.get("/api/v1/auth/me", headers={"Authorization": "Bearer not-a-jwt"})
    _problem(r, 401, rule="invalid")
    r = await client.get("/api/v1/auth/me", headers={"Authorization": f"Basic {who.token}"})
    _problem(r, 401, rule="scheme")


async def test_token_signed_with_another_key_is_401(client, settings):
    import jwt

    who = await factories.login(settings, "agency", "officer")
    claims = jwt.decode(who.token, options={"verify_signature": False})
    other = jwt.encode(claims, "another-secret-of-at-least-32-characters!!", algorithm="HS256")
    r = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {other}"})
    _problem(r, 401, rule="invalid")


async def test_me_needs_a_signed_in_user(client):
    _problem(await client.get("/api/v1/auth/me"), 401)


# Users of an organisation ----------------------------------------------------------------------------------

async def test_agency_admin_creates_an_officer_who_can_sign_in(client, settings):
    p = await personas(settings, client)
    r = await client.post(f"/api/v1/organisations/{p.agency_id}/users", headers=p.agency_admin.headers, json={
        "email": "Nueva.Oficial@entidad.gob.pe", "password": "una clave larga", "roles": ["officer", "committee"],
        "full_name": "Nueva Oficial"})
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["organisation_id"] == str(p.agency_id) and user["roles"] == ["committee", "officer"]
    assert "password" not in json.dumps(user)
    login = await client.post("/api/v1/auth/token", json={"username": "nueva.oficial@entidad.gob.pe",
                                                           "password": "una clave larga"})
    assert login.status_code == 200, login.text
    events = await db.fetch("SELECT action, actor_user_id FROM audit_event WHERE entity_id = $1", user["id"])
    assert events == [{"action": "user.created", "actor_user_id": p.agency_admin.user_id}]
    listed = await client.get(f"/api/v1/organisations/{p.agency_id}/users", headers=p.agency_admin.headers)
    assert user["id"] in [u["id"] for u in listed.json()]


async def test_duplicate_email_is_409_on_email(client, settings):
    p = await personas(settings, client)
    r = await client.post(f"/api/v1/organisations/{p.agency_id}/users", headers=p.agency_admin.headers, json={
        "email": p.officer.email.upper(), "password": "una clave larga", "roles": ["officer"]})
    _problem(r, 409, field="email", rule="unique")


async def test_roles_are_checked_against_the_organisation_kind(client, settings):
    p = await personas(settings, client)
    before = await db.fetchrow("SELECT count(*) AS n FROM app_user")
    r = await client.post(f"/api/v1/organisations/{p.agency_id}/users", headers=p.admin.headers, json={
        "email": "x@entidad.gob.pe", "password": "una clave larga", "roles": ["bidder"]})
    _problem(r, 422, field="roles", rule="enum")
    r = await client.post(f"/api/v1/organisations/{p.agency_id}/users", headers=p.admin.headers, json={
        "email": "x@entidad.gob.pe", "password": "una clave larga", "roles": ["emperor"]})
    _problem(r, 422, field="roles[0]", rule="enum")
    r = await client.post(f"/api/v1/organisations/{p.agency_id}/users", headers=p.admin.headers, json={
        "email": "x@entidad.gob.pe", "password": "short", "roles": ["officer"]})
    _problem(r, 422, field="password", rule="length")
    assert await db.fetchrow("SELECT count(*) AS n FROM app_user") == before


async def test_who_may_create_users_of_an_agency(client, settings):
    p = await personas(settings, client)
    seq = iter(range(100))
    await check_matrix(client, "POST", f"/api/v1/organisations/{p.agency_id}/users", {
        p.anonymous: 401,
        p.officer: 403,
        p.other_officer: 403,
        p.committee: 403,
        p.bidder: 403,
        p.auditor: 403,
        p.supplier_admin: 403,
        p.agency_admin: 201,
        p.admin: 201,
    }, json=lambda who: {"email": f"new{next(seq)}@entidad.gob.pe", "password": "una clave larga",
                         "roles": ["officer"]})


async def test_who_may_create_users_of_a_supplier_and_an_oversight_body(client, settings):
    p = await personas(settings, client)
    seq = iter(range(100))
    body = lambda who: {"email": f"s{next(seq)}@proveedor.pe", "password": "una clave larga",  # noqa: E731
                        "roles": ["bidder"]}
    await check_matrix(client, "POST", f"/api/v1/organisations/{p.supplier_id}/users", {
        p.anonymous: 401, p.officer: 403, p.other_officer: 403, p.committee: 403, p.bidder: 403, p.auditor: 403,
        p.agency_admin: 403, p.supplier_admin: 201, p.admin: 201,
    }, json=body)
    await check_matrix(client, "POST", f"/api/v1/organisations/{p.oversight_id}/users", {
        p.anonymous: 401, p.officer: 403, p.other_officer: 403, p.committee: 403, p.bidder: 403, p.auditor: 403,
        p.admin: 201,
    }, json=lambda who: {"email": f"o{next(seq)}@contraloria.gob.pe", "password": "una clave larga",
                         "roles": ["auditor"]})


async def test_unknown_organisation_is_404_for_a_platform_admin_and_403_for_others(client, settings):
    p = await personas(settings, client)
    path = "/api/v1/organisations/00000000-0000-4000-8000-000000000000/users"
    body = {"email": "a@b.pe", "password": "una clave larga", "roles": ["officer"]}
    _problem(await client.post(path, headers=p.admin.headers, json=body), 404)
    _problem(await client.post(path, headers=p.agency_admin.headers, json=body), 403)


async def test_the_token_endpoint_documents_json_and_the_oauth2_form(client):
    schema = (await client.get("/schema/openapi.json")).json()
    body = schema["paths"]["/api/v1/auth/token"]["post"]["requestBody"]["content"]
    assert {"application/json", "application/x-www-form-urlencoded"} <= body.keys()
    # A password sign-in, or a refresh (RFC 6749 6): tests/security/test_refresh_tokens.py.
    variants = body["application/json"]["schema"]["oneOf"]
    assert [v["required"] for v in variants] == [["username", "password"], ["grant_type", "refresh_token"]]
    assert "/api/v1/auth/api-keys/{key_id}" in schema["paths"]
    assert "/api/v1/organisations/{org_id}/users" in schema["paths"]
