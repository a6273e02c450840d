"""Award history benchmark: filtered keyset pages and streaming export over 1,000,000 awards.

    python -m bench.oversight                   # 1,000,000 awards, 200 filtered queries, full exports
    python -m bench.oversight --rows 100000     # quicker
    python -m bench.oversight --keep            # keep the database; then --reuse NAME to measure again

It builds a fresh database on the server at BENCH_DATABASE_URL (default: the local server), runs the
migrations, COPYs generated awards into the `award_history` read model (indexes dropped for the load and
rebuilt from the migration's own DDL), ANALYZEs, then measures in the same run:

* `history`: `awards.service.page()` as GET /api/v1/oversight/awards runs it: a random filter (agency,
  supplier RUC, region, province + method, classification prefix, value range, date range, state), newest
  first, 50 rows, with the keyset cursor of a second page half the time;
* `plain`: the same filter as plain SQL with LIMIT 50 and no order (the cheapest possible answer);
* `export csv` / `export jsonl`: every row through `awards.export.encode()` (server-side cursor, batches),
  rows/s and peak RSS growth of this process (sampled every 20 ms) while streaming;
* `COPY csv`: PostgreSQL's own `COPY (SELECT ...) TO STDOUT CSV` of the same rows into a counting sink
  (the ceiling for rows/s).

It prints p50/p95 in ms, rows/s, memory, and the ratios history/plain (p95) and export/COPY (rows/s).
No timed assertions: this prints numbers. DESIGN targets: p95 < 50 ms; export >= 50k rows/s, flat memory.
"""

from __future__ import annotations

import asyncio
import random
import re
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import psutil

from bench.common import scratch_arguments, scratch_database
from marketplace.core import db
from marketplace.core.migrate import migrate_all
from marketplace.oversight import reads
from marketplace.oversight.awards import export, service
from marketplace.oversight.awards.service import Filters

METHODS = ["public_tender", "public_contest", "simplified_award", "reverse_auction",
           "price_comparison", "direct_contracting"]
CATEGORIES = ["goods", "services", "works"]
CODES = ["30111601", "56121502", "51142106", "30102204", "53131608", "43211507", "76111501", "72141103",
         "72101500", "80101500", "43212105", "42131713", "50221101", "14111507"]
STATES = ["consented"] * 8 + ["standstill", "appealed", "cancelled"]
REGIONS = [f"{i:02d}" for i in range(1, 26)]
T0 = datetime(2019, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=7 * 365)
COLUMNS = ["award_id", "tender_id", "lot_id", "ocid", "tender_title", "lot_title", "agency_id", "agency_ruc",
           "agency_name", "supplier_id", "supplier_ruc", "supplier_name", "method", "category",
           "classification_scheme", "classification_code", "delivery_ubigeo", "region", "province", "value",
           "currency", "state", "awarded_at"]


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def _world(seed: int):
    rnd = random.Random(seed)
    agencies = [(uuid.UUID(int=rnd.getrandbits(128)), f"20{rnd.randrange(10**8, 10**9)}", f"Entidad {i}")
                for i in range(2000)]
    suppliers = [(uuid.UUID(int=rnd.getrandbits(128)), f"20{rnd.randrange(10**8, 10**9)}", f"Proveedor {i} S.A.C.")
                 for i in range(20000)]
    return agencies, suppliers


def generate(rows: int, seed: int):
    rnd = random.Random(seed)
    agencies, suppliers = _world(seed)
    for _ in range(rows):
        ag = agencies[int(rnd.paretovariate(1.2)) % len(agencies)]
        su = suppliers[int(rnd.paretovariate(1.1) * 7) % len(suppliers)]
        region = rnd.choice(REGIONS)
        ubigeo = f"{region}{rnd.randrange(1, 10):02d}{rnd.randrange(1, 12):02d}"
        tender = uuid.UUID(int=rnd.getrandbits(128))
        yield (uuid.UUID(int=rnd.getrandbits(128)), tender, uuid.UUID(int=rnd.getrandbits(128)),
               f"ocds-ma0000-{tender}", "Adquisición de bienes", "Lote 1", ag[0], ag[1], ag[2], su[0], su[1], su[2],
               rnd.choice(METHODS), rnd.choice(CATEGORIES), "UNSPSC", rnd.choice(CODES), ubigeo, region, ubigeo[:4],
               int(rnd.lognormvariate(15, 1.5)), "PEN", rnd.choice(STATES), T0 + SPAN * rnd.random())


