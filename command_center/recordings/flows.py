"""Side effects of recordings: index finished segments, cut an evidence clip around every camera alert
once the time after it has been recorded, and run retention periodically."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from starlette.concurrency import run_in_threadpool

from command_center.context import AppContext
from command_center.database.core import transaction
from command_center.events.schemas import AlertCreated, Event, RecordingSegment
from command_center.recordings import service
from stream_ingest.clips import cut_clip

log = logging.getLogger(__name__)

SEGMENTS_GROUP = "cc-recordings"
CLIPS_GROUP = "cc-clips"
RETENTION_EVERY_S = 60.0
BUDGET_ALERT_EVERY = timedelta(hours=1)
# Segments are fragmented MP4 flushed every keyframe (about 1 s): wait that much past the clip's end.
FLUSH_MARGIN_S = 3.0


class Recordings:
    """The recording side effects of one server process."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_budget_alert: datetime | None = None

    def register(self) -> None:
        """Subscribe to segment and alert events (called with the other consumers)."""
        self.ctx.bus.subscribe(self._on_segment, group=SEGMENTS_GROUP, types=["recording.segment"])
        self.ctx.bus.subscribe(self._on_alert, group=CLIPS_GROUP, types=["alert.created"])

    async def _on_segment(self, event: Event) -> None:
        if isinstance(event, RecordingSegment):
            await run_in_threadpool(self._index, event)

    def _index(self, event: RecordingSegment) -> None:
        with transaction(self.ctx.sessions) as session:
            service.index_segment(session, event=event)

    async def _on_alert(self, event: Event) -> None:
        # Only camera alerts have video; the cut waits for the recording to pass T+after, so it runs
        # as its own task instead of holding up the consumer group.
        if isinstance(event, AlertCreated) and event.camera_id and self.ctx.settings.recordings_dir.is_dir():
            task = asyncio.create_task(self._clip(event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _clip(self, event: AlertCreated) -> None:
        settings = self.ctx.settings
        start = event.ts - timedelta(seconds=settings.clip_before_s)
        end = event.ts + timedelta(seconds=settings.clip_after_s)
        wait = (end - datetime.now(UTC)).total_seconds() + FLUSH_MARGIN_S
        if wait > 0:
            await asyncio.sleep(wait)
        assert event.camera_id is not None
        out = settings.clips_dir / event.camera_id / f"{event.id}.mp4"
        try:
            clip = await asyncio.to_thread(
                cut_clip, settings.recordings_dir, event.camera_id, start, end, out
            )
        except Exception:  # a broken segment must not take the consumer down
            log.exception("clip for alert %s could not be cut", event.id)
            return
        if clip is None:
            log.info("no recording of camera %s around alert %s: no clip", event.camera_id, event.id)
            return
        camera_id = event.camera_id

        def save() -> None:
            with transaction(self.ctx.sessions) as session:
                service.save_clip(
                    session,
                    alert_event_id=event.id,
                    camera_id=camera_id,
                    clip=clip,
                    clips_dir=settings.clips_dir,
                )

        await run_in_threadpool(save)
        log.info("clip of %.0f s cut for alert %s", (clip.end - clip.start).total_seconds(), event.id)

    async def retention_loop(self, stop: asyncio.Event) -> None:
        """Apply retention every minute until ``stop``; alert when the budget cuts retention short."""
        while not stop.is_set():
            try:
                report = await run_in_threadpool(self.retention_once)
                if report.early_deletions:
                    await self._budget_alert(report.early_deletions)
            except Exception:  # retention must keep running whatever one run hit
                log.exception("retention run failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RETENTION_EVERY_S)

    def retention_once(self, now: datetime | None = None) -> service.RetentionReport:
        """One retention run with the configured policy."""
        settings = self.ctx.settings
        days = {c.id: c.record_days for c in self.ctx.district.cameras} if self.ctx.district else {}
        policy = service.RetentionPolicy(
            recordings_dir=settings.recordings_dir,
            clips_dir=settings.clips_dir,
            days_for=lambda camera_id: days.get(camera_id) or settings.recordings_days,
            budget_bytes=int(settings.recordings_budget_gb * 1e9),
            clip_keep_days=settings.clip_keep_days,
        )
        with transaction(self.ctx.sessions) as session:
            report = service.apply_retention(session, policy=policy, now=now or datetime.now(UTC))
        if report.segments_deleted or report.clips_deleted:
            log.info("retention: %s", report.model_dump())
        return report

    async def _budget_alert(self, early: int) -> None:
        now = datetime.now(UTC)
        if self._last_budget_alert is not None and now - self._last_budget_alert < BUDGET_ALERT_EVERY:
            return
        self._last_budget_alert = now
        await self.ctx.bus.publish(
            AlertCreated(
                violation="recording_budget",
                score=1.0,
                note=f"the disk budget deleted {early} segments before their retention ended",
                source="system",
            )
        )

    async def close(self) -> None:
        """Cancel clip cuts still waiting."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
