"""Hypothesis profiles for the whole suite; pick one with ``HYPOTHESIS_PROFILE`` (default ``dev``).

- ``ci``: deterministic (same examples on every run, no example database), about 200 examples
  per property, no deadline: shared CI machines have noisy timings, and a flaky deadline is
  worse than none.
- ``dev``: Hypothesis's defaults, for quick local runs that still explore.
- ``thorough``: 2,000 examples per property, for a longer hunt before a release.

The session's summary says in capitals when PostgreSQL, Chromium, buf or Node tests were
skipped, and prints the reliability suite's figures. Both are read from the test reports this
process receives, not from module state: under pytest-xdist (``-n 2``, the default) the tests
run in worker processes and only their reports reach the controller that prints the summary.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.reliability import budget

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", deadline=None)
settings.register_profile(
    "thorough",
    max_examples=2_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


_GROUPS_LOST = pytest.StashKey[str]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """On an xdist worker under ``--dist loadgroup``, notice if an ``xdist_group`` mark was lost.

    xdist passes a test's group to the scheduler as an ``@group`` suffix of its node id; when
    that stops working (pytest 9.2, pytest-dev/pytest-xdist#1386) the groups are silently
    ignored and a module sharing one server between its tests is split over two workers.
    Every test then fails at its set-up, saying why (see :func:`pytest_runtest_setup`).
    """
    if not getattr(session.config.option, "loadgroup", False):
        return
    lost = [
        item.nodeid
        for item in session.items
        if item.get_closest_marker("xdist_group") and "@" not in item.nodeid
    ]
    if lost:
        session.config.stash[_GROUPS_LOST] = (
            f"--dist loadgroup ignored the xdist_group marks of {len(lost)} tests (e.g. "
            f"{lost[0]}): this pytest-xdist does not work with this pytest (see pyproject.toml)"
        )


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail every test when the xdist groups were lost: a run without them is not valid."""
    problem = item.config.stash.get(_GROUPS_LOST, "")
    if problem:
        pytest.fail(problem, pytrace=False)


# What a skip must never hide, recognised by the reason its test gives (tests/postgres.py,
# test_report_in_browser.py, test_generated_artifacts.py, test_readme_buf_curl.py,
# test_node_client.py).
LOUD_SKIPS = (
    ("PostgreSQL", re.compile(r"POSTGRESQL TESTS SKIPPED: (?P<why>.*)", re.DOTALL)),
    ("Chromium", re.compile(r"(?P<why>headless Chromium not found.*)", re.DOTALL)),
    ("buf", re.compile(r"(?P<why>.*\bbuf\b.*not installed.*)", re.DOTALL | re.IGNORECASE)),
    ("Node", re.compile(r"(?P<why>NPM OR NODE NOT FOUND.*)", re.DOTALL)),
)


def _reports(terminalreporter: pytest.TerminalReporter) -> Iterator[pytest.TestReport]:
    for reports in terminalreporter.stats.values():
        yield from (r for r in reports if isinstance(r, pytest.TestReport))


def _skip_reason(report: pytest.TestReport) -> str:
    # A skip's longrepr is (path, line, "Skipped: reason"), also when it came from a worker.
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return str(report.longrepr)


def loud_skips(reports: list[pytest.TestReport]) -> dict[str, tuple[int, str]]:
    """For each kind of test whose skip must be said aloud: how many skipped, and why."""
    found: dict[str, tuple[int, str]] = {}
    for report in reports:
        if not report.skipped:
            continue
        reason = _skip_reason(report)
        for what, pattern in LOUD_SKIPS:
            match = pattern.search(reason)
            if match:
                count, _ = found.get(what, (0, ""))
                found[what] = (count + 1, match["why"].strip())
                break
    return found


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say in capitals when PostgreSQL, Chromium, buf or Node tests were skipped (a skip is not
    a pass), and print what the reliability suite did (kills survived, requests fuzzed, ...).
    """
    reports = list(_reports(terminalreporter))
    for what, (count, reason) in loud_skips(reports).items():
        terminalreporter.section(what, sep="!", red=True, bold=True)
        terminalreporter.line(
            f"{what.upper()} TESTS WERE SKIPPED ({count}): {reason}", red=True, bold=True
        )
    shares = (
        value
        for report in reports
        for name, value in report.user_properties
        if name == budget.REPORT_PROPERTY
    )
    found = budget.merge(shares)
    if found:
        terminalreporter.section("reliability figures")
        terminalreporter.write_line(f"scale {budget.scale():g} ({budget.SCALE_VARIABLE})")
        for name, count in sorted(found.items()):
            terminalreporter.write_line(f"{name}: {count:,}")
