"""A clock a test shares with the live servers it starts, so a real-time auction moves when the test says.

The test process installs a `SharedClock` (a FixedClock that writes each setting to a file); the servers run
as `python -m tests.live_clock CLOCK_FILE <uvicorn arguments>` and read that file on every `clock.now()`
(`FileClock`). An empty file is the system clock. Rooms notice a move within RESYNC_SECONDS
(tenders/auctions/live.py), so a test moves the clock, then waits for the event the move causes.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import uvicorn

from marketplace.core import clock


class FileClock:
    """The time written in `path` (ISO 8601), or the system time while the file is empty or missing."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def now(self) -> datetime:
        try:
            text = self.path.read_text().strip()
        except FileNotFoundError:
            text = ""
        return datetime.fromisoformat(text) if text else datetime.now(UTC)


class SharedClock(clock.FixedClock):
    """A FixedClock whose every setting is also written to `path` for the servers' FileClock."""

    def __init__(self, path: Path, at: datetime) -> None:
        self.path = path
        super().__init__(at)
        self._write()

    def set(self, at: datetime) -> None:
        super().set(at)
        self._write()

    def advance(self, **delta: float) -> datetime:
        at = super().advance(**delta)
        self._write()
        return at

    def _write(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(self.now().isoformat())
        os.replace(tmp, self.path)  # a reader sees the old time or the new one, never half a line

    def release(self) -> None:
        """Back to the system clock, here and in the servers."""
        self.path.write_text("")
        clock.reset()


if __name__ == "__main__":
    clock.install(FileClock(Path(sys.argv[1])))
    uvicorn.main(sys.argv[2:])
