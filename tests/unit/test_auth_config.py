"""Token configuration (file and environment) and the method table: clear errors, no secrets."""

# The "hardcoded passwords" below are made-up test tokens.

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sqm.server.security.auth import (
    ACCESS_RULES,
    ANONYMOUS,
    EVERY_ROLE,
    PUBLIC_METHODS,
    REFLECTION_METHODS,
    AccessPolicy,
    Actor,
    Role,
    TokenConfigError,
    current_actor,
    load_tokens,
    tokens_from_file,
    tokens_from_string,
)

SECRET = "s3cret-token-0123456789"
OTHER = "other-token-abcdefghij"


def write(tmp_path: Path, text: str) -> Path:
    """A token file with ``text``, readable only by its owner."""
    path = tmp_path / "tokens.yaml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def error_from_string(text: str) -> str:
    """The message of the error ``SQM_TOKENS=text`` raises."""
    with pytest.raises(TokenConfigError) as raised:
        tokens_from_string(text)
    return str(raised.value)


def error_from_file(tmp_path: Path, text: str) -> str:
    """The message of the error a token file with ``text`` raises."""
    with pytest.raises(TokenConfigError) as raised:
        tokens_from_file(write(tmp_path, text))
    return str(raised.value)


# --- the environment variable -----------------------------------------------------------


def test_environment_entries_map_tokens_to_named_actors_with_roles() -> None:
    """Each name:role:token entry authenticates its token as that actor."""
    table = tokens_from_string(f"procurement:integration:{SECRET}, alice:auditor:{OTHER}")
    assert table.authenticate(SECRET) == Actor("procurement", Role.INTEGRATION)
    assert table.authenticate(OTHER) == Actor("alice", Role.AUDITOR)
    assert len(table) == 2


def test_an_unknown_token_authenticates_nobody() -> None:
    """A token not in the table gives no actor, even one differing by a character."""
    table = tokens_from_string(f"procurement:integration:{SECRET}")
    assert table.authenticate(SECRET[:-1] + "X") is None
    assert table.authenticate("") is None


def test_blank_entries_from_stray_commas_are_skipped() -> None:
    """A trailing comma is not an entry; positions still count as written."""
    table = tokens_from_string(f"a:auditor:{SECRET},,")
    assert len(table) == 1
    assert "entry 3" in error_from_string(f"a:auditor:{SECRET},,broken")


def test_a_token_may_contain_colons() -> None:
    """Only the first two colons separate fields; the rest belong to the token."""
    token = "abc:def:ghi:0123456789"
    assert tokens_from_string(f"bot:read_only:{token}").authenticate(token) == Actor(
        "bot", Role.READ_ONLY
    )


def test_the_table_keeps_only_digests_of_tokens() -> None:
    """Neither the table nor its repr holds the token itself."""
    table = tokens_from_string(f"procurement:integration:{SECRET}")
    assert SECRET not in repr(table)
    assert table.entries[0].digest == hashlib.sha256(SECRET.encode()).digest()


def test_an_entry_with_too_few_fields_is_named_by_position() -> None:
    """The error says which entry and that name:role:token was expected."""
    message = error_from_string(f"a:integration:{SECRET},broken-entry")
    assert (
        message == "SQM_TOKENS entry 2: expected name:role:token, found 1 field(s) separated by ':'"
    )


def test_an_unknown_role_is_named_with_the_roles_that_exist() -> None:
    """The error names the entry, its actor and every valid role, and never the token."""
    message = error_from_string(f"alice:admin:{SECRET}")
    assert message == (
        "SQM_TOKENS entry 1 ('alice'): role 'admin' is not one of"
        " auditor, integration, policy_admin, read_only, supplier"
    )


@pytest.mark.parametrize("token", ["short", "has space in the token", "tab\there-0123456789"])
def test_weak_or_unsendable_tokens_are_refused_without_echoing_them(token: str) -> None:
    """Tokens must be 16+ printable ASCII characters; the message does not repeat them."""
    message = error_from_string(f"bot:read_only:{token}")
    assert "at least 16 printable ASCII characters without spaces" in message
    assert token not in message


