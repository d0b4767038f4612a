"""All-or-none uploads on PostgreSQL, with two ``sqm serve`` processes on one database.

An upload's rows go to the store as ONE batch in ONE transaction: a SIGKILL in the middle of
it, or another instance writing to one of its suppliers meanwhile, leaves either every row or
none. A store appending row by row would leave a part, and these tests would see it: the
kill lands the moment the first row of the upload is visible in the database.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import grpc
import psycopg
import pytest

from sqm.client import SqmClient, SqmError
from sqm.server.app.group_commit import GroupCommit
from sqm.server.app.suppliers import CommandResult, SupplierService
from sqm.server.bootstrap import build
from sqm.server.config import PostgresUrl, Settings
from tests.e2e.process_flow import Timeline, availability_row, contracted
from tests.e2e.server_process import ServerProcess
from tests.fakes import FakePolicy
from tests.integration.test_group_commit import _contracted, _jobs, _measurement
from tests.postgres import fresh_schema
from tests.reliability import budget
from tests.reliability.ledger import chain_problem, recorded_request_ids, rows

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(budget.timeout())]

KILLS = budget.scaled(20)
SUPPLIERS = ("pg-a", "pg-b", "pg-c")
MAX_KILL_DELAY_SECONDS = 1.5


@pytest.fixture
def url() -> Iterator[str]:
    """A fresh PostgreSQL schema, migrated, with :data:`SUPPLIERS` under contract."""
    with fresh_schema() as found:
        yield found


def _serve(url: str, *extra: str) -> ServerProcess:
    return ServerProcess(url, "--tick-seconds", "0", *extra).start()


def _contract_all(address: str, timeline: Timeline) -> None:
    with SqmClient(address, timeout=30) as client:
        for supplier in SUPPLIERS:
            contracted(client, supplier, timeline)
    timeline.step(days=2)  # measurements start once every contract has started


def _stored(url: str, prefix: str) -> int:
    # Read straight from the database: how many of the upload's requests are committed.
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM requests WHERE request_id LIKE %s", (f"{prefix}-%",)
        ).fetchone()
    return int(row[0]) if row else 0


def _kill_when_visible(server: ServerProcess, url: str, prefix: str, delay: float) -> None:
    """SIGKILL ``server`` once a row of the upload is committed, or after ``delay``."""
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline and _stored(url, prefix) == 0:
        time.sleep(0.01)
    server.kill()


def _upload_quietly(address: str, made: list) -> None:  # type: ignore[type-arg]
    # The server is killed under the call: its answer, if any, does not matter here.
    try:
        with SqmClient(address, timeout=60) as client:
            client.upload_measurements(made)
    except (SqmError, grpc.RpcError):
        pass


def test_sigkills_in_the_middle_of_uploads_leave_each_upload_whole_or_absent(url: str) -> None:
    """Killed mid-upload again and again, instance A leaves every upload all or nothing,
    as read through instance B.
    """
    chance = random.Random(2026)
    timeline = Timeline()
    keeper = _serve(url, "--migrate")
    try:
        _contract_all(keeper.address, timeline)
        for kill in range(KILLS):
            count = chance.randint(20, 500)
            prefix = f"kill{kill}"
            made = rows(prefix, SUPPLIERS, count, timeline)
            victim = _serve(url)
            sender = threading.Thread(target=_upload_quietly, args=(victim.address, made))
            sender.start()
            _kill_when_visible(victim, url, prefix, chance.uniform(0.05, MAX_KILL_DELAY_SECONDS))
            sender.join(timeout=60)
            with SqmClient(keeper.address, timeout=30) as client:
                found = recorded_request_ids(client, SUPPLIERS)
            kept = sum(1 for row in made if found[row.request_id])
            assert kept in (0, count), f"upload {kill}: {kept} of {count} rows survived the kill"
            assert all(found[row.request_id] <= 1 for row in made)
            budget.add("postgres kills survived")
        assert chain_problem(keeper.address) == ""
    finally:
        keeper.kill()


class _MinuteSteps(Timeline):
    """A timeline that moves a minute at a time: B's writes fit before A's rows."""

    def step(self, days: float = 1 / 1440) -> datetime:
        return super().step(days)


def test_an_upload_racing_another_instance_is_stored_whole_or_refused_whole(url: str) -> None:
    """While A uploads all-or-none, B writes to one of its suppliers: the upload answers
    ABORTED with nothing stored, or succeeds with every row stored.
    """
    timeline = Timeline()
    a = _serve(url, "--migrate")
    try:
        b = _serve(url)
        try:
            _contract_all(a.address, timeline)
            for attempt in range(3):
                prefix = f"race{attempt}"
                # B's rows come before A's in domain time, so they never make A's invalid:
                # only the commit's version check can refuse A's upload.
                earlier = _MinuteSteps(timeline.now)
                timeline.step(days=30)
                made = rows(prefix, SUPPLIERS, 300, timeline)
                outcome: list[object] = []

                def upload(made: list = made, outcome: list[object] = outcome) -> None:  # type: ignore[type-arg]
                    try:
                        with SqmClient(a.address, timeout=60) as client:
                            outcome.append(client.upload_measurements(made).accepted_count)
                    except SqmError as error:
                        outcome.append(error.code)

                sender = threading.Thread(target=upload)
                sender.start()
                refused: list[SqmError] = []
                with SqmClient(b.address, timeout=30) as client:
                    while sender.is_alive() and not refused:
                        try:
                            client.record_measurement(
                                availability_row(SUPPLIERS[1], 99.99, earlier)
                            )
                        except SqmError as error:
                            refused.append(error)
                        time.sleep(0.02)
                sender.join()
                # A write of B's refused means A's upload committed between B's check and
                # that write: B's row is then earlier than A's, which the domain refuses.
                for refusal in refused:
                    assert refusal.code == grpc.StatusCode.INVALID_ARGUMENT, refusal
                    assert "earlier than the supplier's last recorded" in refusal.message
                    assert outcome == [len(made)], outcome
                stored = _stored(url, prefix)
                if outcome != [len(made)]:  # lost the race to B's write
                    assert outcome == [grpc.StatusCode.ABORTED], outcome
                    assert stored == 0, f"an aborted upload left {stored} rows"
                else:
                    assert outcome == [len(made)]
                    assert stored == len(made)
            assert chain_problem(b.address) == ""
        finally:
            b.kill()
    finally:
        a.kill()


def test_concurrent_calls_share_postgresql_commits(url: str) -> None:
    """Calls queued while the worker is busy are appended to PostgreSQL in one batch."""
    settings = Settings(database=PostgresUrl(url), tick_seconds=0, migrate=True)
    app = build(settings, policy=FakePolicy())
    batches: list[int] = []
    append_batch = app.store.append_batch

    def counted(appends, *, all_or_none=False):  # type: ignore[no-untyped-def]
        batches.append(len(appends))
        return append_batch(appends, all_or_none=all_or_none)

    app.store.append_batch = counted  # type: ignore[method-assign]
    try:
        _group_commit(app.service, app.executor, batches)
    finally:
        app.close()


def _group_commit(
    service: SupplierService, executor: ThreadPoolExecutor, batches: list[int]
) -> None:
    _contracted(service, "acme", "beta")
    batches.clear()  # each setup command was a batch of one
    commits = GroupCommit(service, executor)

    async def calls() -> list[CommandResult]:
        gate = asyncio.Event()
        loop = asyncio.get_running_loop()
        blocker = loop.run_in_executor(
            executor, lambda: asyncio.run_coroutine_threadsafe(gate.wait(), loop).result()
        )
        jobs = _jobs(*[_measurement(s, d) for d in (1, 2, 3) for s in ("acme", "beta")])
        answers = [asyncio.ensure_future(commits.execute(c, ctx)) for c, ctx in jobs]
        await asyncio.sleep(0.05)
        gate.set()
        await blocker
        return list(await asyncio.gather(*answers))

    results = asyncio.run(calls())
    assert all(len(r.events) >= 1 for r in results)
    assert batches == [6]
