"""Event bus on Redis Streams, for several processes or machines sharing one Redis.

One stream holds every event (``XADD`` with approximate ``MAXLEN`` trimming). A consumer group is a
Redis consumer group created at ``$``; each ``subscribe`` call is one Redis consumer reading with
``XREADGROUP``. An entry is acknowledged (``XACK``) only after its handler returns; a failed entry stays
pending and any consumer of the group reclaims it with ``XAUTOCLAIM`` once it has been idle for
``claim_idle_ms``, which also recovers the entries of a consumer that died. After ``max_deliveries``
(the delivery count Redis keeps in the pending list) the entry is copied to ``<stream>:dead`` and acked.
Handlers must finish well within ``claim_idle_ms``, or another consumer takes the entry over too.

Event ids are marked handled with ``SET <stream>:seen:<group>:<id> 1 NX EX dedup_ttl_s`` after success,
so an event published twice (or retried by ``publish`` after a timeout) is handled once per group.
Broadcast subscriptions read the stream with plain ``XREAD`` and are best effort: a failing handler is
logged and counted, not retried.

Connection loss never ends a consumer loop: it logs, backs off (doubling, capped at ``max_backoff_s``),
and carries on once Redis answers. ``publish`` retries for up to ``publish_timeout_s``, then raises
:class:`~command_center.events.bus.BusUnavailable`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT, FieldT

from command_center.events import metrics
from command_center.events.bus import BusUnavailable, Handler
from command_center.events.memory import RecentIds
from command_center.events.schemas import Event, parse_event
from config.redaction import redact_url

log = logging.getLogger(__name__)

BUS_NAME = "redis"
PAYLOAD_FIELD = "data"

# Errors that mean "Redis is not reachable right now"; anything else is a bug or a misconfiguration.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    TimeoutError,
)
# ...plus server replies such as NOGROUP, which a consumer loop also outlives.
RECOVERABLE: tuple[type[BaseException], ...] = (*CONNECTION_ERRORS, ResponseError)


@dataclass(eq=False)
class _Entry:
    """One stream entry: its id, fields, and how many times Redis has delivered it to the group."""

    id: str
    fields: dict[str, str]
    deliveries: int
    event: Event | None = None


def default_consumer_name() -> str:
    """``<hostname>-<pid>-<random>``: unique per subscription, recognisable in ``XINFO CONSUMERS``."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class _Backoff:
    """Growing, capped delays between reconnection attempts, reset once Redis answers again."""

    def __init__(self, first: float, cap: float) -> None:
        self._first = first
        self._cap = cap
        self._next = first
        self.failing = False

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self._cap)
        self.failing = True
        return delay

    def reset(self) -> None:
        self._next = self._first
        self.failing = False


@dataclass(eq=False)
class _Subscription:
    handler: Handler
    group: str | None
    types: frozenset[str] | None
    consumer: str
    task: asyncio.Task[None] | None = None
    # True while entries are being handled, so close() lets the handler finish instead of cancelling.
    busy: bool = False
    # Broadcast only: the stream id to read after (resolved at start so nothing published later is missed).
    last_id: str | None = None

    @property
    def label(self) -> str:
        return self.group if self.group is not None else metrics.BROADCAST

    def wants(self, event: Event) -> bool:
        return self.types is None or event.type in self.types


