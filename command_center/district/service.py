"""District registry service: mirror the config into the database, import the business registry,
and list what a caller may see. Plain typed functions; no HTTP here."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from command_center.auth.principal import Principal
from command_center.cameras.models import Camera
from command_center.database.core import Base
from command_center.district.models import Lab, Restaurant, Street
from command_center.district.schemas import ImportReport
from config import district as cfg
from config.redaction import redact_url
from inspection.people.models import Inspector, Vehicle

log = logging.getLogger(__name__)

REGISTRY_COLUMNS = ("licence_no", "name", "address", "type", "street", "lat", "lon")


class SyncError(ValueError):
    """The config cannot be mirrored into the database as it stands."""


def sync_district(session: Session, district: cfg.District) -> dict[str, int]:
    """Upsert streets, restaurants, labs, cameras, inspectors and vehicles from the config.

    Runs inside the caller's transaction, so a failure leaves the database as it was. Cameras are
    owned by the config: those no longer listed are removed. Restaurants are kept (the business
    registry adds more, and later cases refer to them). Returns row counts per table.
    """
    for s in district.streets:
        _upsert(session, Street, s.id, name=s.name, name_zh=s.name_zh, polygon=[list(p) for p in s.polygon])
    session.flush()
    stored = session.execute(select(Restaurant.licence_no, Restaurant.id))
    by_licence = {licence: rid for licence, rid in stored}
    for r in district.restaurants:
        other = by_licence.get(r.licence_no)
        if other is not None and other != r.id:
            raise SyncError(
                f"restaurant {r.id}: licence {r.licence_no} is already stored as {other} "
                "(imported from the registry); use that id in the config"
            )
        _upsert(
            session,
            Restaurant,
            r.id,
            licence_no=r.licence_no,
            name=r.name,
            address=r.address,
            kind=r.kind,
            street_id=r.street,
            lat=r.lat,
            lon=r.lon,
            public_id=r.public_id,
            source="config",
        )
    for lab in district.labs:
        _upsert(
            session, Lab, lab.id, name=lab.name, kind=lab.kind, street_id=lab.street, vehicle_id=lab.vehicle
        )
    for i in district.inspectors:
        _upsert(session, Inspector, i.id, name=i.name, street_id=i.street, device_id=i.device_id)
    for v in district.vehicles:
        _upsert(session, Vehicle, v.id, name=v.name, device_id=v.device_id)
    session.flush()
    wanted = set()
    for c in district.cameras:
        wanted.add(c.id)
        _upsert(
            session,
            Camera,
            c.id,
            owner_kind=c.owner.kind,
            owner_id=c.owner.id,
            restaurant_id=c.owner.id if c.owner.kind == "restaurant" else None,
            street_id=district.street_of_camera(c),
            url_redacted=redact_url(c.url.get_secret_value()),
            analysis_interval_s=c.analysis_interval_s,
            enabled=c.enabled,
        )
    for stale in session.scalars(select(Camera).where(Camera.id.not_in(wanted))):
        session.delete(stale)
    session.flush()
    counts = {
        "streets": len(district.streets),
        "restaurants": len(district.restaurants),
        "cameras": len(district.cameras),
        "labs": len(district.labs),
        "inspectors": len(district.inspectors),
        "vehicles": len(district.vehicles),
    }
    log.info("district %s mirrored into the database: %s", district.name, counts)
    return counts


def _upsert(session: Session, model: type[Base], key: str, **values: object) -> None:
    row = session.get(model, key)
    if row is None:
        session.add(model(id=key, **values))
        return
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)


def list_streets(session: Session, *, principal: Principal) -> list[tuple[Street, int]]:
    """Streets the caller may see, each with its number of restaurants."""
    rows = session.execute(select(Restaurant.street_id, func.count()).group_by(Restaurant.street_id))
    counts = {street_id: count for street_id, count in rows}
    streets = session.scalars(select(Street).order_by(Street.id)).all()
    return [(s, counts.get(s.id, 0)) for s in streets if principal.can_see_street(s.id)]


def get_street(session: Session, *, principal: Principal, street_id: str) -> Street | None:
    """One street; None if unknown. Raises OutOfScopeError for another street's supervisor."""
    street = session.get(Street, street_id)
    if street is not None:
        principal.require_street(street.id, f"street {street_id}")
    return street


