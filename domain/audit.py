"""The hash chain over the event log: each event's SHA-256 covers its content and the
previous event's hash, so any edit, insertion or deletion breaks every later link.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqm.domain.ports import ChainVerification, RecordedEvent
from sqm.domain.serialization import canonical_json, format_time

GENESIS_HASH = "0" * 64


def event_hash(
    *,
    prev_hash: str,
    global_seq: int,
    stream_id: str,
    version: int,
    event_type: str,
    payload: Mapping[str, Any],
    occurred_at: datetime,
    recorded_at: datetime,
    actor: str,
    request_id: str,
    policy_version: str,
) -> str:
    """SHA-256 (hex) of the previous hash and the event's canonical JSON."""
    body = canonical_json(
        {
            "prev_hash": prev_hash,
            "global_seq": global_seq,
            "stream_id": stream_id,
            "version": version,
            "event_type": event_type,
            "payload": payload,
            "occurred_at": format_time(occurred_at),
            "recorded_at": format_time(recorded_at),
            "actor": actor,
            "request_id": request_id,
            "policy_version": policy_version,
        }
    )
    return hashlib.sha256(body).hexdigest()


def event_hash_of_json(
    *,
    prev_hash: str,
    global_seq: int,
    stream_id: str,
    version: int,
    event_type: str,
    payload_json: str,
    occurred_at: datetime,
    recorded_at: datetime,
    actor: str,
    request_id: str,
    policy_version: str,
) -> str:
    """:func:`event_hash`, given the payload already as canonical JSON text: the same bytes
    are hashed (the payload's key sorts between ``occurred_at`` and ``policy_version``), and
    the payload is not encoded again.
    """
    head = canonical_json(
        {
            "actor": actor,
            "event_type": event_type,
            "global_seq": global_seq,
            "occurred_at": format_time(occurred_at),
        }
    )
    tail = canonical_json(
        {
            "policy_version": policy_version,
            "prev_hash": prev_hash,
            "recorded_at": format_time(recorded_at),
            "request_id": request_id,
            "stream_id": stream_id,
            "version": version,
        }
    )
    payload = payload_json.encode("utf-8")
    return hashlib.sha256(head[:-1] + b',"payload":' + payload + b"," + tail[1:]).hexdigest()


def recompute_hash(event: RecordedEvent) -> str:
    """The hash ``event`` should carry, given its own ``prev_hash``."""
    return event_hash(
        prev_hash=event.prev_hash,
        global_seq=event.global_seq,
        stream_id=event.stream_id,
        version=event.version,
        event_type=event.event_type,
        payload=event.payload,
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        actor=event.actor,
        request_id=event.request_id,
        policy_version=event.policy_version,
    )


class ChainCheck:
    """Checks events one at a time, in global-sequence order from the first.

    For callers that must say where a link broke in their own terms (a file's line), not
    only at which sequence; :func:`verify_chain` is the whole-log form.
    """

    def __init__(self) -> None:
        self.checked = 0
        self.last_hash = GENESIS_HASH

    def problem(self, event: RecordedEvent) -> str:
        """What is wrong with ``event`` as the next link ("" when it links correctly)."""
        expected_seq = self.checked + 1
        if event.global_seq != expected_seq:
            return f"sequence gap: expected {expected_seq}, found {event.global_seq}"
        if event.prev_hash != self.last_hash:
            return "prev_hash does not match the previous event's hash"
        if recompute_hash(event) != event.hash:
            return "hash does not match the event's content"
        self.checked += 1
        self.last_hash = event.hash
        return ""


def verify_chain(events: Iterable[RecordedEvent]) -> ChainVerification:
    """Check events in global-sequence order from the first; stop at the first broken link."""
    check = ChainCheck()
    for event in events:
        problem = check.problem(event)
        if problem:
            return ChainVerification(check.checked, event.global_seq, problem)
    return ChainVerification(check.checked)
