"""Tracks at year scale on PostgreSQL: one inspector-day read through the real service path.

    python bench/tracks.py [--full-months 2] [--coarse-step 60] [--samples 50]

Creates a fresh PostgreSQL database (``MSCC_TEST_PG_URL``'s server, default postgres on 127.0.0.1),
migrates it (``positions`` partitioned by month, migration 0008, with the track's columns in the
``(device_id, ts)`` index, migration 0009), mirrors the sample district and loads
with binary COPY a year of synthetic fixes of its 20 inspectors, as they arrive (time order, the
inspectors interleaved): the 12 months before the current one, at 1 fix / 5 s in ``--full-months``
of them (the 6th month back and the last one) and at 1 fix / ``--coarse-step`` s in the others. A full
year at 1 fix / 5 s (126 M fixes) would need about 22 GB per layout, twice over; the months at full
rate are what a query reads, the rest makes the table as deep and wide as a year is. Inspectors move
between 08:00 and 18:00 (walking or driving, stops of 10 to 45 minutes) and report all day.

Three layouts of the same rows, measured in this run:

- ``scan``: one table without an index, the full scan (the baseline of any index);
- ``flat``: one table with the ``(device_id, ts)`` index, the layout before migration 0008;
- ``monthly``: month partitions whose ``(device_id, ts)`` index carries the track's columns, so that a
  track is an index-only scan (shipped). After the load a VACUUM sets the visibility map, as autovacuum
  does every 20,000 fixes per month (migration 0009).

For ``--samples`` random full-rate inspector-days (the same ones in each layout) it times
``service.track`` (the query: database and rows) and the whole endpoint (the view function of ``GET
/api/inspectors/{id}/track``: the track, stops, trips, polyline and the JSON), warm, and once cold before
that: the layout's files evicted from the OS page cache with ``posix_fadvise`` (which needs root on the
database machine; without it only warm is measured), then the query (even samples) or the endpoint (odd
ones) reads a day nothing has read before. PostgreSQL's own buffers (``shared_buffers``) keep what the
run read earlier, as they would in service. It also times the last position of
20 devices, the old ``max(ts) GROUP BY`` against ``service.last_positions``. Prints p50/p95, ratios
and PASS/MISS against "under 1 s per inspector-day"; drops the database at the end.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shlex
import shutil
import statistics
import struct
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import Connection, Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere
from command_center.auth.principal import Principal
from command_center.database.core import make_engine, make_session_factory, transaction
from command_center.database.migrate import upgrade
from command_center.district.service import sync_district
from config.loader import load_district, sample_district_path
from inspection.gps import service, storage
from inspection.gps.models import Position
from inspection.gps.views import inspector_track

PG_ADMIN_URL = os.environ.get("MSCC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TARGET_S = 1.0
INSPECTORS = [f"insp-{k:02d}" for k in range(1, 21)]
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
BYTES_PER_FIX = 124 + 105  # per layout, on average: the heap tuple and its line pointer, and the indexes
COLUMNS = "device_id, ts, lat, lon, speed_kmh, bearing, altitude, accuracy, battery, attributes, received_at"
# One COPY tuple in PostgreSQL's binary format: a field count, then each field's length and bytes
# (altitude is NULL: length -1 and no bytes). Every tuple has the same size, so a day is one array.
_FIELDS = [("dev", "S7"), ("ts", ">i8"), ("lat", ">f8"), ("lon", ">f8"), ("spd", ">f8"), ("brg", ">f8")]
_FIELDS_AFTER = [("acc", ">f8"), ("bat", ">f8"), ("attr", "S2"), ("rcv", ">i8")]
ROW = np.dtype(
    [("nf", ">i2")]
    + [part for name, kind in _FIELDS for part in ((f"l_{name}", ">i4"), (name, kind))]
    + [("l_alt", ">i4")]
    + [part for name, kind in _FIELDS_AFTER for part in ((f"l_{name}", ">i4"), (name, kind))]
)
HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)


def day_fixes(day: datetime, step_s: int, seed: int) -> np.ndarray:
    """One day of the 20 inspectors at one fix every ``step_s``, in arrival order, as COPY tuples."""
    rng = np.random.default_rng(seed)
    n, k = 86_400 // step_s, len(INSPECTORS)
    lat, lon, kmh, bearing = (np.empty((n, k)) for _ in range(4))
    for j in range(k):
        home_lat = 22.55 + 0.05 * ((j * 7) % 20) / 20
        home_lon = 114.22 + 0.08 * ((j * 13) % 20) / 20
        speed = np.zeros(n)
        at = int((8 * 3600 + rng.normal(0, 1800)) / step_s)
        end = int((18 * 3600 + rng.normal(0, 1800)) / step_s)
        while at < end:  # trips of 5-25 min walking or driving, stops of 10-45 min
            trip = max(1, int(rng.uniform(300, 1500) / step_s))
            speed[at : at + trip] = rng.choice([1.4, 8.0])
            at += trip + max(1, int(rng.uniform(600, 2700) / step_s))
        heading = np.cumsum(rng.normal(0, 0.15, n)) + rng.uniform(0, 2 * math.pi)
        north = np.cumsum(speed * step_s * np.cos(heading)) + rng.normal(0, 3, n)
        east = np.cumsum(speed * step_s * np.sin(heading)) + rng.normal(0, 3, n)
        lat[:, j] = home_lat + north / 111_000
        lon[:, j] = home_lon + east / (111_000 * math.cos(math.radians(home_lat)))
        kmh[:, j] = speed * 3.6
        bearing[:, j] = np.degrees(heading) % 360
    rows = np.zeros(n * k, dtype=ROW)
    start_us = int((day - PG_EPOCH).total_seconds()) * 1_000_000
    ts = start_us + np.repeat(np.arange(n, dtype=np.int64) * step_s * 1_000_000, k)
    rows["nf"] = 11
    for name, kind in _FIELDS + _FIELDS_AFTER:
        rows[f"l_{name}"] = np.dtype(kind).itemsize
    rows["l_alt"] = -1
    rows["dev"] = np.tile(np.array([d.encode() for d in INSPECTORS], dtype="S7"), n)
    rows["ts"], rows["rcv"] = ts, ts + 1_000_000
    rows["lat"], rows["lon"] = lat.ravel(), lon.ravel()
    rows["spd"], rows["brg"] = kmh.ravel(), bearing.ravel()
    rows["acc"] = rng.uniform(3, 15, n * k)
    rows["bat"] = np.repeat(np.linspace(100, 20, n), k)
    rows["attr"] = b"{}"
    return rows


@dataclass(frozen=True)
class Plan:
    """Which months are loaded at which rate."""

    months: list[datetime]
    full: list[datetime]
    coarse_step: int

    def step(self, day: datetime) -> int:
        """Seconds between fixes on ``day``."""
        return 5 if storage.month_start(day) in self.full else self.coarse_step

    def days(self) -> Iterator[datetime]:
        """Every day of the loaded year, oldest first."""
        day, end = self.months[0], storage.next_month(self.months[-1])
        while day < end:
            yield day
            day += timedelta(days=1)

    def fixes(self) -> int:
        """Fixes to load."""
        return sum(len(INSPECTORS) * 86_400 // self.step(d) for d in self.days())


def make_plan(full_months: int, coarse_step: int) -> Plan:
    """The 12 months before the current one; full rate in the 6th month back and the last ones."""
    month = storage.month_start(datetime.now(UTC))
    months: list[datetime] = []
    for _ in range(12):
        month = (month - timedelta(days=1)).replace(day=1)
        months.insert(0, month)
    full = [months[6], months[-1], months[5], months[-2], *months[:5], *months[7:-2]][:full_months]
    return Plan(months=months, full=sorted(full), coarse_step=coarse_step)


@contextmanager
def fresh_database() -> Iterator[str]:
    """An empty database on the PostgreSQL server, dropped afterwards; yields its URL."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"mscc_bench_tracks_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        print(f"dropped database {name}", flush=True)


