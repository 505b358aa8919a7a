"""Field tasks through the API on SQLite and PostgreSQL: a supervisor pushes a task for a case in
re-inspection, the inspector gets it live, accepts, is noticed on site by the geofence, uploads photos,
submits findings, and the case closes; refusals with their reasons; bad photos."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from command_center.events.schemas import CameraStatus
from config.district import District
from inspection.tasks.photos import MAX_PHOTO_BYTES
from tests.command_center.alerts.support import eventually, publish, receive, token

Login = Callable[[str], dict[str, str]]
STREET = "haishan"


def jpeg(color: tuple[int, int, int] = (200, 40, 40), size: tuple[int, int] = (64, 48)) -> bytes:
    """A small real JPEG, made here."""
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="JPEG")
    return out.getvalue()


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 90, 0)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def people(sample_district: District) -> dict[str, str]:
    """Two inspectors of the street (user names = inspector ids in the sample) and one of another."""
    mine = [i.id for i in sample_district.inspectors if i.street == STREET]
    other = next(i.id for i in sample_district.inspectors if i.street != STREET)
    return {"first": mine[0], "second": mine[1], "elsewhere": other}


def restaurant(district: District, index: int) -> tuple[str, float, float]:
    r = [r for r in district.restaurants if r.street == STREET][index]
    return r.id, r.lat, r.lon


def open_case(client: TestClient, login: Login, restaurant_id: str, violation: str) -> int:
    """A manual alert (hotline call) opens a case; returns its id."""
    created = client.post(
        "/api/alerts",
        json={"restaurant_id": restaurant_id, "violation": violation, "note": "hotline call"},
        headers=login("admin"),
    )
    assert created.status_code == 202, created.text

    def case_id() -> int | None:
        rows = client.get("/api/cases", params={"restaurant": restaurant_id}, headers=login("admin")).json()
        return next((c["id"] for c in rows if c["violation"] == violation), None)

    found: int = eventually(case_id, what=f"the case of {restaurant_id}")
    return found


def to_reinspection(client: TestClient, login: Login, case_id: int) -> None:
    headers = login(f"sup-{STREET}")
    deadline = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    for body in (
        {"action": "confirm"},
        {"action": "notify"},
        {"action": "start_rectification", "deadline": deadline},
        {"action": "request_reinspection", "note": "restaurant says it is fixed"},
    ):
        response = client.post(f"/api/cases/{case_id}/actions", json=body, headers=headers)
        assert response.status_code == 200, response.text


def task_action(client: TestClient, login: Login, user: str, task_id: int, action: str) -> Any:
    return client.post(f"/api/tasks/{task_id}/actions", json={"action": action}, headers=login(user))


def test_a_task_from_push_to_closed_case(
    client: TestClient, login: Login, sample_district: District, people: dict[str, str]
) -> None:
    rid, lat, lon = restaurant(sample_district, 0)
    case_id = open_case(client, login, rid, "rodent")
    to_reinspection(client, login, case_id)
    supervisor, inspector = login(f"sup-{STREET}"), people["first"]
    with (
        client.websocket_connect(f"/ws?token={token(login(inspector))}") as phone,
        client.websocket_connect(f"/ws?token={token(login(people['second']))}") as colleague,
    ):
        assert receive(phone)["type"] == receive(colleague)["type"] == "hello"
        created = client.post(
            "/api/tasks",
            json={"case_id": case_id, "inspector_id": inspector, "instructions": "check the store room"},
            headers=supervisor,
        )
        assert created.status_code == 201, created.text
        task = created.json()
        assert (task["state"], task["restaurant_id"], task["street_id"]) == ("assigned", rid, STREET)
        assert task["allowed_actions"] == ["accept", "decline", "cancel"]
        # Pushed live to the inspector's phone: the task, and the case now assigned to them.
        frames = [receive(phone), receive(phone)]
        assert {(f["type"], f.get("action")) for f in frames} == {
            ("task.updated", "create"),
            ("case.updated", "assign"),
        }
        pushed = next(f for f in frames if f["type"] == "task.updated")
        assert (pushed["task_id"], pushed["state"], pushed["case_id"]) == (task["id"], "assigned", case_id)
        # The colleague of the same street is not pushed someone else's task.
        marker = CameraStatus(camera_id="no-such-camera", state="online")
        publish(client, marker)
        assert receive(colleague)["id"] == marker.id

    me = login(inspector)
    assert [t["id"] for t in client.get("/api/tasks", params={"state": "open"}, headers=me).json()] == [
        task["id"]
    ]
    assert client.get(f"/api/cases/{case_id}", headers=me).json()["inspector_id"] == inspector
    accepted = task_action(client, login, inspector, task["id"], "accept")
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"

    # The phone reports from the restaurant's door: the geofence visit marks the task on site.
    now = int(datetime.now(UTC).timestamp())
    for k, at in enumerate((now - 120, now - 60, now)):
        fix = {"id": inspector, "lat": lat + k * 0.00005, "lon": lon, "timestamp": at}
        assert client.get("/osmand", params=fix).status_code == 200

    def on_site() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(f"/api/tasks/{task['id']}", headers=me).json()
        return body if body["state"] == "on_site" else None

    arrived = eventually(on_site, what="the geofence arrival")
    assert arrived["arrival"] == "geofence" and arrived["visit_id"] is not None

    # Photos: multipart (a phone's <input type=file>) and a raw body; the same photo twice is one record.
    first = client.post(
        f"/api/tasks/{task['id']}/photos",
        files={"photo": ("IMG_0001.jpg", jpeg(), "image/jpeg")},
        data={"caption": "store room"},
        headers=me,
    )
    assert first.status_code == 201, first.text
    assert (first.json()["content_type"], first.json()["caption"]) == ("image/jpeg", "store room")
    again = client.post(
        f"/api/tasks/{task['id']}/photos", content=jpeg(), headers={**me, "Content-Type": "image/jpeg"}
    )
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    second = client.post(f"/api/tasks/{task['id']}/photos?caption=drain", content=png(), headers=me)
    assert second.status_code == 201 and second.json()["content_type"] == "image/png"
    served = client.get(first.json()["url"], headers=supervisor)
    assert served.status_code == 200 and served.content == jpeg()
    assert served.headers["content-type"] == "image/jpeg"

    findings = {
        "outcome": "compliant",
        "checklist": {"pest_control": "ok", "food_storage": "ok", "cold_chain": "na"},
        "text": "holes sealed, traps in place, no droppings",
    }
    submitted = client.post(f"/api/tasks/{task['id']}/findings", json=findings, headers=me)
    assert submitted.status_code == 200, submitted.text
    assert (submitted.json()["state"], submitted.json()["outcome"]) == ("submitted", "compliant")
    assert submitted.json()["allowed_actions"] == []

    case = client.get(f"/api/cases/{case_id}", headers=supervisor).json()
    assert case["state"] == "closed"
    closing = case["audit"][-1]
    assert (closing["action"], closing["actor"]) == ("close", inspector)
    assert f"field task {task['id']}: compliant" in closing["note"] and "2 photo(s)" in closing["note"]
    assert "no geofence visit" not in closing["note"]

    detail = client.get(f"/api/tasks/{task['id']}", headers=supervisor).json()
    assert [(a["action"], a["actor"], a["to_state"]) for a in detail["audit"]] == [
        ("create", f"sup-{STREET}", "assigned"),
        ("accept", inspector, "accepted"),
        ("arrive", "system", "on_site"),
        ("submit", inspector, "submitted"),
    ]
    assert detail["audit"][-1]["details"]["case_action"] == "close"
    assert [p["caption"] for p in detail["photos"]] == ["store room", "drain"]
    assert detail["checklist"]["pest_control"] == "ok"


def test_a_violation_on_reinspection_needs_a_deadline_and_starts_rectification(
    client: TestClient, login: Login, sample_district: District, people: dict[str, str]
) -> None:
    rid, _, _ = restaurant(sample_district, 1)
    case_id = open_case(client, login, rid, "no_hat")
    to_reinspection(client, login, case_id)
    inspector = people["second"]
    task = client.post(
        "/api/tasks", json={"case_id": case_id, "inspector_id": inspector}, headers=login(f"sup-{STREET}")
    ).json()
    assert task_action(client, login, inspector, task["id"], "accept").status_code == 200
    # GPS fails in the basement kitchen: the inspector says they are there by hand.
    arrived = task_action(client, login, inspector, task["id"], "arrive").json()
    assert (arrived["state"], arrived["arrival"], arrived["visit_id"]) == ("on_site", "manual", None)
    findings: dict[str, Any] = {"outcome": "violation", "checklist": {"staff_hygiene": "fail"}}
    # Tried: a violation on a case in re-inspection without a new deadline.
    missing = client.post(f"/api/tasks/{task['id']}/findings", json=findings, headers=login(inspector))
    assert missing.status_code == 422 and "deadline" in missing.json()["detail"]
    assert client.get(f"/api/tasks/{task['id']}", headers=login(inspector)).json()["state"] == "on_site"
    findings["deadline"] = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    done = client.post(f"/api/tasks/{task['id']}/findings", json=findings, headers=login(inspector))
    assert done.status_code == 200, done.text
    case = client.get(f"/api/cases/{case_id}", headers=login("admin")).json()
    assert case["state"] == "rectifying"
    assert "failed: staff_hygiene" in case["audit"][-1]["note"]
    assert "no geofence visit recorded" in case["audit"][-1]["note"]


def test_who_may_create_see_and_act(
    client: TestClient, login: Login, sample_district: District, people: dict[str, str]
) -> None:
    rid, _, _ = restaurant(sample_district, 2)
    case_id = open_case(client, login, rid, "no_mask")
    supervisor = login(f"sup-{STREET}")
    body = {"case_id": case_id, "inspector_id": people["first"]}
    # Tried: another street's supervisor, an inspector, the wall display creating a task.
    assert client.post("/api/tasks", json=body, headers=login("sup-meisha")).status_code == 403
    assert client.post("/api/tasks", json=body, headers=login(people["first"])).status_code == 403
    assert client.post("/api/tasks", json=body, headers=login("wall")).status_code == 403
    # Tried: tasking an inspector of another street.
    elsewhere = client.post(
        "/api/tasks", json={**body, "inspector_id": people["elsewhere"]}, headers=supervisor
    )
    assert elsewhere.status_code == 403 and people["elsewhere"] in elsewhere.json()["detail"]
    # Tried: unknown inspector, unknown case, both case and restaurant, a due time in the past.
    unknown = client.post("/api/tasks", json={**body, "inspector_id": "insp-99"}, headers=supervisor)
    assert unknown.status_code == 422 and "insp-99" in unknown.json()["detail"]
    assert client.post("/api/tasks", json={**body, "case_id": 999_999}, headers=supervisor).status_code == 404
    both = client.post("/api/tasks", json={**body, "restaurant_id": rid}, headers=supervisor)
    assert both.status_code == 422 and "either case_id or restaurant_id" in both.json()["detail"]
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert client.post("/api/tasks", json={**body, "due_at": past}, headers=supervisor).status_code == 422

    task = client.post("/api/tasks", json=body, headers=supervisor).json()
    # Tried: a second open task for the same case.
    twice = client.post("/api/tasks", json={**body, "inspector_id": people["second"]}, headers=supervisor)
    assert twice.status_code == 409 and f"open task {task['id']}" in twice.json()["detail"]
    # Seeing: the assignee, the street's supervisor, admin, wall; not a colleague, not another street.
    for user, code in [
        (people["first"], 200),
        (f"sup-{STREET}", 200),
        ("admin", 200),
        ("wall", 200),
        (people["second"], 403),
        ("sup-meisha", 403),
    ]:
        assert client.get(f"/api/tasks/{task['id']}", headers=login(user)).status_code == code, user
    assert task["id"] not in [t["id"] for t in client.get("/api/tasks", headers=login("sup-meisha")).json()]
    assert client.get(f"/api/tasks/{task['id']}/photos/1", headers=login("sup-meisha")).status_code == 403
    # Acting: a colleague cannot accept it, the inspector cannot cancel it, the wall cannot act.
    assert task_action(client, login, people["second"], task["id"], "accept").status_code == 403
    assert task_action(client, login, people["first"], task["id"], "cancel").status_code == 403
    assert task_action(client, login, "wall", task["id"], "cancel").status_code == 403
    # Tried: arriving and submitting before accepting; photos before accepting.
    early = task_action(client, login, people["first"], task["id"], "arrive")
    assert early.status_code == 409 and "allowed now: accept, decline, cancel" in early.json()["detail"]
    photo = client.post(f"/api/tasks/{task['id']}/photos", content=jpeg(), headers=login(people["first"]))
    assert photo.status_code == 409 and "after accepting" in photo.json()["detail"]
    declined = task_action(client, login, people["first"], task["id"], "decline")
    assert declined.status_code == 200 and declined.json()["state"] == "declined"
    # Declined: the supervisor dispatches again, to the colleague.
    again = client.post("/api/tasks", json={**body, "inspector_id": people["second"]}, headers=supervisor)
    assert again.status_code == 201
    cancelled = task_action(client, login, f"sup-{STREET}", again.json()["id"], "cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert task_action(client, login, people["second"], again.json()["id"], "accept").status_code == 409
    # A task without a case: a routine visit to a restaurant.
    routine = client.post(
        "/api/tasks", json={"restaurant_id": rid, "inspector_id": people["second"]}, headers=supervisor
    )
    assert routine.status_code == 201 and routine.json()["case_id"] is None
    assert client.get("/api/tasks", params={"state": "sleeping"}, headers=supervisor).status_code == 422


def test_bad_photos_and_findings_get_clear_4xx(
    client: TestClient, login: Login, sample_district: District, people: dict[str, str]
) -> None:
    rid, _, _ = restaurant(sample_district, 3)
    inspector = people["second"]
    me = login(inspector)
    task = client.post(
        "/api/tasks", json={"restaurant_id": rid, "inspector_id": inspector}, headers=login("admin")
    ).json()
    assert task_action(client, login, inspector, task["id"], "accept").status_code == 200
    url = f"/api/tasks/{task['id']}/photos"

    def upload(content: bytes, name: str = "photo.jpg", kind: str = "image/jpeg") -> Any:
        return client.post(url, files={"photo": (name, content, kind)}, headers=me)

    # Tried: a text file named .jpg and sent as image/jpeg: the content decides.
    text = upload(b"this is not a photo at all")
    assert text.status_code == 415 and "not a JPEG, PNG or WebP" in text.json()["detail"]
    # Tried: a GIF (a real image, not an accepted type).
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, format="GIF")
    assert upload(gif.getvalue(), "x.gif", "image/gif").status_code == 415
    # Tried: a PNG whose pixel data was damaged after the header.
    broken = bytearray(png())
    broken[-20:-12] = b"\x00" * 8
    damaged = upload(bytes(broken), "x.png", "image/png")
    assert damaged.status_code == 415 and "not a readable PNG" in damaged.json()["detail"]
    # Tried: an empty upload and a form without the photo field.
    assert upload(b"").status_code == 415
    nofield = client.post(url, files={"picture": ("a.jpg", jpeg(), "image/jpeg")}, headers=me)
    assert nofield.status_code == 422 and "photo" in nofield.json()["detail"]
    # Tried: a photo over the limit, raw and as multipart: 413 with the limit.
    big = jpeg() + b"\x00" * (MAX_PHOTO_BYTES + 1)
    raw = client.post(url, content=big, headers={**me, "Content-Type": "image/jpeg"})
    assert raw.status_code == 413 and str(MAX_PHOTO_BYTES) in raw.json()["detail"]
    assert upload(big).status_code == 413
    # Tried: a caption longer than 200 characters, photos on someone else's task and an unknown task.
    assert client.post(f"{url}?caption={'x' * 201}", content=jpeg(), headers=me).status_code == 422
    assert client.post(url, content=jpeg(), headers=login(people["first"])).status_code == 403
    assert client.post("/api/tasks/999999/photos", content=jpeg(), headers=me).status_code == 404
    # Nothing was stored by any of these.
    assert client.get(f"/api/tasks/{task['id']}", headers=me).json()["photos"] == []

    findings = f"/api/tasks/{task['id']}/findings"
    # Tried: an unknown checklist item, an unknown verdict, a violation with nothing said, no outcome.
    typo = client.post(findings, json={"outcome": "compliant", "checklist": {"pest": "ok"}}, headers=me)
    assert typo.status_code == 422 and "unknown checklist item(s) pest" in typo.json()["detail"]
    verdict = client.post(
        findings, json={"outcome": "compliant", "checklist": {"waste": "maybe"}}, headers=me
    )
    assert verdict.status_code == 422
    silent = client.post(findings, json={"outcome": "violation"}, headers=me)
    assert silent.status_code == 422 and "what was found" in silent.json()["detail"]
    assert client.post(findings, json={"checklist": {}}, headers=me).status_code == 422
    ok = client.post(
        findings, json={"outcome": "violation", "text": "expired milk in the fridge"}, headers=me
    )
    assert ok.status_code == 200 and ok.json()["state"] == "submitted"
    # Submitted is final: no second submission, no more photos.
    assert client.post(findings, json={"outcome": "compliant"}, headers=me).status_code == 409
    assert client.post(url, content=jpeg(), headers=me).status_code == 409
    checklist = client.get("/api/tasks/checklist", headers=me).json()
    assert "pest_control" in [c["key"] for c in checklist]
