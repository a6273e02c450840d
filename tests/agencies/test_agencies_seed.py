"""The demo seed lists every demo agency with its level of government."""

from __future__ import annotations

import random

from marketplace import seed as demo_seed
from marketplace.agencies import seed as agencies_seed
from marketplace.core import db


async def test_demo_agencies_are_listed_with_their_level(client):
    async with db.unit_of_work():
        demo = demo_seed.Demo(rng=random.Random(7))
        with demo_seed._hash_demo_password_once():
            await demo_seed.seed_core(demo)
        await agencies_seed.seed(demo)
    page = (await client.get("/api/v1/agencies", params={"limit": 100})).json()
    assert len(page["items"]) == len(demo.orgs["agency"]) == len(demo_seed.AGENCIES)
    levels = {a["name"]: a["level"] for a in page["items"]}
    assert levels["Gobierno Regional del Cusco"] == "regional"
    assert levels["Municipalidad Provincial de Puno"] == "local"
    assert levels["Hospital Nacional Dos de Mayo"] == "national"
    assert all(a["ruc"] and a["ubigeo"] for a in page["items"])
