"""Simulated food-testing labs for ``mscc demo``: the district's lab rooms and test vehicles post quick-
test results over HTTP as they test samples, through the same API as a real lab's software; a few
fail, and each failure becomes a ``lab_failed`` alert and a case for the restaurant.

Rooms test samples from restaurants of their own street; vehicles from anywhere in the district. The
tests and limits are the usual rapid tests of Chinese market supervision (GB 2763 pesticide residues,
GB 2760 additives, GB 2761 mycotoxins); the values are drawn, clearly simulated (operator "demo").
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from config.district import District

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuickTest:
    """One kind of rapid test: what is measured, how, the legal limit and a typical passing value."""

    item: str
    method: str
    unit: str
    limit: float
    typical: float


TESTS = (
    QuickTest(
        "Organophosphate pesticide residue, leafy greens",
        "Enzyme inhibition (GB/T 5009.199)",
        "% inhibition",
        50,
        15,
    ),
    QuickTest("Formaldehyde, soaked aquatic products", "Colorimetric rapid test", "mg/kg", 10, 2),
    QuickTest("Sulfur dioxide, dried day lily", "Colorimetric rapid test", "g/kg", 0.2, 0.05),
    QuickTest("Nitrite, cooked meat", "Colorimetric rapid test (GB 2760)", "mg/kg", 30, 8),
    QuickTest("Aflatoxin B1, peanut oil", "Colloidal gold strip (GB 2761)", "µg/kg", 20, 3),
    QuickTest("Clenbuterol, pork", "Colloidal gold strip", "µg/kg", 0.5, 0.05),
    QuickTest("Malachite green, live fish", "Colloidal gold strip", "µg/kg", 2, 0.2),
)


class LabSimulator:
    """Draws plausible results of the district's labs; :meth:`next_result` is one sample tested now."""

    def __init__(self, district: District, *, seed: int = 5, fail_rate: float = 0.06) -> None:
        self.rng = random.Random(seed)
        self.fail_rate = fail_rate
        by_street: dict[str, list[str]] = {}
        for r in district.restaurants:
            by_street.setdefault(r.street, []).append(r.id)
        every = [r.id for r in district.restaurants]
        self.labs = [(lab.id, by_street.get(lab.street or "", []) or every) for lab in district.labs]
        self._turn = itertools.cycle(range(len(self.labs)))
        self._count = itertools.count(1)

    def next_result(self, now: datetime) -> dict[str, Any]:
        """The next lab in turn tests a sample from one of its restaurants: a ``POST /api/lab-results``
        body, failing with probability ``fail_rate``."""
        lab_id, restaurants = self.labs[next(self._turn)]
        test = self.rng.choice(TESTS)
        if self.rng.random() < self.fail_rate:
            value = test.limit * self.rng.uniform(1.2, 3.0)
        else:
            value = min(test.limit * 0.95, test.typical * self.rng.uniform(0.2, 1.8))
        return {
            "lab_id": lab_id,
            "sample_id": f"{lab_id}-{now:%Y%m%d}-{next(self._count):05d}",
            "restaurant_id": self.rng.choice(restaurants),
            "item": test.item,
            "method": test.method,
            "measured_value": round(value, 3),
            "limit": test.limit,
            "unit": test.unit,
            "operator": "demo",
            "tested_at": now.isoformat(),
        }


async def run_lab_simulation(
    district: District,
    base_url: str,
    *,
    password: str,
    stop: asyncio.Event,
    username: str = "admin",
    every_s: float = 6.0,
    seed: int = 5,
) -> None:
    """Post a result about every ``every_s`` seconds (the labs take turns) until ``stop``. The labs
    have no logins of their own yet, so they post as the district admin, as a lab's upload tool would
    with a service account. Failed posts are logged and the sample is simply not recorded."""
    if not district.labs or not district.restaurants:
        return
    simulator = LabSimulator(district, seed=seed)
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as client:
        token = await _login(client, username, password, stop)
        if token is None:
            return
        headers = {"Authorization": f"Bearer {token}"}
        while not stop.is_set():
            body = simulator.next_result(datetime.now(UTC))
            try:
                response = await client.post("/api/lab-results", json=body, headers=headers)
                if response.status_code != 201:
                    log.warning(
                        "simulated lab %s: %s %s", body["lab_id"], response.status_code, response.text
                    )
            except httpx.HTTPError as exc:
                log.warning("simulated lab %s could not post: %s", body["lab_id"], exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s * simulator.rng.uniform(0.5, 1.5))


async def _login(client: httpx.AsyncClient, username: str, password: str, stop: asyncio.Event) -> str | None:
    while not stop.is_set():
        try:
            response = await client.post("/api/auth/token", data={"username": username, "password": password})
            if response.status_code == 200:
                return str(response.json()["access_token"])
            log.warning("simulated labs cannot log in as %s: %s", username, response.text)
            return None
        except httpx.HTTPError as exc:
            log.warning("simulated labs: server not reachable yet (%s)", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 2.0)
    return None