def list_restaurants(
    session: Session,
    *,
    principal: Principal,
    street_id: str | None = None,
    kind: str | None = None,
    query: str | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> tuple[Sequence[Restaurant], int]:
    """Restaurants the caller may see, filtered; returns (page, total).

    Asking for another street than one's own raises OutOfScopeError rather than returning an empty
    list, so a console bug shows up as an error instead of "no restaurants".
    """
    stmt = select(Restaurant)
    if street_id is not None:
        principal.require_street(street_id, f"street {street_id}")
        stmt = stmt.where(Restaurant.street_id == street_id)
    scope = principal.street_scope
    if scope is not None:
        stmt = stmt.where(Restaurant.street_id.in_(scope))
    if kind is not None:
        stmt = stmt.where(Restaurant.kind == kind)
    if query:
        like = f"%{query.lower()}%"
        stmt = stmt.where(
            func.lower(Restaurant.name).like(like)
            | func.lower(Restaurant.address).like(like)
            | func.lower(Restaurant.licence_no).like(like)
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = session.scalars(stmt.order_by(Restaurant.id).limit(limit).offset(offset)).all()
    return page, total


def get_restaurant(session: Session, *, principal: Principal, restaurant_id: str) -> Restaurant | None:
    """One restaurant; None if unknown. Raises OutOfScopeError outside the caller's street."""
    restaurant = session.get(Restaurant, restaurant_id)
    if restaurant is not None:
        principal.require_street(restaurant.street_id, f"restaurant {restaurant_id}")
    return restaurant


class RegistryRow(BaseModel):
    """One row of the business-registry CSV."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    licence_no: str = Field(pattern=r"^[A-Z0-9]{6,32}$")
    name: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=1, max_length=300)
    type: str = Field(pattern=r"^[a-z_]{2,32}$")
    street: str = Field(min_length=1)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


def parse_registry_csv(text: str) -> tuple[list[tuple[int, RegistryRow]], list[tuple[int, str]]]:
    """Parse the registry CSV into (line, row) pairs and (line, problem) errors; lines are 1-based
    file lines, the header being line 1. Duplicated licence numbers are errors after the first."""
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(reader.fieldnames or ())
    if set(header) != set(REGISTRY_COLUMNS):
        missing = [c for c in REGISTRY_COLUMNS if c not in header]
        extra = [c for c in header if c not in REGISTRY_COLUMNS]
        raise ValueError(
            f"line 1: header must be {','.join(REGISTRY_COLUMNS)}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(extra)}" if extra else "")
        )
    rows: list[tuple[int, RegistryRow]] = []
    errors: list[tuple[int, str]] = []
    first_line: dict[str, int] = {}
    for record in reader:
        line = reader.line_num
        if None in record or any(v is None for v in record.values()):
            errors.append((line, f"expected {len(REGISTRY_COLUMNS)} columns"))
            continue
        try:
            row = RegistryRow.model_validate(record)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            errors.append((line, problems))
            continue
        if row.licence_no in first_line:
            errors.append(
                (line, f"duplicate licence_no {row.licence_no} (first on line {first_line[row.licence_no]})")
            )
            continue
        first_line[row.licence_no] = line
        rows.append((line, row))
    return rows, errors


def import_registry(session: Session, text: str) -> ImportReport:
    """Upsert the business entities of a registry CSV by licence number; bad rows are reported with
    their line numbers and the good rows kept. Importing the same file again changes nothing."""
    rows, errors = parse_registry_csv(text)
    report = ImportReport(errors=errors)
    streets = set(session.scalars(select(Street.id)))
    existing = {r.licence_no: r for r in session.scalars(select(Restaurant))}
    for line, row in rows:
        if row.street not in streets:
            report.errors.append(
                (line, f"street: unknown street {row.street!r} (known: {', '.join(sorted(streets))})")
            )
            continue
        values = {
            "name": row.name,
            "address": row.address,
            "kind": row.type,
            "street_id": row.street,
            "lat": row.lat,
            "lon": row.lon,
        }
        current = existing.get(row.licence_no)
        if current is None:
            digest = hashlib.blake2s(row.licence_no.encode(), digest_size=8).hexdigest()
            new = Restaurant(id=row.licence_no.lower(), licence_no=row.licence_no, public_id=digest, **values)
            new.source = "registry"
            session.add(new)
            report.created += 1
        elif any(getattr(current, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(current, k, v)
            report.updated += 1
        else:
            report.unchanged += 1
    report.errors.sort()
    session.flush()
    return report
