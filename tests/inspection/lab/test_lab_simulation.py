"""The demo's simulated labs: plausible results of the 8 sample labs, a few failures, and, posted through
the real API, failures that become lab_failed cases while every lab's chain stays intact."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from config.district import District
from inspection.lab.schemas import LabResultIn
from inspection.lab.simulation import LabSimulator
from tests.command_center.alerts.support import eventually

Login = Callable[[str], dict[str, str]]


def test_the_labs_take_turns_with_plausible_results(sample_district: District) -> None:
    simulator = LabSimulator(sample_district, seed=5)
    streets = {r.id: r.street for r in sample_district.restaurants}
    rooms = {lab.id: lab.street for lab in sample_district.labs if lab.kind == "room"}
    results = [LabResultIn.model_validate(simulator.next_result(datetime.now(UTC))) for _ in range(400)]
    assert Counter(r.lab_id for r in results) == {lab.id: 50 for lab in sample_district.labs}
    for r in results:
        if r.lab_id in rooms:
            assert streets[str(r.restaurant_id)] == rooms[r.lab_id], r  # a room tests its own street
    failed = [r for r in results if not r.passed]
    assert 0.02 <= len(failed) / len(results) <= 0.12
    assert all(r.measured_value > r.limit for r in failed)
    assert len({r.sample_id for r in results}) == len(results)


def test_simulated_failures_open_lab_failed_cases(
    client: TestClient, login: Login, sample_district: District
) -> None:
    simulator = LabSimulator(sample_district, seed=9, fail_rate=0.25)
    bodies = [simulator.next_result(datetime.now(UTC)) for _ in range(24)]
    for body in bodies:
        response = client.post("/api/lab-results", json=body, headers=login("admin"))
        assert response.status_code == 201, response.text
    failed = {b["restaurant_id"] for b in bodies if b["measured_value"] > b["limit"]}
    assert failed, "the seed gives some failures"

    def lab_cases() -> set[str] | None:
        rows = client.get("/api/cases", params={"violation": "lab_failed"}, headers=login("admin")).json()
        found = {c["restaurant_id"] for c in rows}
        return found if found >= failed else None

    assert eventually(lab_cases, what="a lab_failed case per failing restaurant") == failed
    verify = client.get("/api/lab-results/verify", headers=login("admin")).json()
    assert verify["ok"] is True
    assert sum(lab["results"] for lab in verify["labs"]) == len(bodies)
