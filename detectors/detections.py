"""One validated detections type: what every backend returns and every stage (zones, rules, evidence,
evaluation) consumes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Boxes = npt.NDArray[np.float32]
Scores = npt.NDArray[np.float32]
ClassIds = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Detections:
    """N boxes in pixels of the analysed frame (x1, y1, x2, y2), their scores in [0, 1] and class ids
    indexing ``names``. Construction validates shapes, dtypes and ranges, so a backend bug fails where
    it happens rather than in a rule three stages later."""

    boxes: Boxes
    scores: Scores
    class_ids: ClassIds
    names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        n = len(self.scores)
        if self.boxes.shape != (n, 4):
            raise ValueError(f"boxes must be ({n}, 4), got {self.boxes.shape}")
        if self.class_ids.shape != (n,):
            raise ValueError(f"class_ids must be ({n},), got {self.class_ids.shape}")
        if self.boxes.dtype != np.float32 or self.scores.dtype != np.float32:
            raise ValueError("boxes and scores must be float32")
        if self.class_ids.dtype != np.int64:
            raise ValueError("class_ids must be int64")
        if n and (self.scores.min() < 0 or self.scores.max() > 1):
            raise ValueError("scores must lie in [0, 1]")
        if n and (self.class_ids.min() < 0 or self.class_ids.max() >= len(self.names)):
            raise ValueError(f"class ids must index names ({len(self.names)} classes)")
        if n and bool(np.any(self.boxes[:, 2:] < self.boxes[:, :2])):
            raise ValueError("boxes must have x2 >= x1 and y2 >= y1")

    @classmethod
    def empty(cls, names: Sequence[str]) -> Detections:
        """No detections, for a model with ``names``."""
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), tuple(names))

    @classmethod
    def from_arrays(
        cls,
        boxes: npt.ArrayLike,
        scores: npt.ArrayLike,
        class_ids: npt.ArrayLike,
        names: Sequence[str],
    ) -> Detections:
        """Build from any array-likes, converting dtypes (the validation still applies)."""
        return cls(
            np.asarray(boxes, np.float32).reshape(-1, 4),
            np.asarray(scores, np.float32).reshape(-1),
            np.asarray(class_ids, np.int64).reshape(-1),
            tuple(names),
        )

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def labels(self) -> list[str]:
        """The class name of each detection."""
        return [self.names[int(c)] for c in self.class_ids]

    def select(self, mask: npt.NDArray[np.bool_]) -> Detections:
        """The detections where ``mask`` is true."""
        return Detections(self.boxes[mask], self.scores[mask], self.class_ids[mask], self.names)

    def of_class(self, *names: str) -> Detections:
        """Only the detections of the named classes (names the model lacks match nothing)."""
        ids = [i for i, n in enumerate(self.names) if n in names]
        return self.select(np.isin(self.class_ids, ids))

    def above(self, threshold: float) -> Detections:
        """Only detections scoring at least ``threshold``."""
        return self.select(self.scores >= threshold)

    @property
    def centers(self) -> npt.NDArray[np.float32]:
        """Box centres, (N, 2)."""
        return np.stack(
            [(self.boxes[:, 0] + self.boxes[:, 2]) / 2, (self.boxes[:, 1] + self.boxes[:, 3]) / 2], axis=1
        ).astype(np.float32)


def iou_matrix(a: Boxes, b: Boxes) -> npt.NDArray[np.float32]:
    """Pairwise intersection over union of two box sets, (len(a), len(b))."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    result: npt.NDArray[np.float32] = (inter / np.maximum(union, 1e-9)).astype(np.float32)
    return result


def nms(
    boxes: Boxes, scores: Scores, class_ids: ClassIds, iou: float, max_det: int = 300
) -> npt.NDArray[np.intp]:
    """Class-aware non-maximum suppression; the indices kept, best first."""
    if len(scores) == 0:
        return np.zeros(0, np.intp)
    # Offsetting boxes by class keeps classes apart in one OpenCV call.
    offset = class_ids.astype(np.float32)[:, None] * 4096.0
    shifted = boxes + offset
    xywh = np.concatenate([shifted[:, :2], shifted[:, 2:] - shifted[:, :2]], axis=1)
    import cv2

    keep = cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), 0.0, iou, top_k=max_det)
    return np.asarray(keep, np.intp).reshape(-1)[:max_det]
