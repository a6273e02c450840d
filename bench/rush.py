"""Deadline rush: sealed bids over HTTP to a live granian server in the final seconds before a deadline.

    python -m bench rush                        # 64 connections, 10 s per phase
    python -m bench rush --connections 64 --seconds 10 --profile

Phases, one server process (`granian --interface asgi`, the production app with auth on, plus the
bench-only ceiling route of bench/app.py), load from `wrk` (a separate C process, bench/rush.lua):

1. warm-up, then the ceiling: `POST /bench/insert`, one asyncpg INSERT per request, for `--seconds`;
2. the rush: suppliers (each with its own JWT) POST sealed bids to /api/v1/tenders/{id}/bids on tenders
   whose submission deadline falls `--seconds` + 1 s after the rush starts; every bid is a distinct
   (supplier, lot), so each should be a 201;
3. after the deadline: more bids must be refused (409 deadline-passed) and nothing stored late.

Reports bids/s, p50/p99, the ceiling's req/s and the ratio; checks that every 201 is stored (and every
ceiling 201 too); bids per second of the rush from `received_at` (the last seconds must not drop); the
peak RSS of the server's processes. With `--profile`, py-spy samples the app worker during a second rush
and the hottest frames are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import psutil
from stdnum.pe import ruc as ruc_mod

from bench.app import CEILING_TABLE
from bench.common import GranianServer, PrivateRedis, app_env, bench_url, ensure_database
from marketplace.core.auth import tokens
from marketplace.settings import Keys

HERE = Path(__file__).resolve().parent
REGION_UBIGEOS = ["010101", "020101", "030101", "040101", "050101", "060101", "070101", "080101", "090101",
                  "100101", "110101", "120101", "130101", "140101", "150101", "160101", "170101", "180101",
                  "190101", "200101", "210101", "220101", "230101", "240101", "250101"]


def _ruc(body: int, prefix: str = "20") -> str:
    b = f"{prefix}{body:08d}"
    return b + ruc_mod.calc_check_digit(b)


async def make_parties(conn: asyncpg.Connection, keys, *, suppliers: int, seed: int):
    """An agency with an officer, and `suppliers` active suppliers each with a bidder; tokens for them."""

    base = random.SystemRandom().randrange(10_000_000, 89_000_000)  # RUCs unique per run (unique column)
    ttl = 6 * 3600
    agency = uuid.uuid4()
    officer = uuid.uuid4()
    await conn.execute("INSERT INTO organisation (id, kind, ruc, name, ubigeo) VALUES ($1, 'agency', $2, $3,"
                       " '150101')", agency, _ruc(base - 1), f"Entidad bench {base}")
    await conn.execute("INSERT INTO app_user (id, organisation_id, email, password_hash, roles) VALUES"
                       " ($1, $2, $3, 'x', '{officer}')", officer, agency, f"officer-{officer}@bench.pe")
    orgs, users, sups = [], [], []
    for i in range(suppliers):
        org, user, ruc = uuid.uuid4(), uuid.uuid4(), _ruc(base + i)
        ubigeo = REGION_UBIGEOS[i % len(REGION_UBIGEOS)]
        orgs.append((org, "supplier", ruc, f"Proveedor bench {ruc}", ubigeo))
        users.append((user, org, f"bidder-{user}@bench.pe", "x", ["bidder"]))
        sups.append((org, ruc, f"Proveedor bench {ruc}", ubigeo, "company", i % 3 == 0, "active"))
    await conn.copy_records_to_table("organisation", records=orgs, columns=["id", "kind", "ruc", "name", "ubigeo"])
    await conn.copy_records_to_table("app_user", records=users,
                                     columns=["id", "organisation_id", "email", "password_hash", "roles"])
    await conn.copy_records_to_table("supplier", records=sups, columns=[
        "organisation_id", "ruc", "legal_name", "ubigeo", "person_type", "mype", "status"])
    officer_token, _ = tokens.issue(secret=keys.jwt_secret, ttl_seconds=ttl, user_id=officer, org_id=agency,
                                    org_kind="agency", roles=["officer"])
    bidder_tokens = [tokens.issue(secret=keys.jwt_secret, ttl_seconds=ttl, user_id=u[0], org_id=u[1],
                                  org_kind="supplier", roles=["bidder"])[0] for u in users]
    return officer_token, bidder_tokens


def create_tenders(url: str, officer_token: str, *, count: int, lots: int) -> list[dict]:
    """Published tenders made over HTTP (the real path: a data key is wrapped for each)."""
    now = datetime.now(UTC)
    out = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {officer_token}"}, timeout=60) as http:
        for k in range(count):
            body = {
                "title": f"Adquisición bench {k}", "description": "Rush de ofertas al cierre.",
                "method": "simplified_award", "category": "goods",
                "enquiry_end": (now + timedelta(days=4)).isoformat(),
                "submission_deadline": (now + timedelta(days=10)).isoformat(),
                "opening_time": (now + timedelta(days=10, hours=1)).isoformat(),
                "lots": [{"title": f"Lote {i + 1}", "estimated_value": {"amount": 100_000_00},
                          "classification_scheme": "UNSPSC", "classification_code": "30111601", "quantity": "100",
                          "unit": "bolsa",
                          "delivery_ubigeo": REGION_UBIGEOS[(k + i) % 25]} for i in range(lots)],
            }
            r = http.post("/api/v1/tenders", json=body)
            assert r.status_code == 201, r.text
            t = r.json()
            r = http.post(f"/api/v1/tenders/{t['id']}/publish")
            assert r.status_code == 200, r.text
            out.append(r.json())
    return out


def bid_lines(tenders: list[dict], tokens: list[str], seed: int) -> list[str]:
    """Every (supplier, lot) pair once, shuffled: one bid line each, with its own Idempotency-Key as a real
    client sends (DESIGN: on every POST that creates bids)."""
    rng = random.Random(seed)
    pairs = [(t["id"], lot["id"], tok) for t in tenders for lot in t["lots"] for tok in tokens]
    rng.shuffle(pairs)
    return [f"/api/v1/tenders/{tid}/bids\t{tok}\t" +
            json.dumps({"lots": [{"lot_id": lid, "price": {"amount": rng.randrange(50_000_00, 150_000_00)}}]}) +
            f"\trush-{seed}-{i}"
            for i, (tid, lid, tok) in enumerate(pairs)]


def wrk(url: str, lines: list[str], *, seconds: float, connections: int, threads: int = 2) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as f:
        f.write("\n".join(lines) + "\n")
    try:
        out = subprocess.run(
            ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
             "-s", str(HERE / "rush.lua"), url, "--", str(threads)],
            env={**os.environ, "BENCH_LINES": f.name}, capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(f.name)
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    r = json.loads(line[6:])
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["created_per_s"] = r["created"] / (r["duration_us"] / 1e6)
    return r


class RssSampler(threading.Thread):
    def __init__(self, server: GranianServer) -> None:
        super().__init__(daemon=True)
        self.server, self.peak, self.stop_flag = server, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop_flag.is_set():
            self.peak = max(self.peak, self.server.rss_mb())
            time.sleep(0.25)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_flag.set()
        self.join()


def io_stalled_s() -> float | None:
    """Seconds during which every task waiting on I/O was stalled ("full" line of /proc/pressure/io, Linux
    4.20+), since boot; None where the kernel does not tell."""
    try:
        with open("/proc/pressure/io") as f:
            for line in f:
                if line.startswith("full"):
                    return int(line.rsplit("total=", 1)[1]) / 1e6
    except (OSError, ValueError, IndexError):
        pass
    return None


class CpuMeter:
    """CPU seconds spent during a phase by the app server's processes, by PostgreSQL's, and by the whole
    machine (busy time of both cores): where a request's cost lies, app or database. Also how long the
    disk stalled everything waiting on it: a commit waits for its WAL to reach the disk, so a stall there
    is a stall of every write (on this machine, stalls of 0.1-0.5 s came and went)."""

    def __init__(self, server: GranianServer) -> None:
        self.server = server
        self.app = self.pg = self.busy = self.wall = 0.0
        self.io_stall: float | None = None

    def _read(self) -> tuple[float, float, float, float]:

        def cpu(procs) -> float:
            total = 0.0
            for p in procs:
                try:
                    t = p.cpu_times()
                    total += t.user + t.system
                except psutil.NoSuchProcess:
                    pass
            return total

        app = cpu(psutil.Process(pid) for pid in self.server.pids())
        pg = cpu(p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres")
        m = psutil.cpu_times()
        return app, pg, m.user + m.system + m.nice + getattr(m, "softirq", 0) + getattr(m, "irq", 0), time.monotonic()

    def __enter__(self):
        self._start = self._read()
        self._io = io_stalled_s()
        return self

    def __exit__(self, *exc) -> None:
        end = self._read()
        self.app, self.pg, self.busy, self.wall = (b - a for a, b in zip(self._start, end, strict=False))
        io = io_stalled_s()
        self.io_stall = io - self._io if io is not None and self._io is not None else None

    def per_request(self, n: int) -> dict[str, float | None]:
        """CPU ms per request (n requests), how busy the machine's cores were, and the disk's stall (ms)."""
        n = max(n, 1)
        return {"app_ms": self.app * 1e3 / n, "pg_ms": self.pg * 1e3 / n, "all_ms": self.busy * 1e3 / n,
                "busy": self.busy / (self.wall * (os.cpu_count() or 1)),
                "io_stall_ms": None if self.io_stall is None else self.io_stall * 1e3}


async def checkpoint(conn: asyncpg.Connection) -> None:
    """Each measured phase starts right after a CHECKPOINT, so both meet the same worst case: every page
    first written after it costs a full-page image in the WAL. Without this a checkpoint falls into one phase
    or the other by chance, and moves the ratio by a third."""
    try:
        await conn.execute("CHECKPOINT")
    except asyncpg.InsufficientPrivilegeError:
        print("  (no CHECKPOINT before the phase: the bench role may not run it; figures vary more)")


class WalMeter:
    """PostgreSQL's write-ahead log written during a phase (pg_stat_wal, the whole server): bytes, records and
    full-page images. Every commit waits for its WAL to reach the disk, so this is a request's other cost."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.delta: dict[str, float] = {}

    async def _read(self) -> dict[str, float]:
        row = await self.conn.fetchrow("SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal")
        return {k: float(v) for k, v in row.items()}

    async def __aenter__(self):
        self._start = await self._read()
        return self

    async def __aexit__(self, *exc) -> None:
        end = await self._read()
        self.delta = {k: end[k] - self._start[k] for k in end}

    def per_request(self, n: int) -> dict[str, float]:
        n = max(n, 1)
        return {"bytes": self.delta["wal_bytes"] / n, "records": self.delta["wal_records"] / n,
                "fpi": self.delta["wal_fpi"] / n}


