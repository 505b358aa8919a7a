"""The case state machine, table-driven: every state against every action."""

from __future__ import annotations

import pytest

from command_center.cases.lifecycle import (
    ACTIONS,
    FINAL,
    INSPECTOR_ACTIONS,
    STATES,
    Action,
    IllegalTransitionError,
    State,
    allowed_actions,
    next_step,
)

LEGAL: list[tuple[State, Action, State | None, State]] = [
    # state, action, escalated_from, new state
    ("new", "confirm", None, "confirmed"),
    ("new", "false_alarm", None, "false_alarm"),
    ("confirmed", "notify", None, "notified"),
    ("notified", "start_rectification", None, "rectifying"),
    ("rectifying", "start_rectification", None, "rectifying"),
    ("rectifying", "request_reinspection", None, "reinspection"),
    ("reinspection", "start_rectification", None, "rectifying"),
    ("reinspection", "close", None, "closed"),
]
# An escalated case moves on like the state it interrupted.
LEGAL += [("escalated", action, src, to) for src, action, _, to in LEGAL]


@pytest.mark.parametrize(("state", "action", "escalated_from", "expected"), LEGAL)
def test_legal_transitions(
    state: State, action: Action, escalated_from: State | None, expected: State
) -> None:
    step = next_step(state, action, escalated_from)
    assert (step.state, step.escalated_from) == (expected, None)
    assert action in allowed_actions(state, escalated_from)


ESCALATABLE: tuple[State, ...] = tuple(s for s in STATES if s not in FINAL and s != "escalated")


@pytest.mark.parametrize("state", ESCALATABLE)
def test_escalation_remembers_the_interrupted_state(state: State) -> None:
    step = next_step(state, "escalate")
    assert (step.state, step.escalated_from) == ("escalated", state)
    # Assigning or commenting keeps both the state and what it interrupted.
    assert next_step("escalated", "assign", state) == step
    assert next_step("escalated", "comment", state) == step


def test_every_other_combination_is_refused_with_a_reason() -> None:
    legal = {(s, a, e) for s, a, e, _ in LEGAL}
    for state in STATES:
        for action in ACTIONS:
            froms: list[State | None] = [None] if state != "escalated" else list(ESCALATABLE)
            for escalated_from in froms:
                key = (state, action, escalated_from)
                if key in legal or (state not in FINAL and action in ("assign", "comment")):
                    continue
                if action == "escalate" and state not in FINAL and state != "escalated":
                    continue
                with pytest.raises(IllegalTransitionError) as refused:
                    next_step(state, action, escalated_from)
                assert action in str(refused.value)
                assert action not in allowed_actions(state, escalated_from)


def test_the_refusal_names_what_is_allowed() -> None:
    with pytest.raises(
        IllegalTransitionError, match=r"cannot close a case that is new.*from reinspection only"
    ):
        next_step("new", "close")
    with pytest.raises(IllegalTransitionError, match="final"):
        next_step("closed", "comment")
    with pytest.raises(IllegalTransitionError, match="escalated already"):
        next_step("escalated", "escalate", "new")
    assert allowed_actions("new") == ["confirm", "false_alarm", "escalate", "assign", "comment"]
    assert allowed_actions("false_alarm") == []


def test_inspectors_do_the_field_work_not_the_verdict() -> None:
    assert {"confirm", "false_alarm", "escalate", "assign"}.isdisjoint(INSPECTOR_ACTIONS)
    assert {"request_reinspection", "close", "comment"} <= INSPECTOR_ACTIONS
