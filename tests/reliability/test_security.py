"""Security on real servers: tokens for every method, roles, TLS and mutual TLS, no token in
the log, and SQL built only with parameters.

The methods come from the API's descriptors, so a method added later is covered without
anyone remembering to list it. What each role may call is read from ``sqm.server.security.auth``'s
table, and checked against that table's intent (read-only callers only read).
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sqm.client import SqmClient, SqmError
from sqm.rules import default_pack_dir
from sqm.rules.loader import read_pack_files
from sqm.server.cli.main import main
from sqm.server.security.auth import AccessPolicy, Role
from sqm.server.security.tls import channel_credentials
from sqm.v1 import (
    admin_service_pb2,
    audit_service_pb2,
    policy_service_pb2,
    policy_service_pb2_grpc,
    supplier_service_pb2,
)
from tests.certificates import Pki, make_pki
from tests.e2e.server_process import ServerProcess
from tests.reliability import budget
from tests.reliability.calls import empty_request, path, send

TOKENS = {
    Role.INTEGRATION: "integration-reliability-token-7f3a",
    Role.POLICY_ADMIN: "policy-admin-reliability-token-91c2",
    Role.AUDITOR: "auditor-reliability-token-5d0e",
    Role.READ_ONLY: "read-only-reliability-token-c4b8",
}
UNKNOWN_TOKEN = "integration-reliability-token-0000"  # looks right, is not
METHODS = [
    method
    for module in (supplier_service_pb2, policy_service_pb2, admin_service_pb2, audit_service_pb2)
    for service in module.DESCRIPTOR.services_by_name.values()
    for method in service.methods
]
NOT_A_VALID_TOKEN = {
    "no token": (),
    "an unknown token": (("authorization", f"Bearer {UNKNOWN_TOKEN}"),),
    "a token without the Bearer scheme": (("authorization", TOKENS[Role.INTEGRATION]),),
    "another scheme": (("authorization", "Basic aW50ZWdyYXRpb246eA=="),),
    "an empty bearer": (("authorization", "Bearer "),),
    "an actor claimed, no token": (("x-sqm-actor", "integration-system"),),
}
STORAGE = Path(__file__).resolve().parents[2] / "server" / "storage"


def _bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def _tokens_file(folder: Path) -> Path:
    tokens = folder / "tokens.yaml"
    entries = "".join(
        f"  - {{name: {role.value}-system, role: {role.value}, token: {token}}}\n"
        for role, token in TOKENS.items()
    )
    tokens.write_text(f"tokens:\n{entries}", encoding="utf-8")
    tokens.chmod(0o600)
    return tokens


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with tokens for the four roles, logging at DEBUG (the most it ever says)."""
    folder = tmp_path_factory.mktemp("secured")
    server = ServerProcess(
        folder / "sqm.sqlite3", "--tick-seconds", "0", "--log-level", "DEBUG",
        "--tokens-file", str(_tokens_file(folder)),
    )  # fmt: skip
    server.start()
    try:
        yield server
    finally:
        server.kill()


def test_no_method_is_reachable_without_a_valid_token(secured: ServerProcess) -> None:
    """Every method of every service: no token, a wrong one, a bad header are UNAUTHENTICATED."""
    with grpc.insecure_channel(secured.address) as channel:
        for method in METHODS:
            for what, metadata in NOT_A_VALID_TOKEN.items():
                for request in (empty_request(method), b"\xff\xff"):  # auth before parsing
                    error = send(channel, method, request, metadata)
                    budget.add("calls without a valid token refused")
                    assert error is not None, (method.full_name, what)
                    assert error.code() is grpc.StatusCode.UNAUTHENTICATED, (method.full_name, what)


def test_each_role_reaches_exactly_the_methods_the_access_table_grants(
    secured: ServerProcess,
) -> None:
    """PERMISSION_DENIED exactly where the table says; read-only callers only Get and List."""
    access = AccessPolicy()
    with grpc.insecure_channel(secured.address) as channel:
        for method in METHODS:
            allowed = access.roles_for(path(method))
            assert allowed, f"no role may call {method.full_name}"
            for role, token in TOKENS.items():
                error = send(channel, method, empty_request(method), _bearer(token))
                budget.add("role checks on every method")
                code = None if error is None else error.code()
                assert code is not grpc.StatusCode.UNAUTHENTICATED
                denied = code is grpc.StatusCode.PERMISSION_DENIED
                assert denied == (role not in allowed), (method.full_name, role, code)
                if role is Role.READ_ONLY and not denied:
                    assert method.name.startswith(("Get", "List")), method.full_name


def test_no_token_ever_reaches_the_log(secured: ServerProcess) -> None:
    """Allowed, refused and malformed calls at DEBUG: the log names actors, never tokens."""
    with grpc.insecure_channel(secured.address) as channel:
        for token in (*TOKENS.values(), UNKNOWN_TOKEN):
            for method in METHODS[:6]:
                send(channel, method, empty_request(method), _bearer(token))
                send(channel, method, b"\xff", _bearer(token))
        send(channel, METHODS[0], empty_request(METHODS[0]), (("x-sqm-actor", UNKNOWN_TOKEN),))
    client = SqmClient(secured.address, token=UNKNOWN_TOKEN, attempts=1)
    with client, pytest.raises(SqmError) as refused:
        client.get_supplier("anyone")
    assert UNKNOWN_TOKEN not in str(refused.value)
    log = "\n".join(secured.output)
    assert "integration-system" in log  # the access log names who called
    leaked = [token for token in (*TOKENS.values(), UNKNOWN_TOKEN) if token in log]
    assert leaked == []


