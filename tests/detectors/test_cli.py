"""``mscc eval`` / ``export`` / ``ingest`` as a user runs them: eval's ``--json`` last line, the same
numbers as the pipeline's backend gives in-process, and clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

from detectors.backends import load_backend
from detectors.config import load_detector_config
from detectors.training.dataset import load_dataset, split_by_source, write_split
from detectors.training.evaluate import evaluate, report
from stream_ingest.simulator.facemask import dataset_dir
from tests.command_center.test_cli import run
from tests.services import unavailable


def small_split(tmp_path: Path) -> Path:
    """A 24-image validation split of the shared face-mask set, written as the commands write splits."""
    yaml_path = dataset_dir() / "data.yaml"
    if not yaml_path.is_file():
        unavailable(f"the shared face-mask dataset ({yaml_path})")
    dataset = load_dataset(yaml_path)
    train, val = split_by_source(dataset.train, val_fraction=0.2, seed=3, by_source=False)
    return write_split(dataset, train[:10], val[:24], tmp_path / "split")


def test_eval_json_matches_the_pipeline_backend(tmp_path: Path) -> None:
    data = small_split(tmp_path)
    result = run("eval", str(data), "--json", "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout.strip().splitlines()[-1])
    assert doc["model"] == "no_mask" and doc["images"] == 24
    assert set(doc["classes"]) <= {"with_mask", "without_mask", "mask_weared_incorrect"}
    assert set(doc["classes"]["with_mask"]) == {"AP50", "precision", "recall"}
    assert 0.3 < doc["classes"]["with_mask"]["AP50"] <= 1.0
    # The same backend, in-process, gives the same numbers: eval has no inference path of its own.
    cfg = load_detector_config()
    spec = next(m for m in cfg.models if m.name == "no_mask")
    mine = report("no_mask", 24, evaluate(load_backend(spec, base_dir=cfg.base_dir), load_dataset(data)))
    assert mine == doc
    assert (tmp_path / "out" / "pr_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "out" / "metrics.json").read_text()) == doc


def test_eval_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    # Tried: a dataset YAML that does not exist, one whose classes no model has, and an unknown model.
    assert "no such dataset YAML" in run("eval", str(tmp_path / "missing.yaml")).stderr
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.jpg").write_bytes(b"x")
    odd = tmp_path / "odd.yaml"
    odd.write_text("path: .\ntrain: images\nval: images\nnames: [chef_hat]\n")
    result = run("eval", str(odd))
    assert result.returncode == 1 and "no configured model carries the classes" in result.stderr
    data = small_split(tmp_path)
    result = run("eval", str(data), "--model", "hat_v9")
    assert result.returncode == 1 and "neither a configured model" in result.stderr
    assert "Traceback" not in result.stderr


def test_ingest_refuses_a_broken_model_before_touching_cameras(tmp_path: Path) -> None:
    # Tried: a detector config naming a model file that is not there.
    cfg = tmp_path / "detectors.yaml"
    cfg.write_text(
        "models:\n  - {name: no_mask, file: gone.onnx, names: [a, b], violations: {b: no_mask}}\n"
        "rules: {no_mask: {}}\nnight: {person_model: null}\n"
    )
    result = run(
        "ingest",
        "--camera",
        "c1=rtsp://127.0.0.1:9/x",
        env={"MSCC_DETECTORS_CONFIG": str(cfg), "MSCC_DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 2
    assert "detectors: model 'no_mask': file" in result.stderr and "gone.onnx not found" in result.stderr


def test_train_without_a_dataset_is_a_clear_error(tmp_path: Path) -> None:
    result = run("train", str(tmp_path / "nothing.yaml"), "--out", str(tmp_path / "run"))
    assert result.returncode == 1 and "no such dataset YAML" in result.stderr
