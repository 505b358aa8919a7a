"""``mscc demo``: the whole system in one process on the embedded defaults (SQLite, in-process bus),
the sample district, demo users and simulated inspectors. Ctrl-C stops it cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit, urlunsplit

import uvicorn
from sqlalchemy import select
from sqlalchemy.orm import Session

from command_center.alerts.simulation import simulate_detections, simulate_supervisors
from command_center.app import create_app
from command_center.auth.models import User
from command_center.auth.service import hash_password
from command_center.context import AppContext
from command_center.database.core import transaction
from command_center.serving import OsmAndListener
from config.district import District
from config.loader import load_district, sample_district_path
from config.settings import Settings
from detectors.config import load_detector_config
from detectors.runner import DetectorPipeline
from inspection.lab.simulation import run_lab_simulation
from inspection.simulation import run_field_simulation
from stream_ingest.cameras import specs_from_district
from stream_ingest.frames import EvidenceStore, FrameQueue, SnapshotStore
from stream_ingest.main import evidence_dir, snapshot_dir
from stream_ingest.service import IngestService
from stream_ingest.supervisor import SupervisorOptions
from stream_ingest.worker import CameraSpec

log = logging.getLogger(__name__)

DEMO_PASSWORD = "mscc-demo"  # noqa: S105 - printed at start; the demo binds to 127.0.0.1 by default


class _DemoServer(uvicorn.Server):
    """uvicorn re-raises the Ctrl-C it handled once it has stopped, which would interrupt the demo's own
    shutdown (cameras, simulators) with a KeyboardInterrupt traceback; the demo stops on its own instead."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


class DemoError(RuntimeError):
    """The demo cannot start; the message says why and what to do."""


@dataclass(frozen=True)
class DemoOptions:
    """What the ``mscc demo`` command line chose."""

    host: str = "127.0.0.1"
    port: int = 8000
    cameras: int = 24
    data_dir: Path = Path("mscc-data")
    district_file: Path | None = None
    osmand_port: int | None = None


def run(options: DemoOptions) -> None:
    """Run the demo until Ctrl-C."""
    started = time.monotonic()
    _check_port_free(options.host, options.port)
    if options.osmand_port is not None:
        _check_port_free(options.host, options.osmand_port)
    district = load_district(options.district_file or sample_district_path())
    # The camera simulator (a real RTSP server) prepares its clips and starts in its own process while
    # this one sets up the database, so the two start-ups overlap.
    simulator = (
        CameraSimulatorProcess(options.cameras, options.data_dir / "scenes") if options.cameras else None
    )
    # The demo is the embedded default whatever the environment says: SQLite in the data dir, in-process bus.
    # Recording every simulated camera fills about 3 GB an hour for 24 cameras: keep a day, within 2 GB.
    settings = Settings(
        environment="demo",
        data_dir=options.data_dir,
        database_url=None,
        redis_url=None,
        recordings_days=1,
        recordings_budget_gb=2,
    )
    app = create_app(settings, district=district, migrate=True)
    with transaction(app.state.ctx.sessions) as session:
        created = ensure_users(session, district, DEMO_PASSWORD)
    if created:
        log.info("created %s demo users", created)
    server = _DemoServer(uvicorn.Config(app, host=options.host, port=options.port, log_level="warning"))
    try:
        cameras = simulated_cameras(district, simulator.wait_ready(), options.cameras) if simulator else []
        # uvicorn re-raises the Ctrl-C it caught once it has shut down cleanly.
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(server, app.state.ctx, district, options, started, cameras))
    finally:
        if simulator is not None:
            simulator.stop()
    print("mscc demo stopped.", flush=True)


