"""Drill: the worker killed with SIGKILL while payment jobs are talking to Stripe: no payment lost, none
charged twice.

30 registry fees wait as 'requested'. A real worker process (on a private redis-server) runs their jobs
against the local Stripe server, which answers the first third of the PaymentIntent calls and holds every
later one in flight; once a call is held, the worker is killed with -9, and Redis is thrown away with it (a
new, empty redis-server: nothing that matters lived only there). The held calls are then answered (Stripe
did receive them: their PaymentIntents exist). A second worker's startup sweep finds
every payment still 'requested' and runs it again. At the end every payment has its PaymentIntent, and
Stripe created exactly one per payment: a call repeated after the kill carried the same Idempotency-Key
and got the first answer back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections import Counter

import pytest

from bench.common import PrivateRedis
from marketplace.core import db
from tests import factories
from tests.drills import helpers
from tests.stripe_server import StripeServer

FEES = 30


class GatedStripe(StripeServer):
    """Answers the first `answered` PaymentIntent calls; every later one waits in flight until `gate` is set,
    and `held` is set once one does: the kill finds calls done and in flight by construction."""

    def __init__(self, answered: int) -> None:
        super().__init__()
        self.answered, self.seen = answered, 0
        self.held, self.gate, self._count = threading.Event(), threading.Event(), threading.Lock()

    def dispatch(self, method, path, *args, **kw):
        if path == "/v1/payment_intents":
            with self._count:
                self.seen += 1
                hold = self.seen > self.answered
            if hold:
                self.held.set()
                self.gate.wait()
        return super().dispatch(method, path, *args, **kw)


@pytest.fixture
def slow_stripe():
    server = GatedStripe(answered=FEES // 3).start()
    yield server
    server.gate.set()
    server.stop()


def _worker(settings, redis_url: str, stripe_url: str) -> subprocess.Popen:
    return helpers.worker(helpers.env_for(
        settings, settings.database_url, redis_url, STRIPE_API_BASE=stripe_url,
        STRIPE_SECRET_KEY=settings.stripe_secret_key or "sk_test_drill",
        STRIPE_WEBHOOK_SECRET=settings.stripe_webhook_secret or "whsec_drill"))


async def test_worker_killed_during_payment_jobs_charges_each_payment_once(client, settings, slow_stripe):
    ids = []
    for _ in range(FEES):
        supplier = await factories.login(settings, "supplier", "supplier_admin")
        r = await client.post("/api/v1/payments/registry-fee", json={}, headers=supplier.headers)
        assert r.status_code in (200, 201, 202), r.text
        ids.append(r.json()["id"])
    # old enough for the sweeper (it leaves payments younger than 30 s to their own enqueue)
    async with db.unit_of_work():
        await db.execute("UPDATE payment SET created_at = created_at - interval '5 minutes'")

    async def _held() -> bool:
        return slow_stripe.held.is_set()

    redis = PrivateRedis().start()
    first = second = None
    try:
        first = _worker(settings, redis.url, slow_stripe.url)
        await helpers.wait_for(_held, 180, "a Stripe call past the first third to be in flight")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(60)
        redis.stop()
        states = Counter(r["state"] for r in await db.fetch("SELECT state FROM payment"))
        assert states["requested"] > 0, states  # the kill left work undone: at least the call in flight
        slow_stripe.gate.set()  # Stripe answers the held calls (to no one): their PaymentIntents exist

        redis = PrivateRedis().start()
        second = _worker(settings, redis.url, slow_stripe.url)

        async def all_done() -> bool:
            row = await db.fetchrow("SELECT count(*) FILTER (WHERE state = 'requested') AS n FROM payment")
            return row["n"] == 0

        await helpers.wait_for(all_done, 180, "every payment to be executed")
    finally:
        helpers.stop(first)
        helpers.stop(second)
        redis.stop()

    rows = await db.fetch("SELECT id::text AS id, state, stripe_object_id FROM payment")
    assert sorted(r["id"] for r in rows) == sorted(ids)
    assert all(r["state"] == "pending" and r["stripe_object_id"] for r in rows), rows
    assert len({r["stripe_object_id"] for r in rows}) == FEES
    assert slow_stripe.created.get("payment_intent") == FEES  # repeated calls were replays, not new charges
    replays = [r for r in slow_stripe.requests if r.path == "/v1/payment_intents" and r.replayed]
    keys = Counter(r.idempotency_key for r in slow_stripe.requests if r.path == "/v1/payment_intents")
    assert len(keys) == FEES and sum(keys.values()) == FEES + len(replays)
