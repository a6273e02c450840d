"""Login storm: `GET /health` latency while many clients fail to sign in (issue 17, finding 1).

    python -m bench.login_storm [--storm 12] [--seconds 10] [--workers 1] [--queue 32]

Starts the app under granian (one process) on a scratch database and a private Redis, measures /health
alone, then again while `--storm` clients send failed sign-ins (unknown emails) back to back. The per-address
sign-in limit is off here (every client is 127.0.0.1), so every attempt reaches Argon2: this measures the
hashing threads' effect on the event loop, not the rate limit. Prints p50/p99/max of /health in both phases
and the sign-in answers by status (401 checked, 503 refused at once by the full hashing queue).
The correctness of the same behaviour is tests/drills/test_login_storm.py (no timing there).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import tempfile
import time

import httpx

from bench.common import GranianServer, PrivateRedis, app_env, bench_url, ensure_database, pct, with_database


async def _health_probe(url: str, seconds: float) -> list[float]:
    out: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as c:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t = time.perf_counter()
            r = await c.get("/health")
            r.raise_for_status()
            out.append((time.perf_counter() - t) * 1000)
            await asyncio.sleep(0.02)  # a probe every 20 ms: the bench's sampling rate, not a synchronisation
    return out


async def _storm(url: str, clients: int, seconds: float) -> collections.Counter[int]:
    answers: collections.Counter[int] = collections.Counter()

    async def one(i: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as c:
            end = time.monotonic() + seconds
            n = 0
            while time.monotonic() < end:
                n += 1
                r = await c.post("/api/v1/auth/token", json={"username": f"nadie{i}-{n}@example.pe",
                                                             "password": "a guess 123456"})
                answers[r.status_code] += 1

    await asyncio.gather(*(one(i) for i in range(clients)))
    return answers


def _line(name: str, ms: list[float]) -> str:
    return (f"{name:<22} n={len(ms):<5} p50={pct(ms, 50):7.1f} ms  p99={pct(ms, 99):7.1f} ms  "
            f"max={max(ms):7.1f} ms")


async def _main(args: argparse.Namespace) -> None:
    url = with_database(bench_url(), "ma_bench_login_storm")
    await ensure_database(url, fresh=True)
    redis = PrivateRedis().start()
    server = GranianServer(app_env(url, redis.url, tempfile.mkdtemp(prefix="ma-bench-"),
                                   RATE_LIMIT_SIGNIN_PER_IP="0", RATE_LIMIT_SIGNIN_PER_ACCOUNT="0",
                                   PASSWORD_HASH_WORKERS=str(args.workers), PASSWORD_HASH_QUEUE=str(args.queue)),
                           app="marketplace.app:create_app")
    try:
        server.start()
        quiet = await _health_probe(server.url, args.seconds / 2)
        probe = asyncio.ensure_future(_health_probe(server.url, args.seconds))
        answers = await _storm(server.url, args.storm, args.seconds)
        loud = await probe
        print(f"login storm: {args.storm} clients for {args.seconds:g} s, PASSWORD_HASH_WORKERS={args.workers}, "
              f"PASSWORD_HASH_QUEUE={args.queue}")
        print(_line("/health, no storm", quiet))
        print(_line("/health, during storm", loud))
        print("sign-in answers:", dict(sorted(answers.items())))
    finally:
        server.stop()
        redis.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.login_storm", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--storm", type=int, default=12, help="concurrent clients failing to sign in")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=1, help="PASSWORD_HASH_WORKERS")
    parser.add_argument("--queue", type=int, default=32, help="PASSWORD_HASH_QUEUE")
    asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
