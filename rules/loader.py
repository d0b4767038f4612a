"""Loading a policy pack: manifest, rule files, schema, semantic checks, content version.

``load_pack`` either returns a fully checked :class:`PolicyPack` or raises
:class:`PackInvalid` listing every problem found, each at ``file:line:column``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import TypeAlias

import attrs

from sqm.domain.calendar import DEFAULT_TIME_ZONE, UTC_CALENDAR, Calendar, zone
from sqm.domain.model import QualificationChanges
from sqm.domain.pack_catalogue import PackCatalogue
from sqm.rules.build import FilePart, build_file
from sqm.rules.build_invariants import duplicate_invariant_ids
from sqm.rules.build_sections import pack_windows
from sqm.rules.catalogue import CATALOGUE, specs_with
from sqm.rules.checks import pack_errors
from sqm.rules.errors import PackError, PackInvalid, Problems
from sqm.rules.limits import MAX_FILE_BYTES
from sqm.rules.model import CertificateRequirements, ObjectiveDefaults, PolicyPack, Window
from sqm.rules.pack_catalogue import legacy_catalogue, read_catalogue
from sqm.rules.schema_check import MANIFEST_SCHEMA, POLICY_FILE_SCHEMA, schema_errors
from sqm.rules.yaml_source import SourceDoc, parse_yaml, utf8_text

MANIFEST = "manifest.yaml"
"""The file every pack starts from; it lists the rule files."""
CATALOGUE_KEY = "catalogue"
"""The manifest key naming the pack's catalogue file (``catalogue.yaml``)."""
QUALIFICATION_CHANGES = "qualification_changes_apply_to"
"""The manifest key saying whom a version's qualification rules apply to (the schema
checks its value)."""


PackSource: TypeAlias = str | os.PathLike[str] | Mapping[str, str | bytes]
"""A pack folder, or a pack as data: relative path -> text (or UTF-8 bytes)."""


def load_pack(source: PackSource) -> PolicyPack:
    """Load, check and version the pack in ``source``: a folder, or the files as data.

    A pack given as data (one that came over gRPC or from the archive) is read exactly as the
    same files in a folder would be, and gives the same version and the same located errors.
    Raises :class:`~sqm.rules.errors.PackInvalid` with every problem found.
    """
    pack_files = _PackFiles(source)
    problems = Problems()
    manifest = _manifest(pack_files, problems)
    if manifest is None:  # without a manifest there is no list of files to check
        raise problems.invalid(pack_files.label)
    files = _listed_files(pack_files, manifest, problems)
    catalogue_file, catalogue = _catalogue(pack_files, manifest, problems)
    if catalogue is None:  # every reference would be reported as unknown
        raise problems.invalid(pack_files.label, [MANIFEST, catalogue_file or ""])
    read = [_read_doc(pack_files, name, POLICY_FILE_SCHEMA, problems) for name in files]
    docs = [doc for doc in read if doc is not None]
    # Windows first: any file's rules may use any file's windows.
    complete = len(docs) == len(files)
    windows = pack_windows(docs, CATALOGUE, problems, catalogue, complete=complete)
    specs = specs_with(windows, catalogue)
    parts = [build_file(doc, problems, specs, catalogue) for doc in docs]
    problems.extend(pack_errors(parts, specs))
    rule_ids = frozenset(rule.id for part in parts for rule in part.rules)
    problems.extend(duplicate_invariant_ids(docs, rule_ids))
    if not problems and not any(part.rules for part in parts):
        problems.add(manifest.error(("files",), "the pack defines no rules", key=True))
    calendar = _calendar(manifest, problems)
    order = [MANIFEST, *([catalogue_file] if catalogue_file else []), *files]
    if problems:
        raise problems.invalid(pack_files.label, order)
    pack = _pack(
        pack_files, manifest=manifest, files=files, parts=parts, windows=windows,
        catalogue=(catalogue, catalogue_file),
    )  # fmt: skip
    applies_to = QualificationChanges(
        manifest.data.get(QUALIFICATION_CHANGES, QualificationChanges.NEW_EVALUATIONS)
    )
    return attrs.evolve(pack, calendar=calendar, qualification_changes_apply_to=applies_to)


