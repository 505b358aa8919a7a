"""``mscc simulate-cameras``: make the clips, serve N cameras, print their URLs, run until Ctrl-C."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

from stream_ingest.simulator.clips import DEFAULT_SIZE, size_named
from stream_ingest.simulator.scenes import default_scene_names, ensure_scenes
from stream_ingest.simulator.server import CameraSimulator

_LIST_ALL_UP_TO = 10


def _say(line: str) -> None:
    # The command's own output, not logging: scripts and tests read the URLs from stdout.
    print(line, flush=True)


def run_cli(count: int, port: int = 8554, scenes_dir: Path | None = None, size: str = DEFAULT_SIZE) -> None:
    """Serve ``count`` looping cameras on ``port`` until SIGINT or SIGTERM, then stop cleanly and return.

    Camera K shows scene K mod the default scene count; only the scenes used are generated. Raises
    ``SimulatorError`` when ffmpeg or GStreamer is missing or the port is taken.
    """
    size_named(size)  # reject a bad size before any work
    names = default_scene_names()[:count]
    clips = ensure_scenes(scenes_dir, size=size, names=names, progress=_say)
    simulator = CameraSimulator(port=port)
    simulator.add_cameras(count, [clips[name] for name in names])

    stopping = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        simulator.start()
        urls = simulator.urls
        _say(f"serving {count} cameras ({size}, scenes {', '.join(names)}) on rtsp://127.0.0.1:{port}")
        if len(urls) <= _LIST_ALL_UP_TO:
            for url in urls:
                _say(url)
        else:
            _say(f"{urls[0]}\n...\n{urls[-1]}\n({len(urls)} cameras)")
        _say("press Ctrl-C to stop")
        # A timed wait so the signal handler's flag is seen promptly whatever the platform does with signals.
        while not stopping.wait(0.5):
            pass
    finally:
        simulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _say("stopped")
