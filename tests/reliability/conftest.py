"""The reliability suite's shared fixtures, marker and the share of its figures each test did.

The figures are printed at the end of the session by ``tests/conftest.py``: under
pytest-xdist this folder's conftest is only loaded by the workers, which collect the tests,
so the summary lives with the root conftest, which the controller loads too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability import budget


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/reliability, so ``-m reliability`` selects the suite."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.reliability)


@pytest.fixture(autouse=True)
def _figures_on_the_report(request: pytest.FixtureRequest) -> Iterator[None]:
    """Attach what the test added to the figures to its reports, which reach the controller."""
    before = budget.figures()
    yield
    share = budget.share_since(before)
    if share:
        request.node.user_properties.append((budget.REPORT_PROPERTY, share))


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A fresh SQLite file for a server."""
    return tmp_path / "sqm.sqlite3"
