"""Crash safety: SIGKILL during streaming ingestion loses nothing acknowledged, half-applies none.

A real ``sqm serve`` on one SQLite file is killed at random moments while a client streams
uploads (``UploadMeasurements``, all or none), then restarted on the same file. After each
restart the record must hold every acknowledged row exactly once, the upload that was in
flight whole or not at all, and a hash chain that verifies; resending the unanswered upload
(same request ids) must then complete it without counting anything twice.
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sqm.client import SqmClient, SqmError
from sqm.server.api import measurement_upload
from sqm.server.bootstrap import build
from sqm.server.config import Settings
from sqm.v1 import supplier_service_pb2 as api
from tests.e2e.process_flow import Timeline, contracted
from tests.e2e.server_process import ServerProcess
from tests.reliability import budget, kill_mid_batch
from tests.reliability.ledger import (
    Ledger,
    chain_problem,
    recorded_request_ids,
    rows,
    violations,
)

KILLS = budget.scaled(20)
ROWS_PER_UPLOAD = 40
SUPPLIERS = ("crash-a", "crash-b", "crash-c")
# Long enough to land in every phase: mid-stream, mid-transaction, after the commit but
# before the answer, between uploads.
MAX_KILL_DELAY_SECONDS = 0.5

pytestmark = pytest.mark.timeout(budget.timeout())


def _serve(database: Path) -> ServerProcess:
    return ServerProcess(database, "--tick-seconds", "0").start()


def _prepare(database: Path, suppliers: tuple[str, ...], timeline: Timeline) -> None:
    server = _serve(database)
    try:
        with SqmClient(server.address, timeout=30) as client:
            for supplier in suppliers:
                contracted(client, supplier, timeline)
        # Measurements start once every contract has started.
        timeline.step(days=2)
    finally:
        assert server.stop() == 0


class Ingestor(threading.Thread):
    """Streams uploads one after another until one fails (the server died under it)."""

    def __init__(self, client: SqmClient, ledger: Ledger, timeline: Timeline, kill: int):
        super().__init__(daemon=True)
        self.client, self.ledger, self.timeline, self.kill = client, ledger, timeline, kill
        self.streaming = threading.Event()

    def run(self) -> None:
        """Upload until the server goes away; the failed upload is noted as unanswered."""
        for number in range(1_000_000):
            upload = rows(f"k{self.kill}-u{number}", SUPPLIERS, ROWS_PER_UPLOAD, self.timeline)
            self.streaming.set()
            try:
                response = self.client.upload_measurements(upload)
            except SqmError:
                self.ledger.unanswered.append(upload)
                return
            assert response.accepted_count == len(upload), response
            self.ledger.answered(upload)


def _check(address: str, ledger: Ledger, context: str) -> None:
    with SqmClient(address, timeout=30) as client:
        found = recorded_request_ids(client, SUPPLIERS)
    assert violations(ledger, found) == [], context
    assert chain_problem(address) == "", context
    for unanswered in ledger.unanswered:  # where the kills landed, for the figures
        whole = found[unanswered[0].request_id] > 0
        budget.add(f"kills with an upload unanswered, found {'whole' if whole else 'absent'}")


def _resend_unanswered(address: str, ledger: Ledger) -> None:
    """The client's retry after the crash: same rows, same request ids."""
    with SqmClient(address, timeout=30) as client:
        for upload in ledger.unanswered:
            response = client.upload_measurements(upload)
            assert response.accepted_count == len(upload), response
            ledger.answered(upload)
    ledger.unanswered.clear()


def _ingest_and_kill(server: ServerProcess, ledger: Ledger, timeline: Timeline, kill: int) -> None:
    delay = random.uniform(0, MAX_KILL_DELAY_SECONDS)
    with SqmClient(server.address, timeout=30, attempts=1) as client:
        ingestor = Ingestor(client, ledger, timeline, kill)
        ingestor.start()
        assert ingestor.streaming.wait(10)
        time.sleep(delay)  # the random moment is the point: there is no event to wait for
        server.kill()
        ingestor.join(30)
    assert not ingestor.is_alive()


def test_sigkill_at_random_moments_of_streaming_ingestion_loses_and_half_applies_nothing(
    database: Path,
) -> None:
    """20 kills: each acknowledged row once, the unanswered upload whole or absent, chain intact."""
    timeline, ledger = Timeline(), Ledger()
    _prepare(database, SUPPLIERS, timeline)
    for kill in range(KILLS + 1):
        server = _serve(database)
        try:
            if kill:  # what the previous kill left behind, seen through a restarted server
                _check(server.address, ledger, f"after kill {kill}")
                _resend_unanswered(server.address, ledger)
                _check(server.address, ledger, f"after resending following kill {kill}")
                budget.add("kills survived")
            if kill < KILLS:
                _ingest_and_kill(server, ledger, timeline, kill)
        finally:
            server.kill()
    budget.add("rows acknowledged across kills", len(ledger.acknowledged))


