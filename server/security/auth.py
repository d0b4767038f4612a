"""Who may call what: bearer tokens mapped to roles, a method table, and the interceptor.

Tokens come from a YAML file or the ``SQM_TOKENS`` environment variable; only their SHA-256
digests are kept in memory. Each call's method is looked up in :data:`ACCESS_RULES` (exact
name first, then the longest ``*`` prefix); a method no rule names is denied (fail closed),
except health checking, which anyone may call (reflection too, when configured public:
otherwise it needs a valid token like any other method). A ``supplier`` token, bound to one
supplier, may call what :data:`~sqm.server.security.supplier_access.SUPPLIER_ACCESS` allows,
on its own supplier only (:mod:`sqm.server.security.supplier_scope` checks the request). The
authenticated actor reaches the servicer through :func:`current_actor`.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import os
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import grpc
import yaml
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from sqm.server.api.errors import ERROR_DOMAIN
from sqm.server.security.admission import PUBLIC_CALLER, Admission
from sqm.server.security.supplier_access import (
    SUPPLIER_ACCESS,
    SupplierAccess,
    grants,
    supplier_id_problem,
)

log = logging.getLogger(__name__)

TOKENS_VARIABLE = "SQM_TOKENS"
TOKENS_FILE_VARIABLE = "SQM_TOKENS_FILE"
# Only believed when authentication is off (a laptop, a test): it lets a client name itself.
UNVERIFIED_ACTOR_METADATA_KEY = "x-sqm-actor"
MIN_TOKEN_LENGTH = 16
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_TOKEN = re.compile(r"[\x21-\x7e]+")  # printable ASCII without spaces: it travels in a header
_SHA256 = re.compile(r"[0-9a-f]{64}")


class Role(enum.StrEnum):
    """What a token lets its holder do."""

    INTEGRATION = "integration"  # procurement, monitoring, ticketing: the supplier process
    POLICY_ADMIN = "policy_admin"  # policy teams: validate and activate policy packs
    AUDITOR = "auditor"  # compliance: event lists, chain verification, exports
    READ_ONLY = "read_only"  # dashboards: Get and List only
    SUPPLIER = "supplier"  # one supplier, bound to its token: its own records only


@attrs.frozen
class Actor:
    """Who is calling: the name recorded with their events, and their role (None: auth off).

    ``supplier`` is the supplier id a ``supplier`` token is bound to (None for every other
    role): such a caller may act on that supplier only (:mod:`sqm.server.security.supplier_scope`).
    """

    name: str
    role: Role | None = None
    supplier: str | None = None


ANONYMOUS = Actor("anonymous")
_current_actor: ContextVar[Actor] = ContextVar("sqm_actor", default=ANONYMOUS)


def current_actor() -> Actor:
    """The caller of the RPC being served (``ANONYMOUS`` outside one).

    Set by :class:`AuthInterceptor` in the call's own asyncio task, so ``async`` handlers and
    whatever they await see it; read it before handing work to a thread pool.
    """
    return _current_actor.get()


# --- the method table -------------------------------------------------------------------

EVERY_ROLE = frozenset(Role) - {Role.SUPPLIER}
"""The operator's roles. What a supplier may call is its own table (``SUPPLIER_ACCESS``)."""
_R = Role
ACCESS_RULES: Mapping[str, frozenset[Role]] = {
    "sqm.v1.SupplierService/Get*": EVERY_ROLE,
    "sqm.v1.SupplierService/List*": EVERY_ROLE,
    "sqm.v1.SupplierService/Watch*": frozenset({_R.INTEGRATION, _R.POLICY_ADMIN, _R.AUDITOR}),
    "sqm.v1.SupplierService/*": frozenset({_R.INTEGRATION}),
    "sqm.v1.PolicyService/Get*": EVERY_ROLE,
    "sqm.v1.PolicyService/List*": EVERY_ROLE,
    "sqm.v1.PolicyService/Validate*": frozenset({_R.POLICY_ADMIN, _R.AUDITOR}),
    "sqm.v1.PolicyService/Explain*": frozenset({_R.POLICY_ADMIN, _R.AUDITOR, _R.INTEGRATION}),
    "sqm.v1.PolicyService/*": frozenset({_R.POLICY_ADMIN}),
    "sqm.v1.AuditService/*": frozenset({_R.AUDITOR}),
    "sqm.v1.AdminService/AdvanceTime": frozenset({_R.POLICY_ADMIN}),
    "sqm.v1.AdminService/ListUndeliverableNotifications": frozenset(
        {_R.INTEGRATION, _R.POLICY_ADMIN, _R.AUDITOR}
    ),
    "sqm.v1.AdminService/RetryUndeliverableNotifications": frozenset(
        {_R.INTEGRATION, _R.POLICY_ADMIN}
    ),
    # Reflection lists every service: with tokens on, any valid token (not none) may ask,
    # unless the server is told to keep it public (``--public-reflection``).
    "grpc.reflection.v1alpha.ServerReflection/*": frozenset(Role),
    "grpc.reflection.v1.ServerReflection/*": frozenset(Role),
}
"""Who may call each method: a full method name, or a prefix ending in ``*``."""

