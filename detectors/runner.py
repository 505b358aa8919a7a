"""The detector pipeline: analysed frames in, confirmed violations out as ``alert.created`` events.

Per batch: reject malformed frames (counted), gate by motion, run each model once over the frames that
need it (frames of many cameras in one call), turn detections into sightings (zones applied), add the
night rodent rule, confirm over time, and for each confirmation store evidence and emit one alert.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from prometheus_client import Counter, Histogram

from command_center.events.schemas import AlertCreated, Event
from config.district import Zone
from detectors.backends import load_backend
from detectors.base import Backend, FrameError, check_image
from detectors.config import DetectorConfig
from detectors.detections import Detections
from detectors.evidence import store_evidence
from detectors.hat import HatStage
from detectors.motion import MotionGate, MotionResult
from detectors.night import NightRodentRule, is_night
from detectors.rules import Confirmation, Observation, TemporalRules
from stream_ingest.frames import AnalysedFrame, EvidenceStore, FrameQueue
from stream_ingest.worker import CameraSpec

log = logging.getLogger(__name__)

REJECTED = Counter("mscc_detector_frames_rejected_total", "Frames refused: wrong shape or dtype")
INFERENCE = Histogram("mscc_detector_batch_seconds", "Time of one model call", ["model"])
FRAMES_INFERRED = Counter("mscc_detector_frames_inferred_total", "Frames a model ran on", ["model"])
ALERTS = Counter("mscc_detector_alerts_total", "Confirmed violations", ["violation"])

Emit = Callable[[Event], None]


@dataclass
class PipelineStats:
    """Counters of one pipeline, for tests, benchmarks and the status file."""

    frames: int = 0
    rejected: int = 0
    gated: int = 0  # frames the motion gate let through
    skipped: int = 0  # frames the motion gate skipped (still scenes)
    batches: int = 0
    inferred: dict[str, int] = field(default_factory=dict)
    alerts: int = 0
    vetoed: int = 0  # sightings dropped because they lay on a vetoing class (a person, a cat)


class DetectorPipeline:
    """Owns the models, the motion gate and the temporal state; one thread drives it (``run``)."""

    def __init__(
        self,
        config: DetectorConfig,
        *,
        emit: Emit,
        evidence: EvidenceStore,
        cameras: Mapping[str, CameraSpec] | None = None,
        timezone: str = "Asia/Shanghai",
        backends: Mapping[str, Backend] | None = None,
    ) -> None:
        self.config = config
        self._emit = emit
        self._evidence = evidence
        self._cameras = dict(cameras or {})
        self._tz = ZoneInfo(timezone)
        self.backends: dict[str, Backend] = dict(backends) if backends is not None else load_backends(config)
        self.gate = MotionGate(config.motion)
        self.rules = TemporalRules(config)
        self.night = NightRodentRule(config.night)
        base = Path(config.base_dir) if config.base_dir else None
        self.hat = HatStage(config.hat, base_dir=base) if config.hat.enabled else None
        self.stats = PipelineStats()
        self._last: dict[str, tuple[list[Observation], set[str]]] = {}
        self._violation_models = [
            name for name, b in self.backends.items() if b.spec.violations and b.spec.enabled
        ]
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- one batch -------------------------------------------------------------------------------
    def process(self, frames: Sequence[AnalysedFrame]) -> list[AlertCreated]:
        """Run one batch of frames (any cameras) through the pipeline; returns the alerts emitted."""
        good: list[AnalysedFrame] = []
        for frame in frames:
            self.stats.frames += 1
            try:
                check_image(frame.image)
            except FrameError as exc:
                self.stats.rejected += 1
                REJECTED.inc()
                log.warning("camera %s: frame rejected: %s", frame.camera_id, exc)
                continue
            good.append(frame)
        motions = {id(f): self.gate.check(f.camera_id, f.image, f.ts.timestamp()) for f in good}
        run = [f for f in good if motions[id(f)].run]
        self.stats.gated += len(run)
        self.stats.skipped += len(good) - len(run)
        if run:
            self.stats.batches += 1
        detections = self._infer(self._violation_models, run)
        sightings = {id(f): self._sightings(f, detections) for f in run}
        night = {id(f) for f in run if self._night_candidate(f, motions[id(f)])}
        persons = self._people(run, night, sightings)
        alerts = []
        for frame in good:
            motion = motions[id(frame)]
            if motion.run:
                observations, checked = self._observe(
                    frame, motion, sightings[id(frame)], id(frame) in night, persons
                )
                self._last[frame.camera_id] = (observations, checked)
            else:
                # A still scene: the last sightings still stand (the detector was skipped only because
                # nothing changed), so confirmation keeps counting at the analysis rate.
                observations, checked = self._last.get(frame.camera_id, ([], set()))
            zones = self._zones(frame.camera_id)
            for confirmation in self.rules.update(
                frame.camera_id, frame.ts.timestamp(), observations, checked, zones
            ):
                alerts.append(self._raise(frame, confirmation))
        return alerts

    def _infer(
        self, models: Sequence[str], frames: Sequence[AnalysedFrame]
    ) -> dict[tuple[str, int], Detections]:
        out: dict[tuple[str, int], Detections] = {}
        if not frames:
            return out
        for name in models:
            backend = self.backends[name]
            step = backend.spec.max_batch
            for i in range(0, len(frames), step):
                chunk = frames[i : i + step]
                started = time.perf_counter()
                results = backend.detect([f.image for f in chunk])
                INFERENCE.labels(name).observe(time.perf_counter() - started)
                FRAMES_INFERRED.labels(name).inc(len(chunk))
                self.stats.inferred[name] = self.stats.inferred.get(name, 0) + len(chunk)
                for f, det in zip(chunk, results, strict=True):
                    out[(name, id(f))] = det
        return out

    def _sightings(
        self, frame: AnalysedFrame, detections: Mapping[tuple[str, int], Detections]
    ) -> tuple[list[Observation], set[str]]:
        """The violation models' sightings in one frame ([0, 1] boxes) and the violation types they
        examined it for."""
        w, h = frame.size
        observations: list[Observation] = []
        checked: set[str] = set()
        for name in self._violation_models:
            det = detections.get((name, id(frame)))
            if det is None:
                continue
            violations = self.backends[name].spec.violations
            checked.update(violations.values())
            for box, score, label in zip(det.boxes, det.scores, det.labels, strict=True):
                if label in violations:
                    norm = (float(box[0]) / w, float(box[1]) / h, float(box[2]) / w, float(box[3]) / h)
                    observations.append(Observation(violations[label], norm, float(score), label))
        return observations, checked

    def _zones(self, camera_id: str) -> tuple[Zone, ...]:
        spec = self._cameras.get(camera_id)
        return tuple(spec.zones) if spec is not None else ()

    def _people(
        self,
        run: Sequence[AnalysedFrame],
        night: set[int],
        sightings: Mapping[int, tuple[list[Observation], set[str]]],
    ) -> dict[tuple[str, int], Detections]:
        """Run the person model where a stage needs people: every frame for the no-hat stage, the night
        frames with moving blobs for the night rodent rule, and the frames holding a sighting whose rule
        can be vetoed (a "rodent" on a person's head is the rodent model's typical false alarm)."""
        wanted: dict[str, list[AnalysedFrame]] = {}

        def want(model: str | None, frames: Sequence[AnalysedFrame]) -> None:
            if model is None:
                return
            have = wanted.setdefault(model, [])
            have.extend(f for f in frames if all(f is not g for g in have))

        if self.hat is not None:
            want(self.config.hat.person_model, run)
        want(self.config.night.person_model, [f for f in run if id(f) in night])
        want(self.config.veto_model, [f for f in run if any(map(self._vetoable, sightings[id(f)][0]))])
        out: dict[tuple[str, int], Detections] = {}
        for model, frames in wanted.items():
            if model in self.backends:
                out.update(self._infer([model], frames))
        return out

    def _vetoable(self, obs: Observation) -> bool:
        """Whether a sighting counts for its rule and that rule can be vetoed (so people are needed)."""
        rule = self.config.rule(obs.violation)
        return bool(rule.veto_on) and obs.score >= rule.min_score

    def _night_candidate(self, frame: AnalysedFrame, motion: MotionResult) -> bool:
        spec = self.config.night
        return spec.enabled and bool(motion.blobs) and is_night(spec, frame.ts, self._tz, motion.brightness)

    def _observe(
        self,
        frame: AnalysedFrame,
        motion: MotionResult,
        sightings: tuple[list[Observation], set[str]],
        at_night: bool,
        persons: Mapping[tuple[str, int], Detections],
    ) -> tuple[list[Observation], set[str]]:
        w, h = frame.size
        observations, checked = list(sightings[0]), set(sightings[1])
        if self.hat is not None:
            heads = persons.get((self.config.hat.person_model, id(frame)))
            if heads is not None:
                checked.add("no_hat")
                observations.extend(self.hat.observe(frame.image, heads))
        person_model = self.config.night.person_model
        people = persons.get((person_model, id(frame))) if person_model else None
        if people is not None and at_night:
            checked.add("rodent")
            present = len(people.of_class("person")) > 0
            zones = self._zones(frame.camera_id)
            observations.extend(
                self.night.update(frame.camera_id, frame.ts.timestamp(), motion, present, zones)
            )
        vetoes = persons.get((self.config.veto_model, id(frame))) if self.config.veto_model else None
        if vetoes is not None:
            observations = [o for o in observations if not self._vetoed(o, vetoes, w, h)]
        return observations, checked

    def _vetoed(self, obs: Observation, vetoes: Detections, w: int, h: int) -> bool:
        """A model sighting lying mostly (half its area or more) on a vetoing class: a cat is not a rat,
        and neither is a person's hair."""
        classes = self.config.rule(obs.violation).veto_on
        if obs.source != "model" or not classes:
            return False
        others = vetoes.of_class(*classes)
        x1, y1, x2, y2 = obs.box[0] * w, obs.box[1] * h, obs.box[2] * w, obs.box[3] * h
        area = max((x2 - x1) * (y2 - y1), 1e-6)
        for ox1, oy1, ox2, oy2 in others.boxes:
            inter = max(0.0, min(x2, ox2) - max(x1, ox1)) * max(0.0, min(y2, oy2) - max(y1, oy1))
            if inter / area >= 0.5:
                self.stats.vetoed += 1
                return True
        return False

    def _raise(self, frame: AnalysedFrame, confirmation: Confirmation) -> AlertCreated:
        evidence = store_evidence(
            self._evidence,
            frame.image,
            confirmation.evidence,
            camera_id=frame.camera_id,
            ts=frame.ts,
            tz=self._tz,
        )
        spec = self._cameras.get(frame.camera_id)
        from_rule = all(o.source == "rule" for o in confirmation.evidence)
        validated = self.config.model_validated(confirmation.violation) and not from_rule
        alert = AlertCreated(
            ts=frame.ts,
            camera_id=frame.camera_id,
            restaurant_id=spec.restaurant_id if spec else None,
            street_id=spec.street_id if spec else None,
            violation=confirmation.violation,
            score=round(confirmation.score, 4),
            evidence_url=evidence.annotated_url,
            validated=validated,
            source="detector",
            raw_evidence_url=evidence.raw_url,
            detected_by=sorted({o.label for o in confirmation.evidence}),
            detections=[
                {
                    "label": o.label,
                    "box": [round(v, 4) for v in o.box],
                    "score": round(o.score, 4),
                    "source": o.source,
                }
                for o in confirmation.evidence
            ],
        )
        self.stats.alerts += 1
        ALERTS.labels(confirmation.violation).inc()
        log.info(
            "camera %s: %s confirmed (score %.2f%s)",
            frame.camera_id,
            confirmation.violation,
            confirmation.score,
            "" if validated else ", not validated",
        )
        self._emit(alert)
        return alert

    # -- the thread ------------------------------------------------------------------------------
    def run(self, queue: FrameQueue, stop: threading.Event) -> None:
        """Take batches from ``queue`` until ``stop``; a failing batch is logged, never fatal."""
        batch = self.config.batch
        while not stop.is_set():
            frames = queue.take(batch.max_batch, timeout=0.5, linger=batch.max_wait_ms / 1000)
            if not frames:
                continue
            try:
                self.process(frames)
            except Exception:
                log.exception("detector batch of %s frames failed; continuing", len(frames))

    def start(self, queue: FrameQueue) -> None:
        """Run in a daemon thread until :meth:`stop`."""
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.run, args=(queue, self._stop), name="detectors", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread started by :meth:`start` (finishes the batch in hand)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None


def load_backends(config: DetectorConfig) -> dict[str, Backend]:
    """Load every enabled model of ``config`` (raises :class:`detectors.base.ModelError` at once)."""
    base = Path(config.base_dir) if config.base_dir else None
    return {m.name: load_backend(m, base_dir=base) for m in config.models if m.enabled}
