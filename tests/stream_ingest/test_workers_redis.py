"""Two ingest workers on the real Redis share 20 real RTSP cameras; when one dies, the other takes its
cameras within the lease TTL and they come online there."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import redis.asyncio as aioredis

from command_center.events.schemas import Event
from stream_ingest.frames import SnapshotStore
from stream_ingest.leases import RedisLeases
from stream_ingest.service import IngestService
from stream_ingest.simulator import CameraSimulator, Clip
from stream_ingest.worker import CameraSpec
from tests.services import unavailable

TTL = 3.0


async def test_two_workers_split_twenty_cameras_and_survive_a_death(
    rtsp: CameraSimulator, ingest_clips: dict[str, Clip], tmp_path: Path
) -> None:
    client = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        await client.ping()
    except (aioredis.RedisError, OSError):
        unavailable("Redis at 127.0.0.1:6379")
    urls = rtsp.add_cameras(20, [ingest_clips["kitchen-a"], ingest_clips["kitchen-b"]])
    specs = [CameraSpec(id=f"c{i:02d}", url=u, analysis_interval_s=4.0) for i, u in enumerate(urls)]
    prefix = f"test:ingest:{uuid.uuid4().hex}"

    async def publish(_: Event) -> None:
        return None

    def worker(name: str) -> tuple[IngestService, RedisLeases]:
        leases = RedisLeases(client, ttl_s=TTL, prefix=prefix, worker_id=name)
        service = IngestService(
            specs,
            publish=publish,
            snapshots=SnapshotStore(tmp_path / name),
            assigner=leases,
            assign_every_s=TTL / 3,
        )
        return service, leases

    (a, a_leases), (b, _) = worker("a"), worker("b")
    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    task_a = asyncio.create_task(a.run(stop_a))
    task_b = asyncio.create_task(b.run(stop_b))

    def online(service: IngestService) -> set[str]:
        return {cid for cid, sup in service.supervisors.items() if sup.state == "online"}

    try:
        deadline = time.monotonic() + 30
        while not (len(online(a)) == 10 and len(online(b)) == 10):
            assert time.monotonic() < deadline, f"no fair split: a={sorted(online(a))} b={sorted(online(b))}"
            await asyncio.sleep(0.2)
        assert set(a.supervisors).isdisjoint(b.supervisors)
        assert set(a.supervisors) | set(b.supervisors) == {s.id for s in specs}

        # Worker a dies: its process is gone, so it renews nothing and releases nothing.
        async def no_release() -> None:
            return None

        a_leases.release_all = no_release  # type: ignore[method-assign]
        died = time.monotonic()
        stop_a.set()
        await task_a
        while len(b.supervisors) < 20:
            assert time.monotonic() - died < TTL + TTL / 3 + 2, "cameras not taken over within the TTL"
            await asyncio.sleep(0.1)
        moved_after = time.monotonic() - died
        while len(online(b)) < 20:
            assert time.monotonic() - died < TTL + 15, f"only {len(online(b))} of 20 online on b"
            await asyncio.sleep(0.2)
    finally:
        stop_a.set()
        stop_b.set()
        await asyncio.gather(task_a, task_b, return_exceptions=True)
        async for key in client.scan_iter(match=f"{prefix}*"):
            await client.delete(key)
        await client.aclose()
    assert moved_after <= TTL + TTL / 3 + 2
