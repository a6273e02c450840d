"""The portal's tests run on the demo data: seeded once per module (every seeder, as `marketplace seed
--demo` does), the outbox drained so that search and oversight's read models are up to date."""

from __future__ import annotations

import random
from typing import Any

import pytest

from marketplace import seed
from marketplace.core import db, outbox
from tests import waiting
from tests.oversight.helpers import sync_red_flags


async def drain_everything() -> None:
    from marketplace import worker

    worker.gather()  # imports every domain's jobs, registering their outbox consumers

    async def settled() -> bool:  # another session's transaction may hold the watermark back
        results = await outbox.drain_all()
        return not any(r.held_back or r.busy or r.delivered for r in results.values())

    await waiting.until(settled, "every outbox consumer to be drained")


async def seed_site(settings: Any) -> seed.Demo:
    from tests.conftest import _truncate

    await _truncate()
    demo = seed.Demo(rng=random.Random(seed.DEFAULT_SEED))
    demo.extra["settings"] = settings
    async with db.unit_of_work():
        with seed._hash_demo_password_once():
            for ref in seed.SEEDERS:
                await seed._load(ref)(demo)
    await drain_everything()
    try:
        from marketplace.oversight.awards import service as history
    except ImportError:
        return demo
    async with db.unit_of_work():
        await history.rebuild()
    await sync_red_flags(settings, fences=True)
    return demo


@pytest.fixture(scope="module")
async def site(_client, settings):
    """The HTTP client over a database holding the demo data (shared by the module's tests: read only)."""
    await seed_site(settings)
    return _client