class RedisBus:
    """The :class:`~command_center.events.bus.EventBus` on Redis Streams (see the module docstring).

    ``url`` is a ``redis://`` URL (its password never reaches a log); ``stream`` the stream key, trimmed to
    about ``maxlen`` entries; the dead-letter stream is ``<stream>:dead``. ``claim_idle_ms``,
    ``max_deliveries``, ``dedup_ttl_s``, ``publish_timeout_s`` and ``max_backoff_s`` are described in the
    module docstring; ``block_ms`` and ``batch_size`` shape each read; ``dedup_size`` bounds the in-process
    de-dup of broadcast subscriptions; ``connect_timeout_s`` bounds connecting and :meth:`ping`;
    ``close_timeout_s`` how long :meth:`close` waits for running handlers; ``client_name`` names the
    connections in ``CLIENT LIST``.
    """

    name = BUS_NAME

    def __init__(
        self,
        url: str,
        stream: str = "mscc:events",
        *,
        maxlen: int = 100_000,
        claim_idle_ms: int = 5000,
        max_deliveries: int = 5,
        block_ms: int = 1000,
        batch_size: int = 100,
        dedup_ttl_s: int = 86_400,
        dedup_size: int = 50_000,
        publish_timeout_s: float = 3.0,
        connect_timeout_s: float = 2.0,
        max_backoff_s: float = 5.0,
        close_timeout_s: float = 5.0,
        client_name: str | None = None,
    ) -> None:
        if max_deliveries < 1 or batch_size < 1 or claim_idle_ms < 1:
            raise ValueError("max_deliveries, batch_size and claim_idle_ms must be at least 1")
        self.stream = stream
        self.dead_stream = f"{stream}:dead"
        self._url = redact_url(url)
        self._maxlen = maxlen
        self._claim_idle_ms = claim_idle_ms
        self._max_deliveries = max_deliveries
        # Blocking reads wake up at least twice per claim period, so failed entries are retried on time.
        self._block_ms = max(1, min(block_ms, claim_idle_ms // 2))
        self._claim_every_s = max(0.01, claim_idle_ms / 2000)
        self._batch_size = batch_size
        self._dedup_ttl_s = dedup_ttl_s
        self._dedup_size = dedup_size
        self._publish_timeout_s = publish_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._max_backoff_s = max_backoff_s
        self._close_timeout_s = close_timeout_s
        self._subscriptions: list[_Subscription] = []
        self._started = False
        self._closed = False
        # Our own retry and back-off replace redis-py's (10 tries by default), so publish and the loops stay
        # within their bounds. One immediate retry remains: a pooled connection that went stale while
        # Redis restarted fails once and is replaced, instead of failing a health check or a publish.
        # The socket timeout must outlast a blocking read.
        self._redis: Redis = Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=connect_timeout_s,
            socket_timeout=self._block_ms / 1000 + 10,
            retry=Retry(NoBackoff(), 1),
            client_name=client_name,
        )

    async def start(self) -> None:
        """Create the consumer groups and start the consumer loops.

        Groups are created before this returns, so events published afterwards reach them. If Redis is
        down, a warning is logged and the loops keep trying; :meth:`ping` reports the outage.
        """
        if self._closed:
            raise BusUnavailable("redis bus is closed")
        self._started = True
        reachable = True
        for sub in self._subscriptions:
            try:
                # Once Redis has failed to answer, leave the rest to the loops rather than wait per group.
                if reachable:
                    async with asyncio.timeout(self._connect_timeout_s):
                        await self._prepare(sub)
            except RECOVERABLE as exc:
                reachable = False
                log.warning("redis bus: cannot reach %s yet (%s); the loops will retry", self._url, _why(exc))
            self._spawn(sub)

    async def close(self) -> None:
        """Stop the loops (running handlers get up to ``close_timeout_s``), then disconnect."""
        if self._closed:
            return
        self._closed = True
        tasks = [sub.task for sub in self._subscriptions if sub.task is not None]
        for sub in self._subscriptions:
            if sub.task is not None and not sub.busy:
                sub.task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self._close_timeout_s)
            for task in pending:
                log.warning(
                    "redis bus: a handler ran past %ss at close; cancelling it", self._close_timeout_s
                )
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for sub in self._subscriptions:
            if sub.group is not None:
                await self._forget_consumer(sub)
        await self._redis.aclose()

    async def publish(self, event: Event) -> None:
        """``XADD`` the event; retries while Redis is unreachable, then raises :class:`BusUnavailable`."""
        if self._closed:
            raise BusUnavailable("redis bus is closed")
        fields: dict[FieldT, EncodableT] = {
            "type": event.type,
            "id": event.id,
            PAYLOAD_FIELD: event.to_json(),
        }
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._publish_timeout_s
        backoff = _Backoff(0.05, 1.0)
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    await self._redis.xadd(self.stream, fields, maxlen=self._maxlen, approximate=True)
                break
            except CONNECTION_ERRORS as exc:
                delay = backoff.next()
                if loop.time() + delay >= deadline:
                    msg = f"Redis at {self._url} unreachable, {event.type} {event.id} not sent: {_why(exc)}"
                    raise BusUnavailable(msg) from exc
                log.warning(
                    "redis bus: publish to %s failed (%s); retrying in %.2fs", self._url, _why(exc), delay
                )
                await asyncio.sleep(delay)
        metrics.PUBLISHED.labels(BUS_NAME, event.type).inc()

    def subscribe(
        self,
        handler: Handler,
        *,
        group: str | None,
        types: Collection[str] | None = None,
        consumer: str | None = None,
    ) -> None:
        """Register one consumer of ``group`` (or a broadcast subscription when ``group`` is None).

        Consumers of one group should subscribe the same ``types``: an entry goes to whichever consumer
        reads it, and one that does not want it acknowledges and skips it.
        """
        if self._closed:
            raise BusUnavailable("redis bus is closed")
        sub = _Subscription(
            handler=handler,
            group=group,
            types=frozenset(types) if types is not None else None,
            consumer=consumer or default_consumer_name(),
        )
        self._subscriptions.append(sub)
        if self._started:
            self._spawn(sub)

    async def ping(self) -> bool:
        """True when Redis answers within ``connect_timeout_s``; never raises."""
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                return bool(await self._redis.ping())
        except Exception:  # a health check reports, it does not raise
            return False

    def _spawn(self, sub: _Subscription) -> None:
        run = self._run_group if sub.group is not None else self._run_broadcast
        sub.task = asyncio.create_task(run(sub), name=f"redis-bus:{sub.label}:{sub.consumer}")

    async def _prepare(self, sub: _Subscription) -> None:
        if sub.group is not None:
            await self._ensure_group(sub.group)
        elif sub.last_id is None:
            sub.last_id = await self._stream_last_id()

    async def _ensure_group(self, group: str, start_id: str = "$") -> None:
        try:
            await self._redis.xgroup_create(self.stream, group, id=start_id, mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _stream_last_id(self) -> str:
        try:
            info = await self._redis.xinfo_stream(self.stream)
        except ResponseError as exc:
            if "no such key" in str(exc).lower():
                return "0-0"
            raise
        return str(info["last-generated-id"])

    async def _run_group(self, sub: _Subscription) -> None:
        assert sub.group is not None
        loop = asyncio.get_running_loop()
        backoff = _Backoff(0.1, self._max_backoff_s)
        prepared = False
        start_id = "$"
        next_claim = 0.0
        cursor = "0-0"
        while not self._closed:
            try:
                if not prepared:
                    await self._ensure_group(sub.group, start_id)
                    prepared = True
                if loop.time() >= next_claim:
                    cursor, claimed = await self._claim(sub, cursor)
                    # Keep claiming without waiting while the scan of the pending list is unfinished.
                    next_claim = loop.time() + (0 if cursor != "0-0" else self._claim_every_s)
                    await self._handle_batch(sub, claimed)
                reply = await self._redis.xreadgroup(
                    sub.group, sub.consumer, {self.stream: ">"}, count=self._batch_size, block=self._block_ms
                )
                if backoff.failing:
                    log.info("redis bus: %s is reading %s again", sub.consumer, self._url)
                backoff.reset()
                await self._handle_batch(sub, [_Entry(i, f, 1) for i, f in _stream_entries(reply)])
            except RECOVERABLE as exc:
                if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                    # The group vanished (Redis restarted without persistence, or the stream was deleted).
                    # Recreate it from the stream's start, so events published since then are not lost;
                    # the de-dup keys skip any that were handled already. No long back-off either.
                    prepared, start_id = False, "0"
                    backoff.reset()
                delay = backoff.next()
                log.warning(
                    "redis bus: %s on %s: %s; retrying in %.1fs", sub.consumer, self._url, _why(exc), delay
                )
                await asyncio.sleep(delay)

    async def _claim(self, sub: _Subscription, cursor: str) -> tuple[str, list[_Entry]]:
        assert sub.group is not None
        reply: list[Any] = await self._redis.xautoclaim(
            self.stream, sub.group, sub.consumer, self._claim_idle_ms, start_id=cursor, count=self._batch_size
        )
        # Entries trimmed away by MAXLEN come back without fields (Redis drops them from the PEL itself).
        claimed = [(i, f) for i, f in reply[1] if i is not None and f is not None]
        if not claimed:
            return str(reply[0]), []
        async with self._redis.pipeline(transaction=False) as pipe:
            for entry_id, _ in claimed:
                pipe.xpending_range(self.stream, sub.group, entry_id, entry_id, 1)
            pending = await pipe.execute()
        # An entry acked meanwhile by its slow first consumer is no longer pending: nothing to do.
        entries = [
            _Entry(i, f, int(info[0]["times_delivered"]))
            for (i, f), info in zip(claimed, pending, strict=True)
            if info
        ]
        return str(reply[0]), entries

    async def _handle_batch(self, sub: _Subscription, entries: list[_Entry]) -> None:
        assert sub.group is not None
        if not entries:
            return
        sub.busy = True
        try:
            for entry in entries:
                entry.event = self._parse(entry)
            # One round trip for the whole batch instead of one per entry.
            async with self._redis.pipeline(transaction=False) as pipe:
                for entry in entries:
                    pipe.exists(self._seen_key(sub.group, entry.event.id if entry.event else "-"))
                seen = [bool(n) for n in await pipe.execute()]
            skipped: list[str] = []
            done_here: set[str] = set()
            for entry, already in zip(entries, seen, strict=True):
                event = entry.event
                if self._closed:
                    break  # the rest stays pending and is reclaimed by another consumer
                if event is None:
                    await self._dead_letter(sub, entry, metrics.INVALID_TYPE, "invalid payload")
                elif not sub.wants(event):
                    skipped.append(entry.id)
                elif already or event.id in done_here:
                    metrics.DUPLICATES_SKIPPED.labels(BUS_NAME, sub.group).inc()
                    skipped.append(entry.id)
                elif entry.deliveries > self._max_deliveries:
                    await self._dead_letter(sub, entry, event.type, "consumer lost during the last delivery")
                elif await self._call(sub, entry, event):
                    done_here.add(event.id)
            if skipped:
                await self._redis.xack(self.stream, sub.group, *skipped)
        finally:
            sub.busy = False

    async def _call(self, sub: _Subscription, entry: _Entry, event: Event) -> bool:
        assert sub.group is not None
        if entry.deliveries > 1:
            metrics.REDELIVERED.labels(BUS_NAME, sub.group).inc()
        try:
            await sub.handler(event)
        except Exception as exc:
            metrics.HANDLER_FAILURES.labels(BUS_NAME, sub.group, event.type).inc()
            if entry.deliveries >= self._max_deliveries:
                log.error(
                    "redis bus: group %s failed on %s %s", sub.group, event.type, event.id, exc_info=exc
                )
                await self._dead_letter(sub, entry, event.type, repr(exc))
            else:
                log.warning(
                    "redis bus: group %s failed on %s %s (delivery %s of %s), retry in %sms: %r",
                    *(sub.group, event.type, event.id, entry.deliveries, self._max_deliveries),
                    *(self._claim_idle_ms, exc),
                )
            return False
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(self._seen_key(sub.group, event.id), 1, nx=True, ex=self._dedup_ttl_s)
            pipe.xack(self.stream, sub.group, entry.id)
            await pipe.execute()
        metrics.HANDLED.labels(BUS_NAME, sub.group, event.type).inc()
        return True

    async def _dead_letter(self, sub: _Subscription, entry: _Entry, type_: str, error: str) -> None:
        assert sub.group is not None
        record: dict[FieldT, EncodableT] = {key: value for key, value in entry.fields.items()}
        record.update(entry_id=entry.id, group=sub.group, consumer=sub.consumer)
        record.update(deliveries=entry.deliveries, error=error[:2000])
        # Copy and ack in one transaction: an entry must never leave the group without reaching :dead.
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self.dead_stream, record, maxlen=self._maxlen, approximate=True)
            pipe.xack(self.stream, sub.group, entry.id)
            await pipe.execute()
        metrics.DEAD_LETTERED.labels(BUS_NAME, sub.group, type_).inc()
        log.error(
            "redis bus: group %s gave up on entry %s (%s) after %s deliveries (%s); copied to %s",
            *(sub.group, entry.id, type_, entry.deliveries, error, self.dead_stream),
        )

    async def _run_broadcast(self, sub: _Subscription) -> None:
        backoff = _Backoff(0.1, self._max_backoff_s)
        recent = RecentIds(self._dedup_size)
        while not self._closed:
            try:
                if sub.last_id is None:
                    sub.last_id = await self._stream_last_id()
                reply = await self._redis.xread(
                    {self.stream: sub.last_id}, count=self._batch_size, block=self._block_ms
                )
                backoff.reset()
                for entry_id, fields in _stream_entries(reply):
                    sub.last_id = entry_id
                    event = self._parse(_Entry(entry_id, fields, 1))
                    if event is None or not sub.wants(event):
                        continue
                    if event.id in recent:
                        metrics.DUPLICATES_SKIPPED.labels(BUS_NAME, metrics.BROADCAST).inc()
                        continue
                    recent.add(event.id)
                    await self._call_broadcast(sub, event)
            except RECOVERABLE as exc:
                delay = backoff.next()
                log.warning(
                    "redis bus: broadcast reader on %s: %s; retrying in %.1fs", self._url, _why(exc), delay
                )
                await asyncio.sleep(delay)

    async def _call_broadcast(self, sub: _Subscription, event: Event) -> None:
        sub.busy = True
        try:
            await sub.handler(event)
        except Exception:
            metrics.HANDLER_FAILURES.labels(BUS_NAME, metrics.BROADCAST, event.type).inc()
            log.exception("redis bus: broadcast handler failed on %s %s", event.type, event.id)
        else:
            metrics.HANDLED.labels(BUS_NAME, metrics.BROADCAST, event.type).inc()
        finally:
            sub.busy = False

    def _seen_key(self, group: str, event_id: str) -> str:
        return f"{self.stream}:seen:{group}:{event_id}"

    def _parse(self, entry: _Entry) -> Event | None:
        try:
            return parse_event(entry.fields[PAYLOAD_FIELD])
        except (KeyError, ValidationError) as exc:
            log.warning("redis bus: entry %s of %s is not a valid event: %s", entry.id, self.stream, exc)
            return None

    async def _forget_consumer(self, sub: _Subscription) -> None:
        # Random consumer names would pile up in the group; drop ours unless it still owns pending
        # entries (deleting it then would lose them instead of letting another consumer reclaim them).
        assert sub.group is not None
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                mine = await self._redis.xpending_range(
                    self.stream, sub.group, "-", "+", 1, consumername=sub.consumer
                )
                if not mine:
                    await self._redis.xgroup_delconsumer(self.stream, sub.group, sub.consumer)
        except RECOVERABLE as exc:
            log.debug("redis bus: could not remove consumer %s: %s", sub.consumer, _why(exc))


def _why(exc: BaseException) -> str:
    """``Type: message`` (redis-py's own repr says little more than the class name)."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _stream_entries(reply: Any) -> list[tuple[str, dict[str, str]]]:
    """The entries of an XREAD/XREADGROUP reply on one stream, in RESP2 (list) or RESP3 (dict) shape."""
    per_stream = reply.values() if isinstance(reply, dict) else (entries for _name, entries in reply)
    return [(i, f) for entries in per_stream for i, f in entries if i is not None and f is not None]
