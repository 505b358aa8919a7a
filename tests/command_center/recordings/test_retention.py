"""Retention on SQLite and PostgreSQL: old segments go, the disk budget deletes the oldest first and
counts early deletions, and evidence clips of open cases are never deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from command_center.alerts.models import Alert
from command_center.cases.models import Case
from command_center.database.core import transaction
from command_center.district.service import sync_district
from command_center.recordings.models import EvidenceClip, Segment
from command_center.recordings.service import RetentionPolicy, apply_retention
from config.district import District

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
MB = 1_000_000


def _segment(session: Session, root: Path, camera: str, age_days: float, size: int) -> Segment:
    start = NOW - timedelta(days=age_days)
    rel = f"{camera}/{start:%Y%m%dT%H%M%S}-{size}.mp4"
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(b"\0")
    seg = Segment(
        camera_id=camera, start=start, end=start + timedelta(minutes=1), path=rel, bytes=size, frames=600
    )
    session.add(seg)
    return seg


def _clip(session: Session, root: Path, name: str, state: str | None, closed_days_ago: float | None) -> None:
    (root / f"{name}.mp4").parent.mkdir(parents=True, exist_ok=True)
    (root / f"{name}.mp4").write_bytes(b"\0")
    case_id = None
    if state is not None:
        closed = NOW - timedelta(days=closed_days_ago) if closed_days_ago is not None else None
        case = Case(
            restaurant_id="r001",
            street_id="shatoujiao",
            violation="no_mask",
            state=state,
            opened_at=NOW - timedelta(days=200),
            last_alert_at=NOW - timedelta(days=200),
            closed_at=closed,
            updated_at=closed or NOW,
        )
        session.add(case)
        session.flush()
        case_id = case.id
    session.add(
        Alert(
            event_id=f"ev-{name}",
            ts=NOW - timedelta(days=200),
            violation="no_mask",
            source="detector",
            camera_id="cam-r001",
            restaurant_id="r001",
            street_id="shatoujiao",
            case_id=case_id,
        )
    )
    session.add(
        EvidenceClip(
            alert_event_id=f"ev-{name}",
            camera_id="cam-r001",
            start=NOW,
            end=NOW,
            path=f"{name}.mp4",
            bytes=5 * MB,
            created_at=NOW - timedelta(days=200),
        )
    )


def test_retention(sessions: sessionmaker[Session], sample_district: District, tmp_path: Path) -> None:
    rec, clips = tmp_path / "recordings", tmp_path / "clips"
    with transaction(sessions) as session:
        sync_district(session, sample_district)
        for age in (10, 8, 6, 3, 1, 0.5):  # days; 10 MB each
            _segment(session, rec, "cam-r001", age, 10 * MB)
        _segment(session, rec, "cam-r002", 8, 10 * MB)  # a camera kept 30 days
        _clip(session, clips, "open-case", "rectifying", None)
        _clip(session, clips, "closed-long-ago", "closed", 120)
        _clip(session, clips, "closed-recently", "closed", 10)
    policy = RetentionPolicy(
        recordings_dir=rec,
        clips_dir=clips,
        clip_keep_days=90,
        days_for=lambda camera: 30 if camera == "cam-r002" else 7,
    )
    with transaction(sessions) as session:
        report = apply_retention(session, policy=policy, now=NOW)
    assert (report.segments_deleted, report.clips_deleted, report.early_deletions) == (2, 1, 0)
    with sessions() as session:
        ages = sorted(
            round((NOW - s.start).total_seconds() / 86400, 1) for s in session.scalars(select(Segment))
        )
        assert ages == [0.5, 1, 3, 6, 8]  # cam-r001's 10 and 8 day old segments went; cam-r002's 8 days stays
        kept = {c.alert_event_id for c in session.scalars(select(EvidenceClip))}
        assert kept == {"ev-open-case", "ev-closed-recently"}
    assert not (clips / "closed-long-ago.mp4").exists() and (clips / "open-case.mp4").exists()

    # A 40 MB budget: 5 segments (50 MB) + 2 clips (10 MB) lose the 2 oldest segments, both younger than
    # their retention (early deletions); the clips are not touched by the budget.
    tight = RetentionPolicy(
        recordings_dir=rec,
        clips_dir=clips,
        clip_keep_days=90,
        budget_bytes=40 * MB,
        days_for=lambda camera: 30 if camera == "cam-r002" else 7,
    )
    with transaction(sessions) as session:
        report = apply_retention(session, policy=tight, now=NOW)
    assert (report.segments_deleted, report.early_deletions) == (2, 2)
    with sessions() as session:
        assert len(session.scalars(select(Segment)).all()) == 3
        assert {c.alert_event_id for c in session.scalars(select(EvidenceClip))} == {
            "ev-open-case",
            "ev-closed-recently",
        }
    assert len(list(rec.rglob("*.mp4"))) == 3
