"""Supplier registry rules, without I/O: the RUC, classification codes and the registry status machine.

RUC prefixes (SUNAT): python-stdnum's `stdnum.pe.ruc` accepts 10, 15, 17 and 20, and so do we:

| prefix | who | person_type |
| --- | --- | --- |
| 10 | a natural person (persona natural) with a DNI (the DNI follows) | individual |
| 15 | a natural person without a DNI: foreigners with carné de extranjería or passport, non-domiciled | individual |
| 17 | a natural person with another identity document (rare; older registrations) | individual |
| 20 | a legal person (persona jurídica: empresa, asociación, entidad) | company |

16 is not accepted: SUNAT issues no RUC with it to suppliers, and stdnum refuses it as well.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from stdnum.pe import ruc as stdnum_ruc

from marketplace.core.errors import Conflict, Forbidden, InvalidInput
from marketplace.core.i18n import N_

NATURAL_PREFIXES = ("10", "15", "17")
LEGAL_PREFIXES = ("20",)


class PersonType(StrEnum):
    COMPANY = "company"  # persona jurídica
    INDIVIDUAL = "individual"  # persona natural


class Status(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DISQUALIFIED = "disqualified"


# Which status may follow which. Disqualification (inhabilitación definitiva) is final.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.ACTIVE, Status.DISQUALIFIED}),
    Status.ACTIVE: frozenset({Status.SUSPENDED, Status.DISQUALIFIED}),
    Status.SUSPENDED: frozenset({Status.ACTIVE, Status.SUSPENDED, Status.DISQUALIFIED}),
    Status.DISQUALIFIED: frozenset(),
}


class SupplierNotInGoodStanding(Forbidden):
    """The supplier may not bid or sell now. Subclasses carry the reason as the problem type."""

    type = "supplier-not-in-good-standing"
    title = N_("The supplier is not in good standing")


class SupplierPending(SupplierNotInGoodStanding):
    type = "supplier-pending"
    title = N_("The supplier's registration is pending")


class SupplierSuspended(SupplierNotInGoodStanding):
    type = "supplier-suspended"
    title = N_("The supplier is suspended")


class SupplierDisqualified(SupplierNotInGoodStanding):
    type = "supplier-disqualified"
    title = N_("The supplier is disqualified")


class SupplierNotRegistered(SupplierNotInGoodStanding):
    type = "supplier-not-registered"
    title = N_("The organisation is not in the supplier registry")


class StatusTransitionNotAllowed(Conflict):
    type = "supplier-status-transition"
    title = N_("This status change is not allowed")


def validate_ruc(value: str) -> tuple[str, PersonType]:
    """The compact RUC and its person_type (company or individual); InvalidInput naming the rule broken."""
    try:
        number = stdnum_ruc.validate(value)
    except InvalidLength:
        raise InvalidInput(N_("The RUC must have 11 digits"), field="ruc", rule="length") from None
    except InvalidFormat:
        raise InvalidInput(N_("The RUC must have only digits"), field="ruc", rule="digits") from None
    except InvalidComponent:
        raise InvalidInput(
            N_("The RUC must start with 10, 15 or 17 (natural person) or 20 (legal person)"),
            field="ruc", rule="prefix") from None
    except InvalidChecksum:
        raise InvalidInput(N_("The RUC's check digit is wrong"), field="ruc", rule="check_digit") from None
    return number, (PersonType.COMPANY if number[:2] in LEGAL_PREFIXES else PersonType.INDIVIDUAL)


# UNSPSC (2 to 8 digits: segment, family, class, commodity) or CPV ("30192000-1").
CLASSIFICATION = re.compile(r"^[0-9]{2,8}(-[0-9])?$")


def check_transition(current: Status, new: Status) -> None:
    if new not in TRANSITIONS[current]:
        raise StatusTransitionNotAllowed(
            N_("A supplier cannot go from {current} to {new}"), field="status", rule="transition",
            params={"current": current.value, "new": new.value})


def effective_status(status: str, suspended_until: datetime | None, now: datetime) -> Status:
    """A suspension ends by itself at its end date (the sweeper then records it)."""
    s = Status(status)
    if s is Status.SUSPENDED and suspended_until is not None and suspended_until <= now:
        return Status.ACTIVE
    return s


def good_standing_sql(alias: str, now: str) -> str:
    """The SQL twin of `effective_status(...) is Status.ACTIVE` for the supplier row `alias`, with `now` the
    placeholder of the current time: what search, the catalogue and alerts use to tell who is on the market."""
    return (f"({alias}.status = 'active' OR ({alias}.status = 'suspended' AND {alias}.suspended_until IS NOT NULL"
            f" AND {alias}.suspended_until <= {now}))")


def standing_error(status: Status, suspended_until: datetime | None) -> SupplierNotInGoodStanding | None:
    if status is Status.ACTIVE:
        return None
    if status is Status.PENDING:
        return SupplierPending(N_("The supplier's registration awaits approval or the registry fee"),
                               field="supplier", rule="pending")
    if status is Status.SUSPENDED:
        return SupplierSuspended(N_("The supplier is suspended until {until}"), field="supplier", rule="suspended",
                                 params={"until": suspended_until.isoformat() if suspended_until else ""})
    return SupplierDisqualified(N_("The supplier is disqualified from public procurement"), field="supplier",
                                rule="disqualified")


def standing_reason(status: Status) -> str | None:
    """Why a bid of a supplier with this effective status is excluded (opening, scoring, award), as the
    public record names it: `supplier_suspended`, `supplier_disqualified`, `supplier_pending`; None when the
    supplier is in good standing."""
    return None if status is Status.ACTIVE else f"supplier_{status.value}"