PUBLIC_METHODS: tuple[str, ...] = ("grpc.health.v1.Health/*",)
"""Methods anyone may call, with or without a token."""

REFLECTION_METHODS: tuple[str, ...] = (
    "grpc.reflection.v1alpha.ServerReflection/*",
    "grpc.reflection.v1.ServerReflection/*",
)
"""Server reflection: public only when configured so (``public_reflection``)."""


@attrs.frozen
class AccessPolicy:
    """The roles each method needs; a method no rule names needs a role nobody has."""

    rules: Mapping[str, frozenset[Role]] = ACCESS_RULES
    public: tuple[str, ...] = PUBLIC_METHODS
    supplier: SupplierAccess = SUPPLIER_ACCESS

    def is_public(self, method: str) -> bool:
        """Whether ``method`` (``/pkg.Service/Method`` or without the slash) needs no token."""
        name = method.lstrip("/")
        return any(_matches(pattern, name) for pattern in self.public)

    def roles_for(self, method: str) -> frozenset[Role]:
        """The roles allowed to call ``method``: the exact rule, else the longest prefix;
        and ``supplier`` where the supplier table allows the method.
        """
        name = method.lstrip("/")
        supplier = frozenset({Role.SUPPLIER}) if grants(self.supplier, name) else frozenset()
        if name in self.rules:
            return self.rules[name] | supplier
        prefixes = [p for p in self.rules if p.endswith("*") and _matches(p, name)]
        return (self.rules[max(prefixes, key=len)] if prefixes else frozenset()) | supplier


def _matches(pattern: str, name: str) -> bool:
    return name.startswith(pattern[:-1]) if pattern.endswith("*") else name == pattern


# --- tokens -----------------------------------------------------------------------------


class TokenConfigError(ValueError):
    """The token configuration cannot be used; the message says where and what was expected.

    Messages never contain a token.
    """


@attrs.frozen
class _Entry:
    digest: bytes = attrs.field(repr=False)
    actor: Actor
    where: str  # "tokens.yaml:7" or "SQM_TOKENS entry 2", for duplicate reports


@attrs.frozen
class TokenTable:
    """Known tokens, as SHA-256 digests, each with the actor it authenticates."""

    entries: tuple[_Entry, ...]
    source: str

    def authenticate(self, token: str) -> Actor | None:
        """The actor holding ``token``, or None; every entry is compared, in constant time."""
        digest = _digest(token)
        found = None
        for entry in self.entries:
            if hmac.compare_digest(entry.digest, digest):
                found = entry.actor
        return found

    def __len__(self) -> int:
        return len(self.entries)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def load_tokens(
    tokens_file: Path | None, environ: Mapping[str, str] = os.environ
) -> TokenTable | None:
    """Tokens from ``tokens_file`` (else ``SQM_TOKENS_FILE``) or ``SQM_TOKENS``; None: auth off.

    Configuring both a file and ``SQM_TOKENS`` is refused rather than one silently ignored.
    """
    named = environ.get(TOKENS_FILE_VARIABLE, "").strip()
    path = tokens_file or (Path(named) if named else None)
    inline = environ.get(TOKENS_VARIABLE, "").strip()
    if path is not None and inline:
        raise TokenConfigError(
            f"tokens are configured twice: the file {path} and {TOKENS_VARIABLE}; keep one"
        )
    if path is not None:
        return tokens_from_file(path)
    return tokens_from_string(inline, TOKENS_VARIABLE) if inline else None


