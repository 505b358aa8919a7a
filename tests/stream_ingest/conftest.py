"""Fixtures of the ingest tests: short clips made once per session and a real RTSP server."""

from __future__ import annotations

import importlib.util
import shutil
import socket
from collections.abc import Iterator

import pytest

from stream_ingest.simulator import CameraSimulator, Clip, ensure_scenes, gstreamer_available
from tests.services import unavailable


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def require_rtsp_tools() -> None:
    """What a test with simulated RTSP cameras needs: ffmpeg, GStreamer's RTSP server, PyAV."""
    if shutil.which("ffmpeg") is None:
        unavailable("ffmpeg")
    if not gstreamer_available():
        unavailable("GStreamer with gst-rtsp-server (python3-gi)")
    if importlib.util.find_spec("av") is None:
        unavailable("PyAV")


@pytest.fixture(scope="session")
def ingest_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Clip]:
    """Short 360p10 clips: two kitchens, a black (covered) picture and a frozen one."""
    require_rtsp_tools()
    return ensure_scenes(
        tmp_path_factory.mktemp("scenes"), names=["kitchen-a", "kitchen-b", "black", "frozen"], seconds=12
    )


@pytest.fixture
def rtsp(ingest_clips: dict[str, Clip]) -> Iterator[CameraSimulator]:
    """A fresh RTSP server on a free port (each test may stop and restart it)."""
    server = CameraSimulator(port=free_port())
    server.start()
    yield server
    server.stop()
