"""The command center: FastAPI server, database, event bus, auth, alerts, cases, cameras."""

__version__ = "0.1.0"
