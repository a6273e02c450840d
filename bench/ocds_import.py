"""OCDS import benchmark: `python -m bench ocds-import [--releases N] [--keep] [--queries Q]`.

    python -m bench ocds-import                       # 1,000,000 releases of 250,000 processes (the issue's size)
    python -m bench ocds-import --releases 100000     # a tenth: about a minute on a quiet 2-core machine

Generates realistic Peru-shaped releases on the fly (bench/ocds_generate.py: per process a planning, a tender,
an award with 1-6 bids and a contract release, spread over the file as in a daily feed) into a temporary JSON
Lines file, streamed (never held in memory); then, in a fresh database of its own (migrated, dropped at the end
unless --keep), measures in the same run:

* `ceiling`: PostgreSQL's COPY of the same lines into a bare `jsonb` table (parse and store, nothing else);
* `import`: `marketplace ocds import`'s pipeline end to end (read, check, hash, merge into one compiled
  release per process, store the releases, compiled releases and parties) with the projection of the
  compiled releases' change feed into the award history and stage times as batches commit
  (marketplace/oversight/projection.py: import_and_project);
  releases/s, its share of the ceiling, the peak RSS of this process while importing (sampled every 20 ms),
  and the CPU per release of this process and of the database's backends (from /proc: the machine's load
  does not change them the way it changes wall-clock figures);
* `history`: award history pages (awards.service.page(), what GET /api/v1/oversight/awards runs) with the
  imported awards in: a random filter (publisher, supplier RUC, method, classification prefix, date range,
  value range), 50 rows, the second page half the time; p50/p95 ms.

Goals (issue 15): >= 3,000 releases/s end to end, >= 25% of the ceiling, RSS < 300 MB, history p95 < 50 ms.
It prints numbers; no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import psutil

from bench.common import ROOT, ensure_database, scratch_database
from bench.ocds_generate import generate
from marketplace.core import db
from marketplace.oversight import projection
from marketplace.oversight.awards import service as history

GOALS = {"releases_s": 3000, "ceiling_share": 0.25, "rss_mb": 300, "history_p95_ms": 50}
_SEP = {"format": "csv", "quote": "\x01", "delimiter": "\x02"}  # one JSON text per line, taken as is


def write_releases(path: Path, n: int, seed: int) -> int:
    encoder = msgspec.json.Encoder()
    count = 0
    with path.open("wb", buffering=1 << 20) as fh:
        for release in generate(n, seed):
            fh.write(encoder.encode(release))
            fh.write(b"\n")
            count += 1
    return count


class RssSampler:
    """Peak resident memory of this process while running (every 20 ms)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, me.memory_info().rss)
            self._stop.wait(0.02)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def backends_cpu() -> float:
    """CPU seconds used so far by this database's server processes (the server is on this machine)."""
    rows = await db.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for r in rows:
        try:
            fields = Path(f"/proc/{r['pid']}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


async def ceiling(path: Path) -> tuple[float, int]:
    async with db.unit_of_work():
        await db.execute("CREATE TABLE bench_ceiling (data jsonb NOT NULL)")
    started = time.perf_counter()
    async with db.unit_of_work() as uow:
        conn = await uow.connection()
        # the pool's command timeout (60 s) is shorter than a million lines take
        status = await conn.copy_to_table("bench_ceiling", source=str(path), timeout=3600, **_SEP)
    seconds = time.perf_counter() - started
    async with db.unit_of_work():
        await db.execute("DROP TABLE bench_ceiling")
    return seconds, int(status.split()[-1])


async def history_queries(n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    pubs = [r["publisher"] for r in await db.fetch("SELECT DISTINCT publisher FROM award_history")]
    rucs = [r["supplier_ruc"] for r in await db.fetch(
        "SELECT supplier_ruc FROM award_history TABLESAMPLE SYSTEM (1) WHERE supplier_ruc IS NOT NULL LIMIT 500")]
    span = await db.fetchrow("SELECT min(awarded_at) AS lo, max(awarded_at) AS hi FROM award_history")
    assert span is not None and span["lo"] is not None, "no awards were projected"
    lo, hi = span["lo"], span["hi"]
    times = []
    for _ in range(n):
        kind = rng.choice(["none", "publisher", "supplier", "method", "classification", "dates", "value"])
        f = history.Filters()
        if kind == "publisher":
            f = history.Filters(publisher=rng.choice(pubs))
        elif kind == "supplier" and rucs:
            f = history.Filters(supplier_ruc=rng.choice(rucs))
        elif kind == "method":
            f = history.Filters(method=rng.choice(["open", "selective", "limited"]))
        elif kind == "classification":
            f = history.Filters(classification=rng.choice(["3011", "4321", "7214", "8111", "42"]))
        elif kind == "dates":
            start = lo + (hi - lo) * rng.random()
            f = history.Filters(date_from=start, date_to=start + timedelta(days=rng.choice([7, 30, 90])))
        elif kind == "value":
            low = rng.randrange(0, 200_000_000)
            f = history.Filters(value_min=low, value_max=low + rng.randrange(1_000_000, 50_000_000))
        started = time.perf_counter()
        rows, nxt = await history.page(filters=f, limit=50)
        if nxt and rng.random() < 0.5:
            await history.page(filters=f, limit=50, cursor=nxt)
        times.append((time.perf_counter() - started) * 1000)
    return times


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def run(args: argparse.Namespace) -> None:
    tmp_dir = Path(args.tmp_dir or tempfile.gettempdir())
    print(f"ocds-import: {args.releases:,} releases (about {args.releases // 4:,} processes), load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    with tempfile.NamedTemporaryFile(prefix="bench-ocds-", suffix=".jsonl", dir=tmp_dir) as tmp:
        path = Path(tmp.name)
        started = time.perf_counter()
        n = write_releases(path, args.releases, args.seed)
        print(f"generated {n:,} releases, {path.stat().st_size / 1e6:,.0f} MB, in {time.perf_counter() - started:.0f} s"
              " (not counted)")
        async with scratch_database("bench_ocds", reuse=None, keep=args.keep) as (url, name):
            await ensure_database(url)
            await db.start(url, min_size=1, max_size=4)
            try:
                ceil_s, copied = await ceiling(path)
                ceil_rate = copied / ceil_s
                print(f"ceiling: COPY into a bare jsonb table: {copied:,} lines in {ceil_s:.1f} s = "
                      f"{ceil_rate:,.0f} releases/s")
                pg0, cpu0 = await backends_cpu(), time.process_time()
                with RssSampler() as rss:
                    started = time.perf_counter()
                    report, projected = await projection.import_and_project([path], origin="bench")
                    done = time.perf_counter()
                cpu = time.process_time() - cpu0
                pg = await backends_cpu() - pg0
                wall = done - started
                rate = report.releases / wall
                print(f"import: {report.releases:,} releases ({report.processes_new:,} processes new,"
                      f" {report.refused} refused) and {projected:,} compiled releases projected into the award"
                      f" history as batches committed, in {wall:.1f} s")
                print(f"  end to end {rate:,.0f} releases/s (goal >= {GOALS['releases_s']:,}), "
                      f"{rate / ceil_rate:.0%} of the ceiling (goal >= {GOALS['ceiling_share']:.0%})")
                print(f"  peak RSS {rss.peak / 2**20:,.0f} MB (goal < {GOALS['rss_mb']} MB; ru_maxrss of the whole"
                      f" run {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB)")
                print(f"  CPU per release: importer {1e6 * cpu / report.releases:,.0f} us,"
                      f" PostgreSQL {1e6 * pg / report.releases:,.0f} us (backends alive at the end)")
                async with db.unit_of_work():
                    await db.execute("ANALYZE award_history")
                rows = (await db.fetchrow("SELECT count(*) AS n FROM award_history"))["n"]
                times = await history_queries(args.queries, args.seed)
                print(f"history: {args.queries} filtered pages over {rows:,} awards: p50 {statistics.median(times):.1f}"
                      f" ms, p95 {pct(times, 95):.1f} ms (goal < {GOALS['history_p95_ms']} ms)")
            finally:
                await db.stop()
        if args.keep:
            print(f"kept database {name}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench ocds-import", description=__doc__.split("\n\n")[0])
    parser.add_argument("--releases", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--tmp-dir", default=None, help="where the generated file goes (default: the system's)")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    asyncio.run(run(args))
