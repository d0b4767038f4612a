"""Event store adapters: in memory (tests, simulation), SQLite (the embedded default) and
PostgreSQL (``sqm.server.storage.postgres``: several instances on one database), with export and
import between them (``sqm.server.storage.transfer``).
"""

from sqm.server.storage.memory import MemoryEventStore
from sqm.server.storage.sqlite import SqliteEventStore, UnsupportedSchemaVersion

__all__ = ["MemoryEventStore", "SqliteEventStore", "UnsupportedSchemaVersion"]
