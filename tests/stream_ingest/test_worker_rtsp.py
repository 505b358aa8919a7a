"""One camera worker on a real RTSP camera: with recording on, every packet reaches the recorder while
only the keyframes picked for analysis are decoded; a live viewer gets every frame decoded, and
analysis keeps its own pace meanwhile; a camera that hangs in the middle of a stream ends in a
timeout, not a hung worker."""

from __future__ import annotations

import socket
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


class FreezingProxy:
    """A TCP relay to the camera that stops passing the camera's data on once ``freeze`` is set, while
    keeping the connection open: a camera that hangs in the middle of a stream."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.freeze = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client = self.sock.accept()[0]
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self._open += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, from_camera: bool) -> None:
        try:
            while data := src.recv(65536):
                if from_camera and self.freeze.is_set():
                    continue  # swallowed: the client hears nothing more
                dst.sendall(data)
        except OSError:
            return

    def close(self) -> None:
        self.sock.close()
        for s in self._open:
            s.close()


def test_a_camera_that_hangs_mid_stream_times_out(
    rtsp: CameraSimulator, ingest_clips: dict[str, Clip]
) -> None:
    url = rtsp.add_camera("cam0", ingest_clips["kitchen-a"])
    proxy = FreezingProxy(int(url.split(":")[2].split("/")[0]))
    stats = StreamStats()
    worker = CameraWorker(
        CameraSpec(id="c0", url=url.replace(f":{proxy.target}/", f":{proxy.port}/"), analysis_interval_s=2.0),
        stats=stats,
        on_frame=lambda _frame: None,
        options=SourceOptions(open_timeout_s=3.0, read_timeout_s=2.0),
    )
    outcome: list[BaseException | None] = []

    def read() -> None:
        try:
            worker.run(threading.Event())
            outcome.append(None)
        except StreamError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=read, daemon=True)
    try:
        thread.start()
        wait_until("packets", lambda: stats.packets > 20)
        proxy.freeze.set()
        frozen_at = time.monotonic()
        thread.join(15)
        took = time.monotonic() - frozen_at
    finally:
        proxy.close()
    assert outcome and isinstance(outcome[0], StreamError), outcome
    assert outcome[0].kind == "timeout" and "no answer" in str(outcome[0])  # what the operator reads
    assert took < 2.0 * 2 + 3  # within about two read timeouts, never a hung worker
