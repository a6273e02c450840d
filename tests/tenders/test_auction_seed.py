"""The demo seed has a finished live auction (awarded on its final prices) and one scheduled to start."""

from marketplace import seed
from marketplace.core import db


async def test_demo_seed_has_a_finished_and_a_scheduled_auction(client, settings):
    demo = seed.Demo(rng=__import__("random").Random(7))
    demo.extra["settings"] = settings
    async with db.unit_of_work():
        with seed._hash_demo_password_once():
            for ref in seed.SEEDERS:
                if ref.startswith(("marketplace.seed", "suppliers.", "marketplace.agencies", "tenders.seed",
                                   "tenders.auctions")):
                    await seed._load(ref)(demo)
    assert demo.extra["auctions"] == ["finished", "scheduled"]
    rows = await db.fetch("SELECT id, state, extensions, award_state FROM auction ORDER BY starts_at")
    assert [(r["state"], r["award_state"]) for r in rows] == [("closed", "done"), ("scheduled", "none")]
    assert rows[0]["extensions"] >= 1
    finished = (await client.get(f"/api/v1/auctions/{rows[0]['id']}")).json()
    assert finished["state"] == "closed" and len(finished["bids"]) == 7
    assert finished["standings"][0]["supplier_name"] and finished["bids"][0]["supplier_name"]
    award = await db.fetchrow("SELECT value, supplier_id FROM award WHERE lot_id = (SELECT lot_id FROM auction"
                              " WHERE id = $1)", rows[0]["id"])
    assert finished["best_price"] == {"amount": award["value"], "currency": "PEN"}
    assert str(award["supplier_id"]) == finished["standings"][0]["supplier_id"]
    scheduled = (await client.get(f"/api/v1/auctions/{rows[1]['id']}")).json()
    assert scheduled["state"] == "scheduled" and not scheduled.get("bids")
