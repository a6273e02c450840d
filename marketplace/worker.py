"""The arq worker: every domain's jobs and crons, gathered here.

Each domain lists its jobs in `<domain>/jobs.py` as `FUNCTIONS` (arq functions) and `CRONS` (arq cron jobs);
add the module to JOB_MODULES below. Jobs may run more than once: each must be safe to.

* `worker_settings(settings)`: the arq Worker keyword arguments (a dict arq accepts as WorkerSettings).
* `run(settings)`: `marketplace worker`, a worker process (blocks; SIGINT/SIGTERM stop it).
* `await start_in_process(settings)`: the worker as a task inside the app's event loop (embedded mode);
  `await handle.close()` stops it.

Jobs reach the settings as `ctx["settings"]`. A standalone worker opens its own PostgreSQL pool and
enqueue pool on start-up; in-process, the app's pools are shared.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import logging
from typing import Any, cast

from arq.typing import WorkerCoroutine
from arq.worker import Function, Worker, func

from marketplace.core import db, outbox, queue, runtime
from marketplace.core.transactions import wrap_job
from search import service as search_service

log = logging.getLogger(__name__)

# One line per domain that has jobs.
JOB_MODULES: list[str] = [
    "marketplace.core.jobs",
    "suppliers.jobs",
    "search.jobs",
    "tenders.jobs",
    "tenders.awards.jobs",
    "tenders.auctions.jobs",
    "marketplace.payments.jobs",
    "marketplace.contracts.jobs",
    "marketplace.oversight.jobs",
    "marketplace.oversight.redflags.jobs",
]

# arq's defaults (poll_delay 0.5 s, max_jobs 10) cap a worker at about 200 jobs/s here; these do ~2,200.
POLL_DELAY = 0.05
MAX_JOBS = 100


def gather() -> tuple[list[Any], list[Any]]:
    """Every domain's jobs and crons, each body wrapped in one unit of work unless it is marked
    `own_transaction` (marketplace.core.transactions)."""
    functions: list[Any] = []
    crons: list[Any] = []
    for name in JOB_MODULES:
        module = importlib.import_module(name)
        for job in getattr(module, "FUNCTIONS", []):
            if isinstance(job, Function):
                # wrap_job keeps the job's call signature and __qualname__ (functools.wraps): still arq's shape
                wrapped = cast(WorkerCoroutine, wrap_job(job.coroutine))
                functions.append(dataclasses.replace(job, coroutine=wrapped))
            else:
                functions.append(wrap_job(job))
        crons.extend(dataclasses.replace(c, coroutine=wrap_job(c.coroutine)) for c in getattr(module, "CRONS", []))
    return functions, crons


async def run_job(name: str, ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    """Run the job or cron called `name` once, here, exactly as the worker would (in its unit of work unless
    it is marked own_transaction). For the CLI and tests."""
    functions, crons = gather()
    for job in [*functions, *crons]:
        coroutine = getattr(job, "coroutine", job)
        if getattr(job, "name", None) == name or getattr(coroutine, "__name__", None) == name:
            return await coroutine(ctx, *args, **kwargs)
    raise KeyError(f"no job named {name!r}")


def worker_settings(settings: Any, *, in_process: bool = False, **overrides: Any) -> dict[str, Any]:
    """arq Worker settings for `settings`. `overrides` win (tests pass `burst=True`, a queue name...)."""
    if not settings.redis_url:
        raise RuntimeError("REDIS_URL is not set: the worker needs Redis (`marketplace serve` starts an embedded one)")
    functions, crons = gather()
    functions = [func(f) for f in functions]  # plain coroutines become arq Functions (named after them)

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["settings"] = settings
        search_service.backend(settings)  # the outbox's search consumer uses the process's backend
        if in_process:
            return  # the app's lifespan owns the pools
        if not settings.database_url:
            raise RuntimeError("DATABASE_URL is not set: the worker needs PostgreSQL")
        await db.start(settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max,
                       replica_url=settings.database_replica_url)
        # Jobs enqueue other jobs after their commits (`queue.enqueue_after_commit`): give them a pool that
        # speaks our queue name (arq's own ctx["redis"] uses arq's default queue).
        try:
            await queue.start(settings.redis_url)
        except Exception as exc:  # noqa: BLE001 - the worker still runs; sweepers cover lost enqueues
            log.warning("enqueue pool unavailable (%s); follow-up jobs wait for the sweepers", exc)
        runtime.freeze_startup_objects()

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        await outbox.stop_drainers()  # before the pools close: a batch in flight rolls back, is delivered again
        if in_process:
            return
        await queue.stop()
        await db.stop()

    return {
        "functions": functions,
        "cron_jobs": crons,
        "redis_settings": queue.redis_settings(settings.redis_url),
        "queue_name": queue.QUEUE_NAME,
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "poll_delay": POLL_DELAY,
        "max_jobs": MAX_JOBS,
        # Results are never read; keeping none also lets coalescing jobs (fixed job ids) be enqueued
        # again as soon as they finish.
        "keep_result": 0,
        "job_timeout": 300,
        "health_check_interval": 60,
        "handle_signals": not in_process,
        **overrides,
    }


class _Worker(Worker):
    async def close(self) -> None:
        # On SIGTERM arq cancels the running jobs, then gathers them without return_exceptions: a job cancelled
        # while recording its result re-raises there, and a clean stop exits 1 without on_shutdown. Let them
        # finish being cancelled first (each leaves self.tasks when done), then close as arq does.
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        # arq forgets finished tasks only in its poll loop, which has stopped: its own gather would await the
        # cancelled ones again and raise.
        self.tasks.clear()
        await super().close()


def run(settings: Any) -> None:
    """`marketplace worker`: run a worker in this process until SIGINT or SIGTERM."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        worker = _Worker(**worker_settings(settings))
        worker.run()
    finally:
        asyncio.set_event_loop(None)
        loop.close()


class InProcessWorker:
    """An arq Worker running as a task of the current event loop."""

    def __init__(self, worker: Worker, task: asyncio.Task[None]) -> None:
        self.worker = worker
        self.task = task

    async def close(self) -> None:
        worker = self.worker
        worker.allow_pick_jobs = False
        for t in list(worker.tasks.values()):
            if not t.done():
                t.cancel()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
        await outbox.stop_drainers()
        # close(): the worker's own Redis pool (the app's lifespan owns the rest)
        if worker._pool is not None:
            with contextlib.suppress(Exception):
                await worker.pool.delete(worker.health_check_key)
            with contextlib.suppress(Exception):
                await worker.pool.aclose(close_connection_pool=True)
            worker._pool = None


async def start_in_process(settings: Any, **overrides: Any) -> InProcessWorker:
    """Start the worker inside the running event loop (embedded mode: one command, API and worker)."""
    worker = _Worker(**worker_settings(settings, in_process=True, **overrides))
    task = asyncio.create_task(worker.async_run(), name="arq-worker")

    def _report(t: asyncio.Task[None]) -> None:
        if not t.cancelled() and t.exception() is not None:
            log.error("the in-process worker stopped", exc_info=t.exception())

    task.add_done_callback(_report)
    return InProcessWorker(worker, task)
