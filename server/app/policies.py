"""The active policy of a running server: swapped atomically, read without locks, and every
version ever active loadable again from the archive.

Activation is load and compile (which may fail: nothing changes), then archive the files and
record the activation, then swap one reference. A decision takes the reference once and
uses it throughout, so an activation in between never mixes two versions in one command;
the version each decision records is the one that made it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from sqm.domain.policy_archive import PolicyArchive, PolicyVersionConflict, PolicyVersionNotFound
from sqm.domain.ports import Policy
from sqm.rules import CompiledPolicy, PackInvalid, PolicyPack
from sqm.rules.loader import MANIFEST, read_pack_files
from sqm.rules.tooling.pack_files import load_pack_files

Compile = Callable[[PolicyPack], Policy]
"""Turns a checked pack into a policy (the real engine by default; tests may pass a fake)."""

STARTUP_ACTOR = "sqm serve"
log = logging.getLogger(__name__)


def compile_pack(pack: PolicyPack) -> Policy:
    """The pack compiled into the process's rules engine."""
    return CompiledPolicy(pack)


def version_files(pack: PolicyPack, files: Mapping[str, str]) -> dict[str, str]:
    """The files that make ``pack``'s version (manifest, catalogue and listed files), from
    ``files``.
    """
    catalogue = (pack.catalogue_file,) if pack.catalogue_file else ()
    return {name: files[name] for name in (MANIFEST, *catalogue, *pack.files)}


def load_archived(archive: PolicyArchive, version: str, compile_: Compile = compile_pack) -> Policy:
    """Version ``version`` from the archive, loaded, checked and compiled.

    The version is recomputed from the archived files: a mismatch means they were altered,
    and raises :class:`PolicyVersionConflict` rather than deciding under unknown rules.
    """
    pack = load_pack_files(archive.load_version(version))
    if pack.version != version:
        raise PolicyVersionConflict(version)
    return compile_(pack)


class ActivePolicy:
    """Holds the policy new decisions are made under, and every version loaded so far.

    Readers take a reference and use it for a whole decision (``active()``); ``get`` finds
    any archived version by its hash, so old decisions can be evaluated again.
    """

    def __init__(
        self,
        policy: Policy,
        archive: PolicyArchive | None = None,
        compile_: Compile = compile_pack,
    ) -> None:
        self._policy = policy
        self._archive = archive
        self._compile = compile_
        self._lock = threading.Lock()
        self._loaded: dict[str, Policy] = {policy.version: policy}
        self._follow_every: float | None = None
        self._next_look = 0.0
        self._looking = threading.Lock()
        self._unloadable: set[str] = set()
        self._next_change: datetime | None = None
        self._on_due: Callable[[datetime], None] | None = None
        self._clock: Callable[[], datetime] | None = None
        self._changing = threading.Lock()
        self._on_look: Callable[[], None] | None = None

    def follow_archive(self, every_seconds: float) -> None:
        """Adopt activations other instances record in the shared archive.

        Before a decision, the archive's active version is looked up (at most once every
        ``every_seconds``); a different one is loaded from the archive and swapped in.
        """
        self._follow_every = every_seconds

    def __call__(self) -> Policy:
        """The policy to decide under now (a scheduled change whose time came included)."""
        if self._follow_every is not None:
            self._look_at_archive(self._follow_every)
        if self._next_change is not None:
            self._take_due_change()
        return self._policy

    def current(self) -> Policy:
        """The policy active at this instant, without looking for due or followed changes."""
        return self._policy

    def expect_change(
        self,
        at: datetime | None,
        on_due: Callable[[datetime], None],
        clock: Callable[[], datetime],
    ) -> None:
        """From ``at`` on (None: no change expected), call ``on_due(now)`` before handing
        out the policy; ``on_due`` makes the change (and calls this again for the next one).

        The time is checked on every read rather than by the deadline scheduler: a decision
        can then never be made under the old version once the new one's time has come, nor
        under the new one before, whatever the scheduler's interval (or with it off).
        """
        self._on_due, self._clock, self._next_change = on_due, clock, at

    def _take_due_change(self) -> None:
        clock, on_due, at = self._clock, self._on_due, self._next_change
        if clock is None or on_due is None or at is None:
            return
        now = clock()
        if now < at:
            return
        with self._changing:  # one thread makes the change; the others wait for it
            if self._next_change is not None and self._next_change <= now:
                on_due(now)

    @property
    def version(self) -> str:
        """The active version's content hash."""
        return self().version

    def _look_at_archive(self, every_seconds: float) -> None:
        now = time.monotonic()
        if self._archive is None or now < self._next_look:
            return
        if not self._looking.acquire(blocking=False):  # another thread is looking already
            return
        try:
            self._next_look = now + every_seconds
            self._adopt_archived(self._archive)
            if self._on_look is not None:
                self._on_look()
        finally:
            self._looking.release()

    def _adopt_archived(self, archive: PolicyArchive) -> None:
        active = archive.active_version()
        if active is None or active == self._policy.version or active in self._unloadable:
            return
        try:
            self.activate(self.get(active))
        except (PackInvalid, PolicyVersionConflict, PolicyVersionNotFound) as error:
            self._unloadable.add(active)
            log.error("policy %s activated elsewhere cannot be loaded here: %s", active, error)
            return
        log.info("policy %s activated by another instance is now active here", active)

    def also_when_following(self, look: Callable[[], None]) -> None:
        """Call ``look`` each time the archive is looked at (see :meth:`follow_archive`):
        sign-off arms the changes other instances scheduled.
        """
        self._on_look = look

    @property
    def archive(self) -> PolicyArchive | None:
        """Where versions are archived (None for a server built with a fixed policy)."""
        return self._archive

    def activate(self, policy: Policy) -> Policy:
        """Make ``policy`` active; return the one it replaced. Nothing is archived here."""
        with self._lock:
            self._loaded.setdefault(policy.version, policy)
            previous, self._policy = self._policy, policy
        return previous

    def keep(self, policy: Policy) -> None:
        """Keep ``policy`` loaded (a proposed version), without making it active."""
        with self._lock:
            self._loaded.setdefault(policy.version, policy)

    def get(self, version: str) -> Policy:
        """The policy of ``version``: loaded before, or loaded now from the archive.

        Raises :class:`PolicyVersionNotFound` when no such version was ever archived.
        """
        with self._lock:
            found = self._loaded.get(version)
        if found is not None:
            return found
        if self._archive is None:
            raise PolicyVersionNotFound(version)
        policy = load_archived(self._archive, version, self._compile)
        with self._lock:
            return self._loaded.setdefault(version, policy)


