"""YAML that remembers where everything came from.

Rule files are parsed with PyYAML's safe loader into plain data (dicts, lists, scalars), and
the line and column of every mapping key and every value is kept beside the data, indexed by
its path (``("rules", 0, "when", "all", 1, "op")``). Every later check can then point a policy
author at ``file:line:column``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import attrs
import yaml

from sqm.rules.errors import PackError

PathItem: TypeAlias = str | int
DocPath: TypeAlias = tuple[PathItem, ...]
Position: TypeAlias = tuple[int, int]

# Aliases can expand a small file into a huge one ("billion laughs"); no rule file needs this many.
MAX_NODES = 100_000


def format_path(path: DocPath, data: Any = None) -> str:
    """``("rules", 4, "when")`` as ``rules[MON-002].when``: how a policy author reads a
    location. An item of a list is named by its ``id`` when ``data`` (the document) has one,
    by its position otherwise (``rules[4]``).
    """
    text = ""
    value = data
    for item in path:
        if isinstance(item, int):
            found = _item(value, item)
            named = found.get("id") if isinstance(found, dict) else None
            text += f"[{named}]" if isinstance(named, str) and named else f"[{item}]"
            value = found
        else:
            text += f".{item}" if text else item
            value = value.get(item) if isinstance(value, dict) else None
    return text or "(document)"


def _item(value: Any, index: int) -> Any:
    return value[index] if isinstance(value, list) and 0 <= index < len(value) else None


def with_path(path: DocPath, message: str, data: Any = None) -> str:
    """``message`` prefixed by the path it concerns (nothing for the document itself)."""
    return f"{format_path(path, data)}: {message}" if path else message


def describe_value(value: Any) -> str:
    """A value as an error message shows it: ``the text '70'``, ``true``, ``a list``."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


@attrs.frozen
class SourceDoc:
    """One parsed YAML file: its data and the position of every key and value in it."""

    file: str
    data: Any
    value_positions: Mapping[DocPath, Position]
    key_positions: Mapping[DocPath, Position]

    def position(self, path: DocPath, *, key: bool = False) -> Position:
        """Where the value at ``path`` starts (or its key, with ``key=True``).

        Falls back to the nearest enclosing node, so a check can always point somewhere.
        """
        if key and path in self.key_positions:
            return self.key_positions[path]
        while path not in self.value_positions and path:
            path = path[:-1]
        return self.value_positions.get(path, (1, 1))

    def error(self, path: DocPath, message: str, *, key: bool = False) -> PackError:
        """A problem located at ``path``, its message prefixed by the path."""
        line, column = self.position(path, key=key)
        return PackError(self.file, line, column, with_path(path, message, self.data))

    def get(self, path: DocPath) -> Any:
        """The value at ``path`` (which must exist)."""
        value = self.data
        for item in path:
            value = value[item]
        return value


