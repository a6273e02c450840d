"""The suppliers' demo seed: suppliers in every region, a few thousand offers, the same every run."""

from __future__ import annotations

import random

from marketplace import seed as seed_mod
from marketplace.core import db, geo
from suppliers import seed as suppliers_seed


async def _run(seed: int = 2026):
    demo = seed_mod.Demo(rng=random.Random(seed))
    async with db.unit_of_work():
        with seed_mod._hash_demo_password_once():
            await seed_mod.seed_core(demo)
            await suppliers_seed.seed(demo)
    return demo


async def _snapshot():
    return await db.fetch(
        "SELECT s.ruc, s.legal_name, s.ubigeo, s.mype, s.status, p.name, r.region_code, r.price_cents, r.stock"
        " FROM offer o JOIN supplier s ON s.organisation_id = o.supplier_id"
        " JOIN product_sheet p ON p.id = o.product_sheet_id JOIN offer_region r ON r.offer_id = o.id"
        " ORDER BY s.ruc, p.name, r.region_code")


async def test_seed_has_suppliers_everywhere_and_thousands_of_offers(client):
    demo = await _run()
    regions = {r["region"] for r in await db.fetch(
        "SELECT DISTINCT left(ubigeo, 2) AS region FROM supplier WHERE status = 'active'")}
    assert regions == {r.code for r in geo.regions()}
    served = {r["region_code"] for r in await db.fetch("SELECT DISTINCT region_code FROM offer_region")}
    assert served == {r.code for r in geo.regions()}
    offers = (await db.fetchrow("SELECT count(*) AS n FROM offer"))["n"]
    assert 2000 <= offers <= 6000 and demo.extra["suppliers"]["offers"] == offers
    mix = await db.fetchrow("SELECT count(*) FILTER (WHERE mype) AS mype, count(*) FILTER (WHERE NOT mype) AS other,"
                            " count(*) FILTER (WHERE status = 'suspended') AS suspended,"
                            " count(*) FILTER (WHERE status = 'pending') AS pending FROM supplier")
    assert mix["mype"] > 20 and mix["other"] > 20 and mix["suspended"] == 1 and mix["pending"] == 2
    from stdnum.pe import ruc

    assert all(ruc.is_valid(r["ruc"]) for r in await db.fetch("SELECT ruc FROM supplier"))
    # every offer is announced to search
    announced = (await db.fetchrow(
        "SELECT count(DISTINCT aggregate_id) AS n FROM outbox WHERE topic LIKE 'offer.%'"))["n"]
    assert announced == offers
    first = await _snapshot()
    # deterministic: the same seed gives the same registry and prices
    async with db.unit_of_work():
        await db.execute("TRUNCATE organisation, app_user, supplier, supplier_status_change, catalog, product_sheet,"
                         " offer, offer_region, offer_price_change, alert_subscription, audit_event, outbox CASCADE")
    await _run()
    assert await _snapshot() == first
