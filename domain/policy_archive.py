"""The archive of policy versions: every pack ever activated, kept by its content hash.

A policy version is the SHA-256 of a pack's files (``sqm.rules.loader.content_version``), so
the archive keeps the files themselves, once per version, and an append-only history of
activations. From it a server restores the active policy after a restart, and any decision
ever recorded can be traced to the exact files that made it.

Adapters: the SQLite and memory stores in ``sqm.server.storage``; one contract suite
(``tests/integration/test_policy_archive_contract.py``) holds both to this protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol, runtime_checkable

import attrs

from sqm.domain.errors import DomainError


@attrs.frozen
class PolicyActivation:
    """One entry of the activation history: which version became active, when, by whom.

    ``sequence`` orders the history (1, 2, 3, ...). ``replayed`` is True when the request id
    was already recorded and nothing was written this time.
    """

    sequence: int
    version: str
    actor: str
    request_id: str
    activated_at: datetime
    replayed: bool = attrs.field(default=False, eq=False)


@attrs.frozen
class ArchivedVersion:
    """A version in the archive, with when it was first and last made active."""

    version: str
    name: str
    saved_at: datetime
    first_activated_at: datetime | None = None
    last_activated_at: datetime | None = None
    activation_count: int = 0


class PolicyVersionNotFound(DomainError):
    """No policy version with this content hash is archived."""

    reason = "POLICY_VERSION_NOT_FOUND"

    def __init__(self, version: str) -> None:
        self.version = version
        super().__init__(f"policy version {version!r} is not in the archive")


class PolicyVersionConflict(DomainError):
    """A version is already archived with different files: a version is its content, so
    this means the files were altered (or the hash was computed wrongly).
    """

    reason = "POLICY_VERSION_CONFLICT"

    def __init__(self, version: str) -> None:
        self.version = version
        super().__init__(
            f"policy version {version!r} is already archived with different files;"
            " a version's files never change"
        )


class PolicyVersionAltered(DomainError):
    """An archived version's files no longer hash to the version: they were altered in
    storage, so they are not served (VerifyAuditChain reports the version).
    """

    reason = "POLICY_VERSION_ALTERED"

    def __init__(self, version: str) -> None:
        self.version = version
        super().__init__(
            f"policy version {version!r}: the archived files no longer match their content"
            " hash; they were altered in storage and are not served"
        )


@runtime_checkable
class PolicyArchive(Protocol):
    """Policy versions by content hash, and the append-only history of activations."""

    def save_version(
        self, version: str, name: str, files: Mapping[str, str], saved_at: datetime
    ) -> bool:
        """Keep ``files`` (relative path -> text) as ``version`` of pack ``name``.

        Idempotent: saving a version again with the same files writes nothing and returns
        False (True when it was new). The same version with other files raises
        :class:`PolicyVersionConflict`.
        """
        ...

    def record_activation(
        self, version: str, actor: str, request_id: str, activated_at: datetime
    ) -> PolicyActivation:
        """Append an activation of an archived ``version`` to the history.

        Raises :class:`PolicyVersionNotFound` for a version never saved. A request id already
        recorded for the same version returns the first activation with ``replayed=True``;
        for another version it raises ``RequestIdReused``.
        """
        ...

    def active_version(self) -> str | None:
        """The version of the latest activation; None when nothing was ever activated."""
        ...

    def activations(self) -> list[PolicyActivation]:
        """The whole activation history, oldest first."""
        ...

    def list_versions(self) -> list[ArchivedVersion]:
        """Every archived version, in the order they were first saved."""
        ...

    def get_version(self, version: str) -> ArchivedVersion:
        """One archived version; raises :class:`PolicyVersionNotFound`."""
        ...

    def load_version(self, version: str) -> dict[str, str]:
        """The files of ``version`` (relative path -> text); raises
        :class:`PolicyVersionNotFound`.
        """
        ...
