"""Typed district configuration: streets, restaurants, cameras, labs, people.

Every model rejects unknown keys, so a misspelt key fails at start-up with its path instead of being
silently ignored. Cross-references (a restaurant's street, a camera's owner) are checked on the whole
tree by :class:`District`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="lower-case id")]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
LatLon = tuple[Latitude, Longitude]
UnitPoint = tuple[Annotated[float, Field(ge=0, le=1)], Annotated[float, Field(ge=0, le=1)]]

Role = Literal["district_admin", "street_supervisor", "inspector", "wall_display"]
ROLES: tuple[Role, ...] = ("district_admin", "street_supervisor", "inspector", "wall_display")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Street(_Strict):
    """A street (subdistrict) office with its own supervision platform."""

    id: Slug = Field(title="Street id")
    name: str = Field(min_length=1, title="Name")
    name_zh: str | None = Field(None, title="Chinese name")
    polygon: list[LatLon] = Field(min_length=3, title="Boundary", description="[lat, lon] vertices, WGS84")


class Restaurant(_Strict):
    """A food business under video supervision."""

    id: Slug = Field(title="Restaurant id")
    licence_no: str = Field(
        pattern=r"^[A-Z0-9]{6,32}$", title="Licence number", description="food business licence"
    )
    name: str = Field(min_length=1, max_length=200, title="Name")
    address: str = Field(min_length=1, max_length=300, title="Address")
    kind: str = Field("restaurant", pattern=r"^[a-z_]{2,32}$", title="Business type")
    street: Slug = Field(title="Street id")
    lat: Latitude = Field(title="Latitude")
    lon: Longitude = Field(title="Longitude")
    public_id: str = Field(
        pattern=r"^[a-z0-9]{6,32}$", title="Public id", description="the id behind the restaurant's QR code"
    )


class Zone(_Strict):
    """An image region of a camera, in [0, 1] image coordinates."""

    name: str = Field(min_length=1, title="Zone name")
    kind: Literal["prep", "floor", "exclude"] = Field(title="Zone kind")
    polygon: list[UnitPoint] = Field(min_length=3, title="Polygon", description="[x, y] in [0, 1]")


class CameraOwner(_Strict):
    """What a camera belongs to."""

    kind: Literal["restaurant", "lab", "vehicle", "terminal"] = Field(title="Owner kind")
    id: Slug = Field(title="Owner id")


class Camera(_Strict):
    """One RTSP camera. The URL may carry credentials; they are never shown or logged."""

    id: Slug = Field(title="Camera id")
    owner: CameraOwner = Field(title="Owner")
    url: SecretStr = Field(
        title="RTSP URL", description="rtsp:// or rtsps:// URL, user name and password included when needed"
    )
    analysis_interval_s: float = Field(
        2.0, ge=0, le=3600, title="Analysis interval", description="seconds; 0 analyses every keyframe"
    )
    enabled: bool = Field(True, title="Enabled")
    record_days: float | None = Field(
        None, gt=0, title="Recording retention", description="days; unset uses MSCC_RECORDINGS_DAYS"
    )
    zones: list[Zone] = Field(default_factory=list, title="Zones")

    @field_validator("url")
    @classmethod
    def _rtsp_url(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("rtsp://", "rtsps://")):
            raise ValueError("must start with rtsp:// or rtsps://")
        return value


class Lab(_Strict):
    """A food-testing room or test vehicle."""

    id: Slug = Field(title="Lab id")
    name: str = Field(min_length=1, title="Name")
    kind: Literal["room", "vehicle"] = Field(title="Lab kind")
    street: Slug | None = Field(None, title="Street id", description="where a room is; vehicles roam")
    vehicle: Slug | None = Field(None, title="Vehicle id", description="for kind=vehicle: the vehicle")


class Inspector(_Strict):
    """A field inspector carrying a mobile enforcement terminal (GPS + camera)."""

    id: Slug = Field(title="Inspector id")
    name: str = Field(min_length=1, title="Name")
    street: Slug = Field(title="Home street")
    device_id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", title="GPS device id")


class Vehicle(_Strict):
    """A food-testing vehicle with a GPS tracker."""

    id: Slug = Field(title="Vehicle id")
    name: str = Field(min_length=1, title="Name")
    device_id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", title="GPS device id")


class User(_Strict):
    """A login. Passwords are not kept in the config: set them with `mscc user add` or the demo."""

    username: str = Field(pattern=r"^[a-z0-9_.-]{2,64}$", title="User name")
    role: Role = Field(title="Role")
    street: Slug | None = Field(None, title="Street id", description="required for street_supervisor")
    inspector: Slug | None = Field(None, title="Inspector id", description="for role=inspector")

    @model_validator(mode="after")
    def _street_for_supervisor(self) -> User:
        if self.role == "street_supervisor" and self.street is None:
            raise ValueError("a street_supervisor needs a street")
        return self


class District(_Strict):
    """The whole district: the typed tree validated once at start-up."""

    name: str = Field(min_length=1, title="District name")
    timezone: str = Field("Asia/Shanghai", title="Time zone")
    streets: list[Street] = Field(min_length=1, title="Streets")
    restaurants: list[Restaurant] = Field(default_factory=list, title="Restaurants")
    cameras: list[Camera] = Field(default_factory=list, title="Cameras")
    labs: list[Lab] = Field(default_factory=list, title="Labs")
    inspectors: list[Inspector] = Field(default_factory=list, title="Inspectors")
    vehicles: list[Vehicle] = Field(default_factory=list, title="Vehicles")
    users: list[User] = Field(default_factory=list, title="Users")

    @model_validator(mode="after")
    def _references(self) -> District:
        _unique("streets", "id", [s.id for s in self.streets])
        _unique("restaurants", "id", [r.id for r in self.restaurants])
        _unique("restaurants", "licence_no", [r.licence_no for r in self.restaurants])
        _unique("restaurants", "public_id", [r.public_id for r in self.restaurants])
        _unique("cameras", "id", [c.id for c in self.cameras])
        _unique("labs", "id", [lab.id for lab in self.labs])
        _unique("inspectors", "id", [i.id for i in self.inspectors])
        _unique("vehicles", "id", [v.id for v in self.vehicles])
        _unique("users", "username", [u.username for u in self.users])
        # One GPS device id space across inspectors and vehicles: a position must map to one owner.
        _unique_paths(
            "device_id",
            [(f"inspectors[{n}].device_id", i.device_id) for n, i in enumerate(self.inspectors)]
            + [(f"vehicles[{n}].device_id", v.device_id) for n, v in enumerate(self.vehicles)],
        )

        streets = {s.id for s in self.streets}
        owners = {
            "restaurant": {r.id for r in self.restaurants},
            "lab": {lab.id for lab in self.labs},
            "vehicle": {v.id for v in self.vehicles},
            "terminal": {i.id for i in self.inspectors},
        }
        for i, r in enumerate(self.restaurants):
            _known(f"restaurants[{i}].street", r.street, streets)
        for i, c in enumerate(self.cameras):
            _known(f"cameras[{i}].owner.id", c.owner.id, owners[c.owner.kind])
        for i, lab in enumerate(self.labs):
            if lab.street is not None:
                _known(f"labs[{i}].street", lab.street, streets)
            if lab.vehicle is not None:
                _known(f"labs[{i}].vehicle", lab.vehicle, owners["vehicle"])
        for i, insp in enumerate(self.inspectors):
            _known(f"inspectors[{i}].street", insp.street, streets)
        for i, u in enumerate(self.users):
            if u.street is not None:
                _known(f"users[{i}].street", u.street, streets)
            if u.inspector is not None:
                _known(f"users[{i}].inspector", u.inspector, owners["terminal"])
        return self

    def street_of_camera(self, camera: Camera) -> str | None:
        """The street a camera's owner belongs to, if it has one."""
        if camera.owner.kind == "restaurant":
            return next((r.street for r in self.restaurants if r.id == camera.owner.id), None)
        if camera.owner.kind == "lab":
            return next((lab.street for lab in self.labs if lab.id == camera.owner.id), None)
        if camera.owner.kind == "terminal":
            return next((i.street for i in self.inspectors if i.id == camera.owner.id), None)
        return None


class DistrictReferenceError(ValueError):
    """A key names something that is not in the file; ``path`` says where."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.problem = message


def _unique(section: str, key: str, values: list[str]) -> None:
    _unique_paths(key, [(f"{section}[{n}].{key}", value) for n, value in enumerate(values)])


def _unique_paths(what: str, items: Iterable[tuple[str, str]]) -> None:
    """Raise at the second occurrence of a value, so the error's path and line point at the duplicate."""
    first: dict[str, str] = {}
    for path, value in items:
        if value in first:
            raise DistrictReferenceError(path, f"duplicate {what} {value!r} (first at {first[value]})")
        first[value] = path


def _known(path: str, value: str, known: set[str]) -> None:
    if value not in known:
        sample = ", ".join(sorted(known)[:6]) + (", ..." if len(known) > 6 else "")
        raise DistrictReferenceError(path, f"unknown id {value!r} (known: {sample or 'none'})")
