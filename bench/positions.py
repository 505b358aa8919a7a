"""GPS ingest throughput: single OsmAnd requests (as phones send them) against batched JSON ingest.

    python bench/positions.py [--seconds 20] [--concurrency 16] [--batch 500]

Starts the real app (SQLite, in-process bus, the sample district) under uvicorn in a child process, then
for ``--seconds`` each: (1) sends one fix per ``GET /osmand`` request from ``--concurrency`` clients, (2)
posts ``POST /api/positions`` batches of ``--batch`` fixes. The 24 sample devices move 12 m every 0.25 s
(173 km/h of simulated time, under the 200 km/h filter, over the 10 m jitter filter), so every fix
passes the filter chain and is stored. Prints requests/s and positions/s of each phase and the ratio
batched/single positions/s. The issue aims at >= 1,000 single requests/s and >= 5,000 positions/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere
from bench.push import PASSWORD, start_server

DEVICES = [f"insp-{k:02d}" for k in range(1, 21)] + [f"veh-{k:02d}" for k in range(1, 5)]
STEP_S = 0.25
STEP_DEG = 12 / 111_000


def fixes() -> Iterator[dict[str, Any]]:
    """An endless round-robin of plausible fixes of the sample devices, each 12 m and 0.25 s on."""
    start = datetime.now(UTC) - timedelta(minutes=8)
    k = 0
    while True:
        for n, device in enumerate(DEVICES):
            ts = start + timedelta(seconds=k * STEP_S)
            yield {
                "device_id": device,
                "ts": ts,
                "lat": 22.50 + n * 0.003 + k * STEP_DEG,
                "lon": 114.20 + n * 0.003,
            }
        k += 1


async def single(
    base: str, seconds: float, concurrency: int, source: Iterator[dict[str, Any]]
) -> tuple[int, int, float]:
    """Phase 1: one fix per OsmAnd request; returns (requests, stored, elapsed)."""
    done = stored = 0
    deadline = time.perf_counter() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal done, stored
        while time.perf_counter() < deadline:
            fix = next(source)
            params = {
                "id": fix["device_id"],
                "lat": f"{fix['lat']:.7f}",
                "lon": f"{fix['lon']:.7f}",
                "timestamp": str(int(fix["ts"].timestamp() * 1000)),
                "speed": "20",
                "accuracy": "5",
            }
            response = await client.get(f"{base}/osmand", params=params)
            done += 1
            stored += response.status_code == 200 and response.text == "OK"

    began = time.perf_counter()
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency)) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return done, stored, time.perf_counter() - began


async def batched(
    base: str, token: str, seconds: float, size: int, source: Iterator[dict[str, Any]]
) -> tuple[int, int, float]:
    """Phase 2: batches of ``size`` fixes on ``POST /api/positions``; returns (requests, stored, elapsed)."""
    done = stored = 0
    deadline = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {token}"}

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal done, stored
        while time.perf_counter() < deadline:
            batch = [
                {**f, "ts": f["ts"].isoformat(), "accuracy": 5.0} for f in (next(source) for _ in range(size))
            ]
            response = await client.post(f"{base}/api/positions", json={"positions": batch}, headers=headers)
            done += 1
            stored += response.json()["accepted"] if response.status_code == 200 else 0

    began = time.perf_counter()
    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(worker(client) for _ in range(2)))
    return done, stored, time.perf_counter() - began


def main() -> None:
    """Parse the command line, start the server, run both phases, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=20, help="length of each phase (default 20)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent OsmAnd clients (default 16)")
    parser.add_argument("--batch", type=int, default=500, help="fixes per batch request (default 500)")
    args = parser.parse_args()
    print("$ " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.executable), *sys.argv]), flush=True)
    with tempfile.TemporaryDirectory(prefix="mscc-bench-positions-") as tmp:
        child, base = start_server(Path(tmp))
        try:
            print(
                f"server: uvicorn pid {child.pid} at {base} (SQLite, in-process bus, sample district)",
                flush=True,
            )
            token = httpx.post(
                f"{base}/api/auth/token", data={"username": "admin", "password": PASSWORD}
            ).json()
            source = fixes()
            s_req, s_ok, s_t = asyncio.run(single(base, args.seconds, args.concurrency, source))
            b_req, b_ok, b_t = asyncio.run(
                batched(base, token["access_token"], args.seconds, args.batch, source)
            )
        finally:
            child.terminate()
            child.wait(30)
    single_rate, batch_rate = s_ok / s_t, b_ok / b_t
    print(
        f"single  OsmAnd: {s_req / s_t:8.0f} requests/s {single_rate:8.0f} positions/s "
        f"({s_ok}/{s_req} stored)"
    )
    print(
        f"batched x{args.batch}: {b_req / b_t:8.1f} requests/s {batch_rate:8.0f} positions/s ({b_ok} stored)"
    )
    print(
        f"ratio batched/single positions/s: {batch_rate / single_rate if single_rate else float('inf'):.1f}"
    )
    print("targets: >= 1000 single requests/s, >= 5000 positions/s batched")


if __name__ == "__main__":
    main()
