"""The simulator's scenes and the clip cache: ``ensure_scenes`` makes whatever clips are missing.

Scenes:
- ``kitchen-a`` .. ``kitchen-d``: synthetic kitchens (tiles, steel counters, sinks, shelves) with moving
  workers and a clock; nothing in them is a violation.
- ``facemask``, ``facemask-masked``, ``facemask-nomask``: slideshows of real labelled photos
  (``facemask.py``).
- ``black`` (covered lens), ``frozen`` (one still frame repeated), ``moved`` (the view changes half-way):
  camera-health test scenes.

Movement is periodic over the clip's length, so the picture, not just the stream, loops seamlessly.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from stream_ingest.simulator.clips import (
    DEFAULT_SIZE,
    Clip,
    Recipe,
    SimulatorError,
    Size,
    Span,
    build,
    size_named,
)
from stream_ingest.simulator.facemask import FACEMASK_SCENES, choose_photos, slideshow

logger = logging.getLogger(__name__)

KITCHEN_SCENES = ("kitchen-a", "kitchen-b", "kitchen-c", "kitchen-d")
HEALTH_SCENES = ("black", "frozen", "moved")
ALL_SCENES = (*KITCHEN_SCENES, *FACEMASK_SCENES, *HEALTH_SCENES)
_DEFAULT_SECONDS = {"black": 20, "frozen": 20, "moved": 30}
_KITCHEN_SECONDS = 30
_FONTS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf"),
)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Worker:
    """A person crossing the view: coat colour, centre x, sway, crossings per clip, phase, top y, scale."""

    coat: str
    x: int
    sway: int
    cycles: int
    phase: float
    y: int
    scale: float = 1.0


@dataclass(frozen=True)
class Kitchen:
    """A synthetic kitchen in 640x360 coordinates (scaled to the clip size)."""

    wall: str
    grout: str
    tile: int
    floor: str
    floor_y: int
    fixtures: tuple[tuple[int, int, int, int, str], ...]  # x, y, w, h, colour
    workers: tuple[Worker, ...]


_STEEL, _STEEL_EDGE, _BASIN = "0xa8aeb4", "0xe0e4e8", "0x3c4046"
# fmt: off
KITCHENS: dict[str, Kitchen] = {
    # Hot line: beige tiles, a steel counter and a range with burners.
    "kitchen-a": Kitchen(
        "0xd8d8d0", "0xb0b0a8", 32, "0x6a6a70", 250,
        fixtures=(
            (40, 180, 300, 70, _STEEL), (40, 180, 300, 6, _STEEL_EDGE),
            (400, 170, 200, 80, "0x303034"), (420, 172, 50, 8, "0xc04020"), (520, 172, 50, 8, "0xc04020"),
            (380, 20, 240, 50, "0x8a9096"),
        ),
        workers=(Worker("white", 300, 200, 2, 0.0, 130), Worker("white", 480, 120, 3, 0.4, 140, 0.9)),
    ),
    # Prep room: green tiles, a central steel table under an extraction hood, three cooks.
    "kitchen-b": Kitchen(
        "0xb8d8c0", "0x90b098", 24, "0x808078", 240,
        fixtures=(
            (120, 190, 400, 50, _STEEL), (120, 190, 400, 5, _STEEL_EDGE), (140, 240, 12, 60, _STEEL),
            (488, 240, 12, 60, _STEEL), (160, 10, 320, 40, "0x505458"),
        ),
        workers=(
            Worker("white", 200, 150, 1, 0.0, 120), Worker("0x3060a0", 420, 160, 2, 0.3, 125),
            Worker("white", 320, 250, 1, 0.6, 150, 1.2),
        ),
    ),
    # Wash area: blue-grey tiles, two sinks, open shelving, one dishwasher.
    "kitchen-c": Kitchen(
        "0xc0ccd8", "0x98a4b0", 40, "0x5a5e66", 260,
        fixtures=(
            (30, 190, 360, 70, _STEEL), (60, 196, 130, 40, _BASIN), (220, 196, 130, 40, _BASIN),
            (430, 40, 180, 8, _STEEL), (430, 100, 180, 8, _STEEL), (430, 160, 180, 8, _STEEL),
            (450, 70, 40, 30, "0xf0f0f0"), (520, 130, 60, 30, "0xd0a060"),
        ),
        workers=(Worker("0x405060", 220, 160, 2, 0.2, 140),),
    ),
    # Bakery and store: warm wall, wooden racks with trays, two bakers.
    "kitchen-d": Kitchen(
        "0xe8d8a8", "0xd0c090", 48, "0x7a6a5a", 255,
        fixtures=(
            (20, 40, 160, 210, "0x8a5a30"), (30, 60, 140, 10, _STEEL), (30, 120, 140, 10, _STEEL),
            (30, 180, 140, 10, _STEEL), (260, 185, 360, 70, "0xc8a070"), (260, 185, 360, 6, "0xe0c090"),
        ),
        workers=(Worker("white", 380, 140, 1, 0.1, 125), Worker("white", 520, 90, 2, 0.7, 135, 0.85)),
    ),
}
# fmt: on


def default_cache_dir() -> Path:
    """``<MSCC_DATA_DIR or ./mscc-data>/scenes``."""
    return Path(os.environ.get("MSCC_DATA_DIR") or "mscc-data") / "scenes"


def font_file() -> Path | None:
    """A TrueType font for the clock overlay, or ``None`` (the clips are then made without text)."""
    for candidate in _FONTS:
        if candidate.is_file():
            return candidate
    found = sorted(Path("/usr/share/fonts").rglob("*.ttf")) if Path("/usr/share/fonts").is_dir() else []
    return found[0] if found else None


def _clock(size: Size, label: str) -> str:
    """A drawtext filter (leading comma) showing ``label`` and the clip time; ``""`` without a font."""
    font = font_file()
    # A path with filter-graph metacharacters would need escaping that is not worth it for a clock.
    if font is None or any(c in str(font) for c in ":'\\,;[]"):
        return ""
    px = round(16 * size.width / 640)
    return (
        f",drawtext=fontfile='{font}':text='{label}  %{{pts\\:hms}}':x={px // 2}:y={px // 2}"
        f":fontsize={px}:fontcolor=white:box=1:boxcolor=black@0.5:boxborderw={px // 4}"
    )


def _kitchen_chains(name: str, size: Size, seconds: float, out: str) -> list[str]:
    """Filter chains drawing kitchen ``name`` for ``seconds`` into label ``[out]`` (no noise, no clock)."""
    k = KITCHENS[name]
    s = size.width / 640

    def px(value: float) -> int:
        return round(value * s)

    tag = name.replace("-", "")
    src = f"s={size.width}x{size.height}:r={size.fps}:d={seconds}"
    layers = [
        f"color=c={k.wall}:{src}",
        f"drawgrid=w={px(k.tile)}:h={px(k.tile)}:t=1:c={k.grout}",
        f"drawbox=x=0:y={px(k.floor_y)}:w={size.width}:h={size.height - px(k.floor_y)}:c={k.floor}:t=fill",
        *(f"drawbox=x={px(x)}:y={px(y)}:w={px(w)}:h={px(h)}:c={c}:t=fill" for x, y, w, h, c in k.fixtures),
    ]
    chains = [",".join(layers) + f"[{tag}0]"]
    for i, worker in enumerate(k.workers):
        w, h = px(44 * worker.scale), px(120 * worker.scale)
        head = px(22 * worker.scale)
        # A sprite on a transparent canvas: head, a cap (the hat a real cook wears), then the coat.
        chains.append(
            f"color=c=black@0:s={w}x{h}:r={size.fps}:d={seconds},format=yuva420p,"
            f"drawbox=x={(w - head) // 2}:y=0:w={head}:h={head}:c=0xd8a878:replace=1:t=fill,"
            f"drawbox=x={(w - head) // 2}:y=0:w={head}:h={max(2, head // 3)}:c=white:replace=1:t=fill,"
            f"drawbox=x=0:y={head + 2}:w={w}:h={h - head - 2}:c={worker.coat}:replace=1:t=fill[{tag}w{i}]"
        )
        angle = f"2*PI*(t*{worker.cycles}/{seconds}+{worker.phase})"
        x = f"{px(worker.x) - w // 2}+{px(worker.sway)}*sin({angle})"
        y = f"{px(worker.y)}+{px(3)}*sin(4*{angle})"
        last = out if i == len(k.workers) - 1 else f"{tag}{i + 1}"
        chains.append(f"[{tag}{i}][{tag}w{i}]overlay=x='{x}':y='{y}':shortest=1[{last}]")
    return chains


def recipe_for(name: str, size: Size, seconds: float | None = None) -> Recipe | None:
    """The recipe for scene ``name``; ``None`` for the face-mask scenes when the dataset is missing.

    ``seconds`` shortens or lengthens the synthetic scenes (tests use 3 s loops); it is rounded to whole
    seconds so the clip is whole GOPs and the loop point lands on a keyframe.
    """
    if name in FACEMASK_SCENES:
        shots = choose_photos()
        if shots is None:
            return None
        return slideshow(name, size, shots[name], _clock(size, name))
    length = max(1, round(seconds)) if seconds is not None else _DEFAULT_SECONDS.get(name, _KITCHEN_SECONDS)
    stem = f"{name}-{size.name}" + (f"-{length}s" if seconds is not None else "")
    noise = "noise=alls=4:allf=t"
    timeline: tuple[Span, ...] = (Span(0.0, float(length)),)  # synthetic: nothing to detect
    if name in KITCHENS:
        chains = _kitchen_chains(name, size, length, "k")
        chains.append(f"[k]{noise}{_clock(size, name)},format=yuv420p[out]")
    elif name == "black":
        # A covered lens still shows sensor noise (pure digital black would also look frozen) and the
        # clock, which real cameras burn into the picture after the lens.
        source = f"color=c=black:s={size.width}x{size.height}:r={size.fps}:d={length}"
        chains = [f"{source},{noise}{_clock(size, name)},format=yuv420p[out]"]
    elif name == "frozen":
        # The first (noisy) frame, clock included, repeated as a hung camera sends it; only the once-a-second
        # keyframes re-encode it, with differences far below sensor noise.
        chains = _kitchen_chains("kitchen-a", size, length, "k")
        chains.append(
            f"[k]{noise}{_clock(size, name)},trim=end_frame=1,loop=loop=-1:size=1,"
            f"setpts=N/({size.fps}*TB),format=yuv420p[out]"
        )
    elif name == "moved":
        half = max(1, length // 2)
        timeline = (Span(0.0, float(half)), Span(float(half), float(length)))
        chains = [
            *_kitchen_chains("kitchen-a", size, half, "k1"),
            *_kitchen_chains("kitchen-c", size, length - half, "k2"),
            f"[k1][k2]concat=n=2:v=1:a=0,{noise}{_clock(size, name)},format=yuv420p[out]",
        ]
    else:
        raise SimulatorError(f"unknown scene {name!r}; known scenes: {', '.join(ALL_SCENES)}")
    return Recipe(
        scene=name,
        size=size,
        duration_s=length,
        filter_complex=";".join(chains),
        timeline=timeline,
        stem=stem,
    )


def default_scene_names() -> list[str]:
    """The scenes cameras cycle through: the kitchens, plus ``facemask-nomask`` (an unmasked face held
    10 s, long enough for the detectors to confirm it) and ``facemask-masked`` (masks only, which must
    raise nothing) when the dataset is present. The mixed ``facemask`` slideshow changes photo every 4 s,
    shorter than a confirmation takes, so it is for tests, not for the demo's cameras."""
    names = list(KITCHEN_SCENES)
    if choose_photos() is not None:
        names += ["facemask-nomask", "facemask-masked"]
    return names


def ensure_scenes(
    cache_dir: Path | None = None,
    size: str = DEFAULT_SIZE,
    names: Iterable[str] | None = None,
    progress: Progress | None = None,
    seconds: float | None = None,
) -> dict[str, Clip]:
    """Make the missing or outdated clips of ``names`` (default: the camera scenes) and return them all.

    ``progress`` gets one line per clip. Face-mask scenes are left out, with a warning, when the shared
    dataset is missing. ``seconds`` overrides the length of the synthetic scenes (see ``recipe_for``).
    """
    folder = cache_dir if cache_dir is not None else default_cache_dir()
    spec = size_named(size)
    wanted = list(names) if names is not None else default_scene_names()
    clips: dict[str, Clip] = {}
    for name in wanted:
        recipe = recipe_for(name, spec, seconds)
        if recipe is None:
            continue
        started = time.monotonic()
        clip, built = build(recipe, folder)
        line = f"scene {name} {spec.name}: " + (
            f"encoded {clip.duration_s:.0f} s clip in {time.monotonic() - started:.1f} s"
            if built
            else "cached"
        )
        if progress is None:
            logger.info("%s", line)
        else:
            progress(line)
        clips[name] = clip
    return clips
