"""Every error is RFC 9457 problem+json: type, title, status, detail, instance, and the field and rule at
fault; the title and detail speak the caller's language (Accept-Language, es-PE first)."""

from __future__ import annotations

from tests import factories
from tests.harness import personas

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def assert_problem(r, status: int, type_: str, *, field: str | None = None, rule: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body.keys() >= PROBLEM_KEYS, body
    assert body["status"] == status
    assert body["type"] == f"https://mercadoabierto.pe/problems/{type_}"
    assert body["instance"] == r.request.url.path
    assert body["title"] and body["detail"]
    assert "Traceback" not in r.text and "asyncpg" not in r.text
    if field is not None:
        assert {"field": field, "rule": rule} == {k: body["errors"][0][k] for k in ("field", "rule")}, body
        assert body["errors"][0]["message"]
    return body


async def test_422_names_every_field_and_rule(client, settings):
    p = await personas(settings, client)
    r = await client.post("/api/v1/agencies", headers=p.admin.headers,
                          json={"ruc": "20131078791", "name": "", "level": "local", "ubigeo": "08010",
                                "admin": {"email": "a@b.pe", "password": "una clave larga"}})
    body = assert_problem(r, 422, "validation-error", field="name", rule="length")
    r = await client.post("/api/v1/agencies", headers=p.admin.headers,
                          json={"name": "X", "level": "local", "ubigeo": "080101", "colour": "red",
                                "admin": {"email": "a@b.pe", "password": "una clave larga"}})
    assert_problem(r, 422, "validation-error", field="colour", rule="unknown_field")
    r = await client.post("/api/v1/agencies", headers=p.admin.headers, json={"name": 7})
    assert_problem(r, 422, "validation-error", field="name", rule="type")
    r = await client.post("/api/v1/agencies", headers=p.admin.headers, json={"name": "X", "level": "local"})
    assert_problem(r, 422, "validation-error", rule="required", field=r.json()["errors"][0]["field"])
    assert body["title"] == "La solicitud no es válida"  # Spanish unless the caller asks otherwise


async def test_422_from_a_domain_rule(client, settings):
    p = await personas(settings, client)
    ruc = factories.make_ruc()
    bad = ruc[:-1] + str((int(ruc[-1]) + 1) % 10)
    r = await client.post("/api/v1/agencies", headers=p.admin.headers,
                          json={"ruc": bad, "name": "X", "level": "local", "ubigeo": "080101",
                                "admin": {"email": "a@b.pe", "password": "una clave larga"}})
    assert_problem(r, 422, "validation-error", field="ruc", rule="check_digit")


async def test_404(client):
    r = await client.get("/api/v1/agencies/00000000-0000-4000-8000-000000000000")
    assert_problem(r, 404, "not-found")


async def test_409(client, settings):
    p = await personas(settings, client)
    r = await client.post(f"/api/v1/organisations/{p.agency_id}/users", headers=p.admin.headers,
                          json={"email": p.officer.email, "password": "una clave larga", "roles": ["officer"]})
    assert_problem(r, 409, "conflict", field="email", rule="unique")


async def test_401(client):
    r = await client.get("/api/v1/auth/me")
    assert_problem(r, 401, "unauthorized")
    r = await client.get("/api/v1/auth/me", headers={"Authorization": "Bearer x.y.z"})
    assert_problem(r, 401, "unauthorized", field="header.authorization", rule="invalid")
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = await client.get("/api/v1/auth/me", headers={"X-API-Key": "ma_nope_nope"})
    assert_problem(r, 401, "unauthorized", field="header.x-api-key", rule="invalid")


async def test_403(client, settings):
    p = await personas(settings, client)
    r = await client.post("/api/v1/agencies", headers=p.officer.headers,
                          json={"ruc": factories.make_ruc(), "name": "X", "level": "local", "ubigeo": "080101",
                                "admin": {"email": "a@b.pe", "password": "una clave larga"}})
    assert_problem(r, 403, "forbidden")


async def test_title_and_detail_follow_accept_language(client, settings):
    p = await personas(settings, client)
    path = "/api/v1/agencies"
    body = {"ruc": factories.make_ruc(), "name": "X", "level": "local", "ubigeo": "080101",
            "admin": {"email": "a@b.pe", "password": "una clave larga"}}
    es = (await client.post(path, headers={**p.officer.headers, "Accept-Language": "es-PE,es;q=0.9"},
                            json=body)).json()
    en = (await client.post(path, headers={**p.officer.headers, "Accept-Language": "en-GB,en;q=0.8"},
                            json=body)).json()
    default = (await client.post(path, headers=p.officer.headers, json=body)).json()
    assert (es["title"], es["detail"]) == ("No tiene permiso para hacer esto", "Su rol no permite esta acción")
    assert (en["title"], en["detail"]) == ("You are not allowed to do this", "Your role does not allow this action")
    assert default["title"] == es["title"]
    assert es["type"] == en["type"]  # the stable identifier does not change with the language

    r = await client.get("/api/v1/agencies/00000000-0000-4000-8000-000000000000", headers={"Accept-Language": "en"})
    assert (r.json()["title"], r.json()["detail"]) == ("Not found", "Agency not found")
    r = await client.get("/api/v1/agencies/00000000-0000-4000-8000-000000000000", params={"lang": "es"},
                         headers={"Accept-Language": "en"})
    assert (r.json()["title"], r.json()["detail"]) == ("No encontrado", "Entidad no encontrada")
    r = await client.post("/api/v1/auth/token", headers={"Accept-Language": "en"}, json={"username": "x@y.pe"})
    assert r.json()["title"] == "The request is not valid"
