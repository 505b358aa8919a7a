"""Opening an RTSP camera with PyAV: TCP transport, bounded open and read waits, and one domain
exception for every way a camera can fail, with the credentials blanked out of every message."""

from __future__ import annotations

import errno
import logging
import time
from dataclasses import dataclass
from typing import Literal

import av
import av.error
from av.container import InputContainer
from av.video.stream import VideoStream

from config.redaction import redact_url

log = logging.getLogger(__name__)

FailureKind = Literal["unreachable", "auth", "not_found", "timeout", "no_video", "bad_stream", "ended"]


class StreamError(Exception):
    """A camera could not be read. ``kind`` classifies the failure for health reporting; the message
    never contains the URL's credentials."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class SourceOptions:
    """How to open a camera. Defaults follow reference/streaming-measurements.md: TCP, a short probe so
    the first frame arrives in about a second, and a read timeout so a silent server cannot hang us."""

    open_timeout_s: float = 5.0
    read_timeout_s: float = 5.0
    transport: Literal["tcp", "udp"] = "tcp"
    probe_bytes: int = 100_000
    analyze_us: int = 500_000


@dataclass
class Source:
    """An open camera: the container and its video stream."""

    container: InputContainer
    video: VideoStream
    url_redacted: str

    def close(self) -> None:
        """Close the connection; never raises."""
        try:
            self.container.close()
        except Exception:  # closing a broken connection may fail in many ways
            log.debug("closing %s failed", self.url_redacted, exc_info=True)


def open_source(url: str, options: SourceOptions | None = None) -> Source:
    """Connect to ``url`` and find its video stream, or raise :class:`StreamError`."""
    opts = options or SourceOptions()
    safe = redact_url(url)
    av_options = {
        "rtsp_transport": opts.transport,
        # FFmpeg ignores the old `stimeout`; `timeout` (microseconds) bounds socket waits.
        "timeout": str(int(opts.read_timeout_s * 1_000_000)),
        "fflags": "nobuffer",
        "probesize": str(opts.probe_bytes),
        "analyzeduration": str(opts.analyze_us),
    }
    started = time.monotonic()
    try:
        # PyAV's own timeout bounds the open as a whole. Reads rely on FFmpeg's socket timeout alone:
        # PyAV checks its read timeout in a callback that takes Python's GIL, and FFmpeg calls it on
        # every socket read, several times per video packet, which with hundreds of camera threads
        # became the largest single cost of receiving.
        container = av.open(url, options=av_options, timeout=(opts.open_timeout_s, None))
    except Exception as exc:  # every failure is mapped to one domain error
        # A server that accepts and then says nothing surfaces as "invalid data" once FFmpeg gives up:
        # what identifies it is that the whole timeout went by.
        if time.monotonic() - started >= 0.9 * min(opts.open_timeout_s, opts.read_timeout_s):
            raise StreamError("timeout", f"{safe}: no answer within {opts.open_timeout_s:.0f} s") from None
        raise classify(exc, safe) from None
    if not isinstance(container, InputContainer):  # pragma: no cover - mode "r" always gives input
        container.close()
        raise StreamError("bad_stream", f"{safe}: not an input")
    if not container.streams.video:
        container.close()
        raise StreamError("no_video", f"{safe}: the stream has no video track")
    return Source(container=container, video=container.streams.video[0], url_redacted=safe)


def classify(exc: BaseException, safe_url: str) -> StreamError:
    """Map a PyAV / OS error to a :class:`StreamError` with a message fit for an operator."""
    if isinstance(exc, StreamError):
        return exc
    # FFmpeg's own message (strerror) without the file name it appends, which is the full URL.
    text = _strip_url(getattr(exc, "strerror", None) or str(exc))
    code = getattr(exc, "errno", None)
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError) or "401" in text:
        return StreamError("auth", f"{safe_url}: credentials refused by the camera")
    if isinstance(exc, av.error.HTTPNotFoundError) or "404" in text:
        return StreamError("not_found", f"{safe_url}: no such stream on the camera (404)")
    if isinstance(exc, ConnectionRefusedError) or code == errno.ECONNREFUSED:
        return StreamError("unreachable", f"{safe_url}: connection refused")
    timed_out = code in {errno.ETIMEDOUT, errno.EAGAIN} or "timed out" in text.lower()
    if isinstance(exc, TimeoutError) or timed_out:
        return StreamError("timeout", f"{safe_url}: no answer within the timeout")
    if isinstance(exc, av.error.EOFError | EOFError):
        return StreamError("ended", f"{safe_url}: the stream ended")
    if isinstance(exc, av.error.InvalidDataError | av.error.ProtocolNotFoundError | ValueError):
        return StreamError("bad_stream", f"{safe_url}: unreadable stream ({text or type(exc).__name__})")
    if isinstance(exc, OSError):
        return StreamError("unreachable", f"{safe_url}: {text or type(exc).__name__}")
    return StreamError("bad_stream", f"{safe_url}: {type(exc).__name__}: {text}")


def _strip_url(text: str) -> str:
    """FFmpeg puts the full URL (credentials included) into its messages: cut it out."""
    out = []
    for word in text.split():
        out.append(redact_url(word.strip("'\":;,")) if "://" in word else word)
    return " ".join(out)
