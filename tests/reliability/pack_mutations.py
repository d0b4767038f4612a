"""Hostile policy packs: the default telecom pack, mutated, and rule files generated whole.

A pack is a mapping of relative path to bytes (its manifest, rule files and tests). Each
drawn pack is the default pack with one to three mutations, each on one file:

- in the text: a line deleted, duplicated, moved or re-indented (tabs too), random bytes
  inserted (invalid UTF-8, NUL, control characters), the file cut short, a number replaced
  by a huge or negative one, an operator by one the language does not have, an alias bomb;
- in the YAML tree (parsed, changed, dumped again): a key deleted, renamed or added, a value
  replaced by one of the wrong type or range (NaN, 10**400, a deep list, a long string), a
  list item duplicated (duplicate rule and window ids);
- or a file replaced by a document generated from the language's own words.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from sqm.rules import default_pack_dir

Pack = dict[str, bytes]
Draw = Callable[[st.SearchStrategy[Any]], Any]
DocPath = tuple[Any, ...]


def original_pack() -> Pack:
    """The default pack's files, tests included (a fresh copy each time)."""
    return dict(_original())


@functools.cache
def _original() -> Pack:
    root = default_pack_dir()
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*.yaml"))
    }


def rule_files(pack: Pack) -> list[str]:
    """The manifest and the files it lists (the ones that make the version)."""
    return [name for name in pack if not name.startswith("tests/")]


WORDS = (
    "format", "name", "title", "files", "rules", "id", "stage", "when", "all", "any", "fact",
    "op", "value", "then", "action", "message", "windows", "kind", "days", "criteria",
    "weight", "objectives", "tiers", "penalties", "improvement", "sqm.policy/v1",
    "qualification", "monitoring", "deadlines", "open_review", "qualify", "terminate",
    "weighted_score", "breach_severity_rank", "lifecycle", ">=", "<=", "==", "!=",
)  # fmt: skip
HOSTILE_VALUES: tuple[Any, ...] = (
    10**400, -(10**30), -1, 0, 0.1, float("nan"), float("inf"), -float("inf"), "", None, True,
    [], {}, "x" * 3_000, "=~", "≥", ">==", "between", "{value", "{unknown_fact}", "MON-001",
    "../../etc/passwd", "\u202e", [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
)  # fmt: skip
HOSTILE_NUMBERS = ("99999999999999999999999999", "-1", "0", "1e309", ".nan", "-.inf", "0x7f")
OPERATORS = ('"=~"', '"≥"', '">=="', "between", '"in"', "!", '""')
# Expands to 9**4 values: the loader must stop it (MAX_NODES), not build it.
ALIAS_BOMB = (
    b'bomb: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    b"b2: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nb3: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    b"b4: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
)


def hostile_values() -> st.SearchStrategy[Any]:
    """Values of the wrong type or range for any field of a rule file."""
    return st.one_of(
        st.sampled_from(HOSTILE_VALUES),
        st.integers(-(10**20), 10**20),
        st.floats(),
        st.text(max_size=20),
        st.sampled_from(WORDS),
    )


# --- text mutations ----------------------------------------------------------------------


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _pick(draw: Draw, count: int) -> int:
    return int(draw(st.integers(0, max(count - 1, 0))))


def delete_line(draw: Draw, data: bytes) -> bytes:
    """A line removed."""
    lines = _lines(data)
    del lines[_pick(draw, len(lines))]
    return b"\n".join(lines)


def duplicate_line(draw: Draw, data: bytes) -> bytes:
    """A line repeated below itself."""
    lines = _lines(data)
    at = _pick(draw, len(lines))
    lines.insert(at, lines[at])
    return b"\n".join(lines)


def move_line(draw: Draw, data: bytes) -> bytes:
    """A line moved elsewhere."""
    lines = _lines(data)
    line = lines.pop(_pick(draw, len(lines)))
    lines.insert(_pick(draw, len(lines) + 1), line)
    return b"\n".join(lines)


def reindent(draw: Draw, data: bytes) -> bytes:
    """A line indented more, less, or with a tab (bad indentation)."""
    lines = _lines(data)
    at = _pick(draw, len(lines))
    prefix = draw(st.sampled_from([b" ", b"  ", b"    ", b"\t", b""]))
    lines[at] = prefix + (lines[at][2:] if draw(st.booleans()) else lines[at])
    return b"\n".join(lines)


def insert_bytes(draw: Draw, data: bytes) -> bytes:
    """Random bytes (invalid UTF-8, NUL, control characters) at a random place."""
    junk = draw(st.one_of(st.binary(min_size=1, max_size=8), st.sampled_from([b"\x00", b"\xff"])))
    at = _pick(draw, len(data) + 1)
    return data[:at] + junk + data[at:]


def truncate(draw: Draw, data: bytes) -> bytes:
    """The file cut short anywhere."""
    return data[: _pick(draw, len(data) + 1)]


def replace_number(draw: Draw, data: bytes) -> bytes:
    """A number replaced by a huge, negative or not-a-number one."""
    return _replace_match(draw, data, rb"(?<![\w.])\d+(\.\d+)?(?![\w.])", HOSTILE_NUMBERS)


def replace_operator(draw: Draw, data: bytes) -> bytes:
    """A comparison operator replaced by one the language does not have."""
    return _replace_match(draw, data, rb'"(>=|<=|==|!=|>|<)"', OPERATORS)


def _replace_match(draw: Draw, data: bytes, pattern: bytes, choices: tuple[str, ...]) -> bytes:
    found = list(re.finditer(pattern, data))
    if not found:
        return data
    match = found[_pick(draw, len(found))]
    new = str(draw(st.sampled_from(choices))).encode()
    return data[: match.start()] + new + data[match.end() :]


def alias_bomb(draw: Draw, data: bytes) -> bytes:
    """A billion-laughs alias expansion added to the top of the document."""
    return ALIAS_BOMB + data


TEXT_MUTATIONS = (
    delete_line, duplicate_line, move_line, reindent, insert_bytes, truncate,
    replace_number, replace_operator, alias_bomb,
)  # fmt: skip


# --- tree mutations ----------------------------------------------------------------------


def _paths(node: Any, here: DocPath = ()) -> list[DocPath]:
    found = [here]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*here, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*here, index))
    return found


