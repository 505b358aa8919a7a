"""The detector overview, built from the detector configuration (no model is loaded for it)."""

from __future__ import annotations

import json

from command_center.detection.schemas import DetectorOverview, ModelInfo, ViolationInfo
from detectors.base import model_file
from detectors.config import DetectorConfig


def overview(config: DetectorConfig) -> DetectorOverview:
    """Every violation type the detectors raise, with its sources and validation status."""
    models = []
    for m in config.models:
        evaluation = None
        card = model_file(m.file, config.base_dir).with_suffix(".metrics.json")
        if card.is_file():
            evaluation = json.loads(card.read_text())
        models.append(
            ModelInfo(
                name=m.name,
                type=m.type,
                enabled=m.enabled,
                input_size=m.input_size,
                classes=list(m.names),
                violations=dict(m.violations),
                validated=m.validated,
                evaluation=evaluation,
            )
        )
    violations = []
    for violation in sorted(config.rules):
        rule = config.rule(violation)
        sources = [
            f"model {m.name}" for m in config.models if m.enabled and violation in m.violations.values()
        ]
        note = None
        if violation == "rodent" and config.night.enabled:
            sources.append("night motion rule")
            note = "night motion rule alerts are heuristic and always say validated: false"
        if violation == "no_hat":
            if config.hat.enabled:
                sources.append("hat classifier on head crops")
            note = "no labelled chef-hat images exist offline: no validated model" + (
                "" if config.hat.enabled else "; the stage is off"
            )
        violations.append(
            ViolationInfo(
                violation=violation,
                validated=config.model_validated(violation),
                sources=sources,
                confirm=f"{rule.k} of {rule.n} analysed frames (score >= {rule.min_score})",
                note=note,
            )
        )
    return DetectorOverview(violations=violations, models=models, motion_gating=config.motion.enabled)
