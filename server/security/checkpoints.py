"""Checkpoints of the record signed outside the database, so a rewritten record shows.

The hash chain proves the log is consistent with itself, not that it is the log that was
written: whoever can write the database can truncate it, or edit an event and recompute
every later hash. A checkpoint is the chain's head (global sequence and hash) signed with an
Ed25519 key the database never holds, appended as one JSON line to a file kept elsewhere.
Verification (:mod:`sqm.server.app.integrity`) then holds the record to every checkpoint:
the event at each checkpointed sequence must exist and carry the checkpointed hash.

A line: ``{"sequence": N, "hash": "...", "identity": "...", "signed_at": "...",
"signature": "<base64 Ed25519 over the canonical JSON of the other four>"}``.
Keys are PEM files: PKCS#8 for the private key, SubjectPublicKeyInfo for the public one
(``sqm audit keygen`` writes both).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import attrs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sqm.domain.ports import EventStore
from sqm.domain.serialization import canonical_json, format_time

log = logging.getLogger("sqm.checkpoints")


class CheckpointError(ValueError):
    """A key or checkpoint file that cannot be used: unreadable, malformed or forged."""


@attrs.frozen
class Checkpoint:
    """The record's head at one moment: the newest event's global sequence and hash."""

    sequence: int
    hash: str
    identity: str
    signed_at: str

    def body(self) -> bytes:
        """The bytes the signature covers."""
        return canonical_json(attrs.asdict(self))


def generate_key(private_path: Path, public_path: Path) -> None:
    """Write a new Ed25519 key pair (the private file readable by its owner only)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(private)
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file ``path``, or :class:`CheckpointError`."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        raise CheckpointError(f"{path}: not a readable PEM private key ({error})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"{path}: the checkpoint key must be Ed25519")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in the PEM file ``path``, or :class:`CheckpointError`."""
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{path}: not a readable PEM public key ({error})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointError(f"{path}: the checkpoint key must be Ed25519")
    return key


def head_checkpoint(store: EventStore, now: datetime) -> Checkpoint | None:
    """The store's head as a checkpoint (None while the record is empty)."""
    sequence = store.last_sequence()
    if sequence == 0:
        return None
    (event,) = store.read_all(sequence - 1, 1)
    return Checkpoint(event.global_seq, event.hash, store.identity(), format_time(now))


@attrs.frozen
class SignedCheckpoint:
    """A checkpoint with its signature, and the exact line the checkpoint file holds."""

    checkpoint: Checkpoint
    signature: str  # base64 Ed25519 over ``checkpoint.body()``
    line: str  # without its newline: what a watcher appends to a file of its own


def sign(key: Ed25519PrivateKey, checkpoint: Checkpoint) -> SignedCheckpoint:
    """``checkpoint`` signed with ``key``."""
    signature = base64.b64encode(key.sign(checkpoint.body())).decode("ascii")
    line = canonical_json({**attrs.asdict(checkpoint), "signature": signature}).decode("utf-8")
    return SignedCheckpoint(checkpoint, signature, line)


def append_checkpoint(
    path: Path, key: Ed25519PrivateKey, checkpoint: Checkpoint
) -> SignedCheckpoint:
    """Sign ``checkpoint`` and append it to ``path`` as one line, on disk before returning."""
    signed = sign(key, checkpoint)
    with path.open("ab") as out:
        out.write(signed.line.encode("utf-8") + b"\n")
        out.flush()
        os.fsync(out.fileno())
    return signed


def read_checkpoints(path: Path, key: Ed25519PublicKey) -> list[Checkpoint]:
    """Every checkpoint in ``path``, each signature checked; the first bad line raises."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path}: cannot be read ({error})") from None
    found = []
    for number, text in enumerate(lines, start=1):
        if text.strip():
            found.append(_checked(text, key, f"{path}:{number}"))
    return found


def _checked(text: str, key: Ed25519PublicKey, where: str) -> Checkpoint:
    try:
        line = json.loads(text)
        checkpoint = Checkpoint(
            int(line["sequence"]), str(line["hash"]), str(line["identity"]), str(line["signed_at"])
        )
        signature = base64.b64decode(str(line["signature"]), validate=True)
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"{where}: not a checkpoint line ({error})") from None
    try:
        key.verify(signature, checkpoint.body())
    except InvalidSignature:
        raise CheckpointError(f"{where}: the signature does not match this public key") from None
    return checkpoint


class CheckpointWriter:
    """Signs the store's head into the checkpoint file at an interval, and on demand.

    Each checkpoint, once on disk, is also published: :meth:`latest` holds it and every
    listener :meth:`subscribe` added is told (the Watch stream sends it to its callers), so an
    auditor can keep copies where the server's operator cannot reach them.
    """

    def __init__(
        self,
        store: EventStore,
        key: Ed25519PrivateKey,
        path: Path,
        executor: ThreadPoolExecutor,
        clock: Callable[[], datetime],
        *,
        interval: float,
    ) -> None:
        self._store = store
        self._key = key
        self._path = path
        self._executor = executor
        self._clock = clock
        self._interval = interval
        self._latest: SignedCheckpoint | None = None
        self._listeners: list[Callable[[SignedCheckpoint], None]] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The key that verifies this writer's checkpoints."""
        return self._key.public_key()

    @property
    def path(self) -> Path:
        """The checkpoint file."""
        return self._path

    def latest(self) -> SignedCheckpoint | None:
        """The newest checkpoint this process wrote (None before the first)."""
        return self._latest

    def subscribe(self, listener: Callable[[SignedCheckpoint], None]) -> Callable[[], None]:
        """Call ``listener`` (on the worker thread) after each new checkpoint; returns the
        function that unsubscribes it.
        """
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def write_now(self) -> Checkpoint | None:
        """Sign the current head unless it is the one signed last (None: nothing new)."""
        checkpoint = head_checkpoint(self._store, self._clock())
        latest = self._latest
        if checkpoint is None or (latest and checkpoint.sequence == latest.checkpoint.sequence):
            return None
        signed = append_checkpoint(self._path, self._key, checkpoint)  # on disk before it is told
        self._latest = signed
        log.info("checkpoint: sequence %d hash %s", checkpoint.sequence, checkpoint.hash)
        for listener in list(self._listeners):
            listener(signed)
        return checkpoint

    async def checkpoint(self) -> Checkpoint | None:
        """:meth:`write_now` on the application's worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.write_now)

    def start(self) -> None:
        """Checkpoint every ``interval`` seconds (0: only on demand and at stop)."""
        if self._interval > 0 and self._task is None:
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._run(), name="sqm-checkpoints")

    async def stop(self) -> None:
        """Stop the interval, then sign the head once more."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._checkpoint_logged()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self._checkpoint_logged()

    async def _checkpoint_logged(self) -> None:
        try:
            await self.checkpoint()
        except Exception as error:  # the next interval tries again; one line, no traceback
            log.error("checkpoint failed: %s", error)
