"""The demo seed's evaluation and award step: tenders evaluated, awarded, appealed, consented, desierto."""

from __future__ import annotations

import random

from marketplace import seed as seed_mod
from marketplace.core import db
from tenders.awards import seed as award_seed


async def _register_demo_suppliers(demo) -> None:
    """What the suppliers seeder does before this step: seed_core's suppliers in the registry, active."""
    for org in demo.orgs["supplier"]:
        async with db.unit_of_work(join=True):  # inside the seed's transaction or alone
            await db.execute("INSERT INTO supplier (organisation_id, ruc, legal_name, ubigeo, person_type, mype,"
                             " status) VALUES ($1, $2, $3, $4, 'company', $5, 'active')", org.id, org.ruc, org.name,
                             org.ubigeo, org.ubigeo.startswith("08"))


async def test_demo_seed_has_awards_in_every_state(client, settings):
    demo = seed_mod.Demo(rng=random.Random(2026))
    demo.extra["settings"] = settings
    async with db.unit_of_work():
        with seed_mod._hash_demo_password_once():
            await seed_mod.seed_core(demo)
            await _register_demo_suppliers(demo)
            await award_seed.seed(demo)
    awards = {r["state"] for r in await db.fetch("SELECT state FROM award")}
    assert awards == {"consented", "standstill", "appealed"}
    lots = {r["state"] for r in await db.fetch("SELECT state FROM tender_lot")}
    assert {"awarded", "unsuccessful", "evaluation"} <= lots
    assert (await db.fetchrow("SELECT count(*) AS n FROM award_appeal WHERE state = 'filed'"))["n"] == 1
    sheets = await db.fetch("SELECT outcome FROM score_sheet")
    assert {s["outcome"] for s in sheets} == {"awarded", "unsuccessful"}
    # The public can read them over HTTP.
    award = await db.fetchrow("SELECT id, tender_id FROM award WHERE state = 'standstill'")
    r = await client.get(f"/api/v1/awards/{award['id']}")
    assert r.status_code == 200 and r.json()["state"] == "standstill"
    r = await client.get(f"/api/v1/tenders/{award['tender_id']}/evaluation/score-sheets")
    assert r.status_code == 200 and r.json()[0]["sheet"]["bids"]


async def test_without_registered_suppliers_the_step_adds_nothing(client, settings):
    demo = seed_mod.Demo(rng=random.Random(2026))
    demo.extra["settings"] = settings
    async with db.unit_of_work():
        with seed_mod._hash_demo_password_once():
            await seed_mod.seed_core(demo)
            await award_seed.seed(demo)
    assert (await db.fetchrow("SELECT count(*) AS n FROM tender"))["n"] == 0
