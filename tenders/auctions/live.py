"""Live boards: Server-Sent Events fed by Redis pub/sub (Litestar channels), state from PostgreSQL.

How an event reaches every board:

1. A write (bid, start, close) commits in PostgreSQL; after commit it is published on the auction's
   channel (`publish`): through the app's channels plugin (RedisChannelsPubSubBackend), or straight to
   Redis from a worker process.
2. Each app process holds one `Room` per auction it serves: one channels subscription, the board in
   memory (`domain.Board`, loaded from PostgreSQL when the room opens), and the process's listeners
   (SSE connections). A bid event that is exactly the next `version` is applied in memory and sent to
   every listener, rendered for each (a participant sees its own rank and price); any other event
   (start, close, a version gap: a message lost or reordered between processes) reloads the board from
   PostgreSQL and sends a fresh snapshot. A room also checks the version in PostgreSQL every few seconds,
   so even a lost last message is caught up.
3. A listener gets a snapshot first, then events. A restarted or added process opens its rooms from
   PostgreSQL: nothing lives only in a process or in Redis.

Rooms also make the clock moves of the auctions they serve at the right moment (start at `starts_at`,
close at `ends_at`) through `service.settle`, idempotent under the auction row lock, alongside the
database-driven job.

Without REDIS_URL the channels plugin uses its in-memory backend (one process only).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from redis.asyncio import Redis

from marketplace.core import clock, db, queue
from marketplace.settings import Settings
from tenders.auctions import service
from tenders.auctions.domain import Board

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "ma:auction:"
KEEPALIVE_SECONDS = 15.0
RESYNC_SECONDS = 3.0  # how often an idle room compares its version with PostgreSQL
REORDER_SECONDS = 0.3  # how long a bid event that overtook an earlier one waits for it before a reload
LISTENER_BACKLOG = 2_000  # a listener this far behind is sent a fresh snapshot instead

_enc = msgspec.json.Encoder()
_plugin: AuctionChannels | None = None


def channel(auction_id: UUID | str) -> str:
    return f"{CHANNEL_PREFIX}{auction_id}"


async def publish(auction_id: UUID, event: dict[str, Any]) -> None:
    """Send an event to every board of the auction, in every app process (call after commit)."""
    data = _enc.encode({**event, "auction_id": str(auction_id), "published_at": time.time()})
    if _plugin is not None:
        _plugin.publish(data, channel(auction_id))
        return
    pool = queue.get_pool()  # a worker process: straight to Redis (the channels backend is plain PUBLISH)
    if pool is not None:
        try:
            await pool.publish(channel(auction_id), data)
        except Exception:  # the boards catch up from PostgreSQL within RESYNC_SECONDS
            log.warning("could not publish to %s", channel(auction_id), exc_info=True)


class AuctionChannels(ChannelsPlugin):
    """The channels plugin (Redis pub/sub between app processes) with this process's auction rooms."""

    def __init__(self, settings: Settings) -> None:
        self._redis = None
        redis_url = settings.redis_url
        if redis_url:

            self._redis = Redis.from_url(redis_url)
            backend: Any = RedisChannelsPubSubBackend(redis=self._redis)
        else:
            backend = MemoryChannelsBackend()
        super().__init__(backend=backend, arbitrary_channels_allowed=True, subscriber_max_backlog=50_000,
                         subscriber_backlog_strategy="dropleft")
        self.hub = Hub(self, settings)

    async def __aenter__(self) -> AuctionChannels:
        global _plugin
        await super().__aenter__()
        _plugin = self
        return self

    async def __aexit__(self, *exc: Any) -> None:
        global _plugin
        if _plugin is self:
            _plugin = None
        await self.hub.close()
        try:
            await super().__aexit__(*exc)
        finally:
            if self._redis is not None:
                with contextlib.suppress(Exception):
                    await self._redis.aclose()


def channels_plugin(settings: Settings) -> AuctionChannels:
    return AuctionChannels(settings)


# ------------------------------------------------------------------------------------------- rooms

def frame(event: str, version: int, data: bytes) -> bytes:
    """One Server-Sent Events message (the JSON has no line breaks)."""
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (version, event.encode(), data)


KEEPALIVE = b": keep-alive\n\n"


class Listener:
    __slots__ = ("viewer", "queue")

    def __init__(self, viewer: UUID | None) -> None:
        self.viewer = viewer
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()


