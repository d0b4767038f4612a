"""A pack as data: the paths and sizes a request's files may have, checked before loading.

A pack's version covers its manifest and the rule files the manifest lists, nothing else
(``sqm.rules.loader.content_version``): tests, notes and editor files beside them do not change
the version, and are neither sent to a server nor archived (``sqm.rules.loader.read_pack_files``
reads just those from a folder).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath

from sqm.domain.errors import FieldViolation, InvalidCommand
from sqm.rules.limits import MAX_FILE_BYTES, MAX_FILES, MAX_NAME_BYTES, MAX_PATH_BYTES
from sqm.rules.loader import MANIFEST, load_pack
from sqm.rules.model import PolicyPack

__all__ = ["MAX_FILES", "MAX_FILE_BYTES", "MAX_NAME_BYTES", "MAX_PATH_BYTES", "check_files"]
MAX_SHOWN_NAME = 64


def check_files(files: Mapping[str, str], field: str = "files") -> None:
    """Raise :class:`InvalidCommand` naming every path or size a pack's files may not have."""
    violations = [
        FieldViolation(_entry(field, name), problem)
        for name, text in files.items()
        if (problem := _path_problem(name) or _size_problem(text)) is not None
    ]
    violations += [
        FieldViolation(_entry(field, name), f"{folder!r} is a file, so nothing can be inside it")
        for name, folder in _inside_files(files)
    ]
    if not files:
        violations.append(FieldViolation(field, f"give the pack's files, {MANIFEST} first"))
    elif MANIFEST not in files:
        violations.append(FieldViolation(field, f"a pack needs a {MANIFEST}"))
    if len(files) > MAX_FILES:
        violations.append(FieldViolation(field, f"at most {MAX_FILES} files, got {len(files)}"))
    if violations:
        raise InvalidCommand(violations)


def _entry(field: str, name: str) -> str:
    # A status travels in gRPC's trailers (a few KiB): a 100 KB name is not echoed whole.
    shown = name if len(name) <= MAX_SHOWN_NAME else name[:MAX_SHOWN_NAME] + "..."
    return f'{field}["{shown}"]'


def _path_problem(name: str) -> str | None:
    relative = PurePosixPath(name)
    if (
        not name
        or "\\" in name
        or "\0" in name
        or relative.is_absolute()
        or any(part in ("", ".", "..") for part in name.split("/"))
    ):
        return "expected a relative path inside the pack, like 'qualification.yaml'"
    # What every file system takes: the same files must work as a pack folder too.
    if len(name.encode()) > MAX_PATH_BYTES or any(
        len(part.encode()) > MAX_NAME_BYTES for part in name.split("/")
    ):
        return f"at most {MAX_NAME_BYTES} bytes a name and {MAX_PATH_BYTES} bytes a path"
    return None


def _inside_files(files: Mapping[str, str]) -> list[tuple[str, str]]:
    """Each ``(name, folder)`` where ``folder``, a prefix of ``name``, is itself a file."""
    return [
        (name, folder)
        for name in files
        for folder in ("/".join(name.split("/")[:end]) for end in range(1, name.count("/") + 1))
        if folder in files
    ]


def _size_problem(text: str) -> str | None:
    size = len(text.encode("utf-8"))
    return f"at most {MAX_FILE_BYTES} bytes, got {size}" if size > MAX_FILE_BYTES else None


def load_pack_files(files: Mapping[str, str]) -> PolicyPack:
    """Load and check a pack given as data (a request's or the archive's files).

    Raises :class:`InvalidCommand` for unusable paths, :class:`PackInvalid` for an invalid
    pack.
    """
    check_files(files)
    return load_pack(files)
