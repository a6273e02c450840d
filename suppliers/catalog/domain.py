"""Catalogue rules without I/O: the unit prices a supplier may set."""

from __future__ import annotations

from marketplace.core.errors import InvalidInput
from marketplace.core.i18n import N_
from marketplace.core.money import Money

CURRENCY = "PEN"  # catalogue prices are taken in soles
MAX_UNIT_PRICE = 10**13  # céntimos: S/ 100,000,000,000.00, far above any unit price, far below a bigint


def unit_price(price: Money, *, field: str) -> int:
    """The amount of a unit price given as `field`, in céntimos: a 422 naming `field.currency` (rule
    `currency`) unless it is in soles, or `field.amount` (rule `range`) unless it is above 0 and at most
    MAX_UNIT_PRICE."""
    if price.currency != CURRENCY:
        raise InvalidInput(N_("Amounts must be in soles (PEN)"), field=f"{field}.currency", rule="currency")
    if price.amount <= 0:
        raise InvalidInput(N_("Must be {op} {n}"), field=f"{field}.amount", rule="range", params={"op": ">", "n": 0})
    if price.amount > MAX_UNIT_PRICE:
        raise InvalidInput(N_("Must be {op} {n}"), field=f"{field}.amount", rule="range",
                           params={"op": "<=", "n": MAX_UNIT_PRICE})
    return price.amount
