"""``GET /api/detectors`` tells every role which violation types are validated on real data."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient


def test_detector_overview_marks_what_is_not_validated(
    client: TestClient, login: Callable[[str], dict[str, str]]
) -> None:
    assert client.get("/api/detectors").status_code == 401
    body = client.get("/api/detectors", headers=login("sup-haishan")).json()
    by_type = {v["violation"]: v for v in body["violations"]}
    assert by_type["no_mask"]["validated"] is True and by_type["no_mask"]["sources"] == ["model no_mask"]
    assert by_type["no_hat"]["validated"] is False and "no labelled chef-hat" in by_type["no_hat"]["note"]
    assert "night motion rule" in by_type["rodent"]["sources"]
    models = {m["name"]: m for m in body["models"]}
    assert models["no_mask"]["violations"] == {"without_mask": "no_mask", "mask_weared_incorrect": "no_mask"}
    assert body["motion_gating"] is True
