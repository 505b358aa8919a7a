"""What the console needs to tell model output from stand-ins: each case says where its alerts came from
(``sources``), and each alert carries its unannotated evidence frame next to the annotated one."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from config.district import District
from tests.command_center.alerts.support import Clock, kitchen_cameras
from tests.command_center.cases.test_cases_api import Login, act, open_case

EVIDENCE = "/api/evidence/" + "a" * 64 + ".jpg"
RAW = "/api/evidence/" + "b" * 64 + ".jpg"


def test_cases_name_the_sources_of_their_alerts(
    client: TestClient, login: Login, clock: Clock, sample_district: District
) -> None:
    camera, _ = kitchen_cameras(sample_district, "meisha")[0]
    case = open_case(
        client,
        login,
        camera,
        "no_hat",
        clock.now,
        validated=False,
        source="simulated",
        evidence_url=EVIDENCE,
        raw_evidence_url=RAW,
    )
    assert case["sources"] == ["simulated"]
    assert (case["alerts"][0]["evidence_url"], case["alerts"][0]["raw_evidence_url"]) == (EVIDENCE, RAW)

    # A detector alert joins the same case: both sources, sorted, in the list, the detail and the
    # answer to an action.
    joined = open_case(client, login, camera, "no_hat", clock.now + timedelta(minutes=1), source="detector")
    assert joined["id"] == case["id"]
    assert joined["sources"] == ["detector", "simulated"]
    listed = client.get("/api/cases", params={"state": "open"}, headers=login("sup-meisha")).json()
    assert [c["sources"] for c in listed if c["id"] == case["id"]] == [["detector", "simulated"]]
    comment = act(client, login, "sup-meisha", case["id"], "comment", note="looking at it")
    assert comment.status_code == 200, comment.text
    assert comment.json()["sources"] == ["detector", "simulated"]
    assert joined["alerts"][1]["raw_evidence_url"] is None
