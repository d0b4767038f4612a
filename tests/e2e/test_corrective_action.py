"""End to end: a corrective action (8D) on a real `sqm serve` under the default pack. The
supplier submits its own record with three actions; one falls overdue and CA-002 escalates it
once, tick after tick; an extension beyond the pack's limit is refused; a supplier's token
may not answer for another supplier nor verify its own actions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from google.protobuf import timestamp_pb2

from sqm.client import SqmClient, SqmError
from sqm.client.corrective_action_calls import (
    EXTENSION_OUTCOMES,
    action_item,
    corrective_action_content,
)
from sqm.v1 import admin_service_pb2, admin_service_pb2_grpc
from sqm.v1 import resources_pb2 as pb
from tests.commands import sqm
from tests.e2e.process_flow import Timeline, contracted
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e

OPERATOR = "procurement-token-0123456789"
ADMIN = "policy-admin-token-0123456789"
ACME = "acme-portal-token-0123456789"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One drill server for the module: an operator, a policy admin and acme's own token."""
    tmp_path: Path = tmp_path_factory.mktemp("corrective-action")
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(
        "tokens:\n"
        f"  - {{name: procurement, role: integration, token: {OPERATOR}}}\n"
        f"  - {{name: policy-admin, role: policy_admin, token: {ADMIN}}}\n"
        f"  - {{name: acme-portal, role: supplier, supplier: acme, token: {ACME}}}\n",
        encoding="utf-8",
    )
    tokens.chmod(0o600)
    running = ServerProcess(
        tmp_path / "sqm.sqlite3",
        "--tick-seconds", "0", "--drill", "--tokens-file", str(tokens),
    ).start()  # fmt: skip
    try:
        yield running
    finally:
        running.kill()


@pytest.fixture(scope="module")
def timeline() -> Timeline:
    """Domain time for the module: the ticks below move every supplier forward."""
    return Timeline()


@pytest.fixture(scope="module")
def operator(server: ServerProcess) -> Iterator[SqmClient]:
    """The operator's integration client."""
    with SqmClient(server.address, token=OPERATOR) as client:
        yield client


@pytest.fixture(scope="module")
def portal(server: ServerProcess) -> Iterator[SqmClient]:
    """Acme's own client."""
    with SqmClient(server.address, token=ACME) as client:
        yield client


def in_remediation(operator: SqmClient, supplier_id: str, timeline: Timeline) -> None:
    """A contracted supplier whose review required an improvement plan (due in 30 days)."""
    contracted(operator, supplier_id, timeline)
    operator.open_review(supplier_id, "failed site inspection", occur_time=timeline.step())
    operator.conclude_review(
        supplier_id, pb.REVIEW_OUTCOME_REMEDIATION_REQUIRED, occur_time=timeline.step()
    )


def record(timeline: Timeline, *due_days: float) -> pb.CorrectiveActionContent:
    """A record with actions A1, A2... due so many days after the timeline's now."""
    actions = [
        action_item(f"A{n}", f"measure {n}", "李工", timeline.now + timedelta(days=days))
        for n, days in enumerate(due_days, 1)
    ]
    return corrective_action_content(
        team=["王经理", "李工"],
        problem="机房巡检不合格",
        containment="temporary fans",
        root_causes=["cooling not sized for the load"],
        actions=actions,
        prevention="cooling in the site checklist",
    )