def tokens_from_string(text: str, source: str = TOKENS_VARIABLE) -> TokenTable:
    """Parse ``name:role:token,name:role:token``; errors name the entry by position and name.

    A supplier's token gives the supplier it is bound to with its role: ``supplier/acme``.
    """
    entries = []
    for number, item in enumerate(text.split(","), start=1):
        if not item.strip():  # a trailing or doubled comma
            continue
        where = f"{source} entry {number}"
        parts = item.strip().split(":", 2)
        if len(parts) != 3:
            raise TokenConfigError(
                f"{where}: expected name:role:token, found {len(parts)} field(s) separated by ':'"
            )
        name, role, token = parts
        where = f"{where} ({name!r})" if _NAME.fullmatch(name) else where
        entries.append(_entry(where, name, role, token=token, sha256=None))
    return _table(entries, source)


def tokens_from_file(path: Path) -> TokenTable:
    """Read a YAML token file; errors name the file and line.

    The file holds ``tokens:``, a list of entries with ``name``, ``role`` and either
    ``token`` or ``sha256`` (the token's hex SHA-256, so the file need hold no secret); an
    entry of role ``supplier`` also has ``supplier``, the id of the supplier it is bound to.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TokenConfigError(f"{path}: cannot read the token file: {error}") from None
    if os.name == "posix" and path.stat().st_mode & 0o077:
        log.warning("%s: the token file is open to group or others; chmod 600 it", path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        # Only the problem and its line: the default message quotes the line, maybe a token.
        line = error.problem_mark.line + 1 if error.problem_mark else "?"
        raise TokenConfigError(f"{path}:{line}: not valid YAML: {error.problem}") from None
    except yaml.YAMLError:
        raise TokenConfigError(f"{path}: not valid YAML") from None
    return _table([_file_entry(path, node) for node in _token_nodes(path, root)], str(path))


def _token_nodes(path: Path, root: yaml.Node | None) -> list[yaml.MappingNode]:
    expected = "expected a mapping with one key, 'tokens', holding a list of entries"
    if not isinstance(root, yaml.MappingNode):
        raise TokenConfigError(f"{path}:1: {expected}")
    fields = {key.value: value for key, value in root.value}
    if set(fields) != {"tokens"} or not isinstance(fields["tokens"], yaml.SequenceNode):
        raise TokenConfigError(f"{path}:{_line(root)}: {expected}")
    nodes: list[yaml.MappingNode] = fields["tokens"].value
    for number, node in enumerate(nodes, start=1):
        if not isinstance(node, yaml.MappingNode):
            raise TokenConfigError(
                f"{path}:{_line(node)}: entry {number}: expected a mapping with name, role"
                " and token (or sha256)"
            )
    return nodes


def _file_entry(path: Path, node: yaml.MappingNode) -> _Entry:
    where = f"{path}:{_line(node)}"
    known = {"name", "role", "token", "sha256", "supplier"}
    values: dict[str, str] = {}
    for key, value in node.value:
        if key.value not in known:
            raise TokenConfigError(
                f"{path}:{_line(key)}: unknown key {key.value!r}; expected {_listed(known)}"
            )
        # The scalar's text as written: a token of digits stays the digits, not a number.
        if not isinstance(value, yaml.ScalarNode):
            raise TokenConfigError(f"{path}:{_line(value)}: {key.value} must be a string")
        if value.tag == "tag:yaml.org,2002:null":
            raise TokenConfigError(f"{path}:{_line(value)}: {key.value} must not be empty")
        values[key.value] = value.value
    for required in ("name", "role"):
        if required not in values:
            raise TokenConfigError(f"{where}: the entry has no {required!r}")
    return _entry(
        where,
        values["name"],
        values["role"],
        values.get("token"),
        values.get("sha256"),
        supplier=values.get("supplier"),
    )


def _entry(
    where: str,
    name: str,
    role: str,
    token: str | None,
    sha256: str | None,
    *,
    supplier: str | None = None,
) -> _Entry:
    if not _NAME.fullmatch(name):
        raise TokenConfigError(
            f"{where}: name must be 1-64 letters, digits or . _ @ - (starting with a letter"
            " or digit)"
        )
    actor = _actor(where, name, role, supplier)
    if sha256 is not None and token is None:
        if not _SHA256.fullmatch(sha256):
            raise TokenConfigError(f"{where}: sha256 must be 64 lower-case hex digits")
        return _Entry(bytes.fromhex(sha256), actor, where)
    if token is None or sha256 is not None:
        raise TokenConfigError(f"{where}: give exactly one of 'token' and 'sha256'")
    if len(token) < MIN_TOKEN_LENGTH or not _TOKEN.fullmatch(token):
        raise TokenConfigError(
            f"{where}: the token must be at least {MIN_TOKEN_LENGTH} printable ASCII"
            " characters without spaces"
        )
    return _Entry(_digest(token), actor, where)


def _actor(where: str, name: str, role: str, supplier: str | None) -> Actor:
    """The actor of an entry: its role, and the supplier a ``supplier`` token is bound to
    (``supplier/acme`` as the role, or a ``supplier`` key in a token file).
    """
    kind, slash, bound = role.partition("/")
    if slash and kind == Role.SUPPLIER:
        if supplier is not None:
            raise TokenConfigError(
                f"{where}: the supplier is given twice (role {role!r} and the supplier key)"
            )
        role, supplier = kind, bound
    if role not in {r.value for r in Role}:
        raise TokenConfigError(
            f"{where}: role {role!r} is not one of {_listed(r.value for r in Role)}"
        )
    if role != Role.SUPPLIER:
        if supplier is not None:
            raise TokenConfigError(
                f"{where}: only a token of role 'supplier' is bound to a supplier, not {role!r}"
            )
        return Actor(name, Role(role))
    if not supplier:
        raise TokenConfigError(
            f"{where}: role 'supplier' needs the supplier the token is bound to:"
            " supplier/<supplier id> (in a token file, a 'supplier' key)"
        )
    problem = supplier_id_problem(supplier)
    if problem:
        raise TokenConfigError(f"{where}: {problem}")
    return Actor(name, Role.SUPPLIER, supplier)


def _table(entries: list[_Entry], source: str) -> TokenTable:
    if not entries:
        raise TokenConfigError(f"{source}: no tokens; to turn authentication off, configure none")
    seen: dict[bytes, str] = {}
    for entry in entries:
        if entry.digest in seen:
            raise TokenConfigError(f"{entry.where}: the same token as {seen[entry.digest]}")
        seen[entry.digest] = entry.where
    return TokenTable(tuple(entries), source)


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _listed(values: Iterable[str]) -> str:
    return ", ".join(sorted(values))


# --- the interceptor --------------------------------------------------------------------

if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]
    ServerInterceptor = grpc.aio.ServerInterceptor[Any, Any]
else:  # the runtime classes are not generic
    Handler = grpc.RpcMethodHandler
    ServerInterceptor = grpc.aio.ServerInterceptor
Continuation = Callable[[grpc.HandlerCallDetails], Awaitable["Handler | None"]]


class AuthInterceptor(ServerInterceptor):
    """Reject calls without a valid token (UNAUTHENTICATED) or the right role (PERMISSION_DENIED).

    With ``tokens=None`` authentication is off: every call goes through, and the caller is
    whoever the ``x-sqm-actor`` header says (else ``anonymous``).
    """

    def __init__(
        self,
        tokens: TokenTable | None,
        access: AccessPolicy | None = None,
        *,
        public_reflection: bool = False,
        admission: Admission | None = None,
    ) -> None:
        self._admission = admission
        self._tokens = tokens
        public = PUBLIC_METHODS + (REFLECTION_METHODS if public_reflection else ())
        self._access = access or AccessPolicy(public=public)
        if tokens is None:
            log.warning("authentication is OFF: no tokens configured; every caller may do anything")
        else:
            log.info("authentication on: %d token(s) from %s", len(tokens), tokens.source)

    # The stubs say a handler is always found; at run time None means "no such method".
    async def intercept_service(  # type: ignore[override]
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler | None:
        """Authorise the call before its handler runs; the actor is set for the handler."""
        method = handler_call_details.method
        metadata = _metadata(handler_call_details.invocation_metadata)
        if self._access.is_public(method):
            return self._admitted(await continuation(handler_call_details), PUBLIC_CALLER)
        if self._tokens is None:
            _current_actor.set(Actor(metadata.get(UNVERIFIED_ACTOR_METADATA_KEY) or "anonymous"))
            return self._admitted(await continuation(handler_call_details), None)
        headers = _authorization_headers(handler_call_details.invocation_metadata)
        if len(headers) > 1:  # which one a proxy or the server would read is ambiguous
            actor, problem = None, "more than one authorization header; send exactly one"
        else:
            actor, problem = _authenticate(self._tokens, metadata.get("authorization"))
        if actor is None:
            status = _status(grpc.StatusCode.UNAUTHENTICATED, problem, {"method": method})
            return _rejecting(await continuation(handler_call_details), status)
        # Set before the role check so that a refusal is logged with who was refused. The
        # interceptor runs in the call's own asyncio task: no reset needed, none could leak.
        _current_actor.set(actor)
        allowed = self._access.roles_for(method)
        if actor.role not in allowed:
            status = _denied(method, actor, allowed)
            return _rejecting(await continuation(handler_call_details), status)
        return self._admitted(await continuation(handler_call_details), actor.name)

    def _admitted(self, handler: Handler | None, caller: str | None) -> Handler | None:
        """Authentication comes first; then the caller's budget (admission), if any."""
        if handler is None or self._admission is None:
            return handler
        return self._admission.admit(handler, caller)  # type: ignore[no-any-return]


