"""The detector configuration: a typed tree read from YAML (unknown keys refused), validated at start-up.

The shipped default is ``detectors/models/detectors.yaml``; ``MSCC_DETECTORS_CONFIG`` points at another.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from detectors.base import ModelSpec

DEFAULT_CONFIG = Path(__file__).resolve().parent / "models" / "detectors.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleSpec(_Strict):
    """Temporal confirmation of one violation type: seen in ``k`` of the last ``n`` analysed frames of
    one region, then one alert per ongoing violation and camera, and none again for ``cooldown_s``
    after it has cleared."""

    k: int = Field(3, ge=1, title="Frames that must show it")
    n: int = Field(5, ge=1, title="Window of analysed frames")
    min_score: float = Field(0.4, gt=0, lt=1, title="Score a detection needs to count")
    cooldown_s: float = Field(300.0, ge=0, title="Quiet time after a violation cleared")
    clear_after: int = Field(5, ge=1, title="Analysed frames without it before it counts as cleared")
    zones: list[Literal["prep", "floor"]] = Field(
        default_factory=list,
        title="Zone kinds it applies to",
        description="empty: anywhere outside 'exclude' zones; else only inside zones of these kinds "
        "(when the camera has any)",
    )
    region_iou: float = Field(0.2, gt=0, lt=1, title="IoU that makes two boxes the same region")
    night_only: bool = Field(False, title="Only between night.start and night.end")
    veto_on: list[str] = Field(
        default_factory=list,
        title="Classes that veto a sighting",
        description="classes of the veto model (e.g. person, cat, dog): a sighting lying mostly on one of "
        "them is dropped; the veto model runs only on frames with such sightings",
    )

    @model_validator(mode="after")
    def _k_le_n(self) -> RuleSpec:
        if self.k > self.n:
            raise ValueError(f"k ({self.k}) cannot exceed n ({self.n})")
        return self


class MotionSpec(_Strict):
    """Frame differencing on the analysed frames: the detectors run only when the scene changed."""

    enabled: bool = Field(True, title="Motion gating on")
    width: int = Field(160, ge=32, le=640, title="Width the comparison runs at")
    pixel_threshold: int = Field(25, ge=1, le=255, title="Grey-level change that counts")
    min_changed: float = Field(0.002, ge=0, le=1, title="Fraction of changed pixels that is motion")
    heartbeat_s: float = Field(30.0, gt=0, title="Run anyway after this long without motion")


class BatchSpec(_Strict):
    """Frames from many cameras go through a model together."""

    max_batch: int = Field(8, ge=1, le=256, title="Largest batch")
    max_wait_ms: float = Field(50.0, ge=0, le=5000, title="Longest wait to fill a batch")
    queue: int = Field(64, ge=1, title="Frames waiting before the oldest is dropped")


class NightSpec(_Strict):
    """The night rodent rule: motion where no person is, of a rodent's size and speed, over several
    frames. It catches what the rodent model misses on infrared footage it never saw."""

    enabled: bool = Field(True, title="Night rule on")
    start: int = Field(22, ge=0, le=23, title="Night starts (hour, district time)")
    end: int = Field(6, ge=0, le=23, title="Night ends (hour, district time)")
    dark_level: float = Field(60.0, ge=0, le=255, title="Mean grey level under which a frame counts as night")
    min_area: float = Field(0.0005, gt=0, lt=1, title="Smallest moving blob, fraction of the frame")
    max_area: float = Field(0.02, gt=0, lt=1, title="Largest moving blob, fraction of the frame")
    max_speed: float = Field(0.5, gt=0, title="Fastest blob, frame widths per second")
    k: int = Field(3, ge=1, title="Frames with such a blob")
    n: int = Field(4, ge=1, title="Window of analysed frames")
    person_model: str | None = Field("person", title="Model whose 'person' class vetoes the rule")


class HatSpec(_Strict):
    """The no-hat stage: a hat / no-hat classifier on head crops of detected people. No labelled
    chef-hat images exist offline, so it ships disabled and reports ``validated: false``."""

    enabled: bool = Field(False, title="No-hat stage on")
    classifier: Path | None = Field(None, title="ONNX classifier on head crops (outputs [hat, no_hat])")
    input_size: int = Field(64, ge=16, le=512, title="Classifier input size")
    person_model: str = Field("person", title="Model that finds the people")
    min_score: float = Field(0.6, gt=0, lt=1, title="no_hat probability that counts")
    validated: bool = Field(False, title="Validated on real data")

    @model_validator(mode="after")
    def _classifier_when_enabled(self) -> HatSpec:
        if self.enabled and self.classifier is None:
            raise ValueError("an enabled no-hat stage needs a classifier file")
        return self


class DetectorConfig(_Strict):
    """The whole detector configuration."""

    models: list[ModelSpec] = Field(default_factory=list, title="Models")
    rules: dict[str, RuleSpec] = Field(default_factory=dict, title="Confirmation rule per violation type")
    motion: MotionSpec = Field(default_factory=MotionSpec, title="Motion gating")
    batch: BatchSpec = Field(default_factory=BatchSpec, title="Batching")
    night: NightSpec = Field(default_factory=NightSpec, title="Night rodent rule")
    hat: HatSpec = Field(default_factory=HatSpec, title="No-hat stage")
    veto_model: str | None = Field("person", title="Model whose classes rules may name in veto_on")
    base_dir: Path | None = Field(None, title="Folder model files resolve against (set by the loader)")

    @model_validator(mode="after")
    def _consistent(self) -> DetectorConfig:
        names = [m.name for m in self.models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"model names must be unique: {dupes}")
        for m in self.models:
            for violation in m.violations.values():
                if violation not in self.rules:
                    raise ValueError(f"model {m.name!r} maps to violation {violation!r}, which has no rule")
        vetoing = [v for v, r in self.rules.items() if r.veto_on]
        if vetoing and (self.veto_model is None or self.veto_model not in names):
            raise ValueError(
                f"rules {vetoing} name veto_on classes, but veto_model {self.veto_model!r} is not a model"
            )
        if self.night.enabled and self.night.person_model and self.night.person_model not in names:
            raise ValueError(f"night.person_model {self.night.person_model!r} is not a configured model")
        return self

    def rule(self, violation: str) -> RuleSpec:
        """The rule of a violation type (the default rule when none is configured)."""
        return self.rules.get(violation, RuleSpec())

    def model_validated(self, violation: str) -> bool:
        """Whether every enabled source of ``violation`` has been validated on real data."""
        if violation == "no_hat":
            return self.hat.validated
        sources = [m for m in self.models if m.enabled and violation in m.violations.values()]
        return bool(sources) and all(m.validated for m in sources)


class DetectorConfigError(ValueError):
    """The detector configuration is invalid; the message names the file and key."""


def load_detector_config(path: Path | None = None) -> DetectorConfig:
    """Read and validate a detector YAML (default: the shipped one). Model paths resolve against it."""
    path = path or DEFAULT_CONFIG
    if not path.is_file():
        raise DetectorConfigError(f"{path}: no such detector configuration")
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise DetectorConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(doc, dict):
        raise DetectorConfigError(f"{path}: expected a mapping")
    doc.setdefault("base_dir", str(path.resolve().parent))
    try:
        return DetectorConfig.model_validate(doc)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors()
        )
        raise DetectorConfigError(f"{path}: {problems}") from exc