def utf8_text(data: bytes, file: str) -> str | PackError:
    """``data`` decoded as UTF-8 (no newline translation), or where it stops being UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        return PackError(file, line, column, "not valid UTF-8 text")


def parse_yaml(text: str, file: str) -> tuple[SourceDoc | None, tuple[PackError, ...]]:
    """Parse ``text`` with the safe loader.

    Returns the document (None when the YAML is malformed) and the problems found. Duplicate
    keys and non-text keys are reported but still give a document, so later checks can run.
    """
    try:
        loader = yaml.SafeLoader(text)  # refuses control characters here, before parsing
    except yaml.reader.ReaderError as error:
        return None, (_reader_error(error, text, file),)
    builder = _Builder(loader, file)
    try:
        node = loader.get_single_node()
        data = None if node is None else builder.build(node, ())
    except yaml.MarkedYAMLError as error:
        return None, (_yaml_error(error, file),)
    except yaml.YAMLError:
        return None, (PackError(file, 1, 1, f"malformed YAML: {_UNREADABLE}"),)
    except _TooLarge as error:
        return None, (PackError(file, error.line, error.column, str(error)),)
    finally:
        loader.dispose()
    return SourceDoc(file, data, builder.values, builder.keys), tuple(builder.errors)


# PyYAML's words, matched in its problem (and context), and what they mean to a person
# editing a rule file; ``True`` locates the error where the construct began (an unclosed
# quote or bracket is found only at the end of the file, but it was opened earlier).
_SYNTAX: tuple[tuple[str, str, bool], ...] = (
    (
        "cannot start any token",
        "a tab or a character that cannot start a value here; indent with spaces only, and"
        " put text that starts with @, ` or % in quotes",
        False,
    ),
    (
        "mapping values are not allowed",
        "a second ':' on this line: put the value in quotes when it contains ': ', or move"
        " the key to a line of its own",
        False,
    ),
    (
        "could not find expected ':'",
        "this line should be 'key: value': the ':' is missing, or the line is indented"
        " differently from the lines around it",
        True,
    ),
    (
        "while parsing a flow node",
        "a value is missing inside [ ] or { }: a ',' or ':' with nothing after it, or a"
        " bracket closed too early",
        False,
    ),
    (
        "found undefined alias",
        "'*' refers to an anchor ('&name') that is not defined above; check the name",
        False,
    ),
    (
        "unknown escape character",
        "an unknown escape after a backslash in double quotes; use single quotes, or write"
        " two backslashes",
        False,
    ),
    (
        "while scanning a quoted scalar",
        "a quoted text is never closed: its closing quote is missing",
        True,
    ),
    (
        "while parsing a flow sequence",
        "a [list] is not closed with ']', or two of its items have no ',' between them",
        True,
    ),
    (
        "while parsing a flow mapping",
        "a {mapping} is not closed with '}', or two of its entries have no ',' between them",
        True,
    ),
    (
        "expected '-' indicator",
        "a list item should start with '- ' at the same indentation as the items above",
        False,
    ),
    (
        "while parsing a block",
        "the indentation here does not line up with the lines above (each key of a mapping,"
        " each '- ' of a list, at the same column)",
        False,
    ),
    (
        "found duplicate anchor",
        "the same anchor ('&name') is defined twice; give each its own name",
        False,
    ),
)
_UNREADABLE = (
    "this cannot be read as YAML; check the indentation (spaces only), the ':' after each"
    " key, and that every quote and bracket is closed"
)


def _yaml_error(error: yaml.MarkedYAMLError, file: str) -> PackError:
    words = f"{error.context or ''} {error.problem or ''}"
    message, at_start = next(
        ((m, start) for phrase, m, start in _SYNTAX if phrase in words), (_UNREADABLE, False)
    )
    mark = (error.context_mark if at_start else None) or error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return PackError(file, line, column, f"malformed YAML: {message}")


def _reader_error(error: yaml.reader.ReaderError, text: str, file: str) -> PackError:
    # A reader error has no mark, only the character's offset in the text.
    position = min(max(error.position, 0), len(text))
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    code = error.character if isinstance(error.character, int) else ord(error.character)
    return PackError(file, line, column, f"malformed YAML: character U+{code:04X} is not allowed")


class _TooLarge(Exception):
    def __init__(self, mark: yaml.Mark) -> None:
        self.line, self.column = mark.line + 1, mark.column + 1
        super().__init__(f"document expands to more than {MAX_NODES} values (aliases?)")


class _Builder:
    """Turns composed nodes into plain data, recording positions by path."""

    def __init__(self, loader: yaml.SafeLoader, file: str) -> None:
        self._loader = loader
        self._file = file
        self._active: set[int] = set()
        self.values: dict[DocPath, Position] = {}
        self.keys: dict[DocPath, Position] = {}
        self.errors: list[PackError] = []

    def build(self, node: yaml.Node, path: DocPath) -> Any:
        if len(self.values) >= MAX_NODES:
            raise _TooLarge(node.start_mark)
        self.values[path] = _position(node)
        if id(node) in self._active:  # an alias that refers to one of its own ancestors
            self._error(node, with_path(path, "a YAML alias may not contain itself"))
            return None
        if isinstance(node, yaml.ScalarNode):
            try:
                return self._loader.construct_object(node, deep=True)
            except ValueError:
                # A scalar shaped like a date that is none (2026-13-01) stays text, so the
                # check that expects a date can say so at its line.
                return str(node.value)
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            return self._mapping(node, path)
        finally:
            self._active.discard(id(node))

    def _mapping(self, node: yaml.Node, path: DocPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node, path)
            if key is None:
                continue
            if key in first_seen:
                line = _position(first_seen[key])[0]
                message = f"duplicate key {key!r} (first on line {line})"
                self._error(key_node, with_path(path, message))
            first_seen.setdefault(key, key_node)
            self.keys[(*path, key)] = _position(key_node)
            result[key] = self.build(value_node, (*path, key))
        return result

    def _key(self, node: yaml.Node, path: DocPath) -> str | None:
        if node.tag == "tag:yaml.org,2002:merge":
            # Merged keys would have no position of their own in this file.
            self._error(
                node, with_path(path, "merge keys (<<) are not supported; write the keys out")
            )
            return None
        scalar = isinstance(node, yaml.ScalarNode)
        key = self._loader.construct_object(node) if scalar else None
        if isinstance(key, str):
            return key
        shown = repr(key) if scalar else "a collection"
        self._error(node, with_path(path, f"mapping keys must be text, got {shown}; quote it"))
        return None

    def _error(self, node: yaml.Node, message: str) -> None:
        line, column = _position(node)
        self.errors.append(PackError(self._file, line, column, message))


def _position(node: yaml.Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1
