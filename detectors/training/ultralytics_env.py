"""Running ultralytics offline: the environment it needs so that it never reaches for the network
(settings, fonts, requirement checks), set before ``ultralytics`` is first imported."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

_FONTS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path(__file__).resolve().parent / "DejaVuSans.ttf",
)


class TrainingUnavailableError(RuntimeError):
    """The ``train`` extra (ultralytics, torch) is not installed."""


def prepare(config_dir: Path) -> None:
    """Point ultralytics at a project-owned settings folder with the fonts it would otherwise download,
    and switch off its online checks. Idempotent."""
    target = config_dir / "Ultralytics"
    target.mkdir(parents=True, exist_ok=True)
    font = _find_font()
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        if font is not None and not (target / name).exists():
            shutil.copyfile(font, target / name)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    os.environ["ULTRALYTICS_SKIP_REQUIREMENTS_CHECKS"] = "1"
    os.environ.setdefault("YOLO_VERBOSE", "True")


def _find_font() -> Path | None:
    for path in _FONTS:
        if path.is_file():
            return path
    try:
        import matplotlib

        path = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        return path if path.is_file() else None
    except ImportError:
        return None


def yolo_class(config_dir: Path) -> Any:
    """The ``ultralytics.YOLO`` class, imported offline; raises :class:`TrainingUnavailableError`."""
    prepare(config_dir)
    try:
        from ultralytics import YOLO  # type: ignore[attr-defined]
    except ImportError as exc:
        raise TrainingUnavailableError(
            "training needs the train extra: bash scripts/install.sh --train "
            "(ultralytics, torch==2.14.1 and torchvision==0.29.1 from the local wheel store)"
        ) from exc
    return YOLO
