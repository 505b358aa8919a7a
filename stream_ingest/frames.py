"""Where decoded frames go: the latest JPEG snapshot per camera (encoded once, served many times) and
a bounded hand-off to the detectors that drops, and counts, rather than grow."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from prometheus_client import Counter

Image = npt.NDArray[np.uint8]

FRAMES_DROPPED = Counter("mscc_ingest_frames_dropped_total", "Analysed frames dropped: detectors too slow")


@dataclass(frozen=True)
class AnalysedFrame:
    """One decoded frame picked for analysis; pixels stay in this process (never on the bus)."""

    camera_id: str
    ts: datetime
    image: Image = field(repr=False)
    keyframe: bool = True

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return int(self.image.shape[1]), int(self.image.shape[0])


@dataclass(frozen=True)
class Snapshot:
    """A camera's latest picture as JPEG."""

    camera_id: str
    ts: datetime
    jpeg: bytes = field(repr=False)
    width: int
    height: int


def encode_jpeg(image: Image, *, quality: int = 80, max_width: int = 640) -> tuple[bytes, int, int]:
    """JPEG bytes of ``image``, downscaled to ``max_width`` (a wall tile needs no more)."""
    h, w = image.shape[:2]
    if w > max_width:
        image = np.asarray(
            cv2.resize(image, (max_width, round(h * max_width / w)), interpolation=cv2.INTER_AREA), np.uint8
        )
        h, w = image.shape[:2]
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV only fails on invalid input
        raise ValueError("JPEG encoding failed")
    return buf.tobytes(), w, h


class SnapshotStore:
    """Latest snapshot per camera, in memory, optionally mirrored to files under ``directory`` (written
    atomically) so a server in another process on the same machine can serve them."""

    def __init__(self, directory: Path | None = None, *, every_s: float = 5.0) -> None:
        self._latest: dict[str, Snapshot] = {}
        self._every_s = every_s
        self._lock = threading.Lock()
        self._dir = directory
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    def put(self, camera_id: str, ts: datetime, image: Image, *, force: bool = False) -> Snapshot | None:
        """Encode and keep ``image`` as the camera's latest snapshot, at most once every ``every_s`` per
        camera (a wall tile needs no more, and encoding plus writing is most of an analysis's cost)
        unless ``force`` (evidence). Returns the snapshot, or None when it was skipped."""
        with self._lock:
            last = self._latest.get(camera_id)
        if not force and last is not None and (ts - last.ts).total_seconds() < self._every_s:
            return None
        jpeg, w, h = encode_jpeg(image)
        snap = Snapshot(camera_id=camera_id, ts=ts, jpeg=jpeg, width=w, height=h)
        with self._lock:
            self._latest[camera_id] = snap
        if self._dir is not None:
            tmp = self._dir / f".{camera_id}.jpg.tmp"
            tmp.write_bytes(jpeg)
            tmp.replace(self._dir / f"{camera_id}.jpg")
        return snap

    def get(self, camera_id: str) -> Snapshot | None:
        """The latest snapshot of a camera, if any."""
        with self._lock:
            return self._latest.get(camera_id)


class EvidenceStore:
    """Evidence pictures stored once by content hash under ``directory``; the URL is what alerts carry."""

    URL_PREFIX = "/api/evidence/"

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        directory.mkdir(parents=True, exist_ok=True)

    def put(self, jpeg: bytes) -> str:
        """Store ``jpeg`` (idempotent) and return its URL."""
        name = f"{hashlib.sha256(jpeg).hexdigest()}.jpg"
        path = self._dir / name
        if not path.exists():
            tmp = self._dir / f".{name}.tmp"
            tmp.write_bytes(jpeg)
            tmp.replace(path)
        return self.URL_PREFIX + name

    def path_of(self, name: str) -> Path | None:
        """The file behind an evidence name, or None for anything that is not one of ours."""
        if (
            len(name) != 68
            or not name.endswith(".jpg")
            or not all(c in "0123456789abcdef" for c in name[:64])
        ):
            return None
        path = self._dir / name
        return path if path.is_file() else None


class FrameQueue:
    """Bounded hand-off from the ingest threads to the detectors. When full, the oldest frame is
    dropped and counted: a slow detector loses frames, it never grows memory."""

    def __init__(self, maxsize: int = 64) -> None:
        self._items: deque[AnalysedFrame] = deque()
        self._maxsize = maxsize
        self._cond = threading.Condition()
        self.dropped = 0
        self.offered = 0

    def offer(self, frame: AnalysedFrame) -> None:
        """Add a frame, dropping the oldest one when full."""
        with self._cond:
            self.offered += 1
            if len(self._items) >= self._maxsize:
                self._items.popleft()
                self.dropped += 1
                FRAMES_DROPPED.inc()
            self._items.append(frame)
            self._cond.notify()

    def take(self, max_items: int, timeout: float, *, linger: float = 0.0) -> list[AnalysedFrame]:
        """Up to ``max_items`` frames, waiting at most ``timeout`` seconds for the first and then at
        most ``linger`` seconds more for the batch to fill (frames of many cameras share one model
        call; the wait is bounded so a quiet district still gets prompt answers)."""
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            if self._items and linger > 0:
                deadline = time.monotonic() + linger
                while len(self._items) < max_items:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._cond.wait(left):
                        break
            out: list[AnalysedFrame] = []
            while self._items and len(out) < max_items:
                out.append(self._items.popleft())
            return out

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


FrameCallback = Callable[[AnalysedFrame], None]
