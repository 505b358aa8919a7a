"""The ``mscc`` command (CONTRACT "Command line"). Each command fails with a message and a non-zero
exit code instead of a traceback when the input is wrong."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session, sessionmaker

from command_center.database.core import make_engine, make_session_factory, redact_url, transaction
from config.loader import ConfigError, load_district
from config.settings import Settings, SettingsError
from detectors.cli import register as register_detector_commands

app = typer.Typer(help="mscc: market-supervision video and inspection command center.", no_args_is_help=True)
user_app = typer.Typer(help="Manage logins.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(db_app, name="db")

EXIT_CONFIG = 2


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValueError as exc:
        raise _fail(f"bad MSCC_* environment: {exc}", EXIT_CONFIG) from exc


@app.command()
def demo(
    port: Annotated[int, typer.Option(min=1, max=65535, help="HTTP port")] = 8000,
    cameras: Annotated[int, typer.Option(min=0, max=255, help="simulated cameras")] = 24,
    data_dir: Annotated[Path, typer.Option(help="where the demo keeps its database and files")] = Path(
        "mscc-data"
    ),
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    osmand_port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="also serve the OsmAnd endpoint here (e.g. 5055)")
    ] = None,
) -> None:
    """The whole system on the embedded defaults: SQLite, in-process bus, the sample district."""
    from command_center.demo import DemoError, DemoOptions, run

    _setup_logging()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        run(DemoOptions(host=host, port=port, cameras=cameras, data_dir=data_dir, osmand_port=osmand_port))
    except (DemoError, ConfigError, SettingsError) as exc:
        raise _fail(str(exc)) from exc


@app.command()
def serve(
    config: Annotated[Path, typer.Option(help="district YAML file")],
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="HTTP port")] = 8000,
    osmand_port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="also serve the OsmAnd endpoint here (e.g. 5055)")
    ] = None,
) -> None:
    """The command-center server for a real district (database and Redis from MSCC_* variables)."""
    import asyncio

    from command_center import serving
    from command_center.app import create_app
    from command_center.database.migrate import SchemaOutOfDateError
    from command_center.district.service import SyncError

    _setup_logging()
    try:
        district = load_district(config)
        application = create_app(_settings(district_config=config), district=district)
    except (ConfigError, SettingsError, SchemaOutOfDateError, SyncError) as exc:
        raise _fail(str(exc), EXIT_CONFIG) from exc
    try:
        asyncio.run(serving.serve(application, host=host, port=port, osmand_port=osmand_port))
    except serving.ListenError as exc:
        raise _fail(str(exc)) from exc


@app.command("simulate-cameras")
def simulate_cameras(
    count: Annotated[int, typer.Option(min=1, max=255, help="number of cameras")] = 24,
    port: Annotated[int, typer.Option(min=1, max=65535, help="RTSP port")] = 8554,
    scenes: Annotated[
        Path | None, typer.Option(help="clip cache folder (default: MSCC_DATA_DIR/scenes)")
    ] = None,
    size: Annotated[str, typer.Option(help="360p10 (detect stream) | 720p15")] = "360p10",
) -> None:
    """Serve N looping H.264 cameras at rtsp://127.0.0.1:PORT/cam0 .. cam{N-1} until Ctrl-C."""
    from stream_ingest.simulator import SimulatorError, run_cli

    _setup_logging()
    try:
        run_cli(count=count, port=port, scenes_dir=scenes, size=size)
    except SimulatorError as exc:
        raise _fail(str(exc)) from exc


@app.command()
def ingest(
    config: Annotated[Path | None, typer.Option(help="district YAML: ingest its enabled cameras")] = None,
    camera: Annotated[
        list[str] | None, typer.Option(help="ID=RTSP_URL (repeatable) instead of --config")
    ] = None,
    status_file: Annotated[
        Path | None, typer.Option(help="write per-camera health JSON here every 2 s")
    ] = None,
    lease_ttl: Annotated[
        float, typer.Option(min=3, help="seconds before a dead worker's cameras move")
    ] = 15.0,
    record: Annotated[
        bool, typer.Option(help="record each camera into MP4 segments in DATA_DIR/recordings")
    ] = False,
    detect: Annotated[
        bool, typer.Option(help="run the detector pipeline (MSCC_DETECTORS_CONFIG) on the analysed frames")
    ] = True,
) -> None:
    """An ingest worker: pulls RTSP, decodes keyframes for analysis, reports camera health. With
    MSCC_REDIS_URL set, several workers on several machines share the cameras."""
    import asyncio

    from stream_ingest.cameras import specs_from_args, specs_from_district
    from stream_ingest.main import run_ingest
    from stream_ingest.supervisor import SupervisorOptions

    _setup_logging()
    if (config is None) == (not camera):
        raise _fail("give either --config FILE or one or more --camera ID=RTSP_URL", EXIT_CONFIG)
    timezone = "Asia/Shanghai"
    try:
        if config is not None:
            district = load_district(config)
            specs, timezone = specs_from_district(district), district.timezone
        else:
            specs = specs_from_args(camera or [])
    except (ConfigError, ValueError) as exc:
        raise _fail(str(exc), EXIT_CONFIG) from exc
    if not specs:
        raise _fail("no enabled cameras to ingest", EXIT_CONFIG)
    settings = _settings()
    options = SupervisorOptions(record_dir=settings.recordings_dir if record else None)
    from detectors.base import ModelError
    from detectors.config import DetectorConfigError

    try:
        asyncio.run(
            run_ingest(
                specs,
                settings,
                status_file=status_file,
                lease_ttl_s=lease_ttl,
                options=options,
                detect=detect,
                timezone=timezone,
            )
        )
    except (ModelError, DetectorConfigError) as exc:
        raise _fail(f"detectors: {exc}", EXIT_CONFIG) from exc


