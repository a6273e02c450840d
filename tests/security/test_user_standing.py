"""Issue 17, finding 7: bearer tokens are checked against their user on each request (disabled, signed out
everywhere, roles changed), admins manage a user's standing, and the audit API does not tell who bid before
the opening, whoever asks."""

from __future__ import annotations

import pytest

from marketplace.core import db
from marketplace.core.auth import user_state
from tests import factories
from tests.tenders import factories as tf


async def _sign_in(client, email: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/token", json={"username": email, "password": factories.PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _refused(r, rule: str) -> dict:
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert (body["field"], body["rule"]) == ("header.authorization", rule), body
    return body


async def _admin(settings):
    return await factories.login(settings, "platform", "admin")


@pytest.mark.parametrize(("lang", "words"), [("es", "desactivada"), ("en", "disabled")])
async def test_a_disabled_user_loses_access_at_once(client, settings, lang, words):
    admin = await _admin(settings)
    who = await factories.login(settings, "supplier", "bidder")
    token = await _sign_in(client, who.email)
    r = await client.post("/api/v1/auth/api-keys", json={"name": "erp"}, headers=token)
    key = {"X-API-Key": r.json()["key"]}
    assert (await client.get("/api/v1/auth/me", headers=token)).status_code == 200

    r = await client.post(f"/api/v1/admin/users/{who.user_id}/disable", json={"reason": "fraude"},
                          headers=admin.headers)
    assert r.status_code == 200 and r.json()["active"] is False, r.text
    body = _refused(await client.get("/api/v1/auth/me", headers={**token, "Accept-Language": lang}), "inactive")
    assert words in body["detail"]
    assert (await client.get("/api/v1/auth/me", headers=key)).status_code == 401
    assert (await client.post("/api/v1/auth/token", json={"username": who.email, "password": factories.PASSWORD}
                              )).status_code == 401
    audit = await db.fetch("SELECT action, data FROM audit_event WHERE entity_id = $1", str(who.user_id))
    assert [a["action"] for a in audit if a["action"].startswith("user.dis")] == ["user.disabled"]

    r = await client.post(f"/api/v1/admin/users/{who.user_id}/enable", headers=admin.headers)
    assert r.status_code == 200 and r.json()["active"] is True
    _refused(await client.get("/api/v1/auth/me", headers=token), "revoked")  # a token of before stays refused
    assert (await client.get("/api/v1/auth/me", headers=await _sign_in(client, who.email))).status_code == 200


@pytest.mark.parametrize(("lang", "words"), [("es", "revocado"), ("en", "revoked")])
async def test_sign_out_everywhere_refuses_every_token_issued_before(client, settings, lang, words):
    who = await factories.login(settings, "agency", "officer")
    phone, laptop = await _sign_in(client, who.email), await _sign_in(client, who.email)
    assert (await client.post("/api/v1/auth/sign-out-everywhere", headers=phone)).status_code == 204
    for token in (phone, laptop):
        body = _refused(await client.get("/api/v1/auth/me", headers={**token, "Accept-Language": lang}), "revoked")
        assert words in body["detail"]
    assert (await client.get("/api/v1/auth/me", headers=await _sign_in(client, who.email))).status_code == 200


async def test_an_admin_changes_roles_and_the_new_roles_apply_from_the_next_sign_in(client, settings):
    admin = await _admin(settings)
    who = await factories.login(settings, "agency", "officer")
    old = await _sign_in(client, who.email)
    r = await client.put(f"/api/v1/admin/users/{who.user_id}/roles", json={"roles": ["committee", "committee"]},
                         headers=admin.headers)
    assert r.status_code == 200 and r.json()["roles"] == ["committee"], r.text
    _refused(await client.get("/api/v1/auth/me", headers=old), "revoked")
    me = await client.get("/api/v1/auth/me", headers=await _sign_in(client, who.email))
    assert me.json()["user"]["roles"] == ["committee"]
    r = await client.put(f"/api/v1/admin/users/{who.user_id}/roles", json={"roles": ["bidder"]},
                         headers=admin.headers)
    assert r.status_code == 422 and r.json()["field"] == "roles"


async def test_who_may_manage_a_user(client, settings):
    admin = await _admin(settings)
    supplier_admin = await factories.login(settings, "supplier", "supplier_admin")
    colleague = await factories.login(settings, "supplier", "bidder", org_id=supplier_admin.org_id)
    outsider = await factories.login(settings, "agency", "agency_admin")
    url = f"/api/v1/admin/users/{colleague.user_id}"
    assert (await client.post(f"{url}/disable")).status_code == 401
    assert (await client.post(f"{url}/disable", headers=outsider.headers)).status_code == 404
    r = await client.post(f"/api/v1/admin/users/{supplier_admin.user_id}/sign-out-everywhere",
                          headers=colleague.headers)
    assert r.status_code == 403
    assert (await client.post(f"{url}/sign-out-everywhere", headers=supplier_admin.headers)).status_code == 204
    assert (await client.post(f"{url}/disable", headers=supplier_admin.headers)).status_code == 200
    r = await client.post(f"/api/v1/admin/users/{admin.user_id}/disable", headers=admin.headers)
    assert r.status_code == 409 and r.json()["rule"] == "self"
    assert (await client.post("/api/v1/admin/users/00000000-0000-0000-0000-000000000000/disable",
                              headers=admin.headers)).status_code == 404


async def test_a_users_state_is_read_once_then_kept_until_it_changes(client, settings):
    """Within AUTH_RECHECK_SECONDS the state is not read again (no round trip per request, the bids' path);
    a change through the service is seen at once in this process."""
    assert settings.security.auth_recheck_seconds >= 5
    who = await factories.login(settings, "supplier", "bidder")
    token = await _sign_in(client, who.email)
    assert (await client.get("/api/v1/auth/me", headers=token)).status_code == 200
    async with db.unit_of_work():  # as another process would (its own cache is not ours)
        await db.execute("UPDATE app_user SET token_version = token_version + 1 WHERE id = $1", who.user_id)
    assert (await client.get("/api/v1/auth/me", headers=token)).status_code == 200  # kept, not read again
    user_state.forget(who.user_id)  # what the change's own process does once it commits
    _refused(await client.get("/api/v1/auth/me", headers=token), "revoked")


# --- the audit API before the opening -------------------------------------------------------------------

async def test_bid_events_are_redacted_for_everyone_until_the_opening(client, settings, fixed_clock):
    from tests.harness import personas

    p = await personas(settings)
    officer = await tf.officer(settings)
    supplier = await tf.supplier(settings)
    tender = await tf.published(client, officer)
    tf.to_tendering(fixed_clock, tender)
    receipt = await tf.bid(client, supplier, tender, prices=[120_000_00])
    query = {"entity_type": "bid", "entity_id": receipt["bid_id"]}
    await p.refresh(settings)  # tokens after the clock moved
    for who in (p.auditor, p.admin):
        r = await client.get("/api/v1/audit/events", params=query, headers=who.headers)
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert items and all(e["redacted"] for e in items)
        assert all(e["actor_org_id"] is None and e["actor_user_id"] is None and e["data"] == {} for e in items)
        assert str(supplier.org_id) not in r.text and str(supplier.user_id) not in r.text
    await tf.opened(client, fixed_clock, officer, tender)
    await p.refresh(settings)
    r = await client.get("/api/v1/audit/events", params=query, headers=p.auditor.headers)
    items = r.json()["items"]
    assert items and not any(e["redacted"] for e in items)
    assert items[0]["actor_org_id"] == str(supplier.org_id) and items[0]["data"]["tender_id"] == tender["id"]