def tick(server: ServerProcess, moment: datetime) -> None:
    """AdminService.AdvanceTime to ``moment``, as the policy administrator."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    with grpc.insecure_channel(server.address) as channel:
        stub = admin_service_pb2_grpc.AdminServiceStub(channel)
        metadata = (("authorization", f"Bearer {ADMIN}"),)
        request = admin_service_pb2.AdvanceTimeRequest(time=stamp)
        stub.AdvanceTime(request, metadata=metadata, timeout=60)


def refused(call: object) -> SqmError:
    """The error a call (a no-argument callable) fails with."""
    with pytest.raises(SqmError) as raised:
        call()  # type: ignore[operator]
    return raised.value


def test_an_overdue_action_of_three_is_escalated_once(
    server: ServerProcess, operator: SqmClient, portal: SqmClient, timeline: Timeline
) -> None:
    """The supplier's own record; A2 overdue on two ticks is escalated by CA-002 once."""
    in_remediation(operator, "acme", timeline)
    submitted = portal.submit_corrective_action(
        "acme", record(timeline, 5, 10, 20), occur_time=timeline.step(0.1)
    )
    assert [(e.type, e.actor) for e in submitted.events] == [
        ("CorrectiveActionSubmitted", "acme-portal")
    ]
    portal.complete_corrective_action_item("acme", "A1", "done", occur_time=timeline.step(4))
    tick(server, timeline.step(7))  # A2 two days overdue
    tick(server, timeline.step(1))  # still overdue: told already
    events = list(operator.list_supplier_events("acme"))
    escalated = [e for e in events if e.type == "Escalated"]
    assert [(e.notice.rule_id, e.notice.to) for e in escalated] == [("CA-002", "quality_director")]
    assert "A2" in escalated[0].notice.message
    (marked,) = [e for e in events if e.type == "CorrectiveActionsEscalated"]
    assert list(marked.payload["action_ids"]) == ["A2"]
    full = operator.get_supplier("acme").corrective_action
    assert [(a.action_id, a.status) for a in full.actions] == [
        ("A1", "completed"),
        ("A2", "open"),
        ("A3", "open"),
    ]
    assert full.actions[1].HasField("escalate_time")
    assert not full.actions[2].HasField("escalate_time")


def test_an_extension_beyond_the_packs_limit_is_refused(
    operator: SqmClient, timeline: Timeline
) -> None:
    """Two extensions of a week are granted; the third is FAILED_PRECONDITION, and so is
    one moving the date by more than 14 days.
    """
    in_remediation(operator, "gamma", timeline)
    operator.submit_corrective_action("gamma", record(timeline, 10), occur_time=timeline.step(0.1))
    due = timeline.now + timedelta(days=10)
    for week in (1, 2):
        operator.request_corrective_action_extension(
            "gamma", "A1", due + timedelta(days=7 * week), "parts late",
            occur_time=timeline.step(0.1),
        )  # fmt: skip
        operator.decide_corrective_action_extension(
            "gamma", "A1", EXTENSION_OUTCOMES["approved"], occur_time=timeline.step(0.1)
        )
    third = refused(
        lambda: operator.request_corrective_action_extension(
            "gamma", "A1", due + timedelta(days=21), "again", occur_time=timeline.step(0.1)
        )
    )
    assert third.code == grpc.StatusCode.FAILED_PRECONDITION
    assert third.reason == "EXTENSION_LIMIT_MAX_EXTENSIONS"
    assert "max_extensions" in str(third)
    assert third.metadata["limit"] == "2"
    assert third.metadata["setting"] == "improvement.corrective_actions.max_extensions"
    action = operator.get_supplier("gamma").corrective_action.actions[0]
    assert [e.decision for e in action.extensions] == ["approved", "approved"]
    assert action.due_time.ToDatetime() == (due + timedelta(days=14)).replace(tzinfo=None)


def test_a_too_long_extension_is_refused_and_bad_fields_are_named(
    operator: SqmClient, timeline: Timeline
) -> None:
    """More than 14 days at once is refused by the pack; a missing due time is named."""
    in_remediation(operator, "delta", timeline)
    operator.submit_corrective_action("delta", record(timeline, 10), occur_time=timeline.step(0.1))
    far = timeline.now + timedelta(days=30)
    error = refused(
        lambda: operator.request_corrective_action_extension(
            "delta", "A1", far, "parts late", occur_time=timeline.step(0.1)
        )
    )
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "EXTENSION_LIMIT_MAX_EXTENSION_DAYS"
    bad = record(timeline, 10)
    bad.actions[0].ClearField("due_time")
    error = refused(
        lambda: operator.submit_corrective_action("delta", bad, occur_time=timeline.step(0.1))
    )
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [f.field for f in error.bad_fields] == ["corrective_action.actions[0].due_time"]


