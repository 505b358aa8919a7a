"""Pre-encoded camera clips: what a clip is, where it lives in the cache, and how ffmpeg makes one.

A clip is an Annex-B H.264 elementary stream (``.h264``) with a JSON file beside it describing the picture
and the ground truth (``timeline``). Clips are encoded once and then only repacketised by the RTSP server,
so their encoding settings are the camera's: a keyframe every second (GOP = fps frames, no scene-cut
keyframes), no B-frames, Baseline profile. Baseline because the live view relays the camera's H.264 to
browsers untouched and aiortc only advertises Baseline; no B-frames also means decode order = display
order, which the server relies on when it time-stamps the stream (see ``server.py``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# Bump when a change to the encoder settings below must invalidate every cached clip. Changes to a scene's
# recipe need no bump: the recipe itself is hashed into the file name.
ENCODING_VERSION = 1


class SimulatorError(RuntimeError):
    """The camera simulator cannot do what was asked (ffmpeg or GStreamer missing or failing, port taken)."""


@dataclass(frozen=True)
class Size:
    """A stream size a simulated camera can send."""

    name: str
    width: int
    height: int
    fps: int
    bitrate_kbit: int


# 360p10 is what real cameras' detect sub-stream looks like and what analysis reads; 720p15 is the
# "main stream" size for live-view tests. Bit rates are modest so 255 looping clips stay small on disk.
SIZES: dict[str, Size] = {
    "360p10": Size("360p10", 640, 360, 10, 400),
    "720p15": Size("720p15", 1280, 720, 15, 800),
}
DEFAULT_SIZE = "360p10"


def size_named(name: str) -> Size:
    """The :class:`Size` called ``name``; raises ``SimulatorError`` naming the known sizes otherwise."""
    try:
        return SIZES[name]
    except KeyError:
        raise SimulatorError(f"unknown clip size {name!r}; choose one of {', '.join(SIZES)}") from None


@dataclass(frozen=True)
class Box:
    """One labelled box in clip pixel coordinates."""

    x1: int
    y1: int
    x2: int
    y2: int
    label: str


@dataclass(frozen=True)
class Span:
    """What is visible from ``start_s`` to ``end_s``: the violations and the labelled boxes."""

    start_s: float
    end_s: float
    violations: tuple[str, ...] = ()
    boxes: tuple[Box, ...] = ()
    source: str | None = None  # the photo shown, for scenes built from a dataset


@dataclass(frozen=True)
class Clip:
    """A cached, ready-to-serve clip and its ground truth."""

    scene: str
    size: str
    path: Path
    width: int
    height: int
    fps: int
    gop: int
    duration_s: float
    frames: int
    timeline: tuple[Span, ...] = field(default=())

    @property
    def meta_path(self) -> Path:
        """The JSON file describing this clip."""
        return self.path.with_suffix(".json")

    def to_json(self) -> dict[str, Any]:
        """The clip's description in the JSON layout stored next to it."""
        spans = []
        for span in self.timeline:
            item: dict[str, Any] = {
                "start_s": span.start_s,
                "end_s": span.end_s,
                "violations": list(span.violations),
                "boxes": [[b.x1, b.y1, b.x2, b.y2, b.label] for b in span.boxes],
            }
            if span.source is not None:
                item["source"] = span.source
            spans.append(item)
        return {
            "scene": self.scene,
            "size": self.size,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "gop": self.gop,
            "duration_s": self.duration_s,
            "frames": self.frames,
            "timeline": spans,
        }


def load_clip(path: Path) -> Clip:
    """Read the clip whose video is ``path`` (``.h264``) from the JSON beside it."""
    data = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    timeline = tuple(
        Span(
            start_s=float(item["start_s"]),
            end_s=float(item["end_s"]),
            violations=tuple(item["violations"]),
            boxes=tuple(Box(int(b[0]), int(b[1]), int(b[2]), int(b[3]), str(b[4])) for b in item["boxes"]),
            source=item.get("source"),
        )
        for item in data["timeline"]
    )
    return Clip(
        scene=data["scene"],
        size=data["size"],
        path=path,
        width=int(data["width"]),
        height=int(data["height"]),
        fps=int(data["fps"]),
        gop=int(data["gop"]),
        duration_s=float(data["duration_s"]),
        frames=int(data["frames"]),
        timeline=timeline,
    )


