"""Live reverse auction against LIVE servers: the real app under uvicorn in subprocesses (two of them), on the
test database and Redis, with many bidders connected at once over real Server-Sent Events connections.

The tender is set up in-process (clock moved to the past); the auction then runs on the servers, on a clock
the test shares with them and moves itself (tests/live_clock.py): the auction starts, bids land in the
soft-close window and the window ends when the test moves the clock there, never because the machine was
quick or slow. Decrement and ordering rules, soft-close extensions, refusals after close, anonymity before
the end, two processes showing the same board, and a restart that loses nothing.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from bench.auction_live import Board, LiveServer, server_env
from marketplace.core import clock, db
from tenders.auctions import service
from tenders.auctions.jobs import sweep_auctions
from tests import factories
from tests.live_clock import SharedClock
from tests.suppliers.factories import active_supplier
from tests.tenders import factories as tf


@dataclass
class Setup:
    officer: factories.Login
    bidders: list[factories.Login]
    tender: dict
    lot_id: str
    prices: list[int]
    auction: dict | None = None


async def opened_subasta(client, settings, fixed_clock, n: int, *, base: int = 100_000_00) -> Setup:
    """A subasta inversa with one lot, opened, `n` bidders with prices base, base+1000, ... (bidder 0 best);
    the caller then installs the clock it shares with the servers (at the present)."""
    fixed_clock.set(datetime.now(UTC) - timedelta(days=30))
    officer = await tf.officer(settings)
    tender = await tf.published(client, officer, method="reverse_auction", category="goods")
    bidders = [tf.long_lived(settings, await active_supplier(settings, name=f"Postora Real {i} S.A.C."))
               for i in range(n)]
    tf.to_tendering(fixed_clock, tender)
    prices = [base + 1000 * i for i in range(n)]
    for b, price in zip(bidders, prices, strict=False):
        await tf.bid(client, b, tender, [price])
    await tf.opened(client, fixed_clock, officer, tender)
    return Setup(officer, bidders, tender, tender["lots"][0]["id"], prices)


async def schedule(client, s: Setup, *, start_in: float = 60, **policy) -> dict:
    if "min_decrement_cents" in policy:  # céntimos for short; the API takes Money
        policy["min_decrement"] = {"amount": policy.pop("min_decrement_cents"), "currency": "PEN"}
    body = {"starts_at": (clock.now() + timedelta(seconds=start_in)).isoformat(), **policy}
    r = await client.post(f"/api/v1/tenders/{s.tender['id']}/lots/{s.lot_id}/auction", json=body,
                          headers=s.officer.headers)
    assert r.status_code == 201, r.text
    s.auction = r.json()
    return s.auction


class ClockedServer(LiveServer):
    """The live app server on the clock in `clock_file` (tests/live_clock.py)."""

    def __init__(self, env: dict[str, str], clock_file: Path, **kw) -> None:
        super().__init__(env, **kw)
        self.clock_file = clock_file

    def command(self) -> list[str]:
        return [sys.executable, "-m", "tests.live_clock", str(self.clock_file), *self.uvicorn_args()]


@pytest.fixture(scope="module")
def clock_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clock") / "now"
    path.write_text("")
    return path


@pytest.fixture(scope="module")
async def servers(settings, database, tmp_path_factory, clock_file):
    log = tmp_path_factory.mktemp("servers") / "servers.log"
    env = server_env(settings, AUCTION_MIN_DECREMENT_PERCENT="1", DB_POOL_MAX="8")  # the server is shared
    a, b = ClockedServer(env, clock_file, log_path=log), ClockedServer(env, clock_file, log_path=log)
    await asyncio.gather(a.start(), b.start())
    yield a, b
    a.stop()
    b.stop()


@pytest.fixture
def shared_clock(clock_file, fixed_clock):
    """Installed by `share(now)` once the tender is set up; the servers and the test read the same time."""
    made: list[SharedClock] = []

    def share() -> SharedClock:
        c = SharedClock(clock_file, datetime.now(UTC))
        clock.install(c)
        made.append(c)
        return c

    yield share
    for c in made:
        c.release()


async def start(c: SharedClock, auction: dict, boards: list) -> None:
    """Move the shared clock to the auction's start; every board then shows it running."""
    c.set(datetime.fromisoformat(auction["starts_at"].replace("Z", "+00:00")))
    await asyncio.gather(*(b.wait(running) for b in boards))


@pytest.fixture
async def http():
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=None, max_keepalive_connections=100),
                                 timeout=30) as c:
        yield c