def test_a_supplier_answers_only_for_itself_and_never_verifies(
    operator: SqmClient, portal: SqmClient, timeline: Timeline
) -> None:
    """Acme's token may not submit beta's record nor verify or decide anything."""
    in_remediation(operator, "beta", timeline)
    error = refused(
        lambda: portal.submit_corrective_action(
            "beta", record(timeline, 5), occur_time=timeline.step(0.1)
        )
    )
    assert error.code == grpc.StatusCode.PERMISSION_DENIED
    error = refused(
        lambda: portal.verify_corrective_action_item(
            "acme", "A1", "acme-portal", occur_time=timeline.step(0.1)
        )
    )
    assert error.code == grpc.StatusCode.PERMISSION_DENIED


RECORD_YAML = """\
team: [王经理, 李工]
problem: 机房巡检不合格
containment: temporary fans
root_causes: [cooling not sized for the load]
prevention: cooling in the site checklist
actions:
  - {{action_id: A1, description: add a cooling unit, owner: 李工, due_time: {a1}}}
  - {{action_id: A2, description: re-label the cables, owner: 王经理, due_time: {a2}}}
"""


def test_the_command_line_submits_completes_extends_decides_verifies_and_shows(
    tmp_path: Path,
) -> None:
    """`sqm corrective-action ...`: the supplier's verbs with its token, the operator's with
    the operator's; `show` lists the actions with their status and extensions.
    """
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(
        "tokens:\n"
        f"  - {{name: procurement, role: integration, token: {OPERATOR}}}\n"
        f"  - {{name: acme-portal, role: supplier, supplier: acme, token: {ACME}}}\n",
        encoding="utf-8",
    )
    tokens.chmod(0o600)
    server = ServerProcess(
        tmp_path / "sqm.sqlite3", "--tick-seconds", "0", "--tokens-file", str(tokens)
    ).start()
    try:
        # In the past: the commands record at the server's clock, after these events.
        now = datetime.now(UTC).replace(microsecond=0)
        with SqmClient(server.address, token=OPERATOR) as operator:
            in_remediation(operator, "acme", Timeline(now - timedelta(days=20)))

        def run(token: str, *args: str) -> str:
            done = sqm(*args, "--server", server.address, "--token", token)
            assert done.returncode == 0, done.stderr
            return done.stdout

        stamp = [(now + timedelta(days=d)).isoformat() for d in (5, 8)]
        path = tmp_path / "record.yaml"
        path.write_text(RECORD_YAML.format(a1=stamp[0], a2=stamp[1]), encoding="utf-8")
        run(ACME, "corrective-action", "submit", "acme", str(path))
        run(ACME, "corrective-action", "complete", "acme", "A1", "--note", "installed")
        until = (now + timedelta(days=12)).isoformat()
        run(ACME, "corrective-action", "extend", "acme", "A2", "--until", until, "--reason", "x")
        run(OPERATOR, "corrective-action", "decide", "acme", "A2", "approved")
        run(OPERATOR, "corrective-action", "verify", "acme", "A1", "--by", "质量部张工")
        shown = run(OPERATOR, "corrective-action", "show", "acme")
        record = json.loads(run(ACME, "corrective-action", "show", "acme", "--output", "json"))
    finally:
        server.kill()
    assert "revision 1, open" in shown
    assert "质量部张工" in shown
    assert [(a["actionId"], a["status"]) for a in record["actions"]] == [
        ("A1", "verified"),
        ("A2", "open"),
    ]
    assert [e["decision"] for e in record["actions"][1]["extensions"]] == ["approved"]
