"""The demo's simulated detections open cases, and the simulated supervisors move them on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial

import httpx
from fastapi.testclient import TestClient

from command_center.alerts.simulation import simulate_detections, simulate_supervisors
from config.district import District
from tests.command_center.alerts.support import call, context, eventually, kitchen_cameras
from tests.conftest import PASSWORD

Login = Callable[[str], dict[str, str]]


def test_simulated_detections_open_cases_that_simulated_supervisors_work(
    client: TestClient, login: Login, sample_district: District
) -> None:
    cameras = [camera for camera, _ in kitchen_cameras(sample_district, "yantian")[:3]]
    ctx = context(client)

    async def detect_for_a_while() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(
            simulate_detections(ctx.bus, sample_district, every_s=0.05, stop=stop, camera_ids=cameras)
        )
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.wait_for(task, 5)

    call(client, detect_for_a_while)
    admin = login("admin")

    def simulated() -> list[dict[str, object]]:
        rows: list[dict[str, object]] = client.get(
            "/api/alerts", params={"street": "yantian"}, headers=admin
        ).json()
        return rows if len(rows) >= 5 and all(r["case_id"] for r in rows) else []

    alerts = eventually(simulated, what="simulated detections to be stored in cases")
    assert {a["camera_id"] for a in alerts} <= set(cameras)
    assert {a["violation"] for a in alerts} <= {"no_mask", "no_hat", "rodent"}
    assert all(a["source"] == "simulated" and a["evidence_url"] is None for a in alerts)
    assert all(a["validated"] is (a["violation"] != "no_hat") for a in alerts)

    work = partial(
        simulate_supervisors,
        sample_district,
        "http://mscc.test",
        password=PASSWORD,
        every_s=0.0,
        stop=asyncio.Event(),
        max_actions=6,
        transport=httpx.ASGITransport(app=client.app),
    )

    async def supervise() -> int:
        return await asyncio.wait_for(work(), 30)

    assert call(client, supervise) >= 6
    cases = client.get("/api/cases", params={"street": "yantian"}, headers=admin).json()
    assert any(c["state"] != "new" for c in cases)
    moved = next(c for c in cases if c["state"] != "new")
    trail = client.get(f"/api/cases/{moved['id']}", headers=admin).json()["audit"]
    assert trail[-1]["actor"] == "sup-yantian" and trail[-1]["note"] == "simulated sup-yantian"
