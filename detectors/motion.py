"""Motion gating: cheap frame differencing between consecutive analysed frames of a camera. The
detectors run only when the scene changed, or at a slow heartbeat; skips are counted. The changed-pixel
mask also feeds the night rodent rule (moving blobs)."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt
from prometheus_client import Counter

from detectors.base import Image
from detectors.config import MotionSpec

GATE_DECISIONS = Counter("mscc_detector_motion_gate_total", "Motion gate decisions", ["decision"])

Mask = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Blob:
    """A moving region, in [0, 1] image coordinates."""

    x: float
    y: float
    w: float
    h: float

    @property
    def area(self) -> float:
        """Fraction of the frame."""
        return self.w * self.h

    @property
    def centre(self) -> tuple[float, float]:
        """Centre point."""
        return self.x + self.w / 2, self.y + self.h / 2


@dataclass(frozen=True)
class MotionResult:
    """What the gate saw in one frame."""

    run: bool  # whether the detectors should run on this frame
    reason: str  # "motion", "heartbeat", "first", "disabled" or "still"
    changed: float  # fraction of pixels that changed
    brightness: float  # mean grey level (0-255), for the night rule
    blobs: tuple[Blob, ...] = field(default=())


@dataclass
class _CameraState:
    grey: npt.NDArray[np.uint8]
    last_run: float


class MotionGate:
    """Per-camera frame differencing. Not thread-safe: one detector thread owns it."""

    def __init__(self, spec: MotionSpec) -> None:
        self.spec = spec
        self._cameras: dict[str, _CameraState] = {}
        self.skipped = 0
        self.passed = 0

    def check(self, camera_id: str, image: Image, now: float) -> MotionResult:
        """Compare ``image`` with the camera's previous analysed frame; ``now`` is in seconds."""
        h, w = image.shape[:2]
        small_h = max(8, round(h * self.spec.width / w))
        small = cv2.resize(image, (self.spec.width, small_h), interpolation=cv2.INTER_AREA)
        # A blur stops sensor noise and compression flicker from reading as motion.
        grey: npt.NDArray[np.uint8] = np.asarray(
            cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0), dtype=np.uint8
        )
        brightness = float(grey.mean())
        state = self._cameras.get(camera_id)
        if state is None or state.grey.shape != grey.shape:
            self._cameras[camera_id] = _CameraState(grey, now)
            return self._decide(True, "first", 0.0, brightness, ())
        diff = cv2.absdiff(grey, state.grey)
        _, mask = cv2.threshold(diff, self.spec.pixel_threshold, 255, cv2.THRESH_BINARY)
        changed = float(np.count_nonzero(mask)) / mask.size
        state.grey = grey
        blobs = _blobs(np.asarray(mask, np.uint8)) if changed > 0 else ()
        if not self.spec.enabled:
            state.last_run = now
            return self._decide(True, "disabled", changed, brightness, blobs)
        if changed >= self.spec.min_changed:
            state.last_run = now
            return self._decide(True, "motion", changed, brightness, blobs)
        if now - state.last_run >= self.spec.heartbeat_s:
            state.last_run = now
            return self._decide(True, "heartbeat", changed, brightness, blobs)
        return self._decide(False, "still", changed, brightness, blobs)

    def forget(self, camera_id: str) -> None:
        """Drop a camera's reference frame (it went offline, or moved to another worker)."""
        self._cameras.pop(camera_id, None)

    def _decide(
        self, run: bool, reason: str, changed: float, brightness: float, blobs: tuple[Blob, ...]
    ) -> MotionResult:
        if run:
            self.passed += 1
        else:
            self.skipped += 1
        GATE_DECISIONS.labels(reason).inc()
        return MotionResult(run, reason, changed, brightness, blobs)


def _blobs(mask: Mask) -> tuple[Blob, ...]:
    # Close small gaps so one animal is one blob, not a scatter of pixels.
    mask = np.asarray(cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)), np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    h, w = mask.shape
    return tuple(
        Blob(stats[i, 0] / w, stats[i, 1] / h, stats[i, 2] / w, stats[i, 3] / h)
        for i in range(1, n)
        if stats[i, 4] >= 2
    )
