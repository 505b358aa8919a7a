"""What one running server holds: settings, database, bus, district. Built by app.create_app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from config.district import District
from config.settings import Settings

if TYPE_CHECKING:
    from command_center.events.bus import EventBus
    from command_center.live.hub import LiveHub
    from command_center.recordings.flows import Recordings
    from inspection.gps.ingest import PositionWriter


@dataclass
class AppContext:
    """Shared state of one server process, reached from views through ``deps``."""

    settings: Settings
    secret: str
    engine: Engine
    sessions: sessionmaker[Session]
    bus: EventBus
    hub: LiveHub
    district: District | None = None
    recordings: Recordings | None = None  # set when the consumers are registered
    positions: PositionWriter | None = None  # writes incoming GPS fixes; started with the app
    extra: dict[str, object] = field(default_factory=dict)
