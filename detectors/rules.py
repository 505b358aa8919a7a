"""Temporal confirmation per violation type, zones, and de-duplication.

A violation is confirmed when one region shows it in ``k`` of the last ``n`` analysed frames of a camera
(regions are matched across frames by box overlap). A confirmed violation raises one alert and then stays
*active* while it is still seen; it clears after ``clear_after`` analysed frames without it, and the same
camera cannot raise that violation again until ``cooldown_s`` after it cleared. So one ongoing violation
is one alert, not hundreds.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from config.district import Zone
from detectors.config import DetectorConfig, RuleSpec
from detectors.detections import iou_matrix

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in [0, 1] image coordinates


@dataclass(frozen=True)
class Observation:
    """One sighting of a possible violation in one analysed frame."""

    violation: str
    box: Box
    score: float
    label: str  # the class or rule that saw it, e.g. "without_mask" or "night-motion"
    source: str = "model"  # "model" or "rule" (the night rule); rule sightings arrive pre-confirmed
    preconfirmed: bool = False


@dataclass(frozen=True)
class Confirmation:
    """A violation confirmed on a camera: raise one alert for it."""

    camera_id: str
    violation: str
    ts: float
    score: float
    evidence: tuple[Observation, ...]  # the sightings in the confirming frame


@dataclass
class _Track:
    box: Box
    hits: deque[bool]
    best: float


@dataclass
class _State:
    tracks: list[_Track] = field(default_factory=list)
    active: bool = False
    misses: int = 0
    cleared_at: float | None = None


def point_in_polygon(x: float, y: float, polygon: Sequence[tuple[float, float]]) -> bool:
    """Ray casting: whether (x, y) lies inside ``polygon``."""
    inside = False
    j = len(polygon) - 1
    for i in range(len(polygon)):
        xi, yi = polygon[i]
        xj, yj = polygon[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def in_scope(box: Box, zones: Sequence[Zone], kinds: Sequence[str]) -> bool:
    """Whether a sighting counts: its centre is outside every ``exclude`` zone and, when the rule names
    zone kinds and the camera has zones of those kinds, inside one of them."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    if any(z.kind == "exclude" and point_in_polygon(cx, cy, z.polygon) for z in zones):
        return False
    wanted = [z for z in zones if z.kind in kinds]
    return not wanted or any(point_in_polygon(cx, cy, z.polygon) for z in wanted)


class TemporalRules:
    """Confirmation state per (camera, violation). Not thread-safe: one detector thread owns it."""

    def __init__(self, config: DetectorConfig) -> None:
        self._config = config
        self._states: dict[tuple[str, str], _State] = {}
        self.suppressed = 0  # confirmations swallowed by de-duplication or cooldown

    def update(
        self,
        camera_id: str,
        ts: float,
        observations: Iterable[Observation],
        checked: Iterable[str],
        zones: Sequence[Zone] = (),
    ) -> list[Confirmation]:
        """Feed one analysed frame. ``checked`` names the violation types this frame was examined for
        (a type not checked, e.g. rodents by day, leaves its state alone). Returns new confirmations."""
        by_type: dict[str, list[Observation]] = {v: [] for v in checked}
        for obs in observations:
            rule = self._config.rule(obs.violation)
            if (
                obs.violation in by_type
                and obs.score >= rule.min_score
                and in_scope(obs.box, zones, rule.zones)
            ):
                by_type[obs.violation].append(obs)
        out = []
        for violation, seen in by_type.items():
            confirmation = self._step(camera_id, violation, ts, seen)
            if confirmation is not None:
                out.append(confirmation)
        return out

    def active(self, camera_id: str, violation: str) -> bool:
        """Whether an alert for this violation is ongoing on the camera."""
        state = self._states.get((camera_id, violation))
        return bool(state and state.active)

    def forget(self, camera_id: str) -> None:
        """Drop a camera's state (it moved to another worker)."""
        for key in [k for k in self._states if k[0] == camera_id]:
            del self._states[key]

    def _step(
        self, camera_id: str, violation: str, ts: float, seen: list[Observation]
    ) -> Confirmation | None:
        rule = self._config.rule(violation)
        state = self._states.setdefault((camera_id, violation), _State())
        confirmed = _match(state, seen, rule)
        pre = [o for o in seen if o.preconfirmed]
        state.misses = 0 if seen else state.misses + 1
        if state.active:
            if state.misses >= rule.clear_after:
                state.active = False
                state.cleared_at = ts
                state.tracks.clear()
            return None
        if not confirmed and not pre:
            return None
        if state.cleared_at is not None and ts - state.cleared_at < rule.cooldown_s:
            self.suppressed += 1
            return None
        state.active = True
        evidence = tuple(pre) + tuple(o for o in seen if not o.preconfirmed and o.box in confirmed)
        score = max(o.score for o in evidence) if evidence else 0.0
        return Confirmation(camera_id, violation, ts, score, evidence or tuple(seen))


def _match(state: _State, seen: list[Observation], rule: RuleSpec) -> list[Box]:
    """Advance the region tracks by one frame; returns the boxes of regions now seen k of n times."""
    regular = [o for o in seen if not o.preconfirmed]
    boxes = np.asarray([o.box for o in regular], np.float32).reshape(-1, 4)
    track_boxes = np.asarray([t.box for t in state.tracks], np.float32).reshape(-1, 4)
    ious = iou_matrix(track_boxes, boxes)
    matched_obs: set[int] = set()
    for ti, track in enumerate(state.tracks):
        best = -1
        if ious.shape[1]:
            order = np.argsort(-ious[ti])
            best = next(
                (int(j) for j in order if ious[ti, j] >= rule.region_iou and int(j) not in matched_obs), -1
            )
        if best >= 0:
            matched_obs.add(best)
            track.box = regular[best].box
            track.best = max(track.best, regular[best].score)
            track.hits.append(True)
        else:
            track.hits.append(False)
    for j, obs in enumerate(regular):
        if j not in matched_obs:
            state.tracks.append(_Track(obs.box, deque([True], maxlen=rule.n), obs.score))
    state.tracks = [t for t in state.tracks if any(t.hits)]
    return [t.box for t in state.tracks if sum(t.hits) >= rule.k]