@app.command("check-config")
def check_config(file: Annotated[Path, typer.Argument(help="district YAML file")]) -> None:
    """Validate a district file; on error name the file, line, key path and problem."""
    try:
        district = load_district(file)
    except ConfigError as exc:
        typer.echo(exc.render(), err=True)
        raise typer.Exit(EXIT_CONFIG) from exc
    typer.echo(
        f"{file}: OK: {district.name}: {len(district.streets)} streets, "
        f"{len(district.restaurants)} restaurants, {len(district.cameras)} cameras, "
        f"{len(district.labs)} labs, {len(district.inspectors)} inspectors, "
        f"{len(district.vehicles)} vehicles, {len(district.users)} users"
    )


def _sessions(config: Path | None) -> sessionmaker[Session]:
    """A session factory on the configured database, migrated to head, optionally synced to a config."""
    from command_center.database.migrate import SchemaOutOfDateError, require_head
    from command_center.district.service import sync_district

    settings = _settings()
    engine = make_engine(settings.effective_database_url)
    try:
        require_head(engine)
    except SchemaOutOfDateError as exc:
        raise _fail(str(exc), EXIT_CONFIG) from exc
    sessions = make_session_factory(engine)
    if config is not None:
        try:
            district = load_district(config)
        except ConfigError as exc:
            raise _fail(str(exc), EXIT_CONFIG) from exc
        with transaction(sessions) as session:
            sync_district(session, district)
    return sessions


@app.command("import-registry")
def import_registry(
    csv_file: Annotated[
        Path, typer.Argument(metavar="CSV", help="licence_no,name,address,type,street,lat,lon")
    ],
    config: Annotated[Path | None, typer.Option(help="district YAML to load first (streets)")] = None,
) -> None:
    """Import business entities; bad rows are reported by line number and the good rows kept."""
    from command_center.district.service import import_registry as do_import

    _setup_logging()
    try:
        text = csv_file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"{csv_file}: cannot read: {exc}") from exc
    sessions = _sessions(config)
    try:
        with transaction(sessions) as session:
            report = do_import(session, text)
    except ValueError as exc:
        raise _fail(f"{csv_file}: {exc}") from exc
    for line, problem in report.errors:
        typer.echo(f"{csv_file}:{line}: {problem}", err=True)
    typer.echo(
        f"{csv_file}: {report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
        f"{len(report.errors)} rejected"
    )
    if report.errors:
        raise typer.Exit(1)


@app.command("export-feedback")
def export_feedback(
    out: Annotated[Path, typer.Option(help="folder to write the YOLO dataset into")],
    since: Annotated[
        str | None, typer.Option(help="only alerts from this ISO-8601 time on, e.g. 2026-11-01")
    ] = None,
    violation: Annotated[
        list[str] | None, typer.Option(help="only these violation types (repeatable)")
    ] = None,
) -> None:
    """Export supervisors' verdicts on detector alerts as a YOLO dataset: confirmed alerts with their
    boxes, false alarms as background images (retrain with mscc train)."""
    from datetime import datetime

    from command_center.alerts.feedback import export_feedback as do_export
    from config.clock import as_utc
    from stream_ingest.frames import EvidenceStore
    from stream_ingest.main import evidence_dir

    _setup_logging()
    try:
        start = as_utc(datetime.fromisoformat(since)) if since else None
    except ValueError as exc:
        raise _fail(f"--since {since!r}: not an ISO-8601 date or time") from exc

    def progress(done: int, total: int) -> None:
        if done == total or done % 100 == 0:
            typer.echo(f"exported {done}/{total}", err=True)

    sessions = _sessions(None)
    with transaction(sessions) as session:
        summary = do_export(
            session,
            evidence=EvidenceStore(evidence_dir(_settings())),
            out=out,
            since=start,
            violations=set(violation) if violation else None,
            progress=progress,
        )
    typer.echo(
        f"{out}: {summary.positives} confirmed, {summary.false_alarms} false alarms "
        f"(classes: {', '.join(summary.names) or 'none'}); "
        f"{summary.missing_frames} skipped: frame no longer stored"
    )


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[str, typer.Option(help="district_admin | street_supervisor | inspector | wall_display")],
    street: Annotated[str | None, typer.Option(help="street id (street_supervisor)")] = None,
    inspector: Annotated[str | None, typer.Option(help="inspector id (inspector)")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from stdin")
    ] = False,
    replace: Annotated[bool, typer.Option(help="reset an existing user")] = False,
) -> None:
    """Create a login; the password is read from standard input, never from the command line."""
    from command_center.auth.service import UserError, create_user

    if not password_stdin:
        raise _fail("pass --password-stdin and the password on standard input", EXIT_CONFIG)
    password = sys.stdin.readline().rstrip("\r\n")
    sessions = _sessions(None)
    try:
        with transaction(sessions) as session:
            create_user(
                session,
                username=name,
                password=password,
                role=role,
                street_id=street,
                inspector_id=inspector,
                replace=replace,
            )
    except UserError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"user {name} saved ({role}{', street ' + street if street else ''})")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="target revision")] = "head") -> None:
    """Apply the Alembic migrations to MSCC_DATABASE_URL (or the SQLite file in the data dir)."""
    from command_center.database.migrate import current_revision, upgrade

    _setup_logging()
    settings = _settings()
    engine = make_engine(settings.effective_database_url)
    before = current_revision(engine)
    upgrade(engine, revision)
    typer.echo(
        f"{redact_url(settings.effective_database_url)}: {before or 'empty'} -> {current_revision(engine)}"
    )


register_detector_commands(app)


def main() -> None:
    """Entry point of the ``mscc`` console script."""
    app()
