"""A figure: one measured value beside the ceiling that bounds it, a ratio and a target."""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

HIGHER = "higher"
LOWER = "lower"


@attrs.frozen
class Figure:
    """One line of the table.

    ``ratio`` is value / ceiling. ``better`` says which way is good: for a throughput the
    ratio is the share of the ceiling reached, for a latency or a size how many times the
    ceiling's. ``target`` is a bound on the ratio (``min_ratio``, ``max_ratio``) or on the value
    (``max_value``/``min_value``); a figure with no target is reported as context.
    """

    name: str
    unit: str
    value: float
    ceiling: float | None = None
    ceiling_name: str = ""
    better: str = HIGHER
    min_ratio: float | None = None
    max_ratio: float | None = None
    max_value: float | None = None
    min_value: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """Value over ceiling, when there is a ceiling."""
        if self.ceiling is None or self.ceiling == 0:
            return None
        return self.value / self.ceiling

    @property
    def target(self) -> str:
        """The target in words."""
        parts = []
        if self.min_ratio is not None:
            parts.append(f">= {self.min_ratio:.0%} of ceiling")
        if self.max_ratio is not None:
            parts.append(f"<= {self.max_ratio:.0%} of ceiling")
        if self.max_value is not None:
            parts.append(f"< {self.max_value:g} {self.unit}")
        if self.min_value is not None:
            parts.append(f">= {self.min_value:g} {self.unit}")
        return ", ".join(parts)

    @property
    def met(self) -> bool | None:
        """Whether every target holds (None without a target)."""
        checks = []
        ratio = self.ratio
        if self.min_ratio is not None:
            checks.append(ratio is not None and ratio >= self.min_ratio)
        if self.max_ratio is not None:
            checks.append(ratio is not None and ratio <= self.max_ratio)
        if self.max_value is not None:
            checks.append(self.value < self.max_value)
        if self.min_value is not None:
            checks.append(self.value >= self.min_value)
        return all(checks) if checks else None

    def as_json(self) -> dict[str, Any]:
        """The figure with its derived fields, JSON-ready."""
        return {
            **attrs.asdict(self),
            "ratio": self.ratio,
            "target": self.target,
            "met": self.met,
        }


COLUMNS = ("figure", "unit", "value", "ceiling", "ratio", "target", "met?")


def table(figures: Sequence[Figure]) -> str:
    """The figures as a fixed-width text table."""
    rows = [COLUMNS, *(_row(f) for f in figures)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def notes(figures: Sequence[Figure]) -> str:
    """Each figure's note, one a line."""
    return "\n".join(f"- {f.name}: {f.note}" for f in figures if f.note)


def _row(figure: Figure) -> tuple[str, ...]:
    ceiling = "" if figure.ceiling is None else f"{_number(figure.ceiling)} {figure.ceiling_name}"
    ratio = "" if figure.ratio is None else f"{figure.ratio:.2f}"
    met = {True: "yes", False: "NO", None: ""}[figure.met]
    return (figure.name, figure.unit, _number(figure.value), ceiling, ratio, figure.target, met)


def _number(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import os  # noqa: PLC0415 - only here

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "cores": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def write_json(path: Path, figures: Sequence[Figure], meta: dict[str, Any]) -> None:
    """Write the run's figures and what it ran on to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {**meta, "figures": [f.as_json() for f in figures]}
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