def start_policy(
    archive: PolicyArchive,
    configured: Path,
    now: datetime,
    compile_: Compile = compile_pack,
    *,
    explicit: bool = False,
) -> ActivePolicy:
    """The policy a starting server decides under.

    The archive's active version if there is one (an activation survives a restart);
    otherwise the pack in ``configured``, archived and recorded as activated at start. An
    archived version that no longer loads (an upgrade changed the language, or its files
    were altered) is logged as an error and the configured pack is activated instead.
    Raises :class:`PackInvalid` when the configured pack is needed and does not load.
    ``explicit`` says the pack was configured by hand (a warning says it is not used).
    """
    active = archive.active_version()
    if active is not None:
        log.log(
            logging.WARNING if explicit else logging.INFO,
            "policy pack %s not activated: the database's active policy %s stays"
            " (use `sqm policy activate` to change it)",
            configured,
            active,
        )
        try:
            return ActivePolicy(load_archived(archive, active, compile_), archive, compile_)
        except (PackInvalid, PolicyVersionConflict, PolicyVersionNotFound) as error:
            log.error(
                "the archived active policy %s cannot be loaded; activating %s instead: %s",
                active,
                configured,
                error,
            )
    files = read_pack_files(configured)
    pack = load_pack_files(files)
    policy = compile_(pack)
    if pack.version == active:
        # The archive's copy of this very version was altered: the configured files are the
        # genuine ones (they hash to it) but cannot replace the append-only row.
        # VerifyAuditChain reports the altered copy.
        log.error("deciding under %s from %s; the archive's copy is altered", active, configured)
        return ActivePolicy(policy, archive, compile_)
    archive.save_version(pack.version, pack.name, version_files(pack, files), now)
    request_id = f"startup:{pack.version}:{now.isoformat()}"
    archive.record_activation(pack.version, STARTUP_ACTOR, request_id, now)
    log.info("activated policy %s %s from %s", pack.name, pack.version, configured)
    return ActivePolicy(policy, archive, compile_)
