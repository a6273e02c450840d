"""Live reverse auction rules without I/O: the policy, the state object, the bid rules and the ranking.

Subasta inversa electrónica, per lot: after the sealed initial offers are opened, the qualified bidders
(those the committee has not disqualified) take part, ranked by their opened prices. At `starts_at` the
bidding window opens for `duration_seconds`. Each bid (lance) must be below the bidder's own last price,
and (with `must_beat_best`, the default) below the current best price, by at least the minimum decrement
(`min_decrement_cents` and/or `min_decrement_percent` of the price it lowers; the larger applies). A bid
received in the last `soft_close_seconds` of the window extends it to `extension_seconds` after that bid
(soft close: nobody wins by sniping), up to `max_extensions` times (0: no limit). The window ends when
its (possibly extended) end passes with no extension.

States (one explicit object, `AUCTION`):

    scheduled --start (now >= starts_at)--> running --close (now >= ends_at)--> closed
    scheduled | running --cancel (the lot was cancelled)--> cancelled

Ranking: lower price first; among equal prices the one that reached it first (the auction's sequence:
0 for the opened sealed prices, then 1, 2, ... in the order the auction row's lock admitted the bids), and
among equal opened prices the earlier sealed-bid receipt time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any


class AuctionState(StrEnum):
    SCHEDULED = "scheduled"
    RUNNING = "running"
    CLOSED = "closed"
    CANCELLED = "cancelled"


TRANSITIONS: Mapping[AuctionState, Mapping[str, AuctionState]] = {
    AuctionState.SCHEDULED: {"start": AuctionState.RUNNING, "cancel": AuctionState.CANCELLED},
    AuctionState.RUNNING: {"close": AuctionState.CLOSED, "cancel": AuctionState.CANCELLED},
    AuctionState.CLOSED: {},
    AuctionState.CANCELLED: {},
}


class IllegalAuctionTransition(Exception):
    def __init__(self, state: str, action: str) -> None:
        super().__init__(f"cannot {action} an auction that is {state}")
        self.state, self.action = state, action


@dataclass(frozen=True, slots=True)
class AuctionStateMachine:
    transitions: Mapping[AuctionState, Mapping[str, AuctionState]]

    def next(self, state: str, action: str) -> AuctionState:
        try:
            return self.transitions[AuctionState(state)][action]
        except KeyError:
            raise IllegalAuctionTransition(state, action) from None

    def due(self, *, state: str, now: datetime, starts_at: datetime, ends_at: datetime) -> list[str]:
        """The clock-driven actions due now, in order (a lazy read long after the end starts and closes)."""
        out: list[str] = []
        if state == AuctionState.SCHEDULED and now >= starts_at:
            out.append("start")
            state = AuctionState.RUNNING
        if state == AuctionState.RUNNING and now >= ends_at:
            out.append("close")
        return out


AUCTION = AuctionStateMachine(TRANSITIONS)


@dataclass(frozen=True, slots=True)
class AuctionPolicy:
    """How an auction runs. Defaults come from Settings (`tenders.auctions.policy.of`); an officer may
    override any field when scheduling, and the auction keeps the policy it was scheduled with."""

    duration_seconds: int = 600
    min_decrement_cents: int = 0
    min_decrement_percent: Decimal = Decimal("0.5")
    soft_close_seconds: int = 120
    extension_seconds: int = 120
    max_extensions: int = 0  # 0: no limit
    must_beat_best: bool = True
    auto_award: bool = True  # award the lot (price only) as soon as the auction closes

    def problems(self) -> list[tuple[str, str]]:
        """(field, rule) for every value out of range."""
        out = []
        if not 10 <= self.duration_seconds <= 86_400:
            out.append(("duration_seconds", "range"))
        if self.min_decrement_cents < 0:
            out.append(("min_decrement_cents", "range"))
        if not (self.min_decrement_percent.is_finite() and Decimal(0) <= self.min_decrement_percent <= Decimal(50)):
            out.append(("min_decrement_percent", "range"))
        if self.min_decrement_cents == 0 and self.min_decrement_percent == 0:
            out.append(("min_decrement_cents", "decrement_required"))
        if not 0 <= self.soft_close_seconds <= self.duration_seconds:
            out.append(("soft_close_seconds", "range"))
        if not 0 <= self.extension_seconds <= 3_600:
            out.append(("extension_seconds", "range"))
        if self.soft_close_seconds > 0 and self.extension_seconds == 0:
            out.append(("extension_seconds", "extension_required"))
        if self.max_extensions < 0:
            out.append(("max_extensions", "range"))
        return out

    def decrement(self, reference: int) -> int:
        """The minimum amount (céntimos, at least 1) a bid must go below `reference`."""
        by_percent = math.ceil(Decimal(reference) * self.min_decrement_percent / 100)
        return max(1, self.min_decrement_cents, by_percent)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["min_decrement_percent"] = str(self.min_decrement_percent)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: AuctionPolicy | None = None) -> AuctionPolicy:
        base = base or cls()
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in data.items() if k in known and v is not None}
        if "min_decrement_percent" in kw:
            kw["min_decrement_percent"] = Decimal(str(kw["min_decrement_percent"]))
        return replace(base, **kw)


# --------------------------------------------------------------------------------------------- bids

@dataclass(frozen=True, slots=True)
class BidCheck:
    rule: str | None  # None: accepted
    limit: int | None = None  # the highest acceptable price under the broken rule


def check_bid(policy: AuctionPolicy, *, price: int, own_price: int, best_price: int) -> BidCheck:
    """Is `price` an acceptable lance for a bidder at `own_price` when the best is `best_price`?"""
    own_limit = own_price - policy.decrement(own_price)
    if price > own_limit:
        return BidCheck("below_own_price", own_limit)
    if policy.must_beat_best:
        best_limit = best_price - policy.decrement(best_price)
        if price > best_limit:
            return BidCheck("below_best_price", best_limit)
    return BidCheck(None)


def extended_end(policy: AuctionPolicy, *, received_at: datetime, ends_at: datetime,
                 extensions: int) -> datetime:
    """The window's end after a bid received at `received_at` (unchanged unless the bid falls in the soft
    close window and the extension limit allows)."""
    if policy.soft_close_seconds <= 0:
        return ends_at
    if received_at < ends_at - timedelta(seconds=policy.soft_close_seconds):
        return ends_at
    if policy.max_extensions and extensions >= policy.max_extensions:
        return ends_at
    return max(ends_at, received_at + timedelta(seconds=policy.extension_seconds))


# ------------------------------------------------------------------------------------------ ranking

@dataclass(slots=True)
class Standing:
    alias: str
    price: int
    price_seq: int
    initial_received_at: datetime
    supplier_id: Any = None
    supplier_name: str | None = None
    rank: int = 0


def rank_key(s: Standing) -> tuple[int, int, datetime, str]:
    return (s.price, s.price_seq, s.initial_received_at, s.alias)


def rank(standings: Iterable[Standing]) -> list[Standing]:
    """Order by rank_key and number from 1 (in place on the objects)."""
    ordered = sorted(standings, key=rank_key)
    for i, s in enumerate(ordered, 1):
        s.rank = i
    return ordered


def alias(n: int) -> str:
    """The anonymous name of the n-th participant (1-based): 'Postor 1', 'Postor 2', ..."""
    return f"Postor {n}"


# -------------------------------------------------------------------------------------------- board

RECENT_BIDS = 100  # while running, boards show the last N bids (the full sequence once the auction ends)

@dataclass(slots=True)
class Lance:
    seq: int
    alias: str
    price: int
    received_at: datetime
    extended: bool
    ends_at: datetime
    supplier_id: Any = None


@dataclass
class Board:
    """An auction as the live boards know it: built from PostgreSQL, moved forward by bid events."""

    id: Any
    tender_id: Any
    lot_id: Any
    ocid: str
    state: str
    starts_at: datetime
    ends_at: datetime
    currency: str
    version: int
    extensions: int
    best_price: int | None
    policy: AuctionPolicy
    closed_at: datetime | None = None
    award_state: str | None = None
    standings: dict[str, Standing] = None  # type: ignore[assignment]  # alias -> standing
    alias_of: dict[Any, str] = None  # type: ignore[assignment]  # supplier id -> alias
    bids: list[Lance] = None  # type: ignore[assignment]
    ranked: list[Standing] = None  # type: ignore[assignment]
    initial_prices: dict[str, int] = None  # type: ignore[assignment]  # alias -> opened price

    def __post_init__(self) -> None:
        self.initial_prices = self.initial_prices or {}
        self.standings = self.standings or {}
        self.alias_of = self.alias_of or {s.supplier_id: a for a, s in self.standings.items()}
        self.bids = self.bids or []
        self.ranked = rank(self.standings.values())

    @property
    def ended(self) -> bool:
        return self.state in (AuctionState.CLOSED, AuctionState.CANCELLED)

    def apply_bid(self, *, version: int, seq: int, alias: str, price: int, received_at: datetime,
                  ends_at: datetime, extended: bool, extensions: int) -> bool:
        """Apply the next bid; False (nothing changed) unless it is exactly the next version."""
        if version != self.version + 1 or self.state != AuctionState.RUNNING or alias not in self.standings:
            return False
        s = self.standings[alias]
        s.price, s.price_seq = price, seq
        self.version, self.ends_at, self.extensions = version, ends_at, extensions
        self.best_price = price if self.best_price is None else min(self.best_price, price)
        self.bids.append(Lance(seq, alias, price, received_at, extended, ends_at, s.supplier_id))
        if len(self.bids) > 2 * RECENT_BIDS:  # a live board keeps the recent ones (the end reloads them all)
            del self.bids[:-RECENT_BIDS]
        self.ranked = rank(self.standings.values())
        return True

    def next_max_price(self, alias: str) -> int:
        """The highest price the participant's next bid may have now."""
        s = self.standings[alias]
        limit = s.price - self.policy.decrement(s.price)
        if self.policy.must_beat_best and self.best_price is not None:
            limit = min(limit, self.best_price - self.policy.decrement(self.best_price))
        return limit
