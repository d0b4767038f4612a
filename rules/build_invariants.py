"""The ``invariants:`` section of a rule file: each a kind from the domain's catalogue, with
that kind's parameters and no others (see :mod:`sqm.domain.invariants`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqm.domain.invariants import PARAMETERS, Invariant, InvariantKind
from sqm.domain.model import FactValue
from sqm.rules.build_sections import checked_member, listing
from sqm.rules.errors import PackError, Problems
from sqm.rules.yaml_source import DocPath, SourceDoc

_FIXED_KEYS = frozenset({"id", "title", "description", "kind"})


def invariants(doc: SourceDoc, problems: Problems) -> tuple[Invariant, ...]:
    """The file's invariants; every misfit parameter is reported at its key."""
    built = (
        _invariant(doc, ("invariants", i), problems) for i in range(len(doc.data["invariants"]))
    )
    return tuple(item for item in built if item is not None)


def _invariant(doc: SourceDoc, path: DocPath, problems: Problems) -> Invariant | None:
    data = doc.get(path)
    kind = checked_member(doc, (*path, "kind"), InvariantKind, "invariant kind", problems)
    if kind is None:
        return None
    expected = PARAMETERS[kind]
    given = {key: value for key, value in data.items() if key not in _FIXED_KEYS}
    before = len(problems.errors)
    for key in given:
        if key not in expected:
            allowed = listing(expected) or "none"
            message = f"{key!r} does not apply to {kind.value} (its parameters: {allowed})"
            problems.add(doc.error((*path, key), message, key=True))
    for name, parameter in expected.items():
        if name not in given and parameter.default is None:
            problems.add(doc.error(path, f"{kind.value} needs {name!r}: {parameter.description}"))
        elif parameter.choices and name in given and given[name] not in parameter.choices:
            choices = listing(parameter.choices)
            problems.add(doc.error((*path, name), f"expected one of: {choices}"))
    if len(problems.errors) > before:
        return None
    line = doc.position(path)[0]
    values: dict[str, FactValue] = given
    return Invariant(data["id"], data["title"], kind, values, doc.file, line)


def duplicate_invariant_ids(
    docs: Sequence[SourceDoc], rule_ids: frozenset[str]
) -> Iterator[PackError]:
    """Invariant ids used twice across the pack, or already a rule's id."""
    first: dict[str, str] = {}
    for doc in docs:
        for index, item in enumerate(doc.data.get("invariants", [])):
            path = ("invariants", index, "id")
            here = f"{doc.file}:{doc.position(path)[0]}"
            if item["id"] in first:
                yield doc.error(
                    path, f"duplicate invariant id {item['id']!r}; first at {first[item['id']]}"
                )
            elif item["id"] in rule_ids:
                yield doc.error(path, f"{item['id']!r} is already a rule's id")
            else:
                first[item["id"]] = here
