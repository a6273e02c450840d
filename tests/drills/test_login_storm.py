"""Drill: a storm of failed sign-ins (unknown emails, many client addresses) while bids arrive (issue 17, 1).

Argon2 runs on the hashing threads, never on the event loop. The drill holds every hashing thread inside a
verification (the `held()` seam: no sleeps, no timing) and shows that meanwhile the loop serves `GET /health`
and accepts a sealed bid, that the queue beyond the threads is bounded (the next sign-in is refused at once
with 503 and Retry-After), and that every held sign-in is answered 401 once the threads go on. Were the hash
checked on the loop, the held thread would be the loop and nothing below the `busy` wait would run.
Timing figures (p50/p99 of /health and bids during a real storm) are in bench/login_storm.py.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from marketplace.core.auth import passwords
from tests.tenders import factories as tf

WAIT = 60  # seconds: generous; a timeout here is a failure, never a skip


@pytest.fixture
def small_hasher():
    """Two hashing threads and a queue of three for this drill (the app's own sizes come back after)."""
    before = passwords.hasher()
    yield passwords.configure(2, 3)
    passwords.configure(before.workers, before.queue)


def _from(client: httpx.AsyncClient, ip: str) -> httpx.AsyncClient:
    """A client on the same app whose requests come from `ip` (a storm comes from many addresses)."""
    app = client._transport.app  # type: ignore[attr-defined]  # the conftest's per-request ASGI wrapper
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 40000)),
                             base_url="http://testserver.local")


async def _sign_in(client: httpx.AsyncClient, ip: str, email: str) -> httpx.Response:
    async with _from(client, ip) as c:
        return await c.post("/api/v1/auth/token", json={"username": email, "password": "a guess 123456"})


async def test_failed_sign_in_storm_leaves_health_and_bids_served(client, settings, fixed_clock, small_hasher):
    officer = await tf.officer(settings)
    supplier = await tf.supplier(settings)
    tender = await tf.published(client, officer)
    tf.to_tendering(fixed_clock, tender)
    hasher = small_hasher
    storm: list[asyncio.Task[httpx.Response]] = []
    try:
        with hasher.held() as hold:
            for i in range(hasher.workers + hasher.queue):
                storm.append(asyncio.create_task(_sign_in(client, f"203.0.113.{i + 1}", f"nadie{i}@example.pe")))
            await asyncio.wait_for(hold.busy.wait(), WAIT)  # every hashing thread is inside a verification
            await asyncio.wait_for(hold.full.wait(), WAIT)  # and every queue place is taken

            health = await client.get("/health")
            assert health.status_code == 200, health.text
            await tf.bid(client, supplier, tender, prices=[120_000_00])  # 201, stored (asserted there)

            refused = await _sign_in(client, "198.51.100.7", "otro@example.pe")
            assert refused.status_code == 503, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert refused.headers["retry-after"] == "1"
            assert refused.json()["type"].endswith("/password-hashing-busy")
            assert not any(t.done() for t in storm)  # the held sign-ins still wait for their threads
        answers = await asyncio.wait_for(asyncio.gather(*storm), WAIT)
    finally:
        await asyncio.gather(*storm, return_exceptions=True)
    assert [a.status_code for a in answers] == [401] * len(storm)
    assert all(a.json()["rule"] == "credentials" for a in answers)
    assert hasher.in_flight == 0


async def test_hashing_refusal_speaks_the_callers_language(client, small_hasher):
    hasher = small_hasher
    storm: list[asyncio.Task[httpx.Response]] = []
    try:
        with hasher.held() as hold:
            for i in range(hasher.workers + hasher.queue):
                storm.append(asyncio.create_task(_sign_in(client, f"203.0.113.{i + 1}", f"nadie{i}@example.pe")))
            await asyncio.wait_for(hold.full.wait(), WAIT)
            details = {}
            for lang in ("es", "en"):
                async with _from(client, "198.51.100.8") as c:
                    r = await c.post("/api/v1/auth/token", headers={"Accept-Language": lang},
                                     json={"username": "x@example.pe", "password": "a guess 123456"})
                assert r.status_code == 503 and r.headers["content-language"].startswith(lang)
                details[lang] = r.json()["detail"]
    finally:
        await asyncio.gather(*storm, return_exceptions=True)
    assert "retry" in details["en"].lower()
    assert "inténtelo" in details["es"].lower() or "vuelva" in details["es"].lower()
