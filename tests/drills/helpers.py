"""What the drills share: app servers and workers as real processes, against the test settings' keys."""

from __future__ import annotations

import signal
import subprocess
import sys

from bench.common import ROOT, GranianServer, app_env
from tests import waiting


def env_for(settings, database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    return app_env(database_url, redis_url, str(settings.data_dir), JWT_SECRET=settings.keys.jwt_secret,
                   SIGNING_KEY=settings.keys.signing_key, SEALING_KEY=settings.keys.sealing_key,
                   SIGNING_KEY_ID=settings.signing_key_id, DB_POOL_MIN="2", DB_POOL_MAX="10", **extra)


def server(env: dict[str, str], log_path: str | None = None) -> GranianServer:
    """The production app under granian (no bench routes)."""
    return GranianServer(env, app="marketplace.app:create_app", log_path=log_path).start()


def worker(env: dict[str, str], module: str = "marketplace.cli", *args: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", module, *(args or (("worker",) if module == "marketplace.cli" else ()))]
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def wait_for(cond, timeout: float, what: str) -> None:
    """Wait for another process (a worker, a server) to get somewhere; a generous timeout fails the drill."""
    await waiting.until(cond, what, seconds=timeout)
