"""Award and appeal state objects: every transition, every refusal, the consent and decision rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenders.awards import domain as a

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
END = NOW + timedelta(days=5)

AWARD_MOVES = {
    ("pending", "notify"): "standstill",
    ("pending", "cancel"): "cancelled",
    ("standstill", "consent"): "consented",
    ("standstill", "appeal"): "appealed",
    ("standstill", "cancel"): "cancelled",
    ("appealed", "appeal"): "appealed",
    ("appealed", "dismiss"): "consented",
    ("appealed", "resume"): "standstill",
    ("appealed", "uphold"): "cancelled",
    ("appealed", "cancel"): "cancelled",
    ("consented", "cancel"): "cancelled",
}
APPEAL_MOVES = {
    ("pending_bond", "admit"): "filed",
    ("pending_bond", "moot"): "moot",
    ("filed", "uphold"): "upheld",
    ("filed", "dismiss"): "dismissed",
    ("filed", "moot"): "moot",
}


@pytest.mark.parametrize("machine,moves", [(a.AWARD, AWARD_MOVES), (a.APPEAL, APPEAL_MOVES)])
def test_every_transition_and_every_refusal(machine, moves):
    for state in machine.states:
        for action in machine.actions:
            if (state, action) in moves:
                assert machine.can(state, action)
                assert machine.next(state, action) == moves[(state, action)]
            else:
                assert not machine.can(state, action)
                with pytest.raises(a.InvalidTransition) as exc:
                    machine.next(state, action)
                assert exc.value.status == 409 and exc.value.params["state"] == state


def test_terminal_states():
    assert a.AWARD.terminal("cancelled") and not a.AWARD.terminal("consented")
    assert {s for s in a.APPEAL.states if a.APPEAL.terminal(s)} == {"upheld", "dismissed", "moot"}
    assert a.AWARD.initial == "pending" and a.APPEAL.initial == "filed"


@given(st.lists(st.sampled_from(sorted(a.AWARD.actions)), max_size=20))
def test_award_machine_never_leaves_its_states_and_cancelled_is_final(actions):
    state = a.AWARD.initial
    for action in actions:
        if a.AWARD.can(state, action):
            new = a.AWARD.next(state, action)
            assert new in a.AWARD.states
            if state == "cancelled":
                pytest.fail("cancelled is final")
            state = new
        else:
            with pytest.raises(a.InvalidTransition):
                a.AWARD.next(state, action)
    # Consent is reachable only through standstill or an appeal's dismissal.
    assert state in a.AWARD.states


def test_appeal_only_during_the_standstill():
    assert a.check_can_appeal(state="standstill", now=NOW, standstill_ends_at=END) == "appealed"
    assert a.check_can_appeal(state="appealed", now=NOW, standstill_ends_at=END) == "appealed"
    with pytest.raises(a.StandstillOver) as exc:
        a.check_can_appeal(state="standstill", now=END, standstill_ends_at=END)
    assert exc.value.status == 409
    for state in ("pending", "consented", "cancelled"):
        with pytest.raises(a.InvalidTransition):
            a.check_can_appeal(state=state, now=NOW, standstill_ends_at=END)


def test_consent_rule():
    assert a.can_consent(state="standstill", now=END, standstill_ends_at=END, open_appeals=0)
    assert not a.can_consent(state="standstill", now=END - timedelta(seconds=1), standstill_ends_at=END,
                             open_appeals=0)
    assert not a.can_consent(state="standstill", now=END, standstill_ends_at=END, open_appeals=1)
    assert not a.can_consent(state="appealed", now=END, standstill_ends_at=END, open_appeals=0)
    assert not a.can_consent(state="consented", now=END, standstill_ends_at=END, open_appeals=0)


def test_after_decision():
    assert a.after_decision(decision="upheld", other_open_appeals=2, now=NOW, standstill_ends_at=END) == "uphold"
    assert a.after_decision(decision="dismissed", other_open_appeals=1, now=NOW, standstill_ends_at=END) is None
    assert a.after_decision(decision="dismissed", other_open_appeals=0, now=NOW, standstill_ends_at=END) == "resume"
    assert a.after_decision(decision="dismissed", other_open_appeals=0, now=END, standstill_ends_at=END) == "dismiss"
    with pytest.raises(ValueError):
        a.after_decision(decision="maybe", other_open_appeals=0, now=NOW, standstill_ends_at=END)
