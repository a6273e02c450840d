"""Search test fixtures: every available backend behind the same SearchIndex protocol.

PostgreSQL always runs here. Meilisearch runs when MEILI_URL (and MEILI_API_KEY if the server needs one)
points at a real server; each test then gets its own indexes (a unique prefix), deleted afterwards.
"""

from __future__ import annotations

import os
import uuid

import pytest

MEILI_URL = os.environ.get("MEILI_URL")
needs_meili = pytest.mark.skipif(
    not MEILI_URL, reason="MEILI_URL is not set: the Meilisearch backend needs a real Meilisearch server"
)

BACKENDS = [
    pytest.param("postgres", id="postgres"),
    pytest.param("meilisearch", id="meilisearch", marks=[needs_meili, pytest.mark.meili]),
]


async def make_backend(name: str):
    if name == "postgres":
        from search.backends.postgres import PostgresIndex

        return PostgresIndex()
    from search.backends.meili import MeiliIndex

    index = MeiliIndex(MEILI_URL, os.environ.get("MEILI_API_KEY"), prefix=f"t{uuid.uuid4().hex[:10]}_")
    await index.configure()
    return index


@pytest.fixture(params=BACKENDS)
async def backend(request, client):
    """A configured, empty backend (clean PostgreSQL tables through `client`)."""
    index = await make_backend(request.param)
    yield index
    if request.param == "meilisearch":
        await index.drop()
    await index.close()
