"""Prometheus counters shared by every bus implementation (default registry, served at ``/metrics``).

Labels: ``bus`` is the implementation (``memory`` / ``redis``), ``group`` the consumer group
(:data:`BROADCAST` for broadcast subscriptions), ``type`` the event type. Groups and types are few and
fixed by the code, so the label sets stay small.
"""

from __future__ import annotations

from prometheus_client import Counter

BROADCAST = "(broadcast)"
"""The ``group`` label value used for broadcast subscriptions."""

INVALID_TYPE = "(invalid)"
"""The ``type`` label value for entries whose payload could not be parsed."""

PUBLISHED = Counter("mscc_bus_published", "Events accepted by the bus.", ["bus", "type"])
HANDLED = Counter("mscc_bus_handled", "Events a handler processed successfully.", ["bus", "group", "type"])
HANDLER_FAILURES = Counter(
    "mscc_bus_handler_failures", "Handler calls that raised.", ["bus", "group", "type"]
)
REDELIVERED = Counter(
    "mscc_bus_redelivered", "Events delivered again after a failure or lost consumer.", ["bus", "group"]
)
DEAD_LETTERED = Counter(
    "mscc_bus_dead_lettered",
    "Events given up after max_deliveries (or unparsable).",
    ["bus", "group", "type"],
)
DROPPED = Counter("mscc_bus_dropped", "Events dropped because a bounded queue was full.", ["bus", "group"])
DUPLICATES_SKIPPED = Counter(
    "mscc_bus_duplicates_skipped", "Events skipped because their id was already handled.", ["bus", "group"]
)
