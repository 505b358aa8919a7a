"""``mscc demo``: the whole system in one process on the embedded defaults (SQLite, in-process bus),
the sample district, demo users and simulated inspectors. Ctrl-C stops it cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from sqlalchemy import select
from sqlalchemy.orm import Session

from command_center.app import create_app
from command_center.auth.models import User
from command_center.auth.service import hash_password
from command_center.database.core import transaction
from config.district import District
from config.loader import load_district, sample_district_path
from config.settings import Settings
from inspection.simulation import run_field_simulation

log = logging.getLogger(__name__)

DEMO_PASSWORD = "mscc-demo"  # noqa: S105 - printed at start; the demo binds to 127.0.0.1 by default


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


def run(options: DemoOptions) -> None:
    """Run the demo until Ctrl-C."""
    started = time.monotonic()
    _check_port_free(options.host, options.port)
    district = load_district(options.district_file or sample_district_path())
    # The demo is the embedded default whatever the environment says: SQLite in the data dir, in-process bus.
    settings = Settings(environment="demo", data_dir=options.data_dir, database_url=None, redis_url=None)
    app = create_app(settings, district=district, migrate=True)
    with transaction(app.state.ctx.sessions) as session:
        created = ensure_users(session, district, DEMO_PASSWORD)
    if created:
        log.info("created %s demo users", created)
    server = uvicorn.Server(uvicorn.Config(app, host=options.host, port=options.port, log_level="warning"))
    # uvicorn re-raises the Ctrl-C it caught once it has shut down cleanly.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(server, district, options, started))
    print("mscc demo stopped.", flush=True)


async def _serve(server: uvicorn.Server, district: District, options: DemoOptions, started: float) -> None:
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            await serving
            raise DemoError("the HTTP server stopped during start-up")
        await asyncio.sleep(0.05)
    base = f"http://{options.host}:{options.port}"
    _banner(district, options, base, time.monotonic() - started)
    field = asyncio.create_task(run_field_simulation(district, base))
    try:
        # Stop the simulated phones as soon as Ctrl-C arrives, before the server stops answering them.
        while not serving.done():
            if server.should_exit:
                field.cancel()
            await asyncio.wait({serving}, timeout=0.2)
        await serving
    finally:
        field.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await field


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


def _banner(district: District, options: DemoOptions, base: str, seconds: float) -> None:
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
        f"Simulated: {len(district.inspectors) + len(district.vehicles)} GPS devices (OsmAnd, every 5 s).",
        f"Cameras: {len(district.cameras)} configured; simulated RTSP feeds (--cameras {options.cameras}) "
        "arrive with the stream-ingest work.",
        f"Data: {options.data_dir.resolve()} (SQLite, in-process event bus)",
        f"Ready in {seconds:.1f} s. Ctrl-C stops.",
    ]
    print("\n".join(lines), flush=True)
