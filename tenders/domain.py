"""Tender rules without I/O: methods and their OCDS mapping, the timeline policy, the state machine.

The state machine is one explicit object (`MACHINE`): a table of transitions `(state, action) -> state`
with a guard per transition. Tenders and lots share the states; a tender with lots moves its open lots
with it up to evaluation, then each lot is awarded, declared unsuccessful (desierto), cancelled or
contracted on its own and the tender's state is derived from its lots (`derive_tender_state`).

OCDS mapping of the Peruvian methods (Ley 30225 and its regulation), decided here:

| method | OCDS procurementMethod | why |
| --- | --- | --- |
| public_tender | open | any supplier may bid (goods and works) |
| public_contest | open | any supplier may bid (services and consultancies) |
| simplified_award | open | published call, any registered supplier may bid |
| reverse_auction | open | published call; price-only, common goods and services |
| price_comparison | selective | the agency compares quotes from suppliers it invites (catalogue-like, small value) |
| direct_contracting | direct | one supplier, by legal exception (emergency, sole provider...) |

OCDS has a fourth value, `limited`, used by no method here today; it is accepted by the schema for
methods added later.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any


class Method(StrEnum):
    PUBLIC_TENDER = "public_tender"
    PUBLIC_CONTEST = "public_contest"
    SIMPLIFIED_AWARD = "simplified_award"
    REVERSE_AUCTION = "reverse_auction"
    PRICE_COMPARISON = "price_comparison"
    DIRECT_CONTRACTING = "direct_contracting"


OCDS_PROCUREMENT_METHOD: Mapping[Method, str] = {
    Method.PUBLIC_TENDER: "open",
    Method.PUBLIC_CONTEST: "open",
    Method.SIMPLIFIED_AWARD: "open",
    Method.REVERSE_AUCTION: "open",
    Method.PRICE_COMPARISON: "selective",
    Method.DIRECT_CONTRACTING: "direct",
}

CATEGORIES = ("goods", "services", "works")


class State(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"  # the enquiry period runs
    TENDERING = "tendering"  # bids are received
    OPENING = "opening"  # the deadline passed; bids wait for the opening
    EVALUATION = "evaluation"
    AWARDED = "awarded"  # standstill runs
    CONTRACTED = "contracted"
    CANCELLED = "cancelled"
    UNSUCCESSFUL = "unsuccessful"  # desierto


FINAL = frozenset({State.CONTRACTED, State.CANCELLED, State.UNSUCCESSFUL})
# States in which the tender (or lot) is public.
PUBLIC = frozenset(State) - {State.DRAFT}


class Action(StrEnum):
    PUBLISH = "publish"  # draft -> published (officer)
    START_TENDERING = "start_tendering"  # published -> tendering when the enquiry period ends (sweeper)
    CLOSE = "close"  # tendering -> opening when the submission deadline passes (sweeper or opening)
    OPEN = "open"  # opening -> evaluation: bids decrypted, opening record published
    AWARD = "award"  # evaluation -> awarded (standstill starts)
    REOPEN_EVALUATION = "reopen_evaluation"  # awarded -> evaluation (an appeal upheld)
    CONTRACT = "contract"  # awarded -> contracted (after the standstill)
    DECLARE_UNSUCCESSFUL = "declare_unsuccessful"  # desierto: no valid bid
    CANCEL = "cancel"  # any state before contract


@dataclass(frozen=True, slots=True)
class Facts:
    """What the guards look at; built by the service from the locked row and the clock."""

    now: datetime
    enquiry_end: datetime | None = None
    submission_deadline: datetime | None = None
    opening_time: datetime | None = None
    lot_count: int = 1
    reason: str | None = None


Guard = Callable[[Facts], str | None]  # returns the name of the broken rule, or None


def _always(_: Facts) -> str | None:
    return None


def _publishable(f: Facts) -> str | None:
    if f.lot_count < 1:
        return "lots_required"
    if f.submission_deadline is None or f.enquiry_end is None or f.opening_time is None:
        return "timeline_required"
    if f.submission_deadline <= f.now:
        return "deadline_in_past"
    return None


def _enquiries_over(f: Facts) -> str | None:
    return None if f.enquiry_end is not None and f.now >= f.enquiry_end else "enquiry_period_running"


def _deadline_passed(f: Facts) -> str | None:
    return None if f.submission_deadline is not None and f.now >= f.submission_deadline else "deadline_not_passed"


def _reason_given(f: Facts) -> str | None:
    return None if f.reason and f.reason.strip() else "reason_required"


@dataclass(frozen=True, slots=True)
class Transition:
    source: State
    action: Action
    target: State
    guard: Guard = _always


class IllegalTransition(Exception):
    def __init__(self, state: State, action: Action, rule: str) -> None:
        super().__init__(f"{action} is not allowed from {state}: {rule}")
        self.state, self.action, self.rule = state, action, rule


@dataclass(frozen=True)
class StateMachine:
    transitions: tuple[Transition, ...]
    _index: dict[tuple[State, Action], Transition] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        index = {}
        for t in self.transitions:
            assert (t.source, t.action) not in index, f"duplicate transition {t}"
            index[(t.source, t.action)] = t
        object.__setattr__(self, "_index", index)

    def allowed(self, state: State) -> list[Action]:
        return [t.action for t in self.transitions if t.source == state]

    def find(self, state: State, action: Action) -> Transition | None:
        return self._index.get((State(state), Action(action)))

    def apply(self, state: State | str, action: Action | str, facts: Facts) -> State:
        """The next state, or IllegalTransition naming the rule (`not_allowed` or the guard's rule)."""
        state, action = State(state), Action(action)
        t = self._index.get((state, action))
        if t is None:
            raise IllegalTransition(state, action, "not_allowed")
        broken = t.guard(facts)
        if broken:
            raise IllegalTransition(state, action, broken)
        return t.target


_BEFORE_CONTRACT = (State.DRAFT, State.PUBLISHED, State.TENDERING, State.OPENING, State.EVALUATION, State.AWARDED)

MACHINE = StateMachine(
    transitions=(
        Transition(State.DRAFT, Action.PUBLISH, State.PUBLISHED, _publishable),
        Transition(State.PUBLISHED, Action.START_TENDERING, State.TENDERING, _enquiries_over),
        Transition(State.TENDERING, Action.CLOSE, State.OPENING, _deadline_passed),
        Transition(State.OPENING, Action.OPEN, State.EVALUATION, _deadline_passed),
        Transition(State.OPENING, Action.DECLARE_UNSUCCESSFUL, State.UNSUCCESSFUL),  # no bid at all
        Transition(State.EVALUATION, Action.AWARD, State.AWARDED),
        Transition(State.EVALUATION, Action.DECLARE_UNSUCCESSFUL, State.UNSUCCESSFUL),
        Transition(State.AWARDED, Action.REOPEN_EVALUATION, State.EVALUATION),
        Transition(State.AWARDED, Action.CONTRACT, State.CONTRACTED),
        *(Transition(s, Action.CANCEL, State.CANCELLED, _reason_given) for s in _BEFORE_CONTRACT),
    )
)


def derive_tender_state(lot_states: Iterable[State | str]) -> State | None:
    """The tender's state once its lots have gone their own ways (evaluation onwards).

    None when the lots do not decide it (some lot still before evaluation or in evaluation: the tender
    keeps its state). Otherwise: all cancelled -> cancelled; any awarded -> awarded; else any contracted ->
    contracted; else (only unsuccessful and cancelled) -> unsuccessful.
    """
    states = [State(s) for s in lot_states]
    if not states:
        return None
    if any(s not in FINAL and s != State.AWARDED for s in states):
        return None
    if all(s == State.CANCELLED for s in states):
        return State.CANCELLED
    if any(s == State.AWARDED for s in states):
        return State.AWARDED
    if any(s == State.CONTRACTED for s in states):
        return State.CONTRACTED
    return State.UNSUCCESSFUL


# ---------------------------------------------------------------------------------------------------
# Timeline policy: minimum periods per method, configurable (one object, not literals in code).


@dataclass(frozen=True, slots=True)
class MethodPeriods:
    min_submission_days: int  # from publication to the submission deadline (calendar days)
    min_enquiry_days: int  # from publication to the end of the enquiry period
    min_enquiry_to_deadline_days: int  # from the end of enquiries to the deadline (time to adjust bids)
    standstill_business_days: int


@dataclass(frozen=True, slots=True)
class TimelinePolicy:
    periods: Mapping[Method, MethodPeriods]
    # A material amendment less than `amendment_window_days` before the deadline pushes the deadline
    # to at least `amendment_extension_days` after the amendment.
    amendment_window_days: int = 3
    amendment_extension_days: int = 3
    max_opening_delay_days: int = 30  # the opening is at most this long after the deadline
    # How long one "day" of the periods above lasts: a day, except in the training sandbox (MODE=training),
    # where `training_policy` makes it TRAINING_DAY_SECONDS so that a whole procedure fits in minutes.
    day: timedelta = timedelta(days=1)

    def for_method(self, method: Method | str) -> MethodPeriods:
        return self.periods[Method(method)]

    def days(self, n: int) -> timedelta:
        return n * self.day


DEFAULT_POLICY = TimelinePolicy(
    periods={
        Method.PUBLIC_TENDER: MethodPeriods(22, 10, 7, 8),
        Method.PUBLIC_CONTEST: MethodPeriods(22, 10, 7, 8),
        Method.SIMPLIFIED_AWARD: MethodPeriods(8, 3, 3, 5),
        Method.REVERSE_AUCTION: MethodPeriods(5, 2, 2, 5),
        Method.PRICE_COMPARISON: MethodPeriods(3, 0, 0, 5),
        Method.DIRECT_CONTRACTING: MethodPeriods(1, 0, 0, 0),
    }
)


def training_policy(day_seconds: int, base: TimelinePolicy = DEFAULT_POLICY) -> TimelinePolicy:
    """The training sandbox's policy: the same periods per method, each day lasting `day_seconds`."""
    return replace(base, day=timedelta(seconds=day_seconds))


@dataclass(frozen=True, slots=True)
class TimelineProblem:
    field: str
    rule: str
    params: dict[str, Any]


def check_timeline(
    *, method: Method | str, published_at: datetime, enquiry_end: datetime | None,
    submission_deadline: datetime | None, opening_time: datetime | None, policy: TimelinePolicy = DEFAULT_POLICY,
) -> list[TimelineProblem]:
    """Every way the timeline breaks the policy for `method`, if the tender were published at `published_at`."""
    p = policy.for_method(method)
    out: list[TimelineProblem] = []
    if enquiry_end is None:
        out.append(TimelineProblem("enquiry_end", "required", {}))
    if submission_deadline is None:
        out.append(TimelineProblem("submission_deadline", "required", {}))
    if opening_time is None:
        out.append(TimelineProblem("opening_time", "required", {}))
    if out:
        return out
    assert enquiry_end and submission_deadline and opening_time
    if submission_deadline < published_at + policy.days(p.min_submission_days):
        out.append(TimelineProblem("submission_deadline", "min_submission_period",
                                   {"days": p.min_submission_days}))
    if enquiry_end < published_at + policy.days(p.min_enquiry_days):
        out.append(TimelineProblem("enquiry_end", "min_enquiry_period", {"days": p.min_enquiry_days}))
    if enquiry_end > submission_deadline - policy.days(p.min_enquiry_to_deadline_days):
        out.append(TimelineProblem("enquiry_end", "enquiry_before_deadline",
                                   {"days": p.min_enquiry_to_deadline_days}))
    if opening_time < submission_deadline:
        out.append(TimelineProblem("opening_time", "opening_after_deadline", {}))
    elif opening_time > submission_deadline + policy.days(policy.max_opening_delay_days):
        out.append(TimelineProblem("opening_time", "max_opening_delay", {"days": policy.max_opening_delay_days}))
    return out


def extended_deadline(*, now: datetime, deadline: datetime, policy: TimelinePolicy = DEFAULT_POLICY) -> datetime:
    """The deadline after a material amendment at `now`: unchanged when far enough away, else pushed."""
    if deadline - now >= policy.days(policy.amendment_window_days):
        return deadline
    return max(deadline, now + policy.days(policy.amendment_extension_days))


# Fields whose change after publication is material (bidders may have to change their offers).
MATERIAL_TENDER_FIELDS = frozenset({"description", "submission_deadline", "category", "consultancy"})
MATERIAL_LOT_FIELDS = frozenset({"estimated_value", "classification_scheme", "classification_code", "quantity",
                                 "unit", "delivery_ubigeo", "description"})


# ---------------------------------------------------------------------------------------------------
# The aggregate: a tender's state and its lots' states, moved together.

_BEFORE_EVALUATION = frozenset({State.DRAFT, State.PUBLISHED, State.TENDERING, State.OPENING})


@dataclass(frozen=True, slots=True)
class TenderStates:
    """The states of a tender and of its lots. Tender-level actions carry along the lots that are in the
    tender's state (cancel carries every lot not yet final); lot-level actions (from evaluation on, or a
    cancel at any time) move one lot and the tender to the state its lots decide."""

    tender: State
    lots: tuple[State, ...]

    def apply(self, action: Action | str, facts: Facts) -> TenderStates:
        action = Action(action)
        if action == Action.CANCEL and State.CONTRACTED in self.lots:
            raise IllegalTransition(self.tender, action, "lot_contracted")
        target = MACHINE.apply(self.tender, action, facts)
        if action == Action.CANCEL:
            lots = tuple(s if s in FINAL else State.CANCELLED for s in self.lots)
        else:
            lots = tuple(target if s == self.tender else s for s in self.lots)
        return TenderStates(target, lots)

    def apply_lot(self, index: int, action: Action | str, facts: Facts) -> TenderStates:
        action = Action(action)
        if action != Action.CANCEL and self.tender in _BEFORE_EVALUATION:
            raise IllegalTransition(self.tender, action, "not_allowed")
        if self.tender in FINAL:
            raise IllegalTransition(self.tender, action, "not_allowed")
        target = MACHINE.apply(self.lots[index], action, facts)
        lots = tuple(target if i == index else s for i, s in enumerate(self.lots))
        tender = self.tender
        if all(s == State.CANCELLED for s in lots):
            tender = State.CANCELLED
        elif tender not in _BEFORE_EVALUATION:
            tender = derive_tender_state(lots) or (State.EVALUATION if tender == State.AWARDED and any(
                s == State.EVALUATION for s in lots) else tender)
        return TenderStates(tender, lots)


def rfc3339(at: datetime) -> str:
    """A timestamp as the API and signed receipts show it: UTC, microseconds, 'Z'."""
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
