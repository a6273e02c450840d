async def test_health(client):
    r = await client.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


async def test_ready_checks_database_and_redis(client):
    r = await client.get("/ready")
    assert r.status_code == 200, r.text
    assert r.json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_unknown_path_is_problem_json_in_callers_language(client):
    r = await client.get("/nope", headers={"Accept-Language": "en"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == 404 and body["type"].endswith("/not-found")


async def test_login_validation_is_422_naming_the_field(client):
    r = await client.post("/api/v1/auth/token", json={"username": "x@y.pe"})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["errors"][0]["field"] == "password"
    assert body["errors"][0]["rule"] == "required"


async def test_startup_objects_are_frozen_out_of_the_collectors_reach(client):
    """The app's lifespan freezes what startup made (marketplace/core/runtime.py): full collections in a
    rush then walk only the requests' own objects (bench/rush.py measured the stalls it removes)."""
    import gc

    assert gc.get_freeze_count() > 10_000
