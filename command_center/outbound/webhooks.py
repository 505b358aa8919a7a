"""Events out as signed webhooks (``MSCC_WEBHOOK_URLS``, ``MSCC_WEBHOOK_SECRET``).

Each event is POSTed as its JSON to every URL, one request per event, in order, with the headers::

    Content-Type: application/json
    X-Mscc-Event: alert.created
    X-Mscc-Event-Id: <the event id: receivers de-duplicate by it>
    X-Mscc-Signature: sha256=<hex HMAC-SHA256 of the raw body with the shared secret>

A 2xx answer delivers the event. A connection error, a timeout, 408, 429 or a 5xx is retried (the
outbox backs off and sends the same event again, the ones after it waiting). Any other 4xx means the
receiver will never take this event: it is logged and skipped, so it cannot block the ones after it.
GPS positions are not sent (several per second; take them from MQTT).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Sequence

import httpx

from command_center import __version__
from command_center.events.schemas import Event
from command_center.outbound.outbox import DeliveryError
from config.redaction import redact_url

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Mscc-Signature"
SKIPPED_TYPES = frozenset({"position"})
_RETRYABLE = frozenset({408, 429})


def signature(secret: bytes, body: bytes) -> str:
    """The ``X-Mscc-Signature`` value of ``body``: ``sha256=`` and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class WebhookSink:
    """One webhook URL as an outbox target."""

    def __init__(self, url: str, *, secret: bytes, timeout_s: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL must start with http:// or https://, not {redact_url(url)!r}")
        self.name = f"webhook:{redact_url(url)}"
        self._url = url
        self._secret = secret
        self._timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        """Open the HTTP client (connections are made per request, so a dead target is fine)."""
        self._client = httpx.AsyncClient(
            timeout=self._timeout_s, headers={"User-Agent": f"mscc/{__version__}"}, follow_redirects=False
        )

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()

    async def deliver(self, events: Sequence[Event]) -> int:
        """POST the events one by one; stop at the first the receiver did not take."""
        assert self._client is not None, "start() first"
        for taken, event in enumerate(events):
            body = event.to_json().encode()
            headers = {
                "Content-Type": "application/json",
                "X-Mscc-Event": event.type,
                "X-Mscc-Event-Id": event.id,
                SIGNATURE_HEADER: signature(self._secret, body),
            }
            try:
                response = await self._client.post(self._url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                if taken:
                    return taken
                raise DeliveryError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
            status = response.status_code
            if status >= 500 or status in _RETRYABLE:
                if taken:
                    return taken
                raise DeliveryError(f"HTTP {status}")
            if status >= 400:
                log.error(
                    "webhook %s refused %s %s with HTTP %s; skipped: %s",
                    *(self.name, event.type, event.id, status, response.text[:200]),
                )
        return len(events)
