"""Camera health from the stream (packet rate, bitrate, keyframes) and from the picture (black or
covered lens, frozen image, camera moved). Pure, clock-injected logic: the worker feeds it, tests
drive it with generated frames."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from stream_ingest.frames import Image

TamperReason = Literal["covered", "frozen", "moved"]
_THUMB = (32, 18)  # small enough to ignore encoder noise and people, large enough to see the scene


@dataclass
class StreamStats:
    """Counters one camera's worker updates and the supervisor reads (thread-safe)."""

    window_s: float = 5.0
    packets: int = 0
    bytes: int = 0
    keyframes: int = 0
    decoded: int = 0
    analysed: int = 0
    late_analyses: int = 0
    decode_errors: int = 0
    last_packet_at: float | None = None
    last_keyframe_at: float | None = None
    last_analysed_at: float | None = None
    width: int | None = None
    height: int | None = None
    _recent: deque[tuple[float, int]] = field(default_factory=deque, repr=False)
    _recent_bytes: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def on_packet(self, now: float, size: int, keyframe: bool) -> None:
        """Record one video packet (one frame of H.264 without B-frames)."""
        with self._lock:
            self.packets += 1
            self.bytes += size
            self.last_packet_at = now
            if keyframe:
                self.keyframes += 1
                self.last_keyframe_at = now
            self._recent.append((now, size))
            self._recent_bytes += size
            self._trim(now)

    def rates(self, now: float) -> tuple[float, float]:
        """(frames per second, kilobits per second) over the last window."""
        with self._lock:
            self._trim(now)
            if not self._recent:
                return 0.0, 0.0
            span = max(now - self._recent[0][0], 1.0)
            return len(self._recent) / span, self._recent_bytes * 8 / 1000 / span

    def reset_window(self) -> None:
        """Forget the rate window (a new connection starts fresh)."""
        with self._lock:
            self._recent.clear()
            self._recent_bytes = 0

    def _trim(self, now: float) -> None:
        # The window's byte count is kept as packets come and go, so reading the rates (several times
        # a second for every camera) does not add up the whole window each time.
        recent, oldest = self._recent, now - self.window_s
        while recent and recent[0][0] < oldest:
            self._recent_bytes -= recent.popleft()[1]


def _thumb(image: Image) -> npt.NDArray[np.float32]:
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    return np.asarray(cv2.resize(gray, _THUMB, interpolation=cv2.INTER_AREA), np.float32)


@dataclass
class TamperConfig:
    """Thresholds of the picture checks; defaults suit kitchen cameras analysed every 1-5 s."""

    covered_std: float = 6.0  # a lens that is black, painted over or pressed against shows no detail
    # Two pictures are "the same" when no cell of the 32x18 thumbnail changed by more than this many grey
    # levels: re-encoding one still image changes cells by at most 1, while a live camera's clock overlay,
    # people or flicker move some cell further. A scene that is truly motionless and has no clock overlay
    # can therefore read as frozen: raise frozen_after_s, or set it to 0 to switch the check off.
    frozen_max_diff: float = 2.0
    frozen_after_s: float = 60.0
    moved_corr: float = 0.45  # correlation with the learnt scene below which the view has changed
    # A moved camera shows a new view that then stays: it must disagree with the learnt scene and agree
    # with itself this long. People passing, steam or a door opening do not last; neither does a
    # screen or slideshow in view.
    moved_after_s: float = 10.0
    reference_alpha: float = 0.05  # how fast the learnt scene follows slow changes (light, day/night)


@dataclass
class TamperCheck:
    """Decides from analysed frames whether the camera's picture is unusable. ``update`` returns the
    reason when a condition starts; it is not returned again until the picture recovers."""

    config: TamperConfig = field(default_factory=TamperConfig)
    _previous: npt.NDArray[np.float32] | None = None
    _reference: npt.NDArray[np.float32] | None = None
    _same_since: float | None = None
    _candidate: npt.NDArray[np.float32] | None = None
    _candidate_since: float = 0.0
    active: TamperReason | None = None
    detail: str = ""

    def update(self, image: Image, now: float) -> TamperReason | None:
        """Feed one analysed frame taken at monotonic time ``now``."""
        thumb = _thumb(image)
        reason, detail = self._evaluate(thumb, now)
        self._previous = thumb
        if reason is None:
            self.active, self.detail = None, ""
            return None
        started = reason != self.active
        self.active, self.detail = reason, detail
        return reason if started else None

    def _evaluate(self, thumb: npt.NDArray[np.float32], now: float) -> tuple[TamperReason | None, str]:
        cfg = self.config
        std = float(thumb.std())
        if std < cfg.covered_std:
            return "covered", f"lens covered or black (picture contrast {std:.1f})"
        if cfg.frozen_after_s > 0 and self._previous is not None and self._previous.shape == thumb.shape:
            if float(np.abs(thumb - self._previous).max()) <= cfg.frozen_max_diff:
                self._same_since = self._same_since if self._same_since is not None else now
            else:
                self._same_since = None
        if self._same_since is not None and now - self._same_since >= cfg.frozen_after_s:
            return "frozen", f"picture unchanged for {now - self._same_since:.0f} s"
        return self._moved(thumb, now)

    def _moved(self, thumb: npt.NDArray[np.float32], now: float) -> tuple[TamperReason | None, str]:
        cfg = self.config
        if self._reference is None or self._reference.shape != thumb.shape:
            self._reference = thumb.copy()
            return None, ""
        corr = _correlation(self._reference, thumb)
        if corr >= cfg.moved_corr:
            self._candidate = None
            self._reference += cfg.reference_alpha * (thumb - self._reference)
            return None, ""
        if self._candidate is None or _correlation(self._candidate, thumb) < cfg.moved_corr:
            self._candidate, self._candidate_since = thumb.copy(), now  # a new view begins (or changed again)
            return None, ""
        if now - self._candidate_since < cfg.moved_after_s:
            return None, ""
        # The new view held: alert once, and it is the scene from now on.
        self._reference, self._candidate = self._candidate, None
        return "moved", f"scene changed (similarity {corr:.2f}) and stayed: camera moved or turned"


def _correlation(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    a0, b0 = a - a.mean(), b - b.mean()
    denom = float(np.sqrt((a0 * a0).sum() * (b0 * b0).sum()))
    return float((a0 * b0).sum() / denom) if denom > 1e-6 else 1.0
