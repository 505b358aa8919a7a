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
from av.packet import Packet
from av.video.codeccontext import VideoCodecContext
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from config.district import Zone
from stream_ingest.decoding import AnalysisPicture, analysis_decoder, decode_now
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
        self._decode_errors = 0

    def run(self, stop: threading.Event) -> None:
        """Connect and read. Returns when ``stop`` is set; raises StreamError on any failure."""
        source = open_source(self.spec.url, self._options)
        try:
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
        # Two decoders: the analysis one sees only the keyframes picked for analysis (see decoding.py);
        # the stream's own one decodes every packet, and only while a live view asks for it.
        analysis = analysis_decoder(video.codec_context)
        live_codec = video.codec_context
        live_codec.thread_count = 1
        picture = AnalysisPicture(self.analysis_width)
        # Bound once: this loop runs for every packet of every camera, and most packets only pass by.
        stats, clock, record, live_requested = self.stats, self._clock, self._on_packet, self._live
        interval = self.spec.analysis_interval_s
        next_due = 0.0
        gop = 1.0
        last_key: float | None = None
        # Live view is switched on and off at keyframes only: its decoder has to start on one anyway,
        # and asking once per keyframe instead of once per packet keeps the idle path short.
        live = False
        for packet in container.demux(video):
            if stop.is_set():
                return
            size = packet.size
            if not size:  # the demuxer's end-of-stream flush packet
                continue
            now = clock()
            key = packet.is_keyframe
            stats.on_packet(now, size, key)
            if record is not None:
                record(packet, video)  # recording: packet copy, before anything else touches it
            if not key:
                if live:
                    self._decode(live_codec, packet)
                continue  # the cheap path: received, counted, recorded, never decoded
            if last_key is not None and 0 < now - last_key < 30:
                gop = 0.8 * gop + 0.2 * (now - last_key)  # the camera's keyframe interval, smoothed
            last_key = now
            live = live_requested()
            # Packets arrive with jitter: a keyframe up to half a keyframe interval early still takes
            # its slot, otherwise a 2 s interval at a 1 s GOP would often become 3 s.
            due = now >= next_due - gop / 2
            if live:
                frames = self._decode(live_codec, packet)  # the live decoder's picture serves analysis too
            elif due:
                frames = self._decode(analysis, packet, now=True)
            else:
                continue  # a keyframe between analysis slots: not decoded either
            if not due or not frames:
                continue
            # A missed slot: the analysis came more than half a keyframe interval after its time.
            last = stats.last_analysed_at
            if last is not None and interval > 0 and now - last > max(interval, gop) + gop / 2 + 0.1:
                stats.late_analyses += 1
            # Slots on a fixed grid (not from each keyframe's arrival), so jitter does not accumulate;
            # after an outage the grid restarts from now.
            next_due = next_due + interval if interval > 0 and now - next_due < interval else now + interval
            frame = frames[-1]
            # Converted at the analysis width only: detectors and snapshots want at most 640 px.
            image = picture.convert(frame)
            stats.analysed += 1
            stats.last_analysed_at = now
            stats.width, stats.height = frame.width, frame.height
            self._on_frame(
                AnalysedFrame(camera_id=self.spec.id, ts=datetime.now(UTC), image=image, keyframe=True)
            )
        raise StreamError("ended", f"{self.spec.id}: the camera closed the stream")

    def _decode(
        self, codec: VideoCodecContext, packet: Packet[VideoStream], *, now: bool = False
    ) -> list[VideoFrame]:
        """Decode one packet; ``now``: drain the decoder so the keyframe's own picture comes out.
        A failed packet is counted and gives no frames; too many in a row end the connection."""
        try:
            frames = decode_now(codec, packet) if now else codec.decode(packet)
        except av.error.FFmpegError:
            self._decode_errors += 1
            self.stats.decode_errors += 1
            if self._decode_errors >= MAX_CONSECUTIVE_DECODE_ERRORS:
                raise StreamError(
                    "bad_stream", f"{self._decode_errors} packets in a row failed to decode"
                ) from None
            return []
        self._decode_errors = 0
        self.stats.decoded += len(frames)
        return frames
