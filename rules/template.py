"""Message templates: ``"Qualified: weighted score {weighted_score} >= 70"``.

Placeholders name facts, optionally with a format spec (``{weighted_score:.1f}``); ``{{`` and
``}}`` are literal braces. Templates are checked when a pack loads and rendered at decision time.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

import attrs

from sqm.domain.model import FactValue


class TemplateError(ValueError):
    """A template that cannot be parsed or names something other than a fact."""


@attrs.frozen
class Placeholder:
    """One ``{fact:spec}`` of a template."""

    fact: str
    spec: str


def placeholders(template: str) -> tuple[Placeholder, ...]:
    """The placeholders of ``template``, in order; raises :class:`TemplateError` if malformed."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise TemplateError(f"malformed message template: {error}") from None
    found = []
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier():
            raise TemplateError(
                f"placeholder {{{field}}} must be a fact name, like {{weighted_score}}"
            )
        if conversion:
            raise TemplateError(
                f"placeholder {{{field}!{conversion}}}: conversions are not supported"
            )
        if "{" in (spec or ""):
            raise TemplateError(f"placeholder {{{field}}}: nested placeholders are not supported")
        found.append(Placeholder(field, spec or ""))
    return tuple(found)


def format_value(value: FactValue, spec: str = "") -> str:
    """A fact as a message shows it: ``true``/``false`` as in rule files, ``70`` not ``70.0``."""
    if spec:
        return format(value, spec)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def render(template: str, facts: Mapping[str, FactValue]) -> str:
    """``template`` with each placeholder replaced by its fact (checked at load time)."""
    pieces = []
    for literal, field, spec, _ in string.Formatter().parse(template):
        pieces.append(literal)
        if field is not None:
            pieces.append(format_value(facts[field], spec or ""))
    return "".join(pieces)
