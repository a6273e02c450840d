"""Auction use cases: schedule, start, bid (lance), close, award; the board.

Ordering and fairness: every write takes the auction row FOR UPDATE first and reads the clock after the
lock, so bids, the start and the close are totally ordered by that lock and judged by one clock; each
admitted bid takes the next number of the auction's sequence (`auction.last_seq`), and every change the
next `auction.version`. A bid at or after the window's end is refused (409 DeadlinePassed) and writes
nothing. Each bid is audited ('auction.bid') and gets a receipt signed like sealed bids' (Ed25519,
marketplace.core.sealing).

Clock moves (start at `starts_at`, close at `ends_at`) happen wherever they are noticed first, all
idempotent under the lock: the auction job (tenders.auctions.jobs, every few seconds, database-driven),
the live rooms' timers, and lazily on read (`settle`). A closed auction writes each participant's final
price into `opening_entry` (what evaluation scores: the opening record itself, tender_opening.record,
keeps the sealed prices) and then, with `auto_award`, calls the awards service for the lot: price only,
no bonuses apply to this method (tenders.evaluation.policy excludes it).

Outbox topics:

- 'auction.scheduled' {auction_id, tender_id, ocid, lot_id, starts_at, ends_at, policy}
- 'auction.closed'    {auction_id, tender_id, ocid, lot_id, currency, started_at, closed_at, extensions,
                       participants: [{supplier_id, alias, initial_price, final_price, rank}],
                       bids: [{seq, supplier_id, alias, price, received_at}]}   (the full sequence)
- 'auction.cancelled' {auction_id, tender_id, lot_id, reason}

Live events go to the boards after commit (tenders.auctions.live.publish).
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec

from marketplace.core import audit, clock, db, ids, outbox, sealing
from marketplace.core.actor import SYSTEM, Actor, require
from marketplace.core.errors import Conflict, DeadlinePassed, DomainError, Forbidden, InvalidInput, NotFound
from marketplace.core.i18n import N_
from marketplace.core.money import Money, pen_cents, score
from marketplace.settings import Settings
from suppliers import service as suppliers
from tenders import service as tenders
from tenders.auctions import domain, live
from tenders.auctions import policy as policies
from tenders.auctions.domain import AUCTION, AuctionPolicy, AuctionState, Board, Lance, Standing
from tenders.auctions.schemas import (
    AuctionCreate,
    AuctionPolicyRead,
    AuctionRead,
    LanceCreate,
    LanceRead,
    LanceReceipt,
    StandingRead,
    YouRead,
)
from tenders.awards import service as awards
from tenders.awards.schemas import AwardCreate
from tenders.domain import Method, State, rfc3339

log = logging.getLogger(__name__)

TOPIC_SCHEDULED = "auction.scheduled"
TOPIC_CLOSED = "auction.closed"
TOPIC_CANCELLED = "auction.cancelled"
BIDDER_ROLES = ("bidder", "supplier_admin")
RUNNING_BIDS_SHOWN = domain.RECENT_BIDS  # while running, a snapshot carries the last N bids (all once ended)
_rng = random.SystemRandom()
_json = msgspec.json.Encoder(order="sorted")


def _policy_of(row: dict[str, Any]) -> AuctionPolicy:
    raw = row["policy"]
    return AuctionPolicy.from_dict(msgspec.json.decode(raw) if isinstance(raw, str) else raw)


_AUCTION_SQL = ("SELECT a.*, t.ocid, t.agency_id FROM auction a JOIN tender t ON t.id = a.tender_id"
                " WHERE a.id = $1")


async def _auction(auction_id: UUID, *, lock: bool = False) -> dict[str, Any]:
    row = await db.fetchrow(_AUCTION_SQL + (" FOR UPDATE OF a" if lock else ""), auction_id)
    if row is None:
        raise NotFound(N_("Auction not found"))
    return row


# ------------------------------------------------------------------------------------------ schedule

async def _eligible(lot_id: UUID) -> list[dict[str, Any]]:
    """The lot's opened bids the committee has not disqualified, by opened price then receipt time."""
    return await db.fetch(
        "SELECT e.bid_id, e.supplier_id, e.price, e.received_at FROM opening_entry e"
        " LEFT JOIN bid_qualification q ON q.lot_id = e.lot_id AND q.bid_id = e.bid_id"
        " WHERE e.lot_id = $1 AND q.qualified IS DISTINCT FROM false AND e.price > 0"
        " ORDER BY e.price, e.received_at, e.bid_id", lot_id)


