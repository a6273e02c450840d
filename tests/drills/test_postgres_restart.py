"""Drill: PostgreSQL restarted under a bid load. During the outage requests fail fast with 503 and a
Retry-After header (never a 500, never a hang), the app recovers by itself, and every bid that got a 201
(a signed receipt) is in the database afterwards.

Runs on a PRIVATE PostgreSQL server (initdb in a temp folder, bench.common.PrivatePostgres) and a private
redis-server: the machine's shared servers are never touched. The production app runs under granian;
16 suppliers keep bidding on a 60-lot tender; once a quarter of the bids are in, the server is stopped
(fast mode), and started again once the bidders have had OUTAGE_ANSWERS answers while it was down (answers
that do not come would be the hang this drill is about: the wait for them fails after a generous time).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections import Counter

import asyncpg
import httpx
import pytest

from bench.common import ROOT, PrivatePostgres, PrivateRedis, with_database
from bench.rush import create_tenders, make_parties
from tests.drills.helpers import env_for, server

pytestmark = pytest.mark.skipif(not os.path.exists(PrivatePostgres.BIN / "pg_ctl"),
                                reason="needs PostgreSQL's server binaries (PG_BIN) for a private server")

SUPPLIERS = 16
LOTS = 60
OUTAGE_ANSWERS = 32  # answers the bidders get while PostgreSQL is down, before it starts again
RECOVERY_SECONDS = 240  # generous: the bidders give up (and the drill fails) if the app has not recovered by then


async def test_postgres_restart_under_load_gives_503_and_keeps_every_acknowledged_bid(settings, tmp_path):
    pg = PrivatePostgres().init()
    redis = PrivateRedis().start()
    app = None
    try:
        admin = await asyncpg.connect(pg.url)
        await admin.execute("CREATE DATABASE drill")
        await admin.close()
        url = with_database(pg.url, "drill")
        env = env_for(settings, url, redis.url)
        subprocess.run([sys.executable, "-m", "marketplace.cli", "migrate"], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=300)
        conn = await asyncpg.connect(url)
        officer_token, tokens = await make_parties(conn, settings.keys, suppliers=SUPPLIERS, seed=1)
        app = server(env, log_path=str(tmp_path / "server.log"))
        tender = (await asyncio.to_thread(create_tenders, app.url, officer_token, count=1, lots=LOTS))[0]
        await conn.execute("UPDATE tender SET enquiry_end = now() - interval '1 minute'")
        await conn.close()

        results: list[tuple[float, int, str | None, str | None]] = []  # (time, status, Retry-After, bid id)
        todo = [(tok, lot["id"]) for tok in tokens for lot in tender["lots"]]
        stop_at = [float("inf")]
        quarter_in, answered_down = asyncio.Event(), asyncio.Event()
        down_since: list[float] = []  # set once the server is stopped, emptied when it starts again
        acknowledged_n = 0

        async def bidder(http: httpx.AsyncClient, mine: list[tuple[str, str]]) -> None:
            for tok, lot in mine:
                key = str(uuid.uuid4())  # the same key on every retry: an answer lost in the outage is replayed
                while time.monotonic() < stop_at[0]:
                    try:
                        r = await http.post(f"/api/v1/tenders/{tender['id']}/bids",
                                            json={"lots": [{"lot_id": lot, "price": {"amount": 100_000}}]},
                                            headers={"Authorization": f"Bearer {tok}", "Idempotency-Key": key})
                    except httpx.HTTPError as exc:  # the server itself must stay up
                        raise AssertionError(f"the app did not answer: {exc!r}") from exc
                    bid = r.json().get("bid_id") if r.status_code == 201 else None
                    results.append((time.monotonic(), r.status_code, r.headers.get("retry-after"), bid))
                    note(r.status_code)
                    if r.status_code == 201:
                        break
                    await asyncio.sleep(0.1)  # a client honouring Retry-After would wait longer

        def note(status: int) -> None:
            nonlocal acknowledged_n
            acknowledged_n += status == 201
            if acknowledged_n >= len(todo) // 4:  # in the thick of it
                quarter_in.set()
            if down_since and sum(1 for t, *_ in results if t > down_since[0]) >= OUTAGE_ANSWERS:
                answered_down.set()

        async def outage() -> tuple[float, float]:
            await quarter_in.wait()
            await asyncio.to_thread(pg.stop, "fast")
            down = time.monotonic()
            down_since.append(down)
            try:  # the requests meanwhile fail fast (or hang: then this fails)
                await asyncio.wait_for(answered_down.wait(), timeout=RECOVERY_SECONDS)
            except TimeoutError:
                raise AssertionError(f"fewer than {OUTAGE_ANSWERS} answers while PostgreSQL was down") from None
            up = time.monotonic()
            down_since.clear()
            await asyncio.to_thread(pg.start)
            stop_at[0] = time.monotonic() + RECOVERY_SECONDS
            return down, up

        async with httpx.AsyncClient(base_url=app.url, timeout=30) as http:
            per = [todo[i::SUPPLIERS] for i in range(SUPPLIERS)]
            *_, (down, up) = await asyncio.gather(*(bidder(http, mine) for mine in per), outage())

        statuses = Counter(s for _, s, _, _ in results)
        assert set(statuses) <= {201, 503}, f"{statuses}\n{_errors(tmp_path / 'server.log')}"  # no 500
        during = [(s, ra) for t, s, ra, _ in results if down < t < up]
        assert during and all(s == 503 and ra for s, ra in during if s != 201), during[:5]
        assert statuses[503] > 0
        acknowledged = {b for _, s, _, b in results if s == 201}
        assert any(t > up and s == 201 for t, s, _, _ in results)  # recovered by itself

        conn = await asyncpg.connect(url)
        stored = {str(r["id"]) for r in await conn.fetch("SELECT id FROM bid")}
        await conn.close()
        assert acknowledged <= stored, acknowledged - stored
        assert len(acknowledged) == len(todo)  # every supplier got every lot in eventually
    finally:
        if app is not None:
            app.stop()
        redis.stop()
        pg.destroy()


def _errors(log, keep: int = 60) -> str:
    """The server's logged internal errors (message and traceback), for the failure message."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    out: list[str] = []
    for i, line in enumerate(lines):
        if "internal error" in line:
            out.extend(lines[i:i + keep])
            break
    return "\n".join(out)
