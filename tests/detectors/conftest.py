"""Shared helpers of the detector tests: real photos from the shared face-mask set, the shipped config."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.base import ModelSpec
from detectors.config import DetectorConfig
from stream_ingest.simulator.facemask import dataset_dir
from tests.services import unavailable


def facemask_image(name: str) -> np.ndarray:
    """A photo of the shared face-mask set (BGR)."""
    import cv2

    path = dataset_dir() / "images" / name
    if not path.is_file():
        unavailable(f"the shared face-mask dataset ({path})")
    img = cv2.imread(str(path))
    assert img is not None, path
    return np.asarray(img, np.uint8)


def person_spec(cfg: DetectorConfig) -> ModelSpec:
    """The shipped COCO person detector's entry."""
    return next(m for m in cfg.models if m.name == "person")


@pytest.fixture
def shipped() -> DetectorConfig:
    from detectors.config import load_detector_config

    return load_detector_config()


def pipeline_config(*models: str) -> DetectorConfig:
    """The shipped configuration with only ``models`` (a test about masks need not load the rodent model)."""
    from detectors.config import load_detector_config

    cfg = load_detector_config()
    return cfg.model_copy(update={"models": [m for m in cfg.models if m.name in models]})


def scene_frame(scene: str, index: int, *, seed: int = 0) -> np.ndarray:
    """Photo ``index`` of a simulator face-mask scene, letterboxed into a 640x360 frame as the simulator
    shows it, with light sensor noise."""
    import cv2

    from stream_ingest.simulator.clips import letterbox
    from stream_ingest.simulator.facemask import choose_photos

    shots = choose_photos()
    if shots is None:
        unavailable("the shared face-mask dataset")
        raise AssertionError("unreachable")
    photo = shots[scene][index][0]
    img = cv2.imread(str(photo.path))
    w, h, x, y = letterbox(photo.width, photo.height, 640, 360)
    frame = np.zeros((360, 640, 3), np.uint8)
    frame[y : y + h, x : x + w] = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    noise = np.random.default_rng(seed).integers(-3, 4, frame.shape)
    return np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)
