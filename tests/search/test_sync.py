"""The outbox keeps the index in step with PostgreSQL: regional documents, pauses, suspensions, replays,
a sync killed mid-batch, a transaction that commits late; reindex and check.

Runs on every available backend (PostgreSQL here; Meilisearch where MEILI_URL is set)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from marketplace.core import clock, db
from marketplace.core.actor import SYSTEM
from marketplace.core.money import Money
from search import service, sync
from search.domain import CatalogQuery, Tier
from suppliers import service as suppliers
from suppliers.catalog import service as catalog
from suppliers.catalog.schemas import OfferCreate, RegionOfferInput
from tests.search.helpers import drain, offer, product
from tests.suppliers.factories import active_supplier


@pytest.fixture
async def index(backend):
    previous = service.use_backend(backend)
    yield backend
    service.use_backend(previous)


async def ids(index, q="", **kw) -> list[str]:
    return [h.id for h in (await index.search_offers(CatalogQuery(q=q, limit=100, **kw))).hits]


async def test_an_offer_is_indexed_once_per_region_served_with_that_regions_price(settings, index):
    sup = await active_supplier(settings, ubigeo="080101")
    sheet = await product("Computadora portátil", attributes={"ram": "16 GB"})
    offer_id = await offer(sup.org_id, sheet, {"08": 250_000, "21": 265_000})
    assert (await drain()).delivered >= 1

    page = await index.search_offers(CatalogQuery(q="computadora", limit=10))
    assert sorted((h.doc["region"], h.doc["price_cents"]) for h in page.hits) == [("08", 250_000), ("21", 265_000)]
    page = await index.search_offers(CatalogQuery(q="computadora portatil", ubigeo="080101"))
    assert [(h.doc["offer_id"], h.tier) for h in page.hits] == [(str(offer_id), Tier.SAME_PROVINCE)]
    assert await ids(index, "16 gb ram") != []


async def test_paused_offer_leaves_the_index_and_comes_back(settings, index):
    sup = await active_supplier(settings, ubigeo="150101")
    offer_id = await offer(sup.org_id, await product("Silla ergonómica"), {"15": 30_000})
    await drain()
    assert len(await ids(index, "silla")) == 1
    async with db.unit_of_work():
        await catalog.set_offer_status(actor=SYSTEM, offer_id=offer_id, status="paused")
    await drain()
    assert await ids(index, "silla") == []
    async with db.unit_of_work():
        await catalog.set_offer_status(actor=SYSTEM, offer_id=offer_id, status="active")
    await drain()
    assert len(await ids(index, "silla")) == 1


async def test_a_suspended_suppliers_offers_are_gone(settings, index):
    bad = await active_supplier(settings, ubigeo="080101")
    good = await active_supplier(settings, ubigeo="150101")
    sheet = await product("Impresora láser")
    await offer(bad.org_id, sheet, {"08": 90_000, "15": 95_000})
    kept = await offer(good.org_id, sheet, {"08": 99_000})
    await drain()
    assert len(await ids(index, "impresora")) == 3
    async with db.unit_of_work():
        await suppliers.change_status(actor=SYSTEM, org_id=bad.org_id, status="suspended", reason="sanción",
                                      until=clock.now() + timedelta(days=30))
    await drain()
    page = await index.search_offers(CatalogQuery(q="impresora", limit=10))
    assert [h.doc["offer_id"] for h in page.hits] == [str(kept)]


async def test_replaying_every_event_converges_to_the_same_index(settings, index):
    sup = await active_supplier(settings, ubigeo="080101")
    offer_id = await offer(sup.org_id, await product("Escritorio de melamina"), {"08": 50_000})
    async with db.unit_of_work():
        await catalog.set_offer_status(actor=SYSTEM, offer_id=offer_id, status="paused")
    await drain()
    assert await ids(index, "escritorio") == []
    before = await index.digests("offers")
    async with db.unit_of_work():
        await db.execute("DELETE FROM outbox_cursor WHERE consumer = $1", sync.CONSUMER)  # replay from the start
    result = await drain()
    assert result.delivered >= 2 and not result.failed
    assert await index.digests("offers") == before
    assert await ids(index, "escritorio") == []


async def test_sync_killed_between_two_events_converges_on_the_next_drain(settings, index, monkeypatch):
    sup = await active_supplier(settings, ubigeo="080101")
    first = await offer(sup.org_id, await product("Proyector multimedia"), {"08": 120_000})
    second = await offer(sup.org_id, await product("Pizarra acrílica"), {"08": 40_000})

    real_apply, calls = sync.apply, []

    async def dies_after_the_first(index_, kind, ids_):
        calls.append(list(ids_))
        if len(calls) > 1:
            raise RuntimeError("worker killed")
        await real_apply(index_, kind, ids_)

    monkeypatch.setattr(sync, "PAGE", 1)  # one aggregate at a time, so the failure falls between the two
    monkeypatch.setattr(sync, "apply", dies_after_the_first)
    result = await drain()
    assert result.failed and len(calls) == 2
    monkeypatch.undo()

    result = await drain()  # the batch comes again, whole; state-based writes make that harmless
    assert not result.failed
    found = {h.doc["offer_id"] for h in (await index.search_offers(CatalogQuery(limit=10))).hits}
    assert found == {str(first), str(second)}


async def test_a_transaction_that_commits_late_is_not_skipped(settings, index):
    sup = await active_supplier(settings, ubigeo="080101")
    late_sheet = await product("Cuaderno anillado")
    early_sheet = await product("Lapicero azul")
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_writer():
        # Takes its transaction id first (its INSERT), then stays open while a later one commits.
        async with db.unit_of_work():
            await catalog.create_offer(actor=SYSTEM, supplier_id=sup.org_id, data=_offer_data(late_sheet))
            started.set()
            await release.wait()

    task = asyncio.create_task(slow_writer())
    await started.wait()
    await offer(sup.org_id, early_sheet, {"08": 1_500})  # commits while the slow one is still open
    result = await drain(wait=False)
    assert result.held_back  # the later commit waits behind the open transaction: no cursor jump
    release.set()
    await task
    result = await drain()
    assert not result.held_back
    assert len(await ids(index, "cuaderno")) == 1 and len(await ids(index, "lapicero")) == 1


def _offer_data(sheet_id):
    return OfferCreate(product_sheet_id=sheet_id,
                       regions=[RegionOfferInput(region_code="08", price=Money(amount=900), delivery_days=2, stock=5)])


async def test_check_reports_drift_and_repair_fixes_it(settings, index):
    sup = await active_supplier(settings, ubigeo="080101")
    a = await offer(sup.org_id, await product("Mesa de reuniones"), {"08": 300_000})
    await offer(sup.org_id, await product("Archivador metálico"), {"08": 80_000, "05": 82_000})
    await drain()
    assert all(d.clean for d in await sync.check(index, ["offers"]))

    # Drift: a document lost, one stale, one that should not be there.
    async with db.unit_of_work():
        await index.delete("offers", [f"{a}_08"])
    archivador = (await index.search_offers(CatalogQuery(q="archivador", regions=("05",)))).hits[0]
    from search.domain import offer_doc
    stale = offer_doc(**{k: v for k, v in archivador.doc.items() if k not in ("id", "digest")} | {"price_cents": 1})
    ghost = offer_doc(**{k: v for k, v in archivador.doc.items() if k not in ("id", "digest")} | {
        "offer_id": "00000000-0000-0000-0000-000000000000", "region": "25"})
    async with db.unit_of_work():
        await index.upsert("offers", [stale, ghost])

    [drift] = await sync.check(index, ["offers"])
    assert drift.missing == [f"{a}_08"] and drift.stale == [stale.id] and drift.extra == [ghost.id]
    [drift] = await sync.check(index, ["offers"], repair=True)
    assert drift.repaired
    assert all(d.clean for d in await sync.check(index, ["offers"]))


async def test_reindex_rebuilds_from_postgresql(settings, index):
    sup = await active_supplier(settings, ubigeo="080101")
    await offer(sup.org_id, await product("Computadora de escritorio"), {"08": 300_000, "21": 310_000})
    await offer(sup.org_id, await product("Monitor LED 24 pulgadas"), {"08": 60_000})
    async with db.unit_of_work():
        await index.clear("offers")
    seen = []
    results = await sync.reindex(index, ["offers"], progress=lambda kind, done, total: seen.append((done, total)))
    assert results[0].indexed == 3 and seen[-1] == (2, 2)
    assert len(await ids(index, "computadra")) == 2  # the vocabulary was rebuilt too: typos still found
    assert all(d.clean for d in await sync.check(index, ["offers"]))


async def test_search_engine_down_writes_succeed_and_the_index_catches_up(client, settings):
    from search.backends.meili import MeiliIndex
    from search.backends.postgres import PostgresIndex

    # A Meilisearch that does not answer (nothing listens on port 9): a real outage, not an imitation.
    down = MeiliIndex("http://127.0.0.1:9", timeout_s=1)
    previous = service.use_backend(down)
    try:
        sup = await active_supplier(settings, ubigeo="080101")
        offer_id = await offer(sup.org_id, await product("Grupo electrógeno"), {"08": 900_000})  # the write succeeds
        result = await drain()
        assert result.failed and result.delivered == 0  # the batch stays behind the cursor
        r = await client.get("/api/v1/catalog/search", params={"q": "grupo"})
        assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
        # The engine answers again (here: the PostgreSQL backend takes over); the next drain catches up.
        service.use_backend(PostgresIndex())
        assert not (await drain()).failed
        r = await client.get("/api/v1/catalog/search", params={"q": "grupo electrogeno"})
        assert [i["offer_id"] for i in r.json()["items"]] == [str(offer_id)]
    finally:
        await down.close()
        service.use_backend(previous)
