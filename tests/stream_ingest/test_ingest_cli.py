"""``mscc ingest`` as an operator runs it: cameras from the command line, a status file, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from stream_ingest.simulator import CameraSimulator, Clip
from tests.command_center.test_cli import MSCC, run


def test_ingest_writes_camera_health_and_stops_on_ctrl_c(
    rtsp: CameraSimulator, ingest_clips: dict[str, Clip], tmp_path: Path
) -> None:
    url = rtsp.add_camera("cam0", ingest_clips["kitchen-a"]).replace("rtsp://", "rtsp://op:hunter22@")
    status = tmp_path / "status.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSCC_")}
    env["MSCC_DATA_DIR"] = str(tmp_path / "data")
    proc = subprocess.Popen(
        [
            MSCC,
            "ingest",
            "--camera",
            f"kitchen={url}",
            "--camera",
            "gone=rtsp://127.0.0.1:1/x",
            "--status-file",
            str(status),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            cameras = json.loads(status.read_text())["cameras"] if status.exists() else {}
            if cameras.get("kitchen", {}).get("state") == "online" and cameras["kitchen"]["analysed"] >= 1:
                break
            assert proc.poll() is None and time.monotonic() < deadline, (
                "camera never online in the status file"
            )
            time.sleep(0.3)
        assert cameras["gone"]["state"] == "offline"
        assert "connection refused" in cameras["gone"]["message"]
        assert (tmp_path / "data" / "snapshots" / "kitchen.jpg").is_file()
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "hunter22" not in output and "hunter22" not in status.read_text()


def test_ingest_refuses_bad_arguments() -> None:
    for args, message in [
        ([], "give either --config"),
        (["--camera", "no-equals-sign"], "expected ID=rtsp://"),
        (["--camera", "a=http://x/y"], "expected ID=rtsp://"),
    ]:
        result = run("ingest", *args)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
