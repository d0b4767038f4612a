"""Database URLs: telling a PostgreSQL URL from a SQLite path, and keeping passwords out of
messages. No driver is imported here, so settings can use it.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

POSTGRES_SCHEMES = ("postgresql", "postgres")


def url_scheme(text: str) -> str:
    """The scheme of ``text`` if it is written as a URL (``scheme://...``), else ""."""
    return urlsplit(text).scheme if "://" in text else ""


def is_postgres_url(text: str) -> bool:
    """True when ``text`` names a PostgreSQL database rather than a SQLite file."""
    return url_scheme(text) in POSTGRES_SCHEMES


def redact_url(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