async def schedule(*, actor: Actor, settings: Settings, tender_id: UUID, lot_id: UUID,
                   data: AuctionCreate) -> AuctionRead:
    """The tender's officer schedules the live auction of a lot whose sealed offers have been opened."""
    t = await tenders.lock_tender(tender_id=tender_id)
    tenders.require_tender_officer(actor, t)
    if t["method"] != Method.REVERSE_AUCTION.value:
        raise Conflict(N_("Only a subasta inversa electrónica has a live auction"), field="method",
                       rule="method", params={"method": t["method"]})
    lot = await db.fetchrow("SELECT id, number, state FROM tender_lot WHERE id = $1 AND tender_id = $2",
                            lot_id, tender_id)
    if lot is None:
        raise NotFound(N_("Lot not found"), field="lot_id", rule="exists")
    if lot["state"] != State.EVALUATION.value:
        raise Conflict(N_("The auction follows the opening of the offers (the lot is {state})"), field="state",
                       rule="state", params={"state": lot["state"]})
    now = clock.now()
    if data.starts_at.tzinfo is None:
        raise InvalidInput(N_("A time zone is required"), field="starts_at", rule="timezone")
    if data.starts_at <= now:
        raise InvalidInput(N_("The auction must start in the future"), field="starts_at", rule="future")
    overrides = {k: getattr(data, k) for k in data.__struct_fields__ if k not in ("starts_at", "min_decrement")}
    if data.min_decrement is not None:
        overrides["min_decrement_cents"] = pen_cents(data.min_decrement, "min_decrement")
    policy = AuctionPolicy.from_dict(overrides, base=policies.of(settings))
    problems = policy.problems()
    if problems:
        field, rule = problems[0]
        field = "min_decrement.amount" if field == "min_decrement_cents" else field
        raise InvalidInput(N_("This auction policy is not valid"), field=field, rule=rule)
    if await db.fetchrow("SELECT 1 FROM auction WHERE lot_id = $1", lot_id) is not None:
        raise Conflict(N_("This lot already has an auction"), field="lot_id", rule="already_scheduled")
    if not await _eligible(lot_id):
        raise Conflict(N_("No qualified offer in this lot: there is nobody to take part"), field="lot_id",
                       rule="no_participants")
    starts = data.starts_at.astimezone(UTC)
    ends = starts + timedelta(seconds=policy.duration_seconds)
    row = await db.fetchrow(
        "INSERT INTO auction (tender_id, lot_id, state, starts_at, duration_seconds, ends_at, policy, currency,"
        " created_by, created_at) VALUES ($1, $2, 'scheduled', $3, $4, $5, $6::jsonb, $7, $8, $9) RETURNING id",
        tender_id, lot_id, starts, policy.duration_seconds, ends, _json.encode(policy.as_dict()).decode(),
        t["currency"], actor.user_id, now)
    assert row is not None
    auction_id = row["id"]
    await audit.record(actor=actor, action="auction.scheduled", entity_type="auction", entity_id=auction_id,
                       data={"tender_id": str(tender_id), "lot_id": str(lot_id), "starts_at": rfc3339(starts),
                             "ends_at": rfc3339(ends), "policy": policy.as_dict()})
    await outbox.emit(topic=TOPIC_SCHEDULED, aggregate_type="auction", aggregate_id=auction_id, payload={
        "auction_id": str(auction_id), "tender_id": str(tender_id), "ocid": t["ocid"], "lot_id": str(lot_id),
        "starts_at": rfc3339(starts), "ends_at": rfc3339(ends), "policy": policy.as_dict()})
    return render(await load_board(auction_id), viewer=None, now=now)


# ------------------------------------------------------------------------------------- clock moves

