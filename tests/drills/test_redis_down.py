"""Drill: Redis goes away. Writes are still accepted (nothing that must not be lost lives only in Redis),
and once Redis is back the worker catches up: every tender published during the outage becomes searchable.

The production app (granian) and a worker run as processes on the test database and on a private
redis-server, which is killed with -9 and later started again on the same port, empty.
"""

from __future__ import annotations

import httpx

from bench.common import PrivateRedis
from marketplace.core import db
from tests.drills.helpers import env_for, server, stop, wait_for, worker
from tests.tenders import factories as tf

TENDERS = 8


async def test_writes_go_on_without_redis_and_the_outbox_catches_up(client, settings, tmp_path):
    officer = await tf.officer(settings)
    redis = PrivateRedis().start()
    env = env_for(settings, settings.database_url, redis.url)
    app = server(env, log_path=str(tmp_path / "server.log"))
    w = worker(env)
    published: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=app.url, headers=officer.headers, timeout=30) as http:
            redis.proc.kill()  # Redis dies, hard
            redis.proc.wait()
            ready = await http.get("/ready")
            assert ready.status_code == 503, ready.text

            for i in range(TENDERS):
                r = await http.post("/api/v1/tenders", json=tf.draft_payload(title=f"Compra durante el corte {i}"))
                assert r.status_code == 201, r.text
                r = await http.post(f"/api/v1/tenders/{r.json()['id']}/publish")
                assert r.status_code == 200, r.text
                published.append(r.json()["id"])

            # Accepted and kept: each publication's event waits in the outbox (nothing could be kicked, and
            # the worker has no Redis to run on).
            waiting_events = await db.fetchrow(
                "SELECT count(DISTINCT aggregate_id) AS n FROM outbox WHERE topic = 'tender.published'"
                " AND aggregate_id = ANY($1::text[])", published)
            assert waiting_events["n"] == TENDERS

            redis.stop()  # (its folder)
            redis = PrivateRedis(port=redis.port).start()  # back, empty, on the same address
            if w.poll() is not None:  # a worker that lost Redis may have exited: the supervisor restarts it
                w = worker(env)

            async def searchable() -> bool:
                row = await db.fetchrow("SELECT count(*) AS n FROM search_tender WHERE id = ANY($1::text[])",
                                        published)
                return row["n"] == TENDERS

            await wait_for(searchable, 240, "the tenders published during the outage to be searchable")
            assert (await http.get("/ready")).status_code == 200
            found = await http.get("/api/v1/tenders", params={"q": "corte"})
            assert found.status_code == 200
    finally:
        stop(w)
        app.stop()
        redis.stop()