def _catalogue(
    pack_files: _PackFiles, manifest: SourceDoc, problems: Problems
) -> tuple[str | None, PackCatalogue | None]:
    """The file the manifest names as ``catalogue`` and the catalogue in it; the legacy
    catalogue (and no file) when it names none.
    """
    name = manifest.data.get(CATALOGUE_KEY)
    if name is None:
        return None, legacy_catalogue()
    problem = pack_files.path_problem(name)
    if problem:
        problems.add(manifest.error((CATALOGUE_KEY,), problem))
        return None, None
    name = PurePosixPath(name).as_posix()
    text = pack_files.text(name, problems)
    if text is None:
        return name, None
    doc, errors = parse_yaml(text, name)
    problems.extend(errors)
    return name, read_catalogue(doc, problems) if doc is not None else None


def _calendar(manifest: SourceDoc, problems: Problems) -> Calendar:
    """The manifest's ``calendar``: a time zone the running Python knows, real dates."""
    data = manifest.data.get("calendar")
    if data is None:
        return UTC_CALENDAR
    name = data.get("time_zone", DEFAULT_TIME_ZONE)
    try:
        zone(name)
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        message = f"unknown time zone {name!r}; expected an IANA name like Asia/Shanghai or UTC"
        problems.add(manifest.error(("calendar", "time_zone"), message))
        name = DEFAULT_TIME_ZONE
    holidays = []
    for index, value in enumerate(data.get("holidays", ())):
        day = _date(value)
        if day is None:
            message = f"holiday {value!r} is not a date; write it like 2026-10-01"
            problems.add(manifest.error(("calendar", "holidays", index), message))
        else:
            holidays.append(day)
    return Calendar(name, frozenset(holidays))


def _date(value: object) -> date | None:
    # YAML reads 2026-10-01 as a date already; a quoted one arrives as text.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def read_pack_files(directory: str | os.PathLike[str]) -> dict[str, str]:
    """The manifest, the catalogue and the rule files it names (those that exist), as relative
    path -> text.

    Files are read as bytes and decoded as UTF-8 without newline translation, so the text
    hashes to the same version as the files on disk. A manifest that cannot be read as YAML
    is still returned (alone): the loader, here or on a server, reports what is wrong.
    Raises :class:`PackInvalid` for a file that is not UTF-8 text.
    """
    pack_files = _PackFiles(directory)
    problems = Problems()
    if pack_files.exists(MANIFEST):
        text = pack_files.text(MANIFEST, problems)
        doc = parse_yaml(text, MANIFEST)[0] if text is not None else None
        data = doc.data if doc is not None and isinstance(doc.data, dict) else {}
        names = data.get("files")
        listed = [*(names if isinstance(names, list) else ()), data.get(CATALOGUE_KEY)]
        for name in listed:
            if isinstance(name, str) and pack_files.path_problem(name) is None:
                pack_files.text(PurePosixPath(name).as_posix(), problems)
    if problems:
        raise PackInvalid(problems.errors)
    return pack_files.texts


def content_version(contents: Mapping[str, bytes]) -> str:
    """SHA-256 (hex) of a pack's files, by relative path and bytes, in path order.

    Each file is framed by its path and length, so moving bytes between files or renaming a
    file changes the version; the same content always gives the same version.
    """
    digest = hashlib.sha256()
    for name in sorted(contents):
        data = contents[name]
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _pack(
    pack_files: _PackFiles,
    *,
    manifest: SourceDoc,
    files: Sequence[str],
    parts: Sequence[FilePart],
    windows: tuple[Window, ...],
    catalogue: tuple[PackCatalogue, str | None],
) -> PolicyPack:
    criteria = next((part.criteria for part in parts if part.criteria is not None), ())
    certificates = next(
        (part.certificates for part in parts if part.certificates is not None),
        CertificateRequirements(),
    )
    objectives = next((p.objectives for p in parts if p.objectives is not None), None)
    return PolicyPack(
        name=manifest.data["name"],
        title=manifest.data["title"],
        description=manifest.data.get("description", ""),
        version=content_version(pack_files.contents),
        directory=pack_files.root,
        files=tuple(files),
        criteria=criteria,
        certificates=certificates,
        rules=tuple(rule for part in parts for rule in part.rules),
        catalogue=catalogue[0],
        catalogue_file=catalogue[1],
        objectives=objectives or ObjectiveDefaults(),
        tiers=next((p.tiers for p in parts if p.tiers is not None), ()),
        windows=windows,
        credits=next((p.credits for p in parts if p.credits is not None), None),
        compensation=next((p.compensation for p in parts if p.compensation is not None), None),
        business_reviews=next(
            (p.business_reviews for p in parts if p.business_reviews is not None), None
        ),
        training=next((p.training for p in parts if p.training is not None), None),
        contract_requires_need=next(
            (p.contract_requires_need for p in parts if p.contract_requires_need is not None),
            False,
        ),
        problem_tickets=next(
            (p.problem_tickets for p in parts if p.problem_tickets is not None), None
        ),
        improvement=next((p.improvement for p in parts if p.improvement is not None), None),
        invariants=tuple(item for part in parts for item in part.invariants),
        sources=dict(pack_files.texts),
        scorecard=next((p.scorecard for p in parts if p.scorecard is not None), None),
        segments=next((p.segments for p in parts if p.segments is not None), ()),
    )


