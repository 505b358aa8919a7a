"""Evidence for a confirmed violation: the raw frame and an annotated copy (boxes, labels, time,
camera), each stored once by content hash; the annotated one's URL goes into ``alert.created``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import cv2
import numpy as np

from detectors.base import Image
from detectors.rules import Observation
from stream_ingest.frames import EvidenceStore, encode_jpeg

_RED = (40, 40, 230)
_AMBER = (0, 170, 255)


@dataclass(frozen=True)
class Evidence:
    """Where the two pictures of one confirmation were stored."""

    annotated_url: str
    raw_url: str


def annotate(
    image: Image, observations: Sequence[Observation], *, camera_id: str, ts: datetime, tz: ZoneInfo
) -> Image:
    """A copy of ``image`` with each sighting boxed and labelled, and a caption bar with the camera and
    the local time (what an inspector reads off a printed report)."""
    out = image.copy()
    h, w = out.shape[:2]
    thick = max(1, round(w / 320))
    scale = max(0.4, w / 1280)
    for obs in observations:
        x1, y1, x2, y2 = (
            round(obs.box[0] * w),
            round(obs.box[1] * h),
            round(obs.box[2] * w),
            round(obs.box[3] * h),
        )
        colour = _AMBER if obs.source == "rule" else _RED
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thick)
        text = f"{obs.violation} {obs.label} {obs.score:.2f}"
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        ty = max(th + 4, y1)
        cv2.rectangle(out, (x1, ty - th - 4), (x1 + tw + 4, ty), colour, -1)
        cv2.putText(
            out, text, (x1 + 2, ty - 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA
        )
    caption = f"{camera_id}  {ts.astimezone(tz):%Y-%m-%d %H:%M:%S %Z}"
    (_, ch), _ = cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    bar = np.zeros((ch + 10, w, 3), np.uint8)
    cv2.putText(bar, caption, (5, ch + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return np.vstack([out, bar])


def store_evidence(
    store: EvidenceStore,
    image: Image,
    observations: Sequence[Observation],
    *,
    camera_id: str,
    ts: datetime,
    tz: ZoneInfo,
) -> Evidence:
    """Encode and store the raw and the annotated frame (full analysed resolution, JPEG q90)."""
    width = int(image.shape[1])  # evidence keeps the analysed resolution: no downscale
    raw, _, _ = encode_jpeg(image, quality=90, max_width=width)
    picture = annotate(image, observations, camera_id=camera_id, ts=ts, tz=tz)
    annotated, _, _ = encode_jpeg(picture, quality=90, max_width=width)
    return Evidence(annotated_url=store.put(annotated), raw_url=store.put(raw))
