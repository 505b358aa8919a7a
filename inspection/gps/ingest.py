"""Group commit of incoming fixes: every request that arrives while a write is running joins the next one.

One OsmAnd request carries one fix. Storing it alone costs a transaction, the known devices, the last
positions, the duplicates query, the fences and the open visits, all for one row; at hundreds of phones
that is what limits the server (``bench/positions.py``). The writer takes whatever requests are waiting
(up to ``max_fixes`` fixes), passes them through the filter chain in arrival order as one batch, in one
transaction, and answers each request with the outcome of its own fixes: the same answers, filters
(with their counts), held devices, geofence visits and position events as one request at a time. When
requests come one at a time each is written at once, so nothing waits for a batch to fill.

If a combined write fails, each request's fixes are written again on their own, so one bad request
cannot fail the others. The queue is bounded (``max_waiting`` requests): beyond it a request waits for
room, which slows the senders instead of growing memory.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from prometheus_client import Histogram
from starlette.concurrency import run_in_threadpool

from command_center.context import AppContext
from inspection.gps import service
from inspection.gps.flows import publish_positions
from inspection.gps.schemas import BatchResult, Fix, Rejected

log = logging.getLogger(__name__)

GROUP_FIXES = Histogram(
    "mscc_position_write_fixes",
    "Fixes written per transaction by the position writer",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000),
)

Stored = list[tuple[Fix, service.DeviceOwner]]


@dataclass
class _Request:
    fixes: list[Fix]
    done: asyncio.Future[BatchResult]
    stored: Stored = field(default_factory=list)


def store(ctx: AppContext, fixes: list[Fix]) -> tuple[Stored, BatchResult]:
    """Store ``fixes`` in one transaction (blocking: call it from a worker thread)."""
    with ctx.sessions() as session, session.begin():
        out = service.store_fixes(session, fixes, hold_unknown=ctx.settings.unknown_devices == "hold")
    return out.stored, BatchResult(accepted=len(out.stored), rejected=out.rejected, held=out.held)


class PositionWriter:
    """Writes the fixes of concurrent requests together; :meth:`start` in the app's lifespan."""

    def __init__(self, ctx: AppContext, *, max_fixes: int = 2000, max_waiting: int = 10_000) -> None:
        self._ctx = ctx
        self._max_fixes = max_fixes
        self._max_waiting = max_waiting
        self._queue: asyncio.Queue[_Request] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the writer on the running event loop."""
        self._queue = asyncio.Queue(self._max_waiting)
        self._task = asyncio.create_task(self._run(), name="position-writer")

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Write what is waiting (for up to ``timeout_s``), then stop."""
        if self._queue is not None and self._task is not None and not self._task.done():
            try:
                await asyncio.wait_for(self._queue.join(), timeout_s)
            except TimeoutError:
                log.warning("position writer: %s requests still waiting at shutdown", self._queue.qsize())
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def write(self, fixes: list[Fix]) -> BatchResult:
        """Store ``fixes`` (with other requests' fixes when some are waiting), publish the position
        events of the stored ones, and return what became of each."""
        running = self._task is not None and not self._task.done() and self._queue is not None
        if not running or self._queue is None:
            # Not started (a caller without the app's lifespan): write alone, as before.
            stored, result = await run_in_threadpool(store, self._ctx, fixes)
            await publish_positions(self._ctx.bus, stored)
            return result
        request = _Request(fixes, asyncio.get_running_loop().create_future())
        await self._queue.put(request)
        return await request.done

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            count = len(batch[0].fixes)
            while count < self._max_fixes and not self._queue.empty():
                batch.append(self._queue.get_nowait())
                count += len(batch[-1].fixes)
            try:
                await self._write(batch)
            except Exception as exc:  # never reached in practice: _write answers every request
                log.exception("position writer failed on %s requests", len(batch))
                for request in batch:
                    if not request.done.done():
                        request.done.set_exception(exc)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[_Request]) -> None:
        GROUP_FIXES.observe(sum(len(r.fixes) for r in batch))
        try:
            results = await run_in_threadpool(self._store_together, batch)
        except Exception:
            if len(batch) == 1:
                batch[0].done.set_exception(_failure())
                return
            log.warning("a combined write of %s requests failed; writing them one by one", len(batch))
            results = []
            for request in batch:
                try:
                    request.stored, result = await run_in_threadpool(store, self._ctx, request.fixes)
                except Exception:
                    log.exception("storing %s fixes failed", len(request.fixes))
                    request.done.set_exception(_failure())
                    result = None
                results.append(result)
        await publish_positions(self._ctx.bus, [pair for request in batch for pair in request.stored])
        for request, result in zip(batch, results, strict=True):
            if result is not None and not request.done.done():
                request.done.set_result(result)

    def _store_together(self, batch: list[_Request]) -> list[BatchResult | None]:
        """One transaction for the whole batch; each request's outcome picked out by fix index."""
        fixes = [fix for request in batch for fix in request.fixes]
        stored, result = store(self._ctx, fixes)
        # Stored fixes in batch order; rejected and held ones carry their index in the batch.
        offsets, start = [], 0
        for request in batch:
            offsets.append((start, start + len(request.fixes)))
            start += len(request.fixes)
        out: list[BatchResult | None] = []
        stored_at = iter(stored)
        dropped = {r.index for r in result.rejected} | {r.index for r in result.held}
        for request, (low, high) in zip(batch, offsets, strict=True):
            request.stored = [next(stored_at) for index in range(low, high) if index not in dropped]
            out.append(
                BatchResult(
                    accepted=len(request.stored),
                    rejected=[_shift(r, low) for r in result.rejected if low <= r.index < high],
                    held=[_shift(r, low) for r in result.held if low <= r.index < high],
                )
            )
        return out


def _shift(rejected: Rejected, offset: int) -> Rejected:
    return rejected.model_copy(update={"index": rejected.index - offset})


def _failure() -> RuntimeError:
    return RuntimeError("the positions could not be stored")
