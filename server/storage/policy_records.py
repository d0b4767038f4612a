"""What every store's policy archive shares: argument checks, how files are kept, how an
activation retry is answered and how a version's activation summary is computed.

The memory, SQLite and PostgreSQL archives import these, so the contract suite holds them to one
behaviour by construction (as :mod:`sqm.server.storage.records` does for events).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from sqm.domain.errors import RequestIdReused
from sqm.domain.policy_archive import ArchivedVersion, PolicyActivation
from sqm.domain.serialization import format_time, parse_time
from sqm.server.storage.records import TimeColumn, from_json, stored_instant, to_json

ACTIVATION_COLUMNS = "sequence, version, actor, request_id, activated_at"


def stored_time(moment: datetime) -> datetime:
    """The instant as it reads back from storage: UTC, microseconds (naive times refused)."""
    return parse_time(format_time(moment))


def files_to_json(version: str, name: str, files: Mapping[str, str]) -> str:
    """Check a version's arguments and return its files as canonical JSON text."""
    if not version:
        raise ValueError("a policy version must not be empty")
    if not name:
        raise ValueError("a policy pack name must not be empty")
    if not files:
        raise ValueError("a policy version needs at least one file")
    for path, text in files.items():
        if not isinstance(path, str) or not path or not isinstance(text, str):
            raise ValueError(f"policy files map relative paths to text, got {path!r}")
    return to_json(dict(files))


def files_from_json(text: str) -> dict[str, str]:
    """A version's files as stored by :func:`files_to_json`."""
    return {str(path): str(content) for path, content in from_json(text).items()}


def check_activation(version: str, actor: str, request_id: str) -> None:
    """Refuse an activation no store could record meaningfully."""
    if not version or not request_id:
        raise ValueError("an activation needs a version and a request id")
    if not actor:
        raise ValueError("an activation needs an actor")


def replay_activation(
    recorded: PolicyActivation | None, version: str, request_id: str
) -> PolicyActivation | None:
    """The first activation if ``request_id`` was already recorded for ``version``, else None.

    The same request id for another version names a different request, and is refused.
    """
    if recorded is None:
        return None
    if recorded.version != version:
        raise RequestIdReused(request_id)
    return attrs.evolve(recorded, replayed=True)


def summary(
    version: str, name: str, saved_at: datetime, activations: Iterable[PolicyActivation]
) -> ArchivedVersion:
    """An archived version with its first and last activation times and count."""
    times = [a.activated_at for a in activations if a.version == version]
    return ArchivedVersion(
        version=version,
        name=name,
        saved_at=saved_at,
        first_activated_at=times[0] if times else None,
        last_activated_at=times[-1] if times else None,
        activation_count=len(times),
    )


def activation_row(activation: PolicyActivation, time: TimeColumn) -> tuple[Any, ...]:
    """``activation`` as the values of :data:`ACTIVATION_COLUMNS`."""
    return (
        activation.sequence,
        activation.version,
        activation.actor,
        activation.request_id,
        time(activation.activated_at),
    )


def activation_from_row(row: Sequence[Any]) -> PolicyActivation:
    """The activation in a row of :data:`ACTIVATION_COLUMNS`."""
    return PolicyActivation(int(row[0]), row[1], row[2], row[3], stored_instant(row[4]))
