"""`python -m bench <scenario> [options]` (every scenario has --help; see bench/README.md).

    generate   data at scale into BENCH_DATABASE_URL (default: database ma_bench on the local server)
    rush       the deadline rush: sealed bids over HTTP (granian + wrk) against a plain INSERT endpoint
    search     catalogue search p50/p95/p99 against plain SQL full text (bench/search.py)
    awards     award history query p95 and CSV / JSON Lines export rows/s against COPY (bench/oversight.py)
    outbox     outbox lag from commit to searchable at 200 writes/s, against a no-op consumer
    auction    live auction: commit -> every board with 200 SSE bidders (bench/auction.py)
    redflags   red-flag read model: full computation, per-process updates, list p95 (bench/redflags.py)
    ocds-import  generate 1M OCDS releases and import them: releases/s against COPY, RSS (bench/ocds_import.py)
    login-storm  a deadline rush of sealed bids with and without a storm of failed sign-ins (bench/login_storm.py)
    all        rush, search, awards and outbox in one run; writes bench/RESULTS.md

`search` and `awards` measure the data `generate` loaded (their --reuse); give them --rows N to build a
database of their own instead.
"""

from __future__ import annotations

import asyncio
import importlib
import sys

from bench.common import bench_url, database_name

OWN = {"generate": "bench.generate", "rush": "bench.rush", "outbox": "bench.outbox_lag", "all": "bench.all",
       "ocds-import": "bench.ocds_import", "login-storm": "bench.login_storm"}
# scenarios written as `async def main()` reading sys.argv, with --reuse DBNAME for generated data
DELEGATED = {"search": "bench.search", "awards": "bench.oversight", "auction": "bench.auction",
             "redflags": "bench.redflags"}
REUSES_GENERATED = {"search", "awards"}
NEEDS_WRK = {"rush", "login-storm"}  # `all` checks when its selection includes rush (bench/all.py)


def delegated_argv(name: str, args: list[str]) -> list[str]:

    if name in REUSES_GENERATED and not any(a.startswith(("--rows", "--reuse", "-h", "--help")) for a in args):
        args = ["--reuse", database_name(bench_url()), *args]
    return [f"python -m bench {name}", *args]


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in {**OWN, **DELEGATED}:
        print(__doc__)
        raise SystemExit(2)
    name, args = sys.argv[1], sys.argv[2:]
    if name in NEEDS_WRK and not any(a in ("-h", "--help") for a in args):
        from bench.common import require_wrk  # here: the usage text above needs no bench.common (asyncpg)

        require_wrk(f"python -m bench {name}")
    if name in OWN:
        importlib.import_module(OWN[name]).main(args)
        return
    module = importlib.import_module(DELEGATED[name])
    sys.argv = delegated_argv(name, args)
    asyncio.run(module.main())


main()
