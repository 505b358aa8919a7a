"""Choose the bus implementation from configuration (``MSCC_REDIS_URL`` unset: in-process bus)."""

from __future__ import annotations

from command_center.events.bus import EventBus
from command_center.events.memory import MemoryBus
from command_center.events.redis_bus import RedisBus


def make_bus(redis_url: str | None, *, stream: str = "mscc:events") -> EventBus:
    """A :class:`RedisBus` on ``stream`` when ``redis_url`` is given, else a :class:`MemoryBus`.

    The bus is not started; the caller registers its subscriptions, then awaits ``start()``.
    """
    if redis_url is None:
        return MemoryBus()
    return RedisBus(redis_url, stream=stream)
