"""Proto <-> domain for the AuditService: documents, their names and the archive request."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from sqm.domain.documents import MAX_DOCUMENT_BYTES, ArchivedDocument, NewDocument
from sqm.domain.pack_catalogue import OTHER_DOCUMENT, DocumentKindId, unknown_id
from sqm.domain.validation import SUPPLIER_ID
from sqm.server.api import mapping
from sqm.server.api.proto_values import Violations, set_time, shown
from sqm.server.api.resource_mapping import supplier_name
from sqm.server.api.servicer_base import SUPPLIER_ID_RULE
from sqm.v1 import audit_service_pb2 as api

MAX_FILENAME = 255
# type/subtype with RFC 6838's restricted name characters, parameters not kept.
_MEDIA_NAME = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
MEDIA_TYPE = re.compile(f"{_MEDIA_NAME}/{_MEDIA_NAME}")
DOCUMENT_NAME = re.compile(r"suppliers/(?P<supplier>[^/]+)/documents/(?P<document>[0-9a-f]{32})")


def document_name(record: ArchivedDocument) -> str:
    """The resource name of an archived document."""
    return f"{supplier_name(record.supplier_id)}/documents/{record.document_id}"


def document(record: ArchivedDocument) -> api.Document:
    """The API view of an archived document (without its content)."""
    message = api.Document(
        name=document_name(record),
        document_id=record.document_id,
        supplier=supplier_name(record.supplier_id),
        filename=record.filename,
        media_type=record.media_type,
        sha256=record.sha256,
        size=record.size,
        actor=record.actor,
        request_id=record.request_id,
    )
    set_time(message.archive_time, record.archived_at)
    return message


def new_document(
    request: api.ArchiveDocumentRequest, actor: str, kinds: tuple[DocumentKindId, ...]
) -> NewDocument:
    """The document to archive, or INVALID_ARGUMENT naming every bad field."""
    bad = Violations()
    supplier_id = _supplier_id(request.parent, "parent", bad)
    filename = request.filename
    if not filename or len(filename) > MAX_FILENAME:
        bad.add("filename", f"must be 1 to {MAX_FILENAME} characters")
    elif any(c in filename for c in "/\\") or not filename.isprintable():
        bad.add("filename", f"{shown(filename)} must be a plain file name, without a path")
    if not MEDIA_TYPE.fullmatch(request.media_type):
        bad.add("media_type", f"{shown(request.media_type)} is not a media type (type/subtype)")
    if not request.content:
        bad.add("content", "must not be empty")
    elif len(request.content) > MAX_DOCUMENT_BYTES:
        bad.add("content", f"{len(request.content)} bytes; at most {MAX_DOCUMENT_BYTES}")
    problem = mapping.request_id_problem(request.request_id)
    if problem:
        bad.add("request_id", problem)
    kind = _document_kind(request.kind, kinds, bad)
    bad.raise_if_any()
    return NewDocument(
        supplier_id=supplier_id,
        filename=filename,
        media_type=request.media_type.lower(),
        content=bytes(request.content),
        actor=actor,
        request_id=request.request_id,
        kind=kind,
    )


def _document_kind(text: str, kinds: tuple[DocumentKindId, ...], bad: Violations) -> DocumentKindId:
    """``text``, a document kind of the active policy's catalogue (``kinds``); ``other``
    when empty.
    """
    if not text:
        return OTHER_DOCUMENT
    if text not in kinds:
        violation = unknown_id("kind", "document kind", text, kinds)
        bad.add(violation.field, violation.description)
    return text


def occurred_at(request: api.ArchiveDocumentRequest, clock: Callable[[], datetime]) -> datetime:
    """When the document was received: ``occur_time``, or the server's time when unset."""
    bad = Violations()
    moment = mapping.occur_time(request, clock, bad)
    bad.raise_if_any()
    return moment


def document_ref(name: str) -> tuple[str, str]:
    """The supplier id and document id in ``suppliers/{s}/documents/{d}``, or INVALID_ARGUMENT."""
    match = DOCUMENT_NAME.fullmatch(name)
    if match is not None and SUPPLIER_ID.fullmatch(match["supplier"]):
        return match["supplier"], match["document"]
    bad = Violations()
    bad.add(
        "name",
        f"expected a resource name 'suppliers/{{supplier}}/documents/{{document}}',"
        f" got {shown(name)}",
    )
    bad.raise_if_any()
    return "", ""  # unreachable: raise_if_any raised


def _supplier_id(name: str, field: str, bad: Violations) -> str:
    found = mapping.supplier_id_from_name(name, field, bad)
    if found and not SUPPLIER_ID.fullmatch(found):
        bad.add(field, f"{shown(found)} is not a supplier id: {SUPPLIER_ID_RULE}")
    return found
