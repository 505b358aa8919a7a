"""Racing transitions on one case: exactly one wins, the others get 409 and the audit trail shows one
step. The point is PostgreSQL (row locks, read committed); SQLite runs the same tests."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from command_center.auth.principal import Principal
from command_center.cases import service
from command_center.cases.models import Case
from command_center.database.core import transaction
from command_center.events.schemas import AlertCreated
from config.district import District
from tests.command_center.alerts.support import Clock, context, eventually, kitchen_cameras, publish

Login = Callable[[str], dict[str, str]]
ADMIN = Principal(user_id=0, username="race-admin", role="district_admin")


def _new_case(client: TestClient, login: Login, camera: str) -> int:
    event = AlertCreated(camera_id=camera, violation="no_mask")
    publish(client, event)

    def case_id() -> int | None:
        rows = client.get("/api/alerts", params={"event_id": event.id}, headers=login("admin")).json()
        return rows[0]["case_id"] if rows else None

    found: int = eventually(case_id, what="the case to open")
    return found


def test_of_two_writers_that_read_the_same_version_only_the_first_wins(
    client: TestClient, login: Login, clock: Clock, sample_district: District
) -> None:
    camera, _ = kitchen_cameras(sample_district, "yantian")[2]
    cid = _new_case(client, login, camera)
    sessions = context(client).sessions
    with sessions() as first, sessions() as second:
        mine, theirs = first.get(Case, cid), second.get(Case, cid)
        assert mine is not None and theirs is not None and mine.version == theirs.version
        service.transition(first, case=mine, action="confirm", actor="a", now=clock.now)
        first.commit()
        with pytest.raises(service.CaseConflictError, match="changed by someone else"):
            # ``theirs`` still says "new", so the state machine allows false_alarm: the version refuses it.
            service.transition(second, case=theirs, action="false_alarm", actor="b", now=clock.now)
        second.rollback()
    with transaction(sessions) as session:
        stored = session.get(Case, cid)
        assert stored is not None and stored.state == "confirmed"
        assert [a.actor for a in service.audit_trail(session, case_id=cid)] == ["system", "a"]


def test_concurrent_requests_have_exactly_one_winner(
    client: TestClient, login: Login, sample_district: District
) -> None:
    camera, _ = kitchen_cameras(sample_district, "yantian")[3]
    cid = _new_case(client, login, camera)
    headers = login("sup-yantian")
    actions = ["confirm", "false_alarm"] * 4
    barrier = threading.Barrier(len(actions))
    statuses: list[int] = []
    lock = threading.Lock()

    def race(action: str) -> None:
        barrier.wait()
        response = client.post(f"/api/cases/{cid}/actions", json={"action": action}, headers=headers)
        assert response.status_code in (200, 409), response.text
        if response.status_code == 409:
            assert response.json()["detail"]
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=race, args=(a,)) for a in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert Counter(statuses) == {200: 1, 409: len(actions) - 1}
    detail = client.get(f"/api/cases/{cid}", headers=headers).json()
    assert detail["version"] == 2
    assert [a["from_state"] for a in detail["audit"]] == [None, "new"]
    assert detail["state"] in ("confirmed", "false_alarm")
