"""Errors of the policy language: every problem in a pack is located at ``file:line:column``."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from sqm.domain.errors import DomainError


@attrs.frozen(order=True)
class PackError:
    """One located problem in a policy pack.

    ``file`` is relative to the pack directory; ``line`` and ``column`` are 1-based, and 0
    when the problem concerns a whole file (a file that does not exist, say).
    """

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        if self.line == 0:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class PackInvalid(DomainError):
    """A policy pack failed to load; ``errors`` holds every problem found, not just the first."""

    reason = "POLICY_INVALID"

    def __init__(self, errors: Iterable[PackError], pack: str = "") -> None:
        self.errors = tuple(errors)
        self.pack = pack
        count = len(self.errors)
        noun = "problem" if count == 1 else "problems"
        where = f"policy pack {pack}" if pack else "policy pack"
        lines = [f"{where} is invalid ({count} {noun}):", *(str(e) for e in self.errors)]
        super().__init__("\n".join(lines))


class Problems:
    """Collects located problems so a load reports all of them at once."""

    def __init__(self) -> None:
        self._errors: list[PackError] = []

    def add(self, error: PackError) -> None:
        """Record one problem."""
        self._errors.append(error)

    def extend(self, errors: Iterable[PackError]) -> None:
        """Record several problems."""
        self._errors.extend(errors)

    @property
    def errors(self) -> tuple[PackError, ...]:
        """The problems recorded so far, in the order found."""
        return tuple(self._errors)

    def __bool__(self) -> bool:
        return bool(self._errors)

    def invalid(self, pack: str, file_order: Iterable[str] = ()) -> PackInvalid:
        """A :class:`PackInvalid` with every problem, sorted by file (in ``file_order``) then
        position; duplicates dropped.
        """
        rank = {name: index for index, name in enumerate(file_order)}
        unique = dict.fromkeys(self._errors)  # keeps the order found; sorting is stable
        ordered = sorted(
            unique, key=lambda e: (rank.get(e.file, len(rank)), e.file, e.line, e.column)
        )
        return PackInvalid(ordered, pack)