def events_url(server: LiveServer, auction: dict) -> str:
    return f"{server.url}/api/v1/auctions/{auction['id']}/events"


async def connect(http, server, auction, logins) -> list[Board]:
    boards = [Board(http, events_url(server, auction), login.headers if login else None) for login in logins]
    await asyncio.gather(*(b.open() for b in boards))
    await asyncio.gather(*(b.wait(lambda x: x.last_snapshot is not None) for b in boards))
    return boards


async def bid(http, server, auction, login, price, **kw):
    return await http.post(f"{server.url}/api/v1/auctions/{auction['id']}/bids", json={"price": {"amount": price}},
                           headers={**login.headers, **kw})


def rule(r: httpx.Response) -> str:
    return r.json()["errors"][0]["rule"]


def running(b: Board) -> bool:
    return b.state == "running"


async def close_all(boards):
    await asyncio.gather(*(b.close() for b in boards))


# ------------------------------------------------------------------------------------------- tests

async def test_rules_ordering_and_anonymity_with_many_boards(client, settings, fixed_clock, servers, http,
                                                             shared_clock):
    a, _ = servers
    s = await opened_subasta(client, settings, fixed_clock, 12)
    now = shared_clock()
    auditor = await factories.login(settings, "oversight", "auditor")
    outsider = tf.long_lived(settings, await active_supplier(settings, name="No Participa S.A.C."))
    auction = await schedule(client, s, duration_seconds=60, soft_close_seconds=0,
                             extension_seconds=0, min_decrement_percent="1", min_decrement_cents=0)
    boards = await connect(http, a, auction, [*s.bidders, None, auditor, s.officer])
    bidder_boards, public = boards[:12], boards[12]
    # Before the start: a snapshot at once; nobody can bid yet.
    assert all(b.last_snapshot["state"] == "scheduled" for b in boards)
    r = await bid(http, a, auction, s.bidders[0], s.prices[0] - 10_000)
    assert r.status_code == 409 and rule(r) == "not_started"
    await start(now, auction, boards)  # the clock stays there: the window never ends under this test
    # The opened sealed prices rank the bidders; each participant sees its own rank and price.
    for i, b in enumerate(bidder_boards):
        assert b.you["rank"] == i + 1 and b.you["price"]["amount"] == s.prices[i]
        assert b.you["initial_price"]["amount"] == s.prices[i]
    snap = public.last_snapshot
    assert snap["best_price"]["amount"] == s.prices[0] and snap["participants"] == 12 and "you" not in snap
    assert [x["price"]["amount"] for x in snap["standings"]] == s.prices

    best = s.prices[0]
    # Decrement rules: 1% below one's own price AND below the best.
    r = await bid(http, a, auction, s.bidders[3], s.prices[3] - 10)
    assert r.status_code == 409 and rule(r) == "below_own_price"
    r = await bid(http, a, auction, s.bidders[3], best - 990_00)  # 1% below its own, not 1% below the best
    assert r.status_code == 409 and rule(r) == "below_best_price"
    assert r.json()["detail"] and r.json()["errors"][0]["field"] == "price"
    r = await bid(http, a, auction, s.bidders[3], -5)
    assert r.status_code in (400, 422)
    r = await bid(http, a, auction, outsider, best - 5_000)
    assert r.status_code == 403
    r = await bid(http, a, auction, s.officer, best - 5_000)
    assert r.status_code == 403

    # Eight bidders bid the same price at once: exactly one gets in (the first the lock admits), the
    # others are refused: that price no longer beats the best by the decrement.
    price = best - 2_000_00
    rs = await asyncio.gather(*(bid(http, a, auction, s.bidders[i], price) for i in range(4, 12)))
    accepted = [i + 4 for i, r in enumerate(rs) if r.status_code == 201]
    assert len(accepted) == 1, [r.text for r in rs]
    assert all(rule(r) == "below_best_price" for r in rs if r.status_code != 201)
    winner = accepted[0]
    receipt = next(r.json() for r in rs if r.status_code == 201)
    assert receipt["seq"] == 1 and receipt["price"]["amount"] == price
    key = (await http.get(f"{a.url}/api/v1/bids/receipt-key")).json()["public_key"]
    assert service.verify_receipt(key, receipt)
    assert not service.verify_receipt(key, {**receipt, "price": {"amount": price - 1, "currency": "PEN"}})

    # A sequence of bids from different bidders: every board shows each one, in order, with its own rank.
    sequence = [(2, price - 5_000_00), (winner, price - 10_000_00), (0, price - 15_000_00)]
    for who, p in sequence:
        r = await bid(http, a, auction, s.bidders[who], p, **{"Idempotency-Key": f"k-{who}-{p}"})
        assert r.status_code == 201, r.text
    replay = await bid(http, a, auction, s.bidders[0], price - 15_000_00,
                       **{"Idempotency-Key": f"k-0-{price - 15_000_00}"})
    assert replay.status_code == 201 and replay.headers.get("idempotent-replayed") == "true"
    assert replay.json()["seq"] == 4
    await asyncio.gather(*(b.wait(lambda x: len(x.bids()) == 4) for b in boards))
    expected = [price, *(p for _, p in sequence)]
    for b in boards:
        assert [x["price"]["amount"] for x in b.bids()] == expected
        assert [x["seq"] for x in b.bids()] == [1, 2, 3, 4]
    assert bidder_boards[0].you["rank"] == 1 and bidder_boards[0].you["price"]["amount"] == price - 15_000_00
    assert bidder_boards[winner].you["rank"] == 2
    assert bidder_boards[2].you["rank"] == 3
    assert bidder_boards[1].you["rank"] == 4  # the best opened price among those who did not bid
    # Anonymity while running: no board has seen a name or an organisation id of a bidder.
    secrets = [str(x.org_id) for x in s.bidders] + [f"Postora Real {i} S.A.C." for i in range(12)]
    for b in boards:
        text = "\n".join(b.raw)
        assert not any(x in text for x in secrets)
    # The aliases do not follow the opened ranking order in a guessable way, and each bidder's own alias
    # matches the one its bids carry.
    mine = bidder_boards[0].you["alias"]
    assert public.bids()[-1]["alias"] == mine
    await close_all(boards)


