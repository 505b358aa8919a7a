"""Lab results: posting by role, the per-lab hash chain and its tamper detection, CSV row reports, the
lab_failed alert that opens a case, and street scoping."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from command_center.database.core import transaction

Login = Callable[[str], dict[str, str]]


def _result(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "lab_id": "lab-room-1",
        "sample_id": "S-0001",
        "restaurant_id": "r002",
        "item": "lettuce",
        "method": "enzyme inhibition (organophosphate)",
        "measured_value": 12.5,
        "limit": 50,
        "unit": "% inhibition",
        "passed": True,
        "operator": "Li Na",
        "tested_at": datetime.now(UTC).isoformat(),
    }
    body.update(overrides)
    return body


def test_post_chain_and_roles(client: TestClient, login: Login) -> None:
    admin = login("admin")
    first = client.post("/api/lab-results", json=_result(), headers=admin)
    assert first.status_code == 201, first.text
    second = client.post("/api/lab-results", json=_result(sample_id="S-0002"), headers=admin).json()
    assert (first.json()["seq"], second["seq"]) == (1, 2)
    assert second["prev_hash"] == first.json()["hash"] and first.json()["prev_hash"] == "0" * 64
    # Inspectors post for the test vehicles only; supervisors and the wall only read.
    vehicle = _result(lab_id="lab-vehicle-1", restaurant_id=None, market_stall="Shatoujiao market stall 7")
    assert client.post("/api/lab-results", json=vehicle, headers=login("insp-01")).status_code == 201
    assert client.post("/api/lab-results", json=_result(), headers=login("insp-01")).status_code == 403
    assert client.post("/api/lab-results", json=_result(), headers=login("sup-shatoujiao")).status_code == 403
    bad = [
        _result(lab_id="lab-room-9"),
        _result(restaurant_id="r999"),
        _result(restaurant_id=None),
        _result(tested_at=(datetime.now(UTC) + timedelta(days=1)).isoformat()),
        _result(measured_value="NaN"),
    ]
    assert [client.post("/api/lab-results", json=b, headers=admin).status_code for b in bad] == [422] * 5
    assert client.get("/api/lab-results/verify", headers=admin).json()["ok"] is True


def test_failure_opens_a_case_and_lists_are_scoped(client: TestClient, login: Login) -> None:
    admin = login("admin")
    failed = _result(
        lab_id="lab-room-2", restaurant_id="r080", measured_value=72, passed=None, sample_id="S-9"
    )
    body = client.post("/api/lab-results", json=failed, headers=admin).json()
    assert body["passed"] is False and body["street_id"] == "haishan"
    cases: list[dict[str, Any]] = []
    for _ in range(50):
        cases = client.get("/api/cases", params={"restaurant_id": "r080"}, headers=admin).json()
        if any(c["violation"] == "lab_failed" for c in cases):
            break
        time.sleep(0.1)
    assert [c["violation"] for c in cases] == ["lab_failed"]
    seen = client.get("/api/lab-results", headers=login("sup-meisha")).json()
    assert all(r["street_id"] in (None, "meisha") for r in seen)
    assert "r080" in {
        r["restaurant_id"] for r in client.get("/api/lab-results", headers=login("sup-haishan")).json()
    }


def test_csv_upload_reports_rows_by_line(client: TestClient, login: Login) -> None:
    now = datetime.now(UTC).isoformat()
    csv_text = (
        "sample_id,restaurant_id,market_stall,item,method,measured_value,limit,unit,passed,operator,tested_at\n"
        f"C-1,r150,,pork,clenbuterol strip,0,0.5,ug/kg,pass,Wang,{now}\n"
        f"C-2,r151,,rice,cadmium,lots,0.2,mg/kg,fail,Wang,{now}\n"
        f"C-3,r999,,tofu,borax,0,1,g/kg,pass,Wang,{now}\n"
        f"C-4,,,egg,sudan red,0,0,mg/kg,pass,Wang,{now}\n"
        f"C-5,r152,,fish,malachite green,3.1,0,ug/kg,fail,Wang,{now},extra\n"
        f"C-6,r153,,noodles,formaldehyde,12,10,mg/kg,fail,Wang,{now}\n"
    )
    response = client.post(
        "/api/lab-results/csv",
        params={"lab_id": "lab-room-3"},
        files={"file": ("results.csv", csv_text.encode(), "text/csv")},
        headers=login("admin"),
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["stored"], report["failed"]) == (2, 4)
    rows = {r["line"]: r for r in report["rows"]}
    assert [line for line, r in rows.items() if r["ok"]] == [2, 7]
    assert "measured_value" in rows[3]["errors"][0]
    assert "unknown restaurant" in rows[4]["errors"][0]
    assert "restaurant_id or market_stall" in rows[5]["errors"][0]
    assert "more values" in rows[6]["errors"][0]
    assert [rows[2]["seq"], rows[7]["seq"]] == [1, 2]
    empty = client.post(
        "/api/lab-results/csv", files={"file": ("x.csv", b"", "text/csv")}, headers=login("admin")
    )
    assert empty.status_code == 400


def test_tampering_breaks_the_chain(client: TestClient, login: Login, app: FastAPI) -> None:
    admin = login("admin")
    for k in range(3):
        client.post(
            "/api/lab-results",
            json=_result(lab_id="lab-room-4", restaurant_id="r210", sample_id=f"T{k}"),
            headers=admin,
        )
    assert client.get("/api/lab-results/verify", headers=admin).json()["ok"] is True
    with transaction(app.state.ctx.sessions) as session:
        session.execute(
            text("UPDATE lab_results SET measured_value = 0.1 WHERE lab_id = 'lab-room-4' AND seq = 2")
        )
    report = client.get("/api/lab-results/verify", headers=admin).json()
    lab4 = next(s for s in report["labs"] if s["lab_id"] == "lab-room-4")
    assert report["ok"] is False
    assert (lab4["ok"], lab4["first_bad_seq"], lab4["problem"]) == (False, 2, "content changed")
    assert all(s["ok"] for s in report["labs"] if s["lab_id"] != "lab-room-4")
    with transaction(app.state.ctx.sessions) as session:
        session.execute(text("DELETE FROM lab_results WHERE lab_id = 'lab-room-4' AND seq = 2"))
    lab4 = next(
        s
        for s in client.get("/api/lab-results/verify", headers=admin).json()["labs"]
        if s["lab_id"] == "lab-room-4"
    )
    assert (lab4["first_bad_seq"], lab4["problem"]) == (2, "result missing")
