"""Agencies: a platform admin registers one with its first administrator; anyone lists and reads them."""

from __future__ import annotations

import json

from marketplace.core import db
from tests import factories
from tests.harness import check_matrix, personas

_n = iter(range(10_000))


def agency_body(**over) -> dict:
    n = next(_n)
    body = {
        "ruc": factories.make_ruc("20"),
        "name": f"Municipalidad Distrital de Prueba {n}",
        "level": "local",
        "sector": "Gobiernos locales",
        "ubigeo": "080101",
        "admin": {"email": f"admin{n}@muni.gob.pe", "password": "una clave larga", "full_name": "Ana Quispe"},
    }
    body.update(over)
    return body


async def _count(table: str) -> int:
    return (await db.fetchrow(f"SELECT count(*) AS n FROM {table}"))["n"]


async def test_platform_admin_registers_an_agency_and_its_admin_signs_in(client, settings):
    p = await personas(settings, client)
    body = agency_body(ruc="2013107879 1", name="Municipalidad Provincial del Cusco", ubigeo="080101")
    r = await client.post("/api/v1/agencies", json=body, headers=p.admin.headers)
    assert r.status_code == 201, r.text
    agency = r.json()
    assert agency["ruc"] == "20131078791"  # stored compact
    assert (agency["name"], agency["level"], agency["ubigeo"]) == ("Municipalidad Provincial del Cusco", "local",
                                                                   "080101")
    assert "password" not in json.dumps(agency)

    login = await client.post("/api/v1/auth/token", json={"username": body["admin"]["email"],
                                                           "password": "una clave larga"})
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"})
    assert me.json()["organisation"]["id"] == agency["id"]
    assert me.json()["user"]["roles"] == ["agency_admin"] and me.json()["user"]["id"] == agency["admin_user_id"]

    assert (await client.get(f"/api/v1/agencies/{agency['id']}")).json() == {
        k: v for k, v in agency.items() if k != "admin_user_id"}
    actions = {r["action"] for r in await db.fetch("SELECT action FROM audit_event WHERE actor_user_id = $1",
                                                     p.admin.user_id)}
    assert actions == {"organisation.created", "agency.created", "user.created"}
    events = await db.fetch("SELECT topic, aggregate_id FROM outbox WHERE aggregate_type = 'agency'")
    assert events == [{"topic": "agency.created", "aggregate_id": agency["id"]}]


async def test_ruc_with_a_wrong_check_digit_or_format_is_422_and_writes_nothing(client, settings):
    p = await personas(settings, client)
    good = factories.make_ruc("20")
    wrong_digit = good[:-1] + str((int(good[-1]) + 1) % 10)
    before = (await _count("organisation"), await _count("app_user"), await _count("audit_event"))
    for ruc, rule in [(wrong_digit, "check_digit"), ("2012345678", "format"), ("20A23456789", "format"),
                      ("30123456781", "format")]:
        r = await client.post("/api/v1/agencies", json=agency_body(ruc=ruc), headers=p.admin.headers)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "ruc" and r.json()["errors"][0]["rule"] == rule, (ruc, r.json())
    assert (await _count("organisation"), await _count("app_user"), await _count("audit_event")) == before
    assert await _count("agency") == 2  # the harness's two


async def test_duplicate_ruc_is_409_and_duplicate_admin_email_409_on_admin_email(client, settings):
    p = await personas(settings, client)
    first = agency_body()
    assert (await client.post("/api/v1/agencies", json=first, headers=p.admin.headers)).status_code == 201
    r = await client.post("/api/v1/agencies", json=agency_body(ruc=first["ruc"]), headers=p.admin.headers)
    assert r.status_code == 409, r.text
    assert r.json()["errors"][0] == {"field": "ruc", "rule": "unique", "message": r.json()["detail"]}
    again = agency_body(admin={"email": first["admin"]["email"].upper(), "password": "una clave larga"})
    r = await client.post("/api/v1/agencies", json=again, headers=p.admin.headers)
    assert r.status_code == 409, r.text
    assert (r.json()["errors"][0]["field"], r.json()["errors"][0]["rule"]) == ("admin.email", "unique")
    assert await db.fetchrow("SELECT 1 FROM organisation WHERE ruc = $1", again["ruc"]) is None  # rolled back