async def _start(a: dict[str, Any], now: datetime, actor: Actor) -> None:
    lot = await db.fetchrow("SELECT state FROM tender_lot WHERE id = $1", a["lot_id"])
    if lot is None or lot["state"] != State.EVALUATION.value:
        await _cancel(a, now, actor, reason=f"lot is {lot['state'] if lot else 'gone'}")
        return
    entries = await _eligible(a["lot_id"])
    order = list(range(1, len(entries) + 1))
    _rng.shuffle(order)  # aliases say nothing about the opened ranking
    if entries:
        await db.execute(
            "INSERT INTO auction_participant (auction_id, supplier_id, bid_id, alias, initial_price,"
            " initial_received_at, price, price_seq, price_at)"
            " SELECT $1, s, b, al, p, r, p, 0, r FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::bigint[],"
            " $6::timestamptz[]) AS x(s, b, al, p, r)",
            a["id"], [e["supplier_id"] for e in entries], [e["bid_id"] for e in entries],
            [domain.alias(n) for n in order], [e["price"] for e in entries], [e["received_at"] for e in entries])
    best = min((e["price"] for e in entries), default=None)
    await db.execute("UPDATE auction SET state = $2, started_at = $3, best_price = $4, version = version + 1"
                     " WHERE id = $1", a["id"], AUCTION.next(a["state"], "start"), a["starts_at"], best)
    await audit.record(actor=actor, action="auction.started", entity_type="auction", entity_id=a["id"],
                       data={"participants": len(entries), "best_price": best, "ends_at": rfc3339(a["ends_at"])})
    a.update(state=AuctionState.RUNNING.value, best_price=best, version=a["version"] + 1)
    if not entries:  # nobody to bid: the auction ends at once
        await _close(a, now, actor)


async def _close(a: dict[str, Any], now: datetime, actor: Actor) -> None:
    closed_at = min(a["ends_at"], now)
    p = _policy_of(a)
    parts = await db.fetch(
        "SELECT p.supplier_id, p.bid_id, p.alias, p.initial_price, p.price, p.price_seq, p.price_at,"
        " p.initial_received_at FROM auction_participant p WHERE p.auction_id = $1", a["id"])
    standings = domain.rank(Standing(r["alias"], r["price"], r["price_seq"], r["initial_received_at"],
                                     r["supplier_id"]) for r in parts)
    by_supplier = {r["supplier_id"]: r for r in parts}
    # The final prices are what evaluation scores (the opening record keeps the sealed ones).
    for r in parts:
        await db.execute("UPDATE opening_entry SET price = $3, received_at = $4 WHERE lot_id = $1 AND bid_id = $2",
                         a["lot_id"], r["bid_id"], r["price"], r["price_at"])
    award_state = "pending" if p.auto_award and parts else "none"
    await db.execute("UPDATE auction SET state = $2, closed_at = $3, award_state = $4, version = version + 1"
                     " WHERE id = $1", a["id"], AUCTION.next(a["state"], "close"), closed_at, award_state)
    bids = await db.fetch("SELECT b.seq, b.supplier_id, p.alias, b.price, b.received_at FROM auction_bid b"
                          " JOIN auction_participant p ON p.auction_id = b.auction_id AND p.supplier_id = b.supplier_id"
                          " WHERE b.auction_id = $1 ORDER BY b.seq", a["id"])
    payload = {
        "auction_id": str(a["id"]), "tender_id": str(a["tender_id"]), "ocid": a["ocid"], "lot_id": str(a["lot_id"]),
        "currency": a["currency"], "started_at": rfc3339(a["starts_at"]), "closed_at": rfc3339(closed_at),
        "extensions": a["extensions"],
        "participants": [{"supplier_id": str(s.supplier_id), "alias": s.alias, "rank": s.rank,
                          "initial_price": by_supplier[s.supplier_id]["initial_price"], "final_price": s.price}
                         for s in standings],
        "bids": [{"seq": b["seq"], "supplier_id": str(b["supplier_id"]), "alias": b["alias"], "price": b["price"],
                  "received_at": rfc3339(b["received_at"])} for b in bids],
    }
    await audit.record(actor=actor, action="auction.closed", entity_type="auction", entity_id=a["id"], data={
        "closed_at": rfc3339(closed_at), "bids": len(bids), "extensions": a["extensions"],
        "winner": str(standings[0].supplier_id) if standings else None,
        "best_price": standings[0].price if standings else None})
    await outbox.emit(topic=TOPIC_CLOSED, aggregate_type="auction", aggregate_id=a["id"], payload=payload)
    a.update(state=AuctionState.CLOSED.value, version=a["version"] + 1, award_state=award_state)


