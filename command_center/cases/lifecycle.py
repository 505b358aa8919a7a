"""The case state machine, pure: which action takes a case from which state to which, and why not.

::

    from            action                 to
    new             confirm                confirmed
    new             false_alarm            false_alarm   (final)
    confirmed       notify                 notified      (the restaurant was told)
    notified        start_rectification    rectifying    (a deadline is required)
    rectifying      start_rectification    rectifying    (a new deadline: more time)
    rectifying      request_reinspection   reinspection  (remote video check or field visit)
    reinspection    start_rectification    rectifying    (not fixed: a new deadline)
    reinspection    close                  closed        (final)
    any open state  escalate               escalated
    escalated       as the state it interrupted
    any open state  assign, comment        (unchanged)

``escalate`` (by hand, or by the periodic check when a rectification deadline passes or a case stays
unconfirmed too long) takes any open case to ``escalated``. Escalation interrupts the case rather than
replacing its history: ``escalated`` remembers the state it interrupted, and the case leaves it by the
same actions as from that state (an escalated unconfirmed case is confirmed or dismissed, an escalated
rectification gets a new deadline or goes to re-inspection). ``assign`` and ``comment`` keep the state.
``closed`` and ``false_alarm`` are final.

Inspectors act only on the cases assigned to them, and only with :data:`INSPECTOR_ACTIONS`: the
verdict (confirm / false alarm), escalation and assignment are the supervisor's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

State = Literal[
    "new", "confirmed", "false_alarm", "notified", "rectifying", "reinspection", "closed", "escalated"
]
Action = Literal[
    "confirm",
    "false_alarm",
    "notify",
    "start_rectification",
    "request_reinspection",
    "close",
    "escalate",
    "assign",
    "comment",
]
STATES: tuple[State, ...] = get_args(State)
ACTIONS: tuple[Action, ...] = get_args(Action)

FINAL: frozenset[State] = frozenset({"closed", "false_alarm"})
OPEN: frozenset[State] = frozenset(STATES) - FINAL

# Actions that keep the state: they only record something on an open case.
_IN_PLACE: frozenset[Action] = frozenset({"assign", "comment"})

FORWARD: dict[tuple[State, Action], State] = {
    ("new", "confirm"): "confirmed",
    ("new", "false_alarm"): "false_alarm",
    ("confirmed", "notify"): "notified",
    ("notified", "start_rectification"): "rectifying",
    # A restaurant that asks for more time, or a re-inspection that finds the problem unsolved.
    ("rectifying", "start_rectification"): "rectifying",
    ("reinspection", "start_rectification"): "rectifying",
    ("rectifying", "request_reinspection"): "reinspection",
    ("reinspection", "close"): "closed",
}
"""The forward transitions; ``escalated`` reuses the row of the state it interrupted."""

INSPECTOR_ACTIONS: frozenset[Action] = frozenset(
    {"notify", "start_rectification", "request_reinspection", "close", "comment"}
)
"""What an inspector may do on a case assigned to them: the field work, not the verdict."""


class IllegalTransitionError(ValueError):
    """The action is not allowed in the case's state; the message says why and what is. Views: 409."""


@dataclass(frozen=True)
class Step:
    """The outcome of an allowed action: the new state, and the state an escalation interrupted."""

    state: State
    escalated_from: State | None


def allowed_actions(state: State, escalated_from: State | None = None) -> list[Action]:
    """The actions allowed now, in :data:`ACTIONS` order (for screens and error messages)."""
    if state in FINAL:
        return []
    base = _base(state, escalated_from)
    forward = {action for (src, action) in FORWARD if src == base}
    extra: set[Action] = set(_IN_PLACE) | ({"escalate"} if state != "escalated" else set())
    return [a for a in ACTIONS if a in forward or a in extra]


def next_step(state: State, action: Action, escalated_from: State | None = None) -> Step:
    """Apply ``action`` to a case in ``state``; raises :class:`IllegalTransitionError` with the reason."""
    if state in FINAL:
        raise IllegalTransitionError(f"cannot {action}: the case is {_label(state)}, which is final")
    if action in _IN_PLACE:
        return Step(state, escalated_from)
    if action == "escalate":
        if state == "escalated":
            raise IllegalTransitionError("cannot escalate: the case is escalated already")
        return Step("escalated", state)
    target = FORWARD.get((_base(state, escalated_from), action))
    if target is None:
        raise IllegalTransitionError(_refusal(state, action, escalated_from))
    return Step(target, None)


def _base(state: State, escalated_from: State | None) -> State:
    # An escalated case moves on like the state it interrupted; "new" if that was never recorded.
    if state == "escalated":
        return escalated_from or "new"
    return state


def _label(state: State) -> str:
    return state.replace("_", " ")


def _refusal(state: State, action: Action, escalated_from: State | None) -> str:
    sources = sorted({_label(src) for (src, act) in FORWARD if act == action})
    where = f"escalated from {_label(escalated_from or 'new')}" if state == "escalated" else _label(state)
    allowed = ", ".join(allowed_actions(state, escalated_from)) or "nothing"
    return (
        f"cannot {action} a case that is {where}: {action} is allowed from {' or '.join(sources)} only "
        f"(allowed now: {allowed})"
    )
