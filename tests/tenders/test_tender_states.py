"""The tender state machine (tenders.domain): every listed transition, every refusal, and random walks.

Property: from a fresh draft, any sequence of actions (tender-level or per lot, legal or not, at any time)
either is refused with IllegalTransition and changes nothing, or leads to a state that satisfies every
invariant below. Final states are absorbing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenders.domain import (
    FINAL,
    MACHINE,
    Action,
    Facts,
    IllegalTransition,
    State,
    TenderStates,
    derive_tender_state,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TIMELINE = dict(enquiry_end=T0 + timedelta(days=4), submission_deadline=T0 + timedelta(days=10),
                opening_time=T0 + timedelta(days=10, hours=1))


def facts(now: datetime, **over) -> Facts:
    return Facts(now=now, **{**TIMELINE, "reason": "motivo", **over})


LATE = T0 + timedelta(days=20)  # every clock guard is satisfied


@pytest.mark.parametrize("t", MACHINE.transitions, ids=lambda t: f"{t.source}-{t.action}")
def test_every_listed_transition(t):
    assert MACHINE.apply(t.source, t.action, facts(T0 if t.action == Action.PUBLISH else LATE)) == t.target


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("action", list(Action))
def test_every_unlisted_pair_is_refused(state, action):
    if MACHINE.find(state, action) is not None:
        return
    with pytest.raises(IllegalTransition) as exc:
        MACHINE.apply(state, action, facts(LATE))
    assert exc.value.rule == "not_allowed"


@pytest.mark.parametrize("action,state,bad,rule", [
    (Action.PUBLISH, State.DRAFT, facts(T0, lot_count=0), "lots_required"),
    (Action.PUBLISH, State.DRAFT, facts(T0, submission_deadline=None), "timeline_required"),
    (Action.PUBLISH, State.DRAFT, facts(LATE), "deadline_in_past"),
    (Action.START_TENDERING, State.PUBLISHED, facts(T0), "enquiry_period_running"),
    (Action.CLOSE, State.TENDERING, facts(T0 + timedelta(days=9)), "deadline_not_passed"),
    (Action.OPEN, State.OPENING, facts(T0), "deadline_not_passed"),
    (Action.CANCEL, State.TENDERING, facts(T0, reason=" "), "reason_required"),
])
def test_guards_refuse(action, state, bad, rule):
    with pytest.raises(IllegalTransition) as exc:
        MACHINE.apply(state, action, bad)
    assert exc.value.rule == rule


def test_final_states_have_no_way_out():
    for state in FINAL:
        assert MACHINE.allowed(state) == []


def check_invariants(s: TenderStates) -> None:
    lots = set(s.lots)
    assert s.tender in State and lots <= set(State)
    if s.tender in (State.DRAFT, State.PUBLISHED, State.TENDERING, State.OPENING):
        assert lots <= {s.tender, State.CANCELLED}, s
        assert s.tender == State.DRAFT or State.DRAFT not in lots
    if s.tender == State.CANCELLED:
        assert State.CONTRACTED not in lots and lots <= FINAL, s
    if s.tender == State.UNSUCCESSFUL:
        assert lots <= {State.UNSUCCESSFUL, State.CANCELLED} and State.UNSUCCESSFUL in lots, s
    if s.tender == State.CONTRACTED:
        assert lots <= FINAL and State.CONTRACTED in lots, s
    if s.tender == State.AWARDED:
        assert State.AWARDED in lots and lots <= FINAL | {State.AWARDED}, s
    if s.tender == State.EVALUATION:
        assert State.DRAFT not in lots and not lots & {State.PUBLISHED, State.TENDERING, State.OPENING}
        assert not lots <= {State.CANCELLED}
    if all(x == State.CANCELLED for x in s.lots):
        assert s.tender == State.CANCELLED, s


step = st.tuples(
    st.one_of(st.none(), st.integers(min_value=0, max_value=3)),  # None: the tender; else a lot index
    st.sampled_from(list(Action)),
    st.integers(min_value=0, max_value=25),  # days after T0
)


@settings(max_examples=400, deadline=None)
@given(n_lots=st.integers(min_value=1, max_value=4), steps=st.lists(step, max_size=30))
def test_random_walks_never_reach_an_illegal_state(n_lots, steps):
    s = TenderStates(State.DRAFT, (State.DRAFT,) * n_lots)
    for target, action, day in steps:
        f = facts(T0 + timedelta(days=day), lot_count=n_lots)
        before = s
        try:
            s = s.apply(action, f) if target is None else s.apply_lot(target % n_lots, action, f)
        except IllegalTransition:
            assert s == before
            continue
        check_invariants(s)
        if before.tender in FINAL:
            raise AssertionError(f"{action} moved a tender out of the final state {before.tender}")
        for i, (a, b) in enumerate(zip(before.lots, s.lots, strict=False)):
            assert a not in FINAL or a == b, f"lot {i} left the final state {a}"


def test_derive_tender_state():
    assert derive_tender_state([State.CANCELLED, State.CANCELLED]) == State.CANCELLED
    assert derive_tender_state([State.AWARDED, State.UNSUCCESSFUL]) == State.AWARDED
    assert derive_tender_state([State.CONTRACTED, State.CANCELLED]) == State.CONTRACTED
    assert derive_tender_state([State.UNSUCCESSFUL, State.CANCELLED]) == State.UNSUCCESSFUL
    assert derive_tender_state([State.EVALUATION, State.AWARDED]) is None
    assert derive_tender_state([]) is None


def test_lot_walk_award_then_reopen_then_contract():
    s = TenderStates(State.EVALUATION, (State.EVALUATION, State.EVALUATION))
    s = s.apply_lot(0, Action.AWARD, facts(LATE))
    assert s.tender == State.EVALUATION
    s = s.apply_lot(1, Action.DECLARE_UNSUCCESSFUL, facts(LATE))
    assert s.tender == State.AWARDED
    s = s.apply_lot(0, Action.REOPEN_EVALUATION, facts(LATE))
    assert s == TenderStates(State.EVALUATION, (State.EVALUATION, State.UNSUCCESSFUL))
    s = s.apply_lot(0, Action.AWARD, facts(LATE)).apply_lot(0, Action.CONTRACT, facts(LATE))
    assert s == TenderStates(State.CONTRACTED, (State.CONTRACTED, State.UNSUCCESSFUL))
    with pytest.raises(IllegalTransition):
        s.apply(Action.CANCEL, facts(LATE))
