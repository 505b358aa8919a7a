"""The inspector's phone and a field task: pushed live by the supervisor, accepted, a photo taken, the
findings submitted, as a person does it in the browser."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

try:
    from playwright.sync_api import expect
except ImportError:  # conftest explains: fail on CI, skip elsewhere
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("the Python package 'playwright' is not installed", allow_module_level=True)

from tests.web_ui.conftest import LiveServer
from tests.web_ui.test_pages import _log_in

STREET = "haishan"


def test_inspector_accepts_a_pushed_task_and_submits_findings(
    live_server: LiveServer, new_page: Any, tmp_path: Path
) -> None:
    inspector = next(
        i for i in live_server.get("/api/inspectors", "admin").json() if i["street_id"] == STREET
    )
    restaurant = live_server.get("/api/restaurants", "admin", street=STREET, limit=1).json()[0]
    page = new_page(390, 844)
    page.goto(f"{live_server.url}/field")
    _log_in(page, inspector["id"])
    expect(page.locator("#tasks")).to_contain_text("No open tasks")

    supervisor = {"Authorization": f"Bearer {live_server.token(f'sup-{STREET}')}"}
    created = httpx.post(
        f"{live_server.url}/api/tasks",
        json={
            "restaurant_id": restaurant["id"],
            "inspector_id": inspector["id"],
            "instructions": "Check the cold room",
        },
        headers=supervisor,
    )
    assert created.status_code == 201, created.text
    task_id = created.json()["id"]

    # Pushed over the WebSocket: a banner and the task card, without reloading.
    banner = page.locator("#banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(f"New task: {restaurant['name']}")
    card = page.locator(f'#tasks li[data-task="{task_id}"]')
    expect(card).to_contain_text("Check the cold room")
    expect(card.locator(".task-state")).to_have_text("New")
    page.click("#banner-ok")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    card.locator("[data-action=accept]").click()
    expect(card.locator(".task-state")).to_have_text("Accepted")
    assert live_server.get(f"/api/tasks/{task_id}", "admin").json()["state"] == "accepted"

    photo = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 200)).save(photo, format="JPEG")
    card.locator("input[name=photo]").set_input_files(
        {"name": "cold-room.jpg", "mimeType": "image/jpeg", "buffer": photo.getvalue()}
    )
    expect(card.locator("label.photo")).to_contain_text("Photos (1)")
    # A file that is not a photo is refused with the server's reason, and the form stays as typed.
    card.locator("textarea[name=text]").fill("Cold room at 3 °C, clean")
    card.locator("input[name=photo]").set_input_files(
        {"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"not an image"}
    )
    expect(card.locator(".task-error")).to_contain_text("not a JPEG, PNG or WebP")
    expect(card.locator("textarea[name=text]")).to_have_value("Cold room at 3 °C, clean")
    card.locator("select[name=check-cold_chain]").select_option("ok")
    card.locator("input[name=outcome][value=compliant]").check()
    page.screenshot(path=tmp_path / "field-task.png", full_page=True, animations="disabled")
    card.get_by_role("button", name="Submit findings").click()
    expect(page.locator("#tasks")).to_contain_text("No open tasks")

    done = live_server.get(f"/api/tasks/{task_id}", "admin").json()
    assert (done["state"], done["outcome"], done["findings"]) == (
        "submitted",
        "compliant",
        "Cold room at 3 °C, clean",
    )
    assert done["checklist"] == {"cold_chain": "ok"}
    assert [p["caption"] for p in done["photos"]] == ["cold-room.jpg"]
