"""``sqm serve --gc-metrics``: the collector's pauses on the metrics endpoint and in the log."""

from __future__ import annotations

import re
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e


def test_a_server_asked_for_gc_metrics_serves_the_pause_histogram(database: Path) -> None:
    """With --gc-metrics, /metrics carries sqm_gc_pause_seconds for each generation."""
    server = ServerProcess(database, "--gc-metrics", "--metrics-port", "0").start()
    try:
        with urllib.request.urlopen(_metrics_url(server), timeout=5) as response:  # noqa: S310
            text = response.read().decode()
    finally:
        server.stop()
    for generation in range(3):
        assert f'sqm_gc_pause_seconds_count{{generation="{generation}"}}' in text


def _metrics_url(server: ServerProcess) -> str:
    give_up = time.monotonic() + 10
    while time.monotonic() < give_up:
        for line in server.output:
            found = re.search(r"metrics on (http://127\.0\.0\.1:\d+/metrics)", line)
            if found:
                return found[1]
        time.sleep(0.05)
    raise AssertionError("\n".join(server.output))
