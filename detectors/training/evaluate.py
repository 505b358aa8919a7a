"""``mscc eval``: per-class precision, recall and AP50 of a model on a YOLO dataset, computed from the
detections of the same backend code the pipeline runs (no separate inference path), plus a PR-curve PNG.

AP50 is the area under the precision envelope at IoU 0.5, sampled at 101 recall points (the COCO and
ultralytics convention). Precision and recall are reported at the model's configured score threshold,
the operating point the pipeline actually uses.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import yaml

from detectors.backends import load_backend
from detectors.base import Backend, ModelError, ModelSpec, model_file
from detectors.config import DetectorConfig
from detectors.detections import Detections, iou_matrix
from detectors.training.dataset import Dataset, read_labels

log = logging.getLogger(__name__)

EVAL_CONF = 0.001  # keep nearly every box: AP integrates over all thresholds


@dataclass
class ClassResult:
    """Matches of one class over the whole dataset."""

    scores: list[float] = field(default_factory=list)
    tp: list[bool] = field(default_factory=list)
    n_gt: int = 0


@dataclass(frozen=True)
class ClassMetrics:
    """AP50 and the operating-point precision/recall of one class, with its PR curve."""

    ap50: float
    precision: float
    recall: float
    n_gt: int
    curve: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]


def resolve_model(name_or_path: str | None, config: DetectorConfig, dataset: Dataset) -> ModelSpec:
    """A configured model by name, a model file (its card ``.yaml`` beside it, or the config entry with
    that file), or by default the configured model sharing most class names with the dataset."""
    if name_or_path is None:
        shared = [(len(set(m.names) & set(dataset.names)), m) for m in config.models]
        best = max(shared, key=lambda x: x[0], default=(0, None))
        if best[1] is None or best[0] == 0:
            raise ModelError(
                f"no configured model carries the classes of {dataset.yaml_path} {list(dataset.names)}"
            )
        return _absolute(best[1], config)
    by_name = {m.name: m for m in config.models}
    if name_or_path in by_name:
        return _absolute(by_name[name_or_path], config)
    path = Path(name_or_path)
    if not path.is_file():
        raise ModelError(f"{name_or_path}: neither a configured model ({', '.join(by_name)}) nor a file")
    card = path.with_suffix(".yaml")
    if card.is_file():
        doc = yaml.safe_load(card.read_text()) or {}
        return ModelSpec(
            name=path.stem.lower().replace(".", "-")[:64] or "model",
            type=doc.get("type", "onnxruntime"),
            file=path.resolve(),
            input_size=int(doc.get("input_size", 320)),
            names=list(doc["names"]),
            violations=dict(doc.get("violations") or {}),
        )
    for m in config.models:
        if _absolute(m, config).file == path.resolve():
            return _absolute(m, config)
    if path.suffix == ".pt":
        return ModelSpec(name="weights", type="ultralytics", file=path.resolve(), names=list(_pt_names(path)))
    raise ModelError(f"{path}: no model card {card.name} beside it, and no configured model uses it")


def _pt_names(path: Path) -> list[str]:
    from detectors.training.ultralytics_env import yolo_class

    model = yolo_class(Path("runs") / ".ultralytics-config")(str(path))
    return [str(n) for _, n in sorted(model.names.items())]


def _absolute(spec: ModelSpec, config: DetectorConfig) -> ModelSpec:
    if spec.file.is_absolute() or config.base_dir is None:
        return spec
    return spec.model_copy(update={"file": model_file(spec.file, config.base_dir).resolve()})


def evaluate(
    backend: Backend,
    dataset: Dataset,
    *,
    batch: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, ClassMetrics]:
    """Run ``backend`` over the dataset's ``val`` images; metrics per class the model and dataset share."""
    shared = [n for n in dataset.names if n in backend.names]
    if not shared:
        raise ModelError(f"the model's classes {list(backend.names)} share none with {list(dataset.names)}")
    results = {n: ClassResult() for n in shared}
    images = list(dataset.val)
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch]
        frames = []
        for path in chunk:
            img = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if img is None:
                raise ModelError(f"{path}: not a readable image")
            frames.append(np.asarray(img, np.uint8))
        dets = backend.detect(frames, conf=EVAL_CONF)
        for path, img, det in zip(chunk, frames, dets, strict=True):
            gt = read_labels(path, img.shape[1], img.shape[0])
            _accumulate(results, det, gt.boxes, [dataset.names[c] for c in gt.class_ids])
        if progress is not None:
            progress(min(start + batch, len(images)), len(images))
    conf = backend.spec.conf
    return {name: _metrics(r, conf) for name, r in results.items() if r.n_gt > 0}


