"""Notifications: which events tell someone outside, whom, under which id; how a delivery is
signed; when a failed one is tried again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sqm.domain.events import (
    CorrectiveActionExtensionDecided,
    Escalated,
    ImprovementPlanCompleted,
    NotificationIssued,
    ReminderIssued,
    ReviewOpened,
    ScorecardClosed,
)
from sqm.domain.model import Action, Decision, Reminder, Review, SupplierState
from sqm.domain.needs import NeedNoticeIssued
from sqm.domain.notifications import (
    ESCALATION,
    NOTICE,
    NOTIFICATION,
    REMINDER,
    STANDING_CHANGED,
    Notification,
    need_notifications_for,
    notification_body,
    notification_id,
    notifications_for,
)
from sqm.domain.scorecard_records import Scorecard
from sqm.domain.supplier_side import NOTICE_TYPES
from sqm.server.config import settings_from
from sqm.server.notifications.delivery import Backoff
from sqm.server.notifications.signing import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
    signed_headers,
    verify,
)

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
SECRET = b"whsec-test"


def _card(period: str, standing: str) -> ScorecardClosed:
    start = datetime(2026, int(period[-2:]), 1, tzinfo=UTC)
    card = Scorecard(period, start, start + timedelta(days=30), 80.0, standing, standing, (), "")
    return ScorecardClosed(T0, card)


def _supplier(*cards: ScorecardClosed) -> SupplierState:
    return SupplierState("acme", "Acme", "software", scorecards=tuple(c.scorecard for c in cards))


def test_reminders_notices_and_rule_messages_are_addressed_to_supplier_or_role() -> None:
    """Reminders and notices go to the supplier itself; escalations and notes to the role."""
    events = [
        ReminderIssued(T0, Reminder.IMPROVEMENT_PLAN_DUE, "k", "plan due in 3 days"),
        ImprovementPlanCompleted(T0),
        Escalated(T0, "MON-012", "quality_manager", "third critical breach"),
        NotificationIssued(T0, "DL-004", "procurement", "certificate expires"),
        ReviewOpened(T0, Review(T0, "critical breach")),
    ]
    found = notifications_for("acme", _supplier(), events)
    assert [(n.event_index, n.index, n.kind, n.recipient) for n in found] == [
        (0, 0, REMINDER, "supplier:acme"),
        (2, 0, ESCALATION, "quality_manager"),
        (3, 0, NOTIFICATION, "procurement"),
        (4, 0, NOTICE, "supplier:acme"),
    ]
    assert found[1].message == "third critical breach"
    assert all(n.supplier_id == "acme" for n in found)


def test_a_standing_change_is_a_notification_and_an_unchanged_or_first_one_is_not() -> None:
    """Only a standing that differs from the previous period's notifies."""
    march, april = _card("2026-03", "good"), _card("2026-04", "good")
    may = _card("2026-05", "poor")
    assert notifications_for("acme", _supplier(), [march]) == ()
    assert notifications_for("acme", _supplier(march), [april]) == ()
    (changed,) = notifications_for("acme", _supplier(march, april), [may])
    assert (changed.kind, changed.recipient) == (STANDING_CHANGED, "supplier:acme")
    assert "was good" in changed.message
    # Two periods closed by one tick: the second compares with the first.
    assert [n.event_index for n in notifications_for("acme", _supplier(march), [may, april])] == [
        0,
        1,
    ]


def test_the_id_and_body_name_the_event_so_a_retried_append_repeats_them() -> None:
    """The id is stream/version/index: the same however often the body is built."""
    draft = Notification(0, 0, ESCALATION, "quality_manager", "acme", "Escalated", "why")
    body = notification_body(
        draft, stream_id="acme", version=7, global_seq=42, event_type="Escalated", occurred_at=T0
    )
    assert body["id"] == notification_id("acme", 7, 0) == "acme/7/0"
    assert body["event"] == {"sequence": 42, "stream_id": "acme", "version": 7, "type": "Escalated"}
    assert body["occurred_at"] == "2026-05-04T09:00:00.000000Z"
    assert json.loads(json.dumps(body)) == body


