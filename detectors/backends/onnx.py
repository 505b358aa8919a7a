"""ONNX Runtime backends (the default: no torch at run time).

``YoloOnnx`` runs a YOLO exported by ``mscc export`` (ultralytics head: output ``[B, 4 + classes, N]``
with centre-size boxes in input pixels and per-class scores); ``YoloxOnnx`` runs the COCO YOLOX-nano
(output ``[1, N, 5 + classes]`` in grid units, decoded here). Both letterbox each frame to a square input
and map boxes back to the frame's pixels.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from detectors.base import Image, ModelError, ModelSpec, check_image
from detectors.detections import Detections, nms

log = logging.getLogger(__name__)

Float = npt.NDArray[np.float32]


def open_session(file: Path, *, threads: int, what: str) -> Any:
    """An ONNX Runtime CPU session for ``file``; a corrupt or unreadable file raises :class:`ModelError`."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle worker threads spin by default; on cores shared with the ingest threads (and other work) the
    # spinning costs more than it saves: measured 27.8 ms vs 14.4 ms per 320 px frame on a loaded 2-core box.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own Fail/InvalidProtobuf types
        raise ModelError(f"{what}: cannot load {file}: {str(exc).splitlines()[0][:200]}") from exc


def letterbox(
    image: Image, size: int, *, centre: bool = True, stride: int | None = None
) -> tuple[Image, float, float, float]:
    """``image`` scaled to fit a ``size`` square and padded with grey; returns (padded, scale, pad_x,
    pad_y). With ``stride`` the short side is padded only up to a multiple of it, not to the square: a
    640x360 camera frame runs at 320x192 instead of 320x320, 40 % fewer pixels for the same detail."""
    h, w = image.shape[:2]
    r = min(size / h, size / w)
    nw, nh = max(1, round(w * r)), max(1, round(h * r))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR if r > 1 else cv2.INTER_AREA)
    out_w, out_h = (size, size) if stride is None else (-(-nw // stride) * stride, -(-nh // stride) * stride)
    out = np.full((out_h, out_w, 3), 114, np.uint8)
    px = (out_w - nw) // 2 if centre else 0
    py = (out_h - nh) // 2 if centre else 0
    out[py : py + nh, px : px + nw] = resized
    return out, r, float(px), float(py)


def _unletterbox(boxes: Float, r: float, px: float, py: float, w: int, h: int) -> Float:
    boxes = boxes.copy()
    boxes[:, [0, 2]] = np.clip((boxes[:, [0, 2]] - px) / r, 0, w)
    boxes[:, [1, 3]] = np.clip((boxes[:, [1, 3]] - py) / r, 0, h)
    return boxes


def _cxcywh_to_xyxy(b: Float) -> Float:
    return np.concatenate([b[:, :2] - b[:, 2:4] / 2, b[:, :2] + b[:, 2:4] / 2], axis=1)


class YoloOnnx:
    """An ultralytics-style YOLO in ONNX Runtime, batched (the export has a dynamic batch axis)."""

    def __init__(self, spec: ModelSpec, file: Path) -> None:
        self.spec = spec
        self._session = open_session(file, threads=spec.threads, what=f"model {spec.name!r}")
        inp = self._session.get_inputs()[0]
        self._input = inp.name
        self._dynamic_batch = not isinstance(inp.shape[0], int)
        # An export with free height and width takes stride-padded rectangles; a fixed one needs squares.
        self._stride = 32 if not isinstance(inp.shape[2], int) and not isinstance(inp.shape[3], int) else None
        meta = self._session.get_modelmeta().custom_metadata_map
        embedded = _names_from_metadata(meta.get("names"))
        if embedded is not None and list(embedded) != list(spec.names):
            raise ModelError(
                f"model {spec.name!r}: the config names classes {spec.names} "
                f"but {file.name} carries {embedded}"
            )
        out_shape = self._session.get_outputs()[0].shape
        if isinstance(out_shape[1], int) and out_shape[1] != 4 + len(spec.names):
            raise ModelError(
                f"model {spec.name!r}: {file.name} outputs {out_shape[1] - 4} classes, the config names "
                f"{len(spec.names)}"
            )

    @property
    def names(self) -> tuple[str, ...]:
        """The class names, in the model's order."""
        return tuple(self.spec.names)

    def detect(self, images: Sequence[Image], *, conf: float | None = None) -> list[Detections]:
        """Detections per image; frames are letterboxed to ``input_size`` and run as one batch."""
        if not images:
            return []
        size = self.spec.input_size
        prepared = [letterbox(check_image(img), size, stride=self._stride) for img in images]
        raw: list[Float] = [np.zeros(0, np.float32)] * len(images)
        # Frames of one shape (a district's cameras mostly share a few) run as one batch.
        shapes: dict[tuple[int, ...], list[int]] = {}
        for i, p in enumerate(prepared):
            shapes.setdefault(p[0].shape, []).append(i)
        for members in shapes.values():
            batch = np.stack([prepared[i][0] for i in members])[..., ::-1].transpose(0, 3, 1, 2)  # RGB, NCHW
            blob = np.ascontiguousarray(batch, dtype=np.float32) / np.float32(255.0)
            if self._dynamic_batch:
                result = self._session.run(None, {self._input: blob})[0]
            else:
                result = np.concatenate(
                    [self._session.run(None, {self._input: blob[j : j + 1]})[0] for j in range(len(blob))]
                )
            for j, i in enumerate(members):
                raw[i] = result[j]
        threshold = self.spec.conf if conf is None else conf
        out = []
        for pred, img, (_, r, px, py) in zip(raw, images, prepared, strict=True):
            pred = pred.T  # (N, 4 + classes)
            cls_scores = pred[:, 4:]
            class_ids = cls_scores.argmax(axis=1)
            scores = cls_scores[np.arange(len(pred)), class_ids]
            keep = scores >= threshold
            boxes = _cxcywh_to_xyxy(pred[keep, :4].astype(np.float32))
            out.append(
                _finish(
                    boxes, scores[keep], class_ids[keep], self.spec, r, px, py, img.shape[1], img.shape[0]
                )
            )
        return out


class YoloxOnnx:
    """YOLOX (Megvii) in ONNX Runtime: BGR 0-255 input, top-left letterbox, grid decoding here."""

    STRIDES = (8, 16, 32)

    def __init__(self, spec: ModelSpec, file: Path) -> None:
        self.spec = spec
        self._session = open_session(file, threads=spec.threads, what=f"model {spec.name!r}")
        inp = self._session.get_inputs()[0]
        self._input = inp.name
        size = inp.shape[2] if isinstance(inp.shape[2], int) else spec.input_size
        if size != spec.input_size:
            raise ModelError(
                f"model {spec.name!r}: {file.name} takes {size} px inputs, config says {spec.input_size}"
            )
        out_shape = self._session.get_outputs()[0].shape
        if isinstance(out_shape[2], int) and out_shape[2] != 5 + len(spec.names):
            raise ModelError(
                f"model {spec.name!r}: {file.name} outputs {out_shape[2] - 5} classes, the config names "
                f"{len(spec.names)}"
            )
        grids, strides = [], []
        for stride in self.STRIDES:
            n = size // stride
            ys, xs = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
            grids.append(np.stack([xs, ys], axis=-1).reshape(-1, 2))
            strides.append(np.full((n * n, 1), stride))
        self._grid = np.concatenate(grids).astype(np.float32)
        self._stride = np.concatenate(strides).astype(np.float32)

    @property
    def names(self) -> tuple[str, ...]:
        """The class names, in the model's order."""
        return tuple(self.spec.names)

    def detect(self, images: Sequence[Image], *, conf: float | None = None) -> list[Detections]:
        """Detections per image (the export has a fixed batch of one, so frames run one by one)."""
        threshold = self.spec.conf if conf is None else conf
        out = []
        for img in images:
            square, r, px, py = letterbox(check_image(img), self.spec.input_size, centre=False)
            blob = np.ascontiguousarray(square.transpose(2, 0, 1)[None], dtype=np.float32)
            pred = self._session.run(None, {self._input: blob})[0][0]
            xy = (pred[:, :2] + self._grid) * self._stride
            wh = np.exp(np.clip(pred[:, 2:4], -10, 10)) * self._stride
            cls_scores = pred[:, 5:] * pred[:, 4:5]
            class_ids = cls_scores.argmax(axis=1)
            scores = cls_scores[np.arange(len(pred)), class_ids]
            keep = scores >= threshold
            boxes = _cxcywh_to_xyxy(np.concatenate([xy, wh], axis=1)[keep].astype(np.float32))
            out.append(
                _finish(
                    boxes, scores[keep], class_ids[keep], self.spec, r, px, py, img.shape[1], img.shape[0]
                )
            )
        return out


def _finish(
    boxes: Float,
    scores: npt.NDArray[Any],
    class_ids: npt.NDArray[Any],
    spec: ModelSpec,
    r: float,
    px: float,
    py: float,
    w: int,
    h: int,
) -> Detections:
    scores = np.clip(scores.astype(np.float32), 0.0, 1.0)
    class_ids = class_ids.astype(np.int64)
    keep = nms(boxes, scores, class_ids, spec.iou)
    return Detections(
        _unletterbox(boxes[keep], r, px, py, w, h), scores[keep], class_ids[keep], tuple(spec.names)
    )


def _names_from_metadata(raw: str | None) -> list[str] | None:
    """Class names from an ultralytics export's metadata (``{0: 'a', 1: 'b'}``), if present."""
    if not raw:
        return None
    try:
        parsed = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        log.warning("unreadable class names in model metadata: %.80s", raw)
        return None
    if isinstance(parsed, dict):
        return [str(v) for _, v in sorted(parsed.items())]
    if isinstance(parsed, list):
        return [str(v) for v in parsed]
    return None
