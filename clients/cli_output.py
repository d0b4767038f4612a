"""What the client commands print: small aligned tables for people, JSON for programs.

JSON is the messages as :func:`google.protobuf.json_format.MessageToDict` writes them
(lowerCamelCase names, enums by name, times in RFC 3339), so it matches the API's own
JSON mapping.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from google.protobuf import json_format, struct_pb2, timestamp_pb2
from google.protobuf.message import Message

from sqm.client.csv_import import ImportReport
from sqm.client.errors import SqmError
from sqm.v1 import resources_pb2 as pb


def as_json(value: Any) -> str:
    """``value`` (messages nested in dicts and lists allowed) as indented JSON."""
    return json.dumps(_plain(value), indent=2, ensure_ascii=False)


def _plain(value: Any) -> Any:
    if isinstance(value, Message):
        return json_format.MessageToDict(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart; the last is not padded."""
    lines = [list(header), *(list(row) for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def enum_name(value: str, prefix: str) -> str:
    """``LIFECYCLE_STATE_UNDER_REVIEW`` read as ``under_review``."""
    return value.removeprefix(prefix).lower()


def state(supplier: pb.Supplier) -> str:
    """The supplier's lifecycle state, for people."""
    return enum_name(pb.LifecycleState.Name(supplier.state), "LIFECYCLE_STATE_")


def when(stamp: timestamp_pb2.Timestamp) -> str:
    """An RFC 3339 time, or ``-`` when unset."""
    if not stamp.seconds and not stamp.nanos:
        return "-"
    return str(stamp.ToJsonString())


def supplier_text(supplier: pb.Supplier) -> str:
    """One supplier as labelled lines, then its latest decisions."""
    fields = [
        ("supplier", supplier.supplier_id),
        ("name", supplier.display_name),
        ("category", supplier.category),
        ("state", state(supplier)),
        ("version", str(supplier.version)),
        ("etag", supplier.etag),
        ("registered", when(supplier.register_time)),
        ("updated", when(supplier.update_time)),
        ("blacklisted", "yes" if supplier.blacklisted else "no"),
    ]
    if supplier.HasField("contract"):
        contract = supplier.contract
        fields.append(("contract", f"{contract.contract_id} from {when(contract.start_time)}"))
        objectives = ", ".join(o.objective_id for o in contract.objectives)
        fields.append(("objectives", objectives or "-"))
    if supplier.HasField("review"):
        fields.append(("review", f"open since {when(supplier.review.open_time)}"))
    if supplier.scores:
        scores = ", ".join(f"{name} {score:g}" for name, score in sorted(supplier.scores.items()))
        fields.append(("scores", scores))
    width = max(len(label) for label, _ in fields)
    lines = [f"{label.ljust(width)}  {value}" for label, value in fields]
    if supplier.problem_tickets:
        lines.append("problem tickets:")
        lines.append(_indent(tickets_text(supplier.problem_tickets), 2))
    if supplier.latest_decisions:
        lines.append("latest decisions:")
        lines.extend(_indent(decision_lines(d), 2) for d in supplier.latest_decisions)
    return "\n".join(lines)


def tickets_text(tickets: Sequence[pb.ProblemTicket]) -> str:
    """A table of problem tickets (问题单) in the order given: id, severity, when opened, when
    due (the resolution target, 解决时限), when resolved and when a review was opened over it
    (``-`` for none); ``late`` marks one resolved after its due time.
    """
    rows = [
        (
            t.ticket_id,
            enum_name(pb.Severity.Name(t.severity), "SEVERITY_"),
            when(t.open_time),
            when(t.resolution_due_time),
            when(t.resolve_time) + (" late" if resolved_late(t) else ""),
            when(t.review_open_time),
        )
        for t in tickets
    ]
    return table(("TICKET", "SEVERITY", "OPENED", "DUE", "RESOLVED", "REVIEW"), rows)


def resolved_late(ticket: pb.ProblemTicket) -> bool:
    """The ticket was resolved after its resolution due time (False while open or undated)."""
    if not ticket.HasField("resolution_due_time") or not ticket.HasField("resolve_time"):
        return False
    return ticket.resolve_time.ToNanoseconds() > ticket.resolution_due_time.ToNanoseconds()


def suppliers_text(suppliers: Sequence[pb.Supplier]) -> str:
    """A table of suppliers: id, state, category, version, last update, name."""
    rows = [
        (
            s.supplier_id,
            state(s),
            s.category,
            str(s.version),
            when(s.update_time),
            s.display_name,
        )
        for s in suppliers
    ]
    if not rows:
        return "no suppliers"
    return table(("SUPPLIER", "STATE", "CATEGORY", "VERSION", "UPDATED", "NAME"), rows)


def events_text(events: Sequence[pb.SupplierEvent]) -> str:
    """The history as a table of events, each decision event followed by its decision and
    each escalation or notification by whom it told what.
    """
    if not events:
        return "no events"
    rows = [
        (str(e.version), when(e.occur_time), e.type, e.actor or "-", e.request_id) for e in events
    ]
    lines = table(("VERSION", "OCCURRED", "TYPE", "ACTOR", "REQUEST"), rows).splitlines()
    out = lines[:1]
    for line, event in zip(lines[1:], events, strict=True):
        out.append(line)
        if event.HasField("decision"):
            out.append(_indent(decision_lines(event.decision), 4))
        if event.HasField("notice"):
            notice = event.notice
            told = f"{notice.kind} to {notice.to} by {notice.rule_id}: {notice.message}"
            out.append(_indent(told, 4))
    return "\n".join(out)


def decision_lines(decision: pb.Decision) -> str:
    """A decision: rule id, file:line, message; then each condition, actual vs threshold."""
    fired = "fired" if decision.fired else "did not fire"
    head = f"{decision.rule_id} ({decision.rule_file}:{decision.rule_line}) {fired}"
    action = f" -> {decision.action}" if decision.action else ""
    lines = [f"{head}{action}: {decision.message}".rstrip(": ")]
    for condition in decision.conditions:
        held = "held" if condition.held else "not held"
        lines.append(
            f"  {condition.fact}: actual {_value(condition.actual)}"
            f" {condition.operator} threshold {_value(condition.threshold)} ({held})"
        )
    return "\n".join(lines)


def _value(value: struct_pb2.Value) -> str:
    if value.WhichOneof("kind") is None:
        return "-"
    return json.dumps(json_format.MessageToDict(value), ensure_ascii=False)


def _indent(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in text.splitlines())


def import_text(report: ImportReport) -> str:
    """Accepted and rejected counts, then each rejected row by its CSV line."""
    summary = f"accepted {report.accepted}, rejected {len(report.rejected)}"
    if report.not_stored:
        summary += f", not stored {report.not_stored} (in a refused batch; import again when fixed)"
    lines = [summary]
    for row in sorted(report.rejected, key=lambda r: r.line):
        lines.append(f"line {row.line}: {row.reason}: {row.description}")
    return "\n".join(lines)


def import_json(report: ImportReport) -> str:
    """The import report as JSON."""
    return as_json(
        {
            "accepted": report.accepted,
            "rejected": [
                {
                    "line": row.line,
                    "reason": row.reason,
                    "fields": list(row.fields),
                    "description": row.description,
                }
                for row in sorted(report.rejected, key=lambda r: r.line)
            ],
            "notStored": report.not_stored,
        }
    )


def error_text(error: SqmError) -> str:
    """``error: CODE REASON: message`` and each bad field on a line of its own."""
    reason = f" {error.reason}" if error.reason else ""
    lines = [f"error: {error.code.name}{reason}: {error.message}"]
    lines.extend(f"  {bad.field}: {bad.description}" for bad in error.bad_fields)
    return "\n".join(lines)