async def _serve(
    server: uvicorn.Server,
    ctx: AppContext,
    district: District,
    options: DemoOptions,
    started: float,
    cameras: list[CameraSpec],
) -> None:
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            await serving
            raise DemoError("the HTTP server stopped during start-up")
        await asyncio.sleep(0.05)
    base = f"http://{options.host}:{options.port}"
    # With --osmand-port the simulated phones report there, as real ones pointed at port 5055 would.
    osmand = OsmAndListener(ctx, host=options.host, port=options.osmand_port) if options.osmand_port else None
    if osmand is not None:
        await osmand.start()
    phones = f"http://{options.host}:{options.osmand_port}" if options.osmand_port else base
    evidence = EvidenceStore(evidence_dir(ctx.settings))
    # The real detector pipeline on the simulated feeds: the face-mask scenes show real photos, so
    # no_mask alerts come from the model. It loads before any camera connects, so a bad model fails now.
    detector_config = load_detector_config(ctx.settings.detectors_config)
    frames = FrameQueue(maxsize=detector_config.batch.queue)
    ingest = IngestService(
        cameras,
        publish=ctx.bus.publish,
        snapshots=SnapshotStore(snapshot_dir(ctx.settings)),
        evidence=evidence,
        frames=frames,
        options=SupervisorOptions(record_dir=ctx.settings.recordings_dir),
    )
    pipeline = DetectorPipeline(
        detector_config,
        emit=ingest.emit,
        evidence=evidence,
        cameras={c.id: c for c in cameras},
        timezone=district.timezone,
    )
    pipeline.start(frames)
    ingest_stop = asyncio.Event()
    _banner(district, options, base, time.monotonic() - started, cameras)
    camera_ids = [c.id for c in cameras]
    tasks = [
        asyncio.create_task(run_field_simulation(district, phones)),
        asyncio.create_task(ingest.run(ingest_stop)),
        # No simulated scene shows a rodent, and the no-hat stage has no validated model: simulated
        # detections (marked source "simulated") stand in for those two. Supervisors (simulated too)
        # work the cases, through the same HTTP API as people do.
        asyncio.create_task(
            simulate_detections(
                ctx.bus, district, stop=ingest_stop, camera_ids=camera_ids, violations={"no_hat", "rodent"}
            )
        ),
        asyncio.create_task(simulate_supervisors(district, base, password=DEMO_PASSWORD, stop=ingest_stop)),
        # The 8 labs post quick-test results over HTTP; the few failures become lab_failed cases.
        asyncio.create_task(run_lab_simulation(district, base, password=DEMO_PASSWORD, stop=ingest_stop)),
    ]
    try:
        # Stop the simulated phones and cameras as soon as Ctrl-C arrives, before the server stops.
        while not serving.done():
            if server.should_exit:
                ingest_stop.set()
                tasks[0].cancel()
            await asyncio.wait({serving}, timeout=0.2)
        await serving
    finally:
        ingest_stop.set()
        tasks[0].cancel()
        await asyncio.to_thread(pipeline.stop)
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if osmand is not None:
            await osmand.stop()


def ensure_users(session: Session, district: District, password: str) -> int:
    """Create the config's users that do not exist yet, all with ``password``; returns how many.

    One argon2 hash serves them all: hashing is deliberately slow, and 26 hashes would add seconds to
    every start.
    """
    existing = set(session.scalars(select(User.username)))
    missing = [u for u in district.users if u.username not in existing]
    if not missing:
        return 0
    hashed = hash_password(password)
    for u in missing:
        session.add(
            User(
                username=u.username,
                password_hash=hashed,
                role=u.role,
                street_id=u.street,
                inspector_id=u.inspector,
            )
        )
    session.flush()
    return len(missing)


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Same option as uvicorn's own socket, so a port in TIME_WAIT after a restart counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise DemoError(
                f"cannot listen on {host}:{port} ({exc.strerror}); pick another with --port"
            ) from exc


