"""API keys for machine clients: created by a signed-in user, shown once, usable as X-API-Key, revocable."""

from __future__ import annotations

from marketplace.core import db
from tests.harness import check_matrix, personas


async def _new_key(client, who, name="integración ERP") -> dict:
    r = await client.post("/api/v1/auth/api-keys", headers=who.headers, json={"name": name})
    assert r.status_code == 201, r.text
    return r.json()


async def test_a_key_authenticates_as_its_user_until_revoked(client, settings):
    p = await personas(settings, client)
    created = await _new_key(client, p.officer)
    assert created["key"].startswith(f"ma_{created['prefix']}_") and created["name"] == "integración ERP"
    stored = await db.fetchrow("SELECT secret_hash FROM api_key WHERE id = $1", created["id"])
    assert created["key"].split("_", 2)[2] not in stored["secret_hash"]  # only a hash is kept

    me = await client.get("/api/v1/auth/me", headers={"X-API-Key": created["key"]})
    assert me.status_code == 200, me.text
    assert me.json()["user"]["id"] == str(p.officer.user_id) and me.json()["via"] == "api_key"
    assert me.json()["user"]["roles"] == ["officer"]

    listed = await client.get("/api/v1/auth/api-keys", headers=p.officer.headers)
    assert [k["id"] for k in listed.json()] == [created["id"]]
    assert listed.json()[0]["last_used_at"] is not None  # the owner sees the key is in use
    assert "key" not in listed.json()[0] and "secret_hash" not in listed.json()[0]
    assert listed.json()[0]["revoked_at"] is None

    r = await client.delete(f"/api/v1/auth/api-keys/{created['id']}", headers=p.officer.headers)
    assert r.status_code == 204, r.text
    r = await client.get("/api/v1/auth/me", headers={"X-API-Key": created["key"]})
    assert r.status_code == 401
    assert r.json()["errors"][0] == {"field": "header.x-api-key", "rule": "revoked", "message": r.json()["detail"]}
    listed = await client.get("/api/v1/auth/api-keys", headers=p.officer.headers)
    assert listed.json()[0]["revoked_at"] is not None
    # revoking twice changes nothing
    assert (await client.delete(f"/api/v1/auth/api-keys/{created['id']}", headers=p.officer.headers)).status_code == 204

    actions = [r["action"] for r in await db.fetch(
        "SELECT action FROM audit_event WHERE entity_type = 'api_key' ORDER BY id")]
    assert actions == ["api_key.created", "api_key.revoked"]


async def test_a_wrong_secret_with_a_real_prefix_is_401(client, settings):
    p = await personas(settings, client)
    created = await _new_key(client, p.bidder)
    forged = f"ma_{created['prefix']}_{'A' * 43}"
    r = await client.get("/api/v1/auth/me", headers={"X-API-Key": forged})
    assert r.status_code == 401 and r.json()["errors"][0]["rule"] == "invalid"
    r = await client.get("/api/v1/auth/me", headers={"X-API-Key": "not-a-key"})
    assert r.status_code == 401


async def test_keys_are_private_to_their_user(client, settings):
    p = await personas(settings, client)
    mine = await _new_key(client, p.officer)
    await _new_key(client, p.committee, name="otra")
    listed = await client.get("/api/v1/auth/api-keys", headers=p.committee.headers)
    assert mine["id"] not in [k["id"] for k in listed.json()]
    await check_matrix(client, "DELETE", f"/api/v1/auth/api-keys/{mine['id']}", {
        p.anonymous: 401,
        p.other_officer: 404,  # someone else's key is not found, not forbidden
        p.committee: 404,      # same agency, still not theirs
        p.bidder: 404,
        p.auditor: 404,
        p.admin: 404,
        p.officer: 204,
    })


async def test_an_api_key_cannot_mint_or_list_keys(client, settings):
    p = await personas(settings, client)
    key = (await _new_key(client, p.bidder))["key"]
    r = await client.post("/api/v1/auth/api-keys", headers={"X-API-Key": key}, json={"name": "más"})
    assert r.status_code == 403, r.text
    assert (await client.get("/api/v1/auth/api-keys", headers={"X-API-Key": key})).status_code == 403
    assert (await db.fetchrow("SELECT count(*) AS n FROM api_key"))["n"] == 1


async def test_every_signed_in_user_may_hold_keys(client, settings):
    p = await personas(settings, client)
    await check_matrix(client, "POST", "/api/v1/auth/api-keys", {
        p.anonymous: 401, p.officer: 201, p.other_officer: 201, p.committee: 201, p.bidder: 201, p.auditor: 201,
        p.admin: 201,
    }, json={"name": "robot"})
    await check_matrix(client, "GET", "/api/v1/auth/api-keys", {
        p.anonymous: 401, p.officer: 200, p.other_officer: 200, p.committee: 200, p.bidder: 200, p.auditor: 200,
        p.admin: 200,
    })
    r = await client.post("/api/v1/auth/api-keys", headers=p.officer.headers, json={"name": ""})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name"
