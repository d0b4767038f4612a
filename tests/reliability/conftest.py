"""The reliability suite's shared fixtures, marker and end-of-run figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability import budget


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/reliability, so ``-m reliability`` selects the suite."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.reliability)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print what the suite did (kills survived, requests fuzzed, packs mutated)."""
    found = budget.figures()
    if not found:
        return
    terminalreporter.section("reliability figures")
    terminalreporter.write_line(f"scale {budget.scale():g} ({budget.SCALE_VARIABLE})")
    for name, count in sorted(found.items()):
        terminalreporter.write_line(f"{name}: {count:,}")


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A fresh SQLite file for a server."""
    return tmp_path / "sqm.sqlite3"
