"""The per-camera worker: a plain loop that reads packets, decodes only the keyframes that analysis
needs (every packet only while a live view asks for it), and hands frames on. Every failure leaves
as one :class:`~stream_ingest.source.StreamError`; restarting is the supervisor's job."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import av
import numpy as np
from av.packet import Packet
from av.video.stream import VideoStream

from config.district import Zone
from stream_ingest.frames import AnalysedFrame, FrameCallback
from stream_ingest.health import StreamStats
from stream_ingest.source import SourceOptions, StreamError, classify, open_source

log = logging.getLogger(__name__)

PacketSink = Callable[["Packet[VideoStream]", VideoStream], None]

# A stream whose packets keep failing to decode is reconnected rather than read on forever.
MAX_CONSECUTIVE_DECODE_ERRORS = 25


@dataclass(frozen=True)
class CameraSpec:
    """What the ingest needs to know about one camera."""

    id: str
    url: str
    analysis_interval_s: float = 2.0
    restaurant_id: str | None = None
    street_id: str | None = None
    zones: tuple[Zone, ...] = ()  # where the detectors look (prep area, floor) and never look (exclude)


class CameraWorker:
    """Reads one camera until ``stop`` is set (returns) or the stream fails (raises StreamError)."""

    def __init__(
        self,
        spec: CameraSpec,
        *,
        stats: StreamStats,
        on_frame: FrameCallback,
        options: SourceOptions | None = None,
        live_requested: Callable[[], bool] = lambda: False,
        on_connected: Callable[[], None] = lambda: None,
        on_packet: PacketSink | None = None,
        analysis_width: int = 640,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec = spec
        self.stats = stats
        self._on_frame = on_frame
        self._options = options or SourceOptions()
        self._live = live_requested
        self._on_connected = on_connected
        self._on_packet = on_packet
        self._clock = clock
        self.analysis_width = analysis_width

    def run(self, stop: threading.Event) -> None:
        """Connect and read. Returns when ``stop`` is set; raises StreamError on any failure."""
        source = open_source(self.spec.url, self._options)
        try:
            codec = source.video.codec_context
            # One decoding thread per camera: with 255 cameras, FFmpeg's default of one thread per core
            # per camera would start hundreds of idle threads for a keyframe every few seconds.
            codec.thread_count = 1
            self.stats.reset_window()
            self._on_connected()
            self._read(source.container, source.video, stop)
        except StreamError:
            raise
        except Exception as exc:  # PyAV raises many types; all mean "this connection is done"
            raise classify(exc, source.url_redacted) from None
        finally:
            source.close()

    def _read(
        self, container: av.container.InputContainer, video: VideoStream, stop: threading.Event
    ) -> None:
        codec = video.codec_context
        interval = self.spec.analysis_interval_s
        next_due = 0.0
        decode_errors = 0
        # While live view is on every packet is decoded, which needs a keyframe first: `primed` says the
        # decoder has had one since live view began.
        primed = False
        was_live = False
        gop = 1.0
        last_key: float | None = None
        for packet in container.demux(video):
            if stop.is_set():
                return
            if packet.size == 0:  # the demuxer's end-of-stream flush packet
                continue
            now = self._clock()
            key = bool(packet.is_keyframe)
            if key and last_key is not None and 0 < now - last_key < 30:
                gop = 0.8 * gop + 0.2 * (now - last_key)  # the camera's keyframe interval, smoothed
            if key:
                last_key = now
            self.stats.on_packet(now, packet.size, key)
            if self._on_packet is not None:
                self._on_packet(packet, video)  # recording: packet copy, before anything else touches it
            live = self._live()
            if live and not was_live:
                primed = False
            was_live = live
            # Packets arrive with jitter: a keyframe up to half a keyframe interval early still takes
            # its slot, otherwise a 2 s interval at a 1 s GOP would often become 3 s.
            due = key and now >= next_due - gop / 2
            if not (due or (live and (primed or key))):
                continue  # the cheap path: received, counted, never decoded
            try:
                frames = codec.decode(packet)
            except av.error.FFmpegError:
                decode_errors += 1
                self.stats.decode_errors += 1
                if decode_errors >= MAX_CONSECUTIVE_DECODE_ERRORS:
                    raise StreamError(
                        "bad_stream", f"{decode_errors} packets in a row failed to decode"
                    ) from None
                continue
            decode_errors = 0
            self.stats.decoded += len(frames)
            primed = primed or key
            if not frames:
                continue
            if not due:
                continue  # live view decodes to keep the picture current; analysis waits for its slot
            # A missed slot: the analysis came more than half a keyframe interval after its time.
            last = self.stats.last_analysed_at
            if last is not None and interval > 0 and now - last > max(interval, gop) + gop / 2 + 0.1:
                self.stats.late_analyses += 1
            # Slots on a fixed grid (not from each keyframe's arrival), so jitter does not accumulate;
            # after an outage the grid restarts from now.
            next_due = next_due + interval if interval > 0 and now - next_due < interval else now + interval
            frame = frames[-1]
            # Convert to BGR at the analysis width only: conversion costs about as much as decoding, and
            # detectors and snapshots want at most 640 px anyway.
            width, height = frame.width, frame.height
            if width > self.analysis_width:
                width, height = self.analysis_width, round(height * self.analysis_width / width / 2) * 2
            image = np.ascontiguousarray(
                frame.to_ndarray(format="bgr24", width=width, height=height), dtype=np.uint8
            )
            self.stats.analysed += 1
            self.stats.last_analysed_at = now
            self.stats.width, self.stats.height = frame.width, frame.height
            self._on_frame(
                AnalysedFrame(camera_id=self.spec.id, ts=datetime.now(UTC), image=image, keyframe=key)
            )
        raise StreamError("ended", f"{self.spec.id}: the camera closed the stream")
