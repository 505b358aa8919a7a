"""Decoding of the OsmAnd protocol spoken by phone tracker apps (Traccar Client, OsmAnd, ...).

Fields as such apps send them, in the query string, a form or a JSON body: ``id``/``deviceid``,
``lat``/``lon`` (or ``location=lat,lon``), ``timestamp`` in seconds, milliseconds or ISO 8601,
``speed`` in knots, ``bearing``/``heading``, ``altitude``, ``accuracy``, ``hdop``, ``batt``,
``valid``. Any other field is kept as an attribute; ``valid`` is kept too, for the ``invalid`` filter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from config.clock import as_utc
from inspection.gps.schemas import Fix

KNOT_KMH = 1.852
_KNOWN = {
    "id",
    "deviceid",
    "lat",
    "lon",
    "location",
    "timestamp",
    "speed",
    "bearing",
    "heading",
    "altitude",
    "accuracy",
    "batt",
}


class OsmAndError(ValueError):
    """The request is not a usable fix; the message is the 400 response's reason."""


def parse_osmand(params: Mapping[str, Any], *, now: datetime | None = None) -> Fix:
    """Decode one OsmAnd request into a :class:`Fix` or raise :class:`OsmAndError` saying why."""
    device_id = str(params.get("id") or params.get("deviceid") or "").strip()
    if not device_id:
        raise OsmAndError("missing device id (id or deviceid)")
    if "location" in params and ("lat" not in params or "lon" not in params):
        try:
            lat_text, lon_text = str(params["location"]).split(",", 1)
        except ValueError as exc:
            raise OsmAndError("location must be 'lat,lon'") from exc
        lat, lon = _number(lat_text, "lat"), _number(lon_text, "lon")
    else:
        if "lat" not in params or "lon" not in params:
            raise OsmAndError("missing lat or lon")
        lat, lon = _number(params["lat"], "lat"), _number(params["lon"], "lon")
    speed = _optional(params, "speed")
    bearing = _optional(params, "bearing")
    if bearing is None:
        bearing = _optional(params, "heading")
    attributes = {k: v for k, v in params.items() if k not in _KNOWN}
    try:
        return Fix(
            device_id=device_id,
            ts=parse_timestamp(params.get("timestamp"), now=now),
            lat=lat,
            lon=lon,
            speed_kmh=None if speed is None else speed * KNOT_KMH,
            bearing=None if bearing is None else bearing % 360,
            altitude=_optional(params, "altitude"),
            accuracy=_optional(params, "accuracy"),
            battery=_optional(params, "batt"),
            attributes=attributes,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise OsmAndError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from exc


def parse_timestamp(value: Any, *, now: datetime | None = None) -> datetime:
    """Seconds or milliseconds since the epoch, or ISO 8601; absent means the time of receipt."""
    if value is None or str(value).strip() == "":
        return now or datetime.now(UTC)
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise OsmAndError(
                f"timestamp {text[:40]!r} is neither epoch seconds, milliseconds nor ISO 8601"
            ) from exc
        return as_utc(parsed)
    if not math.isfinite(number):
        raise OsmAndError("timestamp is not a finite number")
    # Apps send seconds or milliseconds; 1e11 s would be the year 5138, so larger values are milliseconds.
    seconds = number / 1000 if abs(number) > 1e11 else number
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise OsmAndError("timestamp out of range") from exc


def _number(value: Any, name: str) -> float:
    try:
        number = float(str(value).strip())
    except ValueError as exc:
        raise OsmAndError(f"{name} is not a number: {str(value)[:40]!r}") from exc
    if not math.isfinite(number):
        raise OsmAndError(f"{name} is not a finite number")
    return number


def _optional(params: Mapping[str, Any], name: str) -> float | None:
    value = params.get(name)
    if value is None or str(value).strip() == "":
        return None
    return _number(value, name)
