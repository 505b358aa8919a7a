"""Health states from the packet flow, with a controlled clock: a camera that slows to under half its
usual rate is degraded; a burst of late packets (a busy ingest host catching up) is not held against it."""

from __future__ import annotations

from command_center.events.schemas import CameraStatus, Event
from stream_ingest.frames import SnapshotStore
from stream_ingest.supervisor import CameraSupervisor
from stream_ingest.worker import CameraSpec


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(sup: CameraSupervisor, clock: Clock, seconds: float, fps: float) -> None:
    """Packets at ``fps`` for ``seconds``, with the service's four evaluations a second."""
    end = clock.now + seconds
    next_packet = clock.now
    while clock.now < end:
        clock.now = round(clock.now + 0.25, 6)
        while next_packet <= clock.now:
            sup.stats.on_packet(next_packet, 2000, keyframe=False)
            next_packet += 1 / fps
        sup.evaluate()


def test_slow_camera_is_degraded_and_a_burst_is_not() -> None:
    clock = Clock()
    events: list[Event] = []
    sup = CameraSupervisor(
        CameraSpec(id="c", url="rtsp://x/y"), emit=events.append, snapshots=SnapshotStore(), clock=clock
    )
    sup._on_connected()  # as the worker reports a connection
    run(sup, clock, 60, fps=10)
    run(sup, clock, 2, fps=40)  # packets that queued up while the host was busy arrive at once
    run(sup, clock, 30, fps=10)
    states = [e.state for e in events if isinstance(e, CameraStatus)]
    assert states == ["online"]
    run(sup, clock, 20, fps=3)
    assert [e.state for e in events if isinstance(e, CameraStatus)] == ["online", "degraded"]
    assert "usually 10" in sup.message