def simulated_cameras(district: District, simulator_port: int, count: int) -> list[CameraSpec]:
    """The district cameras the demo feeds from the simulator: ``count`` kitchen cameras spread over the
    streets in turn, camera i reading simulated feed ``cam{i}``. The URLs keep their credentials, which
    the simulator ignores, so the demo shows that they never leak."""
    by_street: dict[str | None, list[CameraSpec]] = {}
    for spec in specs_from_district(district):
        if spec.restaurant_id is not None:
            by_street.setdefault(spec.street_id, []).append(spec)
    chosen: list[CameraSpec] = []
    queues = list(by_street.values())
    while len(chosen) < count and any(queues):
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    out = []
    for i, spec in enumerate(chosen):
        parts = urlsplit(spec.url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@127.0.0.1:{simulator_port}" if credentials else f"127.0.0.1:{simulator_port}"
        out.append(replace(spec, url=urlunsplit((parts.scheme, netloc, f"/cam{i}", "", ""))))
    return out


class CameraSimulatorProcess:
    """``mscc simulate-cameras`` in a child process: its GStreamer threads stay out of the server's way."""

    def __init__(self, count: int, scenes_dir: Path) -> None:
        self.port = _free_port(8554)
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [
                sys.executable,
                "-m",
                "command_center",
                "simulate-cameras",
                "--count",
                str(count),
                "--port",
                str(self.port),
                "--scenes",
                str(scenes_dir),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 120.0) -> int:
        """Echo the simulator's progress until it serves; return its port. Raises DemoError if it fails."""
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        lines: list[str] = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if line.startswith("scene "):
                print(f"  camera simulator: {line.rstrip()}", flush=True)
            if line.startswith("press Ctrl-C"):
                threading.Thread(target=self._drain, daemon=True).start()
                return self.port
        self.stop()
        raise DemoError("the camera simulator did not start:\n  " + "\n  ".join(lines[-10:]))

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            log.debug("camera simulator: %s", line.rstrip())

    def stop(self) -> None:
        """Stop the simulator (SIGTERM, then SIGKILL after 10 s)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _free_port(preferred: int) -> int:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])


def _banner(
    district: District, options: DemoOptions, base: str, seconds: float, cameras: list[CameraSpec]
) -> None:
    lines = [
        "",
        f"mscc demo: {district.name}: {len(district.streets)} streets, "
        f"{len(district.restaurants)} restaurants, {len(district.inspectors)} inspectors, "
        f"{len(district.vehicles)} test vehicles",
        f"  wall display    {base}/wall",
        f"  street console  {base}/console",
        f"  field (mobile)  {base}/field",
        f"  API docs        {base}/docs",
        f"  health          {base}/healthz",
        f"  phones (OsmAnd) {base}/osmand"
        + (f" and http://{options.host}:{options.osmand_port}/" if options.osmand_port else ""),
        "",
        f"Demo logins (password for every account: {DEMO_PASSWORD}):",
    ]
    inspectors = [u.username for u in district.users if u.role == "inspector"]
    for user in district.users:
        if user.role != "inspector":
            detail = f" ({user.street})" if user.role == "street_supervisor" else ""
            lines.append(f"  {user.username:<22} {user.role}{detail}")
    if inspectors:
        lines.append(f"  {inspectors[0] + ' ... ' + inspectors[-1]:<22} inspector")
    lines += [
        "",
        f"Simulated: {len(district.inspectors) + len(district.vehicles)} GPS devices (OsmAnd, every 5 s); "
        f"{len(district.labs)} labs posting results (a few fail: lab_failed cases).",
        f"Cameras: {len(cameras)} of {len(district.cameras)} fed by the RTSP camera simulator (--cameras), "
        "analysed and recorded by the ingest worker; snapshots at /api/cameras/{id}/snapshot.jpg",
        "Detections: no_mask by the real model on the face-mask scenes; no_hat and rodent SIMULATED (no",
        "validated hat model, no rodent scene); simulated supervisors work the cases they open.",
        f"Data: {options.data_dir.resolve()} (SQLite, in-process event bus)",
        f"Ready in {seconds:.1f} s. Ctrl-C stops.",
    ]
    print("\n".join(lines), flush=True)
