"""Temporal confirmation: k of n, one alert per ongoing violation, cooldown after it clears, zones, and
the night rodent rule."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from config.district import Zone
from detectors.config import DetectorConfig, NightSpec, RuleSpec
from detectors.motion import Blob, MotionResult
from detectors.night import NightRodentRule, is_night
from detectors.rules import Observation, TemporalRules

FACE = (0.40, 0.20, 0.50, 0.35)


def config(**rule: float) -> DetectorConfig:
    spec = {"k": 3, "n": 5, "min_score": 0.4, "cooldown_s": 100.0, "clear_after": 3} | rule
    return DetectorConfig(
        rules={"no_mask": RuleSpec.model_validate(spec)}, night=NightSpec(person_model=None)
    )


def seen(box: tuple[float, float, float, float] = FACE, score: float = 0.8) -> list[Observation]:
    return [Observation("no_mask", box, score, "without_mask")]


def feed(
    rules: TemporalRules, frames: list[list[Observation]], start: float = 0.0, step: float = 2.0
) -> list[float]:
    """Feed frames at ``step`` seconds; returns the times at which a confirmation came out."""
    times = []
    for i, obs in enumerate(frames):
        ts = start + i * step
        if rules.update("cam", ts, obs, {"no_mask"}):
            times.append(ts)
    return times


def test_k_of_n_confirms_once_for_an_ongoing_violation() -> None:
    rules = TemporalRules(config())
    # Seen, missed, seen, seen -> the 3rd sighting within 5 frames confirms; 20 more frames: no repeat.
    assert feed(rules, [seen(), [], seen(), seen()] + [seen()] * 20) == [6.0]
    assert rules.active("cam", "no_mask")


def test_two_scattered_sightings_do_not_confirm() -> None:
    rules = TemporalRules(config())
    assert feed(rules, [seen(), [], [], [], [], seen(), [], [], [], []]) == []


def test_a_jittering_box_is_one_region_but_another_place_is_another() -> None:
    rules = TemporalRules(config())
    jitter = [seen((0.40 + d, 0.20, 0.50 + d, 0.35)) for d in (0.0, 0.01, -0.01)]
    assert feed(rules, jitter) == [4.0]
    rules = TemporalRules(config())
    elsewhere = [seen((0.0, 0.0, 0.1, 0.1)), seen((0.5, 0.5, 0.6, 0.6)), seen((0.8, 0.0, 0.9, 0.1))]
    assert feed(rules, elsewhere) == []


def test_low_scores_do_not_count() -> None:
    rules = TemporalRules(config())
    assert feed(rules, [seen(score=0.3)] * 6) == []


def test_cooldown_after_clearing_then_a_new_alert() -> None:
    rules = TemporalRules(config(cooldown_s=100.0))
    # Confirmed at t=4, cleared after 3 empty frames (t=10), back at t=12: within the cooldown.
    assert feed(rules, [seen()] * 3 + [[]] * 3 + [seen()] * 5) == [4.0]
    assert rules.suppressed >= 1
    # Long after the clearing, the same violation is a new alert.
    rules2 = TemporalRules(config(cooldown_s=100.0))
    frames = [seen()] * 3 + [[]] * 3 + [[]] * 50 + [seen()] * 3
    assert feed(rules2, frames) == [4.0, 2.0 * 58]


def test_frames_not_checked_for_a_type_leave_it_alone() -> None:
    rules = TemporalRules(config())
    assert rules.update("cam", 0.0, seen(), {"no_mask"}) == []
    assert rules.update("cam", 2.0, [], set()) == []  # not checked (say, that model did not run)
    assert rules.update("cam", 4.0, seen(), {"no_mask"}) == []
    assert len(rules.update("cam", 6.0, seen(), {"no_mask"})) == 1


def test_exclude_zones_and_required_zones() -> None:
    tv = Zone(name="tv", kind="exclude", polygon=[(0.35, 0.1), (0.6, 0.1), (0.6, 0.4), (0.35, 0.4)])
    rules = TemporalRules(config())
    for i in range(5):
        assert rules.update("cam", i * 2.0, seen(), {"no_mask"}, zones=(tv,)) == []
    prep = Zone(name="prep", kind="prep", polygon=[(0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)])
    rules = TemporalRules(config(zones=["prep"]))  # type: ignore[arg-type]
    assert feed(rules, [seen()] * 5) == [4.0]  # no zones on the camera: anywhere counts
    rules = TemporalRules(config(zones=["prep"]))  # type: ignore[arg-type]
    outside = [rules.update("cam", i * 2.0, seen(), {"no_mask"}, zones=(prep,)) for i in range(5)]
    assert outside == [[]] * 5
    low = (0.4, 0.6, 0.5, 0.7)
    inside = [rules.update("cam", i * 2.0, seen(low), {"no_mask"}, zones=(prep,)) for i in range(3)]
    assert [len(x) for x in inside] == [0, 0, 1]


def motion(*blobs: Blob) -> MotionResult:
    return MotionResult(True, "motion", 0.01, 30.0, tuple(blobs))


def test_night_rule_needs_k_frames_of_small_slow_motion_and_no_person() -> None:
    rule = NightRodentRule(NightSpec(k=3, n=4, person_model=None))
    rat = [Blob(0.30 + 0.03 * i, 0.80, 0.05, 0.03) for i in range(4)]
    out = [rule.update("cam", i * 2.0, motion(rat[i]), person_present=False) for i in range(4)]
    assert [len(o) for o in out] == [0, 0, 1, 1]
    assert out[2][0].preconfirmed and out[2][0].label == "night-motion"
    # A person walking through is not a rat; nor is a blob the size of a person; nor a teleporting one.
    rule = NightRodentRule(NightSpec(k=3, n=4, person_model=None))
    assert all(not rule.update("cam", i * 2.0, motion(rat[i]), person_present=True) for i in range(4))
    rule = NightRodentRule(NightSpec(k=3, n=4, person_model=None))
    big = Blob(0.2, 0.2, 0.4, 0.6)
    assert all(not rule.update("cam", i * 2.0, motion(big), person_present=False) for i in range(4))
    rule = NightRodentRule(NightSpec(k=3, n=4, person_model=None, max_speed=0.1))
    jumps = [Blob(0.05 + 0.45 * (i % 2), 0.8, 0.05, 0.03) for i in range(4)]
    hits = [rule.update("cam", i * 0.5, motion(jumps[i]), person_present=False) for i in range(4)]
    assert not any(hits)


def test_night_by_clock_or_by_a_dark_picture() -> None:
    spec = NightSpec(start=22, end=6, dark_level=50)
    tz = ZoneInfo("Asia/Shanghai")
    assert is_night(spec, datetime(2026, 11, 27, 15, 0, tzinfo=UTC), tz, brightness=120)  # 23:00 local
    assert not is_night(spec, datetime(2026, 11, 27, 4, 0, tzinfo=UTC), tz, brightness=120)  # 12:00 local
    assert is_night(spec, datetime(2026, 11, 27, 4, 0, tzinfo=UTC), tz, brightness=20)  # lights off at noon