def _accumulate(
    results: dict[str, ClassResult],
    det: Detections,
    gt_boxes: npt.NDArray[np.float32],
    gt_names: Sequence[str],
) -> None:
    for name, res in results.items():
        g = gt_boxes[[i for i, n in enumerate(gt_names) if n == name]]
        res.n_gt += len(g)
        d = det.of_class(name)
        order = np.argsort(-d.scores)
        boxes, scores = d.boxes[order], d.scores[order]
        ious = iou_matrix(boxes, g)
        taken = np.zeros(len(g), bool)
        for i in range(len(boxes)):
            hit = False
            if len(g):
                cand = np.where(~taken, ious[i], -1.0)
                j = int(cand.argmax())
                if cand[j] >= 0.5:
                    taken[j] = True
                    hit = True
            res.scores.append(float(scores[i]))
            res.tp.append(hit)


def _metrics(res: ClassResult, conf: float) -> ClassMetrics:
    order = np.argsort(-np.asarray(res.scores, np.float64), kind="stable")
    scores = np.asarray(res.scores, np.float64)[order]
    tp = np.asarray(res.tp, bool)[order]
    ctp = np.cumsum(tp)
    cfp = np.cumsum(~tp)
    recall = ctp / max(res.n_gt, 1)
    precision = ctp / np.maximum(ctp + cfp, 1)
    # Precision envelope (monotone non-increasing from the right), sampled at 101 recall points.
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[1.0], precision, [0.0]])
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
    x = np.linspace(0, 1, 101)
    ap = float(np.trapezoid(np.interp(x, mrec, mpre), x))
    at = scores >= conf
    n_at = int(at.sum())
    p_op = float(ctp[n_at - 1] / n_at) if n_at else 0.0
    r_op = float(ctp[n_at - 1] / res.n_gt) if n_at and res.n_gt else 0.0
    return ClassMetrics(ap, p_op, r_op, res.n_gt, (recall, precision))


def report(model: str, images: int, metrics: dict[str, ClassMetrics]) -> dict[str, Any]:
    """The CONTRACT's ``--json`` document."""
    return {
        "model": model,
        "images": images,
        "mAP50": round(float(np.mean([m.ap50 for m in metrics.values()])), 4) if metrics else 0.0,
        "classes": {
            name: {"AP50": round(m.ap50, 4), "precision": round(m.precision, 4), "recall": round(m.recall, 4)}
            for name, m in metrics.items()
        },
    }


def print_table(doc: dict[str, Any], metrics: dict[str, ClassMetrics], out: Any = sys.stdout) -> None:
    """A human-readable table of the metrics."""
    print(f"{'class':<24}{'boxes':>7}{'AP50':>8}{'P':>8}{'R':>8}", file=out)
    for name, m in metrics.items():
        print(f"{name:<24}{m.n_gt:>7}{m.ap50:>8.3f}{m.precision:>8.3f}{m.recall:>8.3f}", file=out)
    print(
        f"{'all (mAP50)':<24}{'':>7}{doc['mAP50']:>8.3f}   on {doc['images']} images, model {doc['model']}",
        file=out,
    )


def plot_pr(metrics: dict[str, ClassMetrics], path: Path, title: str) -> Path:
    """Precision-recall curves of every class as a PNG (drawn with OpenCV; no matplotlib needed)."""
    w, h, m = 640, 480, 50
    img = np.full((h, w, 3), 255, np.uint8)
    cv2.rectangle(img, (m, m), (w - m, h - m), (0, 0, 0), 1)
    for t in np.linspace(0, 1, 6):
        x, y = int(m + t * (w - 2 * m)), int(h - m - t * (h - 2 * m))
        cv2.putText(img, f"{t:.1f}", (x - 10, h - m + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
        cv2.putText(img, f"{t:.1f}", (m - 35, y + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    colours = [(200, 80, 30), (30, 30, 220), (30, 160, 30), (150, 30, 150)]
    for i, (name, met) in enumerate(metrics.items()):
        rec, pre = met.curve
        if len(rec) == 0:
            continue
        pts = np.stack([m + rec * (w - 2 * m), h - m - pre * (h - 2 * m)], axis=1).astype(np.int32)
        colour = colours[i % len(colours)]
        cv2.polylines(img, [pts], False, colour, 2, cv2.LINE_AA)
        cv2.putText(
            img,
            f"{name} AP50 {met.ap50:.3f}",
            (m + 10, m + 20 + 18 * i),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            colour,
            1,
            cv2.LINE_AA,
        )
    cv2.putText(img, title[:70], (m, m - 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "recall", (w // 2 - 20, h - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    cv2.putText(img, "precision", (4, m - 30), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)
    return path


def run_eval(
    spec: ModelSpec, dataset: Dataset, out_dir: Path, *, progress: Callable[[int, int], None] | None = None
) -> tuple[dict[str, Any], dict[str, ClassMetrics]]:
    """Load ``spec`` through the pipeline's backend loader, evaluate, write metrics JSON and the PR PNG."""
    backend = load_backend(spec)
    metrics = evaluate(backend, dataset, progress=progress)
    doc = report(spec.name, len(dataset.val), metrics)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(doc, indent=1) + "\n")
    plot_pr(metrics, out_dir / "pr_curve.png", f"{spec.name} on {dataset.yaml_path}")
    return doc, metrics
