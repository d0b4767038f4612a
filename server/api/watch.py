"""Watching the record: resume tokens over the global event sequence, and the follow loop.

A resume token is URL-safe base64 of ``{"s": seq, "db": identity}``: the global sequence of
the last event a watcher received, and the identity of the database it came from. A token
from another database, or pointing past the end of the log, cannot be honoured without a
gap or a lie, so it is refused as expired; a token that does not decode at all is invalid.

Catch-up reads pages of :data:`PAGE` events back to back, always from the sequence. New
events are then awaited: every store signals appends (its own, and other instances' where
the database is shared: PostgreSQL's LISTEN/NOTIFY, a polled SQLite file), which wakes the
watcher at once; it also reads every :data:`POLL_SECONDS` in case a signal is lost.

A server that signs checkpoints publishes each new one on the stream too, as soon as the
watcher has been sent every event it covers (the checkpoint writer wakes watchers as the
store does): only the newest is sent, so a watcher that falls behind skips older ones.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
from collections.abc import AsyncGenerator, Awaitable, Callable

import attrs

from sqm.domain.errors import DomainError, FieldViolation, InvalidCommand
from sqm.domain.ports import EventStore, RecordedEvent
from sqm.server.security.checkpoints import CheckpointWriter, SignedCheckpoint

PAGE = 500
POLL_SECONDS = 1.0
Reader = Callable[[int, int], Awaitable[list[RecordedEvent]]]


class ResumeTokenExpired(DomainError):
    """A resume token this database cannot honour: from another database, or past its end."""

    reason = "RESUME_TOKEN_EXPIRED"

    def __init__(self, why: str) -> None:
        self.why = why
        super().__init__(f"the resume token cannot be used here: {why}; watch again without one")


class Wakeup:
    """One watcher's alarm: rung by the store's append signal, or by the poll interval."""

    def __init__(self, store: EventStore, checkpoints: CheckpointWriter | None = None) -> None:
        self._event = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._unsubscribes = [store.subscribe_appends(self._ring)]
        if checkpoints is not None:
            self._unsubscribes.append(checkpoints.subscribe(self._ring))

    def _ring(self, _: object) -> None:
        # Called from the store's listening thread; the loop may already be closed.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._event.set)

    def arm(self) -> None:
        """Forget earlier rings: call before reading, so a ring during the read counts."""
        self._event.clear()

    async def wait(self) -> None:
        """Until rung, or the poll interval passed."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), POLL_SECONDS)

    def close(self) -> None:
        """Stop listening for the store's signal (and the checkpoint writer's)."""
        while self._unsubscribes:
            self._unsubscribes.pop()()


class StoreHead:
    """The identity and log head of an event store, for resume tokens, and its newest
    signed checkpoint when the server signs them.
    """

    def __init__(self, store: EventStore, checkpoints: CheckpointWriter | None = None) -> None:
        self._store = store
        self._checkpoints = checkpoints

    def identity(self) -> str:
        """The identity of the store's database."""
        return self._store.identity()

    def last_sequence(self) -> int:
        """The global sequence of the newest event."""
        return self._store.last_sequence()

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        """The newest checkpoint this server signed (None: none yet, or it signs none)."""
        return self._checkpoints.latest() if self._checkpoints is not None else None

    def wakeup(self) -> Wakeup:
        """An alarm for one watcher of this store (in the running event loop)."""
        return Wakeup(self._store, self._checkpoints)


def encode_token(seq: int, identity: str) -> str:
    """The token that resumes after global sequence ``seq`` of database ``identity``."""
    body = json.dumps({"s": seq, "db": identity}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode_token(token: str) -> tuple[int, str]:
    """The sequence and database identity in ``token``, or INVALID_ARGUMENT."""
    try:
        padded = token + "=" * (-len(token) % 4)
        body = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        body = None
    seq = body.get("s") if isinstance(body, dict) else None
    identity = body.get("db") if isinstance(body, dict) else None
    if type(seq) is not int or seq < 0 or not isinstance(identity, str):
        raise InvalidCommand(
            [FieldViolation("resume_token", "not a resume token Watch issued; watch without one")]
        )
    return seq, identity


def start_after(token: str, start_from_now: bool, head: StoreHead) -> int:
    """The global sequence to stream after (run on the store's worker: it reads the store)."""
    if token and start_from_now:
        raise InvalidCommand(
            [FieldViolation("start_from_now", "give a resume token or start_from_now, not both")]
        )
    if start_from_now:
        return head.last_sequence()
    if not token:
        return 0
    seq, identity = decode_token(token)
    if identity != head.identity():
        raise ResumeTokenExpired("it was issued by another database")
    last = head.last_sequence()
    if seq > last:
        raise ResumeTokenExpired(f"it points at event {seq}, past the end of the log ({last})")
    return seq


@attrs.frozen
class CheckpointReached:
    """A signed checkpoint, reached once every event up to ``after`` has been yielded."""

    signed: SignedCheckpoint
    after: int  # the global sequence a watcher resumes after


async def follow(
    read: Reader, after_seq: int, head: StoreHead
) -> AsyncGenerator[RecordedEvent | CheckpointReached, None]:
    """Every event after ``after_seq`` in order, then new ones as they appear, forever,
    with each new signed checkpoint once the events it covers are out.

    The store's append signal (through ``head``) wakes the follower at once. Ends only when
    the consumer stops (cancelled or closed).
    """
    after = after_seq
    checkpoint_sent = 0
    alarm = head.wakeup()
    try:
        while True:
            alarm.arm()
            page = await read(after, PAGE)
            for event in page:
                yield event
                after = event.global_seq
            signed = head.latest_checkpoint()
            if signed and checkpoint_sent < signed.checkpoint.sequence <= after:
                checkpoint_sent = signed.checkpoint.sequence
                yield CheckpointReached(signed, after)
            if len(page) < PAGE:
                await alarm.wait()
    finally:
        alarm.close()
