"""Rate limits on sign-in and registration (issue 17, finding 1): 429 problem+json with Retry-After, per
client address and per account, counted in Redis. The test settings (tests/conftest.py) allow 20 sign-ins
per address and 5 failed sign-ins per account in a window; every test starts with no counts."""

from __future__ import annotations

import asyncio

import httpx

from marketplace.core import ratelimit
from tests import factories
from tests.suppliers.test_registry import registration


def _from(client: httpx.AsyncClient, ip: str) -> httpx.AsyncClient:
    app = client._transport.app  # type: ignore[attr-defined]  # the conftest's per-request ASGI wrapper
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 40000)),
                             base_url="http://testserver.local")


async def _sign_in(client, ip: str, email: str, password: str = "a guess 123456", lang: str = "es"):
    async with _from(client, ip) as c:
        return await c.post("/api/v1/auth/token", json={"username": email, "password": password},
                            headers={"Accept-Language": lang})


def _too_many(r: httpx.Response, *, field: str, rule: str, window: int) -> dict:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(r.headers["retry-after"]) <= window
    body = r.json()
    assert (body["field"], body["rule"]) == (field, rule), body
    assert body["type"].endswith("/too-many-requests")
    return body


async def test_sign_ins_from_one_address_are_limited(client, settings):
    limits = settings.security
    answers = await asyncio.gather(*(_sign_in(client, "203.0.113.9", f"nadie{i}@example.pe")
                                     for i in range(limits.rate_limit_signin_per_ip)))
    assert [a.status_code for a in answers] == [401] * limits.rate_limit_signin_per_ip
    es = _too_many(await _sign_in(client, "203.0.113.9", "otro@example.pe"), field="client", rule="signin-ip",
                   window=limits.rate_limit_window_seconds)
    assert "Demasiados intentos" in es["detail"]
    en = _too_many(await _sign_in(client, "203.0.113.9", "otro@example.pe", lang="en"), field="client",
                   rule="signin-ip", window=limits.rate_limit_window_seconds)
    assert en["detail"].startswith("Too many attempts; try again in")
    # another address is not held back by this one
    assert (await _sign_in(client, "203.0.113.10", "otro@example.pe")).status_code == 401


async def test_failed_sign_ins_to_one_account_are_limited_whatever_the_address(client, settings):
    limits = settings.security
    who = await factories.login(settings, "supplier", "bidder")
    other = await factories.login(settings, "supplier", "bidder")
    for i in range(limits.rate_limit_signin_per_account):
        assert (await _sign_in(client, f"198.51.100.{i + 1}", who.email.upper())).status_code == 401
    # the account is held for the window, even with its right password, from a new address
    _too_many(await _sign_in(client, "198.51.100.200", who.email, factories.PASSWORD), field="username",
              rule="signin-account", window=limits.rate_limit_window_seconds)
    # another account signs in as usual
    assert (await _sign_in(client, "198.51.100.200", other.email, factories.PASSWORD)).status_code == 200


async def test_failures_do_not_lock_an_account_out_of_an_address_it_signed_in_from(client, settings):
    """Anyone can fail with a competitor's email on purpose; that must not keep the competitor from signing in
    (and bidding) from where they always do, just before a deadline."""
    who = await factories.login(settings, "supplier", "bidder")
    assert (await _sign_in(client, "192.0.2.77", who.email, factories.PASSWORD)).status_code == 200
    for i in range(settings.security.rate_limit_signin_per_account + 2):
        assert (await _sign_in(client, f"198.51.100.{i + 1}", who.email)).status_code in (401, 429)
    assert (await _sign_in(client, "198.51.100.250", who.email, factories.PASSWORD)).status_code == 429
    assert (await _sign_in(client, "192.0.2.77", who.email, factories.PASSWORD)).status_code == 200


async def test_a_successful_sign_in_is_not_counted_against_the_account(client, settings):
    who = await factories.login(settings, "agency", "officer")
    for i in range(settings.security.rate_limit_signin_per_account + 1):
        r = await _sign_in(client, f"192.0.2.{i + 1}", who.email, factories.PASSWORD)
        assert r.status_code == 200, r.text


async def test_registrations_from_one_address_are_limited(client, settings):
    limits = settings.security
    async with _from(client, "203.0.113.77") as c:
        for i in range(limits.rate_limit_register_per_ip):
            body = registration(ruc=factories.make_ruc("20"))
            body["admin"]["email"] = f"alta{i}@example.pe"
            r = await c.post("/api/v1/suppliers", json=body)
            assert r.status_code < 300, r.text
        r = await c.post("/api/v1/suppliers", json=registration(ruc=factories.make_ruc("20")),
                         headers={"Accept-Language": "en"})
    _too_many(r, field="client", rule="register-ip", window=limits.rate_limit_window_seconds)


async def test_forwarded_addresses_count_only_behind_trusted_proxies(client, settings):
    """Without TRUSTED_PROXY_HOPS a client cannot pick its address with X-Forwarded-For."""
    assert settings.security.trusted_proxy_hops == 0
    for i in range(settings.security.rate_limit_signin_per_ip):
        async with _from(client, "203.0.113.50") as c:
            await c.post("/api/v1/auth/token", json={"username": f"n{i}@example.pe", "password": "x"},
                         headers={"X-Forwarded-For": f"10.0.0.{i}"})
    async with _from(client, "203.0.113.50") as c:
        r = await c.post("/api/v1/auth/token", json={"username": "z@example.pe", "password": "x"},
                         headers={"X-Forwarded-For": "10.9.9.9"})
    assert r.status_code == 429, r.text


def test_client_address_behind_trusted_proxies():
    from litestar.connection import ASGIConnection

    from marketplace.core.auth.service import client_address

    def conn(xff: str | None) -> ASGIConnection:
        headers = [(b"x-forwarded-for", xff.encode())] if xff else []
        return ASGIConnection({"type": "http", "headers": headers, "client": ("10.0.0.1", 1)})  # type: ignore[arg-type]

    assert client_address(conn("1.1.1.1, 2.2.2.2"), 0) == "10.0.0.1"
    assert client_address(conn("forged, 1.1.1.1, 2.2.2.2"), 1) == "2.2.2.2"
    assert client_address(conn("forged, 1.1.1.1, 2.2.2.2"), 2) == "1.1.1.1"
    assert client_address(conn(None), 1) == "10.0.0.1"


async def test_account_subject_hides_the_email():
    assert "example" not in ratelimit.account_subject("Ana@Example.pe")
    assert ratelimit.account_subject("Ana@Example.pe") == ratelimit.account_subject(" ana@example.pe")
