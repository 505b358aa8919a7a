"""Statistics and the risk ranking on a known set of cases (a fresh database per module), scoped."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from command_center.cases import flows
from command_center.events.schemas import AlertCreated
from command_center.risk.service import decay
from config.district import District
from tests.command_center.alerts.support import Clock, call, context, eventually, kitchen_cameras, publish

Login = Callable[[str], dict[str, str]]


class World:
    """The cases this module builds once: ids by name and the restaurants and cameras involved."""

    def __init__(self, district: District) -> None:
        (self.cam_a, self.rest_a), (self.cam_b, self.rest_b) = kitchen_cameras(district, "haishan")[:2]
        self.cam_c, self.rest_c = kitchen_cameras(district, "meisha")[0]
        self.case: dict[str, int] = {}
        self.start = datetime.min


def _case_of(client: TestClient, login: Login, event: AlertCreated) -> int:
    publish(client, event)

    def case_id() -> int | None:
        rows = client.get("/api/alerts", params={"event_id": event.id}, headers=login("admin")).json()
        return rows[0]["case_id"] if rows else None

    found: int = eventually(case_id, what=f"case of {event.violation}")
    return found


def _act(client: TestClient, login: Login, user: str, case_id: int, action: str, **body: Any) -> None:
    response = client.post(
        f"/api/cases/{case_id}/actions", json={"action": action, **body}, headers=login(user)
    )
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def world(client: TestClient, login: Login, clock: Clock, sample_district: District) -> World:
    w = World(sample_district)
    w.start = t0 = clock.now
    w.case["rodent"] = _case_of(client, login, AlertCreated(camera_id=w.cam_a, violation="rodent", ts=t0))
    w.case["no_hat"] = _case_of(
        client, login, AlertCreated(camera_id=w.cam_b, violation="no_hat", validated=False, ts=t0)
    )
    w.case["no_mask"] = _case_of(client, login, AlertCreated(camera_id=w.cam_c, violation="no_mask", ts=t0))
    w.case["lab"] = _case_of(
        client,
        login,
        AlertCreated(
            restaurant_id=w.rest_c, violation="lab_failed", ts=t0, lab_id="lab-room-1", sample="noodles"
        ),
    )
    w.case["tampered"] = _case_of(
        client, login, AlertCreated(camera_id=w.cam_a, violation="camera_tampered", ts=t0)
    )

    clock.now = t0 + timedelta(minutes=5)
    _act(client, login, "sup-haishan", w.case["no_hat"], "false_alarm", note="hairnet")
    clock.now = t0 + timedelta(minutes=10)
    _act(client, login, "sup-haishan", w.case["rodent"], "confirm")
    _act(client, login, "sup-haishan", w.case["rodent"], "notify")
    deadline = (t0 + timedelta(days=1)).isoformat()
    _act(client, login, "sup-haishan", w.case["rodent"], "start_rectification", deadline=deadline)
    clock.now = t0 + timedelta(minutes=20)
    _act(client, login, "sup-meisha", w.case["no_mask"], "confirm")
    _act(client, login, "sup-meisha", w.case["no_mask"], "notify")
    _act(
        client,
        login,
        "sup-meisha",
        w.case["no_mask"],
        "start_rectification",
        deadline=(t0 + timedelta(hours=2)).isoformat(),
    )
    _act(client, login, "sup-meisha", w.case["no_mask"], "request_reinspection")
    clock.now = t0 + timedelta(hours=3)
    _act(client, login, "sup-meisha", w.case["no_mask"], "close")
    # The rodent deadline passes; the lab and camera cases are left unconfirmed but not escalated yet.
    clock.now = t0 + timedelta(days=1, minutes=1)
    call(client, flows.escalate_now, context(client))
    return w


def test_the_overview_adds_up(client: TestClient, login: Login, world: World) -> None:
    body = client.get("/api/stats/overview", headers=login("admin")).json()
    open_cases = {(o["street_id"], o["violation"]): o["count"] for o in body["open_cases"]}
    assert open_cases == {
        ("haishan", "rodent"): 1,
        ("haishan", "camera_tampered"): 1,
        ("meisha", "lab_failed"): 1,
    }
    assert body["open_by_state"] == {"escalated": 3}  # the periodic check escalated the unconfirmed two too
    assert body["time_to_confirm"] == {"cases": 2, "median_s": 900.0, "mean_s": 900.0}
    assert body["time_to_close"] == {"cases": 1, "median_s": 10800.0, "mean_s": 10800.0}
    assert [o["case_id"] for o in body["overdue_rectifications"]] == [world.case["rodent"]]
    rates = {r["camera_id"]: (r["judged"], r["false_alarms"], r["rate"]) for r in body["false_alarm_rates"]}
    assert rates == {world.cam_b: (1, 1, 1.0), world.cam_a: (1, 0, 0.0), world.cam_c: (1, 0, 0.0)}
    assert next(iter(rates)) == world.cam_b  # worst first
    per_day = body["alerts_per_day"]
    assert len(per_day) == 14 and sum(d["count"] for d in per_day) == 5


def test_the_overview_is_scoped(client: TestClient, login: Login, world: World) -> None:
    haishan = client.get("/api/stats/overview", headers=login("sup-haishan")).json()
    assert {o["street_id"] for o in haishan["open_cases"]} == {"haishan"}
    assert {r["camera_id"] for r in haishan["false_alarm_rates"]} == {world.cam_a, world.cam_b}
    assert sum(d["count"] for d in haishan["alerts_per_day"]) == 3
    refused = client.get("/api/stats/overview", params={"street": "meisha"}, headers=login("sup-haishan"))
    assert refused.status_code == 403
    inspector = client.get("/api/stats/overview", headers=login("insp-01")).json()
    assert inspector["open_cases"] == [] and inspector["overdue_rectifications"] == []


def test_the_trend_is_a_png_chart(client: TestClient, login: Login, world: World) -> None:
    response = client.get(
        "/api/stats/alerts-per-day.png", params={"street": "haishan"}, headers=login("admin")
    )
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape[0] > 100 and image.shape[1] > 300
    assert (
        client.get(
            "/api/stats/alerts-per-day.png", params={"street": "meisha"}, headers=login("sup-haishan")
        ).status_code
        == 403
    )


def test_restaurants_are_ranked_by_risk(client: TestClient, login: Login, clock: Clock, world: World) -> None:
    ranked = client.get("/api/restaurants/ranking", headers=login("admin"))
    assert ranked.status_code == 200, ranked.text
    rows = ranked.json()
    assert [(r["rank"], r["restaurant_id"]) for r in rows] == [(1, world.rest_a), (2, world.rest_c)]
    a, c = rows
    age = clock.now - world.start
    # A: a confirmed rodent (5), a tampered camera (3), a missed deadline (2).
    # C: a confirmed missing mask (2) and a lab failure (4).
    assert a["score"] == pytest.approx(10 * decay(age), abs=0.01)
    assert c["score"] == pytest.approx(6 * decay(age), abs=0.01)
    assert (a["confirmed_violations"], a["camera_findings"], a["missed_deadlines"], a["lab_failures"]) == (
        1,
        1,
        1,
        0,
    )
    assert (c["confirmed_violations"], c["lab_failures"], c["by_violation"]) == (1, 1, {"no_mask": 1})
    # B's only finding was a false alarm: it does not count.
    assert world.rest_b not in {r["restaurant_id"] for r in rows}
    haishan = client.get("/api/restaurants/ranking", headers=login("sup-haishan")).json()
    assert [r["restaurant_id"] for r in haishan] == [world.rest_a]
    other = client.get("/api/restaurants/ranking", params={"street": "meisha"}, headers=login("sup-haishan"))
    assert other.status_code == 403
