"""Sharing cameras among ingest workers through Redis leases: each camera is held by exactly one live
worker; a dead worker's leases expire after a TTL and the others take its cameras; a new worker gets a
fair share as the others release their surplus. Without Redis one process holds every camera."""

from __future__ import annotations

import logging
import math
import os
import secrets
import socket
from collections.abc import Sequence
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# Renew only a lease we still hold (compare-and-expire), release only our own (compare-and-delete):
# a worker that paused past its TTL must not extend or drop a lease another worker has taken since.
_RENEW = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
)
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class CameraAssigner(Protocol):
    """Decides which cameras this worker runs; called every few seconds."""

    async def assign(self, camera_ids: Sequence[str]) -> set[str]:
        """The camera ids this worker should be running now."""

    async def release_all(self) -> None:
        """Give every held camera back (clean shutdown)."""


class AllCameras:
    """The single-machine assigner: this process runs every camera."""

    async def assign(self, camera_ids: Sequence[str]) -> set[str]:
        """Every camera."""
        return set(camera_ids)

    async def release_all(self) -> None:
        """Nothing to release."""


def default_worker_id() -> str:
    """``<hostname>-<pid>-<random>``."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class RedisLeases:
    """Fair-share camera leases on Redis. ``assign`` heartbeats this worker, renews its leases, takes
    free cameras up to ``ceil(cameras / live workers)`` and releases what it holds above that share."""

    def __init__(
        self,
        redis: Redis,
        *,
        ttl_s: float = 15.0,
        prefix: str = "mscc:ingest",
        worker_id: str | None = None,
        max_release_per_cycle: int = 8,
    ) -> None:
        self.redis = redis
        self.ttl_ms = int(ttl_s * 1000)
        self.prefix = prefix
        self.worker_id = worker_id or default_worker_id()
        self.held: set[str] = set()
        self._max_release = max_release_per_cycle

    def _lease(self, camera_id: str) -> str:
        return f"{self.prefix}:lease:{camera_id}"

    async def live_workers(self) -> int:
        """How many workers have heartbeated within the TTL (this one included)."""
        count = 0
        async for _ in self.redis.scan_iter(match=f"{self.prefix}:worker:*", count=500):
            count += 1
        return max(count, 1)

    async def assign(self, camera_ids: Sequence[str]) -> set[str]:
        """One coordination cycle; on a Redis error keep running what we hold until the TTL says otherwise."""
        try:
            return await self._cycle(camera_ids)
        except (RedisError, OSError) as exc:
            log.warning(
                "ingest leases: Redis unreachable (%s); keeping %s cameras for now", exc, len(self.held)
            )
            return set(self.held)

    async def _cycle(self, camera_ids: Sequence[str]) -> set[str]:
        await self.redis.set(f"{self.prefix}:worker:{self.worker_id}", "1", px=self.ttl_ms)
        wanted = set(camera_ids)
        # Renew what we hold; a lease that expired and was taken is lost.
        for camera_id in sorted(self.held):
            if camera_id not in wanted:
                await self.redis.eval(_RELEASE, 1, self._lease(camera_id), self.worker_id)
                self.held.discard(camera_id)
                continue
            renewed = await self.redis.eval(_RENEW, 1, self._lease(camera_id), self.worker_id, self.ttl_ms)
            if not renewed:
                log.warning("ingest leases: lost camera %s to another worker", camera_id)
                self.held.discard(camera_id)
        share = math.ceil(len(wanted) / await self.live_workers())
        if len(self.held) > share:
            # Give back a few at a time, so a new worker's arrival does not drop many streams at once.
            surplus = sorted(self.held)[share:][: self._max_release]
            for camera_id in surplus:
                await self.redis.eval(_RELEASE, 1, self._lease(camera_id), self.worker_id)
                self.held.discard(camera_id)
            log.info("ingest leases: released %s cameras to share with other workers", len(surplus))
        elif len(self.held) < share:
            # Try cameras in an order of our own, so workers starting together do not all race for cam0.
            order = sorted(wanted - self.held, key=lambda c: hash((self.worker_id, c)))
            for camera_id in order:
                if len(self.held) >= share:
                    break
                if await self.redis.set(self._lease(camera_id), self.worker_id, nx=True, px=self.ttl_ms):
                    self.held.add(camera_id)
        return set(self.held)

    async def release_all(self) -> None:
        """Release every lease and the heartbeat, so other workers take over at once."""
        try:
            for camera_id in sorted(self.held):
                await self.redis.eval(_RELEASE, 1, self._lease(camera_id), self.worker_id)
            await self.redis.delete(f"{self.prefix}:worker:{self.worker_id}")
        except (RedisError, OSError) as exc:
            log.warning("ingest leases: could not release (%s); they expire by themselves", exc)
        self.held.clear()
