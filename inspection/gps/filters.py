"""The ordered chain of small filter steps every incoming fix passes before it is stored (Traccar style).

Each step looks at one fix and the device's previous stored point and either lets it through (None) or
names why it is dropped. Steps run in order and the first one that drops a fix decides its reason:

1. ``unknown_device`` - the id is not registered (never added silently)
2. ``invalid`` - a fix the device marked invalid, the (0, 0) "null island", a future or decades-old time
3. ``accuracy`` - the reported accuracy radius is worse than the limit (default 100 m)
4. ``duplicate`` - the device already has a fix with this timestamp (stored or earlier in the batch)
5. ``speed`` - reaching it from the previous point needs an impossible speed (default > 200 km/h)
6. ``jitter`` - parked: within a few metres (default 10 m) of the last stored point and within 60 s

``duplicate`` runs before ``speed`` because two fixes at the same instant would otherwise divide by
zero time. A step that raises is logged and skipped (counted as ``mscc_position_filter_errors_total``);
it never breaks the rest of the chain nor the batch. Every dropped fix is counted by reason in
``mscc_positions_filtered_total``.

Soft reasons (``duplicate``, ``jitter``, ``accuracy``) are not the device's fault: the OsmAnd endpoint
answers them 200 so that a phone app does not resend the same fix for ever; hard reasons get a 400.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prometheus_client import Counter

from inspection.gps.geo import haversine_m
from inspection.gps.schemas import Fix

log = logging.getLogger(__name__)

FILTERED = Counter("mscc_positions_filtered_total", "GPS fixes dropped by the filter chain", ["reason"])
FILTER_ERRORS = Counter(
    "mscc_position_filter_errors_total", "Filter steps that raised (the fix went on)", ["step"]
)

SOFT_REASONS = frozenset({"duplicate", "jitter", "accuracy"})


@dataclass(frozen=True)
class FilterConfig:
    """Limits of the filter chain; the defaults follow Traccar's usual settings for phones."""

    max_accuracy_m: float = 100.0
    max_speed_kmh: float = 200.0
    min_distance_m: float = 10.0
    jitter_window: timedelta = timedelta(seconds=60)
    # A phone's clock may run a little fast; anything further ahead is a broken clock, not a position.
    max_future: timedelta = timedelta(minutes=10)
    # Phones upload what they buffered offline, but not fixes older than this.
    max_age: timedelta = timedelta(days=30)


@dataclass(frozen=True)
class LastPoint:
    """The newest stored point of a device, as the steps need it."""

    ts: datetime
    lat: float
    lon: float


@dataclass
class FilterState:
    """What the steps know besides the fix: the time, the known devices, the last stored point and
    the timestamps already held per device (updated as fixes of the same batch are accepted)."""

    now: datetime
    config: FilterConfig
    known: frozenset[str]
    last: dict[str, LastPoint] = field(default_factory=dict)
    seen: set[tuple[str, datetime]] = field(default_factory=set)

    def accept(self, fix: Fix) -> None:
        """Record an accepted fix so that later fixes of the batch are compared with it."""
        self.seen.add((fix.device_id, fix.ts))
        previous = self.last.get(fix.device_id)
        if previous is None or fix.ts >= previous.ts:
            self.last[fix.device_id] = LastPoint(fix.ts, fix.lat, fix.lon)


@dataclass(frozen=True)
class Drop:
    """Why a fix was dropped: a short reason code and a sentence for people."""

    reason: str
    message: str

    @property
    def soft(self) -> bool:
        """Whether the device did nothing wrong (the fix is merely redundant or imprecise)."""
        return self.reason in SOFT_REASONS


Step = Callable[[Fix, FilterState], Drop | None]


def unknown_device(fix: Fix, state: FilterState) -> Drop | None:
    """Unknown ids are rejected, never added silently."""
    if fix.device_id in state.known:
        return None
    return Drop("unknown_device", f"unknown device {fix.device_id!r}: register it in the district config")


