"""`python -m bench <scenario> [options]`: see bench/README.md.

    generate   data at scale into BENCH_DATABASE_URL (default database ma_bench on the local server)
    rush       the deadline rush over HTTP (granian + wrk) against a plain INSERT endpoint
    search     catalogue search latency against plain SQL full text (bench/search.py)
    awards     award history query and CSV export rate
    outbox     outbox lag from commit to searchable at a steady write rate
    all        every scenario in turn (what bench/RESULTS.md records)
"""

from __future__ import annotations

import importlib
import sys

SCENARIOS = {
    "generate": "bench.generate",
    "rush": "bench.rush",
    "search": "bench.search_scenario",
    "awards": "bench.awards",
    "outbox": "bench.outbox_lag",
    "all": "bench.all",
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in SCENARIOS:
        print(__doc__)
        raise SystemExit(2)
    name = sys.argv[1]
    module = importlib.import_module(SCENARIOS[name])
    module.main(sys.argv[2:])


main()
