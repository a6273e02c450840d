"""Keeping the indexes in step with PostgreSQL: the outbox consumer, `reindex` and `check`.

State-based: an event only says *which* offer or tender changed. The consumer reads that aggregate's
current state from PostgreSQL (through the owning domain's read functions) and writes what the index
should hold now: an offer's documents for the regions it serves, and deletes for every other region's id;
nothing at all when the offer is paused, its catalogue closed or its supplier suspended. So an event
applied twice, late, or out of order converges on the same index, and replaying the log is harmless.

The consumer (`search`) is registered with the outbox (marketplace.core.outbox): batches arrive in commit
order below the watermark, one drain at a time per consumer (advisory lock), and the cursor moves in the
same transaction as the PostgreSQL backend's writes. If the handler fails (the search engine is down, the
worker is killed) the batch is delivered again by the next drain; domain writes never wait for search.

`reindex(...)` rebuilds indexes from PostgreSQL, holding the consumer's lock so no drain interleaves (events
committed meanwhile are applied afterwards, to the latest state). `check(...)` compares an index with
PostgreSQL and reports missing, stale and extra documents; `repair=True` fixes them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import msgspec

from marketplace.core import db, geo, outbox
from search import domain
from search.domain import OfferDoc, TenderDoc
from search.protocol import KINDS, Kind, SearchIndex
from search.service import backend
from suppliers.catalog import events as offer_events
from tenders import service as tenders

log = logging.getLogger(__name__)

CONSUMER = "search"
TOPICS = ("offer.upserted", "offer.deleted", "tender.*")
PAGE = 500
BATCH = 100  # events per drain transaction: its writes hold the outbox watermark until it commits
ALL_REGIONS: tuple[str, ...] = tuple(r.code for r in geo.regions())
INDEXED_TENDER_STATES = frozenset({"published", "tendering", "opening", "evaluation", "awarded", "contracted",
                                   "cancelled", "unsuccessful"})

# ------------------------------------------------------------------------------------ building documents


def _attributes_text(attributes: dict[str, Any], brand: str) -> str:
    parts = [f"marca: {brand}"] if brand else []
    for key, value in sorted(attributes.items()):
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        parts.append(f"{key}: {value}")
    return "; ".join(parts)


def offer_docs(document: Any) -> list[OfferDoc]:
    """The search documents of one suppliers.catalog.events.OfferDocument: one per region served, none
    when it is not searchable (paused, catalogue closed, supplier not active, no region)."""
    if document is None or not document.searchable:
        return []
    common = dict(
        offer_id=str(document.offer_id), supplier_id=str(document.supplier_org_id),
        supplier_name=document.supplier_name, supplier_ubigeo=document.supplier_ubigeo,
        mype=bool(document.supplier_mype), supplier_status=document.supplier_status, name=document.name,
        description=" ".join(x for x in (document.description, document.catalog_name) if x),
        attributes=_attributes_text(document.attributes or {}, document.brand),
        classification=document.classification_code, unit=document.unit,
        catalogue_id=str(document.catalog_id),
    )
    return [
        domain.offer_doc(**common, region=r.region_code, price_cents=r.price_cents, currency=r.currency,
                         delivery_days=r.delivery_days, stock=r.stock)
        for r in document.regions
    ]


async def desired_offers(offer_ids: Sequence[str]) -> tuple[list[OfferDoc], list[str]]:
    """What the index should hold for these offers now: (documents to upsert, ids to delete)."""

    ids = []
    for raw in offer_ids:
        try:
            ids.append(UUID(str(raw)))
        except ValueError:
            log.warning("ignoring an offer event with a malformed id %r", raw)
    found = {str(d.offer_id): d for d in await offer_events.offer_documents(offer_ids=ids)}
    upserts: list[OfferDoc] = []
    deletes: list[str] = []
    for oid in (str(i) for i in ids):
        docs = offer_docs(found.get(oid))
        upserts.extend(docs)
        served = {d.region for d in docs}
        deletes.extend(domain.doc_id(oid, r) for r in ALL_REGIONS if r not in served)
    return upserts, deletes


def tender_doc(t: dict[str, Any], lots: list[dict[str, Any]], agency: dict[str, Any] | None) -> TenderDoc | None:
    if t["state"] not in INDEXED_TENDER_STATES:
        return None
    ubigeo = next((lot["delivery_ubigeo"] for lot in lots if lot.get("delivery_ubigeo")), None) \
        or (agency or {}).get("ubigeo") or ""
    deadline = t.get("submission_deadline")
    published = t.get("published_at")
    values = [lot["estimated_value"] for lot in lots if lot.get("estimated_value") is not None]
    return domain.tender_doc(
        tender_id=str(t["id"]), ocid=t.get("ocid") or "", title=t["title"], description=t.get("description") or "",
        agency_id=str(t["agency_id"]), agency_name=(agency or {}).get("name", ""), method=t["method"],
        category="consultancy" if t.get("consultancy") else t["category"], state=t["state"], ubigeo=ubigeo,
        classification=lots[0]["classification_code"] if lots else "",
        estimated_value_cents=sum(values) if values else None, currency=t.get("currency") or "PEN",
        closing_at=deadline.isoformat() if deadline else None,
        closing_ts=int(deadline.timestamp()) if deadline else None,
        published_at=published.isoformat() if published else None,
        lots_text=" ".join(f"{lot['title']} {lot.get('description') or ''} {lot['classification_code']}"
                           for lot in lots),
    )


async def desired_tenders(tender_ids: Sequence[str]) -> tuple[list[TenderDoc], list[str]]:
    """The documents of these tenders as they are now, read in three round trips whatever their number (the
    consumer keeps up with a stream of amendments), and the ids to delete (gone, or not public)."""

    ids: dict[str, UUID] = {}
    deletes: list[str] = []
    for raw in tender_ids:
        try:
            ids[str(raw)] = UUID(str(raw))
        except ValueError:
            deletes.append(str(raw))
    found = await tenders.load_many(tender_ids=list(ids.values()))
    agencies = {r["id"]: r for r in await db.fetch(
        "SELECT id, name, ubigeo FROM organisation WHERE id = ANY($1::uuid[])",
        list({t["agency_id"] for t, _ in found.values()}))}
    upserts: list[TenderDoc] = []
    for raw, tid in ids.items():
        t, lots = found.get(tid, (None, []))
        doc = tender_doc(t, lots, agencies.get(t["agency_id"])) if t is not None else None
        if doc is None:
            deletes.append(raw)
        else:
            upserts.append(doc)
    return upserts, deletes


async def apply(index: SearchIndex, kind: Kind, ids: Sequence[str]) -> None:
    """Bring these aggregates' documents up to date: upsert what they are now, then delete what they are
    not (in that order, so an offer moving between regions is never missing from both)."""
    if not ids:
        return
    upserts, deletes = await (desired_offers(ids) if kind == "offers" else desired_tenders(ids))
    await index.upsert(kind, upserts)
    await index.delete(kind, deletes)


# ---------------------------------------------------------------------------------------- the consumer


def changed(events: Iterable[outbox.OutboxEvent]) -> dict[Kind, list[str]]:
    """The aggregates a batch touches, each once, in the order of its last event."""
    order: dict[Kind, dict[str, None]] = {"offers": {}, "tenders": {}}
    for e in events:
        kind: Kind | None = "offers" if e.aggregate_type == "offer" else \
            "tenders" if e.aggregate_type == "tender" else None
        if kind is None:
            continue
        order[kind].pop(e.aggregate_id, None)
        order[kind][e.aggregate_id] = None
    return {k: list(v) for k, v in order.items()}


async def handle(events: list[outbox.OutboxEvent]) -> None:
    """The outbox consumer: re-read each changed offer or tender and write its current documents."""

    index = backend()
    for kind, ids in changed(events).items():
        for start in range(0, len(ids), PAGE):
            await apply(index, kind, ids[start:start + PAGE])


def register() -> None:
    """Register the consumer with the outbox (idempotent). search.jobs calls it on import."""
    outbox.consumer(CONSUMER, topics=TOPICS, batch_size=BATCH)(handle)


# ------------------------------------------------------------------------------------- reindex and check

Progress = Callable[[str, int, int | None], None]  # (kind, done so far, total or None)


async def _offer_pages() -> AsyncIterator[tuple[list[OfferDoc], int]]:
    after: UUID | None = None
    while True:
        page = await offer_events.iter_offer_documents(after=after, limit=PAGE)
        if not page:
            return
        yield [d for doc in page for d in offer_docs(doc)], len(page)
        after = page[-1].offer_id


async def _tender_pages() -> AsyncIterator[tuple[list[TenderDoc], int]]:
    after = ""
    while True:
        # The ids of the tenders there are (read-only); each one's state is read through tenders.service.
        rows = await db.fetch("SELECT id::text AS id FROM tender WHERE state <> 'draft' AND id::text > $1"
                              " ORDER BY id::text LIMIT $2", after, PAGE)
        if not rows:
            return
        docs, _ = await desired_tenders([r["id"] for r in rows])
        yield docs, len(rows)
        after = rows[-1]["id"]


async def _count(kind: Kind) -> int | None:
    try:
        if kind == "offers":
            row = await db.fetchrow("SELECT count(*) AS n FROM offer")
        else:
            row = await db.fetchrow("SELECT count(*) AS n FROM tender WHERE state <> 'draft'")
        return int(row["n"]) if row else None
    except Exception:  # only for the progress bar
        return None


def _pages(kind: Kind) -> AsyncIterator[tuple[Sequence[OfferDoc | TenderDoc], int]]:
    return _offer_pages() if kind == "offers" else _tender_pages()


@asynccontextmanager
async def consumer_paused() -> AsyncIterator[None]:
    """Hold the search consumer's drain lock (drains return at once, their events wait) for a rebuild."""
    conn = await db.DB.get_new_connection()  # a session lock: a connection of its own (pooled ones keep none)
    try:
        await conn.execute("SELECT pg_advisory_lock($1, hashtext($2))", outbox.DRAIN_LOCK, CONSUMER)
        yield
    finally:
        await conn.close()  # ends the session, and its lock with it


