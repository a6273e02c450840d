"""Anonymous live-board streams (SSE) are capped per process and per client address (issue 17): the cap's
middleware in front of a stream that stays open until the test lets it end (an event, not a sleep)."""

from __future__ import annotations

import asyncio

import msgspec

from marketplace.core import i18n
from marketplace.core.hardening import StreamLimits

PATH = "/api/v1/auctions/0191f4a2-0000-7000-8000-000000000001/events"


class Board:
    """A downstream app that answers 200 and keeps the stream open until `end` is set."""

    def __init__(self, expect: int) -> None:
        self.end = asyncio.Event()
        self.all_open = asyncio.Event()  # set once `expect` streams have started
        self.expect, self.open = expect, 0

    async def __call__(self, scope, receive, send) -> None:
        self.open += 1
        if self.open == self.expect:
            self.all_open.set()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await self.end.wait()
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _get(app, ip: str, *, path: str = PATH, headers=()) -> tuple[int, dict, bytes]:
    sent: list[dict] = []

    async def receive():
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": list(headers), "client": (ip, 1),
             "query_string": b""}
    await app(scope, receive, send)
    start = sent[0]
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


async def test_anonymous_streams_are_capped_per_address_and_per_process():
    board = Board(expect=3)
    limits = StreamLimits(total=3, per_ip=2, trusted_proxy_hops=0)
    app = limits.middleware(board)
    i18n.set_language("en")
    held = [asyncio.create_task(_get(app, ip)) for ip in ("203.0.113.1", "203.0.113.1", "203.0.113.2")]
    await asyncio.wait_for(board.all_open.wait(), 30)
    status, headers, body = await _get(app, "203.0.113.1")  # a third from one address
    assert status == 429 and headers[b"retry-after"] == b"10"
    problem = msgspec.json.decode(body)
    assert problem["rule"] == "streams" and problem["detail"].startswith("Too many live connections")
    status, _, _ = await _get(app, "203.0.113.3")  # the process's cap
    assert status == 429
    # a signed-in caller is not counted, and another path is not a stream
    board.end.set()
    assert (await _get(app, "203.0.113.1", headers=[(b"authorization", b"Bearer x")]))[0] == 200
    assert (await _get(app, "203.0.113.1", path="/api/v1/auctions/x"))[0] == 200
    await asyncio.gather(*held)
    assert limits.open == 0 and limits.by_ip == {}
    # once the streams ended, the address may open new ones
    assert (await _get(app, "203.0.113.1"))[0] == 200


async def test_the_refusal_speaks_spanish():
    board = Board(expect=1)
    app = StreamLimits(total=0, per_ip=1, trusted_proxy_hops=0).middleware(board)
    i18n.set_language("es")
    held = asyncio.create_task(_get(app, "198.51.100.1"))
    await asyncio.wait_for(board.all_open.wait(), 30)
    status, _, body = await _get(app, "198.51.100.1")
    board.end.set()
    await held
    assert status == 429 and "conexiones en vivo" in msgspec.json.decode(body)["detail"]
