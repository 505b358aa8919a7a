"""GPS ingest throughput: single OsmAnd requests (as phones send them) against batched JSON ingest.

    python bench/positions.py [--seconds 20] [--concurrency 16] [--batch 500]

Starts the real app (SQLite, in-process bus, the sample district) under uvicorn in a child process, then
for ``--seconds`` each: (1) ``--concurrency`` phones, each on its own keep-alive connection, send one fix
per ``GET /osmand?...`` request and wait for the answer; (2) two clients post ``POST /api/positions``
batches of ``--batch`` fixes (httpx). The 24 sample devices move 12 m every 0.25 s (173 km/h of
simulated time, under the 200 km/h filter, over the 10 m jitter filter), so every fix passes the
filter chain and is stored. Prints requests/s and positions/s of each phase, the ratio batched/single
positions/s, PASS/MISS against the issue's aims (>= 1,000 single requests/s, >= 5,000 positions/s
batched) and the CPU of the server process, of this client process and of the whole machine during each
phase: on a shared two-core machine the figures say as much about the neighbours as about the server.

The phones speak HTTP/1.1 on asyncio streams rather than through httpx, whose own CPU per request, on
the same two cores, held this phase to 214 requests/s where the same server answered 533 to these
phones (2026-11-27, loaded machine).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere
from bench.push import PASSWORD, start_server

DEVICES = [f"insp-{k:02d}" for k in range(1, 21)] + [f"veh-{k:02d}" for k in range(1, 5)]
STEP_S = 0.25
STEP_DEG = 12 / 111_000


def fixes() -> Iterator[dict[str, Any]]:
    """An endless round-robin of plausible fixes of the sample devices, each 12 m and 0.25 s on."""
    start = datetime.now(UTC) - timedelta(hours=3)  # room for ~40,000 rounds before "the future"
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


async def _phone(host: str, port: int, deadline: float, source: Iterator[dict[str, Any]]) -> tuple[int, int]:
    """One phone on one keep-alive connection, sending ``GET /osmand?...`` as tracker apps do; returns
    (requests, stored). Written on asyncio streams: a general HTTP client costs several times the
    server's work per request, on the same two cores."""
    reader, writer = await asyncio.open_connection(host, port)
    done = stored = 0
    try:
        while time.perf_counter() < deadline:
            fix = next(source)
            query = urlencode(
                {
                    "id": fix["device_id"],
                    "lat": f"{fix['lat']:.7f}",
                    "lon": f"{fix['lon']:.7f}",
                    "timestamp": str(int(fix["ts"].timestamp() * 1000)),
                    "speed": "20",
                    "accuracy": "5",
                }
            )
            writer.write(f"GET /osmand?{query} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head)[1])  # type: ignore[index]
            body = await reader.readexactly(length)
            done += 1
            stored += head.startswith(b"HTTP/1.1 200") and body == b"OK"
    finally:
        writer.close()
    return done, stored


async def single(
    base: str, seconds: float, concurrency: int, source: Iterator[dict[str, Any]]
) -> tuple[int, int, float]:
    """Phase 1: one fix per OsmAnd request from ``concurrency`` phones: (requests, stored, elapsed)."""
    url = httpx.URL(base)
    began = time.perf_counter()
    deadline = began + seconds
    counts = await asyncio.gather(
        *(_phone(url.host, url.port or 80, deadline, source) for _ in range(concurrency))
    )
    return sum(c[0] for c in counts), sum(c[1] for c in counts), time.perf_counter() - began


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


@dataclass
class Phase:
    """One phase's counts, and the CPU the server, this client and the whole machine used meanwhile."""

    requests: int
    stored: int
    seconds: float
    server_cpu: float
    client_cpu: float
    machine_cpu: float  # of all cores, 100 % = one core
    others_load: float  # the load average at the start

    def cpu(self) -> str:
        """CPU as % of one core."""
        server, client = self.server_cpu / self.seconds * 100, self.client_cpu / self.seconds * 100
        return (
            f"server {server:4.0f} %, client {client:4.0f} %, machine {self.machine_cpu:4.0f} % "
            f"of {(os.cpu_count() or 1) * 100} % (load average {self.others_load:.1f} before)"
        )


TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid``, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_cpu_s() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, summed over cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / TICKS, sum(values) / TICKS


def measured(server: int, run: Callable[[], tuple[int, int, float]]) -> Phase:
    """Run one phase, measuring the CPU time of the server process (all its threads), of this one (the
    client) and of the machine."""
    load = os.getloadavg()[0]
    busy, total = machine_cpu_s()
    server_before, client_before = process_cpu_s(server), time.process_time()
    requests, stored, seconds = run()
    server_cpu = process_cpu_s(server) - server_before
    busy_after, total_after = machine_cpu_s()
    machine = (busy_after - busy) / (total_after - total) * 100 * (os.cpu_count() or 1)
    return Phase(requests, stored, seconds, server_cpu, time.process_time() - client_before, machine, load)


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
            ).json()["access_token"]
            source = fixes()
            server = child.pid
            one = measured(server, lambda: asyncio.run(single(base, args.seconds, args.concurrency, source)))
            many = measured(
                server, lambda: asyncio.run(batched(base, token, args.seconds, args.batch, source))
            )
        finally:
            child.terminate()
            child.wait(30)
    single_rate, batch_rate = one.stored / one.seconds, many.stored / many.seconds
    per_request = one.server_cpu / max(one.requests, 1) * 1000
    print(
        f"single  OsmAnd: {one.requests / one.seconds:8.0f} requests/s {single_rate:8.0f} positions/s "
        f"({one.stored}/{one.requests} stored; server CPU {per_request:.2f} ms a request)"
    )
    print(f"                CPU: {one.cpu()}")
    per_position = many.server_cpu / max(many.stored, 1) * 1e6
    print(
        f"batched x{args.batch}: {many.requests / many.seconds:8.1f} requests/s "
        f"{batch_rate:8.0f} positions/s "
        f"({many.stored} stored; server CPU {per_position:.0f} us a position)"
    )
    print(f"                CPU: {many.cpu()}")
    print(
        f"ratio batched/single positions/s: {batch_rate / single_rate if single_rate else float('inf'):.1f}"
    )
    for name, value, target in (
        ("single requests/s", one.requests / one.seconds, 1000),
        ("batched positions/s", batch_rate, 5000),
    ):
        print(f"target: {name} >= {target}: {value:.0f} -> {'PASS' if value >= target else 'MISS'}")


if __name__ == "__main__":
    main()
