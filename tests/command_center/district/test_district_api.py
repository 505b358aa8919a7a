"""Streets, restaurants and cameras through the API, scoped by role, on SQLite and real PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from config.district import District

Login = Callable[[str], dict[str, str]]
STREETS = {"shatoujiao", "haishan", "yantian", "meisha"}


def test_admin_sees_255_restaurants_in_4_streets(client: TestClient, login: Login) -> None:
    response = client.get("/api/restaurants", headers=login("admin"))
    assert response.status_code == 200
    restaurants = response.json()
    assert len(restaurants) == 255
    assert response.headers["x-total-count"] == "255"
    assert {r["street_id"] for r in restaurants} == STREETS
    streets = client.get("/api/streets", headers=login("admin")).json()
    assert {s["id"] for s in streets} == STREETS
    assert sum(s["restaurant_count"] for s in streets) == 255


@pytest.mark.parametrize("street", sorted(STREETS))
def test_street_supervisor_sees_only_their_street(
    client: TestClient, login: Login, sample_district: District, street: str
) -> None:
    headers = login(f"sup-{street}")
    expected = {r.id for r in sample_district.restaurants if r.street == street}
    restaurants = client.get("/api/restaurants", headers=headers).json()
    assert {r["id"] for r in restaurants} == expected
    assert [s["id"] for s in client.get("/api/streets", headers=headers).json()] == [street]
    cameras = client.get("/api/cameras", headers=headers).json()
    # Their street's cameras, plus the district-wide test-vehicle cameras (street None).
    assert {c["street_id"] for c in cameras} <= {street, None}
    assert Counter(c["street_id"] for c in cameras)[street] >= len(expected)


def test_street_supervisor_is_refused_another_streets_data(
    client: TestClient, login: Login, sample_district: District
) -> None:
    headers = login("sup-haishan")
    meisha_restaurant = next(r for r in sample_district.restaurants if r.street == "meisha")
    meisha_camera = next(c for c in sample_district.cameras if c.owner.id == meisha_restaurant.id)
    for path in (
        f"/api/restaurants/{meisha_restaurant.id}",
        "/api/restaurants?street=meisha",
        "/api/streets/meisha",
        f"/api/cameras/{meisha_camera.id}",
        "/api/cameras?street=meisha",
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == 403, path
        assert "haishan" in response.json()["detail"], path
    own = next(r for r in sample_district.restaurants if r.street == "haishan")
    assert client.get(f"/api/restaurants/{own.id}", headers=headers).status_code == 200


@pytest.mark.parametrize("user", ["admin", "wall", "insp-01"])
def test_district_wide_roles_see_everything(client: TestClient, login: Login, user: str) -> None:
    assert len(client.get("/api/restaurants", headers=login(user)).json()) == 255
    assert len(client.get("/api/streets", headers=login(user)).json()) == 4


def test_unknown_ids_give_404_with_a_message(client: TestClient, login: Login) -> None:
    for path in ("/api/restaurants/r999", "/api/streets/atlantis", "/api/cameras/cam-nowhere"):
        response = client.get(path, headers=login("admin"))
        assert response.status_code == 404
        assert "no " in response.json()["detail"]


def test_restaurant_filters_and_paging(client: TestClient, login: Login, sample_district: District) -> None:
    headers = login("admin")
    meisha = [r for r in sample_district.restaurants if r.street == "meisha"]
    page = client.get("/api/restaurants?street=meisha&limit=10&offset=5", headers=headers)
    assert page.headers["x-total-count"] == str(len(meisha))
    assert [r["id"] for r in page.json()] == sorted(r.id for r in meisha)[5:15]
    target = sample_district.restaurants[42]
    found = client.get("/api/restaurants", params={"q": target.licence_no.lower()}, headers=headers).json()
    assert [r["id"] for r in found] == [target.id]
    bad = client.get("/api/restaurants?limit=0", headers=headers)
    assert bad.status_code == 422
    assert "limit" in bad.json()["detail"]


def test_camera_credentials_never_leave_the_server(
    client: TestClient, login: Login, sample_district: District
) -> None:
    secrets = {c.url.get_secret_value().split("//", 1)[1].split("@", 1)[0] for c in sample_district.cameras}
    assert secrets == {"viewer:sample-pass"}  # the sample has credentials to leak
    response = client.get("/api/cameras", headers=login("admin"))
    cameras = response.json()
    assert len(cameras) == len(sample_district.cameras)
    assert "sample-pass" not in response.text
    assert "viewer" not in response.text
    assert all(c["url"].startswith("rtsp://127.0.0.1:8554/cam") for c in cameras)
    one = client.get(f"/api/cameras/{cameras[0]['id']}", headers=login("admin"))
    assert "sample-pass" not in one.text
