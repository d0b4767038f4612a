"""Times given on the command line: RFC 3339, with their offset."""

from __future__ import annotations

import argparse
from datetime import datetime


def rfc3339_time(text: str) -> datetime:
    """``text`` as an aware time, for argparse; a time without an offset is refused."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the time with its offset: {text!r}")
    return moment
