"""``mscc serve --osmand-port``: phones reach the OsmAnd endpoint on a second port, as real HTTP requests
to the running command, and what they send shows on the main port's API."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from datetime import UTC, datetime

import httpx

from config.loader import sample_district_path
from tests.command_center.test_cli import MSCC, _free_port, migrated, run

__all__ = ["migrated"]  # the fixture, used by name below

SECRET = "s" * 40


def _wait(base: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        assert time.monotonic() < deadline, "mscc serve did not answer /healthz within 60 s"
        time.sleep(0.2)


def test_serve_answers_osmand_on_the_second_port(migrated: dict[str, str]) -> None:
    port, osmand_port = _free_port(), _free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MSCC_")}
    env = {**clean, **migrated, "MSCC_SECRET_KEY": SECRET}
    user = run("user", "add", "boss", "--role", "district_admin", "--password-stdin", env=env, stdin=SECRET)
    assert user.returncode == 0, user.stderr
    args = ["serve", "--config", str(sample_district_path()), "--port", str(port)]
    proc = subprocess.Popen(
        [MSCC, *args, "--osmand-port", str(osmand_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base, proc)
        now = int(datetime.now(UTC).timestamp())
        # Traccar Client pointed at http://server:5055 sends GET /?id=...; OsmAnd itself uses a path too.
        fix = {"id": "insp-07", "lat": "22.5601", "lon": "114.2301", "timestamp": str(now), "batt": "64"}
        root = httpx.get(f"http://127.0.0.1:{osmand_port}/", params=fix, timeout=5)
        assert (root.status_code, root.text) == (200, "OK")
        later = {**fix, "lat": "22.5611", "timestamp": str(now + 60)}
        form = httpx.post(f"http://127.0.0.1:{osmand_port}/osmand", data=later, timeout=5)
        assert (form.status_code, form.text) == (200, "OK")
        # Bad input on the second port gets the same 400 with the reason as on the main port.
        bad = httpx.get(f"http://127.0.0.1:{osmand_port}/", params={"id": "insp-07", "lat": "95"}, timeout=5)
        assert bad.status_code == 400 and "lat" in bad.text
        # Only the OsmAnd endpoint lives there: no API, no login.
        assert httpx.get(f"http://127.0.0.1:{osmand_port}/api/streets", timeout=5).status_code == 404

        token = httpx.post(f"{base}/api/auth/token", data={"username": "boss", "password": SECRET}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        inspectors = {i["id"]: i for i in httpx.get(f"{base}/api/inspectors", headers=headers).json()}
        assert inspectors["insp-07"]["last"]["lat"] == 22.5611
        assert inspectors["insp-07"]["last"]["battery"] == 64

        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, output
        assert "Traceback" not in output
        with socket.socket() as probe:  # the second port is closed with the server
            assert probe.connect_ex(("127.0.0.1", osmand_port)) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_refuses_a_busy_osmand_port(migrated: dict[str, str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        env = {**migrated, "MSCC_SECRET_KEY": SECRET}
        result = run(
            "serve",
            "--config",
            str(sample_district_path()),
            "--port",
            str(_free_port()),
            "--osmand-port",
            str(taken),
            env=env,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{taken}" in result.stderr
    assert "Traceback" not in result.stderr


def test_osmand_port_is_checked() -> None:
    # 70000 is not a port: the option refuses it before anything starts.
    result = run("serve", "--config", str(sample_district_path()), "--osmand-port", "70000")
    assert result.returncode == 2
    assert "osmand-port" in result.stderr
