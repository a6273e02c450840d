"""The demo seed has tenders in every state up to evaluation, with sealed bids and openings."""

from marketplace import seed
from marketplace.core import db


async def test_demo_seed_has_tenders_in_every_state(client, settings):
    demo = seed.Demo(rng=__import__("random").Random(7))
    demo.extra["settings"] = settings
    async with db.unit_of_work():
        with seed._hash_demo_password_once():
            for ref in seed.SEEDERS:
                if not ref.startswith("tenders.awards"):
                    await seed._load(ref)(demo)
    states = {r["state"]: r["n"] for r in await db.fetch("SELECT state, count(*) AS n FROM tender GROUP BY state")}
    for state in ("draft", "published", "tendering", "opening", "evaluation", "cancelled", "unsuccessful"):
        assert states.get(state), (state, states)
    sealed = await db.fetchrow("SELECT count(*) AS n FROM bid WHERE opened_at IS NULL")
    opened = await db.fetchrow("SELECT count(*) AS n FROM bid WHERE opened_at IS NOT NULL")
    assert sealed["n"] >= 6 and opened["n"] >= 4
    assert (await db.fetchrow("SELECT count(*) AS n FROM tender_opening"))["n"] >= 2
    assert (await db.fetchrow("SELECT count(*) AS n FROM tender_amendment WHERE material"))["n"] == 1
    assert (await db.fetchrow("SELECT count(*) AS n FROM tender_enquiry WHERE answer IS NOT NULL"))["n"] == 1
    r = await client.get("/api/v1/tenders/" + str((await db.fetchrow(
        "SELECT id FROM tender WHERE state = 'evaluation'"))["id"]) + "/opening")
    assert r.status_code == 200 and r.json()["bid_count"] == 4