def invalid(fix: Fix, state: FilterState) -> Drop | None:
    """Fixes the device marked invalid, at (0, 0), in the future or older than the upload window."""
    if str(fix.attributes.get("valid", "true")).strip().lower() in {"false", "0", "no"}:
        return Drop("invalid", "the device marked this fix invalid (valid=false)")
    if fix.lat == 0 and fix.lon == 0:
        return Drop("invalid", "position (0, 0) is a receiver without a fix")
    if fix.ts > state.now + state.config.max_future:
        return Drop("invalid", f"timestamp {fix.ts.isoformat()} is in the future")
    if fix.ts < state.now - state.config.max_age:
        days = state.config.max_age.days
        return Drop("invalid", f"timestamp {fix.ts.isoformat()} is older than {days} days")
    return None


def poor_accuracy(fix: Fix, state: FilterState) -> Drop | None:
    """A fix whose accuracy radius is wider than the limit says little about where the device is."""
    limit = state.config.max_accuracy_m
    if fix.accuracy is not None and fix.accuracy > limit:
        return Drop("accuracy", f"accuracy {fix.accuracy:.0f} m is worse than {limit:.0f} m")
    return None


def duplicate(fix: Fix, state: FilterState) -> Drop | None:
    """The same device and timestamp again (a phone resending after a lost answer)."""
    if (fix.device_id, fix.ts) in state.seen:
        return Drop("duplicate", f"a fix of {fix.device_id} at {fix.ts.isoformat()} is stored already")
    return None


def impossible_speed(fix: Fix, state: FilterState) -> Drop | None:
    """A jump that would need more than the maximum speed from the previous stored point."""
    previous = state.last.get(fix.device_id)
    if previous is None:
        return None
    metres = haversine_m(previous.lat, previous.lon, fix.lat, fix.lon)
    seconds = max(abs((fix.ts - previous.ts).total_seconds()), 1.0)
    kmh, limit = metres / seconds * 3.6, state.config.max_speed_kmh
    if kmh > limit:
        return Drop("speed", f"{metres:.0f} m in {seconds:.0f} s is {kmh:.0f} km/h, over {limit:.0f} km/h")
    return None


def parking_jitter(fix: Fix, state: FilterState) -> Drop | None:
    """A parked device wanders a few metres; such fixes within the window add nothing to the track."""
    previous = state.last.get(fix.device_id)
    if previous is None or fix.ts < previous.ts:
        return None
    if fix.ts - previous.ts >= state.config.jitter_window:
        return None
    metres = haversine_m(previous.lat, previous.lon, fix.lat, fix.lon)
    if metres < state.config.min_distance_m:
        return Drop("jitter", f"moved {metres:.1f} m since the last stored fix: parked")
    return None


CHAIN: tuple[Step, ...] = (
    unknown_device,
    invalid,
    poor_accuracy,
    duplicate,
    impossible_speed,
    parking_jitter,
)


UNKNOWN_DEVICE_CHAIN: tuple[Step, ...] = (invalid, poor_accuracy)
"""The steps a fix of an unregistered device passes before it is held for approval; the rest need the
device's own history and run when it is approved and its held fixes are replayed."""


def run_chain(fix: Fix, state: FilterState, steps: Sequence[Step] = CHAIN) -> Drop | None:
    """Pass ``fix`` through ``steps`` in order; the first drop wins and is counted by reason.

    A step that raises is logged and skipped, so one broken step cannot stop positions coming in.
    """
    for step in steps:
        try:
            drop = step(fix, state)
        except Exception:
            FILTER_ERRORS.labels(step.__name__).inc()
            log.exception("filter step %s failed on a fix of %s; skipped", step.__name__, fix.device_id)
            continue
        if drop is not None:
            FILTERED.labels(drop.reason).inc()
            return drop
    return None