def profile(pid: int, seconds: float, out_dir: Path) -> list[tuple[str, float]]:
    """py-spy record (raw collapsed stacks) of `pid`, sampling only the thread that holds the GIL (what one
    worker can do is bounded by it); the frames most often on the stack (inclusive %)."""
    raw = out_dir / "rush-profile.txt"
    subprocess.run(["py-spy", "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "200",
                    "--format", "raw", "--output", str(raw), "--nonblocking", "--gil"], check=True,
                   capture_output=True)
    return summarise_profile(raw.read_text())


OURS = ("marketplace/", "tenders/", "suppliers/", "search/", "asyncpg/", "jwt", "cryptography", "msgspec",
        "arq/", "redis/")


def summarise_profile(text: str, top: int = 45) -> list[tuple[str, float]]:
    """Inclusive share of the samples for frames of our code and of the libraries on the hot path."""
    total, incl = 0, Counter()
    for line in text.splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        total += int(n)
        for frame in set(stack.split(";")):
            if any(o in frame for o in OURS):
                incl[frame] += int(n)
    return [(f, 100 * n / total) for f, n in incl.most_common(top)] if total else []


async def rush(args) -> dict:

    url = bench_url()
    await ensure_database(url)
    keys = Keys.generate()
    conn = await asyncpg.connect(url)

    await conn.execute(CEILING_TABLE)
    await conn.execute("TRUNCATE bench_ceiling")
    officer_token, tokens = await make_parties(conn, keys, suppliers=args.suppliers, seed=args.seed)

    work = Path(tempfile.mkdtemp(prefix="ma-bench-rush-"))
    redis = PrivateRedis().start()
    env = app_env(url, redis.url, str(work), JWT_SECRET=keys.jwt_secret, SIGNING_KEY=keys.signing_key,
                  SEALING_KEY=keys.sealing_key, DB_POOL_MIN=str(args.pool), DB_POOL_MAX=str(args.pool))
    server = GranianServer(env, workers=args.workers, log_path=str(work / "server.log"))
    result: dict = {"connections": args.connections, "seconds": args.seconds, "workers": args.workers}
    try:
        server.start()
        tenders = create_tenders(server.url, officer_token, count=args.tenders + 1, lots=args.lots)
        warm_tender, tenders = tenders[0], tenders[1:]
        ids = [uuid.UUID(t["id"]) for t in tenders]
        # bids are received from the end of the enquiry period: move it into the past (bench setup only)
        await conn.execute("UPDATE tender SET enquiry_end = now() - interval '1 minute' WHERE id = ANY($1)",
                           [uuid.UUID(warm_tender["id"]), *ids])

        warm_bids = bid_lines([warm_tender], tokens, args.seed)
        ceiling_lines = [f"/bench/insert\t-\t{json.dumps({'n': i})}" for i in range(1000)]
        wrk(server.url, ceiling_lines, seconds=2, connections=args.connections)
        wrk(server.url, warm_bids, seconds=2, connections=args.connections)
        await conn.execute("TRUNCATE bench_ceiling")

        await checkpoint(conn)
        async with WalMeter(conn) as wal_ceiling:
            with RssSampler(server) as rss_ceiling, CpuMeter(server) as cpu_ceiling:
                ceiling = wrk(server.url, ceiling_lines, seconds=args.seconds, connections=args.connections)
        stored_ceiling = await conn.fetchval("SELECT count(*) FROM bench_ceiling")

        lines = bid_lines(tenders, tokens, args.seed + 1)
        lines = lines[: int(ceiling["created_per_s"] * args.seconds * 1.5) + 4000]  # enough, and quick to load
        started = datetime.now(UTC)
        deadline = started + timedelta(seconds=args.seconds + 2.5)  # wrk takes a moment to start
        await conn.execute("UPDATE tender SET submission_deadline = $2::timestamptz,"
                           " opening_time = $2::timestamptz + interval '1 hour'"
                           " WHERE id = ANY($1)", ids, deadline)
        await checkpoint(conn)
        async with WalMeter(conn) as wal_rush:
            with RssSampler(server) as rss_rush, CpuMeter(server) as cpu_rush:
                bids = wrk(server.url, lines[:-2000], seconds=args.seconds, connections=args.connections)
        rows = await conn.fetch("SELECT received_at FROM bid WHERE tender_id = ANY($1)", ids)
        while datetime.now(UTC) < deadline + timedelta(milliseconds=200):
            await asyncio.sleep(0.05)
        late = wrk(server.url, lines[len(lines) - 2000:], seconds=2, connections=8)
        stored_after = await conn.fetchval("SELECT count(*) FROM bid WHERE tender_id = ANY($1)", ids)
        late_rows = await conn.fetchval("SELECT count(*) FROM bid WHERE tender_id = ANY($1) AND received_at >= $2",
                                        ids, deadline)
        per_second = Counter(int((r["received_at"] - started).total_seconds()) for r in rows)
        seconds_seen = [per_second[s] for s in range(int(args.seconds))]

        result.update({
            "ceiling_rps": ceiling["created_per_s"], "ceiling_p50_ms": ceiling["p50_us"] / 1e3,
            "ceiling_p99_ms": ceiling["p99_us"] / 1e3, "ceiling_201": ceiling["created"],
            "ceiling_stored": stored_ceiling, "ceiling_other": ceiling["other"],
            "bids_per_s": bids["created_per_s"], "bids_p50_ms": bids["p50_us"] / 1e3,
            "bids_p90_ms": bids["p90_us"] / 1e3, "bids_p99_ms": bids["p99_us"] / 1e3,
            "bids_max_ms": bids["max_us"] / 1e3, "bids_201": bids["created"], "bids_409": bids["conflict"],
            "bids_replayed": bids["replayed"],
            "bids_other": bids["other"], "bids_last_other": bids["last_other"], "bids_errors": bids["errors"],
            "bids_stored": len(rows), "stored_after_deadline_requests": stored_after,  # the final count
            "late_201": late["created"], "late_409": late["conflict"], "late_rows": late_rows,
            "per_second": seconds_seen, "rss_peak_mb": max(rss_ceiling.peak, rss_rush.peak),
            "rss_rush_peak_mb": rss_rush.peak,
            "ceiling_cpu": cpu_ceiling.per_request(ceiling["requests"]),
            "bids_cpu": cpu_rush.per_request(bids["requests"]),
            "ceiling_wal": wal_ceiling.per_request(ceiling["requests"]),
            "bids_wal": wal_rush.per_request(bids["requests"]),
        })
        result["ratio"] = result["bids_per_s"] / result["ceiling_rps"]

        if args.profile:
            pid = server.worker_pids()[0]
            more = bid_lines(tenders, tokens, args.seed + 2)[: len(lines)]
            deadline2 = datetime.now(UTC) + timedelta(hours=1)
            await conn.execute("UPDATE bid_lot SET live = false WHERE tender_id = ANY($1)", ids)
            await conn.execute("UPDATE tender SET state = 'published', submission_deadline = $2,"
                               " opening_time = $2::timestamptz + interval '1 hour' WHERE id = ANY($1)", ids, deadline2)
            holder: dict = {}
            t = threading.Thread(target=lambda: holder.update(
                top=profile(pid, args.seconds - 1, work)), daemon=True)
            t.start()
            wrk(server.url, more, seconds=args.seconds, connections=args.connections)
            t.join()
            result["profile"] = holder.get("top", [])
    finally:
        server.stop()
        redis.stop()
        await conn.close()
        if (work / "rush-profile.txt").exists():
            shutil.copy(work / "rush-profile.txt", "/tmp/ma-bench-rush-profile.txt")
        if (work / "server.log").exists():
            shutil.copy(work / "server.log", "/tmp/ma-bench-rush-server.log")
        shutil.rmtree(work, ignore_errors=True)
    return result


