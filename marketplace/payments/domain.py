"""Payment rules without I/O: the forward-only state machine, idempotency keys and ledger entries.

A payment's state only moves forward along RANK. Applying a Stripe event moves the state to
max(current, state the event implies), so the final state is the same whatever the order in which
events arrive and however often each is delivered (max is commutative, associative and idempotent).
The ledger entries a state implies are derived from the state, not from the path taken to it, for the
same reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

KINDS = ("registry_fee", "appeal_bond", "bond_refund", "milestone")
METHODS = ("stripe", "stripe_connect", "treasury")

RANK: dict[str, int] = {
    "requested": 0,   # the row exists; the job has not reached Stripe yet
    "pending": 1,     # Stripe has the object; waiting for the payer
    "processing": 2,
    "failed": 3,      # the last attempt failed (the payer may still retry the same PaymentIntent)
    "canceled": 4,
    "succeeded": 5,
    "reversed": 6,    # a transfer taken back
}
STATES = tuple(RANK)
FINAL_STATES = frozenset({"canceled", "succeeded", "reversed"})

# Kinds paid by a supplier through a PaymentIntent.
INTENT_KINDS = frozenset({"registry_fee", "appeal_bond"})


def advance(current: str, target: str | None) -> str:
    """The state after learning that the payment reached `target` (never backwards)."""
    if target is None or target not in RANK:
        return current
    return target if RANK[target] > RANK[current] else current


# --- idempotency keys: one per business operation --------------------------------------------------

def fee_key(supplier_org_id: UUID, year: int) -> str:
    return f"fee:{supplier_org_id}:{year}"


def bond_key(appeal_id: UUID) -> str:
    return f"bond:{appeal_id}"


def bond_refund_key(appeal_id: UUID) -> str:
    return f"bond-refund:{appeal_id}"


def milestone_key(milestone_id: UUID, attempt: int) -> str:
    return f"milestone:{milestone_id}:{attempt}"


# --- what a Stripe object or event says about the payment ------------------------------------------

_INTENT_STATUS = {
    "requires_payment_method": "pending",
    "requires_confirmation": "pending",
    "requires_action": "pending",
    "requires_capture": "processing",
    "processing": "processing",
    "canceled": "canceled",
    "succeeded": "succeeded",
}
_REFUND_STATUS = {
    "pending": "processing",
    "requires_action": "pending",
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "canceled",
}
_EVENT_STATE = {
    "payment_intent.created": "pending",
    "payment_intent.requires_action": "pending",
    "payment_intent.processing": "processing",
    "payment_intent.payment_failed": "failed",
    "payment_intent.canceled": "canceled",
    "payment_intent.succeeded": "succeeded",
    "transfer.created": "succeeded",
    "transfer.reversed": "reversed",
    "charge.refunded": "succeeded",   # applies to the refund of the charge's PaymentIntent
    "refund.failed": "failed",
}
HANDLED_EVENTS = frozenset({*_EVENT_STATE, "refund.created", "refund.updated", "account.updated"})


def state_of_intent(status: str | None) -> str | None:
    return _INTENT_STATUS.get(status or "")


def state_of_refund(status: str | None) -> str | None:
    return _REFUND_STATUS.get(status or "")


def state_of_transfer(obj: dict[str, Any]) -> str:
    return "reversed" if obj.get("reversed") else "succeeded"


def state_of_event(event_type: str, obj: dict[str, Any]) -> str | None:
    """The state a payment reached according to an event (None when the event says nothing of it)."""
    if event_type in ("refund.created", "refund.updated"):
        return state_of_refund(obj.get("status"))
    if event_type == "charge.refunded" and not obj.get("refunded"):
        return None  # a partial refund: we only ever refund bonds in full
    return _EVENT_STATE.get(event_type)


# --- the ledger ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Entry:
    entry_type: str
    direction: str  # in: received from the supplier; out: paid to the supplier


_MAIN_ENTRY = {
    "registry_fee": Entry("registry_fee", "in"),
    "appeal_bond": Entry("appeal_bond", "in"),
    "bond_refund": Entry("bond_refund", "out"),
    "milestone": Entry("milestone_payment", "out"),
}


def ledger_entries(kind: str, state: str) -> list[Entry]:
    """Every ledger entry a payment of `kind` in `state` implies (inserted once each, by type)."""
    if state == "succeeded":
        return [_MAIN_ENTRY[kind]]
    if state == "reversed" and kind == "milestone":
        return [_MAIN_ENTRY[kind], Entry("transfer_reversal", "in")]
    return []
