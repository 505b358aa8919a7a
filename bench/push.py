"""WebSocket push latency: an alert reaching N clients connected to one server.

    python bench/push.py [--clients 1000] [--rounds 10]

Starts the real app (SQLite, in-process bus, the sample district) under uvicorn in a child process,
connects N WebSocket clients (the district admin, the wall display and the street's supervisor, in
turn), then posts a manual alert ``--rounds`` times and measures, for every client, the time from the
POST leaving this process to the ``alert.created`` frame arriving. Prints p50/p95/p99/max over all
deliveries and the ratio p99 / 0.5 s, the target of the case issue (at most 1 passes). The same rounds
with a single client, in the same run, are the baseline. The clients run in this one process, so the
time its event loop takes to read 1,000 sockets is part of what is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets

PASSWORD = "bench-password"  # noqa: S105 - a throw-away server on 127.0.0.1
TARGET_S = 0.5
STREET = "haishan"
USERS = ("admin", "wall", f"sup-{STREET}")  # each of them sees the alerts of STREET


def raise_fd_limit() -> int:
    """Raise the open-file limit to the hard limit (a socket per client); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def serve(port: int, data_dir: Path) -> None:
    """The child process: the real app on SQLite with the sample district's users."""
    import uvicorn

    from command_center.app import create_app
    from command_center.database.core import transaction
    from command_center.demo import ensure_users
    from config.loader import load_district, sample_district_path
    from config.settings import Settings

    raise_fd_limit()
    district = load_district(sample_district_path())
    settings = Settings(environment="demo", data_dir=data_dir, database_url=None, redis_url=None)
    app = create_app(settings, district=district, migrate=True)
    with transaction(app.state.ctx.sessions) as session:
        ensure_users(session, district, PASSWORD)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", ws_max_queue=64)


def free_port() -> int:
    """A TCP port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start the server child and wait (up to 120 s) until /healthz answers; returns it and its URL."""
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"the server exited with {child.returncode} during start-up")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return child, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    child.terminate()
    raise SystemExit("the server did not start within 120 s")


class Receivers:
    """N WebSocket clients recording when each round's alert reaches them."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = {}
        self.connected = 0
        self.tasks: list[asyncio.Task[None]] = []

    async def connect(self, url: str, count: int, tokens: dict[str, str]) -> None:
        """Open ``count`` connections (50 handshakes at a time) and wait until each got its hello."""
        gate = asyncio.Semaphore(50)
        ready = [asyncio.Event() for _ in range(count)]
        for n in range(count):
            token = tokens[USERS[n % len(USERS)]]
            self.tasks.append(asyncio.create_task(self._client(f"{url}/ws?token={token}", gate, ready[n])))
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), timeout=300)

    async def _client(self, url: str, gate: asyncio.Semaphore, ready: asyncio.Event) -> None:
        async with gate:
            ws = await websockets.connect(url, open_timeout=120, ping_interval=None, max_size=None)
            json.loads(await ws.recv())  # hello
        self.connected += 1
        ready.set()
        async with ws:
            async for message in ws:
                arrived = time.perf_counter()
                frame = json.loads(message)
                if frame.get("type") == "alert.created" and str(frame.get("note", "")).startswith("bench"):
                    self.arrivals.setdefault(frame["note"], []).append(arrived)

    async def close(self) -> None:
        """Disconnect every client."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def rounds(
    base: str, http: httpx.AsyncClient, receivers: Receivers, count: int, label: str, restaurant: str
) -> list[float]:
    """Post ``count`` alerts, one at a time; returns every client's latency of every round, in seconds."""
    latencies: list[float] = []
    for n in range(count):
        note = f"bench {label} round {n}"
        sent = time.perf_counter()
        response = await http.post(
            f"{base}/api/alerts", json={"restaurant_id": restaurant, "violation": "rodent", "note": note}
        )
        response.raise_for_status()
        deadline = time.monotonic() + 30
        while len(receivers.arrivals.get(note, [])) < receivers.connected:
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"{label}: only {len(receivers.arrivals.get(note, []))} clients got round {n}"
                )
            await asyncio.sleep(0.01)
        latencies += [t - sent for t in receivers.arrivals[note]]
        await asyncio.sleep(0.3)  # let the alert.updated / case.updated frames that follow settle
    return latencies


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def measure(base: str, clients: int, count: int) -> dict[str, list[float]]:
    """The baseline (one client), then ``clients`` clients, on the same server."""
    async with httpx.AsyncClient(timeout=30) as http:
        tokens = {}
        for user in USERS:
            login = await http.post(f"{base}/api/auth/token", data={"username": user, "password": PASSWORD})
            login.raise_for_status()
            tokens[user] = login.json()["access_token"]
        http.headers["Authorization"] = f"Bearer {tokens['admin']}"
        listed = await http.get(f"{base}/api/restaurants", params={"street": STREET, "limit": 1})
        restaurant = listed.json()[0]["id"]
        ws_url = base.replace("http://", "ws://")
        results = {}
        for n in (1, clients):
            receivers = Receivers()
            started = time.perf_counter()
            await receivers.connect(ws_url, n, tokens)
            print(f"{n} client(s) connected in {time.perf_counter() - started:.1f} s", flush=True)
            try:
                results[str(n)] = await rounds(base, http, receivers, count, f"{n}", restaurant)
            finally:
                await receivers.close()
        return results


def report(results: dict[str, list[float]], clients: int) -> None:
    """The latency table and the ratios."""
    print(f"{'clients':>8} {'deliveries':>11} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for label, values in results.items():
        ms = [v * 1000 for v in values]
        print(
            f"{label:>8} {len(ms):>11} {statistics.median(ms):>8.1f} {percentile(ms, 95):>8.1f} "
            f"{percentile(ms, 99):>8.1f} {max(ms):>8.1f}"
        )
    many = results[str(clients)]
    print(f"ratio p99 / {TARGET_S} s target ({clients} clients): {percentile(many, 99) / TARGET_S:.3f}")
    slowdown = statistics.median(many) / statistics.median(results["1"])
    print(f"ratio p50 {clients} clients / 1 client: {slowdown:.1f}")


def main() -> None:
    """Parse the command line; run the benchmark (or, with --serve, the server child)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=1000, help="WebSocket clients (default 1000)")
    parser.add_argument("--rounds", type=int, default=10, help="alerts posted (default 10)")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.data_dir)
        return
    print("$ " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.executable), *sys.argv]), flush=True)
    print(f"open-file limit: {raise_fd_limit()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="mscc-bench-push-") as tmp:
        child, base = start_server(Path(tmp))
        try:
            print(
                f"server: uvicorn pid {child.pid} at {base} (SQLite, in-process bus, sample district)",
                flush=True,
            )
            results = asyncio.run(measure(base, args.clients, args.rounds))
        finally:
            child.terminate()
            child.wait(30)
    report(results, args.clients)


if __name__ == "__main__":
    main()
