"""Meilisearch specifics (run only where MEILI_URL points at a real server): settings are applied before
any document, and a failed task surfaces as SearchUnavailable instead of passing silently."""

from __future__ import annotations

import os
import uuid

import pytest

from search.protocol import SearchUnavailable
from tests.search.conftest import needs_meili

pytestmark = [needs_meili, pytest.mark.meili]


@pytest.fixture
async def meili():
    from search.backends.meili import MeiliIndex

    index = MeiliIndex(os.environ["MEILI_URL"], os.environ.get("MEILI_API_KEY"), prefix=f"t{uuid.uuid4().hex[:10]}_")
    yield index
    await index.drop()
    await index.close()


async def test_configure_applies_settings_before_documents(meili):
    from search.backends.meili import SETTINGS

    await meili.configure()
    settings = await meili.client.index(meili.uid("offers")).get_settings()
    assert set(SETTINGS["offers"].filterable_attributes) <= set(settings.filterable_attributes)
    assert set(SETTINGS["offers"].sortable_attributes) == set(settings.sortable_attributes)
    assert settings.ranking_rules == SETTINGS["offers"].ranking_rules
    assert settings.typo_tolerance.min_word_size_for_typos.one_typo == 4
    stats = await meili.client.index(meili.uid("offers")).get_stats()
    assert stats.number_of_documents == 0


async def test_a_failed_task_is_surfaced(meili):
    await meili.configure()
    bad = {"id": "not a valid id!", "name": "x"}  # Meilisearch refuses ids with spaces: the task fails

    class Doc:
        def to_dict(self):
            return dict(bad)

    with pytest.raises(SearchUnavailable):
        await meili.upsert("tenders", [Doc()])
