"""Refresh tokens, rotated and revocable (issue 17, finding 7): a bidder in a long live auction keeps a
valid access token without signing in again; each refresh token works once; a spent one presented again
revokes its whole family; a disabled user, a sign-out everywhere and a change of roles stop refreshing."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import httpx
import pytest

from marketplace.core import db
from tests import factories

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def _sign_in(client, email: str) -> dict:
    r = await client.post("/api/v1/auth/token", json={"username": email, "password": factories.PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()


async def _refresh(client, token: str, lang: str = "en") -> httpx.Response:
    return await client.post("/api/v1/auth/token", json={"grant_type": "refresh_token", "refresh_token": token},
                             headers={"Accept-Language": lang})


def _bearer(body: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {body['access_token']}"}


def _refused(r: httpx.Response, rule: str) -> dict:
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert (body["field"], body["rule"]) == ("refresh_token", rule), body
    return body


async def test_sign_in_returns_a_refresh_token_stored_only_as_a_digest(client, settings):
    who = await factories.login(settings, "supplier", "bidder")
    body = await _sign_in(client, who.email)
    assert body["refresh_token"].startswith("mrt_") and len(body["refresh_token"]) > 40
    assert body["refresh_expires_in"] == settings.refresh_token_ttl_seconds
    rows = await db.fetch("SELECT token_hash, token_version, user_id FROM refresh_token")
    assert len(rows) == 1 and rows[0]["user_id"] == who.user_id
    assert body["refresh_token"] not in rows[0]["token_hash"]


async def test_refresh_rotates_and_the_new_access_token_works(client, settings, fixed_clock):
    who = await factories.login(settings, "supplier", "bidder")
    first = await _sign_in(client, who.email)
    # Hours into a live auction: the first access token has long expired, the refresh token has not.
    fixed_clock.advance(seconds=settings.jwt_ttl_seconds + 60)
    assert (await client.get("/api/v1/auth/me", headers=_bearer(first))).status_code == 401
    r = await _refresh(client, first["refresh_token"])
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"] and second["token_type"] == "bearer"
    assert (await client.get("/api/v1/auth/me", headers=_bearer(second))).status_code == 200
    # ...and the OAuth2 form (RFC 6749 section 6) does the same with the new one.
    r = await client.post("/api/v1/auth/token", content=urlencode(
        {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}), headers=FORM)
    assert r.status_code == 200, r.text
    assert len({(row["family_id"]) for row in await db.fetch("SELECT family_id FROM refresh_token")}) == 1


@pytest.mark.parametrize(("lang", "words"), [("es", "ya se usó"), ("en", "already used"), ("qu", "llamk'achisqa")])
async def test_a_spent_refresh_token_presented_again_revokes_the_whole_family(client, settings, lang, words):
    who = await factories.login(settings, "supplier", "bidder")
    stolen = (await _sign_in(client, who.email))["refresh_token"]
    owner = (await _refresh(client, stolen)).json()["refresh_token"]
    other_device = (await _sign_in(client, who.email))["refresh_token"]
    body = _refused(await _refresh(client, stolen, lang), "reused")  # the thief (or the owner's stale copy)
    assert words in body["detail"], body
    _refused(await _refresh(client, owner), "revoked")  # the family is gone: nobody goes on with it
    assert (await _refresh(client, other_device)).status_code == 200  # another sign-in's family is not touched
    audit = await db.fetch("SELECT action FROM audit_event WHERE entity_id = $1", str(who.user_id))
    assert "user.refresh_token_reused" in [a["action"] for a in audit]


async def test_two_concurrent_refreshes_with_one_token_give_exactly_one_success(client, settings):
    who = await factories.login(settings, "supplier", "bidder")
    token = (await _sign_in(client, who.email))["refresh_token"]
    answers = await asyncio.gather(*(_refresh(client, token) for _ in range(4)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [200, 401, 401, 401], [r.text for r in answers]
    for r in answers:
        if r.status_code == 401:
            assert r.json()["rule"] in {"reused", "revoked"}
    # One token was issued from it, whatever the interleaving: the UPDATE that spends it is conditional.
    assert (await db.fetchrow("SELECT count(*) AS n FROM refresh_token"))["n"] == 2


async def test_an_unknown_or_expired_refresh_token_is_refused(client, settings, fixed_clock):
    who = await factories.login(settings, "supplier", "bidder")
    _refused(await _refresh(client, "mrt_not-a-token"), "invalid")
    token = (await _sign_in(client, who.email))["refresh_token"]
    fixed_clock.advance(seconds=settings.refresh_token_ttl_seconds + 1)
    _refused(await _refresh(client, token), "expired")
    # A new sign-in clears the user's expired tokens (the table keeps only what can still be used).
    await _sign_in(client, who.email)
    assert (await db.fetchrow("SELECT count(*) AS n FROM refresh_token"))["n"] == 1


async def test_a_malformed_refresh_request_is_refused_naming_the_field(client):
    # Invalid input is a 422 here as on every endpoint (README "API"), naming the field and the rule.
    r = await client.post("/api/v1/auth/token", json={"grant_type": "refresh_token"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (r.json()["field"], r.json()["rule"]) == ("refresh_token", "required")
    r = await client.post("/api/v1/auth/token", content="grant_type=client_credentials", headers=FORM)
    assert r.status_code == 422, r.text
    assert r.json()["field"] in {"grant_type", "username"}, r.text
    assert (await db.fetchrow("SELECT count(*) AS n FROM refresh_token"))["n"] == 0


async def test_disabled_signed_out_or_new_roles_stop_refreshing(client, settings):
    admin = await factories.login(settings, "platform", "admin")
    who = await factories.login(settings, "agency", "officer")
    token = (await _sign_in(client, who.email))["refresh_token"]
    r = await client.put(f"/api/v1/admin/users/{who.user_id}/roles", json={"roles": ["committee"]},
                         headers=admin.headers)
    assert r.status_code == 200, r.text
    _refused(await _refresh(client, token), "stale")

    body = await _sign_in(client, who.email)
    assert (await client.post("/api/v1/auth/sign-out-everywhere", headers=_bearer(body))).status_code == 204
    _refused(await _refresh(client, body["refresh_token"]), "stale")

    token = (await _sign_in(client, who.email))["refresh_token"]
    r = await client.post(f"/api/v1/admin/users/{who.user_id}/disable", json={"reason": "x"}, headers=admin.headers)
    assert r.status_code == 200, r.text
    body = _refused(await _refresh(client, token, "es"), "inactive")
    assert "desactivada" in body["detail"]


async def test_revoke_signs_one_device_out(client, settings):
    who = await factories.login(settings, "supplier", "bidder")
    phone, laptop = (await _sign_in(client, who.email))["refresh_token"], (await _sign_in(client, who.email))[
        "refresh_token"]
    assert (await client.post("/api/v1/auth/revoke", json={"token": phone})).status_code == 200
    assert (await client.post("/api/v1/auth/revoke", json={"token": "mrt_unknown"})).status_code == 200
    _refused(await _refresh(client, phone), "revoked")
    assert (await _refresh(client, laptop)).status_code == 200


async def test_refreshes_are_rate_limited_per_address(client, settings):
    who = await factories.login(settings, "supplier", "bidder")
    limit = settings.security.rate_limit_refresh_per_ip
    answers = [await _refresh(client, f"mrt_guess{i}") for i in range(limit + 1)]
    assert [r.status_code for r in answers[:limit]] == [401] * limit
    r = answers[-1]
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert (r.json()["field"], r.json()["rule"]) == ("client", "refresh-ip")
    assert who