def _authenticate(tokens: TokenTable, header: str | None) -> tuple[Actor | None, str]:
    """The actor for an ``authorization`` header, or None and why (never quoting the token)."""
    if header is None:
        return None, "missing 'authorization: Bearer <token>' metadata"
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None, "malformed authorization metadata; expected 'Bearer <token>'"
    actor = tokens.authenticate(token.strip())
    return (actor, "") if actor else (None, "the bearer token is not recognised")


def _authorization_headers(pairs: Iterable[Any] | None) -> list[Any]:
    return [value for key, value in pairs or () if str(key).lower() == "authorization"]


def _metadata(pairs: Iterable[Any] | None) -> dict[str, str]:
    # A repeated key keeps its last value; binary (-bin) values are not ours to read.
    return {str(key).lower(): value for key, value in pairs or () if isinstance(value, str)}


def _denied(method: str, actor: Actor, allowed: frozenset[Role]) -> status_pb2.Status:
    roles = "|".join(sorted(allowed))
    message = (
        f"role {actor.role} may not call {method}; it needs one of: {roles}"
        if allowed
        else f"no role may call {method}"
    )
    metadata = {"method": method, "required_roles": roles, "role": str(actor.role)}
    return _status(grpc.StatusCode.PERMISSION_DENIED, message, metadata)


