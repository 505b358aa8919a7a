"""The committed models reproduce the metrics the README reports: ``mscc eval``'s code path (the
pipeline's backend) on the committed held-out split gives the committed ``<model>.metrics.json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from detectors.backends import load_backend
from detectors.config import load_detector_config
from detectors.training.dataset import load_dataset
from detectors.training.evaluate import evaluate, report
from tests.services import unavailable

MODELS = Path(__file__).resolve().parents[2] / "detectors" / "models"


@pytest.mark.parametrize(("model", "split"), [("no_mask", "facemask"), ("rodent", "rodent")])
def test_committed_model_reproduces_its_metrics(model: str, split: str) -> None:
    cfg = load_detector_config()
    spec = next((m for m in cfg.models if m.name == model), None)
    assert spec is not None, f"{model} is not in the shipped detectors.yaml"
    data = MODELS / "splits" / split / "data.yaml"
    dataset = load_dataset(data)
    if not dataset.val[0].is_file():
        unavailable(f"the shared dataset behind {data} ({dataset.val[0]})")
    expected = json.loads((MODELS / f"{model}.metrics.json").read_text())
    got = report(model, len(dataset.val), evaluate(load_backend(spec, base_dir=cfg.base_dir), dataset))
    assert got["images"] == expected["images"]
    assert got["mAP50"] == pytest.approx(expected["mAP50"], abs=2e-3)
    for name, values in expected["classes"].items():
        for key, value in values.items():
            assert got["classes"][name][key] == pytest.approx(value, abs=2e-3), (name, key)
