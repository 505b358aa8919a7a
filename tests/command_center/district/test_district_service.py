"""Mirroring the config and importing the business registry: repository tests run on SQLite and on
the real PostgreSQL (the ``sessions`` fixture is parametrized over both)."""

from __future__ import annotations

from importlib import resources

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from command_center.cameras.models import Camera
from command_center.database.core import transaction
from command_center.district.models import Restaurant, Street
from command_center.district.service import SyncError, import_registry, parse_registry_csv, sync_district
from config.district import District

HEADER = "licence_no,name,address,type,street,lat,lon\n"


def _count(session: Session, model: type[object]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0  # type: ignore[arg-type]


def test_sync_is_idempotent(sessions: sessionmaker[Session], sample_district: District) -> None:
    for _ in range(2):
        with transaction(sessions) as session:
            counts = sync_district(session, sample_district)
    assert counts["restaurants"] == 255
    with sessions() as session:
        assert _count(session, Street) == 4
        assert _count(session, Restaurant) == 255
        assert _count(session, Camera) == len(sample_district.cameras)
        camera = session.get(Camera, "cam-r001")
        assert camera is not None
        assert "sample-pass" not in camera.url_redacted
        assert camera.street_id == sample_district.restaurants[0].street


def test_sync_failure_leaves_nothing_half_written(
    sessions: sessionmaker[Session], sample_district: District
) -> None:
    with transaction(sessions) as session:
        sync_district(session, sample_district)
    first = sample_district.restaurants[0]
    # A second restaurant claiming the first one's licence number violates the unique constraint.
    clash = first.model_copy(update={"id": "r999", "public_id": "zzzzzzzzzz"})
    renamed = sample_district.restaurants[1].model_copy(update={"name": "Renamed Before The Clash"})
    broken = District.model_construct(
        **{**dict(sample_district), "restaurants": [renamed, *sample_district.restaurants[2:], clash]}
    )
    with pytest.raises(SyncError, match="already stored"), transaction(sessions) as session:
        sync_district(session, broken)
    with sessions() as session:
        assert session.get(Restaurant, "r999") is None
        kept = session.get(Restaurant, sample_district.restaurants[1].id)
        assert kept is not None and kept.name != "Renamed Before The Clash"


def test_sample_registry_imports_then_reimports_unchanged(
    sessions: sessionmaker[Session], sample_district: District
) -> None:
    text = (resources.files("config") / "samples" / "registry.csv").read_text(encoding="utf-8")
    rows, errors = parse_registry_csv(text)
    assert errors == []
    with transaction(sessions) as session:
        sync_district(session, sample_district)
        first = import_registry(session, text)
    assert first.errors == []
    assert first.created == len(rows) - 255
    assert first.unchanged == 255  # the registry agrees with the config's restaurants
    with transaction(sessions) as session:
        again = import_registry(session, text)
    assert (again.created, again.updated, again.unchanged) == (0, 0, len(rows))
    with sessions() as session:
        assert _count(session, Restaurant) == len(rows)


def test_bad_registry_rows_are_reported_by_line_and_good_rows_kept(
    sessions: sessionmaker[Session], sample_district: District
) -> None:
    text = HEADER + "\n".join(
        [
            "JY2440308900001,Good Noodles,1 Haishan Rd,restaurant,haishan,22.556,114.245",  # line 2
            "JY2440308900002,Bad Latitude,2 Haishan Rd,restaurant,haishan,95.0,114.245",  # line 3
            "JY2440308900003,Nowhere Street,3 Rd,restaurant,atlantis,22.556,114.245",  # line 4
            "JY2440308900001,Duplicate,4 Haishan Rd,restaurant,haishan,22.556,114.245",  # line 5
            "bad licence,Lowercase,5 Rd,restaurant,haishan,22.556,114.245",  # line 6
            "JY2440308900004,Too Few Columns,6 Rd,restaurant",  # line 7
            "JY2440308900005,Good Bakery,7 Meisha Rd,bakery,meisha,22.598,114.301",  # line 8
            "JY2440308900006,Not A Number,8 Rd,restaurant,meisha,north,114.3",  # line 9
        ]
    )
    with transaction(sessions) as session:
        sync_district(session, sample_district)
        report = import_registry(session, text)
    assert report.created == 2
    lines = {line: problem for line, problem in report.errors}
    assert sorted(lines) == [3, 4, 5, 6, 7, 9]
    assert "lat" in lines[3]
    assert "atlantis" in lines[4]
    assert "first on line 2" in lines[5]
    assert "licence_no" in lines[6]
    assert "columns" in lines[7]
    assert "lat" in lines[9]
    with sessions() as session:
        bakery = session.scalar(select(Restaurant).where(Restaurant.licence_no == "JY2440308900005"))
        assert bakery is not None and bakery.kind == "bakery" and bakery.source == "registry"


def test_registry_header_must_match() -> None:
    with pytest.raises(ValueError, match="missing lon"):
        parse_registry_csv("licence_no,name,address,type,street,lat\n")
