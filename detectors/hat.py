"""The no-hat stage: a hat / no-hat classifier on the head crops of detected people.

No labelled chef-hat images exist offline, so no classifier ships: the stage is built so that a real one
drops in by configuration (``hat.enabled``, ``hat.classifier``: an ONNX model taking ``[N, 3, S, S]`` RGB
in [0, 1] and giving ``[N, 2]`` scores for ``[hat, no_hat]``), and its alerts say ``validated: false``
until ``hat.validated`` is set for a model checked on real kitchen footage.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from detectors.backends.onnx import open_session
from detectors.base import Image, ModelError, model_file
from detectors.config import HatSpec
from detectors.detections import Detections
from detectors.rules import Observation


class HatStage:
    """Classifies the head of every detected person."""

    def __init__(self, spec: HatSpec, *, base_dir: Path | None = None) -> None:
        if spec.classifier is None:
            raise ModelError("hat: no classifier configured")
        file = model_file(spec.classifier, base_dir)
        if not file.is_file():
            raise ModelError(f"hat: classifier {file} not found")
        self.spec = spec
        self._session = open_session(file, threads=1, what="hat classifier")
        self._input = self._session.get_inputs()[0].name
        out = self._session.get_outputs()[0].shape
        if isinstance(out[-1], int) and out[-1] != 2:
            raise ModelError(f"hat: {file.name} gives {out[-1]} scores per crop; expected 2 (hat, no_hat)")

    def observe(self, image: Image, people: Detections, *, min_person: float = 0.5) -> list[Observation]:
        """A ``no_hat`` sighting for each person whose head crop scores ``no_hat`` above the threshold."""
        persons = people.of_class("person").above(min_person)
        if not len(persons):
            return []
        h, w = image.shape[:2]
        crops, heads = [], []
        for x1, y1, x2, y2 in persons.boxes:
            bw, bh = x2 - x1, y2 - y1
            # The head is the top fifth of a standing person; keep some room above it for the hat.
            hx1, hx2 = max(0.0, x1 + 0.2 * bw), min(float(w), x2 - 0.2 * bw)
            hy1, hy2 = max(0.0, y1 - 0.05 * bh), min(float(h), y1 + 0.22 * bh)
            if hx2 - hx1 < 4 or hy2 - hy1 < 4:
                continue
            crop = image[int(hy1) : int(hy2), int(hx1) : int(hx2)]
            crops.append(cv2.resize(crop, (self.spec.input_size, self.spec.input_size))[..., ::-1])
            heads.append((hx1 / w, hy1 / h, hx2 / w, hy2 / h))
        if not crops:
            return []
        blob = np.ascontiguousarray(np.stack(crops).transpose(0, 3, 1, 2), dtype=np.float32) / np.float32(255)
        scores = np.asarray(self._session.run(None, {self._input: blob})[0], np.float64).reshape(
            len(crops), -1
        )
        if not np.allclose(scores.sum(axis=1), 1.0, atol=1e-3) or scores.min() < 0:
            exp = np.exp(scores - scores.max(axis=1, keepdims=True))  # logits: soften into probabilities
            scores = exp / exp.sum(axis=1, keepdims=True)
        return [
            Observation("no_hat", head, float(p[1]), "no_hat")
            for head, p in zip(heads, scores, strict=True)
            if p[1] >= self.spec.min_score
        ]