def report(r: dict) -> None:
    print(f"\ndeadline rush: {r['connections']} connections, {r['seconds']} s per phase, "
          f"{r['workers']} granian worker(s)")
    print(f"  ceiling  POST /bench/insert   {r['ceiling_rps']:8.0f} req/s   p50 {r['ceiling_p50_ms']:6.1f} ms   "
          f"p99 {r['ceiling_p99_ms']:6.1f} ms   201s {r['ceiling_201']} stored {r['ceiling_stored']}")
    print(f"  bids     POST .../bids        {r['bids_per_s']:8.0f} bids/s  p50 {r['bids_p50_ms']:6.1f} ms   "
          f"p99 {r['bids_p99_ms']:6.1f} ms   201s {r['bids_201']} stored {r['stored_after_deadline_requests']} "
          f"(409 {r['bids_409']}, replayed {r['bids_replayed']}, other {r['bids_other']}, "
          f"socket errors {r['bids_errors']})")
    print(f"  ratio bids / ceiling: {r['ratio']:.0%}  (target >= 50%)   p99 target < 100 ms: "
          f"{'met' if r['bids_p99_ms'] < 100 else 'NOT met'} (the ceiling's own p99: {r['ceiling_p99_ms']:.0f} ms;"
          f" bids / ceiling p99: {r['bids_p99_ms'] / r['ceiling_p99_ms']:.1f})")
    for name, key in (("ceiling", "ceiling_cpu"), ("bids", "bids_cpu")):
        c = r[key]
        stall = "" if c["io_stall_ms"] is None else f"; disk stalled {c['io_stall_ms']:.0f} ms in the phase"
        print(f"  CPU per request, {name + ':':8} app {c['app_ms']:.2f} ms, PostgreSQL {c['pg_ms']:.2f} ms, "
              f"whole machine {c['all_ms']:.2f} ms (cores {c['busy']:.0%} busy{stall})")
    for name, key in (("ceiling", "ceiling_wal"), ("bids", "bids_wal")):
        w = r[key]
        print(f"  WAL per request, {name + ':':8} {w['bytes']:,.0f} bytes, {w['records']:.1f} records, "
              f"{w['fpi']:.2f} full-page images")
    print(f"  bids stored per second of the rush: {r['per_second']}")
    print(f"  after the deadline: {r['late_201']} accepted, {r['late_409']} refused (409), "
          f"{r['late_rows']} rows received at or after the deadline")
    # wrk stops counting with up to one request in flight per connection: those are stored but not counted
    # (counted after the deadline and after the late bids: requests still in flight have finished by then)
    ok = (0 <= r["stored_after_deadline_requests"] - r["bids_201"] <= r["connections"]
          and r["late_rows"] == 0 and 0 <= r["ceiling_stored"] - r["ceiling_201"] <= r["connections"])
    print(f"  every 201 stored: {'yes' if ok else 'NO'} (stored - 201s = "
          f"{r['stored_after_deadline_requests'] - r['bids_201']} bids, "
          f"{r['ceiling_stored'] - r['ceiling_201']} ceiling rows: the requests in flight when wrk stopped)")
    print(f"  server RSS peak: {r['rss_peak_mb']:.0f} MB (target < 300 MB)")
    if r.get("profile"):
        print("  profile (py-spy, % of samples with the frame on the stack):")
        for frame, share in r["profile"]:
            print(f"    {share:5.1f}%  {frame}")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m bench rush", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--tenders", type=int, default=4)
    p.add_argument("--lots", type=int, default=40)
    p.add_argument("--suppliers", type=int, default=300)
    p.add_argument("--workers", type=int, default=1, help="granian worker processes")
    p.add_argument("--pool", type=int, default=20, help="database pool size of each worker")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--profile", action="store_true", help="py-spy the app worker during a second rush")
    p.add_argument("--json", action="store_true", help="print the result as JSON too")
    args = p.parse_args(argv)
    r = asyncio.run(rush(args))
    report(r)
    if args.json:
        print(json.dumps(r, default=str))
    return r
