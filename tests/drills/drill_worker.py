"""A worker process for the drills: `marketplace worker` plus one consumer whose effect can be counted.

`drill.effects` takes topics `drill.*` in batches of 50, inserts one `drill_effect` row per event in the
drain's transaction, and dawdles 0.1 s per batch so that a SIGKILL lands in the middle of a drain.
"""

from __future__ import annotations

import asyncio

from marketplace.core import db, outbox


@outbox.consumer("drill.effects", topics=["drill.*"], batch_size=50)
async def handle(events: list[outbox.OutboxEvent]) -> None:
    await db.execute("INSERT INTO drill_effect (event_id) SELECT unnest($1::bigint[])", [e.id for e in events])
    await asyncio.sleep(0.1)


if __name__ == "__main__":
    from marketplace import worker
    from marketplace.settings import load_settings

    worker.run(load_settings())
