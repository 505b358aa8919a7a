"""Wiring of the events out: which outboxes a server has (from its settings), their bus consumers, and
the job that runs their senders while the app serves."""

from __future__ import annotations

import asyncio
import logging

from command_center.context import AppContext
from command_center.events.schemas import Event
from command_center.outbound.mqtt import MqttSink
from command_center.outbound.outbox import Outbox
from command_center.outbound.webhooks import SKIPPED_TYPES, WebhookSink
from config.settings import SettingsError

log = logging.getLogger(__name__)

MQTT_GROUP = "out-mqtt"
WEBHOOK_GROUP = "out-webhooks"
OUTBOXES = "outboxes"
"""``ctx.extra`` key of the server's outboxes."""
_STOP_WAIT_S = 5.0


def register(ctx: AppContext) -> list[Outbox]:
    """Create the outboxes the settings ask for and subscribe them to the bus (before it starts).

    Each kind is one consumer group, so with several servers on one Redis each event goes out once.
    Raises SettingsError for webhook URLs without a secret: unsigned webhooks could be forged.
    """
    settings = ctx.settings
    outboxes: list[Outbox] = []
    if settings.mqtt_url:
        mqtt = Outbox(MqttSink(settings.mqtt_url), max_backoff_s=5.0)
        ctx.bus.subscribe(mqtt.handle, group=MQTT_GROUP)
        outboxes.append(mqtt)
    urls = [u.strip() for u in (settings.webhook_urls or "").split(",") if u.strip()]
    if urls:
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
        if not secret:
            raise SettingsError(
                "MSCC_WEBHOOK_URLS is set but MSCC_WEBHOOK_SECRET is not: webhooks must be signed"
            )
        hooks = [Outbox(WebhookSink(url, secret=secret.encode())) for url in urls]

        async def fan_out(event: Event) -> None:
            if event.type not in SKIPPED_TYPES:
                for hook in hooks:
                    hook.put(event)

        ctx.bus.subscribe(fan_out, group=WEBHOOK_GROUP)
        outboxes.extend(hooks)
    for box in outboxes:
        log.info("events out: %s", box.sink.name)
    ctx.extra[OUTBOXES] = outboxes
    return outboxes


def outboxes(ctx: AppContext) -> list[Outbox]:
    """The outboxes registered for this server."""
    found = ctx.extra.get(OUTBOXES, [])
    return [box for box in found if isinstance(box, Outbox)] if isinstance(found, list) else []


async def run(ctx: AppContext, stop: asyncio.Event) -> None:
    """Connect the sinks and run one sender per outbox until ``stop``; then give the senders a moment
    to finish what they are delivering, and disconnect."""
    boxes = outboxes(ctx)
    if not boxes:
        return
    for box in boxes:
        await box.sink.start()
    tasks = [asyncio.create_task(box.run(stop), name=f"outbound:{box.sink.name}") for box in boxes]
    try:
        await stop.wait()
    finally:
        _, late = await asyncio.wait(tasks, timeout=_STOP_WAIT_S)
        for task in late:
            task.cancel()  # a sender waiting on a slow target
        await asyncio.gather(*tasks, return_exceptions=True)
        for box in boxes:
            await box.sink.close()
