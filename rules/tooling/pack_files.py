"""A pack as data: the files that make its version, read from a folder or written to one.

A pack's version covers its manifest and the rule files the manifest lists, nothing else
(``rules.loader.content_version``): tests, notes and editor files beside them do not change
the version, and are neither sent to a server nor archived.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath

import attrs
import yaml

from domain.errors import FieldViolation, InvalidCommand
from rules.errors import PackError, PackInvalid
from rules.loader import MANIFEST, load_pack
from rules.model import PolicyPack

MAX_FILES = 100
MAX_FILE_BYTES = 1024 * 1024
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 1024
MAX_SHOWN_NAME = 64


def read_pack_files(directory: str | os.PathLike[str]) -> dict[str, str]:
    """The manifest and the rule files it lists (those that exist), as relative path -> text.

    Files are read as bytes and decoded as UTF-8 without newline translation, so the text
    hashes to the same version as the files on disk. A manifest that cannot be read as YAML
    is still returned (alone): the loader, here or on a server, reports what is wrong.
    Raises :class:`PackInvalid` for a file that is not UTF-8 text.
    """
    root = Path(directory)
    files: dict[str, str] = {}
    manifest = _read(root, MANIFEST)
    if manifest is None:
        return files
    files[MANIFEST] = manifest
    for name in _listed(manifest):
        text = _read(root, name)
        if text is not None:
            files[name] = text
    return files


def _read(root: Path, name: str) -> str | None:
    path = root / name
    if not path.is_file():
        return None
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise PackInvalid([PackError(name, line, column, "not valid UTF-8 text")]) from None


def _listed(manifest: str) -> list[str]:
    try:
        data = yaml.safe_load(manifest)
    except yaml.YAMLError:
        return []
    names = data.get("files") if isinstance(data, dict) else None
    if not isinstance(names, list):
        return []
    return [name for name in names if isinstance(name, str) and _path_problem(name) is None]


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
    # What every file system takes: the pack is written to a temporary folder to be checked.
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


@contextlib.contextmanager
def materialised(files: Mapping[str, str]) -> Iterator[Path]:
    """A temporary pack folder holding ``files`` (checked first), removed afterwards."""
    check_files(files)
    with tempfile.TemporaryDirectory(prefix="sqm-pack-") as folder:
        root = Path(folder)
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text.encode("utf-8"))
        yield root


def load_pack_files(files: Mapping[str, str]) -> PolicyPack:
    """Load and check a pack given as data.

    Raises :class:`InvalidCommand` for unusable paths, :class:`PackInvalid` (with messages
    free of the temporary folder's name) for an invalid pack.
    """
    with materialised(files) as root:
        try:
            return load_pack(root)
        except PackInvalid as invalid:
            raise without_folder(invalid, root) from None


def without_folder(invalid: PackInvalid, root: Path) -> PackInvalid:
    """``invalid`` with the temporary folder's path removed from its messages."""
    names = {str(root), str(root.resolve())}

    def clean(message: str) -> str:
        for name in sorted(names, key=len, reverse=True):
            message = message.replace(f"directory {name}", "directory")
            message = message.replace(name, "the pack")
        return message

    return PackInvalid([attrs.evolve(e, message=clean(e.message)) for e in invalid.errors])
