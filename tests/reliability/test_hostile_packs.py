"""Hostile rule files: mutated and generated packs never crash lint, test or activation.

Every pack drawn by :mod:`tests.reliability.pack_mutations` is either valid (lint finds no
error, it loads, compiles, activates, and its tests run) or refused with every error located
at a file of the pack and a line in it. In-process for speed (lint, the loader, the policy
test runner and policy administration are what ``sqm policy lint``/``test`` and
``ActivatePolicy`` call), plus a handful through the command line and through the
PolicyService of a real server.
"""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from hypothesis import HealthCheck, given, settings

from sqm.rules import default_pack_dir, load_pack
from sqm.rules.loader import read_pack_files
from sqm.rules.policy import CompiledPolicy
from sqm.rules.tooling.lint import Finding, lint_pack
from sqm.server.app.policies import ActivePolicy
from sqm.server.app.policy_admin import PolicyAdministration
from sqm.server.app.policy_tests import run_pack_tests
from sqm.server.cli.main import main
from sqm.server.storage.memory import MemoryEventStore
from sqm.v1 import policy_service_pb2 as api
from sqm.v1 import policy_service_pb2_grpc as api_grpc
from tests.e2e.server_process import ServerProcess
from tests.reliability import budget
from tests.reliability.pack_mutations import MutatedPack, Pack, case_files, mutated_packs, write

PACKS = budget.scaled(150)
TEST_FILE_PACKS = budget.scaled(15)
CLI_PACKS = budget.scaled(5)
GRPC_PACKS = budget.scaled(15)
RUN_TESTS_EVERY = 8  # the pack's own tests take ~0.3 s: run them for every 8th valid pack
MOMENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LOCATED = re.compile(r"^\d+:\d+: ")  # a violation's description: "line:column: message"
HOSTILE = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

pytestmark = pytest.mark.timeout(budget.timeout())


@contextlib.contextmanager
def written(pack: Pack) -> Iterator[Path]:
    """``pack`` in a temporary folder (Hypothesis examples cannot share pytest's tmp_path)."""
    with tempfile.TemporaryDirectory(prefix="sqm-hostile-pack-") as folder:
        yield write(pack, Path(folder))


def unlocated(errors: tuple[Finding, ...], pack: Pack) -> list[str]:
    """Errors that do not name a file of the pack and a line in it."""
    return [e.format() for e in errors if e.file not in pack or e.line < 1 or e.column < 1]


@pytest.fixture(scope="module")
def admin() -> PolicyAdministration:
    """Policy administration as a server has it, over an in-memory archive."""
    archive = MemoryEventStore()
    default = CompiledPolicy(load_pack(default_pack_dir()))
    return PolicyAdministration(ActivePolicy(default, archive), archive, lambda: MOMENT)


class Tally:
    """How the drawn packs fared, for the figures."""

    valid = 0


def _valid(root: Path, admin: PolicyAdministration, version: str) -> None:
    """A valid pack activates as that version, and (now and then) its tests run."""
    result = admin.activate(read_pack_files(root), "hostile-packs", str(uuid.uuid4()))
    assert result.version.archived.version == version
    Tally.valid += 1
    budget.add("mutated packs valid and activated")
    if Tally.valid % RUN_TESTS_EVERY == 1:
        run_pack_tests(root)  # failing cases are fine; an exception is not
        budget.add("mutated packs whose tests ran")


def test_mutated_packs_are_valid_or_refused_with_located_errors(
    admin: PolicyAdministration,
) -> None:
    """Lint and the loader agree; refusals are located; valid packs activate and test."""

    @settings(HOSTILE, max_examples=PACKS)
    @given(mutated=mutated_packs())
    def check(mutated: MutatedPack) -> None:
        budget.add("packs mutated")
        pack = mutated.files
        with written(pack) as root:
            report = lint_pack(root)  # the loader, then the warnings of a pack that loads
            if report.version is None:
                assert report.errors, "refused without a reason"
                assert unlocated(report.errors, pack) == []
                budget.add("mutated packs refused with located errors")
                return
            assert not report.errors
            _valid(root, admin, report.version)

    check()


def test_mutated_test_files_never_crash_the_test_runner() -> None:
    """``sqm policy test`` on a valid pack with mangled test files reports, never raises."""

    @settings(HOSTILE, max_examples=TEST_FILE_PACKS)
    @given(mutated=mutated_packs(files=case_files))
    def check(mutated: MutatedPack) -> None:
        budget.add("test files mutated")
        with written(mutated.files) as root:
            run = run_pack_tests(root)
        assert all(p.line >= 0 for p in run.problems)

    check()


def _cli(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue() + err.getvalue()


def test_the_command_line_reports_on_mutated_packs_with_file_and_line() -> None:
    """``sqm policy lint`` and ``sqm policy test`` exit 0 or 1 with located errors."""

    @settings(HOSTILE, max_examples=CLI_PACKS)
    @given(mutated=mutated_packs())
    def check(mutated: MutatedPack) -> None:
        with written(mutated.files) as root:
            for command in ("lint", "test"):
                code, output = _cli("policy", command, str(root))
                budget.add("mutated packs through the command line")
                assert code in (0, 1), output
                if "does not load" in output:
                    assert re.search(rf"{re.escape(str(root))}/[\w/.-]+:\d+:\d+: error", output)

    check()


@pytest.fixture(scope="module")
def policy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real server for the PolicyService tests."""
    server = ServerProcess(tmp_path_factory.mktemp("packs") / "sqm.sqlite3", "--tick-seconds", "0")
    server.start()
    try:
        yield server
    finally:
        server.kill()


def _text_files(pack: Pack) -> dict[str, str] | None:
    """The pack as the API carries it (text); None when a file is not UTF-8."""
    try:
        return {name: data.decode("utf-8") for name, data in pack.items()}
    except UnicodeDecodeError:
        return None


def _activate(
    stub: api_grpc.PolicyServiceStub, files: dict[str, str], request_id: str
) -> tuple[api.ActivatePolicyResponse | None, grpc.RpcError | None]:
    request = api.ActivatePolicyRequest(files=files, request_id=request_id)
    try:
        return stub.ActivatePolicy(request, timeout=60), None
    except grpc.RpcError as error:
        return None, error


def _check_refusal(error: grpc.RpcError) -> None:
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, error.details()
    status = rpc_status.from_call(error)
    assert status is not None
    violations = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            request = error_details_pb2.BadRequest()
            detail.Unpack(request)
            violations.extend(request.field_violations)
    assert violations
    for violation in violations:
        assert violation.field.startswith('files["'), violation
        assert LOCATED.match(violation.description), violation


def test_the_policy_service_validates_and_activates_mutated_packs_or_refuses_them_located(
    policy_server: ServerProcess,
) -> None:
    """ValidatePolicy and ActivatePolicy agree, and never answer with a server error."""
    with grpc.insecure_channel(policy_server.address) as channel:
        stub = api_grpc.PolicyServiceStub(channel)

        @settings(HOSTILE, max_examples=GRPC_PACKS)
        @given(mutated=mutated_packs())
        def check(mutated: MutatedPack) -> None:
            files = _text_files(mutated.files)
            if files is None:
                return
            budget.add("mutated packs through the PolicyService")
            validation = stub.ValidatePolicy(api.ValidatePolicyRequest(files=files), timeout=60)
            activation, error = _activate(stub, files, str(uuid.uuid4()))
            if error is not None:
                assert not validation.valid, error.details()
                _check_refusal(error)
                return
            assert validation.valid
            assert activation is not None
            assert activation.policy_version.version == validation.version

        check()
    assert policy_server.health() == 1
