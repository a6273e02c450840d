from stdnum.pe import ruc

from tests import factories


async def test_login_factory_gives_a_working_token(client, settings):
    who = await factories.login(settings, "agency", "officer")
    assert ruc.is_valid(factories.make_ruc())
    r = await client.post("/api/v1/auth/token", json={"username": who.email, "password": factories.PASSWORD})
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "bearer"