# --- TLS and mutual TLS ------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Certificates generated for this module."""
    return make_pki(tmp_path_factory.mktemp("pki"))


def _health(address: str, credentials: grpc.ChannelCredentials | None) -> grpc.StatusCode:
    channel = (
        grpc.secure_channel(address, credentials)
        if credentials is not None
        else grpc.insecure_channel(address)
    )
    with channel:
        try:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        except grpc.RpcError as error:
            return error.code()
    return grpc.StatusCode.OK


def test_a_tls_server_serves_clients_trusting_its_ca_only(
    pki: Pki, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Plaintext and clients trusting another CA fail the handshake; tokens still apply."""
    other = make_pki(tmp_path_factory.mktemp("other-pki"))
    server = ServerProcess(
        tmp_path / "sqm.sqlite3", "--tick-seconds", "0", "--tokens-file",
        str(_tokens_file(tmp_path)), "--tls-cert", str(pki.server_cert),
        "--tls-key", str(pki.server_key),
    ).start()  # fmt: skip
    try:
        assert _health(server.address, channel_credentials(pki.ca)) is grpc.StatusCode.OK
        assert _health(server.address, None) is grpc.StatusCode.UNAVAILABLE
        assert _health(server.address, channel_credentials(other.ca)) is (
            grpc.StatusCode.UNAVAILABLE
        )
        tls = channel_credentials(pki.ca)
        anonymous = SqmClient(server.address, credentials=tls, attempts=1)
        with anonymous, pytest.raises(SqmError) as refused:
            anonymous.get_supplier("anyone")
        assert refused.value.code is grpc.StatusCode.UNAUTHENTICATED
    finally:
        server.kill()


def test_a_mutual_tls_server_needs_a_client_certificate_from_its_ca(
    pki: Pki, tmp_path: Path
) -> None:
    """No client certificate, or one from another CA: no connection; the right one: served."""
    server = ServerProcess(
        tmp_path / "sqm.sqlite3", "--tick-seconds", "0", "--tokens-file",
        str(_tokens_file(tmp_path)), "--tls-cert", str(pki.server_cert),
        "--tls-key", str(pki.server_key), "--tls-client-ca", str(pki.ca),
    ).start()  # fmt: skip
    try:
        without = channel_credentials(pki.ca)
        impostor = channel_credentials(pki.ca, pki.rogue_cert, pki.rogue_key)
        client_tls = channel_credentials(pki.ca, pki.client_cert, pki.client_key)
        assert _health(server.address, without) is grpc.StatusCode.UNAVAILABLE
        assert _health(server.address, impostor) is grpc.StatusCode.UNAVAILABLE
        assert _health(server.address, client_tls) is grpc.StatusCode.OK
        token = TOKENS[Role.INTEGRATION]
        with SqmClient(server.address, credentials=client_tls, token=token) as client:
            client.register_supplier("tls-co", "TLS Co", "software")
        code, output = _cli(
            "supplier", "list", "--server", server.address, "--token", token,
            "--tls-ca", str(pki.ca), "--tls-cert", str(pki.client_cert),
            "--tls-key", str(pki.client_key),
        )  # fmt: skip
        assert code == 0, output
        assert "tls-co" in output
    finally:
        server.kill()


def _cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(list(args))
    return code, out.getvalue()


# --- SQL only with parameters ------------------------------------------------------------

SQL_WORDS = re.compile(
    r"\b(SELECT|INSERT|UPDATE|DELETE|WHERE|VALUES|PRAGMA|CREATE|DROP|ALTER|BEGIN|SAVEPOINT)\b"
)
CONSTANT = re.compile(r"_?[A-Z][A-Z0-9_]*")  # module constants: _EVENT_COLUMNS, SCHEMA_VERSION
# Calls whose result may enter SQL text: a whole number, and table or column names checked
# against the plain-identifier pattern (sqm.server.storage.records), which cannot be parameters.
CHECKED_NAMES = frozenset({"int", "identifier", "identifiers", "placeholders"})


class SqlFormatting(ast.NodeVisitor):
    """Finds SQL text built by formatting with anything but constants.

    Allowed inside SQL: module constants (column lists), names bound by a loop over a
    literal tuple of strings (the tables a migration creates triggers for), ``int(...)``
    (a number cannot carry SQL) and ``.lower()``/``.upper()``/``.format()`` of those.
    Everything else, values above all, must travel as ``?`` parameters.
    """

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.literal_loop_names: set[str] = set()
        self.findings: list[str] = []

    def note_literal_loops(self, tree: ast.AST) -> None:
        """Names looping over literal strings (in ``for`` or a comprehension) are constants.

        Collected before the check: a generator expression's element comes before its loop.
        """
        for node in ast.walk(tree):
            if isinstance(node, ast.For | ast.comprehension):
                source, target = node.iter, node.target
                literal = isinstance(source, ast.Tuple | ast.List) and all(
                    isinstance(e, ast.Constant) and isinstance(e.value, str) for e in source.elts
                )
                if literal and isinstance(target, ast.Name):
                    self.literal_loop_names.add(target.id)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        """An f-string with SQL in it may only interpolate constants."""
        text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        if SQL_WORDS.search(text):
            for part in node.values:
                if isinstance(part, ast.FormattedValue) and not self._safe(part.value):
                    self._flag(node, f"f-string interpolates {ast.unparse(part.value)}")
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        """``"... %s" % value`` and ``"WHERE x = " + value``."""
        sql_side = [s for s in (node.left, node.right) if _sql_constant(s)]
        if sql_side and isinstance(node.op, ast.Mod) and not self._safe(node.right):
            self._flag(node, f"%-formats {ast.unparse(node.right)}")
        if sql_side and isinstance(node.op, ast.Add):
            other = node.right if sql_side[0] is node.left else node.left
            if not self._safe(other):
                self._flag(node, f"concatenates {ast.unparse(other)}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        """``"... {}".format(value)`` on SQL text."""
        function = node.func
        if (
            isinstance(function, ast.Attribute)
            and function.attr == "format"
            and _sql_constant(function.value)
            and not all(self._safe(a) for a in [*node.args, *(k.value for k in node.keywords)])
        ):
            self._flag(node, "str.format() with a value")
        self.generic_visit(node)

    def _safe(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.Name):
            return bool(CONSTANT.fullmatch(node.id)) or node.id in self.literal_loop_names
        if isinstance(node, ast.JoinedStr):
            return all(
                self._safe(v.value) for v in node.values if isinstance(v, ast.FormattedValue)
            )
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in CHECKED_NAMES:
                return True
            method = node.func
            return (
                isinstance(method, ast.Attribute)
                and method.attr in {"lower", "upper", "format"}
                and self._safe(method.value)
                and all(self._safe(a) for a in [*node.args, *(k.value for k in node.keywords)])
            )
        return False

    def _flag(self, node: ast.AST, what: str) -> None:
        self.findings.append(f"{self.filename}:{getattr(node, 'lineno', 0)}: SQL {what}")


def _sql_constant(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and bool(SQL_WORDS.search(node.value))
    )


def sql_formatting(source: str, filename: str) -> list[str]:
    """Where ``source`` builds SQL by formatting values into it."""
    tree = ast.parse(source, filename)
    checker = SqlFormatting(filename)
    checker.note_literal_loops(tree)
    checker.visit(tree)
    return checker.findings


def test_sql_in_the_stores_is_built_only_with_parameters() -> None:
    """Every store module: no value is formatted into SQL text."""
    modules = sorted(STORAGE.glob("*.py"))
    assert modules
    findings = [f for m in modules for f in sql_formatting(m.read_text(), m.name)]
    budget.add("store modules scanned for SQL built from values", len(modules))
    assert findings == []


@pytest.mark.parametrize(
    "snippet",
    [
        "conn.execute(f\"SELECT * FROM events WHERE stream_id = '{stream_id}'\")",
        "conn.execute(\"SELECT * FROM events WHERE stream_id = '%s'\" % stream_id)",
        'conn.execute("DELETE FROM events WHERE stream_id = {}".format(stream_id))',
        'conn.execute("SELECT * FROM events WHERE stream_id = " + stream_id)',
        'conn.execute(f"SELECT {columns} FROM events")',
    ],
)
def test_the_sql_scan_finds_values_formatted_into_sql(snippet: str) -> None:
    """The scan is not blind: each way of formatting a value into SQL is found."""
    assert sql_formatting(snippet, "example.py") != []


def test_the_sql_scan_accepts_constants_and_parameters() -> None:
    """Constant column lists, literal loops and ``?`` parameters pass."""
    source = (
        '_COLUMNS = "a, b"\n'
        'conn.execute(f"SELECT {_COLUMNS} FROM events WHERE id = ?", (value,))\n'
        'for table in ("events", "requests"):\n'
        '    conn.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}")\n'
        'conn.execute(f"PRAGMA busy_timeout = {int(timeout)}")\n'
    )
    assert sql_formatting(source, "example.py") == []


def test_a_policy_activation_records_the_token_holder_not_a_claimed_name(
    secured: ServerProcess,
) -> None:
    """With auth on, the x-sqm-actor header is not believed: the token names the actor."""
    files = read_pack_files(default_pack_dir())
    request = policy_service_pb2.ActivatePolicyRequest(files=files, request_id="who-activates")
    metadata = (*_bearer(TOKENS[Role.POLICY_ADMIN]), ("x-sqm-actor", "someone-else"))
    with grpc.insecure_channel(secured.address) as channel:
        stub = policy_service_pb2_grpc.PolicyServiceStub(channel)
        response = stub.ActivatePolicy(request, metadata=metadata, timeout=60)
    assert response.actor == "policy_admin-system"
