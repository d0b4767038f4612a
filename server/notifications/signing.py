"""How a webhook receiver knows a notification came from this service, unaltered and fresh.

Each POST carries three headers (the scheme Stripe's and GitHub's webhooks use):

- ``SQM-Notification-Id``: the notification's id; the same on every retry, so a receiver
  deduplicates on it (delivery is at least once);
- ``SQM-Timestamp``: when this attempt was signed, in whole seconds since the Unix epoch;
- ``SQM-Signature``: ``v1=`` and the hex HMAC-SHA256, under the shared secret, of the
  timestamp, a dot, and the raw request body: ``HMAC(secret, f"{timestamp}.{body}")``.

The receiver recomputes the HMAC over the body exactly as received, compares it in constant
time, and refuses a timestamp too far from its own clock (a replayed old request).
"""

from __future__ import annotations

import hashlib
import hmac

ID_HEADER = "SQM-Notification-Id"
TIMESTAMP_HEADER = "SQM-Timestamp"
SIGNATURE_HEADER = "SQM-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``SQM-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def signed_headers(
    secret: bytes, notification_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """Every header of a delivery: content type, id, timestamp and signature."""
    return {
        "Content-Type": "application/json",
        ID_HEADER: notification_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def verify(
    secret: bytes,
    headers: dict[str, str],
    body: bytes,
    now: float,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver checks: the signature matches and the timestamp is recent.

    ``headers`` are matched without regard to case, as HTTP headers are.
    """
    found = {name.lower(): value for name, value in headers.items()}
    stamp, given = found.get(TIMESTAMP_HEADER.lower(), ""), found.get(SIGNATURE_HEADER.lower(), "")
    if not stamp.isdigit() or abs(now - int(stamp)) > tolerance_seconds:
        return False
    return hmac.compare_digest(signature(secret, int(stamp), body), given)
