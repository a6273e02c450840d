"""The worker of the outbox-lag scenario: `marketplace worker` plus `bench.noop`, a consumer of the same
tender events that does nothing (the ceiling: outbox delivery without indexing)."""

from __future__ import annotations

from marketplace.core import outbox


@outbox.consumer("bench.noop", topics=["tender.*"])
async def noop(events: list[outbox.OutboxEvent]) -> None:
    return None


if __name__ == "__main__":
    from marketplace import worker
    from marketplace.settings import load_settings

    worker.run(load_settings())
