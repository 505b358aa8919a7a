"""Slideshow scenes made of real photos from the shared face-mask dataset, with ground truth from its labels.

The dataset (``<shared>/datasets/facemask``, YOLO format) is not part of the repository; when it is missing
these scenes are skipped so the demo still runs from a bare clone.

Label mapping: class 1 ``without_mask`` and class 2 ``mask_weared_incorrect`` are both the ``no_mask``
violation, because a mask under the nose protects food no better than none and an inspector treats both
alike; class 0 ``with_mask`` is no violation. Every face is listed in ``boxes`` (label ``no_mask`` or
``mask``) so an end-to-end test can also check that masked faces raise nothing.
"""

from __future__ import annotations

import functools
import logging
import os
import random
from dataclasses import dataclass
from pathlib import Path

from stream_ingest.simulator.clips import Box, Recipe, Size, Span, letterbox

logger = logging.getLogger(__name__)

FACEMASK_SCENES = ("facemask", "facemask-masked", "facemask-nomask")
NO_MASK = "no_mask"
_CLASS_LABELS = {0: "mask", 1: NO_MASK, 2: NO_MASK}

# Photos are drawn with this seed from the sorted candidates, so every machine makes the same clips.
_SEED = 20240501
# Small crowds and tiny faces are left out: the clips feed end-to-end tests of a 320-640 px detector, and a
# 10 px face at 360p is not something it can be expected to find.
_MAX_FACES = 4
_MIN_FACE_PX_AT_360P = 32
_HOLD_S = 4


def shared_dir() -> Path:
    """The shared data folder: ``$MSCC_SHARED_DIR``, else ``../shared`` beside the repository."""
    configured = os.environ.get("MSCC_SHARED_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2].parent / "shared"


def dataset_dir() -> Path:
    """Where the face-mask photos and YOLO labels are expected."""
    return shared_dir() / "datasets" / "facemask"


@dataclass(frozen=True)
class Photo:
    """One labelled photo: its size and its faces as ``(class, cx, cy, w, h)`` normalised YOLO rows."""

    path: Path
    width: int
    height: int
    faces: tuple[tuple[int, float, float, float, float], ...]

    @property
    def has_violation(self) -> bool:
        """True when any face is labelled without a mask or wearing it incorrectly."""
        return any(_CLASS_LABELS.get(face[0]) == NO_MASK for face in self.faces)

    def boxes(self, size: Size) -> tuple[Box, ...]:
        """The faces in clip pixels once the photo is letterboxed into ``size``."""
        w, h, x, y = letterbox(self.width, self.height, size.width, size.height)
        out = []
        for cls, cx, cy, bw, bh in self.faces:
            out.append(
                Box(
                    x1=round(x + (cx - bw / 2) * w),
                    y1=round(y + (cy - bh / 2) * h),
                    x2=round(x + (cx + bw / 2) * w),
                    y2=round(y + (cy + bh / 2) * h),
                    label=_CLASS_LABELS.get(cls, f"class{cls}"),
                )
            )
        return tuple(out)


def read_labels(path: Path) -> tuple[tuple[int, float, float, float, float], ...]:
    """The rows of a YOLO label file (``class cx cy w h``, normalised)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 5:
            rows.append((int(parts[0]), float(parts[1]), float(parts[2]), float(parts[3]), float(parts[4])))
    return tuple(rows)


def jpeg_size(path: Path) -> tuple[int, int]:
    """Width and height from a JPEG's start-of-frame marker (no imaging library needed for this)."""
    data = path.read_bytes()
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        # SOF0..SOF15 carry the size, except DHT (C4), JPG (C8) and DAC (CC), which share the range.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            return width, height
        i += 2 + length
    raise ValueError(f"{path}: no JPEG frame header")


def load_photos(folder: Path) -> list[Photo]:
    """Every photo in ``folder/images`` with a non-empty label file, sorted by name."""
    photos = []
    for image in sorted((folder / "images").glob("*.jpg")):
        label = folder / "labels" / f"{image.stem}.txt"
        if not label.is_file():
            continue
        faces = read_labels(label)
        if faces:
            width, height = jpeg_size(image)
            photos.append(Photo(image, width, height, faces))
    return photos


def _usable(photo: Photo) -> bool:
    if len(photo.faces) > _MAX_FACES:
        return False
    scale = min(640 / photo.width, 360 / photo.height)
    return min(face[4] * photo.height * scale for face in photo.faces) >= _MIN_FACE_PX_AT_360P


def choose_photos() -> dict[str, list[tuple[Photo, int]]] | None:
    """For each face-mask scene, its photos and seconds each is shown; ``None`` without the dataset."""
    return _choose(dataset_dir())


@functools.cache
def _choose(folder: Path) -> dict[str, list[tuple[Photo, int]]] | None:
    # Cached per folder: reading 683 label files is quick, but the warning should come once.
    if not (folder / "images").is_dir() or not (folder / "labels").is_dir():
        logger.warning("face-mask dataset not found at %s: skipping the facemask scenes", folder)
        return None
    candidates = [photo for photo in load_photos(folder) if _usable(photo)]
    violating = [p for p in candidates if p.has_violation]
    clean = [p for p in candidates if not p.has_violation]
    if len(violating) < 5 or len(clean) < 12:
        logger.warning("face-mask dataset at %s has too few usable photos: skipping the scenes", folder)
        return None
    rng = random.Random(_SEED)
    bad = rng.sample(violating, 5)
    good = rng.sample(clean, 12)
    mixed = [photo for pair in zip(good[:4], bad[:4], strict=True) for photo in pair]
    return {
        "facemask": [(photo, _HOLD_S) for photo in mixed],
        "facemask-masked": [(photo, _HOLD_S) for photo in good[4:10]],
        "facemask-nomask": [(good[10], 5), (bad[4], 10), (good[11], 5)],
    }


def slideshow(scene: str, size: Size, shots: list[tuple[Photo, int]], clock: str) -> Recipe:
    """A recipe showing each photo letterboxed for its seconds, with its faces as the ground truth.

    Light temporal noise is added as a real sensor would: a photo held 10 s must not look like a frozen
    camera to the health checks.
    """
    inputs: list[str] = []
    chains: list[str] = []
    spans: list[Span] = []
    start = 0
    for index, (photo, seconds) in enumerate(shots):
        inputs += ["-loop", "1", "-framerate", str(size.fps), "-t", str(seconds), "-i", str(photo.path)]
        w, h, x, y = letterbox(photo.width, photo.height, size.width, size.height)
        chains.append(
            f"[{index}:v]scale={w}:{h},pad={size.width}:{size.height}:{x}:{y}:color=black,"
            f"setsar=1,format=yuv420p[p{index}]"
        )
        violations = (NO_MASK,) if photo.has_violation else ()
        spans.append(
            Span(float(start), float(start + seconds), violations, photo.boxes(size), photo.path.name)
        )
        start += seconds
    joined = "".join(f"[p{i}]" for i in range(len(shots)))
    chains.append(f"{joined}concat=n={len(shots)}:v=1:a=0,noise=alls=3:allf=t{clock},format=yuv420p[out]")
    return Recipe(
        scene=scene,
        size=size,
        duration_s=start,
        filter_complex=";".join(chains),
        inputs=tuple(inputs),
        timeline=tuple(spans),
    )
