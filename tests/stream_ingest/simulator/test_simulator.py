"""The camera simulator as its users meet it: real RTSP over TCP played with PyAV, and ``mscc``."""

from __future__ import annotations

import contextlib
import logging
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from stream_ingest.simulator import CameraSimulator, Clip, SimulatorError, ensure_scenes, load_clip
from stream_ingest.simulator.facemask import dataset_dir, read_labels
from tests.stream_ingest.simulator.conftest import free_port, require_dataset

MSCC = shutil.which("mscc", path=str(Path(sys.executable).parent)) or "mscc"
# Quick opening as the ingest will do it: small probe, wait only for the next keyframe.
FAST_OPEN = {
    "rtsp_transport": "tcp",
    "timeout": "5000000",
    "analyzeduration": "500000",
    "probesize": "100000",
}


@dataclass
class Played:
    """What a viewer saw: stream parameters and each packet's time (s) and keyframe flag."""

    codec: str = ""
    width: int = 0
    height: int = 0
    packets: list[tuple[float, bool]] = field(default_factory=list)

    @property
    def keyframes(self) -> list[float]:
        return [t for t, key in self.packets if key]

    @property
    def span(self) -> float:
        return self.packets[-1][0] - self.packets[0][0] if self.packets else 0.0


def play(url: str, media_seconds: float, keyframes: int = 0, wall_timeout: float = 20.0) -> Played:
    """Demux ``url`` over TCP until ``media_seconds`` of stream time and ``keyframes`` keyframes arrived."""
    import av

    played = Played()
    deadline = time.monotonic() + wall_timeout
    with av.open(url, options=FAST_OPEN, timeout=(5, 5)) as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        played.codec = stream.codec_context.name
        played.width, played.height = stream.codec_context.width, stream.codec_context.height
        for packet in container.demux(stream):
            if packet.pts is None:  # the first RTP packet, before the stream clock is known
                continue
            played.packets.append((float(packet.pts * stream.time_base), packet.is_keyframe))
            if played.span >= media_seconds and len(played.keyframes) >= keyframes:
                break
            assert time.monotonic() < deadline, f"{url}: too slow: {played.span:.1f} s in {wall_timeout} s"
    return played


def watch_in_background(url: str) -> threading.Event:
    """Start a viewer of ``url`` in a thread and let it play 2 s; the event is set when its stream ends."""
    ended = threading.Event()

    def watch() -> None:
        # A reset connection is as good an ending as a clean one: either way the viewer lost the camera.
        with contextlib.suppress(Exception):
            play(url, media_seconds=60, wall_timeout=60)
        ended.set()

    threading.Thread(target=watch, daemon=True).start()
    time.sleep(2.0)
    return ended


def test_each_camera_sends_h264_of_the_clip_size_with_a_keyframe_every_second(
    simulator: CameraSimulator,
) -> None:
    urls = simulator.urls[:3]
    with ThreadPoolExecutor(len(urls)) as pool:
        results = list(pool.map(lambda url: play(url, 1.5, keyframes=3), urls))
    for url, played in zip(urls, results, strict=True):
        assert (played.codec, played.width, played.height) == ("h264", 640, 360), url
        gaps = [b - a for a, b in zip(played.keyframes, played.keyframes[1:], strict=False)]
        assert gaps and all(abs(gap - 1.0) < 0.05 for gap in gaps), (url, gaps)


def test_a_stream_plays_on_seamlessly_across_the_loop_point(
    simulator: CameraSimulator, clips: dict[str, Clip]
) -> None:
    assert clips["loop"].duration_s == 3.0
    played = play(simulator.url("loop"), media_seconds=4.5)
    steps = [b - a for (a, _), (b, _) in zip(played.packets, played.packets[1:], strict=False)]
    # Every frame 0.1 s after the last, through the wrap: no gap, no jump back, no burst.
    assert all(abs(step - 0.1) < 0.01 for step in steps), steps
    gaps = [b - a for a, b in zip(played.keyframes, played.keyframes[1:], strict=False)]
    assert len(gaps) >= 3 and all(abs(gap - 1.0) < 0.01 for gap in gaps), gaps


def test_stop_ends_viewers_and_refuses_connections_and_start_serves_again(
    simulator: CameraSimulator,
) -> None:
    import av

    url = simulator.url("cam1")
    ended = watch_in_background(url)
    simulator.stop()
    assert ended.wait(12), "a viewer kept playing after stop()"
    with pytest.raises((ConnectionRefusedError, av.error.FFmpegError, OSError)):
        av.open(url, options=FAST_OPEN, timeout=(5, 5))
    simulator.start()
    assert play(url, 0.5).codec == "h264"


def test_a_second_simulator_on_a_taken_port_says_so(simulator: CameraSimulator) -> None:
    with pytest.raises(SimulatorError, match="already in use"):
        CameraSimulator(port=simulator.port).start()


