"""The ultralytics backend (optional extra ``mscc[train]``: ultralytics and torch). Runs a ``.pt`` or
any format ultralytics loads; used for training-time checks and as the baseline in ``bench/detect.py``."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detectors.base import Image, ModelError, ModelSpec, check_image
from detectors.detections import Detections


class UltralyticsBackend:
    """ultralytics ``YOLO.predict`` on CPU, batched."""

    def __init__(self, spec: ModelSpec, file: Path) -> None:
        from detectors.training.ultralytics_env import TrainingUnavailableError, yolo_class

        self.spec = spec
        try:
            yolo_cls = yolo_class(Path(tempfile.gettempdir()) / "mscc-ultralytics")
            self._model: Any = yolo_cls(str(file), task="detect")
        except TrainingUnavailableError as exc:
            raise ModelError(f"model {spec.name!r}: {exc}") from exc
        except Exception as exc:
            raise ModelError(f"model {spec.name!r}: cannot load {file}: {exc}") from exc
        embedded = [str(n) for _, n in sorted(self._model.names.items())]
        if embedded != list(spec.names):
            raise ModelError(
                f"model {spec.name!r}: the config names classes {spec.names} "
                f"but {file.name} carries {embedded}"
            )
        import torch

        torch.set_num_threads(spec.threads)

    @property
    def names(self) -> tuple[str, ...]:
        """The class names, in the model's order."""
        return tuple(self.spec.names)

    def detect(self, images: Sequence[Image], *, conf: float | None = None) -> list[Detections]:
        """Detections per image through ``YOLO.predict`` (its own letterbox, NMS and box mapping)."""
        if not images:
            return []
        frames = [check_image(img) for img in images]
        results = self._model.predict(
            frames,
            imgsz=self.spec.input_size,
            conf=self.spec.conf if conf is None else conf,
            iou=self.spec.iou,
            device="cpu",
            verbose=False,
        )
        out = []
        for res in results:
            b = res.boxes
            out.append(
                Detections.from_arrays(
                    b.xyxy.cpu().numpy(),
                    np.clip(b.conf.cpu().numpy(), 0, 1),
                    b.cls.cpu().numpy().astype(np.int64),
                    self.spec.names,
                )
            )
        return out
