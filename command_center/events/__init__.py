"""The event bus: typed events and one bus interface with in-process and Redis Streams implementations."""
