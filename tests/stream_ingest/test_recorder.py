"""The segment recorder fed packet by packet: a timestamp jump starts a new segment and both play;
a disk error pauses recording without reaching the caller."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import pytest

from stream_ingest.recorder import SegmentInfo, SegmentRecorder
from stream_ingest.simulator import Clip
from tests.stream_ingest.test_recording import probe


@pytest.fixture
def mp4(ingest_clips: dict[str, Clip], tmp_path: Path) -> Path:
    """The kitchen clip in an MP4 container, so its packets carry timestamps like an RTSP stream's."""
    out = tmp_path / "source.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-r",
            "10",
            "-i",
            str(ingest_clips["kitchen-a"].path),
            "-c",
            "copy",
            str(out),
        ],
        check=True,
    )
    return out


def feed(recorder: SegmentRecorder, source: Path, clock: list[float], jump_at: int | None = None) -> None:
    with av.open(str(source)) as container:
        video = container.streams.video[0]
        step = int(1 / (10 * video.time_base))
        for n, packet in enumerate(container.demux(video)):
            if packet.pts is None:
                continue
            if jump_at is not None and n >= jump_at:
                packet.pts = packet.dts = packet.pts - 50 * step  # the camera's clock went back 5 s
            clock[0] += 0.1
            recorder.write(packet, video)
    recorder.close()


def test_a_timestamp_jump_starts_a_new_segment(mp4: Path, tmp_path: Path) -> None:
    done: list[SegmentInfo] = []
    clock = [1_800_000_000.0]
    recorder = SegmentRecorder(
        "c0", tmp_path / "rec", on_segment=done.append, segment_s=60, wall_clock=lambda: clock[0]
    )
    feed(recorder, mp4, clock, jump_at=55)
    assert len(done) == 2
    for seg in done:
        duration, frames = probe(seg.path)
        assert frames == seg.frames and abs(duration - seg.duration_s) <= 0.5
    assert done[0].frames == 55  # cut where the clock jumped; the second one waits for a keyframe (60)
    assert done[1].frames == 120 - 60


def test_a_disk_error_pauses_recording_quietly(mp4: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "rec"
    blocked.write_text("a file where the recordings folder should be")  # every write fails
    done: list[SegmentInfo] = []
    clock = [1_800_000_000.0]
    recorder = SegmentRecorder("c0", blocked, on_segment=done.append, wall_clock=lambda: clock[0])
    feed(recorder, mp4, clock)  # must not raise
    assert done == []
