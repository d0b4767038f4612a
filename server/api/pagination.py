"""Opaque page tokens and page sizes (AIP-158).

A token is URL-safe base64 of a small JSON object naming the collection it belongs to, so a
token from one list cannot be replayed against another.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from sqm.domain.errors import FieldViolation, InvalidCommand


def page_size(requested: int, default: int, maximum: int) -> int:
    """The page size to use: the default for 0, capped at ``maximum``; negative is an error."""
    if requested < 0:
        raise InvalidCommand([FieldViolation("page_size", "must not be negative")])
    return min(requested or default, maximum)


def encode(collection: str, position: Any) -> str:
    """A token resuming ``collection`` after ``position``."""
    body = json.dumps({"c": collection, "p": position}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode(token: str, collection: str) -> Any:
    """The position stored in ``token``, or None for an empty token (the first page)."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        body = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict) or body.get("c") != collection or "p" not in body:
        raise _not_issued()
    return body["p"]


def decode_index(token: str, collection: str) -> int:
    """The position in ``token`` where it must be a count (0 for the first page).

    A token is opaque, not signed: one whose position is not a count this server could
    have issued (text, a negative number, one past SQLite's integers) was forged.
    """
    position = decode(token, collection)
    if position is None:
        return 0
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position < 2**63:
        raise _not_issued()
    return position


def _not_issued() -> InvalidCommand:
    return InvalidCommand(
        [FieldViolation("page_token", "not a page token this list issued; start without one")]
    )
