"""JSON Schema validation of manifests and rule files, each error located at its YAML node.

The schemas in ``rules/schema/`` are what editors use too; here every schema error is turned
into a message a policy author can act on ("unknown key 'whenn'; expected one of: ..."), at
the line and column of the offending key or value (found through the error's path).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from sqm.rules.errors import PackError
from sqm.rules.yaml_source import DocPath, SourceDoc, describe_value

MANIFEST_SCHEMA = "manifest.schema.json"
POLICY_FILE_SCHEMA = "policy-file.schema.json"

_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "text",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
    "null": "nothing",
}


@cache
def load_schema(name: str) -> Mapping[str, Any]:
    """The parsed JSON Schema ``name`` from ``rules/schema/``."""
    text = resources.files("sqm.rules").joinpath("schema", name).read_text(encoding="utf-8")
    schema: Mapping[str, Any] = json.loads(text)
    return schema


@cache
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(load_schema(name))


def schema_errors(doc: SourceDoc, schema: str) -> tuple[PackError, ...]:
    """Every way ``doc`` breaks ``schema``, located and explained, in document order."""
    errors = [e for error in _validator(schema).iter_errors(doc.data) for e in _explain(doc, error)]
    return tuple(sorted(dict.fromkeys(errors), key=lambda e: (e.line, e.column)))


def _explain(doc: SourceDoc, error: ValidationError) -> Iterator[PackError]:
    path: DocPath = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    value: Any = error.instance
    if error.validator == "additionalProperties":
        yield from _unknown_keys(doc, path, schema, value)
    elif error.validator == "uniqueItems":
        yield _duplicate_item(doc, path, value)
    else:
        explain = _MESSAGES.get(str(error.validator))
        yield doc.error(path, explain(schema, value) if explain else error.message)


def _unknown_keys(
    doc: SourceDoc, path: DocPath, schema: Mapping[str, Any], value: Mapping[str, Any]
) -> Iterator[PackError]:
    allowed = sorted(schema.get("properties", {}))
    for key in value:
        if key not in allowed:
            message = f"unknown key {key!r}; expected one of: {', '.join(allowed)}"
            yield doc.error((*path, key), message, key=True)


def _duplicate_item(doc: SourceDoc, path: DocPath, items: list[Any]) -> PackError:
    for index, item in enumerate(items):
        if item in items[:index]:
            return doc.error((*path, index), f"{item!r} is listed twice")
    return doc.error(path, "items must be unique")  # pragma: no cover - jsonschema found one


def _required(schema: Mapping[str, Any], value: Any) -> str:
    # jsonschema reports each missing key separately; one message names them all.
    missing = ", ".join(repr(key) for key in schema["required"] if key not in value)
    return f"missing required key(s): {missing}"


def _type(schema: Mapping[str, Any], value: Any) -> str:
    return f"expected {_expected_types(schema['type'])}, got {describe_value(value)}"


def _const(schema: Mapping[str, Any], value: Any) -> str:
    return f"expected {schema['const']!r}, got {describe_value(value)}"


def _enum(schema: Mapping[str, Any], value: Any) -> str:
    choices = ", ".join(str(choice) for choice in schema["enum"])
    return f"expected one of: {choices}; got {describe_value(value)}"


def _pattern(schema: Mapping[str, Any], value: Any) -> str:
    expected = schema.get("x-expected", f"text matching {schema['pattern']}")
    return f"expected {expected}, got {describe_value(value)}"


def _one_group(schema: Mapping[str, Any], value: Any) -> str:
    return f"expected exactly one of: {', '.join(schema.get('properties', {}))}"


def _bound(symbol: str, keyword: str) -> Callable[[Mapping[str, Any], Any], str]:
    def message(schema: Mapping[str, Any], value: Any) -> str:
        return f"expected a number {symbol} {schema[keyword]}, got {describe_value(value)}"

    return message


_MESSAGES: Mapping[str, Callable[[Mapping[str, Any], Any], str]] = {
    "required": _required,
    "type": _type,
    "const": _const,
    "enum": _enum,
    "pattern": _pattern,
    "minProperties": _one_group,
    "maxProperties": _one_group,
    "minItems": lambda schema, _: f"expected at least {schema['minItems']} item(s)",
    "minLength": lambda _, __: "must not be empty",
    "exclusiveMinimum": _bound(">", "exclusiveMinimum"),
    "minimum": _bound(">=", "minimum"),
    "maximum": _bound("<=", "maximum"),
    "exclusiveMaximum": _bound("<", "exclusiveMaximum"),
}


def _expected_types(types: str | list[str]) -> str:
    names = [types] if isinstance(types, str) else types
    return " or ".join(_TYPE_WORDS.get(name, name) for name in names)
