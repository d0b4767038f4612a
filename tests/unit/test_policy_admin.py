"""Policy administration: packs as data, atomic activation, the archive at start, API errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import grpc
import pytest
from google.rpc import error_details_pb2

from sqm.domain.commands import RegisterSupplier, SubmitQualificationEvidence
from sqm.domain.errors import InvalidCommand, RequestIdReused
from sqm.domain.policy_archive import PolicyVersionConflict, PolicyVersionNotFound
from sqm.domain.ports import Policy
from sqm.rules import PackInvalid, PolicyPack, load_pack
from sqm.rules.loader import read_pack_files
from sqm.rules.tooling.pack_files import load_pack_files
from sqm.server.api.errors import to_status
from sqm.server.app.pipeline import RequestContext
from sqm.server.app.policies import ActivePolicy, start_policy
from sqm.server.app.policy_admin import PolicyAdministration
from sqm.server.app.suppliers import SupplierService
from sqm.server.storage.memory import MemoryEventStore
from tests.fakes import FakePolicy
from tests.policy_fixtures import QUALIFICATION, pack_files, raise_threshold, write_pack

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@attrs.define
class FakeCompiled:
    """What the admin compiles a pack into here: the fake policy, carrying the pack's version."""

    pack: PolicyPack
    inner: FakePolicy = attrs.field(factory=FakePolicy)

    @property
    def version(self) -> str:
        """The pack's content hash."""
        return self.pack.version

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def fake_compile(pack: PolicyPack) -> Policy:
    """Compile without the engine: these tests are about versions, not rules."""
    return FakeCompiled(pack)  # type: ignore[return-value]


class Clock:
    """A clock that moves a minute each time it is read."""

    def __init__(self) -> None:
        self.reads = 0

    def __call__(self) -> datetime:
        """The next minute."""
        self.reads += 1
        return T0 + timedelta(minutes=self.reads)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """The qualification pack as data."""
    return read_pack_files(write_pack(tmp_path / "pack"))


@pytest.fixture
def raised(files: dict[str, str]) -> dict[str, str]:
    """The same pack with QUAL-001's threshold raised from 70 to 80."""
    return {**files, "qualification.yaml": raise_threshold(files["qualification.yaml"])}


@pytest.fixture
def store() -> MemoryEventStore:
    """An empty store, which is also the archive."""
    return MemoryEventStore()


@pytest.fixture
def admin(store: MemoryEventStore, files: dict[str, str], tmp_path: Path) -> PolicyAdministration:
    """Administration over an archive where the qualification pack was activated at start."""
    active = start_policy(store, tmp_path / "pack", T0, fake_compile)
    return PolicyAdministration(active, store, Clock(), fake_compile)


def test_a_pack_read_from_a_folder_loads_to_the_same_version(tmp_path: Path) -> None:
    """read_pack_files keeps bytes exactly: the data hashes to the folder's version."""
    folder = write_pack(tmp_path / "pack")
    (folder / "tests").mkdir()
    (folder / "tests" / "t.yaml").write_text("cases: []\n", encoding="utf-8")
    (folder / "qualification.yaml").write_bytes(
        (folder / "qualification.yaml").read_bytes().replace(b"\n", b"\r\n")
    )

    files = read_pack_files(folder)

    assert sorted(files) == ["manifest.yaml", "qualification.yaml"]
    assert load_pack_files(files).version == load_pack(folder).version


@pytest.mark.parametrize("path", ["../evil.yaml", "/etc/passwd", "a//b.yaml", "a\\b.yaml", ""])
def test_a_file_path_outside_the_pack_is_refused_by_name(files: dict[str, str], path: str) -> None:
    """Paths from a request never leave the temporary folder: each bad one is named."""
    with pytest.raises(InvalidCommand) as refused:
        load_pack_files({**files, path: "x"})

    assert [v.field for v in refused.value.violations] == [f'files["{path}"]']


def test_errors_of_a_pack_given_as_data_do_not_mention_a_temporary_folder(
    files: dict[str, str],
) -> None:
    """A missing rule file is reported against the manifest, without /tmp paths."""
    with pytest.raises(PackInvalid) as invalid:
        load_pack_files({"manifest.yaml": files["manifest.yaml"]})

    (error,) = invalid.value.errors
    assert error.file == "manifest.yaml"
    assert "sqm-pack-" not in error.message
    assert "does not exist in the pack" in error.message


