"""Imports every domain's ORM models so that ``Base.metadata`` is complete (Alembic, tests)."""

from __future__ import annotations

from sqlalchemy import MetaData

from command_center.alerts import models as _alerts  # noqa: F401
from command_center.auth import models as _auth  # noqa: F401
from command_center.cameras import models as _cameras  # noqa: F401
from command_center.cases import models as _cases  # noqa: F401
from command_center.database.core import Base
from command_center.district import models as _district  # noqa: F401
from command_center.recordings import models as _recordings  # noqa: F401
from inspection.gps import models as _gps  # noqa: F401
from inspection.lab import models as _lab  # noqa: F401
from inspection.people import models as _people  # noqa: F401
from inspection.tasks import models as _tasks  # noqa: F401


def metadata() -> MetaData:
    """The metadata of all tables."""
    return Base.metadata