def _status(code: grpc.StatusCode, message: str, metadata: dict[str, str]) -> status_pb2.Status:
    info = error_details_pb2.ErrorInfo(reason=code.name, domain=ERROR_DOMAIN, metadata=metadata)
    packed = any_pb2.Any()
    packed.Pack(info)
    return status_pb2.Status(code=code.value[0], message=message, details=[packed])


def _rejecting(handler: Handler | None, status: status_pb2.Status) -> Handler | None:
    """A handler of the same shape that ends the call with ``status``; the real one never runs."""
    if handler is None:  # no such method: grpc answers UNIMPLEMENTED
        return None
    code = next(c for c in grpc.StatusCode if c.value[0] == status.code)
    trailing = (("grpc-status-details-bin", status.SerializeToString()),)

    # An ``async def`` is a valid behaviour for all four shapes (streams write via context).
    async def reject(_: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await context.abort(code, status.message, trailing_metadata=trailing)

    factory = _HANDLER_FACTORIES[(handler.request_streaming, handler.response_streaming)]
    return factory(reject, handler.request_deserializer, handler.response_serializer)


def handler_shape(handler: Handler) -> tuple[Callable[..., Any], Callable[..., Handler]]:
    """A handler's behaviour (the one method its shape uses) and the factory for its shape.

    For interceptors that wrap a handler's behaviour and build one of the same shape.
    """
    kind = (handler.request_streaming, handler.response_streaming)
    behaviours: dict[tuple[bool, bool], Any] = {  # the stubs allow None; the shape's is set
        (False, False): handler.unary_unary,
        (False, True): handler.unary_stream,
        (True, False): handler.stream_unary,
        (True, True): handler.stream_stream,
    }
    return behaviours[kind], _HANDLER_FACTORIES[kind]


_HANDLER_FACTORIES = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}