async def test_ubigeo_must_be_six_digits_naming_a_real_place(client, settings):
    p = await personas(settings, client)
    r = await client.post("/api/v1/agencies", json=agency_body(ubigeo="15010"), headers=p.admin.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "ubigeo"
    assert r.json()["errors"][0]["rule"] == "pattern"
    r = await client.post("/api/v1/agencies", json=agency_body(ubigeo="999999"), headers=p.admin.headers)
    assert r.status_code == 422 and r.json()["errors"][0] == {
        "field": "ubigeo", "rule": "exists", "message": r.json()["detail"]}
    r = await client.post("/api/v1/agencies", json=agency_body(level="federal"), headers=p.admin.headers)
    assert (r.status_code, r.json()["errors"][0]["field"], r.json()["errors"][0]["rule"]) == (422, "level", "enum")
    r = await client.post("/api/v1/agencies", json=agency_body(admin={"email": "a@b.pe", "password": "short"}),
                          headers=p.admin.headers)
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "admin.password")


async def test_only_a_platform_admin_registers_agencies(client, settings):
    p = await personas(settings, client)
    await check_matrix(client, "POST", "/api/v1/agencies", {
        p.anonymous: 401,
        p.officer: 403,
        p.other_officer: 403,
        p.committee: 403,
        p.agency_admin: 403,
        p.bidder: 403,
        p.auditor: 403,
        p.admin: 201,
    }, json=lambda who: agency_body())
    assert await _count("agency") == 3


async def test_anyone_reads_the_list_and_an_agency(client, settings):
    p = await personas(settings, client)
    everyone = {who: 200 for who in p}
    await check_matrix(client, "GET", "/api/v1/agencies", everyone)
    await check_matrix(client, "GET", f"/api/v1/agencies/{p.agency_id}", everyone)
    r = await client.get("/api/v1/agencies/00000000-0000-4000-8000-000000000000")
    assert r.status_code == 404 and r.json()["type"].endswith("/not-found")


async def test_list_pages_by_name_with_a_cursor_and_filters(client, settings):
    p = await personas(settings, client)
    made = []
    for i, (level, ubigeo) in enumerate([("local", "080101"), ("regional", "080000"), ("national", "150101"),
                                         ("local", "040101"), ("local", "080108")]):
        body = agency_body(name=f"Entidad {chr(ord('E') - i)}", level=level, ubigeo=ubigeo)
        r = await client.post("/api/v1/agencies", json=body, headers=p.admin.headers)
        assert r.status_code == 201, r.text
        made.append(r.json())

    seen, after = [], None
    while True:
        r = await client.get("/api/v1/agencies", params={"limit": 2, **({"after": after} if after else {})})
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 2
        seen += [a["name"] for a in page["items"]]
        after = page["next_cursor"]
        if after is None:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 7  # 5 made + the harness's 2

    r = await client.get("/api/v1/agencies", params={"level": "local", "region": "08"})
    assert [a["name"] for a in r.json()["items"]] == ["Entidad A", "Entidad E"]
    r = await client.get("/api/v1/agencies", params={"q": "entidad b"})
    assert [a["ubigeo"] for a in r.json()["items"]] == ["040101"]
    r = await client.get("/api/v1/agencies", params={"q": "100%_"})
    assert r.json()["items"] == []

    for params, field, rule in [({"after": "not-a-cursor"}, "query.after", "cursor"),
                                ({"limit": 0}, "query.limit", "range"),
                                ({"region": "8"}, "query.region", "pattern")]:
        r = await client.get("/api/v1/agencies", params=params)
        assert r.status_code == 422, r.text
        assert (r.json()["errors"][0]["field"], r.json()["errors"][0]["rule"]) == (field, rule), r.json()
