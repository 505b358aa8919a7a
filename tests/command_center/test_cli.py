"""The ``mscc`` command line: each command run as the installed console script, as a user would."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from command_center.database.migrate import head_revision
from config.loader import sample_district_path

MSCC = shutil.which("mscc", path=str(Path(sys.executable).parent)) or "mscc"


def run(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``mscc ARGS`` with only the given MSCC_* variables set."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MSCC_")}
    return subprocess.run(
        [MSCC, *args], env={**clean, **(env or {})}, input=stdin, capture_output=True, text=True, timeout=120
    )


def test_check_config_accepts_the_sample() -> None:
    result = run("check-config", str(sample_district_path()))
    assert result.returncode == 0, result.stderr
    assert "4 streets, 255 restaurants" in result.stdout


def test_check_config_names_a_misspelt_key(tmp_path: Path) -> None:
    text = sample_district_path().read_text(encoding="utf-8")
    broken = text.replace("    licence_no:", "    licence_number:", 1)
    bad_line = (
        broken.splitlines().index(next(line for line in broken.splitlines() if "licence_number" in line)) + 1
    )
    path = tmp_path / "district.yaml"
    path.write_text(broken, encoding="utf-8")
    result = run("check-config", str(path))
    assert result.returncode == 2
    assert f"{path}:{bad_line}: restaurants[0].licence_number: unknown key 'licence_number'" in result.stderr
    assert "did you mean 'licence_no'" in result.stderr


def test_check_config_on_a_missing_file_fails_cleanly(tmp_path: Path) -> None:
    result = run("check-config", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "cannot read file" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def migrated(tmp_path: Path) -> dict[str, str]:
    """Environment of a fresh SQLite database after ``mscc db upgrade``."""
    env = {"MSCC_DATA_DIR": str(tmp_path / "data")}
    result = run("db", "upgrade", env=env)
    assert result.returncode == 0, result.stderr
    assert f"empty -> {head_revision()}" in result.stdout
    return env


def test_db_upgrade_is_repeatable(migrated: dict[str, str]) -> None:
    again = run("db", "upgrade", env=migrated)
    assert again.returncode == 0
    assert f"{head_revision()} -> {head_revision()}" in again.stdout


def test_import_registry_reports_bad_rows_and_keeps_good_ones(
    migrated: dict[str, str], tmp_path: Path
) -> None:
    sample_csv = sample_district_path().with_name("registry.csv")
    first = run("import-registry", str(sample_csv), "--config", str(sample_district_path()), env=migrated)
    assert first.returncode == 0, first.stderr
    assert "45 created, 0 updated, 255 unchanged, 0 rejected" in first.stdout
    again = run("import-registry", str(sample_csv), env=migrated)
    assert "0 created, 0 updated, 300 unchanged" in again.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "licence_no,name,address,type,street,lat,lon\n"
        "JY2440308911111,Fine Tea,1 Rd,restaurant,haishan,22.556,114.245\n"
        "JY2440308922222,Broken,2 Rd,restaurant,haishan,not-a-lat,114.245\n",
        encoding="utf-8",
    )
    result = run("import-registry", str(bad), env=migrated)
    assert result.returncode == 1
    assert f"{bad}:3: lat" in result.stderr
    assert "1 created, 0 updated, 0 unchanged, 1 rejected" in result.stdout


def test_user_add_then_login(migrated: dict[str, str]) -> None:
    run(
        "import-registry",
        str(sample_district_path().with_name("registry.csv")),
        "--config",
        str(sample_district_path()),
        env=migrated,
    )
    ok = run(
        "user",
        "add",
        "lin",
        "--role",
        "street_supervisor",
        "--street",
        "meisha",
        "--password-stdin",
        env=migrated,
        stdin="a-long-password\n",
    )
    assert ok.returncode == 0, ok.stderr
    assert "user lin saved" in ok.stdout
    twice = run("user", "add", "lin", "--role", "inspector", "--password-stdin", env=migrated, stdin="x" * 12)
    assert twice.returncode == 1 and "already exists" in twice.stderr
    for args, message in [
        (["--role", "street_supervisor"], "needs --street"),
        (["--role", "street_supervisor", "--street", "atlantis"], "unknown street 'atlantis'"),
        (["--role", "janitor"], "unknown role"),
    ]:
        bad = run("user", "add", "other", *args, "--password-stdin", env=migrated, stdin="a-long-password\n")
        assert bad.returncode == 1 and message in bad.stderr, (args, bad.stderr)
    short = run(
        "user", "add", "other", "--role", "inspector", "--password-stdin", env=migrated, stdin="short\n"
    )
    assert short.returncode == 1 and "too short" in short.stderr


def test_serve_refuses_a_placeholder_secret(migrated: dict[str, str]) -> None:
    result = run(
        "serve", "--config", str(sample_district_path()), env={**migrated, "MSCC_SECRET_KEY": "changeme"}
    )
    assert result.returncode == 2
    assert "MSCC_SECRET_KEY" in result.stderr


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    env = {"MSCC_DATA_DIR": str(tmp_path), "MSCC_SECRET_KEY": "k" * 40}
    result = run("serve", "--config", str(sample_district_path()), env=env)
    assert result.returncode == 2
    assert "run `mscc db upgrade` first" in result.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``mscc demo`` running in its own process, as a newcomer starts it."""
    port = _free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MSCC_")}
    proc = subprocess.Popen(
        [MSCC, "demo", "--port", str(port), "--data-dir", str(tmp_path / "demo"), "--cameras", "4"],
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "demo did not answer /healthz within 60 s"
            time.sleep(0.2)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_demo_serves_the_district_and_stops_cleanly_on_ctrl_c(
    demo: tuple[subprocess.Popen[str], str],
) -> None:
    proc, base = demo
    token = httpx.post(f"{base}/api/auth/token", data={"username": "admin", "password": "mscc-demo"}).json()
    restaurants = httpx.get(
        f"{base}/api/restaurants", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert len(restaurants.json()) == 255
    assert {r["street_id"] for r in restaurants.json()} == {"shatoujiao", "haishan", "yantian", "meisha"}
    sup = httpx.post(
        f"{base}/api/auth/token", data={"username": "sup-yantian", "password": "mscc-demo"}
    ).json()
    headers = {"Authorization": f"Bearer {sup['access_token']}"}
    assert {r["street_id"] for r in httpx.get(f"{base}/api/restaurants", headers=headers).json()} == {
        "yantian"
    }
    assert httpx.get(f"{base}/api/restaurants?street=meisha", headers=headers).status_code == 403
    # Simulated inspectors report over OsmAnd: positions arrive without anyone doing anything.
    deadline = time.monotonic() + 30
    while not any(i["online"] for i in httpx.get(f"{base}/api/inspectors", headers=headers).json()):
        assert time.monotonic() < deadline, "no simulated inspector reported within 30 s"
        time.sleep(0.5)
    # Simulated cameras on the real RTSP server are ingested: states and snapshots reach the API.
    admin = {"Authorization": f"Bearer {token['access_token']}"}
    while not (online := httpx.get(f"{base}/api/cameras?state=online", headers=admin).json()):
        assert time.monotonic() < deadline + 30, "no simulated camera came online"
        time.sleep(0.5)
    snapshot = httpx.get(f"{base}/api/cameras/{online[0]['id']}/snapshot.jpg", headers=admin)
    assert snapshot.status_code == 200 and snapshot.content[:2] == b"\xff\xd8"
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert "mscc demo stopped." in output
    assert "Traceback" not in output
    assert "password for every account: mscc-demo" in output
