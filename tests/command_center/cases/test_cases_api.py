"""Cases through the API on SQLite and PostgreSQL: the whole loop with deadlines on a controlled clock,
escalation, refusals with their reasons, scoping for every role, and the audit trail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from command_center.cases import service
from command_center.cases.models import CaseAudit
from command_center.cases.policy import CasePolicy
from command_center.database.audit import AuditImmutableError
from command_center.database.core import transaction
from command_center.events.schemas import AlertCreated
from config.district import District
from tests.command_center.alerts.support import Clock, context, eventually, kitchen_cameras, publish

Login = Callable[[str], dict[str, str]]


def open_case(
    client: TestClient, login: Login, camera: str, violation: str, at: datetime, **extra: Any
) -> dict[str, Any]:
    """Publish a detection and return the case it opened or joined."""
    event = AlertCreated(camera_id=camera, violation=violation, ts=at, **extra)
    publish(client, event)

    def case_id() -> int | None:
        rows = client.get("/api/alerts", params={"event_id": event.id}, headers=login("admin")).json()
        return rows[0]["case_id"] if rows else None

    found: int = eventually(case_id, what=f"the case of alert event {event.id}")
    case: dict[str, Any] = client.get(f"/api/cases/{found}", headers=login("admin")).json()
    return case


def act(client: TestClient, login: Login, user: str, case_id: int, action: str, **body: Any) -> Any:
    """POST an action; returns the response."""
    return client.post(f"/api/cases/{case_id}/actions", json={"action": action, **body}, headers=login(user))


def escalate(client: TestClient, now: datetime) -> list[int]:
    """Run the periodic escalation check at ``now``, the way the tests are meant to: directly."""
    ctx = context(client)
    with transaction(ctx.sessions) as session:
        return [c.id for c in service.escalate_overdue(session, now=now, policy=CasePolicy())]


def test_the_whole_loop_with_a_missed_deadline(
    client: TestClient, login: Login, clock: Clock, sample_district: District
) -> None:
    camera, restaurant = kitchen_cameras(sample_district, "haishan")[2]
    case = open_case(client, login, camera, "no_mask", clock.now)
    cid = case["id"]
    assert (case["state"], case["restaurant_id"], case["street_id"]) == ("new", restaurant, "haishan")
    assert case["allowed_actions"] == ["confirm", "false_alarm", "escalate", "assign", "comment"]

    clock.advance(minutes=10)
    confirmed = act(client, login, "sup-haishan", cid, "confirm", note="cook without mask on video")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["state"] == "confirmed"
    assert datetime.fromisoformat(confirmed.json()["confirmed_at"]) == clock.now
    assert (
        act(client, login, "sup-haishan", cid, "notify", note="phoned the owner").json()["state"]
        == "notified"
    )

    missing = act(client, login, "sup-haishan", cid, "start_rectification")
    assert missing.status_code == 422 and "deadline" in missing.json()["detail"]
    past = act(client, login, "sup-haishan", cid, "start_rectification", deadline=clock.now.isoformat())
    assert past.status_code == 422 and "not in the future" in past.json()["detail"]
    deadline = clock.now + timedelta(days=2)
    started = act(client, login, "sup-haishan", cid, "start_rectification", deadline=deadline.isoformat())
    assert started.json()["state"] == "rectifying"
    assert datetime.fromisoformat(started.json()["deadline"]) == deadline

    assert cid not in escalate(client, deadline - timedelta(minutes=1))
    assert cid in escalate(client, deadline + timedelta(minutes=1))
    escalated = client.get(f"/api/cases/{cid}", headers=login("sup-haishan")).json()
    assert (escalated["state"], escalated["escalated_from"], escalated["missed_deadlines"]) == (
        "escalated",
        "rectifying",
        1,
    )
    assert "start_rectification" in escalated["allowed_actions"]
    assert cid not in escalate(client, deadline + timedelta(hours=1))  # escalated once, not every run

    clock.now = deadline + timedelta(hours=2)
    again = clock.now + timedelta(days=1)
    assert (
        act(client, login, "sup-haishan", cid, "start_rectification", deadline=again.isoformat()).status_code
        == 200
    )
    assert act(client, login, "sup-haishan", cid, "request_reinspection").json()["state"] == "reinspection"
    closed = act(client, login, "sup-haishan", cid, "close", note="remote video check: masks worn")
    assert closed.json()["state"] == "closed" and closed.json()["allowed_actions"] == []

    detail = client.get(f"/api/cases/{cid}", headers=login("admin")).json()
    trail = [(a["action"], a["from_state"], a["to_state"], a["actor"]) for a in detail["audit"]]
    assert trail == [
        ("open", None, "new", "system"),
        ("confirm", "new", "confirmed", "sup-haishan"),
        ("notify", "confirmed", "notified", "sup-haishan"),
        ("start_rectification", "notified", "rectifying", "sup-haishan"),
        ("escalate", "rectifying", "escalated", "system"),
        ("start_rectification", "escalated", "rectifying", "sup-haishan"),
        ("request_reinspection", "rectifying", "reinspection", "sup-haishan"),
        ("close", "reinspection", "closed", "sup-haishan"),
    ]
    assert detail["audit"][1]["note"] == "cook without mask on video"
    assert "deadline" in detail["audit"][4]["note"]
    assert [a["camera_id"] for a in detail["alerts"]] == [camera]

    # Closed: the next alert of the same kind opens a new case, even inside the window.
    later = open_case(client, login, camera, "no_mask", datetime.fromisoformat(detail["last_alert_at"]))
    assert later["id"] != cid and later["state"] == "new"


def test_cases_left_unconfirmed_escalate_per_violation_type(
    client: TestClient, login: Login, clock: Clock, sample_district: District
) -> None:
    (cam_a, _), (cam_b, _) = kitchen_cameras(sample_district, "meisha")[1:3]
    start = clock.now
    rodent = open_case(client, login, cam_a, "rodent", start)["id"]  # 30 min to confirm
    hat = open_case(client, login, cam_b, "no_hat", start, validated=False)["id"]  # 4 h
    escalated = escalate(client, start + timedelta(minutes=31))
    assert rodent in escalated and hat not in escalated
    assert hat in escalate(client, start + timedelta(hours=4, minutes=1))
    case = client.get(f"/api/cases/{rodent}", headers=login("admin")).json()
    assert (case["state"], case["escalated_from"], case["allowed_actions"][:2]) == (
        "escalated",
        "new",
        ["confirm", "false_alarm"],
    )
    dismissed = act(client, login, "sup-meisha", hat, "false_alarm", note="a hairnet, not a bare head")
    assert dismissed.json()["state"] == "false_alarm"
    assert act(client, login, "sup-meisha", rodent, "confirm").json()["state"] == "confirmed"


def test_illegal_transitions_are_refused_with_the_reason(
    client: TestClient, login: Login, clock: Clock, sample_district: District
) -> None:
    camera, _ = kitchen_cameras(sample_district, "yantian")[1]
    cid = open_case(client, login, camera, "no_hat", clock.now, validated=False)["id"]
    closing = act(client, login, "sup-yantian", cid, "close")
    assert closing.status_code == 409
    assert "cannot close a case that is new" in closing.json()["detail"]
    assert "allowed now: confirm, false_alarm" in closing.json()["detail"]
    assert act(client, login, "sup-yantian", cid, "false_alarm").status_code == 200
    final = act(client, login, "sup-yantian", cid, "confirm")
    assert final.status_code == 409 and "final" in final.json()["detail"]
    unknown = act(client, login, "admin", cid, "reopen")
    assert unknown.status_code == 422 and "action" in unknown.json()["detail"]
    assert act(client, login, "admin", 999999, "confirm").status_code == 404


def test_who_may_see_and_act_on_a_case(
    client: TestClient, login: Login, clock: Clock, sample_district: District
) -> None:
    camera, _ = kitchen_cameras(sample_district, "shatoujiao")[1]
    cid = open_case(client, login, camera, "rodent", clock.now)["id"]
    inspector = next(u for u in sample_district.users if u.role == "inspector")
    other = next(
        u for u in sample_district.users if u.role == "inspector" and u.inspector != inspector.inspector
    )
    assert inspector.inspector and other.inspector

    foreign = act(client, login, "sup-meisha", cid, "confirm")
    assert foreign.status_code == 403 and "shatoujiao" in foreign.json()["detail"]
    assert client.get(f"/api/cases/{cid}", headers=login("sup-meisha")).status_code == 403
    wall = act(client, login, "wall", cid, "comment", note="hello")
    assert wall.status_code == 403 and "read-only" in wall.json()["detail"]
    assert client.get(f"/api/cases/{cid}", headers=login("wall")).status_code == 200
    assert client.get(f"/api/cases/{cid}", headers=login(inspector.username)).status_code == 403

    bad = act(client, login, "sup-shatoujiao", cid, "assign", inspector_id="nobody")
    assert bad.status_code == 422 and "no inspector 'nobody'" in bad.json()["detail"]
    assert act(client, login, "sup-shatoujiao", cid, "assign").status_code == 422
    assigned = act(client, login, "sup-shatoujiao", cid, "assign", inspector_id=inspector.inspector)
    assert assigned.status_code == 200 and assigned.json()["inspector_id"] == inspector.inspector

    mine = client.get("/api/cases", headers=login(inspector.username))
    assert [c["id"] for c in mine.json()] == [cid] and mine.headers["X-Total-Count"] == "1"
    assert client.get("/api/cases", headers=login(other.username)).json() == []
    assert client.get(f"/api/cases/{cid}", headers=login(other.username)).status_code == 403
    verdict = act(client, login, inspector.username, cid, "confirm")
    assert verdict.status_code == 403 and "for supervisors" in verdict.json()["detail"]
    assert act(client, login, inspector.username, cid, "comment", note="on my way").status_code == 200
    assert act(client, login, other.username, cid, "comment", note="me too").status_code == 403

    assert act(client, login, "sup-shatoujiao", cid, "confirm").status_code == 200
    assert (
        act(client, login, inspector.username, cid, "notify", note="told the owner on site").status_code
        == 200
    )
    deadline = (clock.now + timedelta(days=1)).isoformat()
    assert (
        act(client, login, inspector.username, cid, "start_rectification", deadline=deadline).status_code
        == 200
    )
    assert act(client, login, inspector.username, cid, "request_reinspection").status_code == 200
    assert act(client, login, inspector.username, cid, "close", note="visited: traps set").status_code == 200


def test_case_lists_are_scoped_and_filtered(
    client: TestClient, login: Login, clock: Clock, sample_district: District
) -> None:
    camera, restaurant = kitchen_cameras(sample_district, "haishan")[3]
    open_case(client, login, camera, "no_mask", clock.now)
    haishan = client.get("/api/cases", params={"state": "open"}, headers=login("sup-haishan"))
    assert haishan.status_code == 200 and {c["street_id"] for c in haishan.json()} == {"haishan"}
    assert (
        client.get("/api/cases", params={"street": "meisha"}, headers=login("sup-haishan")).status_code == 403
    )
    mine = client.get(
        "/api/cases", params={"restaurant": restaurant, "violation": "no_mask"}, headers=login("admin")
    )
    assert mine.headers["X-Total-Count"] == "1" and mine.json()[0]["state"] == "new"
    assert client.get("/api/cases", params={"state": "nonsense"}, headers=login("admin")).status_code == 422
    everything = int(client.get("/api/cases", headers=login("wall")).headers["X-Total-Count"])
    assert everything >= int(haishan.headers["X-Total-Count"])


def test_the_audit_trail_cannot_be_rewritten(client: TestClient) -> None:
    ctx = context(client)
    with pytest.raises(AuditImmutableError), transaction(ctx.sessions) as session:
        row = session.query(CaseAudit).first()
        assert row is not None
        row.note = "nothing happened"
    with pytest.raises(AuditImmutableError), transaction(ctx.sessions) as session:
        row = session.query(CaseAudit).first()
        session.delete(row)
