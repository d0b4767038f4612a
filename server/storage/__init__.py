"""Event store adapters: in memory (tests, simulation) and SQLite (the embedded default)."""

from server.storage.memory import MemoryEventStore
from server.storage.sqlite import SqliteEventStore, UnsupportedSchemaVersion

__all__ = ["MemoryEventStore", "SqliteEventStore", "UnsupportedSchemaVersion"]
