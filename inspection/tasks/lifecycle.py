"""The field-task state machine, pure: which action takes a task from which state to which, and who may
take it.

::

    from                        action    to          by
    assigned                    accept    accepted    the inspector
    assigned                    decline   declined    the inspector (final; the supervisor re-dispatches)
    accepted                    arrive    on_site     the geofence (a visit at the restaurant), or the
                                                      inspector by hand when GPS fails indoors
    accepted, on_site           submit    submitted   the inspector, with findings (final)
    assigned, accepted, on_site cancel    cancelled   the supervisor (final)

Submitting without a recorded arrival is allowed, and the task then says it has no visit: GPS fails
in basements and the findings matter more than the proof, which the supervisor sees missing.
"""

from __future__ import annotations

from typing import Literal, get_args

TaskState = Literal["assigned", "accepted", "on_site", "submitted", "declined", "cancelled"]
TaskAction = Literal["accept", "decline", "arrive", "submit", "cancel"]
STATES: tuple[TaskState, ...] = get_args(TaskState)
ACTIONS: tuple[TaskAction, ...] = get_args(TaskAction)
FINAL: frozenset[TaskState] = frozenset({"submitted", "declined", "cancelled"})
OPEN: frozenset[TaskState] = frozenset(STATES) - FINAL

TRANSITIONS: dict[tuple[TaskState, TaskAction], TaskState] = {
    ("assigned", "accept"): "accepted",
    ("assigned", "decline"): "declined",
    ("accepted", "arrive"): "on_site",
    ("accepted", "submit"): "submitted",
    ("on_site", "submit"): "submitted",
    ("assigned", "cancel"): "cancelled",
    ("accepted", "cancel"): "cancelled",
    ("on_site", "cancel"): "cancelled",
}

INSPECTOR_ACTIONS: frozenset[TaskAction] = frozenset({"accept", "decline", "arrive", "submit"})
SUPERVISOR_ACTIONS: frozenset[TaskAction] = frozenset({"cancel"})
PHOTO_STATES: frozenset[TaskState] = frozenset({"accepted", "on_site"})
"""Photos are taken after accepting and before submitting."""


class IllegalTaskTransitionError(ValueError):
    """The action is not allowed in the task's state; the message says what is. Views: 409."""


def allowed_actions(state: TaskState) -> list[TaskAction]:
    """The actions allowed in ``state``, in :data:`ACTIONS` order."""
    return [a for a in ACTIONS if (state, a) in TRANSITIONS]


def next_state(state: TaskState, action: TaskAction) -> TaskState:
    """The state ``action`` leads to; raises :class:`IllegalTaskTransitionError` with the reason."""
    target = TRANSITIONS.get((state, action))
    if target is None:
        allowed = ", ".join(allowed_actions(state)) or "nothing (the task is finished)"
        raise IllegalTaskTransitionError(
            f"cannot {action} a task that is {state.replace('_', ' ')} (allowed now: {allowed})"
        )
    return target