async def _cancel(a: dict[str, Any], now: datetime, actor: Actor, *, reason: str) -> None:
    await db.execute("UPDATE auction SET state = $2, closed_at = $3, cancel_reason = $4, version = version + 1"
                     " WHERE id = $1", a["id"], AUCTION.next(a["state"], "cancel"), now, reason)
    await audit.record(actor=actor, action="auction.cancelled", entity_type="auction", entity_id=a["id"],
                       data={"reason": reason})
    await outbox.emit(topic=TOPIC_CANCELLED, aggregate_type="auction", aggregate_id=a["id"], payload={
        "auction_id": str(a["id"]), "tender_id": str(a["tender_id"]), "lot_id": str(a["lot_id"]), "reason": reason})
    a.update(state=AuctionState.CANCELLED.value, version=a["version"] + 1)


async def _advance_locked(a: dict[str, Any], now: datetime, actor: Actor) -> bool:
    """Apply the clock moves due on the locked auction row; True when something changed."""
    changed = False
    if a["state"] in (AuctionState.SCHEDULED, AuctionState.RUNNING):
        lot = await db.fetchrow("SELECT state FROM tender_lot WHERE id = $1", a["lot_id"])
        if lot is not None and lot["state"] == State.CANCELLED.value:
            await _cancel(a, now, actor, reason="lot cancelled")
            changed = True
    for action in AUCTION.due(state=a["state"], now=now, starts_at=a["starts_at"], ends_at=a["ends_at"]):
        if a["state"] == AuctionState.CANCELLED or a["state"] == AuctionState.CLOSED:
            break
        if action == "start":
            await _start(a, now, actor)
        else:
            await _close(a, now, actor)
        changed = True
    if changed:
        _publish_state(a)
    return changed


def _publish_state(a: dict[str, Any]) -> None:
    auction_id, version, state = a["id"], a["version"], a["state"]

    async def go() -> None:
        await live.publish(auction_id, {"type": "state", "version": version, "state": state})

    db.after_commit(go)


def is_due(a: dict[str, Any], now: datetime) -> bool:
    return bool(AUCTION.due(state=a["state"], now=now, starts_at=a["starts_at"], ends_at=a["ends_at"]))


async def settle(*, auction_id: UUID, settings: Settings, actor: Actor = SYSTEM) -> None:
    """Make the clock moves due on one auction and its award, each in its own transaction (idempotent), when
    called outside a unit of work (jobs, the live rooms' timers, lazy reads); inside one (the demo seeder)
    they join it."""
    async with db.unit_of_work(join=True):
        a = await _auction(auction_id, lock=True)
        await _advance_locked(a, clock.now(), actor)
        award_due = a["state"] == AuctionState.CLOSED and a["award_state"] == "pending"
    if award_due:
        await award_closed(auction_id=auction_id, settings=settings)


async def award_closed(*, auction_id: UUID, settings: Settings) -> str:
    """Award the lot of a closed auction through the awards service (price only), once. Returns the award
    state: 'done', 'failed' (the reason in award_note; an officer can still award by hand) or as it was."""

    try:
        async with db.unit_of_work(join=True):
            a = await _auction(auction_id, lock=True)
            if a["award_state"] != "pending":
                return str(a["award_state"])
            result = await awards.award(actor=SYSTEM, settings=settings, tender_id=a["tender_id"],
                                        data=AwardCreate(lot_ids=[a["lot_id"]]))
            outcome = result.lots[0].outcome if result.lots else "none"
            await db.execute("UPDATE auction SET award_state = 'done', award_note = $2 WHERE id = $1",
                             auction_id, outcome)
            await audit.record(actor=SYSTEM, action="auction.awarded", entity_type="auction", entity_id=auction_id,
                               data={"outcome": outcome})
            return "done"
    except DomainError as exc:  # the lot moved on (cancelled, awarded by hand...): record why, do not retry
        note = f"{type(exc).__name__}: {exc.detail or exc}"
        async with db.unit_of_work(join=True):
            await db.execute("UPDATE auction SET award_state = 'failed', award_note = $2 WHERE id = $1"
                             " AND award_state = 'pending'", auction_id, note[:500])
        log.warning("auction %s: the award was not made (%s)", auction_id, note)
        return "failed"


