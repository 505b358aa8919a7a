"""The motion gate skips still scenes, passes changes, runs at a heartbeat, and finds moving blobs."""

from __future__ import annotations

import numpy as np

from detectors.config import MotionSpec
from detectors.motion import MotionGate


def scene(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.full((360, 640, 3), 90, np.uint8)
    img[100:200, 100:300] = 200
    noise = rng.integers(-4, 5, img.shape)  # sensor noise must not read as motion
    return np.clip(img.astype(int) + noise, 0, 255).astype(np.uint8)


def test_still_scene_is_skipped_until_the_heartbeat() -> None:
    gate = MotionGate(MotionSpec(heartbeat_s=10))
    assert gate.check("c", scene(0), 0.0).reason == "first"
    decisions = [gate.check("c", scene(i), float(i)).run for i in range(1, 10)]
    assert decisions == [False] * 9
    assert gate.check("c", scene(10), 10.0).reason == "heartbeat"
    assert gate.skipped == 9


def test_a_moving_object_passes_and_is_a_blob() -> None:
    gate = MotionGate(MotionSpec())
    gate.check("c", scene(), 0.0)
    moved = scene(1)
    moved[250:270, 400:440] = 20  # a small dark animal appears on the floor
    result = gate.check("c", moved, 2.0)
    assert result.run and result.reason == "motion"
    assert len(result.blobs) == 1
    blob = result.blobs[0]
    assert 0.6 < blob.centre[0] < 0.68 and 0.68 < blob.centre[1] < 0.75
    assert 0.001 < blob.area < 0.01


def test_cameras_are_independent_and_a_resolution_change_restarts() -> None:
    gate = MotionGate(MotionSpec())
    gate.check("a", scene(), 0.0)
    assert gate.check("b", scene(), 0.0).reason == "first"
    small = np.full((180, 320, 3), 90, np.uint8)
    assert gate.check("a", small, 1.0).reason in {"first", "motion"}