async def test_soft_close_extends_then_closes_refuses_and_awards(client, settings, fixed_clock, servers, http,
                                                                 shared_clock):
    a, _ = servers
    s = await opened_subasta(client, settings, fixed_clock, 6)
    now = shared_clock()
    auction = await schedule(client, s, duration_seconds=10, soft_close_seconds=4, extension_seconds=4,
                             min_decrement_cents=100_00, min_decrement_percent="0")
    boards = await connect(http, a, auction, [*s.bidders, None])
    await start(now, auction, boards)
    ends_at = datetime.fromisoformat(boards[-1].last_snapshot["ends_at"])
    # A bid well before the soft-close window does not extend.
    r = await bid(http, a, auction, s.bidders[1], s.prices[0] - 100_00)
    assert r.status_code == 201 and datetime.fromisoformat(r.json()["ends_at"].replace("Z", "+00:00")) == ends_at
    # Bids in the last seconds extend the window to 4 s after each of them.
    best = s.prices[0] - 100_00
    for who in (2, 3):
        now.set(ends_at - timedelta(seconds=3))  # inside the 4 s soft-close window
        best -= 100_00
        r = await bid(http, a, auction, s.bidders[who], best)
        assert r.status_code == 201, r.text
        received = datetime.fromisoformat(r.json()["received_at"].replace("Z", "+00:00"))
        new_end = datetime.fromisoformat(r.json()["ends_at"].replace("Z", "+00:00"))
        assert new_end == received + timedelta(seconds=4) and new_end > ends_at
        ends_at = new_end
    await asyncio.gather(*(b.wait(lambda x: len(x.bids()) == 3) for b in boards))
    for b in boards:
        evs = [d for n, d, _ in b.events if n == "bid"]
        assert [e["extended"] for e in evs] == [False, True, True]
        assert datetime.fromisoformat(evs[-1]["ends_at"]) == ends_at and evs[-1]["extensions"] == 2
    # No more bids: the window ends; every board gets the final board, with names and the full sequence.
    now.set(ends_at)
    await asyncio.gather(*(b.wait(lambda x: x.state == "closed") for b in boards))
    final = boards[-1].last_snapshot
    assert final["extensions"] == 2 and datetime.fromisoformat(final["ends_at"]) == ends_at
    assert [x["seq"] for x in final["bids"]] == [1, 2, 3]
    assert final["bids"][-1]["supplier_id"] == str(s.bidders[3].org_id)
    assert final["standings"][0]["supplier_id"] == str(s.bidders[3].org_id)
    assert final["standings"][0]["price"]["amount"] == best
    assert final["standings"][0]["supplier_name"].startswith("Postora Real 3")
    # A bid after the close: 409 DeadlinePassed, nothing written.
    r = await bid(http, a, auction, s.bidders[0], best - 500_00)
    assert r.status_code == 409 and rule(r) == "deadline_passed"
    assert "deadline-passed" in r.json()["type"]
    n = await db.fetchrow("SELECT count(*) AS n FROM auction_bid WHERE auction_id = $1", UUID(auction["id"]))
    assert n["n"] == 3
    # The end feeds the award: price only, the lowest final price wins. The room that closed it awards it; the
    # auction job, run here, awards it unless that is done already (under the auction row lock, once).
    await sweep_auctions({"settings": settings})
    row = await db.fetchrow("SELECT award_state, award_note FROM auction WHERE id = $1", UUID(auction["id"]))
    assert row["award_state"] == "done", row
    awards = (await client.get(f"/api/v1/tenders/{s.tender['id']}/awards")).json()
    assert [(x["supplier_id"], x["value"]["amount"]) for x in awards] == [(str(s.bidders[3].org_id), best)]
    closed = await db.fetch("SELECT payload FROM outbox WHERE topic = 'auction.closed'")
    payload = json.loads(closed[0]["payload"]) if isinstance(closed[0]["payload"], str) else closed[0]["payload"]
    assert [b["seq"] for b in payload["bids"]] == [1, 2, 3] and payload["participants"][0]["final_price"] == best
    actions = await db.fetch("SELECT action FROM audit_event WHERE entity_id = $1 ORDER BY id", auction["id"])
    assert [x["action"] for x in actions].count("auction.bid") == 3
    await close_all(boards)


