"""Outbox lag: from a write's commit to its tender being searchable, at a steady write rate.

    python -m bench outbox                    # 200 writes/s for 20 s
    python -m bench outbox --rate 400 --seconds 30

On the bench database (run `python -m bench generate` first; tenders in state tendering are needed), with a
private redis-server and a real worker process (`marketplace worker` + the no-op consumer of
bench/outbox_worker.py). Writers amend tenders at `--rate` transactions per second: each transaction
UPDATEs a tender and writes its `tender.amended` outbox row, and the after-commit kick asks the worker to
drain, as the tenders service does. A poller reads the consumers' cursors every 5 ms: the `search` cursor
moves in the same transaction as the PostgreSQL search backend's writes, so the moment it passes an event
is the moment that tender is searchable. Lag = that moment - the write's commit.

The ceiling, measured on the same events in the same run, is `bench.noop`: the same delivery path (kick,
arq, drain, cursor) with a handler that does nothing. Target (DESIGN.md): search p95 < 1 s at 200 writes/s.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import random
import shutil
import subprocess
import sys
import tempfile
import time

import asyncpg

from bench.common import ROOT, PrivateRedis, app_env, bench_url, ensure_database, pct
from marketplace.core import db, outbox, queue


async def run(args) -> dict:

    url = bench_url()
    await ensure_database(url)
    conn = await asyncpg.connect(url)
    # The tables this scenario churns, vacuumed as autovacuum would keep them: earlier runs leave thousands of
    # dead search documents and a long GIN pending list behind, and some servers (this machine's) run with
    # autovacuum off.
    await conn.execute("VACUUM (ANALYZE) search_tender, search_vocabulary, outbox, outbox_cursor, tender,"
                       " tender_lot, ocds_release, audit_event")
    tenders = [r["id"] for r in await conn.fetch(
        "SELECT id FROM tender WHERE state = 'tendering' ORDER BY id LIMIT 2000")]
    if not tenders:
        raise SystemExit("no tenders in state tendering: run `python -m bench generate` first")
    # Every consumer the worker runs starts from the end of the log: the run measures steady delivery, not a
    # catch-up on what earlier scenarios left behind (the rush writes thousands of bid events, no worker
    # draining them). The events skipped are the bench database's own; nothing reads their effects.
    from marketplace import worker as worker_mod

    worker_mod.gather()  # registers the consumers, as the worker process does
    names = [*outbox.consumers(), "bench.noop"]
    last = await conn.fetchrow(
        "SELECT o.txid::text AS txid, o.id FROM outbox o ORDER BY o.txid DESC, o.id DESC LIMIT 1")
    await conn.execute("DELETE FROM outbox_cursor WHERE consumer = ANY($1::text[])", names)
    if last is not None:
        await conn.executemany(
            "INSERT INTO outbox_cursor (consumer, last_txid, last_id) VALUES ($1, $2::text::xid8, $3)",
                               [(name, last["txid"], last["id"]) for name in names])

    work = tempfile.mkdtemp(prefix="ma-bench-outbox-")
    redis = PrivateRedis().start()
    env = app_env(url, redis.url, work)
    worker = subprocess.Popen([sys.executable, "-m", "bench.outbox_worker"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    await db.start(url, min_size=2, max_size=12)
    await queue.start(redis.url)
    commits: dict[int, float] = {}
    seen: dict[str, dict[int, float]] = {"search": {}, "bench.noop": {}}
    pending: dict[str, list[int]] = {"search": [], "bench.noop": []}  # heaps of ids not yet delivered
    done = asyncio.Event()
    try:
        await asyncio.sleep(3)  # the worker starts
        # ... and catches up on what earlier scenarios left it (the rush's audit events to chain): this run
        # measures steady delivery, not a catch-up
        caught_up = time.monotonic() + 120
        while time.monotonic() < caught_up and await conn.fetchval(
                "SELECT count(*) FROM audit_event WHERE seq IS NULL") > 100:
            await asyncio.sleep(0.5)

        async def poller() -> None:
            pc = await asyncpg.connect(url)
            try:
                while not done.is_set():
                    now = time.monotonic()
                    for r in await pc.fetch("SELECT consumer, last_id FROM outbox_cursor"
                                            " WHERE consumer IN ('search', 'bench.noop')"):
                        got, heap = seen[r["consumer"]], pending[r["consumer"]]
                        while heap and heap[0] <= r["last_id"]:
                            got[heapq.heappop(heap)] = now
                    await asyncio.sleep(0.005)
            finally:
                await pc.close()

        rng = random.Random(args.seed)
        total = int(args.rate * args.seconds)
        writers = 8  # async writers sharing the rate: a slow commit does not hold the schedule back
        t0 = time.monotonic() + 0.2

        async def writer(k: int) -> None:
            for i in range(k, total, writers):
                delay = t0 + i / args.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                tid = rng.choice(tenders)
                async with db.unit_of_work():
                    await db.execute("SELECT 1 FROM tender WHERE id = $1 FOR UPDATE", tid)
                    await db.execute("UPDATE tender SET description = $2, updated_at = now() WHERE id = $1",
                                     tid, f"Enmienda {i}")
                    row = await db.fetchrow(
                        "INSERT INTO outbox (topic, aggregate_type, aggregate_id, payload)"
                        " VALUES ('tender.amended', 'tender', $1, '{}'::jsonb) RETURNING id", str(tid))
                    db.after_commit(outbox._kick)
                commits[row["id"]] = time.monotonic()
                for heap in pending.values():
                    heapq.heappush(heap, row["id"])

        poll = asyncio.create_task(poller())
        started = time.monotonic()
        await asyncio.gather(*(writer(k) for k in range(writers)))
        achieved = total / (time.monotonic() - started)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(len(seen[c]) < len(commits) for c in seen):
            await asyncio.sleep(0.05)
        done.set()
        await poll
    finally:
        await queue.stop()
        await db.stop()
        worker.terminate()
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
        redis.stop()
        await conn.close()
        shutil.rmtree(work, ignore_errors=True)

    result = {"rate": args.rate, "achieved_rate": achieved, "writes": len(commits)}
    for name, got in seen.items():
        lags = [(got[e] - commits[e]) * 1000 for e in commits if e in got]
        result[name] = {"delivered": len(lags), "p50_ms": pct(lags, 50), "p95_ms": pct(lags, 95),
                        "p99_ms": pct(lags, 99), "max_ms": max(lags) if lags else float("nan")}
    result["ratio_p95"] = result["bench.noop"]["p95_ms"] / result["search"]["p95_ms"]
    return result


def report(r: dict) -> None:
    print(f"\noutbox lag, commit -> searchable: {r['writes']} writes at {r['achieved_rate']:.0f}/s "
          f"(asked {r['rate']}/s)")
    print(f"{'consumer':<24}{'delivered':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for name, label in (("search", "search (PostgreSQL)"), ("bench.noop", "no-op (ceiling)")):
        x = r[name]
        print(f"{label:<24}{x['delivered']:>10}{x['p50_ms']:>10.0f}{x['p95_ms']:>10.0f}{x['p99_ms']:>10.0f}"
              f"{x['max_ms']:>10.0f}")
    print(f"ratio p95 ceiling / search: {r['ratio_p95']:.2f}   target search p95 < 1000 ms: "
          f"{'met' if r['search']['p95_ms'] < 1000 else 'NOT met'}")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m bench outbox", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=float, default=200)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--seed", type=int, default=2026)
    args = p.parse_args(argv)
    r = asyncio.run(run(args))
    report(r)
    return r
