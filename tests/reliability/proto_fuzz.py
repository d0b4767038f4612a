"""Hostile requests for any gRPC method, built generically from its input message descriptor.

Every field of a request (and of the messages inside it) is set or left unset at random,
with values a careless or malicious client could send: unicode and huge strings, control
characters and injection attempts, int64 and uint64 extremes, negative counts, NaN and
infinities, enum numbers the API does not define, timestamps outside the representable
years, oversized bytes, long repeated fields and maps with path-like keys. Fields that name
things (``name``, ``parent``, ``request_id``, ``page_token``, ...) also draw plausible values
(the fuzzed server's real supplier, well-formed page tokens holding hostile positions), so
requests get past the first check and reach the application, where the bugs are.

New methods and fields are covered as soon as they are in the descriptors: nothing here
names a method.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import sys
from collections.abc import Callable
from typing import Any

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

MAX_LIST_BYTES = 5 * 1024 * 1024  # a little over the server's message limit, now and then
MAX_DEPTH = 4  # google.protobuf.Struct is recursive; our own messages nest about 3 deep
KNOWN_SUPPLIER = "fuzz-co"  # the fuzzed server has this supplier under contract
# The filter key of an unfiltered ListSupplierEvents page token (sqm.server.api.servicer_selection).
UNFILTERED = hashlib.sha256(b"||").hexdigest()[:16]
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)

_HOSTILE_TEXT = (
    "",
    " ",
    "\x00",
    "\u202e\u200b",  # right-to-left override, zero-width space
    "' OR 1=1; DROP TABLE events; --",
    "../../../../etc/passwd",
    "%s%n%x{0}${jndi:ldap://127.0.0.1/a}",
    "供应商/服务质量",
    "🙂" * 300,
    "NaN",
    "-Infinity",
    "1e309",
    "9" * 400,
    "suppliers/",
    "suppliers/Fuzz Co!",
    f"suppliers/{KNOWN_SUPPLIER}/documents/../../x",
)
_PLAUSIBLE: dict[str, tuple[str, ...]] = {
    "name": (f"suppliers/{KNOWN_SUPPLIER}", "suppliers/fuzz-ghost", "policyVersions/" + "0" * 64),
    "parent": (f"suppliers/{KNOWN_SUPPLIER}", "suppliers/fuzz-ghost"),
    "supplier": (f"suppliers/{KNOWN_SUPPLIER}", KNOWN_SUPPLIER),
    "supplier_id": (KNOWN_SUPPLIER, "fuzz-new", "a" * 63, "a" * 64),
    "objective_id": ("availability", "restore"),
    "unit": ("percent", "hours", "minutes"),
    "currency_code": ("CNY", "USD", "cny"),
    "amount": ("125000.00", "-1.00", "0", "0.001", "1e3", "999999999999999.99"),
    "stage": ("qualification", "monitoring", "deadlines"),
    "event_types": ("MeasurementRecorded", "SupplierRegistered"),
    "key": ("capability", "price", "delivery_lead_time"),
    "media_type": ("application/pdf", "text/plain"),
    "filename": ("report.pdf", "../report.pdf"),
    "etag": ("1", "0", "-1", "99999999999999999999999"),
}
_FILE_KEYS = ("manifest.yaml", "sla.yaml", "a", "a/b", "a/b/c", ".", "..", "x/../y", "/abs", "")


def hostile_text() -> st.SearchStrategy[str]:
    """Strings a hostile client sends: anything, known troublemakers, or very long."""
    return st.one_of(
        st.text(max_size=40),
        st.sampled_from(_HOSTILE_TEXT),
        st.integers(1_000, 200_000).map(lambda n: "x" * n),
    )


def _text_for(field: FieldDescriptor) -> st.SearchStrategy[str]:
    plausible = _PLAUSIBLE.get(field.name)
    if field.name in {"page_token", "resume_token"}:
        return st.one_of(hostile_text(), forged_tokens())
    if field.name == "request_id":
        return st.one_of(st.uuids().map(str), hostile_text())
    if plausible:
        return st.one_of(st.sampled_from(plausible), hostile_text())
    return hostile_text()


def forged_tokens() -> st.SearchStrategy[str]:
    """Well-formed page and resume tokens (URL-safe base64 JSON) holding hostile values."""
    collections = st.sampled_from(
        ["suppliers", "policyVersions", f"penalties:{KNOWN_SUPPLIER}",
         f"documents:{KNOWN_SUPPLIER}", f"events:{KNOWN_SUPPLIER}:{UNFILTERED}"]
    )  # fmt: skip
    positions = st.one_of(
        st.integers(*INT64), st.integers(2**64, 2**80), st.text(max_size=10), st.booleans(),
        st.none(), st.floats(), st.lists(st.integers(), max_size=2),
    )  # fmt: skip
    page = st.fixed_dictionaries({"c": collections, "p": positions})
    resume = st.fixed_dictionaries({"s": positions, "db": st.text(max_size=8)})
    return st.one_of(page, resume).map(_token)


def _token(body: dict[str, Any]) -> str:
    text = json.dumps(body, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _timestamps(cls: type[Message]) -> st.SearchStrategy[Message]:
    seconds = st.one_of(
        st.integers(1_700_000_000, 1_900_000_000),  # around now: gets past range checks
        st.sampled_from([0, -1, -62_135_596_801, 253_402_300_800, *INT64]),
        st.integers(*INT64),
    )
    nanos = st.one_of(st.integers(0, 999_999_999), st.sampled_from([-1, 10**9, *INT32]))
    return st.builds(lambda s, n: cls(seconds=s, nanos=n), seconds, nanos)


_SCALARS: dict[int, Callable[[], st.SearchStrategy[Any]]] = {
    FieldDescriptor.TYPE_DOUBLE: lambda: st.one_of(
        st.floats(), st.sampled_from([float("nan"), float("inf"), -0.0, sys.float_info.max])
    ),
    FieldDescriptor.TYPE_FLOAT: lambda: st.floats(width=32),
    FieldDescriptor.TYPE_INT64: lambda: st.one_of(st.integers(*INT64), st.sampled_from(INT64)),
    FieldDescriptor.TYPE_SINT64: lambda: st.integers(*INT64),
    FieldDescriptor.TYPE_SFIXED64: lambda: st.integers(*INT64),
    FieldDescriptor.TYPE_UINT64: lambda: st.integers(0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: lambda: st.integers(0, 2**64 - 1),
    FieldDescriptor.TYPE_INT32: lambda: st.one_of(
        st.integers(-5, 2_000), st.sampled_from(INT32), st.integers(*INT32)
    ),
    FieldDescriptor.TYPE_SINT32: lambda: st.integers(*INT32),
    FieldDescriptor.TYPE_SFIXED32: lambda: st.integers(*INT32),
    FieldDescriptor.TYPE_UINT32: lambda: st.integers(0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: lambda: st.integers(0, 2**32 - 1),
    FieldDescriptor.TYPE_BOOL: st.booleans,
    FieldDescriptor.TYPE_BYTES: lambda: st.one_of(
        st.binary(max_size=64), st.integers(10_000, 3_000_000).map(lambda n: b"\xff" * n)
    ),
}


def _enum_values(field: FieldDescriptor) -> st.SearchStrategy[int]:
    defined = [value.number for value in field.enum_type.values]
    return st.one_of(st.sampled_from(defined), st.integers(*INT32))


def _single(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any] | None:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return messages(field.message_type, depth + 1)
    if field.type == FieldDescriptor.TYPE_ENUM:
        return _enum_values(field)
    if field.type == FieldDescriptor.TYPE_STRING:
        return _text_for(field)
    return _SCALARS[field.type]()


def _repeated(element: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    # A long list repeats one drawn element: cheap to draw, as heavy for the server.
    long = st.tuples(element, st.integers(100, 5_000)).map(lambda pair: _long_list(*pair))
    return st.one_of(st.lists(element, max_size=4), long)


def _long_list(element: Any, count: int) -> list[Any]:
    """``count`` copies of ``element``, fewer if they would pass :data:`MAX_LIST_BYTES`."""
    if isinstance(element, Message):
        size = element.ByteSize()
    elif isinstance(element, str | bytes):
        size = len(element)
    else:
        size = 8
    return [element] * min(count, max(1, MAX_LIST_BYTES // max(size, 1)))


def _map(field: FieldDescriptor, depth: int) -> st.SearchStrategy[dict[Any, Any]] | None:
    entry = field.message_type
    key_field, value_field = entry.fields_by_name["key"], entry.fields_by_name["value"]
    keys = _single(key_field, depth)
    if field.name == "files":
        keys = st.one_of(st.sampled_from(_FILE_KEYS), hostile_text())
    values = _single(value_field, depth)
    if keys is None or values is None:
        return None
    return st.dictionaries(keys, values, max_size=4)


def _field_values(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any] | None:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        return _map(field, depth)
    single = _single(field, depth)
    if single is None:
        return None
    return _repeated(single) if field.is_repeated else single


@functools.cache
def messages(descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Message] | None:
    """Messages of ``descriptor``'s type with any subset of fields set to hostile values.

    None past :data:`MAX_DEPTH` (the field is then left unset).
    """
    if depth > MAX_DEPTH:
        return None
    cls = message_factory.GetMessageClass(descriptor)
    if descriptor.full_name == "google.protobuf.Timestamp":
        return _timestamps(cls)
    optional = {}
    for field in descriptor.fields:
        values = _field_values(field, depth)
        if values is not None:
            optional[field.name] = values
    return st.fixed_dictionaries({}, optional=optional).map(lambda found: _build(cls, found))


def _build(cls: type[Message], values: dict[str, Any]) -> Message:
    message = cls()
    for name, value in values.items():
        field = message.DESCRIPTOR.fields_by_name[name]
        target = getattr(message, name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            _fill_map(target, field, value)
        elif field.is_repeated:
            target.extend(value)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            target.CopyFrom(value)
        else:
            setattr(message, name, value)
    return message


def _fill_map(target: Any, field: FieldDescriptor, values: dict[Any, Any]) -> None:
    value_field = field.message_type.fields_by_name["value"]
    for key, value in values.items():
        if value_field.type == FieldDescriptor.TYPE_MESSAGE:
            target[key].CopyFrom(value)
        else:
            target[key] = value


def requests(method: MethodDescriptor) -> st.SearchStrategy[Any]:
    """What to send to ``method``: one message, or a short list for a client stream."""
    one = messages(method.input_type)
    assert one is not None
    return st.lists(one, max_size=4) if method.client_streaming else one
