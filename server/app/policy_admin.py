"""Policy administration: validate a pack, activate it atomically, list and read versions.

What the ``PolicyService`` servicer and tests call; it knows the archive only through the
``PolicyArchive`` port. A pack arrives as data (relative path -> text), is checked and
compiled first (a failure changes nothing), then archived, recorded and swapped in.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime

import attrs

from sqm.domain.errors import FieldViolation, InvalidCommand, SupplierNotFound
from sqm.domain.model import Decision, Stage
from sqm.domain.policy_archive import (
    ArchivedVersion,
    PolicyActivation,
    PolicyArchive,
    PolicyVersionAltered,
)
from sqm.domain.policy_changes import SignoffRequired
from sqm.domain.ports import EventStore
from sqm.domain.serialization import event_from_payload
from sqm.rules import PackInvalid, PolicyPack
from sqm.rules.loader import content_version
from sqm.rules.tooling.explain_report import evaluate_at, replay_events
from sqm.rules.tooling.lint import Finding, error_findings, pack_warnings
from sqm.rules.tooling.pack_files import load_pack_files
from sqm.server.app.policies import ActivePolicy, Compile, compile_pack, version_files
from sqm.server.app.requalification import Requalify


@attrs.frozen
class Validation:
    """A pack checked: its version when it loads, and every error and warning found."""

    version: str | None
    findings: tuple[Finding, ...]

    @property
    def valid(self) -> bool:
        """True when the pack loads (warnings do not stop it)."""
        return self.version is not None


@attrs.frozen
class VersionView:
    """An archived version and whether it is the one active now."""

    archived: ArchivedVersion
    active: bool


@attrs.frozen
class SupplierExplanation:
    """A version's rules evaluated on a supplier's history at a moment (nothing recorded)."""

    policy_version: str
    at: datetime
    decisions: tuple[Decision, ...]


@attrs.frozen
class ActivationResult:
    """A completed (or replayed) activation."""

    version: VersionView
    activation: PolicyActivation
    previous_version: str
    warnings: tuple[Finding, ...] = ()


class PolicyAdministration:
    """Validates, activates and lists policy versions for one server."""

    def __init__(
        self,
        active: ActivePolicy,
        archive: PolicyArchive,
        clock: Callable[[], datetime],
        compile_: Compile = compile_pack,
        *,
        store: EventStore | None = None,
        approvals_required: int = 1,
        requalify: Requalify | None = None,
    ) -> None:
        self._active = active
        self._requalify = requalify
        self._approvals_required = approvals_required
        self._archive = archive
        self._clock = clock
        self._compile = compile_
        self._store = store
        self._lock = threading.Lock()

    def validate(self, files: Mapping[str, str]) -> Validation:
        """Every error (the pack does not load) or warning (it does) of ``files``."""
        try:
            pack, warnings = checked_pack(files)
        except PackInvalid as invalid:
            return Validation(None, tuple(error_findings(invalid)))
        return Validation(pack.version, warnings)

    def activate(self, files: Mapping[str, str], actor: str, request_id: str) -> ActivationResult:
        """Make the pack in ``files`` the active policy, without a restart.

        Raises ``InvalidCommand`` for unusable file paths and :class:`PackInvalid` (every
        problem located) for a pack that does not load; the active policy then stays. A
        retry with the same request id returns the first activation and changes nothing.
        A server that asks more than one person to sign off refuses (``SignoffRequired``):
        one person alone would activate a pack.
        """
        if self._approvals_required > 1:
            raise SignoffRequired(self._approvals_required)
        pack, warnings = checked_pack(files)
        policy = self._compile(pack)
        now = self._clock()
        with self._lock:
            previous = self._active.version
            self._archive.save_version(pack.version, pack.name, version_files(pack, files), now)
            activation = self._archive.record_activation(pack.version, actor, request_id, now)
            if activation.replayed:
                previous = self._before(activation.sequence)
            else:
                self._active.activate(policy)
            if self._requalify is not None and self._active.current().version == pack.version:
                # A retry repeats it too (a crash may have cut it short); each supplier's
                # re-evaluation is recorded once by its request id.
                self._requalify(policy, activation.activated_at, f"activation:{request_id}")
        return ActivationResult(self.version(pack.version), activation, previous, warnings)

    def _before(self, sequence: int) -> str:
        history = self._archive.activations()
        return next((a.version for a in history if a.sequence == sequence - 1), "")

    def versions(self) -> list[VersionView]:
        """Every archived version, oldest first, the active one marked."""
        self._active()  # a scheduled version whose time came is recorded before it is shown
        active = self._archive.active_version()
        return [VersionView(v, v.version == active) for v in self._archive.list_versions()]

    def version(self, version: str) -> VersionView:
        """One archived version; raises ``PolicyVersionNotFound``."""
        self._active()
        archived = self._archive.get_version(version)
        return VersionView(archived, version == self._archive.active_version())

    def files(self, version: str) -> dict[str, str]:
        """The files of an archived version, checked against its content hash; raises
        ``PolicyVersionNotFound``, or ``PolicyVersionAltered`` rather than serve altered files.
        """
        try:
            files = self._archive.load_version(version)
        except ValueError:  # stored text that no longer decodes: altered too
            raise PolicyVersionAltered(version) from None
        if content_version({n: t.encode("utf-8") for n, t in files.items()}) != version:
            raise PolicyVersionAltered(version)
        return files

    def explain(
        self,
        supplier_id: str,
        version: str = "",
        at: datetime | None = None,
        stage: Stage = Stage.QUALIFICATION,
    ) -> SupplierExplanation:
        """Evaluate ``version`` (the active one if empty) on the supplier's history up to
        ``at`` (its last event if None). Raises ``SupplierNotFound`` and
        ``PolicyVersionNotFound``.
        """
        if self._store is None:
            raise RuntimeError("explaining needs the event store")
        policy = self._active.get(version) if version else self._active()
        recorded = self._store.read_stream(supplier_id)
        if not recorded:
            raise SupplierNotFound(supplier_id)
        events = (event_from_payload(r.event_type, r.payload) for r in recorded)
        replayed = replay_events(events, at)
        if replayed.judged is None or replayed.at is None:
            registered = recorded[0].occurred_at.isoformat()
            message = f"is before the supplier was registered ({registered})"
            raise InvalidCommand([FieldViolation("time", message)])
        evaluation = evaluate_at(policy, replayed.judged, replayed.at, stage)
        decisions = (*evaluation.fired, *evaluation.not_fired)
        return SupplierExplanation(policy.version, replayed.at, decisions)


def checked_pack(files: Mapping[str, str]) -> tuple[PolicyPack, tuple[Finding, ...]]:
    """The pack in ``files`` and its warnings; raises ``PackInvalid`` when it does not load."""
    pack = load_pack_files(files)
    return pack, tuple(pack_warnings(pack))