def _parent(doc: Any, path: DocPath) -> Any:
    for part in path[:-1]:
        doc = doc[part]
    return doc


def _dump(doc: Any) -> bytes:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100).encode()


def _tree_mutation(change: Callable[[Draw, Any, DocPath], None]) -> Callable[[Draw, bytes], bytes]:
    """A mutation of the parsed document; a file that does not parse gets a text one."""

    def mutate(draw: Draw, data: bytes) -> bytes:
        try:
            doc = yaml.safe_load(data)
        except (yaml.YAMLError, UnicodeDecodeError):
            return delete_line(draw, data)
        paths = [p for p in _paths(doc) if p]
        if not paths:
            return data
        change(draw, doc, draw(st.sampled_from(paths)))
        return _dump(doc)

    mutate.__name__ = change.__name__
    mutate.__doc__ = change.__doc__
    return mutate


@_tree_mutation
def delete_node(draw: Draw, doc: Any, path: DocPath) -> None:
    """A key, or a list item, removed."""
    del _parent(doc, path)[path[-1]]


@_tree_mutation
def replace_value(draw: Draw, doc: Any, path: DocPath) -> None:
    """A value replaced by one of the wrong type or range."""
    _parent(doc, path)[path[-1]] = draw(hostile_values())


@_tree_mutation
def duplicate_item(draw: Draw, doc: Any, path: DocPath) -> None:
    """A list item (a rule, a window, a tier) repeated: duplicate ids."""
    parent = _parent(doc, path)
    if isinstance(parent, list):
        parent.insert(path[-1], parent[path[-1]])


@_tree_mutation
def rename_key(draw: Draw, doc: Any, path: DocPath) -> None:
    """A key renamed (a typo, or another word of the language)."""
    parent = _parent(doc, path)
    if isinstance(parent, dict):
        new = draw(st.one_of(st.sampled_from(WORDS), st.just(f"{path[-1]}x")))
        parent[new] = parent.pop(path[-1])


TREE_MUTATIONS = (delete_node, replace_value, duplicate_item, rename_key)


def generated_document(draw: Draw, data: bytes) -> bytes:
    """The whole file replaced by a document built from the language's words."""
    leaves = st.one_of(st.sampled_from(WORDS), hostile_values())
    tree = st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(WORDS), inner, max_size=4)
        ),
        max_leaves=20,
    )
    body = draw(st.dictionaries(st.sampled_from(WORDS), tree, max_size=5))
    if draw(st.booleans()):
        body = {"format": "sqm.policy/v1", **body}
    return _dump(body)


MUTATIONS = (*TEXT_MUTATIONS, *TREE_MUTATIONS, generated_document)


class MutatedPack:
    """A mutated pack, shown (when a test fails) as its steps and a short diff.

    A plain class: Hypothesis prints attrs classes field by field, whole files included.
    """

    def __init__(self, files: Pack, steps: tuple[str, ...]) -> None:
        self.files = files
        self.steps = steps

    def __repr__(self) -> str:
        original = original_pack()
        diff: list[str] = []
        for name, data in self.files.items():
            if data != original.get(name):
                before = original.get(name, b"").decode("utf-8", "replace").splitlines()
                after = data.decode("utf-8", "replace").splitlines()
                diff += difflib.unified_diff(before, after, name, name, n=0, lineterm="")
        shown = [line[:120] for line in diff[:MAX_DIFF_LINES]]
        return f"MutatedPack(steps={list(self.steps)}, diff=\n" + "\n".join(shown) + ")"


MAX_DIFF_LINES = 30


@st.composite
def mutated_packs(draw: Draw, files: Callable[[Pack], list[str]] = rule_files) -> MutatedPack:
    """The default pack with one to three mutations, each on one of ``files(pack)``."""
    pack = original_pack()
    steps = []
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(files(pack)))
        mutation = draw(st.sampled_from(MUTATIONS))
        pack[name] = mutation(draw, pack[name])
        steps.append(f"{mutation.__name__}({name})")
    return MutatedPack(pack, tuple(steps))


def case_files(pack: Pack) -> list[str]:
    """The pack's test files (for mutating what ``sqm policy test`` reads)."""
    return [name for name in pack if name.startswith("tests/")]


def write(pack: Pack, root: Path) -> Path:
    """Write ``pack`` under ``root`` and return the folder."""
    for name, data in pack.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root
