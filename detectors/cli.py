"""The detector commands of ``mscc``: ``train``, ``export`` and ``eval`` (CONTRACT "Command line").
Registered on the main command by :func:`register`; heavy imports happen inside each command."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

log = logging.getLogger(__name__)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def train(
    data: Annotated[
        Path, typer.Argument(help="dataset YAML (YOLO format), e.g. ../shared/datasets/facemask/data.yaml")
    ],
    out: Annotated[Path, typer.Option(help="run folder: split, weights, metrics")] = Path("runs/train"),
    base: Annotated[Path, typer.Option(help="starting weights (a file path; nothing is downloaded)")] = Path(
        "../shared/datasets/weights/yolov5nu-coco-backbone.pt"
    ),
    imgsz: Annotated[int, typer.Option(min=64, max=1280, help="training image size")] = 320,
    epochs: Annotated[int, typer.Option(min=1, help="epochs (ignored when --hours is given)")] = 30,
    hours: Annotated[
        float | None, typer.Option(min=0.01, help="wall-clock budget; fits the schedule")
    ] = None,
    batch: Annotated[int, typer.Option(min=1)] = 16,
    seed: Annotated[int, typer.Option(help="seed of the split and of training")] = 0,
    val_fraction: Annotated[float, typer.Option(min=0.05, max=0.5)] = 0.2,
    by_source: Annotated[
        bool, typer.Option(help="keep whole sources (videos, days of phone clips) on one side of the split")
    ] = True,
    low_light: Annotated[bool, typer.Option(help="stronger brightness/saturation augmentation")] = False,
) -> None:
    """Fine-tune a YOLO detector on a YOLO dataset, offline. A dataset whose train and val name the same
    images is split here with a fixed seed (by source unless --no-by-source); a dataset that names its own
    split keeps it."""
    from detectors.training.dataset import DatasetError
    from detectors.training.train import TrainOptions
    from detectors.training.train import train as run_train
    from detectors.training.ultralytics_env import TrainingUnavailableError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    options = TrainOptions(
        data=data,
        base=base,
        out=out,
        imgsz=imgsz,
        epochs=epochs,
        hours=hours,
        batch=batch,
        seed=seed,
        val_fraction=val_fraction,
        by_source=by_source,
        low_light=low_light,
    )
    try:
        best = run_train(options)
    except (DatasetError, FileNotFoundError, TrainingUnavailableError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"best weights: {best}")


def export(
    weights: Annotated[Path, typer.Argument(help="trained weights (.pt)")],
    out: Annotated[Path, typer.Option(help="ONNX file to write; its model card goes beside it (.yaml)")],
    imgsz: Annotated[int, typer.Option(min=64, max=1280)] = 320,
    violation: Annotated[
        list[str] | None, typer.Option(help="CLASS=VIOLATION, e.g. without_mask=no_mask (repeatable)")
    ] = None,
) -> None:
    """Export trained weights to ONNX for the ONNX Runtime backend (no torch needed to run it)."""
    from detectors.training.train import export_onnx
    from detectors.training.ultralytics_env import TrainingUnavailableError

    mapping: dict[str, str] = {}
    for item in violation or []:
        cls, sep, vio = item.partition("=")
        if not sep or not cls or not vio:
            raise _fail(f"--violation {item!r}: expected CLASS=VIOLATION")
        mapping[cls] = vio
    try:
        path = export_onnx(weights, out, imgsz=imgsz, violations=mapping)
    except (FileNotFoundError, TrainingUnavailableError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"exported {path} (model card {path.with_suffix('.yaml')})")


def evaluate(
    data: Annotated[Path, typer.Argument(help="dataset YAML; its 'val' images are evaluated")],
    model: Annotated[
        str | None,
        typer.Option(help="configured model name or model file (default: the one with these classes)"),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="last line of stdout: the metrics as JSON")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="folder for metrics.json and pr_curve.png")] = None,
    config: Annotated[
        Path | None, typer.Option(help="detector YAML (default: MSCC_DETECTORS_CONFIG or shipped)")
    ] = None,
) -> None:
    """Evaluate a model on a YOLO dataset through the pipeline's own inference code."""
    import json
    import os
    import sys

    from detectors.base import ModelError
    from detectors.config import DetectorConfigError, load_detector_config
    from detectors.training.dataset import DatasetError, load_dataset
    from detectors.training.evaluate import print_table, resolve_model, run_eval

    def progress(done: int, total: int) -> None:
        sys.stderr.write(f"\revaluating: {done}/{total} images")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    try:
        env_config = os.environ.get("MSCC_DETECTORS_CONFIG")
        cfg = load_detector_config(config or (Path(env_config) if env_config else None))
        dataset = load_dataset(data)
        spec = resolve_model(model, cfg, dataset)
        target = out or Path("runs") / "eval" / f"{spec.name}-{data.resolve().parent.name}"
        doc, metrics = run_eval(spec, dataset, target, progress=progress)
    except (DetectorConfigError, DatasetError, ModelError) as exc:
        raise _fail(str(exc)) from exc
    print_table(doc, metrics, out=sys.stderr if json_out else sys.stdout)
    typer.echo(f"metrics and PR curve in {target}", err=json_out)
    if json_out:
        typer.echo(json.dumps(doc))


def register(app: typer.Typer) -> None:
    """Add the detector commands to the ``mscc`` command."""
    app.command("train")(train)
    app.command("export")(export)
    app.command("eval")(evaluate)