def _index_ddl() -> list[str]:
    path = Path(__file__).resolve().parents[1] / "marketplace/oversight/migrations/2026_11_29t04_00_00_000000.py"
    return re.findall(r"^(CREATE INDEX award_history_\w+ ON award_history [^;]+);", path.read_text(), flags=re.M)


async def build(url: str, rows: int, seed: int) -> None:
    db.configure(url)

    await migrate_all()
    conn = await asyncpg.connect(url)
    try:
        ddl = _index_ddl()
        for stmt in ddl:
            await conn.execute(f"DROP INDEX IF EXISTS {stmt.split()[2]}")
        t0 = time.perf_counter()
        batch: list[tuple] = []
        done = 0
        for record in generate(rows, seed):
            batch.append(record)
            if len(batch) == 50_000:
                await conn.copy_records_to_table("award_history", records=batch, columns=COLUMNS)
                done += len(batch)
                batch.clear()
                print(f"  loaded {done:,} rows ({time.perf_counter() - t0:.0f} s)", flush=True)
        if batch:
            await conn.copy_records_to_table("award_history", records=batch, columns=COLUMNS)
        t1 = time.perf_counter()
        await conn.execute("SET maintenance_work_mem = '256MB'")
        for stmt in ddl:
            await conn.execute(stmt)
        await conn.execute("VACUUM ANALYZE award_history")
        print(f"  COPY {time.perf_counter() - t0:.0f} s; indexes and ANALYZE {time.perf_counter() - t1:.0f} s",
              flush=True)
    finally:
        await conn.close()


def _random_filters(rnd: random.Random, agencies, suppliers):

    kind = rnd.choice(["agency", "supplier", "region", "province_method", "classification", "value", "date",
                       "state_region"])
    if kind == "agency":
        return Filters(agency_id=agencies[int(rnd.paretovariate(1.2)) % len(agencies)][0])
    if kind == "supplier":
        return Filters(supplier_ruc=suppliers[int(rnd.paretovariate(1.1) * 7) % len(suppliers)][1])
    if kind == "region":
        return Filters(region=rnd.choice(REGIONS))
    if kind == "province_method":
        return Filters(province=f"{rnd.choice(REGIONS)}{rnd.randrange(1, 10):02d}", method=rnd.choice(METHODS))
    if kind == "classification":
        return Filters(classification=rnd.choice(CODES)[:rnd.choice([2, 4, 6])])
    if kind == "value":
        low = int(rnd.lognormvariate(15, 1.5))
        return Filters(value_min=low, value_max=low * 2)
    if kind == "date":
        start = T0 + SPAN * rnd.random()
        return Filters(date_from=start, date_to=start + timedelta(days=30))
    return Filters(region=rnd.choice(REGIONS), state=rnd.choice(["standstill", "appealed"]))


WARM_UP = 200


