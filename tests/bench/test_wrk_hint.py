"""`python -m bench rush` (and `all`, which runs it) on a machine without wrk: one line saying how to install
it and exit status 1, before anything starts (no server, no database). The command runs in a real process
whose PATH holds only the interpreter, so wrk cannot be found whatever the machine has."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("args", "what"), [
    (["rush"], "python -m bench rush"),
    (["rush", "--seconds", "1"], "python -m bench rush"),
    (["all", "--only", "rush", "search"], "python -m bench all (its rush scenario)"),
])
def test_no_wrk_says_how_to_install_it(tmp_path, args, what):
    (tmp_path / "python").symlink_to(sys.executable)
    env = {k: v for k, v in os.environ.items() if k not in ("PATH", "VIRTUAL_ENV")}
    done = subprocess.run([sys.executable, "-m", "bench", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**env, "PATH": str(tmp_path)}, timeout=120)
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert lines == [f"{what} needs wrk (the HTTP load generator), which is not installed: apt-get install wrk"
                     " (Debian, Ubuntu), brew install wrk (macOS), or build it from https://github.com/wg/wrk;"
                     " then run it again"], done.stderr
    assert done.stdout == ""


def test_scenarios_without_wrk_do_not_ask_for_it(tmp_path):
    """The usage text and a scenario that needs no wrk never mention it."""
    (tmp_path / "python").symlink_to(sys.executable)
    done = subprocess.run([sys.executable, "-m", "bench"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PATH": str(tmp_path)}, timeout=120)
    assert done.returncode == 2 and "rush" in done.stdout and "not installed" not in done.stderr
