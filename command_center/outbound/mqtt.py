"""Events out over MQTT (``MSCC_MQTT_URL``): every event as JSON on ``mscc/<type>``, QoS 1.

paho's network thread keeps the connection and reconnects by itself (1 to 4 s apart). Each event is
handed to paho once and stays in its session until the broker acknowledges it (PUBACK); paho sends it
again after a reconnect, so a broker restart costs duplicates at worst (QoS 1 is at-least-once:
consumers de-duplicate by the event ``id``), never a loss. ``deliver`` returns once the head of the
batch is acknowledged, so the outbox removes only what the broker really has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from command_center.events.schemas import Event
from command_center.outbound.outbox import DeliveryError
from config.redaction import redact_url

log = logging.getLogger(__name__)

TOPIC_PREFIX = "mscc"
_ACCEPTED = (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN)


class MqttSink:
    """An MQTT broker as an outbox target."""

    def __init__(self, url: str, *, ack_timeout_s: float = 5.0, inflight: int = 20) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"MSCC_MQTT_URL must look like mqtt://host:1883, not {redact_url(url)!r}")
        self.name = f"mqtt:{redact_url(url)}"
        self._host = parts.hostname
        self._port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self._ack_timeout_s = ack_timeout_s
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"mscc-{os.getpid()}-{id(self):x}", clean_session=True
        )
        if parts.username:
            self._client.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
        if parts.scheme == "mqtts":
            self._client.tls_set()
        self._client.reconnect_delay_set(min_delay=1, max_delay=4)
        self._client.max_inflight_messages_set(inflight)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._mids: dict[str, int] = {}  # event id -> paho message id, while unacknowledged
        self._acked: set[int] = set()
        self._lock = threading.Lock()
        self._signal = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        """Start paho's network thread; it connects in the background and keeps retrying."""
        self._loop = asyncio.get_running_loop()
        self._client.connect_async(self._host, self._port, keepalive=30)
        self._client.loop_start()

    async def close(self) -> None:
        """Disconnect and stop the network thread."""
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)

    async def deliver(self, events: Sequence[Event]) -> int:
        """Publish the events not yet handed to paho, then wait (up to ``ack_timeout_s``) for the
        broker's acknowledgements, in order; returns how many from the head are acknowledged."""
        for event in events:
            if event.id in self._mids:
                continue  # paho still holds it and resends it itself: publishing again would duplicate
            info = self._client.publish(f"{TOPIC_PREFIX}/{event.type}", event.to_json(), qos=1)
            if info.rc not in _ACCEPTED:
                # Not a connection problem (e.g. a payload the broker refuses): retrying cannot help.
                log.error(
                    "mqtt: %s %s refused by the client: %s", event.type, event.id, mqtt.error_string(info.rc)
                )
                continue
            self._mids[event.id] = info.mid
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._ack_timeout_s
        taken = 0
        for event in events:
            mid = self._mids.get(event.id)
            while mid is not None and not self._take_ack(mid):
                self._signal.clear()
                if self._take_ack(mid):
                    break
                remaining = deadline - loop.time()
                if remaining <= 0:
                    if taken:
                        return taken
                    state = "connected" if self._client.is_connected() else "broker unreachable"
                    raise DeliveryError(f"no acknowledgement within {self._ack_timeout_s}s ({state})")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._signal.wait(), remaining)
            self._mids.pop(event.id, None)
            taken += 1
        return taken

    def _take_ack(self, mid: int) -> bool:
        with self._lock:
            if mid in self._acked:
                self._acked.discard(mid)
                return True
            return False

    # paho calls these from its network thread.
    def _on_publish(self, _client: mqtt.Client, _userdata: Any, mid: int, *_: Any) -> None:
        with self._lock:
            self._acked.add(mid)
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._signal.set)

    def _on_connect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, *_: Any) -> None:
        if reason.is_failure:
            log.warning("mqtt: %s refused the connection: %s", self.name, reason)
        else:
            log.info("mqtt: connected to %s", self.name)

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, *_: Any) -> None:
        if reason.is_failure:
            log.warning("mqtt: disconnected from %s (%s); reconnecting", self.name, reason)