def load(engine: Engine, plan: Plan) -> float:
    """COPY the plan's fixes into ``positions`` (month partitions made first); returns seconds."""
    with engine.begin() as conn:
        for month in plan.months:
            storage.create_month(conn, month)
    began = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for day in plan.days():
            rows = day_fixes(day, plan.step(day), seed=day.toordinal())
            with cursor.copy(f"COPY positions ({COLUMNS}) FROM STDIN WITH (FORMAT binary)") as copy:
                copy.write(HEADER + rows.tobytes() + TRAILER)
            raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - began


def autocommit(engine: Engine, *statements: str) -> float:
    """Run statements outside a transaction (VACUUM); returns seconds."""
    began = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for statement in statements:
            conn.execute(text(statement))
    return time.perf_counter() - began


def size_mb(conn: Connection, tables: list[str]) -> tuple[float, float]:
    """Heap and index megabytes of ``tables``."""
    heap = index = 0
    for table in tables:
        heap += conn.execute(text("SELECT pg_table_size(to_regclass(:t))"), {"t": table}).scalar() or 0
        index += conn.execute(text("SELECT pg_indexes_size(to_regclass(:t))"), {"t": table}).scalar() or 0
    return heap / 2**20, index / 2**20


class Evictor:
    """Drops the files of every ``positions`` relation from the OS page cache (posix_fadvise), so the
    next read comes from the disk. Needs the database's files on this machine and the right to read
    them; ``ok`` says whether it can."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        with engine.connect() as conn:
            self.data_dir = str(conn.execute(text("SHOW data_directory")).scalar())
        self.ok = os.access(self.data_dir, os.R_OK) and hasattr(os, "posix_fadvise")

    def __call__(self) -> None:
        if not self.ok:
            return
        with self.engine.connect() as conn:
            paths = conn.execute(
                text(
                    "SELECT pg_relation_filepath(c.oid) FROM pg_class c WHERE c.relkind IN ('r', 'i', 't')"
                    " AND (c.relname LIKE '%positions%' OR c.oid IN (SELECT reltoastrelid FROM pg_class"
                    " WHERE relname LIKE '%positions%'))"
                )
            ).scalars()
            for rel in paths:
                base = Path(self.data_dir) / rel
                for path in [base, *base.parent.glob(base.name + ".*")]:
                    fd = os.open(path, os.O_RDONLY)
                    try:
                        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                    finally:
                        os.close(fd)


@dataclass
class Timings:
    """Seconds per inspector-day of one layout and group of days."""

    query_cold: list[float] = field(default_factory=list)
    query_warm: list[float] = field(default_factory=list)
    endpoint_cold: list[float] = field(default_factory=list)
    endpoint_warm: list[float] = field(default_factory=list)
    points: list[int] = field(default_factory=list)


ADMIN = Principal(user_id=0, username="bench", role="district_admin")


def timed(action: Callable[[], object]) -> tuple[float, object]:
    """(seconds, result) of ``action``."""
    began = time.perf_counter()
    result = action()
    return time.perf_counter() - began, result


def measure(
    sessions: sessionmaker[Session], days: list[tuple[str, datetime]], evict: Evictor, *, cold: bool
) -> Timings:
    """Time every inspector-day warm, the query and the endpoint; with ``cold`` first once cold, the
    query on even samples and the endpoint on odd ones (a second cold read of the same day would find
    it in PostgreSQL's shared buffers)."""
    out = Timings()
    for n, (inspector, day) in enumerate(days):
        until = day + timedelta(days=1)

        def query(
            session: Session, inspector: str = inspector, day: datetime = day, until: datetime = until
        ) -> int:
            return len(service.track(session, device_id=inspector, since=day, until=until))

        def endpoint(
            session: Session, inspector: str = inspector, day: datetime = day, until: datetime = until
        ) -> int:
            return len(inspector_track(inspector, session, ADMIN, since=day, until=until).model_dump_json())

        with sessions() as session:
            if cold:
                evict()
                if n % 2 == 0:
                    out.query_cold.append(timed(lambda: query(session))[0])
                else:
                    out.endpoint_cold.append(timed(lambda: endpoint(session))[0])
            seconds, points = timed(lambda: query(session))
            out.query_warm.append(seconds)
            out.points.append(int(points))  # type: ignore[call-overload]
            out.endpoint_warm.append(timed(lambda: endpoint(session))[0])
    return out


def pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of ``values``; nan when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def cell(values: list[float]) -> str:
    """'p50 / p95' in milliseconds."""
    if not values:
        return f"{'-':>17}"
    return f"{pct(values, 0.5) * 1000:7.0f} /{pct(values, 0.95) * 1000:7.0f}"


def old_last_positions(session: Session, device_ids: list[str]) -> int:
    """The query ``service.last_positions`` used before: newest ts per device by GROUP BY."""
    latest = (
        select(Position.device_id, func.max(Position.ts).label("ts"))
        .where(Position.device_id.in_(device_ids))
        .group_by(Position.device_id)
        .subquery()
    )
    joined = select(Position).join(
        latest, (Position.device_id == latest.c.device_id) & (Position.ts == latest.c.ts)
    )
    return len(session.scalars(joined).all())


def rename(engine: Engine, *pairs: tuple[str, str]) -> None:
    """Swap layouts under the name the service reads (``positions``)."""
    with engine.begin() as conn:
        for old, new in pairs:
            conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


def main() -> None:
    """Parse the command line, build the layouts, time them, print the figures, drop the database."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--full-months", type=int, default=2, help="months at 1 fix / 5 s (default 2)")
    parser.add_argument("--coarse-step", type=int, default=60, help="s between fixes elsewhere (default 60)")
    parser.add_argument(
        "--samples", type=int, default=50, help="inspector-days timed per layout (default 50)"
    )
    parser.add_argument(
        "--scan-samples", type=int, default=5, help="inspector-days of the full scan (default 5)"
    )
    args = parser.parse_args()
    print("$ " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.executable), *sys.argv]), flush=True)
    plan = make_plan(args.full_months, args.coarse_step)
    fixes = plan.fixes()
    need_gb = fixes * BYTES_PER_FIX * 2 / 1e9  # two layouts
    free_gb = shutil.disk_usage("/").free / 1e9
    print(
        f"plan: {fixes:,} fixes of {len(INSPECTORS)} inspectors, "
        f"{plan.months[0]:%Y-%m}..{plan.months[-1]:%Y-%m}: 1 fix / 5 s in "
        f"{', '.join(f'{m:%Y-%m}' for m in plan.full)}, 1 fix / {plan.coarse_step} s in the others "
        f"(a year at 1 fix / 5 s: {len(INSPECTORS) * 365 * 17_280:,}); "
        f"about {need_gb:.1f} GB for two layouts, {free_gb:.0f} GB free",
        flush=True,
    )
    if need_gb > free_gb * 0.8:
        raise SystemExit("not enough free disk for this plan: fewer --full-months or a larger --coarse-step")
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)", flush=True)
    rng = random.Random(20261127)
    with fresh_database() as url:
        engine = make_engine(url)
        try:
            run(engine, plan, args, rng)
        finally:
            engine.dispose()


def run(engine: Engine, plan: Plan, args: argparse.Namespace, rng: random.Random) -> None:
    """Load, build the three layouts, time them and print the results."""
    upgrade(engine)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        sync_district(session, load_district(sample_district_path()))
    with engine.connect() as conn:
        settings = {k: conn.execute(text(f"SHOW {k}")).scalar() for k in ("server_version", "shared_buffers")}
    print(f"database: PostgreSQL {settings['server_version']}, shared_buffers {settings['shared_buffers']}")

    seconds = load(engine, plan)
    fixes = plan.fixes()
    print(f"loaded {fixes:,} fixes by COPY in {seconds:.0f} s ({fixes / seconds:,.0f} fixes/s)", flush=True)
    vacuum = autocommit(engine, "VACUUM ANALYZE positions")
    print(f"VACUUM ANALYZE: {vacuum:.0f} s", flush=True)

    # The flat layout: the same rows in the same (arrival) order, one month after the other.
    began = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE positions_flat (LIKE positions INCLUDING DEFAULTS)"))
        for month in plan.months:
            copy = "INSERT INTO positions_flat SELECT * FROM {0}"  # a name made of digits
            conn.execute(text(copy.format(storage.partition_name(month))))
    autocommit(engine, "VACUUM ANALYZE positions_flat")
    print(f"flat copy: {time.perf_counter() - began:.0f} s", flush=True)

    with engine.connect() as conn:
        monthly_mb = size_mb(
            conn, [p.name for p in storage.month_partitions(conn)] + [storage.DEFAULT_PARTITION]
        )

    days_full = [d for d in plan.days() if storage.month_start(d) in plan.full]
    picked = rng.sample([(i, d) for i in INSPECTORS for d in days_full], args.samples)
    groups = {
        f"{month:%Y-%m}": [p for p in picked if storage.month_start(p[1]) == month] for month in plan.full
    }
    evict = Evictor(engine)
    print(
        f"samples: {args.samples} inspector-days at 1 fix / 5 s "
        + ", ".join(f"{len(v)} in {k}" for k, v in groups.items())
        + (
            "; cold = the files evicted from the OS page cache first"
            if evict.ok
            else "; cold NOT measured (the database's files are not readable here)"
        ),
        flush=True,
    )

    results: dict[tuple[str, str], Timings] = {}
    rename(engine, ("positions", "positions_monthly"), ("positions_flat", "positions"))
    try:
        scan_days = picked[: args.scan_samples]
        results[("scan", "any")] = measure(sessions, scan_days, evict, cold=False)
        print(f"scan measured (load {os.getloadavg()[0]:.2f})", flush=True)
        began = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text("CREATE INDEX ix_positions_flat_device_ts ON positions (device_id, ts)"))
        autocommit(engine, "ANALYZE positions")
        print(f"flat index built in {time.perf_counter() - began:.0f} s", flush=True)
        with engine.connect() as conn:
            flat_mb = size_mb(conn, ["positions"])
        for group, days in groups.items():
            results[("flat", group)] = measure(sessions, days, evict, cold=evict.ok)
        print(f"flat measured (load {os.getloadavg()[0]:.2f})", flush=True)
    finally:
        rename(engine, ("positions", "positions_flat"), ("positions_monthly", "positions"))
    for group, days in groups.items():
        results[("monthly", group)] = measure(sessions, days, evict, cold=evict.ok)
    print(f"monthly measured (load {os.getloadavg()[0]:.2f})", flush=True)

    with sessions() as session:
        evict()
        old_cold = timed(lambda: old_last_positions(session, INSPECTORS))[0]
        old_warm = timed(lambda: old_last_positions(session, INSPECTORS))[0]
        session.expunge_all()
        evict()
        new_cold = timed(lambda: service.last_positions(session, INSPECTORS))[0]
        new_warm = timed(lambda: service.last_positions(session, INSPECTORS))[0]

    report_results(results, flat_mb, monthly_mb, (old_cold, old_warm, new_cold, new_warm), evict.ok)


def report_results(
    results: dict[tuple[str, str], Timings],
    flat_mb: tuple[float, float],
    monthly_mb: tuple[float, float],
    last: tuple[float, float, float, float],
    cold: bool,
) -> None:
    """Print the table, the ratios and the verdicts."""
    print()
    print(
        f"sizes: flat {flat_mb[0]:,.0f} MB heap + {flat_mb[1]:,.0f} MB indexes; "
        f"monthly {monthly_mb[0]:,.0f} MB heap + {monthly_mb[1]:,.0f} MB indexes"
    )
    print("ms per inspector-day, p50 / p95 (query: service.track; endpoint: the view with analysis and JSON)")
    print(
        f"{'layout':8} {'days':10} {'n':>3} {'points':>6}  {'query cold':>17} {'query warm':>17} "
        f"{'endpoint cold':>17} {'endpoint warm':>17}"
    )
    for (layout, group), t in results.items():
        if not t.points:
            continue
        print(
            f"{layout:8} {group:10} {len(t.points):3d} {statistics.median(t.points):6.0f}  "
            f"{cell(t.query_cold)} {cell(t.query_warm)} {cell(t.endpoint_cold)} {cell(t.endpoint_warm)}"
        )
    scan = results[("scan", "any")]
    print()
    for group in sorted({g for layout, g in results if layout == "monthly"}):
        flat, monthly = results[("flat", group)], results[("monthly", group)]
        if not monthly.points:
            continue
        ratios = [f"warm query: scan/monthly {pct(scan.query_warm, 0.5) / pct(monthly.query_warm, 0.5):.1f}x"]
        if cold:
            p50 = pct(flat.query_cold, 0.5) / pct(monthly.query_cold, 0.5)
            ratios.append(f"cold query p50: flat/monthly {p50:.1f}x")
            ratios.append(f"p95 {pct(flat.query_cold, 0.95) / pct(monthly.query_cold, 0.95):.1f}x")
        print(f"{group}: " + ", ".join(ratios))
    old_cold, old_warm, new_cold, new_warm = last
    print(
        f"last position of 20 devices: max(ts) GROUP BY {old_cold * 1000:.0f} ms cold / "
        f"{old_warm * 1000:.0f} ms warm, "
        f"service.last_positions {new_cold * 1000:.0f} ms cold / {new_warm * 1000:.0f} ms warm "
        f"({old_warm / new_warm:.0f}x warm)"
    )
    for (layout, group), t in results.items():
        if layout == "scan" or not t.points:
            continue
        worst = pct(t.endpoint_cold if cold else t.endpoint_warm, 0.95)
        verdict = "PASS" if worst < TARGET_S else "MISS"
        kind = "cold" if cold else "warm"
        print(
            f"target: {layout:8} {group:10} endpoint p95 {kind} {worst * 1000:5.0f} ms < 1000 ms -> {verdict}"
        )
    scan_worst = pct(scan.query_warm, 0.95)
    print(
        f"target: {'scan':8} {'any':10} query p95 warm {scan_worst * 1000:5.0f} ms < 1000 ms -> "
        f"{'PASS' if scan_worst < TARGET_S else 'MISS'}"
    )


if __name__ == "__main__":
    main()
