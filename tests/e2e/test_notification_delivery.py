"""End to end: notifications leave a real ``sqm serve`` for a real webhook receiver on a
loopback port, signed; a receiver down for a while, and a server killed between the commit
and the delivery, lose none of them.
"""

from __future__ import annotations

import re
import sqlite3
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from sqm.client import SqmClient, SqmError
from sqm.client.audit_client import AuditClient
from sqm.client.notification_client import NotificationClient
from tests.commands import sqm
from tests.e2e.process_flow import Timeline, contracted
from tests.e2e.server_process import ServerProcess
from tests.e2e.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

SECRET = b"whsec-e2e-0123456789"
METRICS_LINE = re.compile(r"metrics on http://127\.0\.0\.1:(?P<port>\d+)/metrics")


def serve_args(
    receiver: WebhookReceiver, secret_file: Path, attempts: int = 100
) -> tuple[str, ...]:
    """Flags that deliver to ``receiver`` quickly: short backoff, short POST timeout."""
    return (
        "--tick-seconds", "0",
        "--webhook-urls", receiver.url,
        "--webhook-secret-file", str(secret_file),
        "--delivery-backoff-seconds", "0.2",
        "--delivery-max-backoff-seconds", "0.5",
        "--delivery-attempts", str(attempts),
        "--delivery-timeout-seconds", "2",
    )  # fmt: skip