async def due_ids(*, limit: int = 200) -> list[UUID]:
    """The job's work list: auctions a clock move is due for, and closed ones whose award is pending."""
    rows = await db.fetch(
        "SELECT a.id FROM auction a WHERE (a.state = 'scheduled' AND a.starts_at <= $1)"
        " OR (a.state = 'running' AND a.ends_at <= $1) OR a.award_state = 'pending'"
        " OR (a.state IN ('scheduled', 'running') AND EXISTS (SELECT 1 FROM tender_lot l WHERE l.id = a.lot_id"
        " AND l.state = 'cancelled')) ORDER BY a.ends_at LIMIT $2", clock.now(), limit)
    return [r["id"] for r in rows]


# --------------------------------------------------------------------------------------------- bids

def make_receipt(settings: Settings, *, bid_id: UUID, auction_id: UUID, ocid: str, lot_id: UUID, seq: int,
                 price: int, received_at: datetime, ends_at: datetime) -> LanceReceipt:
    fields: dict[str, Any] = {
        "bid_id": str(bid_id), "auction_id": str(auction_id), "ocid": ocid, "lot_id": str(lot_id),
        "seq": seq, "price": {"amount": price, "currency": "PEN"}, "received_at": rfc3339(received_at),
        "ends_at": rfc3339(ends_at),
        "key_id": settings.signing_key_id}
    return LanceReceipt(**fields, signature=sealing.sign(settings.keys.signing_private_key(), fields))


def verify_receipt(public_key_b64: str, receipt: dict[str, Any]) -> bool:
    return sealing.verify(public_key_b64, {k: v for k, v in receipt.items() if k != "signature"},
                          receipt.get("signature", ""))


async def place_bid(*, actor: Actor, settings: Settings, auction_id: UUID, data: LanceCreate) -> LanceReceipt:
    """A participant lowers its price. The auction row is locked first; the time is read after the lock."""
    require(actor, "supplier", *BIDDER_ROLES)
    if actor.org_id is None:  # a system actor passes `require`, but only a supplier organisation bids
        raise Forbidden(N_("Only the qualified bidders of this lot take part in its auction"))
    await suppliers.require_good_standing(org_id=actor.org_id)  # before the lock: a suspended bidder is out
    # One round trip takes the lock and reads the bidder's standing (the lock is the hot spot: keep it short).
    a = await db.fetchrow(
        "SELECT a.*, t.ocid, t.agency_id, l.state AS lot_state, p.alias AS my_alias, p.price AS my_price"
        " FROM auction a JOIN tender t ON t.id = a.tender_id JOIN tender_lot l ON l.id = a.lot_id"
        " LEFT JOIN auction_participant p ON p.auction_id = a.id AND p.supplier_id = $2"
        " WHERE a.id = $1 FOR UPDATE OF a", auction_id, actor.org_id)
    if a is None:
        raise NotFound(N_("Auction not found"))
    if a["lot_state"] == State.CANCELLED.value:  # the job cancels the auction; meanwhile no bid gets in
        raise Conflict(N_("The auction is {state}"), field="state", rule="state", params={"state": "cancelled"})
    now = clock.now()  # after the lock: the bid's time and the deadline decision
    if a["state"] == AuctionState.SCHEDULED and now >= a["starts_at"]:
        await _start(a, now, actor=SYSTEM)
        _publish_state(a)
        me = await db.fetchrow("SELECT alias, price FROM auction_participant WHERE auction_id = $1"
                               " AND supplier_id = $2", auction_id, actor.org_id)
        a.update(my_alias=me and me["alias"], my_price=me and me["price"])
    state = a["state"]
    if state == AuctionState.SCHEDULED:
        raise Conflict(N_("The auction has not started yet"), field="starts_at", rule="not_started",
                       params={"starts_at": rfc3339(a["starts_at"])})
    if state == AuctionState.CLOSED or (state == AuctionState.RUNNING and now >= a["ends_at"]):
        raise DeadlinePassed(N_("The auction has ended"), field="ends_at", rule="deadline_passed")
    if state != AuctionState.RUNNING:
        raise Conflict(N_("The auction is {state}"), field="state", rule="state", params={"state": state})
    if a["my_alias"] is None:
        raise Forbidden(N_("Only the qualified bidders of this lot take part in its auction"))
    price = pen_cents(data.price, "price", positive=True)
    p = _policy_of(a)
    check = domain.check_bid(p, price=price, own_price=a["my_price"], best_price=a["best_price"])
    if check.rule == "below_own_price":
        raise Conflict(N_("A bid must be at most {limit} céntimos: below your last price by the minimum decrement"),
                       field="price", rule=check.rule, params={"limit": check.limit})
    if check.rule == "below_best_price":
        raise Conflict(N_("A bid must be at most {limit} céntimos: below the best price by the minimum decrement"),
                       field="price", rule=check.rule, params={"limit": check.limit})
    seq = a["last_seq"] + 1
    ends_at = domain.extended_end(p, received_at=now, ends_at=a["ends_at"], extensions=a["extensions"])
    extended = ends_at > a["ends_at"]
    extensions = a["extensions"] + extended
    version = a["version"] + 1
    bid_id = ids.new_id()
    receipt = make_receipt(settings, bid_id=bid_id, auction_id=auction_id, ocid=a["ocid"], lot_id=a["lot_id"],
                           seq=seq, price=price, received_at=now, ends_at=ends_at)
    audit_data = {"bid_id": str(bid_id), "seq": seq, "price": price, "received_at": rfc3339(now),
                  "ends_at": rfc3339(ends_at), "extended": extended, "signature": receipt.signature}
    # The bid, the bidder's standing, the audit event (the row audit.record writes) and the auction row in
    # one statement: one round trip under the lock.
    await db.execute(
        "WITH b AS (INSERT INTO auction_bid (id, auction_id, seq, supplier_id, submitted_by, price, received_at,"
        " ends_at, extended, signature) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)),"
        " p AS (UPDATE auction_participant SET price = $6, price_seq = $3, price_at = $7, lances = lances + 1"
        " WHERE auction_id = $2 AND supplier_id = $4),"
        f" ev AS ({audit.INSERT} VALUES ($7, $5, $4, 'auction.bid', 'auction', $13, $14::jsonb))"
        " UPDATE auction SET version = $11, last_seq = $3, best_price = LEAST(best_price, $6), ends_at = $8,"
        " extensions = $12 WHERE id = $2",
        bid_id, auction_id, seq, actor.org_id, actor.user_id, price, now, ends_at, extended,
        receipt.signature, version, extensions, str(auction_id), audit.encode(audit_data))
    event = {"type": "bid", "version": version, "seq": seq, "alias": a["my_alias"], "price": price,
             "received_at": rfc3339(now), "ends_at": rfc3339(ends_at), "extended": extended,
             "extensions": extensions}

    async def go() -> None:
        await live.publish(auction_id, event)

    db.after_commit(go)
    return receipt


