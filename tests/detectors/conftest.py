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
