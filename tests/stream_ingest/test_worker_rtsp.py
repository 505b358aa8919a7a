"""One camera worker on a real RTSP camera: with recording on, every packet reaches the recorder while
only the keyframes picked for analysis are decoded; a live viewer gets every frame decoded, and
analysis keeps its own pace meanwhile."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from av.packet import Packet
from av.video.stream import VideoStream

from stream_ingest.frames import AnalysedFrame
from stream_ingest.health import StreamStats
from stream_ingest.simulator import CameraSimulator, Clip
from stream_ingest.source import SourceOptions, StreamError
from stream_ingest.worker import CameraSpec, CameraWorker


class Counting:
    """A recorder stand-in that counts what it is given."""

    def __init__(self) -> None:
        self.packets = 0
        self.keyframes = 0

    def __call__(self, packet: Packet[VideoStream], _stream: VideoStream) -> None:
        self.packets += 1
        self.keyframes += bool(packet.is_keyframe)


def wait_until(what: str, condition: Callable[[], bool], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_recording_gets_every_packet_and_only_picked_keyframes_are_decoded(
    rtsp: CameraSimulator, ingest_clips: dict[str, Clip]
) -> None:
    url = rtsp.add_camera("cam0", ingest_clips["kitchen-a"])  # 10 fps, a keyframe every second
    stats = StreamStats()
    recorder = Counting()
    frames: list[AnalysedFrame] = []
    live = threading.Event()
    worker = CameraWorker(
        CameraSpec(id="c0", url=url, analysis_interval_s=2.0),
        stats=stats,
        on_frame=frames.append,
        on_packet=recorder,
        live_requested=live.is_set,
        options=SourceOptions(read_timeout_s=3.0),
    )
    stop = threading.Event()
    errors: list[StreamError] = []

    def read() -> None:
        try:
            worker.run(stop)
        except StreamError as exc:  # pragma: no cover - reported by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    try:
        wait_until("a first analysed frame", lambda: stats.analysed >= 1)
        start = (stats.packets, stats.keyframes, stats.decoded, stats.analysed)
        time.sleep(6.0)
        idle = (stats.packets, stats.keyframes, stats.decoded, stats.analysed)
        live.set()  # a live view opens: from the next keyframe every frame is decoded
        time.sleep(1.5)
        live_start = (stats.packets, stats.decoded, stats.analysed)
        time.sleep(4.0)
        live_end = (stats.packets, stats.decoded, stats.analysed)
    finally:
        stop.set()
        thread.join(10)
    assert not errors and not thread.is_alive()

    assert recorder.packets == stats.packets  # every packet was recorded, none held back by decoding
    assert recorder.keyframes == stats.keyframes
    packets, keyframes, decoded, analysed = (b - a for a, b in zip(start, idle, strict=True))
    assert packets >= 50 and keyframes >= 5
    assert analysed in (2, 3, 4)  # one every 2 s
    assert decoded == analysed  # nothing but the analysed keyframes went to a decoder
    assert keyframes >= 2 * analysed - 1  # every other keyframe was not even decoded

    packets, decoded, analysed = (b - a for a, b in zip(live_start, live_end, strict=True))
    assert decoded >= packets - 1  # live: every frame decoded
    assert analysed in (1, 2, 3)  # analysis still every 2 s, not at every decoded frame
    assert all(f.image.shape == (360, 640, 3) for f in frames)
