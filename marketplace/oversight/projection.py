"""The award history and stage times of imported processes, kept up to date from the compiled releases'
change feed (`marketplace.oversight.imports.queries.compiled_feed`).

`project_batch()` reads the compiled releases written after this reader's cursor (commit-safe: one that
commits late is read when it commits), and for each imported process replaces its rows in `award_history`
(awards/domain.py) and `ocds_stage_time` (stages/domain.py), matching its buyer and suppliers to registered
agencies and suppliers by RUC, then moves the cursor: all in the caller's transaction, so a batch is applied
exactly once. The work is proportional to what changed, never to the history's size, and reads stay plain
indexed queries on `award_history` at national scale.

Our own processes are in the feed too, and skipped: their award history rows come from the awards
themselves (consumers.py: states such as standstill or appealed, the lot and the place of delivery, which
their OCDS releases do not carry), and their stage times from the tenders' state changes.

It runs as the worker's `oversight_project_compiled` job every minute, after each harvest, and alongside
`marketplace ocds import` (`import_and_project()`: each committed batch is projected while the next is read),
so an import is in the award history when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
from pathlib import Path
from typing import Any

from marketplace.core import db
from marketplace.oversight import queries as q
from marketplace.oversight.awards import domain as awards
from marketplace.oversight.imports import domain as ocds
from marketplace.oversight.imports import queries as iq
from marketplace.oversight.imports.run import import_paths
from marketplace.oversight.imports.service import Report
from marketplace.oversight.stages import domain as stages

FEED = "oversight.compiled"
BATCH = 2000
OWN_SLUG = "mercado-abierto"
# An award row's fields, copied as they are (dataclasses.asdict deep-copies every UUID and datetime: a tenth
# of the projection's time).
AWARD_FIELDS = tuple(f.name for f in dataclasses.fields(awards.AwardRow))
# Set by import_and_project's follower: project only what transactions before this one wrote (see there).
_below: contextvars.ContextVar[str | None] = contextvars.ContextVar("projection_below", default=None)


async def project_batch(limit: int = BATCH) -> int:
    """Project the next batch of the feed (in the caller's transaction). Returns how many compiled releases
    it read (0: caught up)."""
    cursor = await q.lock_feed_cursor(FEED)
    rows = await iq.compiled_feed(txid=cursor.txid, seq=cursor.seq, limit=limit, below=_below.get())
    if not rows:
        return 0
    publishers = {p.id: p for p in await iq.publishers()}
    own_slug = next((p.slug for p in publishers.values() if p.own), OWN_SLUG)
    ocids: list[str] = []
    award_rows: list[tuple[str, awards.AwardRow]] = []
    spans: list[tuple[str, str, ocds.Summary, stages.Span]] = []
    for r in rows:
        p = publishers.get(r.publisher_id)
        if p is None or p.own:
            continue
        compiled = ocds.decode(r.data)
        if not isinstance(compiled, dict):
            continue
        ocids.append(r.ocid)
        summary = ocds.summarise(compiled)
        award_rows += [(p.slug, a) for a in awards.award_rows(r.ocid, compiled, summary)]
        spans += [(r.ocid, p.slug, summary, s) for s in stages.spans(compiled)]
    rucs = {a.agency_ruc for _, a in award_rows} | {a.supplier_ruc for _, a in award_rows} \
        | {s.buyer_ruc for _, _, s, _ in spans}
    orgs = {(o.kind, o.ruc): o.id for o in await q.organisations_by_ruc(sorted(r for r in rucs if r))}
    await q.replace_imported_awards(ocids, own_slug, [
        # the award as read from the release, plus what only this database knows: our ids for its RUCs
        q.ImportedAwardRow(**{f: getattr(a, f) for f in AWARD_FIELDS},
                           agency_id=orgs.get(("agency", a.agency_ruc or "")),
                           supplier_id=orgs.get(("supplier", a.supplier_ruc or "")), publisher=slug)
        for slug, a in award_rows])
    await q.replace_stage_times(ocids, [
        q.StageTimeRow(ocid=ocid, stage=span.stage, entered_at=span.entered_at, left_at=span.left_at,
                       publisher=slug, buyer_id=summary.buyer_id, buyer_name=summary.buyer_name,
                       agency_id=orgs.get(("agency", summary.buyer_ruc or "")),
                       method=summary.procurement_method[:32])
        for ocid, slug, summary, span in spans])
    await q.set_feed_cursor(FEED, q.FeedCursor(txid=rows[-1].txid, seq=rows[-1].seq))
    return len(rows)


async def catch_up(max_batches: int | None = None) -> int:
    """Project the feed until it is caught up, one transaction per batch (the caller must not hold one).
    Returns how many compiled releases were read."""
    total = n = 0
    while max_batches is None or n < max_batches:
        async with db.unit_of_work():
            done = await project_batch()
        total += done
        n += 1
        if done < BATCH:
            break
    return total


async def import_and_project(paths: list[Path], **kwargs: Any) -> tuple[Report, int]:
    """`import_paths(paths, **kwargs)` with the award history kept up to date while it runs: each committed
    batch wakes a follower that projects what is new (its own transactions), so the projection's waits on
    PostgreSQL overlap the import's work; a last catch-up follows the import. Returns (the import's report,
    how many compiled releases were projected).

    The follower stays a batch behind: woken by batch N's commit, it projects what transactions before batch N
    wrote. A process whose releases straddle batches N-1 and N (in a feed, most of a batch's processes go on
    in the next one) has its compiled release rewritten by batch N, so it is projected once, from its newer
    version, instead of twice (100,000 generated releases: 40,000 projections of 26,000 processes before)."""
    wake = asyncio.Event()
    done = False
    projected = 0
    latest = ""

    def committed(txid: str) -> None:
        nonlocal latest
        latest = txid
        wake.set()

    async def follow() -> None:
        nonlocal projected
        while not done:
            await wake.wait()
            wake.clear()
            _below.set(latest or None)  # in this task's context only: the last catch-up below reads it all
            projected += await catch_up()

    follower = asyncio.get_running_loop().create_task(follow())
    try:
        report = await import_paths(paths, on_batch=committed, **kwargs)
    except BaseException:
        follower.cancel()
        with contextlib.suppress(BaseException):  # the import's error is the one raised
            await follower
        raise
    done = True
    wake.set()
    await follower
    projected += await catch_up()
    return report, projected