async def test_two_processes_show_the_same_board_and_a_restart_loses_nothing(client, settings, fixed_clock,
                                                                            servers, http, shared_clock):
    a, b = servers
    s = await opened_subasta(client, settings, fixed_clock, 20)
    now = shared_clock()
    auction = await schedule(client, s, duration_seconds=120, soft_close_seconds=0,
                             extension_seconds=0, min_decrement_cents=1_00, min_decrement_percent="0")
    on_a = await connect(http, a, auction, [*s.bidders[:10], None])
    on_b = await connect(http, b, auction, [*s.bidders[10:], None])
    boards = on_a + on_b
    await start(now, auction, boards)  # and stays there: the window never ends under this test
    # Bids alternate between the two processes; all 22 boards show the same sequence.
    price = s.prices[0]
    for i in range(20):
        price -= 50_00
        server = a if i % 2 == 0 else b
        r = await bid(http, server, auction, s.bidders[(i * 7) % 20], price)
        assert r.status_code == 201, r.text
    await asyncio.gather(*(x.wait(lambda y: len(y.bids()) == 20) for x in boards))
    reference = [(x["seq"], x["alias"], x["price"]["amount"]) for x in boards[0].bids()]
    assert [x[0] for x in reference] == list(range(1, 21))
    for x in boards:
        assert [(y["seq"], y["alias"], y["price"]["amount"]) for y in x.bids()] == reference

    # Restart process B mid-auction while bids go on through A: nothing is lost.
    await close_all(on_b)
    b.kill()
    for i in range(5):
        price -= 50_00
        r = await bid(http, a, auction, s.bidders[(i * 3) % 20], price)
        assert r.status_code == 201, r.text
    await b.start()
    again = await connect(http, b, auction, [*s.bidders[10:], None])
    for x in again:  # the snapshot on reconnecting has everything at once
        assert x.last_snapshot["version"] == boards[0].version + 5 or len(x.bids()) == 25
        assert [y["seq"] for y in x.bids()] == list(range(1, 26))
        assert x.last_snapshot["best_price"]["amount"] == price
    for i in range(5):
        price -= 50_00
        server = b if i % 2 == 0 else a
        r = await bid(http, server, auction, s.bidders[(i * 11) % 20], price)
        assert r.status_code == 201, r.text
    everyone = on_a + again
    await asyncio.gather(*(x.wait(lambda y: len(y.bids()) == 30) for x in everyone))
    reference = [(x["seq"], x["alias"], x["price"]["amount"]) for x in on_a[0].bids()]
    assert [x[0] for x in reference] == list(range(1, 31))
    for x in everyone:
        assert [(y["seq"], y["alias"], y["price"]["amount"]) for y in x.bids()] == reference
    db_seq = await db.fetch("SELECT seq, price FROM auction_bid WHERE auction_id = $1 ORDER BY seq",
                            UUID(auction["id"]))
    assert [(r["seq"], r["price"]) for r in db_seq] == [(x[0], x[2]) for x in reference]
    await close_all(everyone)
