"""`python -m bench all`: every scenario, one after the other, in one run; writes bench/RESULTS.md.

    python -m bench generate --scale 1 && python -m bench all
    python -m bench all --quick          # shorter phases, fewer queries (a smoke run)

Each scenario runs as its own process (`python -m bench <scenario>`), its output kept verbatim in
RESULTS.md under the command that produced it, after a header with the machine, the load average and
the data set (bench_meta of the generated database).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import ROOT, bench_url, database_name, require_wrk


def scenarios(quick: bool) -> list[tuple[str, list[str]]]:
    if quick:
        return [("rush", ["--seconds", "5"]), ("search", ["--queries", "60"]), ("awards", ["--queries", "60"]),
                ("outbox", ["--seconds", "8"])]
    return [("rush", ["--seconds", "10", "--profile"]), ("search", ["--queries", "300"]),
            ("awards", ["--queries", "200"]), ("outbox", ["--seconds", "20"])]


def _meta() -> str:
    try:
        out = subprocess.run(["psql", bench_url(), "-Atc",
                              "SELECT string_agg(key || '=' || value, ', ') FROM bench_meta"],
                             capture_output=True, text=True, timeout=30).stdout.strip()
        return out or "not generated"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench all", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--output", default=str(ROOT / "bench" / "RESULTS.md"))
    p.add_argument("--only", nargs="*", help="a subset of the scenarios")
    args = p.parse_args(argv)
    if not args.only or "rush" in args.only:
        require_wrk("python -m bench all (its rush scenario)")
    quick = " --quick" if args.quick else ""
    parts = [f"## Every scenario in one run (`python -m bench all`)\n\nOne run of `python -m bench all{quick}` on "
             f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {platform.machine()}, {os.cpu_count()} CPUs "
             f"(shared), Python {platform.python_version()}, load average before the run "
             f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; data: database {database_name(bench_url())} "
             f"({_meta()}).\n"]
    for name, extra in scenarios(args.quick):
        if args.only and name not in args.only:
            continue
        cmd = [sys.executable, "-m", "bench", name, *extra]
        shown = " ".join(["python -m bench", name, *extra])
        print(f"== {shown}", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        out = (proc.stdout + (f"\n[exit {proc.returncode}]\n{proc.stderr[-3000:]}" if proc.returncode else ""))
        out = "\n".join(line for line in out.splitlines() if not line.startswith("  loaded "))
        print(out, flush=True)
        parts.append(f"### {name}\n\n```\n$ {shown}    # {time.perf_counter() - t0:.0f} s, load average now "
                     f"{os.getloadavg()[0]:.1f}\n{out.strip()}\n```\n")
    write_section(Path(args.output), "\n".join(parts))
    print(f"written to {args.output}")


BEGIN, END = "<!-- python -m bench all: begin -->", "<!-- python -m bench all: end -->"


def write_section(path: Path, body: str) -> None:
    """Replace this run's section of RESULTS.md (between the markers), keeping everyone else's sections."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    section = f"{BEGIN}\n{body.strip()}\n{END}\n"
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = head + section + tail.lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)
