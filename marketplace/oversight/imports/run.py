"""`import_paths()`: files and folders of OCDS into the database (what `marketplace ocds import` runs).

Reading and preparing (parse, upgrade, hash: CPU in this process) overlaps with writing (PostgreSQL's CPU):
while one batch is written, the next is read. At most two batches are in memory at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from marketplace.oversight.imports import read
from marketplace.oversight.imports.service import Importer, Report

YIELD_EVERY = 64  # items read between two chances for the batch being written to make progress
# The cyclic garbage collector during an import: a young generation this big (700 by default) and the objects
# alive when the import starts (modules, pools) frozen out of its passes. An import allocates millions of
# acyclic objects (parsed JSON) that reference counting frees; at the default threshold the collector ran
# about 500 times for 20,000 releases, 20% of the importer's CPU (python -m bench ocds-import, 20k releases).
GC_THRESHOLD = (20_000, 20, 100)


@contextlib.contextmanager
def gc_for_bulk() -> Iterator[None]:
    """Collect less often while a bulk import runs (GC_THRESHOLD), as it was before once it ends."""
    before = gc.get_threshold()
    freeze = gc.get_freeze_count() == 0  # else the process froze its own startup objects (a server, the worker)
    if freeze:
        gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if freeze:
            gc.unfreeze()


class Progress:
    """What a progress display is told (all optional)."""

    def file(self, start: read.FileStart) -> None: ...

    def advance(self, position: int) -> None: ...

    def refused(self, refusal: read.Refusal) -> None: ...

    def skipped(self, start: read.FileStart) -> None: ...


async def import_paths(paths: Iterable[Path], *, encoding: str | None = None, origin: str = "cli",
                       progress: Progress | None = None, batch_releases: int | None = None,
                       default_publisher: int | None = None, on_batch: Callable[[str], None] | None = None) -> Report:
    """Import `paths`; `on_batch` is called with its transaction id each time a batch has committed
    (projection.import_and_project)."""
    progress = progress or Progress()
    importer = _PipelinedImporter(origin=origin, default_publisher=default_publisher,
                                  on_refusal=progress.refused, **({"batch_releases": batch_releases}
                                                                  if batch_releases else {}))
    importer.on_batch = on_batch
    with gc_for_bulk():
        return await _import(paths, encoding, progress, importer)


async def _import(paths: Iterable[Path], encoding: str | None, progress: Progress,
                  importer: _PipelinedImporter) -> Report:
    files = skipped = 0
    position: Callable[[], int] | None = None
    n = 0
    try:
        for entry in read.read(paths, encoding=encoding):
            if isinstance(entry, read.FileStart):
                if entry.skipped:
                    skipped += 1
                    progress.skipped(entry)
                else:
                    files += 1
                progress.file(entry)
                position = entry.position
                continue
            await importer.add(entry)
            n += 1
            if n % YIELD_EVERY == 0:
                await asyncio.sleep(0)
                if position is not None:
                    progress.advance(position())
        report = await importer.close(files=files)
    except BaseException:
        await importer.abandon()
        raise
    report.files_skipped = skipped
    return report


class _PipelinedImporter(Importer):
    """An Importer whose batch is written by a task while the next one is read."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._writing: asyncio.Task[None] | None = None
        self.on_batch: Callable[[str], None] | None = None

    async def write(self, batch: Any) -> None:
        await super().write(batch)
        if self.on_batch is not None:
            self.on_batch(self.last_txid)

    async def flush(self) -> None:
        await self._wait()
        if self.run_id is None:
            await self.start()
        batch = self.take_batch()
        if batch is not None:
            self._writing = asyncio.create_task(self.write(batch))

    async def _wait(self) -> None:
        task, self._writing = self._writing, None
        if task is not None:
            await task

    async def close(self, *, files: int | None = None) -> Report:
        await self.flush()
        await self._wait()
        return await super().close(files=files)

    async def abandon(self) -> None:
        task, self._writing = self._writing, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):  # already failing: the first error is the one raised
                await task
