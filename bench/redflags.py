"""Red-flag read model benchmark: full computation, per-process updates and the public list at scale.

    python -m bench redflags                          # 1,000,000 compiled releases
    python -m bench redflags --rows 100000            # quicker (what fits a couple of minutes here)
    python -m bench redflags --keep                   # keep the database; then --reuse NAME to measure again

Builds a fresh database (BENCH_DATABASE_URL, default the local server), runs the migrations, and COPYs
generated compiled releases into `ocds_compiled` (the import bench's generator, bench/ocds_generate.py: each
process's award-stage release with its contract, Peru-shaped; plus single bids, identical prices, late and
disqualified bids in realistic shares so that flags are raised). Then, in the same run:

* `full`: the read model computed from nothing exactly as the worker does it: `readmodel.sync_all()` (the
  sync job: compiled-release feed, engine per process, tallies, flags, in transactions of REDFLAG_SYNC_BATCH)
  and `readmodel.refresh_population()` (the population pass: fences and population flags); processes/s.
* ceiling: one pass of SQL over the same rows, `SELECT buyer_id, count(*) FROM ocds_compiled GROUP BY 1`
  (reading every compiled release once); ratio full / ceiling (how many times slower than reading the rows).
* `update`: one process changed (a bid disqualified: a new hash and a new place in the change feed), then
  one `sync()` in its transaction, `--updates` times: per-process latency p50/p99 from the change's commit
  to its flags committed, against its own ceiling (one transaction reading a compiled release by key and
  writing one read-model row: the least an update does); then `--burst` processes changed at once and
  synced: incremental processes/s.
* `--flag-rows N`: before the list is measured, the flag table is grown to N rows (copies of the computed
  flags, spread over other dates and buyers, through the same indexes) when the processes gave fewer: the
  list's cost depends on the table and its indexes only, and a national history has millions of flags.
* `list`: `readmodel.page()` as GET /api/v1/oversight/red-flags runs it (a random filter: none, code, buyer
  RUC, supplier RUC, publisher, code + buyer; 50 rows; half the time the second page by cursor): p50/p95/p99.

No timed assertions: this prints numbers. DESIGN target: the public list p95 < 50 ms at that scale.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from bench.common import pct, scratch_database
from bench.ocds_generate import GOODS, METHODS, REGIONS, Process, ruc
from marketplace.core import db
from marketplace.core.migrate import migrate_all
from marketplace.oversight.redflags import readmodel
from marketplace.settings import Settings

COLUMNS = ["ocid", "publisher_id", "source", "hash", "release_date", "version", "date", "buyer_id", "buyer_name",
           "buyer_ruc", "tender_status", "procurement_method", "award_count", "contract_count", "data"]
_enc = msgspec.json.Encoder()
assert GOODS and METHODS  # the generator's vocabulary, shared


def _arguments() -> argparse.Namespace:
    """scratch_arguments' options (--rows --queries --seed --keep --reuse) and --flag-rows."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="compiled releases (processes)")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--flag-rows", type=int, default=2_000_000, help="grow the flag table to this for the list")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--reuse", default=None, help="measure on a kept database instead of building one")
    return parser.parse_args()


def _world(rng: random.Random) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    suppliers = [{"id": f"PE-RUC-{r}", "name": f"EMPRESA {i} S.A.C.", "identifier": {"scheme": "PE-RUC", "id": r}}
                 for i, r in enumerate(ruc(rng) for _ in range(20_000))]
    buyers = []
    for n in range(2_000):
        r = ruc(rng)
        buyers.append({"id": f"PE-RUC-{r}", "name": f"MUNICIPALIDAD {n} DE {rng.choice(REGIONS).upper()}",
                       "identifier": {"scheme": "PE-RUC", "id": r}, "address": {"countryName": "Perú"}})
    return suppliers, buyers


