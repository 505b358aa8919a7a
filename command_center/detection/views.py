"""HTTP view of the detector overview."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from command_center.deps import ContextDep, PrincipalDep
from command_center.detection.schemas import DetectorOverview
from command_center.detection.service import overview
from detectors.config import DetectorConfigError, load_detector_config

router = APIRouter(tags=["detectors"])


@router.get("/api/detectors")
def detectors(ctx: ContextDep, principal: PrincipalDep) -> DetectorOverview:
    """Each violation type with its sources and whether they were validated on real data
    (``validated: false`` for no_hat, and for alerts of the night rodent rule)."""
    del principal  # any logged-in role may read it: it is what they need to judge an alert
    try:
        config = load_detector_config(ctx.settings.detectors_config)
    except DetectorConfigError as exc:
        raise HTTPException(status_code=503, detail=f"detector configuration unreadable: {exc}") from exc
    return overview(config)