@pytest.mark.parametrize("name", ["", "has space", "-leading-dash", "x" * 65])
def test_bad_actor_names_are_refused(name: str) -> None:
    """A name is 1-64 letters, digits or . _ @ -, as it is recorded with every event."""
    assert "name must be 1-64 letters" in error_from_string(f"{name}:read_only:{SECRET}")


def test_the_same_token_twice_is_refused_naming_both_entries() -> None:
    """Two actors sharing a token could not be told apart."""
    message = error_from_string(f"a:integration:{SECRET},b:auditor:{SECRET}")
    assert message == "SQM_TOKENS entry 2 ('b'): the same token as SQM_TOKENS entry 1 ('a')"
    assert SECRET not in message


# --- the file ---------------------------------------------------------------------------


def test_a_token_file_maps_tokens_and_digests_to_actors(tmp_path: Path) -> None:
    """Entries give either the token or its SHA-256, so the file need hold no secret."""
    digest = hashlib.sha256(OTHER.encode()).hexdigest()
    table = tokens_from_file(
        write(
            tmp_path,
            f"""\
tokens:
  - name: procurement
    role: integration
    token: "{SECRET}"
  - name: policy-team
    role: policy_admin
    sha256: {digest}
""",
        )
    )
    assert table.authenticate(SECRET) == Actor("procurement", Role.INTEGRATION)
    assert table.authenticate(OTHER) == Actor("policy-team", Role.POLICY_ADMIN)
    assert table.source.endswith("tokens.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- just a list\n", ":1: expected a mapping with one key, 'tokens', holding a list"),
        ("tokens: {}\n", ":1: expected a mapping with one key, 'tokens', holding a list"),
        ("tokens: []\nextra: 1\n", ":1: expected a mapping with one key, 'tokens'"),
        ("tokens:\n  - a string\n", ":2: entry 1: expected a mapping with name, role"),
        (
            f"tokens:\n  - name: a\n    role: auditor\n    tokne: {SECRET}\n",
            ":4: unknown key 'tokne'; expected name, role, sha256, supplier, token",
        ),
        (
            f"tokens:\n  - name: a\n    token: {SECRET}\n",
            ":2: the entry has no 'role'",
        ),
        (
            f"tokens:\n  - name: a\n    role: root\n    token: {SECRET}\n",
            ":2: role 'root' is not one of auditor, integration, policy_admin, read_only, supplier",
        ),
        (
            "tokens:\n  - name: a\n    role: auditor\n    token: [1, 2]\n",
            ":4: token must be a string",
        ),
        ("tokens:\n  - name: a\n    role: auditor\n    token:\n", ":4: token must not be empty"),
        (
            "tokens:\n  - name: a\n    role: auditor\n",
            ":2: give exactly one of 'token' and 'sha256'",
        ),
        (
            f"tokens:\n  - name: a\n    role: auditor\n    token: {SECRET}\n"
            f"    sha256: {'a' * 64}\n",
            ":2: give exactly one of 'token' and 'sha256'",
        ),
        (
            "tokens:\n  - name: a\n    role: auditor\n    sha256: ABC\n",
            ":2: sha256 must be 64 lower-case hex digits",
        ),
        ("tokens: []\n", ": no tokens; to turn authentication off, configure none"),
    ],
)
def test_token_file_errors_name_the_line_and_what_was_expected(
    tmp_path: Path, text: str, expected: str
) -> None:
    """Each mistake is reported as file:line: what was wrong or expected."""
    message = error_from_file(tmp_path, text)
    assert message.startswith(str(tmp_path / "tokens.yaml"))
    assert expected in message
    assert SECRET not in message


def test_a_duplicate_token_in_the_file_names_both_lines(tmp_path: Path) -> None:
    """The second entry is reported with the line of the first."""
    text = (
        f"tokens:\n  - {{name: a, role: auditor, token: {SECRET}}}\n"
        f"  - {{name: b, role: read_only, token: {SECRET}}}\n"
    )
    path = tmp_path / "tokens.yaml"
    assert error_from_file(tmp_path, text) == f"{path}:3: the same token as {path}:2"