def compiled(p: Process, rng: random.Random) -> dict[str, Any]:
    """The process's compiled release: its award-stage release with its contract, and some irregularities."""
    award = p.release("award")
    contract = p.release("contract")
    rel = {**award, "id": f"{p.ocid}-compiled", "tag": ["compiled"], "contracts": contract["contracts"],
           "date": contract["date"]}
    details = rel["bids"]["details"]
    end = rel["tender"]["tenderPeriod"]["endDate"]
    end_at = datetime.fromisoformat(end.replace("Z", "+00:00"))
    rel["tender"]["tenderPeriod"]["startDate"] = (end_at - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for bid in details:  # received in the last days before the deadline
        bid["date"] = (end_at - timedelta(minutes=rng.randint(30, 5 * 24 * 60))).strftime("%Y-%m-%dT%H:%M:%SZ")
    roll = rng.random()
    if roll < 0.05 and len(details) > 1:  # the lowest bid disqualified (R036), sometimes all but the winner
        details[0]["status"] = "disqualified"
    elif roll < 0.08 and len(details) > 1:  # identical prices (R028)
        details[1]["value"] = dict(details[0]["value"])
    elif roll < 0.11:  # the winner's bid after the deadline (R030)
        details[0]["date"] = (datetime.fromisoformat(end.replace("Z", "+00:00")) + timedelta(hours=2)).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
    if rng.random() < 0.1:  # a short submission period (R003)
        start = datetime.fromisoformat(end.replace("Z", "+00:00")) - timedelta(days=rng.randint(2, 9))
        rel["tender"]["tenderPeriod"]["startDate"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    return rel


def generate(rows: int, seed: int):
    rng = random.Random(seed)
    suppliers, buyers = _world(rng)
    start = datetime(2019, 1, 1, tzinfo=UTC)
    for n in range(rows):
        p = Process(rng, n, start + timedelta(minutes=n * 3), suppliers, buyers)
        rel = compiled(p, rng)
        raw = _enc.encode(rel)
        buyer = p.buyer
        yield (p.ocid, 1, "releases", hashlib.sha256(raw).digest(), rel["date"], "1.1",
               datetime.fromisoformat(rel["date"].replace("Z", "+00:00")), buyer["id"], buyer["name"],
               buyer["identifier"]["id"], "complete", p.method, 1, 1, raw.decode())


async def build(url: str, rows: int, seed: int) -> None:
    db.configure(url)

    await migrate_all()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("INSERT INTO ocds_publisher (slug, name, ocid_prefixes) VALUES"
                           " ('oece-bench', 'OECE (bench)', '{ocds-dgv273}')")
        t0 = time.perf_counter()
        batch: list[tuple[Any, ...]] = []
        done = 0
        for record in generate(rows, seed):
            batch.append(record)
            if len(batch) == 20_000:
                await conn.copy_records_to_table("ocds_compiled", records=batch, columns=COLUMNS)
                done += len(batch)
                batch.clear()
                print(f"  loaded {done:,} compiled releases ({time.perf_counter() - t0:.0f} s)", flush=True)
        if batch:
            await conn.copy_records_to_table("ocds_compiled", records=batch, columns=COLUMNS)
        await conn.execute("VACUUM ANALYZE ocds_compiled")
        print(f"  COPY and ANALYZE {time.perf_counter() - t0:.0f} s", flush=True)
    finally:
        await conn.close()


async def measure_full(settings: Settings) -> tuple[int, float, float]:
    t0 = time.perf_counter()
    changed = 0
    while True:  # sync_all's loop, a progress line every 100 batches
        step = await readmodel.sync_all(settings, batch=settings.redflags.sync_batch, seconds=10**9, max_batches=100)
        changed += step
        print(f"  {changed:,} processes evaluated ({time.perf_counter() - t0:.0f} s)", flush=True)
        if step == 0:
            break
    t1 = time.perf_counter()
    async with db.unit_of_work():
        await readmodel.refresh_population(settings, force=True)
    t2 = time.perf_counter()
    return changed, t1 - t0, t2 - t1


async def measure_ceiling(url: str) -> float:
    conn = await asyncpg.connect(url)
    try:
        t0 = time.perf_counter()
        await conn.fetch("SELECT buyer_id, count(*) FROM ocds_compiled GROUP BY 1")
        return time.perf_counter() - t0
    finally:
        await conn.close()


async def measure_update_ceiling(ocids: list[str], n: int, rng: random.Random) -> list[float]:
    """The least a per-process update does: one transaction reading the process's compiled release by key and
    writing one row of the read model."""
    times = []
    for ocid in rng.sample(ocids, min(n, len(ocids))):
        t0 = time.perf_counter()
        async with db.unit_of_work():
            await db.fetchrow("SELECT data::text AS data FROM ocds_compiled WHERE ocid = $1", ocid)
            await db.execute("UPDATE redflag_process SET updated_at = now() WHERE ocid = $1", ocid)
        times.append((time.perf_counter() - t0) * 1000)
    return times


_CHANGE = ("UPDATE ocds_compiled SET data = jsonb_set(data, '{bids,details,0,status}',"
           " CASE WHEN data #>> '{bids,details,0,status}' = 'valid' THEN '\"disqualified\"'::jsonb"
           " ELSE '\"valid\"'::jsonb END),"
           " hash = sha256(hash), txid = pg_current_xact_id(), seq = nextval('ocds_compiled_seq'), updated_at = now()"
           " WHERE ocid = ANY($1::text[])")


async def measure_updates(settings: Settings, ocids: list[str], updates: int, burst: int,
                          rng: random.Random) -> tuple[list[float], int, float]:
    latencies = []
    for ocid in rng.sample(ocids, min(updates, len(ocids))):
        async with db.unit_of_work():
            await db.execute(_CHANGE, [ocid])
        t0 = time.perf_counter()
        changed = 0
        while not changed:  # the feed serves the change once no older transaction runs
            async with db.unit_of_work():
                changed = (await readmodel.sync(settings, limit=100)).changed
        latencies.append((time.perf_counter() - t0) * 1000)
    chosen = rng.sample(ocids, min(burst, len(ocids)))
    async with db.unit_of_work():
        await db.execute(_CHANGE, chosen)
    t0 = time.perf_counter()
    done = await readmodel.sync_all(settings, batch=settings.redflags.sync_batch, seconds=10**9)
    return latencies, done, time.perf_counter() - t0


async def grow_flags(target: int) -> int:
    """Copies of the computed flags (dated up to ten years earlier, under other buyer and supplier RUCs) until
    the table has `target` rows."""
    have = (await db.fetchrow("SELECT count(*) AS n FROM redflag"))["n"]
    if have == 0:
        return 0
    while have < target:
        take = min(have, target - have, 200_000)  # one statement stays well inside the pool's 60 s timeout
        async with db.unit_of_work():
            await db.execute(
                "INSERT INTO redflag (code, scope, subject, ocid, origin, publisher_id, buyer_id, buyer_ruc,"
                " supplier_id, supplier_ruc, value, evidence, date)"
                " SELECT code, scope, subject, ocid, origin, publisher_id, buyer_id,"
                "  CASE WHEN buyer_ruc IS NULL THEN NULL ELSE lpad(((id * 7919) % 99999999999)::text, 11, '2') END,"
                "  supplier_id,"
                "  CASE WHEN supplier_ruc IS NULL THEN NULL"
                "   ELSE lpad(((id * 104729) % 99999999999)::text, 11, '1') END,"
                "  value, evidence, date - make_interval(days => ((id + $2) % 3650)::int)"
                " FROM redflag ORDER BY id LIMIT $1", take, have)
        have += take
        print(f"  {have:,} flag rows", flush=True)
    async with db.unit_of_work():
        await db.execute("ANALYZE redflag")
    return have


async def measure_list(queries: int, rng: random.Random) -> list[float]:
    buyers = [r["buyer_ruc"] for r in await db.fetch(
        "SELECT DISTINCT buyer_ruc FROM redflag WHERE buyer_ruc IS NOT NULL LIMIT 2000")]
    suppliers = [r["supplier_ruc"] for r in await db.fetch(
        "SELECT DISTINCT supplier_ruc FROM redflag WHERE supplier_ruc IS NOT NULL LIMIT 2000")]
    codes = [r["code"] for r in await db.fetch("SELECT DISTINCT code FROM redflag")]
    times = []
    for _ in range(queries):
        kind = rng.choice(["none", "code", "buyer", "supplier", "publisher", "code+buyer"])
        kw: dict[str, Any] = {}
        if "code" in kind:
            kw["code"] = rng.choice(codes)
        if "buyer" in kind and buyers:
            kw["buyer"] = rng.choice(buyers)
        if kind == "supplier" and suppliers:
            kw["supplier"] = rng.choice(suppliers)
        if kind == "publisher":
            kw["publisher"] = "oece-bench"
        t0 = time.perf_counter()
        first = await readmodel.page(limit=50, **kw)
        if first.next_cursor and rng.random() < 0.5:
            await readmodel.page(limit=50, cursor=first.next_cursor, **kw)
        times.append((time.perf_counter() - t0) * 1000)
    return times


async def main() -> None:
    args = _arguments()
    settings = Settings()
    rng = random.Random(args.seed)
    async with scratch_database("bench_redflags", reuse=args.reuse, keep=args.keep) as (url, name):
        if not args.reuse:
            print(f"building {args.rows:,} compiled releases in database {name}...", flush=True)
            await build(url, args.rows, args.seed)
        await db.start(url, min_size=1, max_size=2)
        try:
            processes = (await db.fetchrow("SELECT count(*) AS n FROM ocds_compiled"))["n"]
            print("computing the read model from nothing...", flush=True)
            changed, sync_s, population_s = await measure_full(settings)
            ceiling_s = await measure_ceiling(url)
            full_s = sync_s + population_s
            async with db.unit_of_work():
                await db.execute("ANALYZE redflag")
            flags = (await db.fetchrow("SELECT count(*) AS n FROM redflag"))["n"]
            by_code = await db.fetch("SELECT code, count(*) AS n FROM redflag GROUP BY 1 ORDER BY 1")
            counts = ", ".join(f"{r['code']} {r['n']:,}" for r in by_code)
            # Each figure is printed as soon as it is measured (a later failure keeps the earlier ones).
            print(f"\n{processes:,} compiled releases; {flags:,} flag rows ({counts})\n")
            print(f"full computation: sync {sync_s:.1f} s ({changed / sync_s:,.0f} processes/s) + population pass "
                  f"{population_s:.1f} s = {full_s:.1f} s")
            print(f"ceiling (one SQL pass, count(*) grouped over the same rows): {ceiling_s:.2f} s; "
                  f"ratio full / ceiling: {full_s / ceiling_s:.0f}x", flush=True)
            ocids = [r["ocid"] for r in await db.fetch("SELECT ocid FROM ocds_compiled LIMIT 50000")]
            floor = await measure_update_ceiling(ocids, 100, rng)
            latencies, burst_done, burst_s = await measure_updates(settings, ocids, 100, 5000, rng)
            print(f"per-process update, change committed -> flags committed: p50 {pct(latencies, 50):.1f} ms, "
                  f"p99 {pct(latencies, 99):.1f} ms ({len(latencies)} updates); its ceiling (read the release by "
                  f"key + write one row, one transaction): p50 {pct(floor, 50):.1f} ms, p99 {pct(floor, 99):.1f} ms;"
                  f" ratio p50 {pct(latencies, 50) / pct(floor, 50):.1f}x")
            print(f"incremental burst: {burst_done:,} changed processes in {burst_s:.1f} s "
                  f"({burst_done / burst_s:,.0f} processes/s)", flush=True)
            listed = await grow_flags(args.flag_rows)
            times = await measure_list(args.queries, rng)
        finally:
            await db.stop()
    print(f"\nlist over {listed:,} flag rows ({flags:,} computed, the rest copies: --flag-rows)")
    print(f"{'list':<10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    print(f"{'page':<10}{pct(times, 50):>10.2f}{pct(times, 95):>10.2f}{pct(times, 99):>10.2f}"
          f"{statistics.fmean(times):>10.2f}")
    print(f"target: list p95 < 50 ms -> {'met' if pct(times, 95) < 50 else 'NOT met'}")

if __name__ == "__main__":
    asyncio.run(main())
