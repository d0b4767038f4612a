"""Run one all-or-none upload against a SQLite file and SIGKILL this process in the middle.

``python -m tests.reliability.kill_mid_batch DATABASE START COUNT KILL_AT`` builds the
application as ``sqm serve`` does (no gRPC: the kill must land at a known row, not at a
random moment), makes ``COUNT`` rows from ``START`` with :func:`tests.reliability.ledger.rows`
(prefix ``batch``), and kills itself with SIGKILL when the store is asked for append number
``KILL_AT``: the rows before it were written, the commit never happened.
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from sqm.server.api.measurement_upload import upload
from sqm.server.bootstrap import build
from sqm.server.config import Settings
from sqm.v1 import supplier_service_pb2 as api
from tests.e2e.process_flow import Timeline
from tests.reliability.ledger import rows

SUPPLIERS = ("batch-a", "batch-b")


def main(database: str, start: str, count: str, kill_at: str) -> int:
    """Upload and die at append ``kill_at``; returns only if the kill never came."""
    app = build(Settings(database=Path(database), tick_seconds=0))
    timeline = Timeline(datetime.fromisoformat(start))
    made = rows("batch", SUPPLIERS, int(count), timeline)
    messages = [api.UploadMeasurementsRequest(measurement=row) for row in made]
    # Rows are written one request at a time inside the upload's one transaction: die in the
    # middle of writing them, with some rows written and not yet committed.
    append_one = app.store._append_one
    calls = 0

    def append_or_die(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == int(kill_at):
            os.kill(os.getpid(), signal.SIGKILL)
        return append_one(*args, **kwargs)

    app.store._append_one = append_or_die  # type: ignore[method-assign]
    upload(app.service, messages, now=timeline.now, actor="kill-mid-batch")
    return 1  # the kill did not happen: the caller's test fails on the exit code


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