def test_a_yaml_syntax_error_gives_the_line_but_not_the_line_itself(tmp_path: Path) -> None:
    """PyYAML quotes the offending line by default; that line may hold a token."""
    text = f'tokens:\n  - name: a\n    token: "{SECRET}\n    role: [auditor\n'
    message = error_from_file(tmp_path, text)
    assert "not valid YAML" in message
    assert message.startswith(f"{tmp_path / 'tokens.yaml'}:")
    assert SECRET not in message


def test_a_missing_token_file_is_named(tmp_path: Path) -> None:
    """The path and the reason are in the error."""
    with pytest.raises(TokenConfigError, match=r"nope\.yaml: cannot read the token file"):
        tokens_from_file(tmp_path / "nope.yaml")


def test_a_token_file_others_can_read_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Loading still works, with a warning to chmod 600 the file."""
    path = write(tmp_path, f"tokens:\n  - {{name: a, role: auditor, token: {SECRET}}}\n")
    path.chmod(0o644)
    tokens_from_file(path)
    assert "open to group or others" in caplog.text


# --- where tokens come from -------------------------------------------------------------


def test_no_configured_tokens_means_authentication_is_off() -> None:
    """Without a file or SQM_TOKENS there is no table."""
    assert load_tokens(None, {}) is None
    assert load_tokens(None, {"SQM_TOKENS": "  "}) is None


def test_tokens_come_from_the_flag_file_the_file_variable_or_the_inline_variable(
    tmp_path: Path,
) -> None:
    """--tokens-file, SQM_TOKENS_FILE and SQM_TOKENS each configure the table."""
    path = write(tmp_path, f"tokens:\n  - {{name: a, role: auditor, token: {SECRET}}}\n")
    for table in (
        load_tokens(path, {}),
        load_tokens(None, {"SQM_TOKENS_FILE": str(path)}),
        load_tokens(None, {"SQM_TOKENS": f"a:auditor:{SECRET}"}),
    ):
        assert table is not None
        assert table.authenticate(SECRET) == Actor("a", Role.AUDITOR)


def test_a_file_and_inline_tokens_together_are_refused(tmp_path: Path) -> None:
    """Neither source is silently ignored."""
    path = write(tmp_path, f"tokens:\n  - {{name: a, role: auditor, token: {SECRET}}}\n")
    with pytest.raises(TokenConfigError, match="tokens are configured twice"):
        load_tokens(path, {"SQM_TOKENS": f"b:auditor:{OTHER}"})


# --- the method table -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "roles"),
    [
        ("/sqm.v1.SupplierService/GetSupplier", EVERY_ROLE | {Role.SUPPLIER}),
        ("/sqm.v1.SupplierService/ListSupplierEvents", EVERY_ROLE | {Role.SUPPLIER}),
        ("/sqm.v1.SupplierService/ListNeeds", EVERY_ROLE),
        ("/sqm.v1.SupplierService/SubmitSelfCheck", {Role.INTEGRATION, Role.SUPPLIER}),
        ("/sqm.v1.SupplierService/RegisterSupplier", {Role.INTEGRATION}),
        ("/sqm.v1.SupplierService/SubmitQualificationEvidence", {Role.INTEGRATION}),
        ("/sqm.v1.PolicyService/ListPolicyVersions", EVERY_ROLE),
        ("/sqm.v1.PolicyService/ValidatePolicyPack", {Role.POLICY_ADMIN, Role.AUDITOR}),
        ("/sqm.v1.PolicyService/ActivatePolicyPack", {Role.POLICY_ADMIN}),
        ("/sqm.v1.AuditService/VerifyChain", {Role.AUDITOR}),
        ("/sqm.v1.AdminService/AdvanceTime", {Role.POLICY_ADMIN}),
        ("/sqm.v1.AdminService/DropDatabase", set()),
        ("/sqm.v2.SupplierService/GetSupplier", set()),
        ("/other.Service/Anything", set()),
    ],
)
def test_each_method_needs_the_roles_of_its_most_specific_rule(
    method: str, roles: set[Role]
) -> None:
    """An exact rule wins, then the longest prefix; a method no rule names needs no role held."""
    assert AccessPolicy().roles_for(method) == roles


def test_health_is_public_and_nothing_else_is() -> None:
    """Only health needs no token; reflection needs any role unless configured public."""
    access = AccessPolicy()
    reflection = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
    assert access.is_public("/grpc.health.v1.Health/Check")
    assert not access.is_public(reflection)
    assert access.roles_for(reflection) == set(Role)
    assert AccessPolicy(public=PUBLIC_METHODS + REFLECTION_METHODS).is_public(reflection)
    assert not access.is_public("/sqm.v1.SupplierService/GetSupplier")
    assert not access.is_public("/grpc.health.v1.HealthX/Check")


def test_the_table_is_data_a_deployment_can_extend() -> None:
    """A new method is one more entry; the defaults stay as they were."""
    access = AccessPolicy(
        rules={**ACCESS_RULES, "sqm.v1.AdminService/Drain": frozenset({Role.POLICY_ADMIN})}
    )
    assert access.roles_for("/sqm.v1.AdminService/Drain") == {Role.POLICY_ADMIN}
    assert access.roles_for("/sqm.v1.AdminService/DropDatabase") == frozenset()


def test_outside_a_call_the_actor_is_anonymous() -> None:
    """current_actor() has a safe default when no interceptor set it."""
    assert current_actor() == ANONYMOUS
    assert ANONYMOUS.role is None


def test_a_token_of_digits_in_the_file_is_taken_as_written(tmp_path: Path) -> None:
    """YAML would read 0123... as a number; the token is the text, leading zero and all."""
    token = "01234567890123456789"
    path = write(tmp_path, f"tokens:\n  - {{name: a, role: auditor, token: {token}}}\n")
    assert tokens_from_file(path).authenticate(token) == Actor("a", Role.AUDITOR)


# --- supplier tokens ----------------------------------------------------------------------


def test_a_supplier_token_is_bound_to_its_supplier_inline_and_in_a_file(tmp_path: Path) -> None:
    """``supplier/acme`` as the role inline, or role supplier with a supplier key in a file."""
    inline = tokens_from_string(f"acme-portal:supplier/acme:{SECRET}")
    path = write(
        tmp_path,
        f"tokens:\n  - {{name: acme-portal, role: supplier, supplier: acme, token: {SECRET}}}\n",
    )
    for table in (inline, tokens_from_file(path)):
        assert table.authenticate(SECRET) == Actor("acme-portal", Role.SUPPLIER, "acme")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"portal:supplier:{SECRET}",
            "SQM_TOKENS entry 1 ('portal'): role 'supplier' needs the supplier the token is"
            " bound to: supplier/<supplier id> (in a token file, a 'supplier' key)",
        ),
        (
            f"portal:supplier/ACME:{SECRET}",
            "SQM_TOKENS entry 1 ('portal'): supplier 'ACME' is not a supplier id: a lower-case"
            " letter, then lower-case letters, digits or hyphens, at most 63",
        ),
        (
            f"portal:auditor/acme:{SECRET}",
            "SQM_TOKENS entry 1 ('portal'): role 'auditor/acme' is not one of auditor,"
            " integration, policy_admin, read_only, supplier",
        ),
    ],
)
def test_a_supplier_binding_that_cannot_be_used_is_named(text: str, expected: str) -> None:
    """A supplier token without a valid supplier id, or a binding on another role, is refused."""
    assert error_from_string(text) == expected


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            f"{{name: a, role: auditor, supplier: acme, token: {SECRET}}}",
            ":2: only a token of role 'supplier' is bound to a supplier, not 'auditor'",
        ),
        (
            f"{{name: a, role: supplier/acme, supplier: acme, token: {SECRET}}}",
            ":2: the supplier is given twice (role 'supplier/acme' and the supplier key)",
        ),
        (f"{{name: a, role: supplier, token: {SECRET}}}", ":2: role 'supplier' needs the supplier"),
    ],
)
def test_supplier_binding_errors_in_a_file_name_the_line(
    tmp_path: Path, entry: str, expected: str
) -> None:
    """Each mistake in a supplier entry is reported as file:line: what was wrong."""
    assert expected in error_from_file(tmp_path, f"tokens:\n  - {entry}\n")
