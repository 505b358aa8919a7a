"""The backend protocol, the model entry that configures one, and the errors a model can raise."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from detectors.detections import Detections

Image = npt.NDArray[np.uint8]

BackendType = Literal["onnxruntime", "yolox-onnx", "ultralytics"]


class ModelError(RuntimeError):
    """A model cannot be used: missing or corrupt file, or class names that do not match the config."""


class FrameError(ValueError):
    """A frame is not a (H, W, 3) uint8 BGR image; it is rejected and counted, never crashes a batch."""


class ModelSpec(BaseModel):
    """One model in the detector configuration. ``type`` picks the backend plugin; ``names`` must equal
    the class names the model file carries (checked at load); ``violations`` maps a class to the
    violation type it evidences (classes absent from it are context, e.g. ``with_mask``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9_-]{1,64}$", title="Model name")
    type: BackendType = Field("onnxruntime", title="Backend plugin")
    file: Path = Field(title="Model file", description="relative paths resolve against the config file")
    input_size: int = Field(320, ge=32, le=1920, title="Square input size in pixels")
    names: list[str] = Field(min_length=1, title="Class names, in the model's order")
    violations: dict[str, str] = Field(default_factory=dict, title="Class name -> violation type")
    conf: float = Field(0.25, gt=0, lt=1, title="Score threshold")
    iou: float = Field(0.45, gt=0, lt=1, title="NMS IoU threshold")
    threads: int = Field(2, ge=1, le=64, title="Inference threads")
    max_batch: int = Field(8, ge=1, le=256, title="Largest batch per call")
    enabled: bool = Field(True, title="Enabled")
    validated: bool = Field(
        True, title="Validated on real data", description="false for a model not checked on real images"
    )

    @model_validator(mode="after")
    def _violation_classes_exist(self) -> ModelSpec:
        unknown = sorted(set(self.violations) - set(self.names))
        if unknown:
            raise ValueError(f"violations name classes the model lacks: {unknown}")
        return self


class Backend(Protocol):
    """What every detector plugin provides: detections for a batch of BGR frames, boxes in each frame's
    own pixels."""

    spec: ModelSpec

    @property
    def names(self) -> tuple[str, ...]:
        """The class names, in the model's order."""
        ...

    def detect(self, images: Sequence[Image], *, conf: float | None = None) -> list[Detections]:
        """One :class:`Detections` per image, in order, keeping scores of at least ``conf`` (default:
        the model's configured threshold). Raises :class:`FrameError` for a bad image."""
        ...


def model_file(file: Path, base_dir: Path | str | None) -> Path:
    """A model file named in the configuration: relative paths resolve against the config's folder."""
    return file if file.is_absolute() or base_dir is None else Path(base_dir) / file


def check_image(image: object) -> Image:
    """``image`` as a (H, W, 3) uint8 array, or :class:`FrameError` saying what is wrong with it."""
    if not isinstance(image, np.ndarray):
        raise FrameError(f"expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise FrameError(f"expected uint8 pixels, got {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 8 or image.shape[1] < 8:
        raise FrameError(f"expected an (H, W, 3) BGR image, got shape {image.shape}")
    return image