class Room:
    def __init__(self, hub: Hub, auction_id: UUID) -> None:
        self.hub = hub
        self.auction_id = auction_id
        self.listeners: set[Listener] = set()
        self.board: Any = None
        self.lock = asyncio.Lock()
        self.wake = asyncio.Event()
        self.subscriber: Any = None
        self.tasks: list[asyncio.Task[None]] = []
        self.pending: dict[int, dict[str, Any]] = {}  # bid events that arrived before an earlier version
        self.gap_task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        # Subscribe before loading: an event committed meanwhile is either in the load or arrives after.
        self.subscriber = await self.hub.channels.subscribe([channel(self.auction_id)])
        self.board = await self._load()
        self.tasks = [asyncio.create_task(self._events(), name=f"auction-room-{self.auction_id}"),
                      asyncio.create_task(self._clock(), name=f"auction-clock-{self.auction_id}")]

    async def close(self) -> None:
        if self.gap_task is not None:
            self.tasks.append(self.gap_task)
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self.subscriber is not None:
            with contextlib.suppress(Exception):
                await self.hub.channels.unsubscribe(self.subscriber)

    async def _load(self) -> Board:
        return await service.load_board(self.auction_id)

    # -- messages

    def snapshot(self, listener: Listener) -> bytes:

        read = service.render(self.board, viewer=listener.viewer, now=clock.now())
        return frame("snapshot", self.board.version, _enc.encode(read))

    def add(self, listener: Listener) -> None:
        self.listeners.add(listener)
        listener.queue.put_nowait(self.snapshot(listener))

    def _send(self, listener: Listener, msg: bytes) -> None:
        if listener.queue.qsize() >= LISTENER_BACKLOG:  # far behind: replace its backlog by the present
            while not listener.queue.empty():
                listener.queue.get_nowait()
            msg = self.snapshot(listener)
        listener.queue.put_nowait(msg)

    def _fan_out_snapshots(self) -> None:
        for listener in list(self.listeners):
            self._send(listener, self.snapshot(listener))

    def _fan_out_bid(self, ev: dict[str, Any]) -> None:
        board = self.board

        def money(cents: int | None) -> dict[str, Any] | None:  # amounts as the API gives them (Money)
            return None if cents is None else {"amount": cents, "currency": board.currency}

        common = {"type": "bid", "version": ev["version"], "seq": ev["seq"], "alias": ev["alias"],
                  "price": money(ev["price"]), "received_at": ev["received_at"], "ends_at": ev["ends_at"],
                  "extended": ev["extended"], "extensions": ev["extensions"], "best_price": money(board.best_price),
                  "published_at": ev.get("published_at"), "server_time": clock.now().isoformat()}
        version = ev["version"]
        public = frame("bid", version, _enc.encode(common))  # spectators share one encoded message
        for listener in list(self.listeners):
            alias = board.alias_of.get(listener.viewer) if listener.viewer is not None else None
            if alias is None:
                self._send(listener, public)
            else:
                s = board.standings[alias]
                common["you"] = {"alias": alias, "rank": s.rank, "price": money(s.price),
                                 "next_max_price": money(board.next_max_price(alias))}
                self._send(listener, frame("bid", version, _enc.encode(common)))

    # -- loops

    async def _events(self) -> None:
        async for raw in self.subscriber.iter_events():
            try:
                ev = msgspec.json.decode(raw)
                async with self.lock:
                    await self._apply(ev)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("auction room %s: event not applied; reloading", self.auction_id)
                with contextlib.suppress(Exception):
                    async with self.lock:
                        await self._reload()

    async def _apply(self, ev: dict[str, Any]) -> None:
        version = ev.get("version", 0)
        if version <= self.board.version:
            return  # already in (a snapshot loaded after it committed)
        if ev.get("type") == "bid" and version > self.board.version + 1:
            # Published by another process and overtaken on the way: hold it a moment for the missing ones.
            self.pending[version] = ev
            if self.gap_task is None or self.gap_task.done():
                self.gap_task = asyncio.create_task(self._close_gap())
            return
        await self._apply_next(ev)
        while self.board.version + 1 in self.pending:
            await self._apply_next(self.pending.pop(self.board.version + 1))
        for v in [v for v in self.pending if v <= self.board.version]:
            del self.pending[v]
        self.wake.set()

    async def _apply_next(self, ev: dict[str, Any]) -> None:
        if ev.get("type") == "bid" and self.board.apply_bid(
                version=ev["version"], seq=ev["seq"], alias=ev["alias"], price=ev["price"],
                received_at=datetime.fromisoformat(ev["received_at"]), ends_at=datetime.fromisoformat(ev["ends_at"]),
                extended=ev["extended"], extensions=ev["extensions"]):
            self._fan_out_bid(ev)
        else:
            await self._reload()

    async def _close_gap(self) -> None:
        """A version still missing after REORDER_SECONDS was lost: PostgreSQL has it."""
        await asyncio.sleep(REORDER_SECONDS)
        async with self.lock:
            if self.pending and min(self.pending) > self.board.version + 1:
                await self._reload()
                self.pending = {v: e for v, e in self.pending.items() if v > self.board.version}
                while self.board.version + 1 in self.pending:
                    await self._apply_next(self.pending.pop(self.board.version + 1))

    async def _reload(self) -> None:
        board = await self._load()
        if board.version != self.board.version or board.state != self.board.state:
            self.board = board
            self._fan_out_snapshots()

    async def _clock(self) -> None:
        """Start and close the auction on time; catch up with PostgreSQL if a message was lost."""

        last_keepalive = time.monotonic()
        while True:
            if time.monotonic() - last_keepalive >= KEEPALIVE_SECONDS:  # keeps idle connections (and proxies) open
                last_keepalive = time.monotonic()
                for listener in list(self.listeners):
                    listener.queue.put_nowait(KEEPALIVE)
            board = self.board
            target = board.starts_at if board.state == "scheduled" else board.ends_at if board.state == "running" \
                else None
            wait = RESYNC_SECONDS
            if target is not None:
                wait = min(wait, max(0.0, (target - clock.now()).total_seconds()))
            self.wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=wait + 0.01)
            try:
                board = self.board
                if board.state in ("scheduled", "running") and clock.now() >= (
                        board.starts_at if board.state == "scheduled" else board.ends_at):
                    await service.settle(auction_id=self.auction_id, settings=self.hub.settings)
                row = await db.fetchrow("SELECT version FROM auction WHERE id = $1", self.auction_id)
                if row is not None and row["version"] > self.board.version:
                    await asyncio.sleep(1.0)  # its event is most likely on the way; reload only if it is lost
                    if row["version"] > self.board.version:
                        async with self.lock:
                            await self._reload()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("auction room %s: clock tick failed", self.auction_id)
                await asyncio.sleep(1)


