"""Records the deadlines stage watches: the resource plan after the kick-off (资源配置) and
the signed contract's archived copy (备案).

The state keeps when the latest kick-off was held, when a resource plan was submitted and
when a contract document was archived; the deadline facts read them with neutral values
for a supplier without a kick-off or a contract, and each reminder they lead to is sent
once per kick-off or contract.
"""

from __future__ import annotations

from datetime import datetime

import attrs
import pytest

from sqm.domain.commands import RecordDocument, RecordKickOff, SubmitResourcePlan
from sqm.domain.errors import InvalidCommand
from sqm.domain.events import DocumentArchived, ReminderIssued
from sqm.domain.evolve import fold
from sqm.domain.model import Reminder, Stage, SupplierState
from sqm.domain.pack_catalogue import DocumentKindId
from sqm.domain.ports import DecisionContext
from sqm.domain.serialization import event_from_payload, event_to_payload
from sqm.rules import default_pack_dir, load_pack
from sqm.rules.contract_facts import deadlines_facts
from sqm.rules.model import PolicyPack
from sqm.server.api import audit_mapping
from sqm.v1 import audit_service_pb2 as api
from tests.fakes import DAY, SID, SIGNED_AT, S, run, supplier_in
from tests.unit.test_actions import act, remind

KICK_OFF = SIGNED_AT + 2 * DAY
PACK: PolicyPack = load_pack(default_pack_dir())


def kicked_off(at: datetime = KICK_OFF) -> SupplierState:
    """A contracted supplier whose kick-off meeting was held at ``at``."""
    return run(supplier_in(S.CONTRACTED), RecordKickOff(SID, "5G roll-out", at))


def facts_at(state: SupplierState, now: datetime) -> dict[str, object]:
    """The default pack's deadline facts of ``state`` at ``now``."""
    return dict(deadlines_facts(PACK, DecisionContext(Stage.DEADLINES, state, now)))


def test_the_state_keeps_the_latest_kick_off_and_resource_plan_times() -> None:
    """A second kick-off moves the time; a resource plan records when it came."""
    state = kicked_off()
    assert state.kicked_off_at == KICK_OFF
    assert state.resource_plan_at is None
    later = KICK_OFF + 30 * DAY
    again = run(state, RecordKickOff(SID, "phase 2", later))
    assert again.kicked_off_at == later
    planned = run(again, SubmitResourcePlan(SID, ("12 engineers",), later + DAY))
    assert planned.resource_plan_at == later + DAY


def test_without_a_kick_off_the_resource_plan_facts_are_neutral() -> None:
    """No kick-off: not recorded, 0 days since, no plan; no threshold can hold."""
    facts = facts_at(supplier_in(S.CONTRACTED), SIGNED_AT + 100 * DAY)
    assert facts["kick_off_recorded"] is False
    assert facts["days_since_kick_off"] == 0.0
    assert facts["resource_plan_submitted"] is False


def test_days_since_the_kick_off_count_until_a_plan_is_on_file() -> None:
    """Eight and a half days after the kick-off, then the plan arrives."""
    state = kicked_off()
    facts = facts_at(state, KICK_OFF + 8.5 * DAY)
    assert facts["kick_off_recorded"] is True
    assert facts["days_since_kick_off"] == 8.5
    assert facts["resource_plan_submitted"] is False
    planned = run(state, SubmitResourcePlan(SID, ("12 engineers",), KICK_OFF + 9 * DAY))
    assert facts_at(planned, KICK_OFF + 10 * DAY)["resource_plan_submitted"] is True


def test_a_resource_plan_reminder_is_keyed_by_the_kick_off_and_sent_once() -> None:
    """The key names the kick-off; the same kick-off is not reminded of twice."""
    state = kicked_off()
    reminded = act(state, remind("resource_plan_due"))[1]
    assert isinstance(reminded, ReminderIssued)
    assert reminded.reminder is Reminder.RESOURCE_PLAN_DUE
    assert reminded.key == f"resource_plan_due:{KICK_OFF.isoformat()}"
    sent = fold(act(state, remind("resource_plan_due")), state)
    assert sent is not None
    assert act(sent, remind("resource_plan_due")) == []


