"""The cases tests use the same controlled-clock app as the alerts tests."""

from tests.command_center.alerts.conftest import app, clock

__all__ = ["app", "clock"]