class Hub:
    """This process's rooms, one per auction with at least one listener."""

    def __init__(self, channels: ChannelsPlugin, settings: Settings) -> None:
        self.channels = channels
        self.settings = settings  # the rooms' timers settle auctions (and award them) under these
        self.rooms: dict[UUID, Room] = {}
        self._lock = asyncio.Lock()

    async def join(self, auction_id: UUID, viewer: UUID | None) -> Listener:
        listener = Listener(viewer)
        async with self._lock:
            room = self.rooms.get(auction_id)
            if room is None:
                room = Room(self, auction_id)
                await room.open()
                self.rooms[auction_id] = room
        async with room.lock:
            room.add(listener)
        return listener

    async def leave(self, auction_id: UUID, listener: Listener) -> None:
        async with self._lock:
            room = self.rooms.get(auction_id)
            if room is None:
                return
            room.listeners.discard(listener)
            if not room.listeners:
                del self.rooms[auction_id]
                await room.close()

    async def close(self) -> None:
        async with self._lock:
            rooms, self.rooms = list(self.rooms.values()), {}
        for room in rooms:
            await room.close()

    async def stream(self, auction_id: UUID, viewer: UUID | None) -> AsyncIterator[bytes]:
        """The SSE stream of one connection: a snapshot, then events (the room sends a comment now and then to
        keep it open). Messages waiting in the queue go out together, in one write."""
        listener = await self.join(auction_id, viewer)
        queue = listener.queue
        try:
            yield b"retry: 2000\n: mercado-abierto auction board\n\n"
            while True:
                chunk = await queue.get()
                if not queue.empty():
                    parts = [chunk]
                    while not queue.empty():
                        parts.append(queue.get_nowait())
                    chunk = b"".join(parts)
                yield chunk
        finally:
            await asyncio.shield(self.leave(auction_id, listener))
