"""The one detections type refuses malformed output at construction (table-driven), and its helpers."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.detections import Detections, iou_matrix, nms

NAMES = ("with_mask", "without_mask")


@pytest.mark.parametrize(
    ("boxes", "scores", "class_ids", "message"),
    [
        (np.zeros((2, 4), np.float32), np.zeros(1, np.float32), np.zeros(1, np.int64), "boxes must be"),
        (np.zeros((1, 3), np.float32), np.zeros(1, np.float32), np.zeros(1, np.int64), "boxes must be"),
        (np.zeros((1, 4), np.float32), np.zeros(1, np.float32), np.zeros(2, np.int64), "class_ids must be"),
        (np.zeros((1, 4), np.float64), np.zeros(1, np.float32), np.zeros(1, np.int64), "float32"),
        (np.zeros((1, 4), np.float32), np.zeros(1, np.float32), np.zeros(1, np.int32), "int64"),
        (np.zeros((1, 4), np.float32), np.full(1, 1.5, np.float32), np.zeros(1, np.int64), "scores"),
        (np.zeros((1, 4), np.float32), np.full(1, 0.5, np.float32), np.full(1, 2, np.int64), "class ids"),
        (
            np.array([[5, 5, 1, 1]], np.float32),
            np.full(1, 0.5, np.float32),
            np.zeros(1, np.int64),
            "x2 >= x1",
        ),
    ],
)
def test_malformed_detections_are_refused(boxes, scores, class_ids, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        Detections(boxes, scores, class_ids, NAMES)


def test_filters_and_labels() -> None:
    det = Detections.from_arrays([[0, 0, 10, 10], [5, 5, 20, 20]], [0.9, 0.3], [1, 0], NAMES)
    assert det.labels == ["without_mask", "with_mask"]
    assert len(det.of_class("without_mask")) == 1
    assert len(det.of_class("rodent")) == 0  # a class the model lacks matches nothing
    assert len(det.above(0.5)) == 1
    assert Detections.empty(NAMES).labels == []


def test_iou_and_class_aware_nms() -> None:
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    assert iou_matrix(a, b)[0].tolist() == pytest.approx([1.0, 1 / 3, 0.0])
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [1, 1, 10, 10]], np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    # The second box overlaps the first of the same class and goes; the third is another class and stays.
    keep = nms(boxes, scores, np.array([0, 0, 1], np.int64), iou=0.5)
    assert sorted(keep.tolist()) == [0, 2]
