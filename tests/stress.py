"""`make test-stress`: tests run while every core is kept busy, as on a shared or slow CI machine.

    python -m tests.stress [pytest arguments]      # default: the concurrency-heavy folders (STRESS_TESTS)

One busy loop per core (a plain Python process spinning, at normal priority) runs for the whole pytest run
and is stopped on every way out: pytest's end, a failure, Ctrl-C (the `finally` below), and a kill of this
process (each loop checks every few hundredths of a second that its parent is still this process, and
exits when it is not). A test that passes only when the machine is idle fails here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

# Spins; every million iterations (a few hundredths of a second) checks that its parent is still alive.
LOOP = ("import os, sys\nparent = int(sys.argv[1])\nwhile os.getppid() == parent:\n"
        "    for _ in range(1_000_000):\n        pass\n")


def main(args: list[str]) -> int:
    cores = os.cpu_count() or 1
    me = str(os.getpid())
    load = [subprocess.Popen([sys.executable, "-c", LOOP, me]) for _ in range(cores)]
    started = time.monotonic()
    rc = 1
    try:
        print(f"stress: {cores} busy loop(s) started (pids {' '.join(str(p.pid) for p in load)}); "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
        rc = subprocess.call([sys.executable, "-m", "pytest", *args])
    finally:
        for p in load:
            p.kill()
        for p in load:
            p.wait()
        print(f"stress: pytest exited with {rc} after {time.monotonic() - started:.0f} s with {cores} core(s)"
              f" kept busy; load average now {os.getloadavg()[0]:.1f}; busy loops stopped", flush=True)
    return rc


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
