"""The app of these tests has a controllable clock and no periodic escalation (see support.py)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from tests.command_center.alerts.support import Clock, controlled


@pytest.fixture(scope="module")
def app(app: FastAPI) -> FastAPI:
    """The suite's app, with the clock under the test's control."""
    controlled(app)
    return app


@pytest.fixture(scope="module")
def clock(app: FastAPI) -> Clock:
    """The app's clock; ``clock.advance(hours=2)`` moves it."""
    found = app.state.ctx.extra["clock"]
    assert isinstance(found, Clock)
    return found
