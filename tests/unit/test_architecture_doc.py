"""docs/architecture.md names real folders, files and code, and lists every server folder."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
PATH = re.compile(r"(?<![<\w])(?:[a-z_]+/)+(?:[a-z_0-9*]+\.(?:py|proto|md))?")
# A file named next to the code it holds: "server/app/pipeline.py<br/>Pipeline.run".
LOCATED = re.compile(r"([a-z_/]+\.py)<br/>([A-Za-z_]+(?:\.[A-Za-z_]+)?)")
NAME = re.compile(r"`([A-Z][A-Za-z]+(?:\.[a-z_]+)?|[a-z_]+\.[a-z_]+)`")


def _text() -> str:
    return DOC.read_text(encoding="utf-8")


@cache
def _defined(path: Path) -> frozenset[str]:
    """Top-level names of a module, and ``Class.method`` for each class's methods."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            names.update(
                f"{node.name}.{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            )
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return frozenset(names)


def _everything_defined() -> frozenset[str]:
    names: set[str] = set()
    for folder in ("domain", "rules", "server", "simulation", "clients"):
        for path in (ROOT / folder).rglob("*.py"):
            names |= _defined(path)
    return frozenset(names | {n.split(".")[-1] for n in names})


def _is_module(name: str) -> bool:
    """``sqm.server``: a package or module of the installed namespace (proto/sqm links)."""
    where = ROOT / "proto" / name.replace(".", "/")
    return where.is_dir() or where.with_suffix(".py").is_file()


def test_every_path_the_page_names_exists() -> None:
    """Each folder and file written in the page is in the repository."""
    missing = [p for p in set(PATH.findall(_text())) if not list(ROOT.glob(p.rstrip("/")))]
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def test_code_drawn_in_the_flow_is_defined_in_the_file_named() -> None:
    """Each box of the flow names a file and a class, method or function defined in it."""
    located = LOCATED.findall(_text())
    assert len(located) >= 8, "the flow of one command names the code at each step"
    wrong = [(f, n) for f, n in located if n not in _defined(ROOT / f)]
    assert not wrong, f"not defined where the page says: {wrong}"


def test_names_in_the_text_are_defined_somewhere() -> None:
    """Class, method and function names quoted in the page exist in the code."""
    defined = _everything_defined()
    quoted = {n for n in NAME.findall(_text()) if not n.endswith((".py", ".md"))}
    unknown = sorted(n for n in quoted if n not in defined and not _is_module(n))
    assert not unknown, f"docs/architecture.md quotes names the code does not define: {unknown}"


def test_every_server_folder_is_in_the_layout_table() -> None:
    """A new folder under server/ must be described on the page."""
    folders = sorted(f"server/{p.parent.name}/" for p in (ROOT / "server").glob("*/__init__.py"))
    text = _text()
    absent = [f for f in folders if f"`{f}`" not in text]
    assert not absent, f"server folders missing from docs/architecture.md: {absent}"
