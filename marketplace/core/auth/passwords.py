"""Argon2 off the event loop: a few hashing threads per process and a bounded wait for them.

Argon2id is slow on purpose (tens of milliseconds and 64 MiB a hash). Run on the event loop, every sign-in
(and every sign-in with an unknown email, which verifies a dummy hash so that timing does not reveal which
emails exist) stopped the whole process, bids and their clock readings included (issue 17, finding 1). Here
the hash runs on a ThreadPoolExecutor of PASSWORD_HASH_WORKERS threads (argon2-cffi releases the GIL, so the
loop keeps serving while they hash); at most PASSWORD_HASH_QUEUE more wait in the executor's queue, off the
loop. A request beyond them is refused at once with 503 and Retry-After instead of queueing without end:
a storm of sign-ins costs at most that many hashes' worth of waiting and never touches the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from marketplace.core.errors import Unavailable
from marketplace.core.i18n import N_

T = TypeVar("T")

DEFAULT_WORKERS = 1
DEFAULT_QUEUE = 32


# Hashing threads run at the lowest CPU priority (Linux schedules each thread on its own policy and nice
# value, and the threads libargon2 starts for its lanes inherit both): SCHED_IDLE, so that a thread of the
# event loop (bids, and their clock readings) or of PostgreSQL waking up takes a core from a hash at once,
# and nice 19 where SCHED_IDLE is off.
DEFAULT_NICENESS = 19
DEFAULT_IDLE = True
# Priority does not share out what a hash takes besides CPU: 64 MiB of memory traffic a hash evicts the caches
# the loop and PostgreSQL run from. So hashes are also paced: at most PASSWORD_HASH_PER_SECOND start per
# second in a process (`pace()`: a hashing thread waits for its slot, off the loop; the queue's bound still
# answers 503 beyond it). bench/login_storm.py on a quiet machine, median bids p99 during a storm over without it
# (7 rounds each): no pacing (~6 hashes/s) 1.44; 2/s 1.16 and 1.27; 1/s 1.17; a control run without any
# storm 1.00. The goal is 1.20.
DEFAULT_PER_SECOND = 1


class Pacer:
    """Hash start times at least 1/`per_second` apart (0: no pacing). `wait()` takes the next slot and says
    how long the calling thread must wait for it; `now` is the clock (a test gives its own)."""

    def __init__(self, per_second: float, now: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1 / per_second if per_second > 0 else 0.0
        self._now = now
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> float:
        if not self.interval:
            return 0.0
        with self._lock:
            now = self._now()
            start = max(now, self._next)
            self._next = start + self.interval
            return start - now


def _lower_priority(niceness: int, idle: bool) -> None:
    # not Linux, or not allowed: the threads keep the process's priority
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    if idle:
        with contextlib.suppress(AttributeError, OSError):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # 0: this thread (Linux)


def _executor(workers: int, niceness: int, idle: bool) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2", initializer=_lower_priority,
                              initargs=(niceness, idle))


class Busy(Unavailable):
    type = "password-hashing-busy"


class Hold:
    """Test seam (see `held()`): hashing threads stop before hashing until the block is left. `busy` is set,
    on the loop that entered the block, once `count` threads are waiting there; `full` once every thread
    and queue place is taken (the next request is refused)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, count: int) -> None:
        self.loop, self.count = loop, count
        self.entered = 0
        self.busy = asyncio.Event()
        self.full = asyncio.Event()
        self.released = threading.Event()
        self._lock = threading.Lock()

    def enter(self) -> None:  # on a hashing thread
        with self._lock:
            self.entered += 1
            if self.entered == self.count:
                self.loop.call_soon_threadsafe(self.busy.set)
        self.released.wait()


class Hasher:
    """The process's hashing threads and its admission count."""

    def __init__(self, workers: int = DEFAULT_WORKERS, queue: int = DEFAULT_QUEUE,
                 niceness: int = DEFAULT_NICENESS, idle: bool = DEFAULT_IDLE,
                 per_second: float = DEFAULT_PER_SECOND) -> None:
        self.workers, self.queue, self.niceness, self.idle = workers, queue, niceness, idle
        self.per_second = per_second
        self.pacer = Pacer(per_second)
        self._executor = _executor(workers, niceness, idle)
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self.in_flight = 0  # running plus waiting
        self.hold: Hold | None = None  # only ever set by a test (held())

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """`fn(*args)` on a hashing thread. Busy (503, Retry-After) when every thread and queue place is taken."""
        with self._lock:
            if self.in_flight >= self.workers + self.queue:
                raise Busy(N_("Too many sign-ins are being checked at this moment; please retry in a moment"),
                           headers={"Retry-After": "1"})
            if self._pid != os.getpid():
                # A forked child (granian's workers, after the seed hashed in the parent) inherits an executor
                # whose threads exist only in the parent: work given to it would never run.
                self._executor = _executor(self.workers, self.niceness, self.idle)
                self._pid = os.getpid()
            self.in_flight += 1
            if self.hold is not None and self.in_flight == self.workers + self.queue:
                self.hold.full.set()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, self._call, fn, args)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _call(self, fn: Callable[..., T], args: tuple[object, ...]) -> T:
        hold = self.hold
        if hold is not None:
            hold.enter()
        return fn(*args)

    @contextlib.contextmanager
    def held(self) -> Iterator[Hold]:
        """Test seam: while held, every hashing thread stops before it hashes; `hold.busy` is set once all of
        them have stopped there. Leaving the block lets them go on."""
        hold = self.hold = Hold(asyncio.get_running_loop(), self.workers)
        try:
            yield hold
        finally:
            self.hold = None
            hold.released.set()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


_hasher = Hasher()


def configure(workers: int, queue: int, niceness: int = DEFAULT_NICENESS, idle: bool = DEFAULT_IDLE,
              per_second: float = DEFAULT_PER_SECOND) -> Hasher:
    """Size the process's hashing threads, set their priority and pace (the app's start-up, from Settings)."""
    global _hasher
    wanted = (workers, queue, niceness, idle, per_second)
    if wanted != (_hasher.workers, _hasher.queue, _hasher.niceness, _hasher.idle, _hasher.per_second):
        old, _hasher = _hasher, Hasher(*wanted)
        old.shutdown()
    return _hasher


def hasher() -> Hasher:
    return _hasher


def pace() -> None:
    """Wait for this hash's slot (PASSWORD_HASH_PER_SECOND). Called by the functions that really run Argon2,
    on a hashing thread, just before they do (not by Hasher.run: a stand-in that hashes nothing, such as the
    demo seed's, must not wait)."""
    if delay := _hasher.pacer.wait():
        time.sleep(delay)  # this hashing thread's slot (pacing, off the loop), not a synchronisation


async def run(fn: Callable[..., T], *args: object) -> T:
    """`fn(*args)` on the process's hashing threads (see Hasher.run)."""
    return await _hasher.run(fn, *args)
