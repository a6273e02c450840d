"""A worker process for the drills: `marketplace worker` plus one consumer whose effect can be counted.

`drill.effects` takes topics `drill.*` in batches of 50 and inserts one `drill_effect` row per event in the
drain's transaction. With `--stall-after N --stalled-file PATH`, once it has handled more than N events the
batch in hand stays open (its rows written, not committed) and PATH is created: the drill kills the worker
then, so the kill lands in the middle of a drain by construction, not by timing.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from marketplace.core import db, outbox

stall_after: int | None = None
stalled_file: Path | None = None
handled = 0


@outbox.consumer("drill.effects", topics=["drill.*"], batch_size=50)
async def handle(events: list[outbox.OutboxEvent]) -> None:
    global handled
    await db.execute("INSERT INTO drill_effect (event_id) SELECT unnest($1::bigint[])", [e.id for e in events])
    handled += len(events)
    if stall_after is not None and handled > stall_after and stalled_file is not None:
        stalled_file.write_text(f"{handled - len(events)} committed, {len(events)} in this open batch\n")
        await asyncio.Event().wait()  # until the SIGKILL


if __name__ == "__main__":
    from marketplace import worker
    from marketplace.settings import load_settings

    parser = argparse.ArgumentParser()
    parser.add_argument("--stall-after", type=int)
    parser.add_argument("--stalled-file", type=Path)
    args = parser.parse_args()
    stall_after, stalled_file = args.stall_after, args.stalled_file
    worker.run(load_settings())
