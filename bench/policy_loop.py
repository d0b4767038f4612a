"""The policy loop a policy team runs before proposing a change, timed as they run it.

Lint, the pack's own tests, ``sqm simulate check`` at its default example count, and a
``--baseline`` comparison of the changed pack with today's over a population: four ``sqm``
commands, each a process of its own. The change is the one the policy guide's recipe makes
(MON-002 opens a review at the second major breach in 30 days, not the third). The floor
beside it is four starts of the ``sqm`` command doing nothing (``--help``): what no loop of
four commands can go below.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import attrs

from sqm.rules import default_pack_dir

CHANGE = (
    "monitoring.yaml",
    '{fact: major_breaches_30d, op: ">=", value: 3}',
    '{fact: major_breaches_30d, op: ">=", value: 2}',
)
SQM = (sys.executable, "-m", "sqm.server")
FOUND_OR_NOT = (0, 1)
"""Exit statuses that are answers: a failing case or a broken promise is what the team runs
the step to learn (the pack's tests may need the change too); 2 means it could not run."""


@attrs.frozen
class Loop:
    """Seconds each step took, and the floor of four command starts."""

    steps: dict[str, float]
    floor: float

    @property
    def total(self) -> float:
        """The whole loop."""
        return sum(self.steps.values())


def run(folder: Path, *, examples: int, suppliers: int, months: int) -> Loop:
    """Time the loop on a changed copy of the default pack in ``folder``."""
    pack = _changed_pack(folder / "changed-pack")
    steps = {
        "lint": _timed("policy", "lint", str(pack)),
        "test": _timed("policy", "test", str(pack), answers=FOUND_OR_NOT),
        "check": _timed(
            "simulate", "check", str(pack), "--max-examples", str(examples),
            "--out", str(folder / "check"), answers=FOUND_OR_NOT,
        ),
        "comparison": _timed(
            "simulate", "run", str(pack), "--baseline", str(default_pack_dir()),
            "--suppliers", str(suppliers), "--months", str(months), "--jobs", "2",
            "--json", str(folder / "comparison.json"),
        ),
    }  # fmt: skip
    floor = sum(_timed("--help") for _ in range(len(steps)))
    return Loop(steps, floor)


def _changed_pack(target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(default_pack_dir(), target)
    file, old, new = CHANGE
    path = target / file
    text = path.read_text(encoding="utf-8")
    if old not in text:
        raise RuntimeError(f"the default pack's {file} no longer holds {old!r}")
    path.write_text(text.replace(old, new), encoding="utf-8")
    return target


def _timed(*args: str, answers: tuple[int, ...] = (0,)) -> float:
    began = time.perf_counter()
    done = subprocess.run([*SQM, *args], check=False, capture_output=True)  # noqa: S603 - our own
    if done.returncode not in answers:
        raise subprocess.CalledProcessError(done.returncode, done.args, done.stdout, done.stderr)
    return time.perf_counter() - began