# -------------------------------------------------------------------------------------------- board

async def load_board(auction_id: UUID) -> Board:
    """The auction as PostgreSQL has it now (what a board starts from, and falls back to on a gap)."""
    a = await _auction(auction_id)
    parts = await db.fetch(
        "SELECT p.supplier_id, p.alias, p.price, p.price_seq, p.initial_price, p.initial_received_at, o.name"
        " FROM auction_participant p JOIN organisation o ON o.id = p.supplier_id WHERE p.auction_id = $1", auction_id)
    standings = {r["alias"]: Standing(r["alias"], r["price"], r["price_seq"], r["initial_received_at"],
                                      r["supplier_id"], r["name"]) for r in parts}
    ended = a["state"] in (AuctionState.CLOSED, AuctionState.CANCELLED)
    alias_of = {r["supplier_id"]: r["alias"] for r in parts}
    sql = ("SELECT seq, supplier_id, price, received_at, extended, ends_at FROM auction_bid WHERE auction_id = $1"
           " ORDER BY seq")
    rows = (await db.fetch(sql, auction_id) if ended else list(reversed(await db.fetch(
        sql.replace("ORDER BY seq", "ORDER BY seq DESC LIMIT $2"), auction_id, RUNNING_BIDS_SHOWN))))
    bids = [Lance(r["seq"], alias_of.get(r["supplier_id"], "?"), r["price"], r["received_at"], r["extended"],
                  r["ends_at"], r["supplier_id"]) for r in rows]
    board = Board(id=a["id"], tender_id=a["tender_id"], lot_id=a["lot_id"], ocid=a["ocid"], state=a["state"],
                  starts_at=a["starts_at"], ends_at=a["ends_at"], currency=a["currency"], version=a["version"],
                  extensions=a["extensions"], best_price=a["best_price"], policy=_policy_of(a),
                  closed_at=a["closed_at"], award_state=a["award_state"], standings=standings, alias_of=alias_of,
                  bids=bids, initial_prices={r["alias"]: r["initial_price"] for r in parts})
    return board


