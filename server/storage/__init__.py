"""Event store adapters: in memory (tests, simulation), SQLite (the embedded default) and
PostgreSQL (``server.storage.postgres``: several instances on one database), with export and
import between them (``server.storage.transfer``).
"""

from server.storage.memory import MemoryEventStore
from server.storage.sqlite import SqliteEventStore, UnsupportedSchemaVersion

__all__ = ["MemoryEventStore", "SqliteEventStore", "UnsupportedSchemaVersion"]