def test_sqlite_killed_in_the_middle_of_a_batch_keeps_none_of_it(database: Path) -> None:
    """A process killed between two rows of one upload's writes leaves no row of it behind."""
    timeline = Timeline()
    _prepare(database, kill_mid_batch.SUPPLIERS, timeline)
    start, count = timeline.now, 30
    child = subprocess.run(
        [sys.executable, "-m", "tests.reliability.kill_mid_batch", str(database),
         start.isoformat(), str(count), str(count // 2)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert child.returncode == -9, child.stderr  # killed by SIGKILL, not finished
    upload = rows("batch", kill_mid_batch.SUPPLIERS, count, Timeline(start))
    ledger = Ledger(unanswered=[upload])
    server = _serve(database)
    try:
        with SqmClient(server.address, timeout=30) as client:
            found = recorded_request_ids(client, kill_mid_batch.SUPPLIERS)
            assert violations(ledger, found) == []
            assert not any(found[row.request_id] for row in upload), "a row survived the kill"
            assert chain_problem(server.address) == ""
            response = client.upload_measurements(upload)
            assert response.accepted_count == count
            ledger.answered(upload)
            ledger.unanswered.clear()
            assert violations(ledger, recorded_request_ids(client, kill_mid_batch.SUPPLIERS)) == []
    finally:
        server.kill()
    budget.add("kills survived")


def test_an_upload_whose_caller_left_before_the_commit_stores_nothing(database: Path) -> None:
    """Every row decided, the caller gone before the commit: nothing is written."""
    timeline = Timeline()
    _prepare(database, kill_mid_batch.SUPPLIERS, timeline)
    made = rows("gone", kill_mid_batch.SUPPLIERS, 10, timeline)
    asked: list[bool] = []

    def gone_once_every_row_is_decided() -> bool:
        # Asked once a row while the rows are decided, then once more before the commit.
        asked.append(True)
        return len(asked) > len(made)

    app = build(Settings(database=database, tick_seconds=0))
    try:
        messages = [api.UploadMeasurementsRequest(measurement=row) for row in made]
        measurement_upload.upload(
            app.service,
            messages,
            now=timeline.now,
            actor="gone",
            abandoned=gone_once_every_row_is_decided,
        )
        assert len(asked) == len(made) + 1
        assert [s.measurements for s in map(app.service.get, kill_mid_batch.SUPPLIERS)] == [(), ()]
    finally:
        app.close()


CLIENT_THAT_DIES = """
import sys, time, grpc
from sqm.v1 import supplier_service_pb2 as api, supplier_service_pb2_grpc as api_grpc
rows = [api.UploadMeasurementsRequest.FromString(bytes.fromhex(h)) for h in sys.argv[2:]]
def stream():
    yield from rows
    print("sent", flush=True)
    time.sleep(600)  # never finishes its upload: it is killed here
with grpc.insecure_channel(sys.argv[1]) as channel:
    api_grpc.SupplierServiceStub(channel).UploadMeasurements(stream(), timeout=600)
"""


def test_a_client_killed_in_the_middle_of_its_upload_stream_leaves_none_of_it(
    database: Path,
) -> None:
    """The server sees the stream end as if finished; the rows that came are not stored."""
    timeline = Timeline()
    _prepare(database, SUPPLIERS, timeline)
    made = rows("cut", SUPPLIERS, 30, timeline)
    server = _serve(database)
    try:
        hexed = [
            api.UploadMeasurementsRequest(measurement=r).SerializeToString().hex() for r in made
        ]
        client = subprocess.Popen(
            [sys.executable, "-c", CLIENT_THAT_DIES, server.address, *hexed],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert client.stdout is not None
        assert client.stdout.readline().strip() == "sent"
        client.kill()
        client.wait(30)
        client.stdout.close()
        _await_access_log(server, "UploadMeasurements")
        with SqmClient(server.address, timeout=30) as reader:
            # Reads queue behind the upload's job on the server's one worker.
            assert recorded_request_ids(reader, SUPPLIERS) == {}
        assert chain_problem(server.address) == ""
    finally:
        server.kill()


def _await_access_log(server: ServerProcess, method: str) -> None:
    """Wait until the server logged the end of a call to ``method`` (its access line)."""
    # The server's output is the only sign that it noticed; it is read by a thread.
    give_up = time.monotonic() + 30
    while not any("sqm.access" in line and f"/{method} " in line for line in server.output):
        assert time.monotonic() < give_up, "\n".join(server.output[-20:])
        time.sleep(0.02)
