"""How the server's log lines look: readable text, or one JSON object per line.

``sqm serve --log-format json`` installs :class:`~sqm.server.observability.calls.JsonFormatter` on
the root handler, so every line (the per-call access line of logger ``sqm.access`` included)
is a JSON object a log shipper parses as it is; ``text`` (the default) keeps lines readable.
"""

from __future__ import annotations

import logging
import sys

from sqm.server.observability.calls import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str, log_format: str = "text") -> logging.Handler:
    """Send every log record to stderr at ``level``, as text or JSON; returns the handler.

    Replaces handlers installed before, so calling it twice does not double the lines.
    """
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # psycopg's pool warns at each attempt to reconnect, in several lines; an outage is
    # told once instead, when health turns NOT_SERVING (grpc_server.follow_storage).
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    return handler
