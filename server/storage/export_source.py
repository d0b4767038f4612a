"""An export file read back for auditing, as it is: nothing checked while reading.

``sqm db import`` refuses an export at its first problem (``sqm.server.storage.dump``); an
auditor wants every problem, so this reads the records into memory without judging them and
answers the reads :func:`sqm.server.app.integrity.audit` makes. An export is one moment of
the record, so it is held whole (an offline tool, on the auditor's machine).
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from sqm.domain.ports import AppendResult, RecordedEvent, StreamSnapshot
from sqm.domain.serialization import parse_time
from sqm.server.storage.dump import FORMAT
from sqm.server.storage.errors import StoreUnavailable


@attrs.frozen
class ExportedVersion:
    """A policy version named in the export."""

    version: str


class ExportSource:
    """The events, requests, snapshots and policy versions of one export file."""

    def __init__(self, lines: Iterable[str], name: str) -> None:
        self._events: list[RecordedEvent] = []
        self._requests: dict[str, tuple[str, AppendResult]] = {}
        self._snapshots: dict[str, StreamSnapshot] = {}
        self._versions: dict[str, dict[str, str]] = {}
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                self._take(json.loads(text))
            except (ValueError, KeyError, TypeError) as error:
                raise StoreUnavailable(f"{name}:{number}: not an export record ({error})") from None
        self._events.sort(key=lambda event: event.global_seq)
        self._seqs = [event.global_seq for event in self._events]
        self._streams: dict[str, list[RecordedEvent]] = {}
        for event in self._events:
            self._streams.setdefault(event.stream_id, []).append(event)

    def _take(self, line: dict[str, Any]) -> None:
        kind = line["kind"]
        if kind == "header" and line.get("format") != FORMAT:
            raise ValueError(f"not an {FORMAT} file")
        if kind == "event":
            self._events.append(_event(line))
        elif kind == "request":
            result = AppendResult(
                str(line["stream_id"]),
                int(line["first_version"]),
                int(line["last_version"]),
                int(line["first_seq"]),
                int(line["last_seq"]),
            )
            self._requests[str(line["request_id"])] = (str(line["fingerprint"]), result)
        elif kind == "snapshot":
            stream = str(line["stream_id"])
            self._snapshots[stream] = StreamSnapshot(stream, int(line["version"]), line["state"])
        elif kind == "policy_version":
            files = line["files"]
            self._versions[str(line["version"])] = {str(k): str(v) for k, v in files.items()}

    def read_all(self, after_seq: int = 0, limit: int | None = None) -> list[RecordedEvent]:
        """Events after ``after_seq``, in global order."""
        start = bisect.bisect_right(self._seqs, after_seq)
        end = None if limit is None else start + limit
        return self._events[start:end]

    def read_stream(
        self, stream_id: str, after_version: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        """One stream's events after ``after_version``, oldest first."""
        found = [e for e in self._streams.get(stream_id, []) if e.version > after_version]
        return found if limit is None else found[:limit]

    def find_requests(self, request_ids: Sequence[str]) -> dict[str, tuple[str, AppendResult]]:
        """The request records the export holds for ``request_ids``."""
        return {rid: self._requests[rid] for rid in request_ids if rid in self._requests}

    def list_snapshots(self, after_stream_id: str = "", limit: int = 100) -> list[StreamSnapshot]:
        """Snapshots in stream id order."""
        streams = sorted(s for s in self._snapshots if s > after_stream_id)[:limit]
        return [self._snapshots[s] for s in streams]

    def list_versions(self) -> list[ExportedVersion]:
        """The policy versions in the export."""
        return [ExportedVersion(version) for version in self._versions]

    def load_version(self, version: str) -> dict[str, str]:
        """A version's files as exported."""
        return dict(self._versions[version])


def _event(line: dict[str, Any]) -> RecordedEvent:
    return RecordedEvent(
        global_seq=int(line["global_seq"]),
        stream_id=str(line["stream_id"]),
        version=int(line["version"]),
        event_type=str(line["event_type"]),
        payload=dict(line["payload"]),
        occurred_at=parse_time(str(line["occurred_at"])),
        recorded_at=parse_time(str(line["recorded_at"])),
        actor=str(line["actor"]),
        request_id=str(line["request_id"]),
        policy_version=str(line["policy_version"]),
        prev_hash=str(line["prev_hash"]),
        hash=str(line["hash"]),
    )