def test_activation_archives_records_and_swaps(
    admin: PolicyAdministration, store: MemoryEventStore, raised: dict[str, str]
) -> None:
    """The new version is archived, recorded as activated by its actor, and decides next."""
    before = store.active_version()

    result = admin.activate(raised, "王芳", "req-1")

    new = result.version.archived.version
    assert new != before
    assert result.previous_version == before
    assert result.version.active
    assert store.active_version() == new
    assert [a.actor for a in store.activations()] == ["sqm serve", "王芳"]
    assert store.load_version(new) == raised


def test_an_invalid_pack_is_refused_with_every_error_and_nothing_changes(
    admin: PolicyAdministration, store: MemoryEventStore, files: dict[str, str]
) -> None:
    """Two faults, both reported at file:line:column; the active version stays."""
    broken = files["qualification.yaml"].replace("weighted_score, op", "weighted_scor, op")
    before = store.active_version()

    with pytest.raises(PackInvalid) as invalid:
        admin.activate({**files, "qualification.yaml": broken}, "ops", "req-2")

    assert len(invalid.value.errors) == 2
    assert all(e.file == "qualification.yaml" and e.line > 0 for e in invalid.value.errors)
    assert store.active_version() == before
    assert len(store.list_versions()) == 1


def test_a_retried_activation_changes_nothing_the_second_time(
    admin: PolicyAdministration,
    store: MemoryEventStore,
    files: dict[str, str],
    raised: dict[str, str],
) -> None:
    """The same request id returns the first activation, even after another one."""
    first = admin.activate(raised, "ops", "req-1")
    admin.activate(files, "ops", "req-2")

    again = admin.activate(raised, "ops", "req-1")

    assert again.activation.replayed
    assert again.activation.sequence == first.activation.sequence
    assert again.previous_version == first.previous_version
    assert store.active_version() == load_pack_files(files).version
    assert len(store.activations()) == 3


def test_a_request_id_reused_for_another_pack_is_refused(
    admin: PolicyAdministration, files: dict[str, str], raised: dict[str, str]
) -> None:
    """One request id, one activation."""
    admin.activate(raised, "ops", "req-1")

    with pytest.raises(RequestIdReused):
        admin.activate(files, "ops", "req-1")


def test_validation_reports_warnings_without_activating(
    admin: PolicyAdministration, store: MemoryEventStore, files: dict[str, str]
) -> None:
    """A pack with an unreachable rule is valid, with a warning; nothing is archived."""
    text = files["qualification.yaml"].replace(
        '        - {fact: weighted_score, op: "<", value: 40}\n',
        '        - {fact: weighted_score, op: "<", value: 40}\n'
        '        - {fact: weighted_score, op: ">", value: 100}\n',
    )

    result = admin.validate({**files, "qualification.yaml": text})

    assert result.valid
    assert [f.message.split(":")[0] for f in result.findings] == ["rule QUAL-003 can never fire"]
    assert len(store.list_versions()) == 1


def test_versions_list_every_archived_version_and_mark_the_active_one(
    admin: PolicyAdministration, raised: dict[str, str]
) -> None:
    """After one activation there are two versions; the new one is active."""
    result = admin.activate(raised, "ops", "req-1")

    views = admin.versions()

    assert [v.active for v in views] == [False, True]
    assert views[1].archived.version == result.version.archived.version


def test_a_restart_restores_the_archived_active_version(
    admin: PolicyAdministration, store: MemoryEventStore, raised: dict[str, str], tmp_path: Path
) -> None:
    """start_policy prefers the archive over the configured pack, and records nothing new."""
    new = admin.activate(raised, "ops", "req-1").version.archived.version

    restarted = start_policy(store, tmp_path / "pack", T0, fake_compile, explicit=True)

    assert restarted.version == new
    assert len(store.activations()) == 2


def test_an_altered_archive_is_not_trusted_at_start(tmp_path: Path) -> None:
    """Archived files that no longer hash to their version: the configured pack is used."""
    store = MemoryEventStore()
    pack = write_pack(tmp_path / "pack")
    real = load_pack(pack).version
    fake_version = "f" * 64
    store.save_version(fake_version, "telecom-default", read_pack_files(pack), T0)
    store.record_activation(fake_version, "someone", "r1", T0)

    active = start_policy(store, pack, T0, fake_compile)

    assert active.version == real
    assert store.active_version() == real