def outbox_ids(database: Path) -> set[str]:
    """Every notification id the server's outbox holds (read beside the running server)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        return {row[0] for row in conn.execute("SELECT notification_id FROM outbox")}


def review_opened(server: ServerProcess, supplier_id: str, timeline: Timeline) -> None:
    """A supplier under contract, then put under review: a notice to it."""
    with SqmClient(server.address) as client:
        contracted(client, supplier_id, timeline)
        client.open_review(supplier_id, "repeated outages", occur_time=timeline.step())


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    """One receiver for the module."""
    started = WebhookReceiver(SECRET).start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared secret, in a file readable by its owner only."""
    path = tmp_path_factory.mktemp("secret") / "webhook.secret"
    path.write_bytes(SECRET + b"\n")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's shared server's SQLite file."""
    return tmp_path_factory.mktemp("db") / "sqm.sqlite3"


@pytest.fixture(scope="module")
def server(receiver: WebhookReceiver, secret_file: Path, database: Path) -> Iterator[ServerProcess]:
    """One server for the module, delivering to the receiver."""
    running = ServerProcess(
        database, *serve_args(receiver, secret_file), "--metrics-port", "0"
    ).start()
    yield running
    running.kill()


def metric(server: ServerProcess, name: str) -> float:
    """The sum of a metric's samples on the server's Prometheus endpoint (0 when absent)."""
    port = next(m["port"] for line in server.output if (m := METRICS_LINE.search(line)) is not None)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((f"{name} ", f"{name}{{"))
    )


def test_notifications_reach_the_webhook_signed(
    server: ServerProcess, receiver: WebhookReceiver, database: Path
) -> None:
    """A review opened is a notice to the supplier, posted with a valid signature."""
    receiver.up = True
    review_opened(server, "acme", Timeline())
    expected = outbox_ids(database)
    receiver.wait_for(lambda: expected <= set(receiver.accepted_ids()))
    assert all(r.signature_ok for r in receiver.snapshot())
    notices = [r.body for r in receiver.snapshot() if r.body["event"]["type"] == "ReviewOpened"]
    assert [(b["kind"], b["recipient"], b["supplier_id"]) for b in notices] == [
        ("notice", "supplier:acme", "acme")
    ]
    assert all(r.notification_id == r.body["id"] for r in receiver.snapshot())


def test_a_receiver_down_for_a_while_then_up_gets_every_notification_once(
    server: ServerProcess, receiver: WebhookReceiver, database: Path
) -> None:
    """Answered 503 and retried with backoff, each notification arrives once it is up."""
    receiver.up = False
    timeline = Timeline()
    for supplier_id in ("beta", "gamma"):
        review_opened(server, supplier_id, timeline)
    new = outbox_ids(database) - set(receiver.accepted_ids())
    assert len(new) >= 2
    # Refused, and tried again: each new notification has met the 503 at least twice.
    receiver.wait_for(
        lambda: all(
            sum(r.notification_id == n and not r.accepted for r in receiver.snapshot()) >= 2
            for n in new
        )
    )
    receiver.up = True
    receiver.wait_for(lambda: new <= set(receiver.accepted_ids()))
    accepted = Counter(receiver.accepted_ids())
    assert set(accepted) == outbox_ids(database)
    assert max(accepted.values()) == 1  # without a crash, not even a repeat to deduplicate
    assert all(r.signature_ok for r in receiver.snapshot())
    # Counted once the outbox has it marked, a moment after the receiver's answer.
    receiver.wait_for(lambda: metric(server, "sqm_notifications_delivered_total") == len(accepted))
    assert metric(server, "sqm_notification_attempts_failed_total") >= 2 * len(new)


def test_a_server_killed_between_commit_and_delivery_delivers_after_restart(
    receiver: WebhookReceiver, secret_file: Path, tmp_path: Path
) -> None:
    """Committed while the receiver was down, SIGKILLed, restarted: delivered then."""
    receiver.up = False
    database = tmp_path / "sqm.sqlite3"
    first = ServerProcess(database, *serve_args(receiver, secret_file)).start()
    try:
        review_opened(first, "delta", Timeline())
        waiting = outbox_ids(database)
        receiver.wait_for(lambda: waiting <= receiver.refused_ids())
    finally:
        first.kill()
    assert not waiting & set(receiver.accepted_ids())
    receiver.up = True
    second = ServerProcess(database, *serve_args(receiver, secret_file)).start()
    try:
        receiver.wait_for(lambda: waiting <= set(receiver.accepted_ids()))
    finally:
        second.kill()
    assert all(r.signature_ok for r in receiver.snapshot())


def test_watch_sends_only_events_that_notified_the_kinds_and_recipients_asked_for(
    server: ServerProcess, database: Path
) -> None:
    """Filtered by kind and recipient, each event comes with its matching notifications."""
    review_opened(server, "epsilon", Timeline())
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        (expected,) = conn.execute(
            "SELECT COUNT(DISTINCT global_seq) FROM outbox"
            " WHERE kind = 'notice' AND recipient = 'supplier:epsilon'"
        ).fetchone()
    assert expected >= 1
    with AuditClient(server.address) as audit:
        items = []
        with audit.watch(
            notification_kinds=["notice"], notification_recipients=["supplier:epsilon"]
        ) as stream:
            for item in stream:
                items.append(item)
                if len(items) == expected:
                    break
        assert all(item.event.supplier == "suppliers/epsilon" for item in items)
        notes = [n for item in items for n in item.notifications]
        assert {(n.kind, n.recipient) for n in notes} == {("notice", "supplier:epsilon")}
        assert "ReviewOpened" in {item.event.type for item in items}
        with pytest.raises(SqmError) as refused:
            list(audit.watch(notification_kinds=["gossip"]))
    assert refused.value.code.name == "INVALID_ARGUMENT"
    shown = sqm(
        "watch", "--server", server.address, "--max-events", "1",
        "--notification-kind", "notice", "--notification-recipient", "supplier:epsilon",
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "[notice to supplier:epsilon: " in shown.stdout


def test_undeliverable_notifications_are_listed_and_delivered_when_retried(
    receiver: WebhookReceiver, secret_file: Path, tmp_path: Path
) -> None:
    """Attempts run out while the receiver is down; listed, retried by hand, delivered."""
    receiver.up = False
    running = ServerProcess(
        tmp_path / "sqm.sqlite3", *serve_args(receiver, secret_file, attempts=2)
    ).start()
    try:
        review_opened(running, "zeta", Timeline())
        waiting = outbox_ids(tmp_path / "sqm.sqlite3")
        with NotificationClient(running.address) as outbox:
            receiver.wait_for(lambda: {n.id for n in outbox.list_undeliverable()} == waiting)
            listed = list(outbox.list_undeliverable(page_size=1))
        assert all(n.attempts == 2 and "HTTP 503" in n.last_error for n in listed)
        shown = sqm("notifications", "list", "--undeliverable", "--server", running.address)
        assert shown.returncode == 0, shown.stderr
        assert all(notification_id in shown.stdout for notification_id in waiting)
        receiver.up = True
        retried = sqm("notifications", "retry", "--server", running.address)
        assert retried.stdout.strip() == f"{len(waiting)} retried", retried.stderr
        receiver.wait_for(lambda: waiting <= set(receiver.accepted_ids()))
    finally:
        running.kill()


def test_two_workers_on_one_database_post_each_notification_once(
    receiver: WebhookReceiver, secret_file: Path, tmp_path: Path
) -> None:
    """`--workers 2`: both deliver from one outbox; their claims keep each id to one post."""
    receiver.up = False
    database = tmp_path / "sqm.sqlite3"
    running = ServerProcess(database, *serve_args(receiver, secret_file), "--workers", "2")
    running.start()
    try:
        timeline = Timeline()
        for supplier_id in ("eta", "theta", "iota"):
            review_opened(running, supplier_id, timeline)
        waiting = outbox_ids(database)
        receiver.wait_for(lambda: waiting <= receiver.refused_ids())
        receiver.up = True
        receiver.wait_for(lambda: waiting <= set(receiver.accepted_ids()))
    finally:
        # SIGTERM, passed on to the workers: a SIGKILL would leave them holding the pipe.
        running.stop()
    posted = Counter(n for n in receiver.accepted_ids() if n in waiting)
    assert max(posted.values()) == 1
