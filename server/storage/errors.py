"""Why a store cannot be opened or used as asked: one-line messages for operators.

The command line prints these as they are (``sqm: ...``, exit status 2), so each message
names what was found, what was expected and what to do.
"""

from __future__ import annotations


class StoreUnavailable(Exception):
    """The configured database cannot be opened or used as asked."""


class UnsupportedSchemaVersion(StoreUnavailable):
    """The database was written by a newer SQM whose schema this code does not know."""

    def __init__(self, where: str, found: int, known: int) -> None:
        self.found = found
        self.known = known
        super().__init__(
            f"{where} has schema version {found}, but this SQM knows versions up to {known};"
            " upgrade SQM to open it (the database was not changed)"
        )


class SchemaNotMigrated(StoreUnavailable):
    """A PostgreSQL database whose schema is older than this SQM's (or was never created)."""

    def __init__(self, where: str, found: int, needed: int) -> None:
        self.found = found
        self.needed = needed
        super().__init__(
            f"{where} is at schema version {found}, this SQM needs version {needed}:"
            f" run `sqm db migrate --database URL`, or start with --migrate"
        )


class StorageFault(StoreUnavailable):
    """The database cannot take writes now: its disk is full, or it is read-only or failing.

    Reads go on; writes are refused with this until the fault clears (the server reports
    NOT_SERVING meanwhile and resumes by itself). ``full`` tells a full disk from the rest.
    """

    def __init__(self, where: str, problem: str, *, full: bool, reads_go_on: bool = True) -> None:
        self.full = full
        self.problem = problem
        refused = (
            "writes are refused until it clears (reads go on,"
            if reads_go_on
            else ("calls that need it are refused until it clears (")
        )
        super().__init__(f"{where}: {problem}; {refused} nothing acknowledged was lost)")
