"""Picture checks on generated frames: a covered lens, a frozen picture and a moved camera are found;
an ordinary busy kitchen is not flagged."""

from __future__ import annotations

import numpy as np
import pytest

from stream_ingest.health import StreamStats, TamperCheck, TamperConfig

RNG = np.random.default_rng(7)


def kitchen(shift: int = 0, person_at: int | None = None, noise: float = 3.0) -> np.ndarray:
    """A 360p 'kitchen': tiled wall, counter, a bright hood; optionally a person-sized dark box."""
    img = np.zeros((360, 640, 3), np.uint8)
    img[:, :] = (200, 205, 210)
    img[::40, :] = 120  # tile joints
    img[:, ::40] = 120
    img[220:360, :] = (90, 110, 130)  # counter
    img[30:110, 380:600] = (240, 240, 240)  # extractor hood
    img = np.roll(img, shift, axis=1)
    if person_at is not None:
        img[120:330, person_at : person_at + 90] = (40, 40, 60)
    noisy = img.astype(np.float32) + RNG.normal(0, noise, img.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def other_view() -> np.ndarray:
    """A different scene: a dark floor with a diagonal drain, as if the camera now looks down."""
    img = np.full((360, 640, 3), 60, np.uint8)
    for i in range(0, 640, 8):
        img[(i * 360 // 640) % 360, i : i + 8] = 230
    img[200:360, 0:200] = 180
    return img


def feed(check: TamperCheck, frames: list[np.ndarray], every_s: float = 2.0) -> list[str | None]:
    return [check.update(f, t * every_s) for t, f in enumerate(frames)]


def test_busy_kitchen_is_not_tampering() -> None:
    frames = [kitchen(person_at=(40 * i) % 500 if i % 3 else None) for i in range(40)]
    assert [r for r in feed(TamperCheck(), frames) if r] == []


@pytest.mark.parametrize("value", [0, 8, 250])
def test_covered_lens_is_reported_once(value: int) -> None:
    check = TamperCheck()
    covered = np.clip(np.full((360, 640, 3), value, np.float32) + RNG.normal(0, 1, (360, 640, 3)), 0, 255)
    frames = [kitchen()] * 3 + [covered.astype(np.uint8)] * 5 + [kitchen()] * 2
    reasons = feed(check, frames)
    assert reasons.count("covered") == 1
    assert reasons[3] == "covered"
    assert check.active is None  # recovered


def test_frozen_picture_is_reported_after_the_configured_time() -> None:
    check = TamperCheck(TamperConfig(frozen_after_s=30))  # the default is 60 s
    still = kitchen()
    reasons = feed(check, [kitchen()] + [still] * 20, every_s=2.0)
    first = reasons.index("frozen")
    assert 15 <= first <= 17  # 30 s of identical frames at one every 2 s
    assert reasons.count("frozen") == 1


def test_moved_camera_is_reported_once_then_learnt() -> None:
    check = TamperCheck()
    frames = [kitchen() for _ in range(10)] + [other_view() for _ in range(10)]
    reasons = feed(check, frames)
    assert reasons.count("moved") == 1
    assert reasons.index("moved") == 15  # the new view must hold for 10 s (frames 10..15, 2 s apart)


def test_a_slideshow_or_screen_in_view_is_not_a_moved_camera() -> None:
    views = [kitchen(), other_view(), kitchen(shift=320), np.ascontiguousarray(other_view()[::-1])]
    frames = [views[(i // 2) % len(views)] for i in range(40)]  # a new picture every 4 s
    assert "moved" not in feed(TamperCheck(), frames)


def test_a_person_passing_is_not_a_moved_camera() -> None:
    frames = [kitchen() for _ in range(5)] + [kitchen(person_at=250) for _ in range(2)] + [kitchen()] * 5
    assert "moved" not in feed(TamperCheck(), frames)


def test_stream_stats_rates() -> None:
    stats = StreamStats(window_s=5.0)
    for i in range(100):  # 10 fps for 10 s, 1 kB per packet, keyframe every 10
        stats.on_packet(i / 10, 1000, keyframe=i % 10 == 0)
    fps, kbps = stats.rates(9.9)
    assert fps == pytest.approx(10, rel=0.05)
    assert kbps == pytest.approx(80, rel=0.05)
    assert stats.keyframes == 10 and stats.last_keyframe_at == pytest.approx(9.0)
    assert stats.rates(30.0) == (0.0, 0.0)  # nothing for longer than the window
