"""Side effects of stored lab results: a ``lab_result`` event each, and a ``lab_failed`` alert for every
failure so that the alert pipeline opens (or joins) a case for the restaurant."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from command_center.events.bus import EventBus
from command_center.events.schemas import AlertCreated, LabResultEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredResult:
    """What the events need of a committed result (read before the session closes)."""

    id: int
    lab_id: str
    seq: int
    hash: str
    sample_id: str
    restaurant_id: str | None
    street_id: str | None
    item: str
    measured_value: float
    limit_value: float
    unit: str
    passed: bool


async def publish_results(bus: EventBus, results: Sequence[StoredResult]) -> None:
    """Publish the events of committed results; event ids derive from (lab, seq), so a replay is harmless."""
    for r in results:
        await bus.publish(
            LabResultEvent(
                id=f"lab-result-{r.lab_id}-{r.seq}",
                lab_id=r.lab_id,
                passed=r.passed,
                restaurant_id=r.restaurant_id,
                street_id=r.street_id,
                result_id=r.id,
                seq=r.seq,
                hash=r.hash,
                sample_id=r.sample_id,
                item=r.item,
            )
        )
        if r.passed:
            continue
        await bus.publish(
            AlertCreated(
                id=f"lab-failed-{r.lab_id}-{r.seq}",
                violation="lab_failed",
                restaurant_id=r.restaurant_id,
                street_id=r.street_id,
                validated=True,
                source="lab",
                note=f"{r.item}: {r.measured_value:g} {r.unit} over the limit {r.limit_value:g} "
                f"(sample {r.sample_id}, {r.lab_id} #{r.seq})",
                reported_by=r.lab_id,
            )
        )
        log.info("lab %s result %s failed (%s at %s): alert raised", r.lab_id, r.seq, r.item, r.restaurant_id)
