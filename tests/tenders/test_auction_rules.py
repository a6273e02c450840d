"""Auction rules (pure) and the auction's life in-process under a fixed clock: scheduling refusals, the job
and lazy reads starting and closing it idempotently, the award fed with the final prices, the award gate,
a cancelled lot."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.core import db
from marketplace.settings import Settings, SettingsError, override
from tenders.auctions import jobs
from tenders.auctions import policy as policies
from tenders.auctions.domain import (
    AUCTION,
    AuctionPolicy,
    IllegalAuctionTransition,
    Standing,
    check_bid,
    extended_end,
    rank,
)
from tests import factories
from tests.suppliers.factories import active_supplier
from tests.tenders import factories as tf

T0 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


# ------------------------------------------------------------------------------------------ pure rules

def test_decrement_is_the_larger_of_cents_and_percent_and_at_least_one_cent():
    p = AuctionPolicy(min_decrement_cents=500, min_decrement_percent=Decimal("1"))
    assert p.decrement(100_000) == 1_000  # 1% wins
    assert p.decrement(10_000) == 500  # the absolute minimum wins
    assert AuctionPolicy(min_decrement_cents=0, min_decrement_percent=Decimal("0.5")).decrement(101) == 1  # ceil
    assert AuctionPolicy(min_decrement_cents=0, min_decrement_percent=Decimal("0")).decrement(1000) == 1


def test_a_bid_must_go_below_own_price_and_the_best_by_the_decrement():
    p = AuctionPolicy(min_decrement_cents=100, min_decrement_percent=Decimal(0))
    assert check_bid(p, price=9_900, own_price=10_000, best_price=10_000).rule is None
    assert check_bid(p, price=9_901, own_price=10_000, best_price=10_000).rule == "below_own_price"
    c = check_bid(p, price=9_850, own_price=10_000, best_price=9_900)
    assert c.rule == "below_best_price" and c.limit == 9_800
    lenient = AuctionPolicy(min_decrement_cents=100, min_decrement_percent=Decimal(0), must_beat_best=False)
    assert check_bid(lenient, price=9_850, own_price=10_000, best_price=9_000).rule is None


@given(price=st.integers(1, 10**9), own=st.integers(1, 10**9), best=st.integers(1, 10**9),
       cents=st.integers(0, 10**6), pct=st.decimals(0, 50, places=2))
def test_an_accepted_bid_is_always_below_both_by_the_decrement(price, own, best, cents, pct):
    p = AuctionPolicy(min_decrement_cents=cents, min_decrement_percent=pct)
    if check_bid(p, price=price, own_price=own, best_price=best).rule is None:
        assert price <= own - p.decrement(own) and price <= best - p.decrement(best)


def test_soft_close_extends_only_inside_the_window_and_up_to_the_limit():
    p = AuctionPolicy(soft_close_seconds=60, extension_seconds=90, max_extensions=2)
    end = T0
    assert extended_end(p, received_at=T0 - timedelta(seconds=61), ends_at=end, extensions=0) == end
    assert (extended_end(p, received_at=T0 - timedelta(seconds=60), ends_at=end, extensions=0)
            == T0 + timedelta(seconds=30))
    assert (extended_end(p, received_at=T0 - timedelta(seconds=1), ends_at=end, extensions=1)
            == T0 + timedelta(seconds=89))
    assert extended_end(p, received_at=T0 - timedelta(seconds=1), ends_at=end, extensions=2) == end
    assert extended_end(AuctionPolicy(soft_close_seconds=0), received_at=T0, ends_at=end, extensions=0) == end


def test_ranking_lower_price_then_who_reached_it_first_then_sealed_receipt():
    s = [Standing("Postor 1", 900, 3, T0), Standing("Postor 2", 900, 2, T0 + timedelta(hours=1)),
         Standing("Postor 3", 800, 0, T0), Standing("Postor 4", 1000, 0, T0 - timedelta(hours=1)),
         Standing("Postor 5", 1000, 0, T0 - timedelta(hours=2))]
    assert [x.alias for x in rank(s)] == ["Postor 3", "Postor 2", "Postor 1", "Postor 5", "Postor 4"]


def test_state_object_and_clock_moves():
    assert AUCTION.due(state="scheduled", now=T0, starts_at=T0, ends_at=T0 + timedelta(hours=1)) == ["start"]
    assert AUCTION.due(state="scheduled", now=T0 + timedelta(hours=2), starts_at=T0,
                       ends_at=T0 + timedelta(hours=1)) == ["start", "close"]
    assert AUCTION.due(state="running", now=T0, starts_at=T0, ends_at=T0 + timedelta(seconds=1)) == []
    assert AUCTION.due(state="closed", now=T0 + timedelta(days=1), starts_at=T0, ends_at=T0) == []
    with pytest.raises(IllegalAuctionTransition):
        AUCTION.next("closed", "start")


def test_the_default_policy_comes_from_settings():
    assert policies.of(Settings()) == AuctionPolicy()  # the defaults are the domain's
    p = policies.of(override(Settings(), {"AUCTION_MIN_DECREMENT_CENTS": "500", "AUCTION_MUST_BEAT_BEST": "0",
                                          "AUCTION_DURATION_SECONDS": "900"}))
    assert (p.min_decrement_cents, p.must_beat_best, p.duration_seconds) == (500, False, 900)
    assert p.problems() == []


@given(duration=st.integers(-5, 90_000), cents=st.integers(-5, 1_000),
       pct=st.decimals(-1, 60, places=2, allow_nan=False), soft=st.integers(-5, 90_000),
       extension=st.integers(-5, 4_000), extensions=st.integers(-2, 5))
def test_settings_accept_exactly_the_auction_policies_the_domain_accepts(duration, cents, pct, soft, extension,
                                                                         extensions):
    env = {"AUCTION_DURATION_SECONDS": str(duration), "AUCTION_MIN_DECREMENT_CENTS": str(cents),
           "AUCTION_MIN_DECREMENT_PERCENT": str(pct), "AUCTION_SOFT_CLOSE_SECONDS": str(soft),
           "AUCTION_EXTENSION_SECONDS": str(extension), "AUCTION_MAX_EXTENSIONS": str(extensions)}
    domain_policy = AuctionPolicy(duration_seconds=duration, min_decrement_cents=cents, min_decrement_percent=pct,
                                  soft_close_seconds=soft, extension_seconds=extension, max_extensions=extensions)
    valid = domain_policy.problems() == []
    try:
        accepted = policies.of(override(Settings(), env))
    except SettingsError:
        accepted = None
    assert (accepted is not None) == valid
    assert accepted is None or accepted.problems() == []


# ------------------------------------------------------------------------------------- in-process life

async def opened(client, settings, fixed_clock, n=3, method="reverse_auction"):
    fixed_clock.set(T0)
    officer = await tf.officer(settings)
    tender = await tf.published(client, officer, method=method, category="goods")
    bidders = [tf.long_lived(settings, await active_supplier(settings, name=f"Proveedor Subasta {i}"))
               for i in range(n)]
    tf.to_tendering(fixed_clock, tender)
    for i, b in enumerate(bidders):
        await tf.bid(client, b, tender, [50_000_00 + 1_000_00 * i])
    await tf.opened(client, fixed_clock, officer, tender)
    return officer, bidders, tender


def url(tender):
    return f"/api/v1/tenders/{tender['id']}/lots/{tender['lots'][0]['id']}/auction"


def err(r):
    return r.json()["errors"][0]


async def test_scheduling_refusals(client, settings, fixed_clock):
    officer, bidders, tender = await opened(client, settings, fixed_clock)
    start = (fixed_clock.now() + timedelta(minutes=5)).isoformat()
    r = await client.post(url(tender), json={"starts_at": start}, headers=bidders[0].headers)
    assert r.status_code == 403
    other = await tf.officer(settings)
    assert (await client.post(url(tender), json={"starts_at": start}, headers=other.headers)).status_code == 403
    r = await client.post(url(tender), json={"starts_at": (fixed_clock.now() - timedelta(minutes=1)).isoformat()},
                          headers=officer.headers)
    assert r.status_code == 422 and err(r)["field"] == "starts_at" and err(r)["rule"] == "future"
    r = await client.post(url(tender), json={"starts_at": start, "min_decrement_percent": "70"},
                          headers=officer.headers)
    assert r.status_code == 422 and err(r)["field"] == "min_decrement_percent"
    r = await client.post(url(tender), json={"starts_at": start, "soft_close_seconds": 9000, "duration_seconds": 600},
                          headers=officer.headers)
    assert r.status_code == 422 and err(r)["field"] == "soft_close_seconds"
    r = await client.post(url(tender), json={"starts_at": start, "colour": "red"}, headers=officer.headers)
    assert r.status_code in (400, 422)
    assert (await db.fetchrow("SELECT count(*) AS n FROM auction"))["n"] == 0
    r = await client.post(url(tender), json={"starts_at": start}, headers=officer.headers)
    assert r.status_code == 201 and r.json()["state"] == "scheduled" and r.json()["policy"]["duration_seconds"] == 600
    r = await client.post(url(tender), json={"starts_at": start}, headers=officer.headers)
    assert r.status_code == 409 and err(r)["rule"] == "already_scheduled"
    # Another method has no auction.
    o2, _, t2 = await opened(client, settings, fixed_clock, n=1, method="simplified_award")
    r = await client.post(url(t2), json={"starts_at": (fixed_clock.now() + timedelta(minutes=5)).isoformat()},
                          headers=o2.headers)
    assert r.status_code == 409 and err(r)["rule"] == "method"


async def test_job_and_lazy_reads_start_close_and_award_once(client, settings, fixed_clock):
    officer, bidders, tender = await opened(client, settings, fixed_clock)
    start = fixed_clock.now() + timedelta(minutes=10)
    r = await client.post(url(tender), json={"starts_at": start.isoformat(), "duration_seconds": 300,
                                             "soft_close_seconds": 60, "extension_seconds": 60,
                                             "min_decrement": {"amount": 10_00, "currency": "PEN"},
                                             "min_decrement_percent": "0"},
                          headers=officer.headers)
    auction = r.json()
    aid = auction["id"]
    # The officer cannot award the lot on its sealed prices while its auction is pending.
    r = await client.post(f"/api/v1/tenders/{tender['id']}/awards", headers=officer.headers)
    assert r.status_code == 409 and err(r)["rule"] == "auction_pending"
    r = await client.post(f"/api/v1/auctions/{aid}/bids", json={"price": {"amount": 40_000_00}},
                          headers=bidders[2].headers)
    assert r.status_code == 409 and err(r)["rule"] == "not_started"
    fixed_clock.set(start + timedelta(seconds=1))
    assert await jobs.sweep_auctions({"settings": settings}) == 1
    assert await jobs.sweep_auctions({"settings": settings}) == 0  # idempotent: nothing due any more
    board = (await client.get(f"/api/v1/auctions/{aid}", headers=bidders[1].headers)).json()
    assert board["state"] == "running" and board["you"]["rank"] == 2
    assert board["you"]["price"]["amount"] == 51_000_00
    assert board["you"]["next_max_price"]["amount"] == 49_990_00
    # Bidder 2 takes the lead; then bidder 1 in the soft-close window extends by 60 s from its bid.
    r = await client.post(f"/api/v1/auctions/{aid}/bids", json={"price": {"amount": 49_000_00}},
                          headers=bidders[2].headers)
    assert r.status_code == 201 and r.json()["seq"] == 1
    fixed_clock.set(start + timedelta(seconds=290))
    r = await client.post(f"/api/v1/auctions/{aid}/bids", json={"price": {"amount": 48_500_00}},
                          headers=bidders[1].headers)
    assert r.status_code == 201
    assert datetime.fromisoformat(r.json()["ends_at"].replace("Z", "+00:00")) == start + timedelta(seconds=350)
    # Still running at the original end; a read after the extended end closes it lazily.
    fixed_clock.set(start + timedelta(seconds=301))
    r = await client.post(f"/api/v1/auctions/{aid}/bids", json={"price": {"amount": 48_000_00}},
                          headers=bidders[0].headers)
    assert r.status_code == 201  # the window was extended to 350 s
    fixed_clock.set(start + timedelta(seconds=361 + 60))
    board = (await client.get(f"/api/v1/auctions/{aid}")).json()
    assert board["state"] == "closed" and board["award_state"] == "done"
    assert [b["seq"] for b in board["bids"]] == [1, 2, 3] and board["bids"][0]["supplier_name"]
    r = await client.post(f"/api/v1/auctions/{aid}/bids", json={"price": {"amount": 40_000_00}},
                          headers=bidders[2].headers)
    assert r.status_code == 409 and err(r)["rule"] == "deadline_passed"
    assert await jobs.sweep_auctions({"settings": settings}) == 0
    # The award: price only, the final prices; bidder 0 wins at 48,000.00.
    awards = (await client.get(f"/api/v1/tenders/{tender['id']}/awards")).json()
    assert [(a["supplier_id"], a["value"]["amount"]) for a in awards] == [(str(bidders[0].org_id), 48_000_00)]
    entries = await db.fetch("SELECT supplier_id, price FROM opening_entry WHERE lot_id = $1 ORDER BY price",
                             UUID(tender["lots"][0]["id"]))
    assert [e["price"] for e in entries] == [48_000_00, 48_500_00, 49_000_00]
    opening = await db.fetchrow("SELECT record FROM tender_opening WHERE tender_id = $1", UUID(tender["id"]))
    assert "5000000" in json.dumps(opening["record"])  # the opening record keeps the sealed prices
    events = await db.fetch("SELECT topic, payload FROM outbox WHERE topic LIKE 'auction.%' ORDER BY id")
    assert [e["topic"] for e in events] == ["auction.scheduled", "auction.closed"]
    closed = json.loads(events[1]["payload"]) if isinstance(events[1]["payload"], str) else events[1]["payload"]
    assert [b["price"] for b in closed["bids"]] == [49_000_00, 48_500_00, 48_000_00]
    assert closed["participants"][0]["supplier_id"] == str(bidders[0].org_id)
    actions = await db.fetch("SELECT action FROM audit_event WHERE entity_id = $1 ORDER BY id", aid)
    assert [a["action"] for a in actions] == ["auction.scheduled", "auction.started", "auction.bid", "auction.bid",
                                              "auction.bid", "auction.closed", "auction.awarded"]


async def test_disqualified_bidders_stay_out_and_a_cancelled_lot_cancels_the_auction(client, settings, fixed_clock):
    officer, bidders, tender = await opened(client, settings, fixed_clock)
    committee = await factories.login(settings, "agency", "committee", org_id=officer.org_id)
    bid0 = await db.fetchrow("SELECT bid_id FROM opening_entry WHERE supplier_id = $1", bidders[0].org_id)
    r = await client.post(f"/api/v1/tenders/{tender['id']}/evaluation/qualifications", headers=committee.headers,
                          json={"lot_id": tender["lots"][0]["id"], "bid_id": str(bid0["bid_id"]), "qualified": False,
                                "reason": "Ficha técnica no cumple"})
    assert r.status_code in (200, 201), r.text
    start = fixed_clock.now() + timedelta(minutes=1)
    aid = (await client.post(url(tender), json={"starts_at": start.isoformat()}, headers=officer.headers)).json()["id"]
    fixed_clock.set(start)
    board = (await client.get(f"/api/v1/auctions/{aid}", headers=bidders[0].headers)).json()
    assert board["state"] == "running" and board["participants"] == 2 and "you" not in board
    assert board["best_price"]["amount"] == 51_000_00
    r = await client.post(f"/api/v1/auctions/{aid}/bids", json={"price": {"amount": 40_000_00}},
                          headers=bidders[0].headers)
    assert r.status_code == 403
    r = await client.post(f"/api/v1/tenders/{tender['id']}/cancel", json={"reason": "Presupuesto recortado"},
                          headers=officer.headers)
    assert r.status_code == 200, r.text
    r = await client.post(f"/api/v1/auctions/{aid}/bids", json={"price": {"amount": 40_000_00}},
                          headers=bidders[1].headers)
    assert r.status_code == 409 and err(r)["rule"] == "state"
    await jobs.sweep_auctions({"settings": settings})
    board = (await client.get(f"/api/v1/auctions/{aid}")).json()
    assert board["state"] == "cancelled"


async def test_a_suspended_bidder_cannot_bid_in_the_auction(client, settings, fixed_clock):
    from tests.tenders.test_enquiries_amendments import suspend

    officer, bidders, tender = await opened(client, settings, fixed_clock)
    start = fixed_clock.now() + timedelta(minutes=10)
    r = await client.post(url(tender), json={"starts_at": start.isoformat(), "duration_seconds": 300,
                                             "soft_close_seconds": 60, "extension_seconds": 60,
                                             "min_decrement": {"amount": 10_00, "currency": "PEN"},
                                             "min_decrement_percent": "0"},
                          headers=officer.headers)
    aid = r.json()["id"]
    fixed_clock.set(start + timedelta(seconds=1))
    await suspend(bidders[2].org_id)
    r = await client.post(f"/api/v1/auctions/{aid}/bids", json={"price": {"amount": 40_000_00}},
                          headers=bidders[2].headers)
    assert r.status_code == 403 and r.json()["type"].endswith("supplier-suspended"), r.text
    r = await client.post(f"/api/v1/auctions/{aid}/bids", json={"price": {"amount": 40_000_00}},
                          headers=bidders[1].headers)
    assert r.status_code == 201, r.text
