"""Award and appeal states: one explicit state object each, every transition named and checked.

Award (the "buena pro" of a lot):

    pending --notify--> standstill --consent (standstill over, no appeal)--> consented
                        standstill --appeal--> appealed --dismiss (last open appeal, period over)--> consented
                                               appealed --resume (last open appeal dismissed, period
                                                          still running)--> standstill
                                               appealed --uphold--> cancelled   (the lot goes back to evaluation)
    pending | standstill | appealed | consented --cancel (tender or lot cancelled)--> cancelled

Appeal:

    filed --uphold--> upheld
    filed --dismiss--> dismissed
    filed --moot (another appeal on the same award was upheld, or the award was cancelled)--> moot

The consent decision also needs the clock: `can_consent(now, standstill_ends_at, open_appeals)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from marketplace.core.errors import Conflict, DeadlinePassed
from marketplace.core.i18n import N_


class InvalidTransition(Conflict):
    type = "invalid-transition"
    title = N_("This action is not possible in the current state")


@dataclass(frozen=True, slots=True)
class StateMachine:
    name: str
    transitions: Mapping[str, Mapping[str, str]]  # state -> action -> next state
    initial: str

    @property
    def states(self) -> frozenset[str]:
        out = set(self.transitions)
        for moves in self.transitions.values():
            out.update(moves.values())
        return frozenset(out)

    @property
    def actions(self) -> frozenset[str]:
        return frozenset(a for moves in self.transitions.values() for a in moves)

    def allowed(self, state: str) -> frozenset[str]:
        return frozenset(self.transitions.get(state, {}))

    def can(self, state: str, action: str) -> bool:
        return action in self.transitions.get(state, {})

    def next(self, state: str, action: str) -> str:
        """The state after `action`, or InvalidTransition (409) naming both."""
        try:
            return self.transitions[state][action]
        except KeyError:
            raise InvalidTransition(
                N_("Cannot {action} a {entity} that is {state}"),
                params={"action": action, "entity": self.name, "state": state},
                rule="state", field="state",
            ) from None

    def terminal(self, state: str) -> bool:
        return not self.transitions.get(state)


AWARD = StateMachine(
    name="award",
    initial="pending",
    transitions={
        "pending": {"notify": "standstill", "cancel": "cancelled"},
        "standstill": {"consent": "consented", "appeal": "appealed", "cancel": "cancelled"},
        "appealed": {"appeal": "appealed", "dismiss": "consented", "resume": "standstill", "uphold": "cancelled",
                     "cancel": "cancelled"},
        "consented": {"cancel": "cancelled"},
        "cancelled": {},
    },
)

APPEAL = StateMachine(
    name="appeal",
    initial="filed",
    transitions={
        # Where an appeal owes a bond it waits for it: only a paid appeal suspends consent and can be
        # decided; one still unpaid when the standstill ends lapses (moot).
        "pending_bond": {"admit": "filed", "moot": "moot"},
        "filed": {"uphold": "upheld", "dismiss": "dismissed", "moot": "moot"},
        "upheld": {},
        "dismissed": {},
        "moot": {},
    },
)

APPEAL_DECISIONS = ("upheld", "dismissed")
OPEN_APPEAL_STATES = ("pending_bond", "filed")


# Who decides an appeal (Ley 30225, art. 41): the agency's head when the lot's estimated value is at most
# APPEAL_TRIBUNAL_UIT UIT, the Tribunal de Contrataciones del Estado above it.
AGENCY_HEAD, TRIBUNAL = "agency_head", "tribunal"
DECIDING_BODIES = (AGENCY_HEAD, TRIBUNAL)
# The default threshold (50 UIT of S/ 5,500), for callers without settings; the app passes Settings'.
DEFAULT_TRIBUNAL_ABOVE_CENTS = 50 * 550_000


def deciding_body(*, estimated_value_cents: int, tribunal_above_cents: int) -> str:
    """The body that decides an appeal against the award of a lot of this estimated value."""
    return TRIBUNAL if estimated_value_cents > tribunal_above_cents else AGENCY_HEAD


def bond_required(*, bond_percent: Decimal, estimated_value_cents: int) -> bool:
    """An appeal owes a bond (APPEAL_BOND_PERCENT of the lot's estimated value) unless the rate is 0."""
    return bond_percent > 0 and estimated_value_cents > 0


def first_appeal_state(*, owes_bond: bool) -> str:
    """An appeal that owes a bond waits for it; one that owes none is open at once."""
    return "pending_bond" if owes_bond else APPEAL.initial


class StandstillOver(DeadlinePassed):
    type = "standstill-over"
    title = N_("The standstill period is over")


def in_standstill(now: datetime, standstill_ends_at: datetime) -> bool:
    return now < standstill_ends_at


def check_can_appeal(*, state: str, now: datetime, standstill_ends_at: datetime) -> str:
    """An appeal is possible while the award is in standstill (or already appealed), before the end."""
    nxt = AWARD.next(state, "appeal")
    if not in_standstill(now, standstill_ends_at):
        raise StandstillOver(N_("The period to appeal this award ended at {ends}"),
                             params={"ends": standstill_ends_at.isoformat()}, field="award", rule="standstill")
    return nxt


def can_consent(*, state: str, now: datetime, standstill_ends_at: datetime, open_appeals: int) -> bool:
    """The consent job's rule: in standstill, the period over, and no appeal open."""
    return state == "standstill" and now >= standstill_ends_at and open_appeals == 0


def after_decision(*, decision: str, other_open_appeals: int, now: datetime,
                   standstill_ends_at: datetime) -> str | None:
    """The award action a decided appeal triggers (None: the award stays appealed).

    Upheld: the award is cancelled. Dismissed: with other appeals still open nothing changes; else the
    award is consented when the period to appeal is over, or goes back to standstill (and the consent job
    consents it when the period ends, unless someone else appeals in time).
    """
    if decision == "upheld":
        return "uphold"
    if decision == "dismissed":
        if other_open_appeals:
            return None
        return "resume" if in_standstill(now, standstill_ends_at) else "dismiss"
    raise ValueError(decision)
