"""The embedded servers on their own: start, join, stop, data kept; never root's home folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from marketplace import embedded

ROOT = Path(__file__).resolve().parents[2]


def test_data_inside_roots_home_is_kept_elsewhere_when_root(tmp_path):
    if os.geteuid() != 0:
        assert embedded.postgres_folder(tmp_path / "pg") == (tmp_path / "pg").resolve()
        return
    home = Path(os.path.expanduser("~root")).resolve()
    moved = embedded.postgres_folder(home / "checkout" / ".data" / "postgres")
    assert not moved.is_relative_to(home) and moved.is_relative_to(embedded.ROOT_RELOCATION)
    assert moved == embedded.postgres_folder(home / "checkout" / ".data" / "postgres")  # stable: data survives
    assert embedded.postgres_folder(tmp_path / "pg") == (tmp_path / "pg").resolve()


SCRIPT = """
import asyncio, sys
from pathlib import Path
import asyncpg, redis
from marketplace import embedded

folder = Path(sys.argv[1])
pg = embedded.start_postgres(folder / "pg")
rd = embedded.start_redis(folder / "redis")

async def main():
    conn = await asyncpg.connect(pg)
    await conn.execute("CREATE TABLE IF NOT EXISTS kept (n int)")
    await conn.execute("INSERT INTO kept VALUES (1)")
    print(await conn.fetchval("SELECT count(*) FROM kept"))
    await conn.close()

asyncio.run(main())
r = redis.Redis.from_url(rd)
r.incr("runs")
print(int(r.get("runs")))
r.close()
embedded.stop_all()
"""


@pytest.mark.timeout(600)  # two runs of up to 180 s each (initdb on a loaded machine)
def test_servers_start_keep_their_data_and_stop(embedded_data_dir):
    tmp_path = embedded_data_dir
    outputs = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True,
                              timeout=180, cwd=ROOT)
        log = tmp_path / "pg" / "log"
        assert done.returncode == 0, done.stderr + (log.read_text() if log.exists() else "")
        outputs.append(done.stdout.split())
    assert outputs == [["1", "1"], ["2", "2"]]  # rows and keys survive a restart
    assert not (tmp_path / "pg" / "postmaster.pid").exists()  # stopped cleanly
    assert not (tmp_path / "redis" / "redis.pid").exists()