class ReindexResult(msgspec.Struct):
    kind: str
    indexed: int = 0
    removed: int = 0


async def reindex(index: SearchIndex, kinds: Sequence[Kind] = KINDS, *,
                  progress: Progress | None = None) -> list[ReindexResult]:
    """Rebuild indexes from PostgreSQL: settings first, then every document, then remove what is no longer
    there. The index keeps answering throughout (documents are replaced, not dropped first)."""
    await index.configure()
    results = []
    async with consumer_paused():
        for kind in kinds:
            result = ReindexResult(kind=kind)
            before = set((await index.digests(kind)).keys())
            seen: set[str] = set()
            total = await _count(kind)
            done = 0
            if progress:
                progress(kind, 0, total)
            async for docs, n in _pages(kind):
                async with db.unit_of_work():
                    await index.upsert(kind, docs)
                seen.update(d.id for d in docs)
                result.indexed += len(docs)
                done += n
                if progress:
                    progress(kind, done, total)
            stale = sorted(before - seen)
            async with db.unit_of_work():
                await index.delete(kind, stale)
                rebuild = getattr(index, "rebuild_vocabulary", None)
                if rebuild is not None:
                    await rebuild(kind)
            result.removed = len(stale)
            results.append(result)
    return results


class Drift(msgspec.Struct):
    kind: str
    indexed: int = 0
    expected: int = 0
    missing: list[str] = []
    stale: list[str] = []
    extra: list[str] = []
    repaired: bool = False

    @property
    def clean(self) -> bool:
        return not (self.missing or self.stale or self.extra)


async def check(index: SearchIndex, kinds: Sequence[Kind] = KINDS, *, repair: bool = False) -> list[Drift]:
    """Compare each index with what PostgreSQL says it should hold; with `repair`, write the difference."""
    out = []
    for kind in kinds:
        actual = await index.digests(kind)
        expected: dict[str, Any] = {}
        async for docs, _ in _pages(kind):
            expected.update((d.id, d) for d in docs)
        drift = Drift(kind=kind, indexed=len(actual), expected=len(expected))
        drift.missing = sorted(set(expected) - set(actual))
        drift.extra = sorted(set(actual) - set(expected))
        drift.stale = sorted(i for i in set(expected) & set(actual) if expected[i].digest != actual[i])
        if repair and not drift.clean:
            async with db.unit_of_work():
                await index.upsert(kind, [expected[i] for i in drift.missing + drift.stale])
                await index.delete(kind, drift.extra)
            drift.repaired = True
        out.append(drift)
    return out
