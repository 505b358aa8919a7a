"""``mscc train`` and ``mscc export`` for real, offline, on a tiny slice of the face-mask set (one epoch at
64 px: the point is the command's plumbing, not the model), then the exported ONNX evaluated through the
pipeline's backend; and the ultralytics backend agreeing with ONNX Runtime on the shipped model."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from detectors.backends import load_backend
from detectors.config import load_detector_config
from detectors.training.dataset import load_dataset, write_split
from stream_ingest.simulator.facemask import dataset_dir
from tests.command_center.test_cli import run
from tests.detectors.conftest import facemask_image
from tests.services import unavailable

WEIGHTS = dataset_dir().parent / "weights" / "yolov5nu-coco-backbone.pt"


@pytest.fixture(scope="module")
def train_extra() -> None:
    if importlib.util.find_spec("ultralytics") is None or importlib.util.find_spec("torch") is None:
        unavailable("the train extra (bash scripts/install.sh --train)")
    if not WEIGHTS.is_file():
        unavailable(f"the shared starting weights ({WEIGHTS})")


def test_train_export_eval_round_trip(train_extra: None, tmp_path: Path) -> None:
    full = load_dataset(dataset_dir() / "data.yaml")
    tiny = write_split(full, full.train[:16], full.train[16:24], tmp_path / "tiny")
    out = tmp_path / "run"
    result = run(
        "train",
        str(tiny),
        "--out",
        str(out),
        "--base",
        str(WEIGHTS),
        "--imgsz",
        "64",
        "--epochs",
        "1",
        "--batch",
        "8",
        "--no-by-source",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    best = out / "run" / "weights" / "best.pt"
    assert best.is_file()
    record = json.loads((out / "train.json").read_text())
    # The YAML names its own split (16 train / 8 val), which train keeps.
    assert (record["train_images"], record["val_images"]) == (16, 8)
    assert record["names"] == ["with_mask", "without_mask", "mask_weared_incorrect"]
    assert len((out / "split" / "val.txt").read_text().split()) == 8

    onnx_file = tmp_path / "export" / "tiny.onnx"
    result = run(
        "export", str(best), "--out", str(onnx_file), "--imgsz", "64", "--violation", "without_mask=no_mask"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    card = yaml.safe_load(onnx_file.with_suffix(".yaml").read_text())
    assert card["names"] == record["names"] and card["violations"] == {"without_mask": "no_mask"}
    assert not (best.parent / "best.onnx").exists()  # nothing written beside the weights

    result = run("eval", str(tiny), "--model", str(onnx_file), "--json", "--out", str(tmp_path / "eval"))
    assert result.returncode == 0, result.stderr[-3000:]
    doc = json.loads(result.stdout.strip().splitlines()[-1])
    assert doc["model"] == "tiny" and doc["images"] == 8 and 0.0 <= doc["mAP50"] <= 1.0


def test_ultralytics_backend_agrees_with_onnx_runtime(train_extra: None) -> None:
    cfg = load_detector_config()
    onnx_spec = next(m for m in cfg.models if m.name == "no_mask")
    pt = Path(str(cfg.base_dir)) / "no_mask.pt"
    if not pt.is_file():
        pytest.fail(f"{pt} is not committed beside no_mask.onnx")
    torch_spec = onnx_spec.model_copy(update={"type": "ultralytics", "file": pt})
    image = facemask_image("maksssksksss0.jpg")
    a = load_backend(onnx_spec, base_dir=cfg.base_dir).detect([image])[0]
    b = load_backend(torch_spec).detect([image])[0]
    assert sorted(a.labels) == sorted(b.labels) and len(a) >= 2
    # Same boxes within a few pixels (the two letterbox and resize slightly differently).
    for box in a.boxes:
        assert float(np.abs(b.boxes - box).max(axis=1).min()) < 6.0


def test_a_pool_is_split_by_source_with_a_fixed_seed(tmp_path: Path) -> None:
    from detectors.training.dataset import source_of, split_by_source

    rodents = dataset_dir().parent / "rodent" / "data.yaml"
    if not rodents.is_file():
        unavailable(f"the shared rodent dataset ({rodents})")
    pool = load_dataset(rodents).train
    train, val = split_by_source(pool, seed=0)
    assert (train, val) == split_by_source(pool, seed=0)  # fixed seed: the same split every time
    assert not {source_of(p) for p in train} & {source_of(p) for p in val}  # no source on both sides
    assert 0.15 < len(val) / len(pool) < 0.35
    assert (
        source_of(Path("WhatsApp-Video-2022-11-01-at-17_51_05_mp4-12_jpg.rf.abc123.jpg"))
        == "whatsapp-2022-11-01"
    )
    assert (
        source_of(Path("Awesome--Amazing-Rat-Tricks_3690_jpg.rf.0832ff.jpg")) == "Awesome--Amazing-Rat-Tricks"
    )


def test_yolox_on_the_photo_shipped_in_the_ultralytics_wheel(train_extra: None) -> None:
    import cv2

    spec = importlib.util.find_spec("ultralytics")
    assert spec is not None and spec.submodule_search_locations
    bus = Path(next(iter(spec.submodule_search_locations))) / "assets" / "bus.jpg"
    image = cv2.imread(str(bus))
    assert image is not None, bus
    cfg = load_detector_config()
    backend = load_backend(next(m for m in cfg.models if m.name == "person"), base_dir=cfg.base_dir)
    det = backend.detect([np.asarray(image, np.uint8)])[0]
    # The well-known street photo: a bus and the people walking in front of it.
    assert "bus" in det.labels and det.labels.count("person") >= 3


def test_a_pool_of_one_source_is_split_by_image() -> None:
    from detectors.training.dataset import split_by_source

    photos = load_dataset(dataset_dir() / "data.yaml").train  # every name is maksssksksss<N>: one source
    train, val = split_by_source(photos, seed=0, by_source=True)
    assert (train, val) == split_by_source(photos, seed=0, by_source=False)
    assert len(val) == 137 and not set(train) & set(val)
