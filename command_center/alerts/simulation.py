"""Simulated detections and supervisors for ``mscc demo``: cases open from detections on the simulated
cameras and move through their states as people would work them.

:func:`simulate_detections` publishes ``alert.created`` events as the detector pipeline would (no
pixels, so no evidence); :func:`simulate_supervisors` logs in as the street supervisors and works their
open cases over HTTP, exactly as the console does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from command_center.events.bus import BusUnavailable, EventBus
from command_center.events.schemas import AlertCreated
from config.district import District

log = logging.getLogger(__name__)

# (violation, validated model?, weight by day, weight by night): masks are the validated model; the hat
# model is not validated on real kitchens yet; rodents come out at night.
_VIOLATIONS = (("no_mask", True, 55, 20), ("no_hat", False, 40, 15), ("rodent", True, 5, 65))


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def _is_night(tz: ZoneInfo) -> bool:
    hour = datetime.now(tz).hour
    return hour >= 22 or hour < 6


async def simulate_detections(
    bus: EventBus,
    district: District,
    *,
    every_s: float = 20.0,
    stop: asyncio.Event,
    camera_ids: Collection[str] | None = None,
    seed: int = 11,
    violations: Collection[str] | None = None,
) -> None:
    """Publish a detection on a random restaurant camera about every ``every_s`` seconds until ``stop``:
    no_mask (validated), no_hat (not validated) and, at night in the district's time zone, mostly
    rodents. A third of them come as a short burst (the same problem seen again), which the case
    collects. ``camera_ids`` limits them to the cameras the demo simulates; ``violations`` to the types
    no real detector covers in the demo."""
    kinds = [v for v in _VIOLATIONS if violations is None or v[0] in violations]
    if not kinds:
        return
    streets = {r.id: r.street for r in district.restaurants}
    cameras = [
        (c.id, c.owner.id, streets[c.owner.id])
        for c in district.cameras
        if c.owner.kind == "restaurant"
        and c.owner.id in streets
        and (camera_ids is None or c.id in camera_ids)
    ]
    if not cameras:
        log.warning("simulated detections: no restaurant cameras to simulate")
        return
    rng = random.Random(seed)
    tz = ZoneInfo(district.timezone)
    while not stop.is_set():
        await _pause(stop, min(max(rng.expovariate(1 / every_s), every_s * 0.2), every_s * 3))
        if stop.is_set():
            return
        camera, restaurant, street = rng.choice(cameras)
        night = _is_night(tz)
        weights = [night_w if night else day_w for _, _, day_w, night_w in kinds]
        violation, validated, _, _ = rng.choices(kinds, weights)[0]
        for repeat in range(rng.choice((1, 1, 2, 3))):
            if repeat:
                await _pause(stop, every_s * rng.uniform(0.1, 0.3))
            event = AlertCreated(
                camera_id=camera,
                restaurant_id=restaurant,
                street_id=street,
                violation=violation,
                score=round(rng.uniform(0.55, 0.97), 2),
                validated=validated,  # as the model it stands in for would report
                evidence_url=None,
                source="simulated",  # shown as such: no model saw anything
            )
            try:
                await bus.publish(event)
            except BusUnavailable as exc:
                log.warning("simulated detection not published: %s", exc)


# What a supervisor does next with a case, by state: (action, probability); the rest of the time the
# case waits for a later round, which is how deadlines come to pass and cases to escalate.
_NEXT: dict[str, list[tuple[str, float]]] = {
    "new": [("confirm", 0.6), ("false_alarm", 0.25)],
    "confirmed": [("notify", 0.8)],
    "notified": [("start_rectification", 0.8)],
    "rectifying": [("request_reinspection", 0.35)],
    "reinspection": [("close", 0.7), ("start_rectification", 0.15)],
}


def _choose(case: dict[str, Any], rng: random.Random) -> str | None:
    state = case["escalated_from"] if case["state"] == "escalated" else case["state"]
    if case["state"] == "escalated" and state == "rectifying":
        state = "notified"  # a missed deadline: set a new one
    roll = rng.random()
    for action, chance in _NEXT.get(state or "new", []):
        if action == "false_alarm" and not case["validated"]:
            chance += 0.2  # the unvalidated model is wrong more often
        if roll < chance:
            return action if action in case["allowed_actions"] else None
        roll -= chance
    return None


async def simulate_supervisors(
    district: District,
    base_url: str,
    *,
    password: str,
    every_s: float = 15.0,
    stop: asyncio.Event,
    seed: int = 5,
    max_actions: int | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """Every ``every_s`` seconds, each street supervisor looks at their open cases and moves one or two
    on: confirm or dismiss, notify, set a short (demo-scale, 2-8 min) rectification deadline, request the
    re-inspection, close. Runs until ``stop`` (or ``max_actions``); returns how many actions it took."""
    rng = random.Random(seed)
    supervisors = [u.username for u in district.users if u.role == "street_supervisor"]
    taken = 0
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0, transport=transport) as http:
        tokens: dict[str, str] = {}
        while not stop.is_set() and (max_actions is None or taken < max_actions):
            for username in supervisors:
                try:
                    taken += await _work(http, tokens, username, password, rng)
                except httpx.HTTPError as exc:
                    log.warning("simulated supervisor %s: %s", username, exc)
                    tokens.pop(username, None)
                if max_actions is not None and taken >= max_actions:
                    break
            await _pause(stop, every_s)
    return taken


async def _work(
    http: httpx.AsyncClient, tokens: dict[str, str], username: str, password: str, rng: random.Random
) -> int:
    if username not in tokens:
        login = await http.post("/api/auth/token", data={"username": username, "password": password})
        login.raise_for_status()
        tokens[username] = login.json()["access_token"]
    headers = {"Authorization": f"Bearer {tokens[username]}"}
    listed = await http.get("/api/cases", params={"state": "open", "limit": 20}, headers=headers)
    listed.raise_for_status()
    done = 0
    for case in rng.sample(listed.json(), k=min(2, len(listed.json()))):
        action = _choose(case, rng)
        if action is None:
            continue
        body: dict[str, Any] = {"action": action, "note": f"simulated {username}"}
        if action == "start_rectification":
            deadline = datetime.now(UTC) + timedelta(minutes=rng.uniform(2, 8))
            body["deadline"] = deadline.isoformat()
        response = await http.post(f"/api/cases/{case['id']}/actions", json=body, headers=headers)
        if response.status_code == 200:
            done += 1
        elif response.status_code != 409:  # 409: someone else moved it first; fine
            log.warning(
                "simulated %s on case %s: %s %s", action, case["id"], response.status_code, response.text
            )
    return done