def test_a_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    """The documented scheme, recomputed by hand with hashlib, matches."""
    body = b'{"id":"acme/7/0"}'
    expected = hmac.new(SECRET, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature(SECRET, 1700000000, body) == f"v1={expected}"
    headers = signed_headers(SECRET, "acme/7/0", 1700000000, body)
    assert headers[ID_HEADER] == "acme/7/0"
    assert headers[TIMESTAMP_HEADER] == "1700000000"
    assert headers[SIGNATURE_HEADER] == f"v1={expected}"


@pytest.mark.parametrize(
    ("secret", "body", "now", "ok"),
    [
        (SECRET, b"{}", 1700000010, True),
        (b"another secret", b"{}", 1700000010, False),
        (SECRET, b"{ }", 1700000010, False),
        (SECRET, b"{}", 1700000000 + 301, False),
    ],
)
def test_verification_refuses_another_secret_an_altered_body_or_a_stale_timestamp(
    secret: bytes, body: bytes, now: int, ok: bool
) -> None:
    """A receiver's check: the right secret, the body as signed, a recent timestamp."""
    headers = {k.lower(): v for k, v in signed_headers(SECRET, "n", 1700000000, b"{}").items()}
    assert verify(secret, headers, body, now) is ok


def test_backoff_doubles_up_to_the_maximum_with_jitter_then_gives_up() -> None:
    """Retries wait 1, 2, 4, ... seconds (at most half taken off), capped; then None."""
    backoff = Backoff(attempts=5, first_seconds=1.0, max_seconds=4.0)
    no_jitter = [backoff.retry_at(n, T0, jitter=lambda: 0.0) for n in range(1, 5)]
    assert [(t - T0).total_seconds() for t in no_jitter if t] == [1.0, 2.0, 4.0, 4.0]
    halved = backoff.retry_at(3, T0, jitter=lambda: 1.0)
    assert halved is not None
    assert (halved - T0).total_seconds() == 2.0
    assert backoff.retry_at(5, T0) is None


def test_the_readmes_verification_snippet_accepts_a_real_delivery_and_nothing_else() -> None:
    """The receiver code the README gives checks the signature the worker sends."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    snippet = next(
        block
        for block in re.findall(r"```python\n(.*?)```", readme, re.DOTALL)
        if "def verified" in block
    )
    space: dict[str, Any] = {}
    exec(snippet, space)  # noqa: S102 - the README's own example, run as a reader would
    body = b'{"id":"acme/7/0"}'
    headers = signed_headers(SECRET, "acme/7/0", int(time.time()), body)
    assert space["verified"](SECRET, headers, body)
    assert not space["verified"](SECRET, headers, body + b" ")
    assert not space["verified"](b"wrong", headers, body)


def test_webhook_settings_are_lists_and_come_with_their_secret() -> None:
    """URLs, kinds and recipients split on commas; URLs need the secret file and http(s)."""
    settings = settings_from(
        {"webhook_urls": "http://a.example/h, https://b.example/h", "webhook_kinds": "notice"},
        {"SQM_WEBHOOK_SECRET_FILE": "/etc/sqm/secret", "SQM_DELIVERY_ATTEMPTS": "3"},
    )
    assert settings.webhook_urls == ("http://a.example/h", "https://b.example/h")
    assert settings.webhook_kinds == ("notice",)
    assert settings.delivery_attempts == 3
    for flags, why in [
        ({"webhook_urls": "http://a.example/h"}, "given together"),
        ({"webhook_urls": "ftp://a.example/h", "webhook_secret_file": "s"}, "http:// or https://"),
        ({"webhook_kinds": "gossip"}, "must be among"),
        ({"delivery_attempts": "0"}, "at least 1"),
    ]:
        with pytest.raises(ValueError, match=why):
            settings_from(flags, {})


def test_every_notice_type_of_the_supplier_side_is_a_notice_notification() -> None:
    """Each event type the supplier reads as a notice also notifies it, named at least."""
    covered = {
        "ReminderIssued": ReminderIssued(T0, Reminder.TRAINING_DUE, "k", "training due"),
        "CorrectiveActionExtensionDecided": CorrectiveActionExtensionDecided(
            T0, "ca-1", True, T0 + timedelta(days=7), "agreed"
        ),
        "ReviewOpened": ReviewOpened(T0, Review(T0, "critical breach")),
    }
    for name, event in covered.items():
        (found,) = notifications_for("acme", _supplier(), [event])
        assert found.recipient == "supplier:acme", name
    assert {"ReminderIssued", "CorrectiveActionExtensionDecided", "ReviewOpened"} <= NOTICE_TYPES
    (extension,) = notifications_for(
        "acme", _supplier(), [covered["CorrectiveActionExtensionDecided"]]
    )
    assert (extension.kind, extension.title) == (NOTICE, "Extension of ca-1 approved")


def test_a_needs_reminder_goes_to_the_buyer_and_its_escalation_to_the_role_named() -> None:
    """Selection rules' notices on a need (1.1) are notifications too, about no one supplier."""
    remind = Decision("NEED-001", "t", "f", 1, "v", Action.REMIND, True, "due in 10 days",
                      parameters={"reminder": "need_due"})  # fmt: skip
    escalate = Decision("NEED-002", "t", "f", 2, "v", Action.ESCALATE, True, "overdue",
                        parameters={"to": "procurement_director"})  # fmt: skip
    events = [NeedNoticeIssued(T0, remind, "tick"), NeedNoticeIssued(T0, escalate, "tick")]
    found = need_notifications_for("~need/routers", None, events)
    assert [(n.event_index, n.kind, n.recipient, n.supplier_id) for n in found] == [
        (0, REMINDER, "buyer", ""),
        (1, ESCALATION, "procurement_director", ""),
    ]
    assert found[1].message == "overdue"
