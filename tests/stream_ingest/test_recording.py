"""Recording by packet copy from a real RTSP camera: segments that play and match their index, an
outage that leaves a gap, and an evidence clip cut around an alert."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from datetime import timedelta
from pathlib import Path

from command_center.events.schemas import Event, RecordingSegment
from stream_ingest.clips import cut_clip, find_segments
from stream_ingest.frames import SnapshotStore
from stream_ingest.service import IngestService
from stream_ingest.simulator import CameraSimulator, Clip
from stream_ingest.source import SourceOptions
from stream_ingest.supervisor import SupervisorOptions
from stream_ingest.worker import CameraSpec
from tests.services import unavailable


def probe(path: Path) -> tuple[float, int]:
    """(duration in s, number of video frames) as ffprobe reads the file."""
    if shutil.which("ffprobe") is None:
        unavailable("ffprobe (ffmpeg)")
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_packets",
            "-select_streams",
            "v:0",
            "-show_entries",
            "format=duration:stream=nb_read_packets,codec_name",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data = json.loads(out)
    assert data["streams"][0]["codec_name"] == "h264"
    return float(data["format"]["duration"]), int(data["streams"][0]["nb_read_packets"])


async def test_segments_gap_and_clip(
    rtsp: CameraSimulator, ingest_clips: dict[str, Clip], tmp_path: Path
) -> None:
    url = rtsp.add_camera("cam0", ingest_clips["kitchen-a"])
    record_dir = tmp_path / "recordings"
    options = SupervisorOptions(
        record_dir=record_dir, segment_s=3.0, source=SourceOptions(read_timeout_s=3.0)
    )
    segments: list[RecordingSegment] = []

    async def publish(event: Event) -> None:
        if isinstance(event, RecordingSegment):
            segments.append(event)

    service = IngestService(
        [CameraSpec(id="c0", url=url)], publish=publish, snapshots=SnapshotStore(), options=options
    )
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        deadline = time.monotonic() + 30
        while len(segments) < 3:
            assert time.monotonic() < deadline, "segments were not written"
            await asyncio.sleep(0.2)
        outage_at = segments[-1].end
        await asyncio.to_thread(rtsp.stop)
        await asyncio.sleep(4.0)
        await asyncio.to_thread(rtsp.start)
        before = len(segments)
        while len(segments) < before + 3:
            assert time.monotonic() < deadline + 40, "no segments after the camera came back"
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await task

    durations = []
    for seg in segments:
        path = record_dir / seg.path
        assert path.is_file() and path.stat().st_size == seg.bytes
        duration, frames = probe(path)
        assert abs(duration - (seg.end - seg.start).total_seconds()) <= 0.5, seg
        assert frames == seg.frames
        durations.append(duration)
    # Cut at the first keyframe after 3 s; only the segments the outage and the stop ended are shorter.
    assert all(d <= 6.0 for d in durations)
    assert sum(d < 2.5 for d in durations) <= 2, durations
    assert not list(record_dir.rglob("*.partial"))  # every segment was finished
    starts = sorted(s.start for s in segments)
    gaps = [
        (b - a.end).total_seconds()
        for a, b in zip(sorted(segments, key=lambda s: s.start), starts[1:], strict=False)
    ]
    assert max(gaps) >= 3.0  # the outage is a gap between segments...
    assert sorted(gaps)[-2] < 1.0  # ...and the other segments follow one another closely

    # An alert 2 s into the recording: clip from T-1 s to T+2 s (short, for the test), by packet copy.
    alert_at = segments[1].start + timedelta(seconds=1)
    clip = cut_clip(
        record_dir,
        "c0",
        alert_at - timedelta(seconds=1),
        alert_at + timedelta(seconds=2),
        tmp_path / "clips" / "a1.mp4",
    )
    assert clip is not None
    duration, frames = probe(clip.path)
    assert clip.start <= alert_at - timedelta(seconds=1) and clip.end >= alert_at + timedelta(seconds=1.8)
    assert 2.8 <= duration <= 5.0 and frames == clip.frames
    # A range with no recording (during the outage) yields no clip rather than a broken file.
    empty = cut_clip(
        record_dir,
        "c0",
        outage_at + timedelta(seconds=1.2),
        outage_at + timedelta(seconds=2),
        tmp_path / "clips" / "none.mp4",
    )
    assert empty is None and not (tmp_path / "clips" / "none.mp4").exists()
    assert len(find_segments(record_dir, "c0", starts[0], starts[-1])) == len(segments)
