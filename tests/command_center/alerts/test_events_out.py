"""Events out: MQTT through a real Mosquitto that is stopped and restarted mid-way, and signed webhooks
against a local HTTP server that fails before it accepts. Nothing may be lost; duplicates are allowed
(at-least-once), so the receiving side de-duplicates by event id, as a real consumer would."""

from __future__ import annotations

import getpass
import hmac
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from command_center.app import create_app
from command_center.database.core import transaction
from command_center.demo import ensure_users
from command_center.events.schemas import CameraStatus, Event, PositionEvent
from command_center.outbound.webhooks import SIGNATURE_HEADER, signature
from config.district import District
from config.settings import SettingsError
from tests.command_center.alerts.support import eventually, publish
from tests.conftest import PASSWORD, make_settings
from tests.services import unavailable

SECRET = "webhook-secret-for-tests"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Broker:
    """A Mosquitto of this test's own (port, persistence dir, process), so that stopping it disturbs
    nobody else; it saves its sessions on SIGTERM and restores them on start, as in production."""

    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        self.config = workdir / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {workdir}/\nlog_dest file {workdir}/mosquitto.log\n"
            f"user {getpass.getuser()}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.config)], stdout=subprocess.DEVNULL)
        eventually(self._listening, within=10, what=f"mosquitto on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: saves the persistent sessions
            self.proc.wait(10)
        self.proc = None

    def _listening(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    if shutil.which("mosquitto") is None:
        unavailable("Mosquitto (the mosquitto binary)")
    made = Broker(tmp_path)
    made.start()
    try:
        yield made
    finally:
        made.stop()  # our own broker only; the shared one on 1883 is never touched


class Subscriber:
    """An MQTT consumer with a persistent session (it must not miss what arrives while it is away)."""

    def __init__(self, port: int) -> None:
        self.ids: set[str] = set()
        self.received = 0
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="mscc-test-sub", clean_session=False)
        self.client.on_connect = lambda c, *_: c.subscribe("mscc/#", qos=1)
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        event = Event.model_validate_json(message.payload)
        assert message.topic == f"mscc/{event.type}"
        with self._lock:
            self.ids.add(event.id)
            self.received += 1

    def has(self, events: list[Event]) -> bool:
        with self._lock:
            return {e.id for e in events} <= self.ids

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _app_client(tmp_path: Path, district: District, **settings: Any) -> TestClient:
    app = create_app(
        make_settings(tmp_path, f"sqlite:///{tmp_path / 'mscc.db'}", **settings),
        district=district,
        migrate=True,
    )
    with transaction(app.state.ctx.sessions) as session:
        ensure_users(session, district, PASSWORD)
    return TestClient(app)


def _admin(client: TestClient) -> dict[str, str]:
    response = client.post("/api/auth/token", data={"username": "admin", "password": PASSWORD})
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _statuses(n: int) -> list[Event]:
    # Events of a camera the server does not know: they change nothing but still go out.
    return [CameraStatus(camera_id="out-test", state="online" if i % 2 else "offline") for i in range(n)]


def test_mqtt_delivers_everything_across_a_broker_restart(
    broker: Broker, tmp_path: Path, sample_district: District
) -> None:
    subscriber = Subscriber(broker.port)
    try:
        with _app_client(tmp_path, sample_district, mqtt_url=f"mqtt://127.0.0.1:{broker.port}") as client:
            before = _statuses(20)
            for event in before:
                publish(client, event)
            eventually(lambda: subscriber.has(before), within=20, what="the first 20 events over MQTT")

            broker.stop()
            during = _statuses(30)
            for event in during:
                publish(client, event)
            # The server keeps serving while its broker is gone, and says what is waiting.
            started = time.monotonic()
            assert client.get("/healthz").status_code == 200
            assert time.monotonic() - started < 2
            waiting = eventually(
                lambda: [
                    o for o in client.get("/api/outbound", headers=_admin(client)).json() if o["last_error"]
                ],
                within=20,
                what="the outbox to notice the dead broker",
            )
            assert (
                waiting[0]["target"] == f"mqtt:mqtt://127.0.0.1:{broker.port}" and waiting[0]["backlog"] >= 1
            )

            broker.start()
            after = _statuses(10)
            for event in after:
                publish(client, event)
            eventually(lambda: subscriber.has(before + during + after), within=60, what="all 60 events")
            status = client.get("/api/outbound", headers=_admin(client)).json()[0]
            assert status["dropped"] == 0
            eventually(
                lambda: client.get("/api/outbound", headers=_admin(client)).json()[0]["backlog"] == 0,
                what="an empty outbox",
            )
    finally:
        subscriber.close()


class Receiver(BaseHTTPRequestHandler):
    """Records webhook calls; answers 500 to the first ``fail_first`` of them, then 200."""

    calls: ClassVar[list[tuple[str, bytes, str]]] = []
    fail_first: ClassVar[int] = 2
    lock: ClassVar[threading.Lock] = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            self.calls.append((self.headers["X-Mscc-Event-Id"], body, self.headers[SIGNATURE_HEADER]))
            failing = len(self.calls) <= self.fail_first
        self.send_response(500 if failing else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[Receiver]]]:
    Receiver.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", Receiver
    server.shutdown()
    server.server_close()


def test_webhooks_are_signed_retried_and_kept_in_order(
    receiver: tuple[str, type[Receiver]], tmp_path: Path, sample_district: District
) -> None:
    url, calls = receiver
    dead = f"http://127.0.0.1:{_free_port()}/hook"  # nothing listens there
    with _app_client(
        tmp_path, sample_district, webhook_urls=f"{url}, {dead}", webhook_secret=SECRET
    ) as client:
        events = _statuses(3)
        publish(client, PositionEvent(device_id="insp-01", lat=22.55, lon=114.23))  # not sent as a webhook
        for event in events:
            publish(client, event)
        eventually(
            lambda: len({c[0] for c in calls.calls}) == 3, within=20, what="three events after two 500s"
        )
        assert len(calls.calls) == 5  # the first event was sent three times: 500, 500, 200
        order = list(dict.fromkeys(c[0] for c in calls.calls))
        assert order == [e.id for e in events]
        for event_id, body, signed in calls.calls:
            assert hmac.compare_digest(signed, signature(SECRET.encode(), body))
            assert Event.model_validate_json(body).id == event_id
        status = {o["target"]: o for o in client.get("/api/outbound", headers=_admin(client)).json()}
        assert status[f"webhook:{url}"]["delivered"] == 3
        assert status[f"webhook:{dead}"]["backlog"] == 3 and status[f"webhook:{dead}"]["last_error"]


def test_webhooks_without_a_secret_are_refused_at_start(tmp_path: Path, sample_district: District) -> None:
    with pytest.raises(SettingsError, match="MSCC_WEBHOOK_SECRET"):
        _app_client(tmp_path, sample_district, webhook_urls="http://127.0.0.1:9/hook")
