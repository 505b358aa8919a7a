"""The night rodent rule: motion where no person is, of a rodent's size and speed, over several analysed
frames. The rodent model never saw night-time infrared kitchens; this rule catches what it misses
there. It is a heuristic, so its alerts say ``validated: false``."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from config.district import Zone
from detectors.config import NightSpec
from detectors.motion import Blob, MotionResult
from detectors.rules import Observation, in_scope


def is_night(spec: NightSpec, ts: datetime, tz: ZoneInfo, brightness: float) -> bool:
    """Night by the clock (district time) or by the picture (a dark or infrared frame)."""
    hour = ts.astimezone(tz).hour
    by_clock = (
        (spec.start <= hour or hour < spec.end) if spec.start > spec.end else spec.start <= hour < spec.end
    )
    return by_clock or brightness < spec.dark_level


@dataclass
class _Window:
    hits: deque[bool]
    last_blobs: tuple[Blob, ...] = ()
    last_ts: float | None = None


class NightRodentRule:
    """Per-camera window of frames with a rodent-like moving blob. Not thread-safe."""

    def __init__(self, spec: NightSpec) -> None:
        self.spec = spec
        self._windows: dict[str, _Window] = {}

    def update(
        self,
        camera_id: str,
        ts: float,
        motion: MotionResult,
        person_present: bool,
        zones: tuple[Zone, ...] = (),
    ) -> list[Observation]:
        """Feed one night-time analysed frame; returns a pre-confirmed sighting once ``k`` of the last
        ``n`` frames held a qualifying blob and no person."""
        window = self._windows.setdefault(camera_id, _Window(deque(maxlen=self.spec.n)))
        candidates = (
            [] if person_present else [b for b in motion.blobs if self._plausible(b, window, ts, zones)]
        )
        window.hits.append(bool(candidates))
        window.last_blobs = tuple(
            b for b in motion.blobs if self.spec.min_area <= b.area <= self.spec.max_area
        )
        window.last_ts = ts
        if not candidates or sum(window.hits) < self.spec.k:
            return []
        blob = max(candidates, key=lambda b: b.area)
        score = sum(window.hits) / self.spec.n
        return [
            Observation(
                violation="rodent",
                box=(blob.x, blob.y, blob.x + blob.w, blob.y + blob.h),
                score=min(1.0, score),
                label="night-motion",
                source="rule",
                preconfirmed=True,
            )
        ]

    def _plausible(self, blob: Blob, window: _Window, ts: float, zones: tuple[Zone, ...]) -> bool:
        if not self.spec.min_area <= blob.area <= self.spec.max_area:
            return False
        box = (blob.x, blob.y, blob.x + blob.w, blob.y + blob.h)
        if not in_scope(box, zones, ("floor", "prep")):
            return False
        if window.last_ts is None or not window.last_blobs or ts <= window.last_ts:
            return True
        # Speed bound: the nearest blob of the previous frame must be reachable at a rodent's speed.
        cx, cy = blob.centre
        nearest = min(math.dist((cx, cy), b.centre) for b in window.last_blobs)
        return nearest / (ts - window.last_ts) <= self.spec.max_speed

    def forget(self, camera_id: str) -> None:
        """Drop a camera's window."""
        self._windows.pop(camera_id, None)
