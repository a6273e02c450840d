"""Purchase order states: placed -> accepted | rejected (by the supplier) | cancelled (by the agency)."""

from __future__ import annotations

from enum import StrEnum

from marketplace.core.errors import Conflict
from marketplace.core.i18n import N_


class OrderStatus(StrEnum):
    PLACED = "placed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PLACED: frozenset({OrderStatus.ACCEPTED, OrderStatus.REJECTED, OrderStatus.CANCELLED}),
    OrderStatus.ACCEPTED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}
# Moving to these gives the reserved stock back.
RELEASES_STOCK = frozenset({OrderStatus.REJECTED, OrderStatus.CANCELLED})


class OrderAlreadyDecided(Conflict):
    type = "order-already-decided"
    title = N_("The order has already been decided")


def check_transition(current: OrderStatus, new: OrderStatus) -> None:
    if new not in TRANSITIONS[current]:
        raise OrderAlreadyDecided(N_("The order is already {status}"), field="status", rule="transition",
                                  params={"status": current.value})
