"""Money: integer minor units (céntimos) with an ISO 4217 code. Never float."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated

import msgspec
from babel.numbers import format_currency

from marketplace.core.errors import InvalidInput
from marketplace.core.i18n import N_

# A non-negative amount in céntimos, bounded to what a bigint and any real budget hold.
Cents = Annotated[int, msgspec.Meta(ge=0, le=10**15, description="Amount in céntimos (1/100 of the currency unit)")]
Currency = Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$", description="ISO 4217 code")]


class Money(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Every amount in the API: `{"amount": 150000, "currency": "PEN"}` is S/ 1,500.00. `amount` is an
    integer in the currency's minor units (céntimos for PEN; whole units for a currency without them, such as
    PYG), never a float. Imported amounts keep their own currency; amounts are never summed across
    currencies."""

    amount: Annotated[int, msgspec.Meta(ge=-(10**15), le=10**15,
                                        description="integer, in minor units of the currency (céntimos for PEN)")]
    currency: Currency = "PEN"


def money(amount: int, currency: str = "PEN") -> Money:
    return Money(amount=amount, currency=currency)


def pen_cents(value: Money, field: str, *, positive: bool = False) -> int:
    """An amount the API takes, in céntimos: it must be in soles (422 on `<field>.currency`, rule `currency`),
    not negative (or positive when asked; 422 on `<field>.amount`, rule `range`)."""
    if value.currency != "PEN":
        raise InvalidInput(N_("Amounts are in soles: the currency must be PEN"), field=f"{field}.currency",
                           rule="currency")
    if value.amount < 0 or (positive and value.amount == 0):
        raise InvalidInput(N_("The amount must be positive"), field=f"{field}.amount", rule="range")
    return value.amount


# Scores and points in the API: JSON numbers rounded to 2 decimals (computed as Decimal, never float).
Score = Annotated[float, msgspec.Meta(description="points, a number rounded to 2 decimals")]


def score(value: Decimal | int | float) -> float:
    """A score as the API gives it: a number rounded half-even to 2 decimals."""
    return float(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN))


def to_decimal(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def from_decimal(amount: Decimal | str) -> int:
    return int((Decimal(amount) * 100).quantize(Decimal("1"), rounding=ROUND_HALF_EVEN))


def percent_of(cents: int, rate: Decimal) -> int:
    """`rate` percent of `cents`, rounded half-even to the céntimo."""
    return int((Decimal(cents) * rate / 100).quantize(Decimal("1"), rounding=ROUND_HALF_EVEN))


def format_money(cents: int, currency: str = "PEN", locale: str = "es_PE") -> str:
    return format_currency(to_decimal(cents), currency, locale=locale)
