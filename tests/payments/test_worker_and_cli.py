"""The payment jobs on a real arq worker; the ledger refuses changes; `marketplace payments reconcile`."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest
from arq.connections import create_pool
from arq.worker import Worker

from marketplace import worker as worker_mod
from marketplace.core import db, queue
from tests import factories, waiting
from tests.payments.helpers import deliver, run_jobs


@pytest.fixture
async def own_queue(settings):
    """An enqueue pool on a queue of this test's own, so no other process's worker takes our jobs."""
    name = f"test:{uuid.uuid4().hex}"
    pool = await create_pool(queue.redis_settings(settings.redis_url), default_queue_name=name)
    saved = queue.get_pool()
    queue.set_pool(pool)
    yield name, pool
    queue.set_pool(saved)
    await pool.delete(name)
    await pool.aclose()


async def _burst(settings, name: str) -> None:
    w = Worker(**worker_mod.worker_settings(settings, in_process=True, burst=True, queue_name=name, cron_jobs=[]))
    await asyncio.wait_for(w.async_run(), timeout=waiting.SECONDS)  # a hang detector, generous
    assert w.jobs_failed == 0
    await w.close()


async def test_the_worker_runs_the_payment_and_the_webhook_jobs(client, pay_settings, stripe_server, own_queue):
    name, pool = own_queue
    supplier = await factories.login(pay_settings, "supplier", "supplier_admin")
    fee = (await client.post("/api/v1/payments/registry-fee", json={}, headers=supplier.headers)).json()
    assert stripe_server.requests == []  # nothing left the request
    jobs = {j.function for j in await pool.queued_jobs(queue_name=name)}
    assert "payments_execute" in jobs
    await _burst(pay_settings, name)
    got = (await client.get(f"/api/v1/payments/{fee['id']}", headers=supplier.headers)).json()
    assert got["state"] == "pending" and stripe_server.created == {"payment_intent": 1}

    r = await deliver(client, pay_settings, stripe_server.intent_event(got["stripe_object_id"],
                                                                        "payment_intent.succeeded"))
    assert r.status_code == 200
    assert "payments_apply_event" in {j.function for j in await pool.queued_jobs(queue_name=name)}
    await _burst(pay_settings, name)
    got = (await client.get(f"/api/v1/payments/{fee['id']}", headers=supplier.headers)).json()
    assert got["state"] == "succeeded"


async def test_ledger_entries_cannot_be_changed_or_deleted(client, pay_settings, stripe_server):
    supplier = await factories.login(pay_settings, "supplier", "supplier_admin")
    fee = (await client.post("/api/v1/payments/registry-fee", json={}, headers=supplier.headers)).json()
    await run_jobs(pay_settings)
    intent = next(iter(stripe_server.objects))
    await deliver(client, pay_settings, stripe_server.intent_event(intent, "payment_intent.succeeded"))
    await run_jobs(pay_settings)
    assert len(await db.fetch("SELECT * FROM ledger_entry")) == 1
    for sql in ("UPDATE ledger_entry SET amount_cents = 1", "DELETE FROM ledger_entry"):
        with pytest.raises(asyncpg.RaiseError, match="immutable"):
            async with db.unit_of_work():
                await db.execute(sql)
    row = await db.fetchrow("SELECT amount_cents FROM ledger_entry")
    assert row["amount_cents"] == pay_settings.registry_fee_cents and fee["id"]


async def test_reconcile_command(client, pay_settings, stripe_server, tmp_path):
    supplier = await factories.login(pay_settings, "supplier", "supplier_admin")
    await client.post("/api/v1/payments/registry-fee", json={}, headers=supplier.headers)
    await run_jobs(pay_settings)
    created = stripe_server.events[0]["id"]
    env = {**os.environ, "DATABASE_URL": pay_settings.database_url, "STRIPE_SECRET_KEY": "sk_test_cli",
           "STRIPE_API_BASE": stripe_server.url, "DATA_DIR": str(tmp_path), "MODE": "development",
           "DB_POOL_MIN": "1", "DB_POOL_MAX": "2", "COLUMNS": "200"}

    async def run(*args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from marketplace.cli import main; main()", "payments", "reconcile", *args,
            env=env, cwd=Path(__file__).parents[2], stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
        return proc.returncode, out.decode()

    code, out = await run()
    assert code == 1 and created in out and "missing" in out, out
    code, out = await run("--apply")
    assert code == 0 and "1 event(s) stored and applied" in out, out
    code, out = await run()
    assert code == 0 and "Every Stripe event is applied" in out, out