def test_an_old_version_is_loaded_from_the_archive_on_demand(
    admin: PolicyAdministration, store: MemoryEventStore, raised: dict[str, str], tmp_path: Path
) -> None:
    """ActivePolicy.get finds versions it never loaded, by hash; unknown ones are not found."""
    old = store.active_version()
    assert old is not None
    admin.activate(raised, "ops", "req-1")
    fresh = ActivePolicy(FakePolicy(), store, fake_compile)

    assert fresh.get(old).version == old
    with pytest.raises(PolicyVersionNotFound):
        fresh.get("0" * 64)


def test_a_tampered_version_is_refused_when_loaded_by_hash(tmp_path: Path) -> None:
    """The version is recomputed from the archived files: a mismatch is a conflict."""
    store = MemoryEventStore()
    files = read_pack_files(write_pack(tmp_path / "pack"))
    store.save_version("e" * 64, "p", files, T0)

    with pytest.raises(PolicyVersionConflict):
        ActivePolicy(FakePolicy(), store, fake_compile).get("e" * 64)


def test_an_invalid_pack_maps_to_invalid_argument_naming_each_file(
    files: dict[str, str],
) -> None:
    """POLICY_INVALID, with one BadRequest violation per problem: files["..."] and line:col."""
    broken = files["qualification.yaml"].replace("weighted_score, op", "weighted_scor, op")
    with pytest.raises(PackInvalid) as invalid:
        load_pack_files({**files, "qualification.yaml": broken})

    code, status = to_status(invalid.value)

    info, bad_request = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    assert status.details[0].Unpack(info)
    assert status.details[1].Unpack(bad_request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert info.reason == "POLICY_INVALID"
    fields = [v.field for v in bad_request.field_violations]
    assert fields == ['files["qualification.yaml"]'] * 2
    assert bad_request.field_violations[0].description.split(":")[:2] == ["43", "18"]


def test_any_archived_version_explains_a_suppliers_history_again(tmp_path: Path) -> None:
    """Under the old threshold a score of 75 qualifies; under the new one it does not."""
    store = MemoryEventStore()
    active = start_policy(store, write_pack(tmp_path / "pack"), T0)
    admin = PolicyAdministration(active, store, Clock(), store=store)
    service = SupplierService(store, active)
    at = T0 + timedelta(hours=1)
    service.execute(
        RegisterSupplier("acme", "ACME", "field_services", at),
        RequestContext("r1", "test"),
    )
    scores = dict.fromkeys(["capability", "price", "delivery_lead_time"], 75.0)
    scores |= {"quality_management": 75.0, "past_performance": 75.0}
    service.execute(SubmitQualificationEvidence("acme", at, scores), RequestContext("r2", "test"))
    old = active.version
    new = admin.activate(pack_files(raise_threshold(QUALIFICATION)), "ops", "r3")

    then = admin.explain("acme", old)
    now = admin.explain("acme")

    assert (then.policy_version, now.policy_version) == (old, new.version.archived.version)
    assert then.at == at
    assert [d.rule_id for d in then.decisions if d.fired] == []  # certificates missing
    weighted = [c for d in then.decisions for c in d.conditions if c.fact == "weighted_score"]
    assert (weighted[0].threshold, weighted[0].actual, weighted[0].held) == (70, 75.0, True)
    weighted_now = [c for d in now.decisions for c in d.conditions if c.fact == "weighted_score"]
    assert (weighted_now[0].threshold, weighted_now[0].held) == (80, False)
    with pytest.raises(InvalidCommand):
        admin.explain("acme", at=T0)


def test_an_instance_sharing_the_archive_adopts_an_activation_made_elsewhere(
    admin: PolicyAdministration, store: MemoryEventStore, raised: dict[str, str], tmp_path: Path
) -> None:
    """Another instance on the same archive decides under the new version soon after."""
    other = start_policy(store, tmp_path / "pack", T0, fake_compile)
    other.follow_archive(0.0)
    before = other().version

    activated = admin.activate(raised, "ops", "req-1").activation.version

    assert before != activated
    assert other().version == activated
    assert other.version == activated


def test_a_shared_activation_that_does_not_load_here_keeps_the_current_policy(
    store: MemoryEventStore, files: dict[str, str], tmp_path: Path
) -> None:
    """A version this instance cannot load is logged once; decisions go on under the old one."""
    active = start_policy(store, tmp_path / "pack", T0, fake_compile)
    active.follow_archive(0.0)
    current = active().version
    store.save_version("e" * 64, "p", files, T0)  # files that do not hash to "eee..."
    store.record_activation("e" * 64, "ops", "req-x", T0)

    assert active().version == current
    assert active().version == current
