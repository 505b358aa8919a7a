"""Browser tests of the pages: a real server (uvicorn in a thread, SQLite, in-process bus, the sample
district) driven by a real Chromium through Playwright.

Chromium comes from the system (/usr/bin/chromium, or MSCC_CHROMIUM); Playwright's own browser
download is never used. Without a browser these tests skip with the reason, except on CI (CI=true),
where a missing browser is a broken build and fails.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from command_center.app import create_app
from command_center.database.core import transaction
from command_center.demo import ensure_users
from command_center.events.schemas import Event
from config.loader import load_district, sample_district_path
from config.settings import Settings

PASSWORD = "mscc-demo"
CHROMIUM = Path(os.environ.get("MSCC_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def _unavailable(reason: str) -> NoReturn:
    """Fail on CI (the browser is part of the build there), skip with the reason elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: browser tests must run)", pytrace=False)
    pytest.skip(reason)


@dataclass
class LiveServer:
    """The running server, its base URL and the event loop it runs on (to publish events from tests)."""

    url: str
    app: FastAPI
    loop: asyncio.AbstractEventLoop

    def publish(self, event: Event) -> None:
        """Publish ``event`` on the app's bus, from the test thread, on the server's loop."""
        future = asyncio.run_coroutine_threadsafe(self.app.state.ctx.bus.publish(event), self.loop)
        future.result(timeout=10)

    def token(self, username: str, password: str = PASSWORD) -> str:
        """A bearer token for ``username``."""
        response = httpx.post(f"{self.url}/api/auth/token", data={"username": username, "password": password})
        response.raise_for_status()
        return str(response.json()["access_token"])

    def get(self, path: str, username: str, **params: Any) -> httpx.Response:
        """GET an API path as ``username``."""
        response = httpx.get(
            f"{self.url}{path}", params=params, headers={"Authorization": f"Bearer {self.token(username)}"}
        )
        response.raise_for_status()
        return response


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The whole app on a free port, serving from a background thread, with the demo users."""
    data_dir = tmp_path_factory.mktemp("web-ui-server")
    settings = Settings(
        environment="test",
        data_dir=data_dir,
        database_url=None,
        redis_url=None,
        secret_key="test-secret-key-0123456789-web-ui-tests",  # >= 32 bytes for HS256
    )
    district = load_district(sample_district_path())
    app = create_app(settings, district=district, migrate=True)
    with transaction(app.state.ctx.sessions) as session:
        ensure_users(session, district, PASSWORD)

    # Bind first and hand the socket to uvicorn, so no other process can take the port in between.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    loop = asyncio.new_event_loop()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.serve(sockets=[sock]))

    thread = threading.Thread(target=serve, name="web-ui-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the test server did not start", pytrace=False)
        time.sleep(0.05)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", app=app, loop=loop)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        if not thread.is_alive():
            loop.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless system Chromium for the session."""
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _unavailable("the Python package 'playwright' is not installed")
    # The default 5 s is tight on a shared 2-core machine; a slow page is not what these tests judge.
    expect.set_options(timeout=20_000)
    if not CHROMIUM.exists():
        _unavailable(f"no Chromium at {CHROMIUM} (install the 'chromium' package or set MSCC_CHROMIUM)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """``new_page(width, height)`` opens a page in a fresh context (its own sessionStorage); script errors
    on the page fail the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def make(width: int = 1600, height: int = 900) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