def test_a_resource_plan_reminder_without_a_kick_off_has_no_effect() -> None:
    """No kick-off, no deadline to remind of."""
    assert act(supplier_in(S.CONTRACTED), remind("resource_plan_due")) == []


# --- the signed contract archived (备案) ------------------------------------------------------

DOCUMENT = RecordDocument(SID, "0" * 32, "合同.pdf", "application/pdf", "a" * 64, 1024, SIGNED_AT)


def archived(kind: DocumentKindId, at: datetime) -> SupplierState:
    """A contracted supplier with one document of ``kind`` archived at ``at``."""
    return run(supplier_in(S.CONTRACTED), attrs.evolve(DOCUMENT, occurred_at=at, kind=kind))


def test_only_a_contract_document_is_kept_as_the_contract_archived() -> None:
    """A contract document records its time; another kind of document leaves it unset."""
    assert archived("contract", SIGNED_AT + DAY).contract_archived_at == SIGNED_AT + DAY
    assert archived("other", SIGNED_AT + DAY).contract_archived_at is None


def test_a_document_recorded_before_kinds_existed_is_another_document() -> None:
    """An old DocumentArchived payload without a kind reads as ``other``."""
    event = DocumentArchived(SIGNED_AT, "0" * 32, "合同.pdf", "application/pdf", "a" * 64, 1024)
    payload = event_to_payload(event)
    del payload["kind"]
    assert event_from_payload("DocumentArchived", payload) == event
    assert event.kind == "other"


def test_the_contract_archive_facts_count_from_the_signing() -> None:
    """Ten days after signing, not archived; archived after signing, it is."""
    facts = facts_at(supplier_in(S.CONTRACTED), SIGNED_AT + 10 * DAY)
    assert facts["contract_document_archived"] is False
    assert facts["days_since_contract_signed"] == 10.0
    filed = archived("contract", SIGNED_AT + DAY)
    assert facts_at(filed, SIGNED_AT + 10 * DAY)["contract_document_archived"] is True


def test_without_a_contract_the_contract_archive_facts_are_neutral() -> None:
    """A qualified supplier: not archived, 0 days since a signing that never happened."""
    facts = facts_at(supplier_in(S.QUALIFIED), SIGNED_AT + 100 * DAY)
    assert facts["contract_document_archived"] is False
    assert facts["days_since_contract_signed"] == 0.0


def test_a_contract_archived_before_the_signing_is_an_earlier_contracts() -> None:
    """A copy archived before the contract on file was signed does not count for it."""
    early = attrs.evolve(supplier_in(S.CONTRACTED), contract_archived_at=SIGNED_AT - DAY)
    assert facts_at(early, SIGNED_AT + 10 * DAY)["contract_document_archived"] is False


def test_a_contract_archive_reminder_is_keyed_by_the_contract() -> None:
    """The key names the contract and its signing; no contract, no reminder."""
    state = supplier_in(S.CONTRACTED)
    assert state.contract is not None
    reminded = act(state, remind("contract_archive_due"))[1]
    assert isinstance(reminded, ReminderIssued)
    signed = state.contract.signed_at.isoformat()
    assert reminded.key == f"contract_archive_due:{state.contract.contract_id}:{signed}"
    assert act(supplier_in(S.QUALIFIED), remind("contract_archive_due")) == []


def test_an_archive_request_names_its_document_kind() -> None:
    """``contract`` is kept; empty is ``other``; anything else is INVALID_ARGUMENT."""
    request = api.ArchiveDocumentRequest(
        parent=f"suppliers/{SID}", filename="合同.pdf", media_type="application/pdf",
        content=b"%PDF", request_id="doc-1", kind="contract",
    )  # fmt: skip
    assert audit_mapping.new_document(request, "clerk", ("contract", "other")).kind == "contract"
    request.kind = ""
    assert audit_mapping.new_document(request, "clerk", ("contract", "other")).kind == "other"
    request.kind = "invoice"
    with pytest.raises(InvalidCommand) as raised:
        audit_mapping.new_document(request, "clerk", ("contract", "other"))
    assert [v.field for v in raised.value.violations] == ["kind"]
