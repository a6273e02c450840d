"""Live servers and SSE clients for the auction tests and bench/auction.py.

* `LiveServer(env, port).start()` runs the real app (`uvicorn marketplace.app:create_app --factory`) in a
  subprocess on a free port, against the given DATABASE_URL / REDIS_URL and keys; `.stop()` sends SIGTERM,
  `.kill()` SIGKILL.
* `Board(url, headers)` is one SSE connection to /api/v1/auctions/{id}/events that records every event
  (with the local arrival time) and can wait for a condition.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(settings: Any, **extra: str) -> dict[str, str]:
    """The environment of an app process sharing `settings`' database, Redis and keys."""
    k = settings.keys
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url or "",
           "JWT_SECRET": k.jwt_secret, "SIGNING_KEY": k.signing_key, "SEALING_KEY": k.sealing_key,
           "SIGNING_KEY_ID": settings.signing_key_id, "OCID_PREFIX": settings.ocid_prefix,
           "DATA_DIR": str(settings.data_dir), "DB_POOL_MIN": "2", "DB_POOL_MAX": "20", "MODE": "development"}
    env.update(extra)
    return env


class LiveServer:
    def __init__(self, env: dict[str, str], port: int | None = None, *, log_path: Path | None = None) -> None:
        self.env = env
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = log_path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def uvicorn_args(self) -> list[str]:
        return ["marketplace.app:create_app", "--factory", "--host", "127.0.0.1", "--port", str(self.port),
                "--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "2"]

    def command(self) -> list[str]:
        """The server's command line (tests run it with a clock they move: tests/live_clock.py)."""
        return [sys.executable, "-m", "uvicorn", *self.uvicorn_args()]

    async def start(self, timeout: float = 120) -> LiveServer:
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115 (open while it runs)
        self.proc = subprocess.Popen(self.command(), cwd=ROOT, env=self.env, stdout=out, stderr=out)
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as c:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server on {self.port} exited with {self.proc.returncode}")
                try:
                    if (await c.get(self.url + "/health", timeout=1)).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"server on {self.port} did not answer in {timeout} s")

    def _signal(self, sig: int, wait: float) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(wait)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self) -> None:
        self._signal(signal.SIGTERM, 10)

    def kill(self) -> None:
        self._signal(signal.SIGKILL, 5)


class Board:
    """One live board: an SSE connection that records events as (name, data, arrival time)."""

    def __init__(self, client: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None,
                 *, on_event: Callable[[Board, str, dict], None] | None = None) -> None:
        self.client, self.url, self.headers = client, url, headers or {}
        self.events: list[tuple[str, dict[str, Any], float]] = []
        self.raw: list[str] = []
        self.task: asyncio.Task | None = None
        self.changed = asyncio.Event()
        self.connected = asyncio.Event()
        self.on_event = on_event
        self.error: BaseException | None = None

    async def open(self) -> Board:
        self.task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        try:
            while not await self._stream():  # 503: the server is briefly unavailable; retry, as EventSource does
                await asyncio.sleep(1)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - kept for the test to see
            self.error = exc
            self.changed.set()

    async def _stream(self) -> bool:
        """One SSE connection until it ends; False when the server answered 503 (try again)."""
        async with self.client.stream("GET", self.url, headers={**self.headers, "Accept": "text/event-stream"},
                                      timeout=httpx.Timeout(10, read=None)) as r:
            if r.status_code == 503:
                return False
            if r.status_code != 200:
                raise RuntimeError(f"SSE {self.url}: {r.status_code} {(await r.aread())[:300]!r}")
            self.connected.set()
            name, data = "message", []
            async for line in r.aiter_lines():
                if line == "":
                    if data:
                        text = "\n".join(data)
                        self.raw.append(text)
                        payload = json.loads(text)
                        self.events.append((name, payload, time.time()))
                        if self.on_event:
                            self.on_event(self, name, payload)
                        self.changed.set()
                    name, data = "message", []
                elif line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip(" "))
        return True

    async def close(self) -> None:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task

    # -- what the board shows

    @property
    def last_snapshot(self) -> dict[str, Any] | None:
        for name, data, _ in reversed(self.events):
            if name == "snapshot":
                return data
        return None

    @property
    def version(self) -> int:
        return self.events[-1][1]["version"] if self.events else 0

    def bids(self) -> list[dict[str, Any]]:
        """The bid sequence this board has shown: the last snapshot's bids plus the bid events after it."""
        out: dict[int, dict[str, Any]] = {}
        for name, data, _ in self.events:
            if name == "snapshot":
                for b in data.get("bids", []):
                    out[b["seq"]] = b
            elif name == "bid":
                out[data["seq"]] = data
        return [out[k] for k in sorted(out)]

    @property
    def state(self) -> str | None:
        snap = self.last_snapshot
        return snap["state"] if snap else None

    @property
    def you(self) -> dict[str, Any] | None:
        for _name, data, _ in reversed(self.events):
            if "you" in data:
                return data["you"]
        return None

    async def wait(self, predicate: Callable[[Board], bool], timeout: float = 60) -> None:
        """Until `predicate(self)` holds; the timeout (generous: another process sends the events) fails."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if self.error is not None:
                raise RuntimeError(f"board failed: {self.error!r}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"board {self.url}: condition not met; last events {self.events[-3:]}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=min(left, 0.5))
