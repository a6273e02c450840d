"""Contract rules without I/O: the contract's and the milestone's state objects, amendment arithmetic."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from marketplace.core.errors import Conflict
from marketplace.core.i18n import N_

# Cumulative change of value (in % of the original) beyond which oversight flags a contract. Peru's
# procurement law caps additional works and reductions at 25% without prior authorisation.
AMENDMENT_FLAG_PCT = Decimal(25)
# The performance guarantee (garantía de fiel cumplimiento): at least this % of the contract's value.
GUARANTEE_MIN_PCT = Decimal(10)


@dataclass(frozen=True)
class StateMachine:
    """Allowed transitions: {state: {action: next state}}. `next` refuses anything else with a 409."""

    name: str
    initial: str
    transitions: dict[str, dict[str, str]]

    def next(self, state: str, action: str) -> str:
        target = self.transitions.get(state, {}).get(action)
        if target is None:
            message = (N_("This cannot be done while the contract is {state}") if self.name == "contract"
                       else N_("This cannot be done while the milestone is {state}"))
            raise Conflict(message, rule=f"{self.name}-state", params={"state": state}, state=state,
                           action=action)
        return target

    def can(self, state: str, action: str) -> bool:
        return action in self.transitions.get(state, {})

    @property
    def states(self) -> tuple[str, ...]:
        seen = {self.initial, *self.transitions}
        for moves in self.transitions.values():
            seen.update(moves.values())
        return tuple(sorted(seen))


CONTRACT = StateMachine("contract", "pending", {
    "pending": {"edit": "pending", "sign": "signed", "terminate": "terminated"},
    "signed": {"edit": "signed", "amend": "signed", "deliver": "signed", "pay": "signed",
               "complete": "completed", "terminate": "terminated"},
    "completed": {"reopen": "signed"},  # a milestone's payment was reversed
    "terminated": {},
})

MILESTONE = StateMachine("milestone", "pending", {
    "pending": {"deliver": "delivered"},
    "delivered": {"accept": "accepted", "reject": "pending"},
    "accepted": {"pay": "paid"},
    "paid": {"reverse": "accepted"},
})


def change_pct(delta_cents: int, original_cents: int) -> Decimal:
    """`delta` as a % of `original`, to 4 decimals (half-even)."""
    return (Decimal(delta_cents) * 100 / Decimal(original_cents)).quantize(Decimal("0.0001"), ROUND_HALF_EVEN)


def flagged(cumulative_pct: Decimal) -> bool:
    return abs(cumulative_pct) > AMENDMENT_FLAG_PCT


def guarantee_minimum(value_cents: int) -> int:
    return int((Decimal(value_cents) * GUARANTEE_MIN_PCT / 100).quantize(Decimal("1"), ROUND_HALF_EVEN))
