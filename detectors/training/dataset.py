"""YOLO datasets as the commands read them, and the fixed, seeded train/val split.

A dataset YAML names a root (``path``), the image lists (``train``, ``val``: a folder of images, a text
file listing image paths, or a list of either) and the class names. Relative ``path`` values resolve
against the YAML's own folder, so a split shipped in the repository points at ``../shared/datasets``
wherever the checkout lies. Labels live beside the images under ``labels/`` (the YOLO convention).
"""

from __future__ import annotations

import logging
import random
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})


class DatasetError(ValueError):
    """A dataset YAML or its files cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Dataset:
    """A YOLO dataset: its class names and its train/val image paths."""

    yaml_path: Path
    root: Path
    names: tuple[str, ...]
    train: tuple[Path, ...]
    val: tuple[Path, ...]


@dataclass(frozen=True)
class GroundTruth:
    """The labelled boxes of one image, in pixels (x1, y1, x2, y2) with class ids of the dataset."""

    boxes: npt.NDArray[np.float32]
    class_ids: npt.NDArray[np.int64]


def load_dataset(yaml_path: Path) -> Dataset:
    """Read a dataset YAML; raises :class:`DatasetError` naming the missing or malformed part."""
    if not yaml_path.is_file():
        raise DatasetError(f"{yaml_path}: no such dataset YAML")
    try:
        doc = yaml.safe_load(yaml_path.read_text())
    except yaml.YAMLError as exc:
        raise DatasetError(f"{yaml_path}: not valid YAML ({exc})") from exc
    if not isinstance(doc, dict):
        raise DatasetError(f"{yaml_path}: expected a mapping with path/train/val/names")
    root = Path(str(doc.get("path", ".")))
    if not root.is_absolute():
        root = (yaml_path.parent / root).resolve()
    names = _names(doc.get("names"), yaml_path)
    return Dataset(
        yaml_path=yaml_path,
        root=root,
        names=names,
        train=tuple(_images(doc.get("train"), root, yaml_path, "train")),
        val=tuple(_images(doc.get("val"), root, yaml_path, "val")),
    )


def _names(raw: Any, yaml_path: Path) -> tuple[str, ...]:
    if isinstance(raw, dict):
        try:
            ordered = sorted((int(k), str(v)) for k, v in raw.items())
        except ValueError as exc:
            raise DatasetError(f"{yaml_path}: names: keys must be class numbers") from exc
        if [k for k, _ in ordered] != list(range(len(ordered))):
            raise DatasetError(f"{yaml_path}: names: class numbers must be 0..N-1")
        return tuple(v for _, v in ordered)
    if isinstance(raw, list) and raw:
        return tuple(str(v) for v in raw)
    raise DatasetError(f"{yaml_path}: names: expected a list or a {{number: name}} mapping")


def _images(raw: Any, root: Path, yaml_path: Path, key: str) -> list[Path]:
    if raw is None:
        raise DatasetError(f"{yaml_path}: {key}: missing")
    entries = raw if isinstance(raw, list) else [raw]
    out: list[Path] = []
    for entry in entries:
        path = Path(str(entry))
        if not path.is_absolute():
            path = root / path
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
        elif path.is_file() and path.suffix == ".txt":
            for line in path.read_text().splitlines():
                line = line.strip()
                if line:
                    p = Path(line)
                    out.append(p if p.is_absolute() else (path.parent / p).resolve())
        else:
            raise DatasetError(f"{yaml_path}: {key}: {path} is neither a folder of images nor a .txt list")
    if not out:
        raise DatasetError(f"{yaml_path}: {key}: no images found")
    return out


def label_path(image: Path) -> Path:
    """The YOLO label file of an image: the last ``images`` folder in its path replaced by ``labels``."""
    parts = list(image.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def read_labels(image: Path, width: int, height: int) -> GroundTruth:
    """The boxes of ``image`` in pixels; an image without a label file has none (a background image)."""
    path = label_path(image)
    rows: list[list[float]] = []
    if path.is_file():
        for n, line in enumerate(path.read_text().splitlines(), 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 5:
                raise DatasetError(f"{path}:{n}: expected 'class cx cy w h', got {line!r}")
            rows.append([float(f) for f in fields])
    if not rows:
        return GroundTruth(np.zeros((0, 4), np.float32), np.zeros(0, np.int64))
    a = np.asarray(rows, np.float64)
    cx, cy, w, h = a[:, 1] * width, a[:, 2] * height, a[:, 3] * width, a[:, 4] * height
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    return GroundTruth(boxes, a[:, 0].astype(np.int64))


# A source is what near-duplicate images share: the file name before Roboflow's ".rf.<hash>", without
# the extension suffix Roboflow keeps ("_jpg") and without a trailing frame number. WhatsApp clips and
# photos of one day show the same animals in one room, so they are grouped by day.
_RF = re.compile(r"\.rf\.[0-9a-f]+$")
_EXT = re.compile(r"_(jpe?g|png|mp4)$", re.IGNORECASE)
_FRAME = re.compile(r"[_-]*\d+[_-]*$")
_WHATSAPP = re.compile(r"^(WhatsApp-(?:Image|Video)-)(\d{4}-\d{2}-\d{2})")


def source_of(image: Path) -> str:
    """The source (video, day of phone clips, photo) an image came from, for a source-disjoint split."""
    stem = _RF.sub("", image.stem)
    day = _WHATSAPP.match(stem)
    if day:
        return f"whatsapp-{day.group(2)}"
    stem = _FRAME.sub("", _EXT.sub("", stem))
    return stem or "numbered-frames"


def split_by_source(
    images: Sequence[Path], *, val_fraction: float = 0.2, seed: int = 0, by_source: bool = True
) -> tuple[list[Path], list[Path]]:
    """A fixed, seeded train/val split. With ``by_source`` whole sources go to one side (so validation
    never sees a near-duplicate of a training frame); sources are shuffled with ``seed`` and added to
    validation until it holds ``val_fraction`` of the images, skipping any that would overshoot it by
    half again, so one huge source cannot swallow the validation set."""
    groups: dict[str, list[Path]] = defaultdict(list)
    for img in sorted(images):
        groups[source_of(img) if by_source else img.name].append(img)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    target = val_fraction * len(images)
    val: list[Path] = []
    val_keys: set[str] = set()
    for key in keys:
        if len(val) >= target:
            break
        if len(val) + len(groups[key]) > 1.5 * target:
            continue
        val.extend(groups[key])
        val_keys.add(key)
    if by_source and not val and len(images) > 1:
        # Too few sources to hold some back (the face-mask photos all share one name stem): split the
        # images themselves rather than train without a validation set.
        log.warning("only %s source(s) among %s images: splitting by image instead", len(groups), len(images))
        return split_by_source(images, val_fraction=val_fraction, seed=seed, by_source=False)
    train = [img for key in sorted(groups) if key not in val_keys for img in groups[key]]
    return sorted(train), sorted(val)


def write_split(
    dataset: Dataset, train: Sequence[Path], val: Sequence[Path], out_dir: Path, *, relative: bool = True
) -> Path:
    """Write ``train.txt``, ``val.txt`` and ``data.yaml`` under ``out_dir``; returns the YAML path.
    With ``relative`` the lists name images relative to ``out_dir`` (a split committed to the repository
    stays valid in any checkout that has ``../shared`` beside it)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, items in (("train", train), ("val", val)):
        lines = [_rel(p, out_dir) if relative else str(p.resolve()) for p in items]
        (out_dir / f"{name}.txt").write_text("\n".join(lines) + "\n")
    doc = {
        # ultralytics resolves a relative root against its own datasets folder, not the YAML's.
        "path": "." if relative else str(out_dir.resolve()),
        "train": "train.txt",
        "val": "val.txt",
        "names": dict(enumerate(dataset.names)),
    }
    yaml_path = out_dir / "data.yaml"
    yaml_path.write_text(
        f"# Split of {dataset.yaml_path.name} ({len(train)} train / {len(val)} val), written by mscc train\n"
        + yaml.safe_dump(doc, sort_keys=False)
    )
    return yaml_path


def _rel(path: Path, base: Path) -> str:
    import os

    return os.path.relpath(path.resolve(), base.resolve())