class _PackFiles:
    """The files of a pack in a folder or given as data, and what has been read of them.

    What was read (as bytes) makes the version; the decoded text is kept for later checks
    (lint reads positions from it).
    """

    def __init__(self, source: PackSource) -> None:
        self.root: Path | None = None
        self._given: Mapping[str, str | bytes] = {}
        if isinstance(source, Mapping):
            self._given = source
        else:
            self.root = Path(source).resolve()
        self.contents: dict[str, bytes] = {}
        self.texts: dict[str, str] = {}

    @property
    def label(self) -> str:
        """The folder's path, or nothing for a pack given as data."""
        return "" if self.root is None else str(self.root)

    def exists(self, name: str) -> bool:
        """True when ``name`` (a safe relative path) is a file of the pack."""
        if self.root is None:
            return name in self._given
        return (self.root / name).is_file()

    def path_problem(self, name: str) -> str | None:
        """Why the manifest may not list ``name``, or None when it can be read."""
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts:
            return f"{name!r} must be a path inside the pack directory, without '..'"
        if relative.as_posix() == MANIFEST:
            return "the manifest cannot list itself"
        if self.root is not None and not (self.root / relative).resolve().is_relative_to(self.root):
            return f"{name!r} leads outside the pack directory"
        if not self.exists(relative.as_posix()):
            return f"file {name!r} does not exist in {self.root or 'the pack'}"
        return None

    def text(self, name: str, problems: Problems) -> str | None:
        """The text of ``name`` (which exists), or None when it is not UTF-8 or larger than
        :data:`~sqm.rules.limits.MAX_FILE_BYTES` (a problem; a large file is not read).
        """
        size = self._size(name)
        if size > MAX_FILE_BYTES:
            problems.add(PackError(name, 0, 0, f"at most {MAX_FILE_BYTES} bytes, got {size}"))
            return None
        data = self._bytes(name)
        self.contents[name] = data
        text = utf8_text(data, name)
        if isinstance(text, PackError):
            problems.add(text)
            return None
        self.texts[name] = text
        return text

    def _size(self, name: str) -> int:
        if self.root is not None:
            return (self.root / name).stat().st_size
        given = self._given[name]
        return len(given.encode("utf-8") if isinstance(given, str) else given)

    def _bytes(self, name: str) -> bytes:
        if self.root is not None:
            return (self.root / name).read_bytes()
        given = self._given[name]
        return given.encode("utf-8") if isinstance(given, str) else given


def _manifest(pack_files: _PackFiles, problems: Problems) -> SourceDoc | None:
    if not pack_files.exists(MANIFEST):
        where = " ".join(filter(None, ("policy pack directory", pack_files.label)))
        problems.add(PackError(MANIFEST, 0, 0, f"file not found in the {where}"))
        return None
    return _read_doc(pack_files, MANIFEST, MANIFEST_SCHEMA, problems)


def _read_doc(
    pack_files: _PackFiles, name: str, schema: str, problems: Problems
) -> SourceDoc | None:
    """The schema-valid document ``name``, or None (with its problems recorded)."""
    text = pack_files.text(name, problems)
    if text is None:
        return None
    doc, errors = parse_yaml(text, name)
    problems.extend(errors)
    if doc is None:
        return None
    invalid = schema_errors(doc, schema)
    problems.extend(invalid)
    return None if invalid else doc


def _listed_files(pack_files: _PackFiles, manifest: SourceDoc, problems: Problems) -> list[str]:
    """The manifest's rule files that are safe to read; problems for the others."""
    files = []
    for index, name in enumerate(manifest.data["files"]):
        problem = pack_files.path_problem(name)
        if problem:
            problems.add(manifest.error(("files", index), problem))
        else:
            files.append(PurePosixPath(name).as_posix())
    return files
