"""API schemas of the district registry."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StreetOut(BaseModel):
    """A street with its boundary and how many restaurants it has."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    name_zh: str | None
    polygon: list[tuple[float, float]]
    restaurant_count: int = 0


class RestaurantOut(BaseModel):
    """A supervised business."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    licence_no: str
    name: str
    address: str
    kind: str
    street_id: str
    lat: float
    lon: float
    public_id: str


class ImportReport(BaseModel):
    """What ``import-registry`` did: counts and the rows it refused, by line number."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = []


class DistrictOut(BaseModel):
    """The district as the screens title it."""

    name: str
    timezone: str
    streets: int
    restaurants: int
    cameras: int
    inspectors: int
    vehicles: int
    labs: int
