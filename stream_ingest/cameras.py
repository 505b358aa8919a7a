"""Which cameras to ingest: from the district file, or from ``--camera ID=URL`` arguments."""

from __future__ import annotations

from collections.abc import Iterable

from config.district import District
from stream_ingest.worker import CameraSpec


def specs_from_district(district: District) -> list[CameraSpec]:
    """The enabled cameras of the district, with the restaurant and street each belongs to."""
    return [
        CameraSpec(
            id=c.id,
            url=c.url.get_secret_value(),
            analysis_interval_s=c.analysis_interval_s,
            restaurant_id=c.owner.id if c.owner.kind == "restaurant" else None,
            street_id=district.street_of_camera(c),
            zones=tuple(c.zones),
        )
        for c in district.cameras
        if c.enabled
    ]


def specs_from_args(values: Iterable[str], *, analysis_interval_s: float = 2.0) -> list[CameraSpec]:
    """Parse ``ID=RTSP_URL`` arguments. Raises ValueError naming the bad argument (never its URL)."""
    specs: dict[str, CameraSpec] = {}
    for n, value in enumerate(values, start=1):
        camera_id, sep, url = value.partition("=")
        camera_id = camera_id.strip()
        if not sep or not camera_id or not url.startswith(("rtsp://", "rtsps://")):
            raise ValueError(f"--camera #{n}: expected ID=rtsp://..., got {camera_id or '?'}=...")
        if camera_id in specs:
            raise ValueError(f"--camera #{n}: camera id {camera_id!r} given twice")
        specs[camera_id] = CameraSpec(id=camera_id, url=url, analysis_interval_s=analysis_interval_s)
    return list(specs.values())
