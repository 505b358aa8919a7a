"""Fixtures for the camera simulator: the tools it needs, clips made once per session, a running server."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from stream_ingest.simulator import CameraSimulator, Clip, ensure_scenes, gstreamer_available
from stream_ingest.simulator.facemask import dataset_dir

ON_CI = os.environ.get("CI") == "true"
# The long clips the CLI test serves (cameras 0 and 1) plus facemask; "loop" is a 3 s kitchen for the
# loop-point test, short so a test sees it wrap twice.
SESSION_SCENES = ("kitchen-a", "kitchen-b", "facemask")


def require(available: bool, what: str) -> None:
    """Skip a test whose tool is missing on a developer machine; fail it on CI, where it must run."""
    if available:
        return
    if ON_CI:
        pytest.fail(f"{what} is required on CI (CI=true) but missing")
    pytest.skip(f"{what} is not installed")


def require_dataset() -> None:
    """The shared face-mask photos: skipped locally without them, a failure on CI."""
    require((dataset_dir() / "labels").is_dir(), f"the face-mask dataset at {dataset_dir()}")


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def media_tools() -> None:
    """ffmpeg makes the clips, GStreamer serves them, PyAV plays them."""
    require(shutil.which("ffmpeg") is not None, "ffmpeg")
    require(gstreamer_available(), "GStreamer with gst-rtsp-server (python3-gi)")
    require(importlib.util.find_spec("av") is not None, "PyAV (pip install av)")


@pytest.fixture(scope="session")
def scene_cache(tmp_path_factory: pytest.TempPathFactory, media_tools: None) -> Path:
    """A clip cache shared by the whole session."""
    return tmp_path_factory.mktemp("scenes")


@pytest.fixture(scope="session")
def clips(scene_cache: Path) -> dict[str, Clip]:
    """The session's clips by scene name, plus ``loop`` (3 s) and ``black`` (3 s)."""
    made = ensure_scenes(scene_cache, names=SESSION_SCENES)
    short = ensure_scenes(scene_cache, names=["kitchen-c", "black"], seconds=3)
    return {**made, "loop": short["kitchen-c"], "black": short["black"]}


@pytest.fixture(scope="module")
def simulator(clips: dict[str, Clip]) -> Iterator[CameraSimulator]:
    """A running server: cam0..cam2 on the session scenes (cam2 falls back to a kitchen), and ``loop``."""
    server = CameraSimulator(port=free_port())
    third = clips.get("facemask", clips["kitchen-a"])
    server.add_cameras(3, [clips["kitchen-a"], clips["kitchen-b"], third])
    server.add_camera("loop", clips["loop"])
    server.start()
    yield server
    server.stop()
