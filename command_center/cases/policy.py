"""How long alerts gather into one case, and how long a case may stay unconfirmed, per violation type."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from config.settings import Settings

# A rat in the kitchen cannot wait for tomorrow; a missing hat can wait for the morning shift.
DEFAULT_CONFIRM_MINUTES: Mapping[str, int] = {
    "rodent": 30,
    "lab_failed": 60,
    "camera_tampered": 60,
    "camera_offline": 120,
    "no_mask": 240,
    "no_hat": 240,
}
FALLBACK_CONFIRM_MINUTES = 240


@dataclass(frozen=True)
class CasePolicy:
    """``window``: an alert joins the collecting case of its restaurant and violation when it comes
    within ``window`` of that case's latest alert, else it opens a new case. ``confirm_minutes``: how
    long a case may stay new (unconfirmed) before the periodic check escalates it."""

    window: timedelta = timedelta(hours=1)
    confirm_minutes: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_CONFIRM_MINUTES))

    def confirm_within(self, violation: str) -> timedelta:
        """How long a case of ``violation`` may stay unconfirmed."""
        return timedelta(minutes=self.confirm_minutes.get(violation, FALLBACK_CONFIRM_MINUTES))

    @classmethod
    def from_settings(cls, settings: Settings) -> CasePolicy:
        """The policy of ``MSCC_CASE_WINDOW_MINUTES`` and ``MSCC_CASE_CONFIRM_MINUTES`` (merged over the
        defaults)."""
        return cls(
            window=timedelta(minutes=settings.case_window_minutes),
            confirm_minutes={**DEFAULT_CONFIRM_MINUTES, **settings.case_confirm_minutes},
        )
