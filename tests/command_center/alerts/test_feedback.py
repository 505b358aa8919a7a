"""Supervisors' verdicts become a YOLO dataset: a confirmed detector alert exports its raw frame with the
confirmed boxes, a false alarm exports its frame as a background image; alerts without a verdict, and
frames no longer on disk, are left out (and counted)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
from fastapi.testclient import TestClient

from command_center.alerts.feedback import export_feedback
from command_center.database.core import transaction
from config.district import District
from detectors.evidence import store_evidence
from detectors.rules import Observation
from stream_ingest.frames import EvidenceStore
from stream_ingest.main import evidence_dir
from tests.command_center.alerts.support import context, kitchen_cameras
from tests.command_center.cases.test_cases_api import act, open_case
from tests.detectors.conftest import facemask_image

Login = Callable[[str], dict[str, str]]


def test_verdicts_export_as_a_yolo_dataset(
    client: TestClient, login: Login, sample_district: District, tmp_path: Path
) -> None:
    ctx = context(client)
    store = EvidenceStore(evidence_dir(ctx.settings))
    now = datetime.now(UTC).replace(microsecond=0)
    cams = kitchen_cameras(sample_district, "meisha")
    seen = Observation("no_mask", (0.25, 0.10, 0.45, 0.40), 0.91, "without_mask")
    cases = {}
    for (camera, _), photo, verdict in zip(
        cams[:3],
        ("maksssksksss0.jpg", "maksssksksss1.jpg", "maksssksksss2.jpg"),
        ("confirm", "false_alarm", None),
        strict=True,
    ):
        ev = store_evidence(
            store, facemask_image(photo), [seen], camera_id=camera, ts=now, tz=ZoneInfo("UTC")
        )
        case = open_case(
            client,
            login,
            camera,
            "no_mask",
            now,
            source="detector",
            score=0.91,
            evidence_url=ev.annotated_url,
            raw_evidence_url=ev.raw_url,
            detections=[
                {"label": "without_mask", "box": list(seen.box), "score": 0.91, "source": "model"},
                {"label": "without_mask", "box": [0.5, 0.5, 2.0, 0.1]},  # tried: a malformed box, dropped
            ],
        )
        if verdict is not None:
            assert act(client, login, "admin", case["id"], verdict).status_code == 200
        cases[camera] = verdict
    # A confirmed alert whose frame has since been deleted (retention) is counted, not exported.
    gone = store_evidence(
        store, facemask_image("maksssksksss3.jpg"), [seen], camera_id=cams[3][0], ts=now, tz=ZoneInfo("UTC")
    )
    case = open_case(
        client,
        login,
        cams[3][0],
        "no_mask",
        now,
        source="detector",
        raw_evidence_url=gone.raw_url,
        detections=[{"label": "without_mask", "box": list(seen.box)}],
    )
    assert act(client, login, "admin", case["id"], "confirm").status_code == 200
    path = store.path_of(gone.raw_url.rsplit("/", 1)[1])
    assert path is not None
    path.unlink()

    out = tmp_path / "feedback"
    with transaction(ctx.sessions) as session:
        summary = export_feedback(session, evidence=store, out=out, since=now)
    assert (summary.positives, summary.false_alarms, summary.missing_frames) == (1, 1, 1)
    assert summary.names == ["without_mask"]
    confirmed = f"{cams[0][0]}-"
    labels = {p.name: p.read_text() for p in (out / "labels").iterdir()}
    [positive] = [text for name, text in labels.items() if name.startswith(confirmed)]
    cls, cx, cy, w, h = positive.split()
    assert cls == "0" and (float(cx), float(cy), float(w), float(h)) == (0.35, 0.25, 0.2, 0.3)
    [background] = [text for name, text in labels.items() if name.startswith(f"{cams[1][0]}-")]
    assert background == ""
    assert not any(name.startswith(f"{cams[2][0]}-") for name in labels)  # no verdict yet: not exported
    images = sorted((out / "images").iterdir())
    assert len(images) == 2 and all(cv2.imread(str(p)) is not None for p in images)
    assert "names:\n  0: without_mask" in (out / "data.yaml").read_text()
    assert (out / "verdicts.csv").read_text().count("\n") == 3
