"""Camera simulator: looping H.264 cameras from pre-encoded clips behind a real RTSP server.

    clips = ensure_scenes(cache_dir, size="360p10")          # encode whatever is missing
    with CameraSimulator(port=8554) as simulator:            # gst-rtsp-server in a daemon thread
        simulator.add_cameras(24, list(clips.values()))      # rtsp://127.0.0.1:8554/cam0 .. cam23

``mscc simulate-cameras`` runs the same through ``run_cli``.
"""

from stream_ingest.simulator.cli import run_cli
from stream_ingest.simulator.clips import SIZES, Box, Clip, SimulatorError, Size, Span, load_clip
from stream_ingest.simulator.facemask import FACEMASK_SCENES
from stream_ingest.simulator.scenes import (
    ALL_SCENES,
    HEALTH_SCENES,
    KITCHEN_SCENES,
    default_cache_dir,
    default_scene_names,
    ensure_scenes,
)
from stream_ingest.simulator.server import CameraSimulator, gstreamer_available

__all__ = [
    "ALL_SCENES",
    "FACEMASK_SCENES",
    "HEALTH_SCENES",
    "KITCHEN_SCENES",
    "SIZES",
    "Box",
    "CameraSimulator",
    "Clip",
    "SimulatorError",
    "Size",
    "Span",
    "default_cache_dir",
    "default_scene_names",
    "ensure_scenes",
    "gstreamer_available",
    "load_clip",
    "run_cli",
]