def test_replacing_a_camera_drops_its_viewers_who_then_see_the_new_picture(
    simulator: CameraSimulator, clips: dict[str, Clip]
) -> None:
    import av

    url = simulator.url("cam2")
    ended = watch_in_background(url)
    original = simulator.cameras["/cam2"]
    simulator.add_camera("cam2", clips["black"])  # a covered lens
    try:
        assert ended.wait(10), "the viewer was not disconnected"
        with av.open(url, options=FAST_OPEN, timeout=(5, 5)) as container:
            frame = next(container.decode(video=0))
            luma = frame.to_ndarray(format="gray").mean()
        assert luma < 30, luma
    finally:
        simulator.add_camera("cam2", original)


def test_clips_have_the_promised_encoding_and_description(clips: dict[str, Clip]) -> None:
    import av

    clip = clips["loop"]
    assert load_clip(clip.path) == clip
    assert (clip.width, clip.height, clip.fps, clip.gop, clip.frames) == (640, 360, 10, 10, 30)
    assert [(s.start_s, s.end_s, s.violations) for s in clip.timeline] == [(0.0, 3.0, ())]
    with av.open(str(clip.path), format="h264") as container:
        keys = [packet.is_keyframe for packet in container.demux(video=0) if packet.size]
    assert len(keys) == 30
    assert [i for i, key in enumerate(keys) if key] == [0, 10, 20]


def test_720p15_clips(scene_cache: Path) -> None:
    clip = ensure_scenes(scene_cache, size="720p15", names=["moved"], seconds=2)["moved"]
    assert (clip.width, clip.height, clip.fps, clip.gop, clip.frames) == (1280, 720, 15, 15, 30)
    assert [(s.start_s, s.end_s) for s in clip.timeline] == [(0.0, 1.0), (1.0, 2.0)]


def test_clips_are_made_once_and_outdated_ones_replaced(scene_cache: Path) -> None:
    lines: list[str] = []
    first = ensure_scenes(scene_cache, names=["black"], seconds=1, progress=lines.append)["black"]
    stale = first.path.with_name("black-360p10-1s-0000000000.h264")
    stale.write_bytes(b"")
    stale.with_suffix(".json").write_text("{}")
    again = ensure_scenes(scene_cache, names=["black"], seconds=1, progress=lines.append)["black"]
    assert again == first
    assert lines[-1] == "scene black 360p10: cached"
    first.meta_path.unlink()  # an interrupted run leaves no JSON: the clip is made again
    ensure_scenes(scene_cache, names=["black"], seconds=1, progress=lines.append)
    assert "encoded" in lines[-1]
    assert not stale.exists()


def test_facemask_timeline_matches_the_dataset_labels(clips: dict[str, Clip], scene_cache: Path) -> None:
    require_dataset()
    made = ensure_scenes(scene_cache, names=["facemask", "facemask-masked", "facemask-nomask"])
    labels = dataset_dir() / "labels"
    for clip in made.values():
        expected_no_mask = 0
        for span in clip.timeline:
            assert span.source is not None
            rows = read_labels(labels / f"{Path(span.source).stem}.txt")
            violating = any(row[0] in (1, 2) for row in rows)  # without_mask and worn incorrectly
            expected_no_mask += violating
            assert span.violations == (("no_mask",) if violating else ())
            assert len(span.boxes) == len(rows)
            assert all(0 <= b.x1 < b.x2 <= clip.width and 0 <= b.y1 < b.y2 <= clip.height for b in span.boxes)
        assert sum(bool(span.violations) for span in clip.timeline) == expected_no_mask
        assert clip.timeline[-1].end_s == clip.duration_s
    assert sum(bool(s.violations) for s in made["facemask"].timeline) == 4
    assert not any(s.violations for s in made["facemask-masked"].timeline)
    nomask = [(s.start_s, s.end_s) for s in made["facemask-nomask"].timeline if s.violations]
    assert nomask == [(5.0, 15.0)]


def test_without_the_dataset_facemask_scenes_are_skipped_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MSCC_SHARED_DIR", str(tmp_path / "nowhere"))
    with caplog.at_level(logging.WARNING):
        assert ensure_scenes(tmp_path / "cache", names=["facemask", "facemask-nomask"]) == {}
    assert "face-mask dataset not found" in caplog.text


def test_mscc_simulate_cameras_prints_the_urls_and_stops_cleanly_on_ctrl_c(
    scene_cache: Path, clips: dict[str, Clip]
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [MSCC, "simulate-cameras", "--count", "2", "--port", str(port), "--scenes", str(scene_cache)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(60, process.kill)  # reading stdout must not hang the suite
    watchdog.start()
    try:
        assert process.stdout is not None
        lines: list[str] = []
        for line in process.stdout:  # the clips are cached, so this is quick
            lines.append(line.strip())
            if "Ctrl-C" in line:
                break
        urls = [f"rtsp://127.0.0.1:{port}/cam0", f"rtsp://127.0.0.1:{port}/cam1"]
        assert all(url in lines for url in urls), lines
        assert play(urls[1], 0.3).codec == "h264"
        process.send_signal(signal.SIGINT)
        assert process.wait(15) == 0, process.stderr.read() if process.stderr else ""
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
