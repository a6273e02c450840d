"""One clock per request or job. Tests move time by installing a FixedClock.

Deadline decisions read `now()` inside the writing transaction, after the tender row's lock is held,
so a closing sweep and a late bid are ordered by the lock and judged by one clock.
"""

from __future__ import annotations

import contextvars
from datetime import UTC, datetime, timedelta
from typing import Protocol

UTC = UTC


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock tests set and advance. Thread- and task-safe enough for tests (a single value)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at.astimezone(UTC)

    def advance(self, **delta: float) -> datetime:
        self._at += timedelta(**delta)
        return self._at


_default: Clock = SystemClock()
_current: contextvars.ContextVar[Clock | None] = contextvars.ContextVar("clock", default=None)


def now() -> datetime:
    """The current UTC time by the clock in force."""
    return (_current.get() or _default).now()


def install(clock: Clock) -> None:
    """Install a process-wide clock (tests, and the server started by tests)."""
    global _default
    _default = clock


def reset() -> None:
    install(SystemClock())


def use(clock: Clock) -> contextvars.Token[Clock | None]:
    """Use `clock` in this task only."""
    return _current.set(clock)
