"""Loading a policy pack: manifest, rule files, schema, semantic checks, content version.

``load_pack`` either returns a fully checked :class:`PolicyPack` or raises
:class:`PackInvalid` listing every problem found, each at ``file:line:column``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from rules.build import FilePart, build_file
from rules.build_invariants import duplicate_invariant_ids
from rules.build_sections import pack_windows
from rules.catalogue import CATALOGUE, specs_with
from rules.checks import pack_errors
from rules.errors import PackError, Problems
from rules.model import CertificateRequirements, ObjectiveDefaults, PolicyPack, Window
from rules.schema_check import MANIFEST_SCHEMA, POLICY_FILE_SCHEMA, schema_errors
from rules.yaml_source import SourceDoc, parse_yaml

MANIFEST = "manifest.yaml"
"""The file every pack directory starts from; it lists the rule files."""


def load_pack(directory: str | os.PathLike[str]) -> PolicyPack:
    """Load, check and version the pack in ``directory``.

    Raises :class:`~rules.errors.PackInvalid` with every problem found.
    """
    root = Path(directory).resolve()
    problems = Problems()
    contents: dict[str, bytes] = {}
    manifest = _read_doc(root, MANIFEST, MANIFEST_SCHEMA, contents, problems)
    if manifest is None:  # without a manifest there is no list of files to check
        raise problems.invalid(str(root))
    files = _listed_files(root, manifest, problems)
    read = [_read_doc(root, name, POLICY_FILE_SCHEMA, contents, problems) for name in files]
    docs = [doc for doc in read if doc is not None]
    # Windows first: any file's rules may use any file's windows.
    windows = pack_windows(docs, CATALOGUE, problems, complete=len(docs) == len(files))
    specs = specs_with(windows)
    parts = [build_file(doc, problems, specs) for doc in docs]
    problems.extend(pack_errors(parts, specs))
    rule_ids = frozenset(rule.id for part in parts for rule in part.rules)
    problems.extend(duplicate_invariant_ids(docs, rule_ids))
    if not problems and not any(part.rules for part in parts):
        problems.add(manifest.error(("files",), "the pack defines no rules", key=True))
    if problems:
        raise problems.invalid(str(root), [MANIFEST, *files])
    return _pack(
        root,
        manifest=manifest,
        files=files,
        parts=parts,
        windows=windows,
        version=content_version(contents),
    )


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
    root: Path,
    *,
    manifest: SourceDoc,
    files: Sequence[str],
    parts: Sequence[FilePart],
    windows: tuple[Window, ...],
    version: str,
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
        version=version,
        directory=root,
        files=tuple(files),
        criteria=criteria,
        certificates=certificates,
        rules=tuple(rule for part in parts for rule in part.rules),
        objectives=objectives or ObjectiveDefaults(),
        tiers=next((p.tiers for p in parts if p.tiers is not None), ()),
        windows=windows,
        credits=next((p.credits for p in parts if p.credits is not None), None),
        improvement=next((p.improvement for p in parts if p.improvement is not None), None),
        invariants=tuple(item for part in parts for item in part.invariants),
    )


def _read_doc(
    root: Path, name: str, schema: str, contents: dict[str, bytes], problems: Problems
) -> SourceDoc | None:
    """The schema-valid document ``name``, or None (with its problems recorded)."""
    text = _read_text(root, name, contents, problems)
    if text is None:
        return None
    doc, errors = parse_yaml(text, name)
    problems.extend(errors)
    if doc is None:
        return None
    invalid = schema_errors(doc, schema)
    problems.extend(invalid)
    return None if invalid else doc


def _read_text(root: Path, name: str, contents: dict[str, bytes], problems: Problems) -> str | None:
    path = root / name
    if not path.is_file():
        where = "policy pack directory" if name == MANIFEST else "pack directory"
        problems.add(PackError(name, 0, 0, f"file not found in the {where} {root}"))
        return None
    data = path.read_bytes()
    contents[name] = data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        problems.add(PackError(name, line, column, "not valid UTF-8 text"))
        return None


def _listed_files(root: Path, manifest: SourceDoc, problems: Problems) -> list[str]:
    """The manifest's rule files that are safe to read; problems for the others."""
    files = []
    for index, name in enumerate(manifest.data["files"]):
        problem = _path_problem(root, name)
        if problem:
            problems.add(manifest.error(("files", index), problem))
        else:
            files.append(PurePosixPath(name).as_posix())
    return files


def _path_problem(root: Path, name: str) -> str | None:
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts:
        return f"{name!r} must be a path inside the pack directory, without '..'"
    if relative.as_posix() == MANIFEST:
        return "the manifest cannot list itself"
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        return f"{name!r} leads outside the pack directory"
    if not path.is_file():
        return f"file {name!r} does not exist in {root}"
    return None
