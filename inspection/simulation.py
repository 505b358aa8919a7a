"""Simulated inspectors and test vehicles for ``mscc demo``: they move between restaurants and report
over HTTP with the OsmAnd protocol, exactly as a phone tracker app would."""

from __future__ import annotations

import asyncio
import logging
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from config.district import District
from inspection.gps.geo import haversine_m

log = logging.getLogger(__name__)

KMH_TO_KNOTS = 1 / 1.852


@dataclass
class _Walker:
    device_id: str
    lat: float
    lon: float
    speed_kmh: float
    stops: list[tuple[float, float]]
    target: tuple[float, float]
    dwell_s: float = 0.0
    bearing: float = 0.0
    failures: int = 0

    def step(self, rng: random.Random, dt: float) -> None:
        """Move towards the target; on arrival dwell a while (a visit), then pick the next stop."""
        if self.dwell_s > 0:
            self.dwell_s -= dt
            return
        remaining = haversine_m(self.lat, self.lon, *self.target)
        travel = self.speed_kmh / 3.6 * dt
        if travel >= remaining:
            self.lat, self.lon = self.target
            self.dwell_s = rng.uniform(20, 90)
            self.target = rng.choice(self.stops)
            return
        frac = travel / remaining
        dlat, dlon = self.target[0] - self.lat, self.target[1] - self.lon
        self.bearing = math.degrees(math.atan2(dlon * math.cos(math.radians(self.lat)), dlat)) % 360
        self.lat += dlat * frac
        self.lon += dlon * frac


def _walkers(district: District, rng: random.Random) -> list[_Walker]:
    by_street: dict[str, list[tuple[float, float]]] = {}
    for r in district.restaurants:
        by_street.setdefault(r.street, []).append((r.lat, r.lon))
    every = [p for stops in by_street.values() for p in stops]
    walkers = []
    for i in district.inspectors:
        stops = by_street.get(i.street) or every
        start = rng.choice(stops)
        walkers.append(_Walker(i.device_id, *start, rng.uniform(12, 20), stops, rng.choice(stops)))
    for v in district.vehicles:
        start = rng.choice(every)
        walkers.append(_Walker(v.device_id, *start, rng.uniform(25, 35), every, rng.choice(every)))
    return walkers


async def run_field_simulation(
    district: District,
    base_url: str,
    *,
    interval_s: float = 5.0,
    seed: int = 7,
    stop: asyncio.Event | None = None,
) -> None:
    """Report every device's position to ``base_url``/osmand every ``interval_s`` until cancelled.

    Devices report staggered across the interval, like independent phones. Failed requests are logged
    and the device simply reports again next time, as a real tracker app would.
    """
    rng = random.Random(seed)
    walkers = _walkers(district, rng)
    stop = stop or asyncio.Event()
    async with httpx.AsyncClient(base_url=base_url, timeout=5.0) as client:
        while not stop.is_set():
            for walker in walkers:
                walker.step(rng, interval_s)
                params = {
                    "id": walker.device_id,
                    "lat": f"{walker.lat:.6f}",
                    "lon": f"{walker.lon:.6f}",
                    "timestamp": str(int(datetime.now(UTC).timestamp())),
                    "speed": f"{(0 if walker.dwell_s > 0 else walker.speed_kmh) * KMH_TO_KNOTS:.1f}",
                    "bearing": f"{walker.bearing:.0f}",
                    "accuracy": f"{rng.uniform(4, 15):.0f}",
                    "batt": f"{rng.uniform(40, 100):.0f}",
                }
                try:
                    response = await client.get("/osmand", params=params)
                    if response.status_code != 200:
                        log.warning(
                            "simulated device %s: %s %s",
                            walker.device_id,
                            response.status_code,
                            response.text,
                        )
                except httpx.HTTPError as exc:
                    log.warning("simulated device %s could not report: %s", walker.device_id, exc)
                await asyncio.sleep(interval_s / len(walkers))
