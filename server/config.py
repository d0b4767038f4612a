"""Settings enter once, as a frozen object.

Precedence, highest first: command-line flag, environment variable (``SQM_*``), default.
The default store is the embedded SQLite file, so ``sqm serve`` needs no set-up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import attrs

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_DATABASE = Path("var/sqm.sqlite3")

ENVIRONMENT = {
    "address": "SQM_ADDRESS",
    "database": "SQM_DATABASE",
    "policy_dir": "SQM_POLICY_DIR",
    "log_level": "SQM_LOG_LEVEL",
}


@attrs.frozen
class Settings:
    """Everything the server needs to start."""

    address: str = DEFAULT_ADDRESS
    database: Path = DEFAULT_DATABASE
    policy_dir: Path | None = None  # None: the default telecom pack shipped in rules/packs
    log_level: str = "INFO"


def settings_from(
    flags: Mapping[str, object | None], environ: Mapping[str, str] = os.environ
) -> Settings:
    """Build settings from parsed flags (None means "not given") over the environment."""
    values: dict[str, object] = {}
    for field, variable in ENVIRONMENT.items():
        given = flags.get(field)
        if given is None:
            given = environ.get(variable) or None
        if given is not None:
            values[field] = given
    for path_field in ("database", "policy_dir"):
        if path_field in values:
            values[path_field] = Path(str(values[path_field]))
    return Settings(**values)  # type: ignore[arg-type]
