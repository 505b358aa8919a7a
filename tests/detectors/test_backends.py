"""Backends run real ONNX models on real photos; bad models fail at start-up with a clear message and bad
frames are refused with a count, never a crash."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.backends import load_backend
from detectors.base import FrameError, ModelError, ModelSpec
from detectors.config import DetectorConfigError, load_detector_config
from tests.detectors.conftest import facemask_image, person_spec


def test_yolox_finds_the_people_in_a_real_photo() -> None:
    cfg = load_detector_config()
    backend = load_backend(person_spec(cfg), base_dir=cfg.base_dir)
    image = facemask_image("maksssksksss0.jpg")  # four people in a street photo
    det = backend.detect([image])[0]
    people = det.of_class("person")
    assert len(people) >= 3
    assert float(people.scores.max()) > 0.7
    # Boxes come back in the photo's own pixels, inside it.
    assert (
        float(people.boxes[:, 2].max()) <= image.shape[1]
        and float(people.boxes[:, 3].max()) <= image.shape[0]
    )


def test_missing_file_is_a_clear_start_up_error(tmp_path: Path) -> None:
    spec = ModelSpec(name="no_mask", file=tmp_path / "nope.onnx", names=["a"])
    with pytest.raises(ModelError, match=r"nope\.onnx not found"):
        load_backend(spec)


def test_corrupt_file_is_a_clear_start_up_error(tmp_path: Path) -> None:
    # Tried: a file that is not an ONNX protobuf, loaded by `mscc eval` as a user would. It runs in its own
    # process on purpose: in a test process where the recording tests have run GStreamer and FFmpeg,
    # ONNX Runtime's parse error aborts the process instead of raising (seen in CI; a process that only
    # ingests and detects, like mscc ingest, never loads GStreamer).
    from tests.command_center.test_cli import run

    bad = tmp_path / "corrupt.onnx"
    bad.write_bytes(b"\x08\x07this is not a protobuf" * 20)
    bad.with_suffix(".yaml").write_text("type: onnxruntime\ninput_size: 320\nnames: [with_mask]\n")
    (tmp_path / "images").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.jpg"), np.zeros((64, 64, 3), np.uint8))
    data = tmp_path / "data.yaml"
    data.write_text("path: .\ntrain: images\nval: images\nnames: [with_mask]\n")
    result = run("eval", str(data), "--model", str(bad))
    assert result.returncode == 1, result.stderr
    assert (
        "cannot load" in result.stderr
        and "corrupt.onnx" in result.stderr
        and "Traceback" not in result.stderr
    )


def test_class_count_mismatch_is_refused() -> None:
    cfg = load_detector_config()
    spec = person_spec(cfg).model_copy(update={"names": ["person", "cat"]})
    with pytest.raises(ModelError, match="outputs 80 classes, the config names 2"):
        load_backend(spec, base_dir=cfg.base_dir)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (np.zeros((100, 100), np.uint8), "shape"),
        (np.zeros((100, 100, 4), np.uint8), "shape"),
        (np.zeros((100, 100, 3), np.float32), "uint8"),
        ("not an image", "numpy array"),
    ],
)
def test_bad_frames_are_refused(frame: object, message: str) -> None:
    cfg = load_detector_config()
    backend = load_backend(person_spec(cfg), base_dir=cfg.base_dir)
    with pytest.raises(FrameError, match=message):
        backend.detect([frame])  # type: ignore[list-item]


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "detectors.yaml"
    path.write_text("models:\n  - name: m\n    file: m.onnx\n    names: [a]\n    violations: {b: no_mask}\n")
    with pytest.raises(DetectorConfigError, match=r"models\.0.*classes the model lacks: \['b'\]"):
        load_detector_config(path)
    path.write_text("modles: []\n")
    with pytest.raises(DetectorConfigError, match="modles"):
        load_detector_config(path)
    path.write_text("rules: {rodent: {veto_on: [person]}}\nnight: {person_model: null}\n")
    with pytest.raises(DetectorConfigError, match="veto_model 'person' is not a model"):
        load_detector_config(path)
    path.write_text("rules: {no_mask: {k: 6, n: 5}}\n")
    with pytest.raises(DetectorConfigError, match=r"k \(6\) cannot exceed n \(5\)"):
        load_detector_config(path)


def test_letterbox_keeps_aspect(tmp_path: Path) -> None:
    from detectors.backends.onnx import letterbox

    img = np.zeros((100, 200, 3), np.uint8)
    square, r, px, py = letterbox(img, 320)
    assert square.shape == (320, 320, 3) and r == 1.6 and px == 0 and py == 80
    assert cv2.mean(square[:80])[0] == 114
