"""Backend plugins, chosen by the ``type`` key of a model entry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from detectors.base import Backend, ModelError, ModelSpec, model_file


def load_backend(spec: ModelSpec, *, base_dir: Path | None = None) -> Backend:
    """Instantiate the plugin ``spec.type`` for ``spec``; the model file is opened and its classes
    checked now, so a bad model fails at start-up. Raises :class:`ModelError`."""
    file = model_file(spec.file, base_dir)
    if not file.is_file():
        raise ModelError(f"model {spec.name!r}: file {file} not found")
    factory = _FACTORIES.get(spec.type)
    if factory is None:  # pragma: no cover - the Literal type already restricts it
        raise ModelError(f"model {spec.name!r}: unknown backend type {spec.type!r}")
    return factory(spec, file)


def _onnx(spec: ModelSpec, file: Path) -> Backend:
    from detectors.backends.onnx import YoloOnnx

    return YoloOnnx(spec, file)


def _yolox(spec: ModelSpec, file: Path) -> Backend:
    from detectors.backends.onnx import YoloxOnnx

    return YoloxOnnx(spec, file)


def _ultralytics(spec: ModelSpec, file: Path) -> Backend:
    from detectors.backends.ultralytics import UltralyticsBackend

    return UltralyticsBackend(spec, file)


_FACTORIES: dict[str, Callable[[ModelSpec, Path], Backend]] = {
    "onnxruntime": _onnx,
    "yolox-onnx": _yolox,
    "ultralytics": _ultralytics,
}