async def measure_queries(queries: int, seed: int) -> dict[str, list[float]]:

    rnd = random.Random(seed + 1)
    warm = random.Random(seed + 2)
    agencies, suppliers = _world(seed)
    times: dict[str, list[float]] = {"history": [], "plain": []}
    # The first WARM_UP queries (other random filters than the measured ones) warm the caches, as a serving
    # day does: run after `bench search` has read a million offers through 128 MB of shared buffers, 20 were
    # not enough, and both p95s tripled (105 and 24 ms against 12 and 5 ms run alone).
    for i in range(queries + WARM_UP):
        f = _random_filters(warm if i < WARM_UP else rnd, agencies, suppliers)
        order = ["history", "plain"]
        rnd.shuffle(order)
        for what in order:
            t = time.perf_counter()
            if what == "history":
                rows, nxt = await service.page(filters=f, limit=50)
                if nxt and rnd.random() < 0.5:
                    await service.page(filters=f, limit=50, cursor=nxt)
            else:
                args: list = []
                where = f.where(args)
                await reads.fetch(f"SELECT {', '.join(COLUMNS)} FROM award_history WHERE {where} LIMIT 50", *args)
            if i >= WARM_UP:
                times[what].append((time.perf_counter() - t) * 1000)
    return times


class RssSampler:
    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.base = self.peak = self.proc.memory_info().rss
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self.proc.memory_info().rss)
            await asyncio.sleep(0.02)

    def __enter__(self) -> RssSampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc) -> None:
        assert self._task is not None
        self._task.cancel()
        self.peak = max(self.peak, self.proc.memory_info().rss)


async def measure_export(fmt: str) -> tuple[int, float, int]:

    lines = 0
    t = time.perf_counter()
    with RssSampler() as mem:
        async for chunk in export.encode(filters=Filters(), fmt=fmt):
            lines += chunk.count(b"\n")
    rows = lines - (1 if fmt == "csv" else 0)
    return rows, rows / (time.perf_counter() - t), mem.peak - mem.base


async def measure_copy(url: str) -> tuple[int, float]:
    conn = await asyncpg.connect(url)
    lines = 0

    async def sink(data: bytes) -> None:
        nonlocal lines
        lines += data.count(b"\n")

    try:
        t = time.perf_counter()
        await conn.copy_from_query(
            f"SELECT {', '.join(COLUMNS)} FROM award_history ORDER BY awarded_at DESC, award_id DESC",
            output=sink, format="csv")
        return lines, lines / (time.perf_counter() - t)
    finally:
        await conn.close()


async def main() -> None:
    args = scratch_arguments(__doc__, queries=200)
    async with scratch_database("bench_oversight", reuse=args.reuse, keep=args.keep) as (url, name):
        if not args.reuse:
            print(f"building {args.rows:,} awards in database {name}...", flush=True)
            await build(url, args.rows, args.seed)
        await db.start(url, min_size=1, max_size=2)
        try:
            times = await measure_queries(args.queries, args.seed)
            exports = {fmt: await measure_export(fmt) for fmt in ("csv", "jsonl")}
        finally:
            await db.stop()
        copy_rows, copy_rate = await measure_copy(url)
        print(f"\n{copy_rows:,} awards; {args.queries} filtered queries (random filter kinds)\n")
        print(f"{'query':<12}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
        for what, values in times.items():
            print(f"{what:<12}{pct(values, 50):>10.2f}{pct(values, 95):>10.2f}{pct(values, 99):>10.2f}"
                  f"{statistics.fmean(values):>10.2f}")
        print(f"\n{'export':<14}{'rows':>12}{'rows/s':>12}{'peak RSS growth':>18}")
        for fmt, (rows, rate, grown) in exports.items():
            print(f"{fmt:<14}{rows:>12,}{rate:>12,.0f}{grown / 2**20:>15.1f} MB")
        print(f"{'COPY csv':<14}{copy_rows:>12,}{copy_rate:>12,.0f}{'-':>18}")
        print(f"\nratio p95 history / plain: {pct(times['history'], 95) / pct(times['plain'], 95):.2f}")
        for fmt, (_, rate, _) in exports.items():
            print(f"ratio export {fmt} / COPY csv (rows/s): {rate / copy_rate:.2f}")
        print(f"targets: history p95 < 50 ms -> {'met' if pct(times['history'], 95) < 50 else 'NOT met'}; "
              f"export >= 50k rows/s -> {'met' if min(r for _, r, _ in exports.values()) >= 50_000 else 'NOT met'}")

if __name__ == "__main__":
    asyncio.run(main())
