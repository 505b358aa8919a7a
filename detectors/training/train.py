"""``mscc train`` and ``mscc export``: fine-tune an ultralytics YOLO on a YOLO dataset, offline, with a
fixed seeded split, then export the best weights to ONNX with a model card the pipeline reads."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from detectors.training.dataset import load_dataset, split_by_source, write_split
from detectors.training.ultralytics_env import yolo_class

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOptions:
    """What ``mscc train`` was asked for; recorded next to the weights so a run can be repeated."""

    data: Path
    base: Path
    out: Path
    imgsz: int = 320
    epochs: int = 30
    hours: float | None = None
    batch: int = 16
    seed: int = 0
    val_fraction: float = 0.2
    by_source: bool = True
    low_light: bool = False
    workers: int = 2


def train(options: TrainOptions) -> Path:
    """Split, train and validate; returns the best weights. Progress bars are ultralytics' own."""
    dataset = load_dataset(options.data)
    if not options.base.is_file():
        raise FileNotFoundError(f"{options.base}: no such weights file (pass a path, never a bare name)")
    yolo_cls = yolo_class(options.out / "ultralytics-config")  # fails now, before any work, without the extra
    if set(dataset.train) == set(dataset.val):
        # One pool of images (the shared sets say train: images, val: images): split it here.
        train_imgs, val_imgs = split_by_source(
            dataset.train, val_fraction=options.val_fraction, seed=options.seed, by_source=options.by_source
        )
    else:
        # The YAML already names a split (e.g. one written by an earlier run): keep it.
        train_imgs, val_imgs = list(dataset.train), list(dataset.val)
    split_dir = options.out / "split"
    data_yaml = write_split(dataset, train_imgs, val_imgs, split_dir, relative=False)
    log.info(
        "split %s: %s train, %s val images (seed %s)",
        dataset.yaml_path,
        len(train_imgs),
        len(val_imgs),
        options.seed,
    )
    yolo = yolo_cls(str(options.base))
    args: dict[str, Any] = {
        "data": str(data_yaml),
        "imgsz": options.imgsz,
        "epochs": options.epochs,
        "batch": options.batch,
        "seed": options.seed,
        "deterministic": True,
        "workers": options.workers,
        "device": "cpu",
        "project": str(options.out.resolve()),
        "name": "run",
        "exist_ok": True,
        "amp": False,
        "plots": True,
        "verbose": True,
    }
    if options.hours is not None:
        args["time"] = options.hours  # ultralytics fits its schedule into the wall-clock budget
    if options.low_light:
        # The rodent data has no night or infrared footage: darken and desaturate harder.
        args.update(hsv_v=0.7, hsv_s=0.9)
    started = time.monotonic()
    yolo.train(**args)
    best = options.out / "run" / "weights" / "best.pt"
    record = {
        "command": "mscc train",
        "options": {k: str(v) for k, v in options.__dict__.items()},
        "train_images": len(train_imgs),
        "val_images": len(val_imgs),
        "minutes": round((time.monotonic() - started) / 60, 1),
        "names": list(dataset.names),
    }
    (options.out / "train.json").write_text(json.dumps(record, indent=1))
    return best


def export_onnx(weights: Path, out: Path, *, imgsz: int, violations: dict[str, str] | None = None) -> Path:
    """Export ``weights`` to ONNX at ``out`` (dynamic batch, opset 17, simplified) and write the model
    card ``out`` with ``.yaml``: input size, class names, what each class means as a violation."""
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: no such weights file")
    out.parent.mkdir(parents=True, exist_ok=True)
    # ultralytics writes <stem>.onnx beside the weights: export from a copy in a scratch folder, so an
    # ONNX file that already lies beside the weights (say, the shipped model) is never overwritten.
    with tempfile.TemporaryDirectory(prefix="mscc-export-") as scratch:
        copy = Path(scratch) / weights.name
        shutil.copyfile(weights, copy)
        yolo = yolo_class(Path(scratch) / "ultralytics-config")(str(copy))
        produced = Path(
            yolo.export(
                format="onnx", imgsz=imgsz, dynamic=True, simplify=True, opset=17, batch=1, device="cpu"
            )
        )
        shutil.move(str(produced), out)
    names = [str(n) for _, n in sorted(yolo.names.items())]
    card = {
        "type": "onnxruntime",
        "format": "yolo",
        "file": out.name,
        "input_size": imgsz,
        "names": names,
        "violations": violations or {},
        "exported_from": weights.name,
    }
    out.with_suffix(".yaml").write_text(yaml.safe_dump(card, sort_keys=False))
    return out
