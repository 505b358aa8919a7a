"""``mscc export-feedback``: the supervisors' verdicts on detector alerts, as a YOLO dataset.

A confirmed case's detector alerts become positive examples (the raw frame with the confirmed boxes);
a case dismissed as a false alarm turns its alerts' frames into background images (no boxes), which is
how a detector learns that the steam, the poster or the cat it flagged is not a violation. Each district
can then retrain (``mscc train``) on its own kitchens.
"""

from __future__ import annotations

import csv
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from command_center.alerts.models import Alert
from command_center.cases.models import Case
from stream_ingest.frames import EvidenceStore

log = logging.getLogger(__name__)


@dataclass
class FeedbackSummary:
    """What the export wrote and what it had to leave out (and why)."""

    positives: int = 0
    false_alarms: int = 0
    missing_frames: int = 0  # the raw frame is no longer on disk (retention) or was never stored
    names: list[str] = field(default_factory=list)


def export_feedback(
    session: Session,
    *,
    evidence: EvidenceStore,
    out: Path,
    since: datetime | None = None,
    violations: set[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FeedbackSummary:
    """Write ``out/images``, ``out/labels``, ``out/data.yaml`` and ``out/verdicts.csv`` for every detector
    alert whose case got a verdict (confirmed at some point, or dismissed as a false alarm)."""
    query = (
        select(Alert, Case)
        .join(Case, Alert.case_id == Case.id)
        .where(Alert.source == "detector", Alert.raw_evidence_url.is_not(None))
        .where((Case.confirmed_at.is_not(None)) | (Case.state == "false_alarm"))
        .order_by(Alert.ts, Alert.id)
    )
    if since is not None:
        query = query.where(Alert.ts >= since)
    if violations:
        query = query.where(Alert.violation.in_(sorted(violations)))
    rows = session.execute(query).all()
    summary = FeedbackSummary()
    examples: list[tuple[Alert, Case, Path, bool]] = []
    names: set[str] = set()
    for alert, case in rows:
        frame = evidence.path_of(str(alert.raw_evidence_url).rsplit("/", 1)[-1])
        if frame is None:
            summary.missing_frames += 1
            continue
        positive = case.state != "false_alarm"
        if positive:
            names.update(d["label"] for d in alert.detections or [])
        examples.append((alert, case, frame, positive))
    summary.names = sorted(names)
    index = {name: i for i, name in enumerate(summary.names)}
    images, labels = out / "images", out / "labels"
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    with (out / "verdicts.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image", "alert_event_id", "case_id", "camera_id", "violation", "verdict", "boxes"])
        for n, (alert, case, frame, positive) in enumerate(examples, 1):
            stem = f"{alert.camera_id or 'camera'}-{alert.event_id}"
            shutil.copyfile(frame, images / f"{stem}.jpg")
            lines = []
            if positive:
                for det in alert.detections or []:
                    x1, y1, x2, y2 = det["box"]
                    cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
                    lines.append(f"{index[det['label']]} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
                summary.positives += 1
            else:
                summary.false_alarms += 1
            (labels / f"{stem}.txt").write_text("".join(f"{line}\n" for line in lines))
            verdict = "confirmed" if positive else "false_alarm"
            writer.writerow(
                [
                    f"images/{stem}.jpg",
                    alert.event_id,
                    case.id,
                    alert.camera_id,
                    alert.violation,
                    verdict,
                    len(lines),
                ]
            )
            if progress is not None:
                progress(n, len(examples))
    doc = {"path": ".", "train": "images", "val": "images", "names": dict(enumerate(summary.names))}
    (out / "data.yaml").write_text(
        "# Supervisor verdicts exported by mscc export-feedback: confirmed alerts with their boxes,\n"
        "# false alarms as background images. Split it (mscc train does) before training on it.\n"
        + yaml.safe_dump(doc, sort_keys=False)
    )
    log.info(
        "feedback: %s confirmed, %s false alarms, %s without their frame",
        summary.positives,
        summary.false_alarms,
        summary.missing_frames,
    )
    return summary