@dataclass(frozen=True)
class Recipe:
    """How to make one clip: ffmpeg inputs and filter graph (ending in ``[out]``), length and ground truth."""

    scene: str
    size: Size
    duration_s: float
    filter_complex: str
    inputs: tuple[str, ...] = ()
    timeline: tuple[Span, ...] = ()
    stem: str = ""  # file-name prefix; defaults to "<scene>-<size>"

    @property
    def frames(self) -> int:
        """Frame count; durations are whole GOPs so the loop point falls on a keyframe."""
        return round(self.duration_s * self.size.fps)

    def encoder_args(self) -> list[str]:
        """The libx264 settings every clip shares (see the module docstring for why)."""
        s = self.size
        return [
            *("-c:v", "libx264", "-preset", "veryfast", "-profile:v", "baseline", "-pix_fmt", "yuv420p"),
            *(
                "-r",
                str(s.fps),
                "-g",
                str(s.fps),
                "-keyint_min",
                str(s.fps),
                "-sc_threshold",
                "0",
                "-bf",
                "0",
            ),
            *("-b:v", f"{s.bitrate_kbit}k", "-maxrate", f"{s.bitrate_kbit * 3 // 2}k"),
            *("-bufsize", f"{s.bitrate_kbit * 2}k", "-frames:v", str(self.frames), "-an"),
            *("-bsf:v", "h264_mp4toannexb", "-f", "h264"),
        ]

    def digest(self) -> str:
        """A short hash of everything that shapes the output, so a changed recipe makes a new file."""
        clip = self.clip(Path("x.h264"))
        key = {
            "encoding": ENCODING_VERSION,
            "inputs": self.inputs,
            "filter": self.filter_complex,
            "encoder": self.encoder_args(),
            "meta": clip.to_json(),
        }
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]

    def clip(self, path: Path) -> Clip:
        """The :class:`Clip` this recipe produces at ``path``."""
        s = self.size
        return Clip(
            scene=self.scene,
            size=s.name,
            path=path,
            width=s.width,
            height=s.height,
            fps=s.fps,
            gop=s.fps,
            duration_s=self.frames / s.fps,
            frames=self.frames,
            timeline=self.timeline,
        )


def ffmpeg_binary() -> str:
    """The ffmpeg executable; raises ``SimulatorError`` when it is not installed."""
    found = shutil.which("ffmpeg")
    if found is None:
        raise SimulatorError(
            "ffmpeg is not installed (Debian: apt install ffmpeg); it makes the camera clips"
        )
    return found


def build(recipe: Recipe, cache_dir: Path) -> tuple[Clip, bool]:
    """The recipe's clip in ``cache_dir``, encoding it only when missing; returns ``(clip, was_built)``.

    The file name carries the recipe's digest, so an outdated clip is simply a different name; older
    versions of the same stem are removed once the new one is complete. The JSON is written last and
    marks the clip complete: a half-written clip left by a crash is never served.
    """
    stem = recipe.stem or f"{recipe.scene}-{recipe.size.name}"
    path = cache_dir / f"{stem}-{recipe.digest()}.h264"
    clip = recipe.clip(path)
    if path.is_file() and clip.meta_path.is_file():
        return clip, False
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.part")
    command = [
        ffmpeg_binary(),
        *("-hide_banner", "-loglevel", "error", "-nostdin", "-y"),
        *recipe.inputs,
        *("-filter_complex", recipe.filter_complex, "-map", "[out]"),
        *recipe.encoder_args(),
        str(partial),
    ]
    started = time.monotonic()
    # The arguments are built here from fixed recipes and dataset file names, never from a shell string.
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise SimulatorError(f"ffmpeg failed making {path.name}: {result.stderr.strip()[-2000:]}")
    partial.replace(path)
    clip.meta_path.write_text(_dumps(clip.to_json()), encoding="utf-8")
    _remove_older(cache_dir, stem, keep=path)
    logger.debug("encoded %s in %.1f s", path.name, time.monotonic() - started)
    return clip, True


def _dumps(data: dict[str, Any]) -> str:
    """JSON with one timeline span per line: readable, yet short for photos with many faces."""
    head = {key: value for key, value in data.items() if key != "timeline"}
    spans = ",\n".join("  " + json.dumps(span) for span in data["timeline"])
    body = json.dumps(head, indent=1)[:-2]
    return f'{body},\n "timeline": [\n{spans}\n ]\n}}\n' if spans else json.dumps(data, indent=1) + "\n"


def _remove_older(cache_dir: Path, stem: str, keep: Path) -> None:
    """Delete other digests of ``stem`` (the digest is the last dash-separated part of the name)."""
    for old in cache_dir.glob(f"{stem}-*.h264"):
        if old != keep and old.stem.rsplit("-", 1)[0] == stem:
            old.unlink(missing_ok=True)
            old.with_suffix(".json").unlink(missing_ok=True)


def letterbox(width: int, height: int, into_w: int, into_h: int) -> tuple[int, int, int, int]:
    """Scaled size and offset ``(w, h, x, y)`` of a ``width`` x ``height`` picture fitted into a frame.

    Computed here rather than left to ffmpeg so the ground-truth boxes use exactly the same numbers as
    the picture; sizes are kept even because yuv420p needs it.
    """
    scale = min(into_w / width, into_h / height)
    w = min(into_w, 2 * round(width * scale / 2))
    h = min(into_h, 2 * round(height * scale / 2))
    return w, h, (into_w - w) // 2, (into_h - h) // 2
