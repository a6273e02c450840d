"""Application-made row ids are UUIDv7: time-ordered, so rush inserts append to their indexes' right edge."""

from __future__ import annotations

import uuid

from marketplace.core import ids


def test_new_ids_are_version_7_and_sort_in_the_order_they_were_made():
    made = [ids.new_id() for _ in range(2000)]
    assert all(isinstance(i, uuid.UUID) and i.version == 7 for i in made)
    assert made == sorted(made)  # within one millisecond too: the counter keeps them monotonic
    assert made == sorted(made, key=str)  # and as text (audit_event.entity_id)
    assert len(set(made)) == len(made)