def _policy_read(p: AuctionPolicy, currency: str = "PEN") -> AuctionPolicyRead:
    d = p.as_dict()
    rest = {k: v for k, v in d.items() if k not in ("min_decrement_cents", "min_decrement_percent")}
    return AuctionPolicyRead(**rest, min_decrement=Money(amount=d["min_decrement_cents"], currency=currency),
                             min_decrement_percent=score(p.min_decrement_percent))


def you(board: Board, viewer: UUID | None) -> YouRead | None:
    alias = board.alias_of.get(viewer) if viewer is not None else None
    if alias is None:
        return None
    s = board.standings[alias]
    initial = board.initial_prices.get(alias, s.price)
    return YouRead(alias=alias, rank=s.rank, price=Money(amount=s.price, currency=board.currency),
                   initial_price=Money(amount=initial, currency=board.currency),
                   next_max_price=Money(amount=board.next_max_price(alias), currency=board.currency))


def render(board: Board, *, viewer: UUID | None, now: datetime) -> AuctionRead:
    """The board as `viewer` (a supplier organisation, or None) sees it: anonymous until the end."""
    ended = board.ended
    cur = board.currency
    standings = [StandingRead(alias=s.alias, rank=s.rank, price=Money(amount=s.price, currency=cur),
                              supplier_id=s.supplier_id if ended else None,
                              supplier_name=s.supplier_name if ended else None) for s in board.ranked]
    names = {s.supplier_id: s.supplier_name for s in board.standings.values()}
    shown = board.bids if ended else board.bids[-RUNNING_BIDS_SHOWN:]
    bids = [LanceRead(seq=b.seq, alias=b.alias, price=Money(amount=b.price, currency=cur),
                      received_at=b.received_at, extended=b.extended,
                      ends_at=b.ends_at, supplier_id=b.supplier_id if ended else None,
                      supplier_name=names.get(b.supplier_id) if ended else None) for b in shown]
    return AuctionRead(id=board.id, tender_id=board.tender_id, lot_id=board.lot_id, state=board.state,
                       starts_at=board.starts_at, ends_at=board.ends_at, server_time=now, currency=board.currency,
                       version=board.version, extensions=board.extensions, participants=len(board.standings),
                       policy=_policy_read(board.policy, cur),
                       best_price=None if board.best_price is None else Money(amount=board.best_price, currency=cur),
                       standings=standings,
                       bids=bids, closed_at=board.closed_at, award_state=board.award_state,
                       you=you(board, viewer))


async def _visible(actor: Actor, auction_id: UUID) -> dict[str, Any]:
    a = await _auction(auction_id)
    t = await tenders.load_tender(tender_id=a["tender_id"])
    if not tenders.can_see(actor, t):
        raise NotFound(N_("Auction not found"))
    return a


def viewer_of(actor: Actor) -> UUID | None:
    return actor.org_id if actor.org_kind == "supplier" else None


async def get_board(*, actor: Actor, settings: Settings, auction_id: UUID) -> AuctionRead:
    """The board (public); a due start or close is made first (lazily on read)."""
    a = await _visible(actor, auction_id)
    if is_due(a, clock.now()) or a["award_state"] == "pending":
        await settle(auction_id=auction_id, settings=settings)
    return render(await load_board(auction_id), viewer=viewer_of(actor), now=clock.now())


async def open_board(*, actor: Actor, settings: Settings, auction_id: UUID) -> UUID | None:
    """Authorise a live viewer (the public may watch); settle what is due. Returns the viewer's org id
    when a supplier (its own rank is shown if it takes part), else None."""
    a = await _visible(actor, auction_id)
    if is_due(a, clock.now()):
        await settle(auction_id=auction_id, settings=settings)
    return viewer_of(actor)


async def list_auctions(*, actor: Actor, tender_id: UUID) -> list[AuctionRead]:
    t = await tenders.load_tender(tender_id=tender_id)
    if not tenders.can_see(actor, t):
        raise NotFound(N_("Tender not found"))
    rows = await db.fetch("SELECT a.id FROM auction a JOIN tender_lot l ON l.id = a.lot_id WHERE a.tender_id = $1"
                          " ORDER BY l.number", tender_id)
    now = clock.now()
    return [render(await load_board(r["id"]), viewer=viewer_of(actor), now=now) for r in rows]
