"""Values PostgreSQL cannot store are the caller's fault: 422 problem+json, nothing written."""


async def test_nul_character_in_a_query_is_a_422_not_a_500(client):
    r = await client.get("/api/v1/agencies", params={"q": "a\x00b"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["rule"] == "storable"


async def test_nul_character_in_a_json_body_is_a_422_and_writes_nothing(client, settings):
    from marketplace.core import db
    from tests import factories

    admin = await factories.login(settings, "platform", "admin")
    before = (await db.fetchrow("SELECT count(*) AS n FROM organisation"))["n"]
    r = await client.post("/api/v1/agencies", headers=admin.headers, json={
        "ruc": factories.make_ruc(), "name": "Municipalidad\u0000", "ubigeo": "150101", "level": "local",
        "admin": {"email": "jefe@muni.gob.pe", "password": "una clave bastante larga", "full_name": "Jefe"}})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["rule"] == "storable"
    assert (await db.fetchrow("SELECT count(*) AS n FROM organisation"))["n"] == before


async def test_validation_messages_speak_the_callers_language(client):
    r = await client.post("/api/v1/auth/token", json={"username": "x@y.pe"}, headers={"Accept-Language": "es-PE"})
    assert r.status_code == 422
    assert r.json()["errors"][0] == {"field": "password", "rule": "required", "message": "Este campo es obligatorio"}
    r = await client.post("/api/v1/auth/token", json={"username": "x@y.pe"}, headers={"Accept-Language": "en"})
    assert r.json()["errors"][0]["message"] == "This field is required"
    r = await client.get("/api/v1/agencies", params={"limit": "abc"}, headers={"Accept-Language": "es"})
    assert r.json()["errors"][0]["message"] == "Se esperaba un valor de tipo int, se recibió str"
    r = await client.post("/api/v1/auth/token", json={"username": "x", "password": "y"})
    assert r.json()["errors"][0]["field"] == "username"
    assert r.json()["errors"][0]["message"].startswith("Debe tener una longitud >= ")
