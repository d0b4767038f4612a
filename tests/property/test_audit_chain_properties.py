"""The hash chain: an intact log verifies, and any edit, deletion or reordering is caught at
the first event it breaks.
"""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from sqm.domain.audit import event_hash_of_json, recompute_hash, verify_chain
from sqm.domain.ports import RecordedEvent
from sqm.domain.serialization import canonical_json
from tests.strategies import (
    RECORDED_EVENT_FIELDS,
    offset_moments,
    payloads,
    recorded_event_chains,
    replacements_for,
)


def positions(chain: list[RecordedEvent], *, but_last: bool = False) -> st.SearchStrategy[int]:
    """Indexes into ``chain`` (all of them, or all but the last)."""
    return st.integers(0, len(chain) - (2 if but_last else 1))


@given(recorded_event_chains(min_size=0))
def test_an_untouched_chain_verifies_intact(chain: list[RecordedEvent]) -> None:
    """A log built with event_hash checks out link by link, every event counted."""
    result = verify_chain(chain)
    assert result.intact
    assert result.first_broken_seq is None
    assert result.events_checked == len(chain)


@given(recorded_event_chains(), st.data())
def test_changing_any_field_of_any_event_is_detected_at_that_event(
    chain: list[RecordedEvent], data: st.DataObject
) -> None:
    """Editing one field of one event breaks the chain exactly there, not before."""
    index = data.draw(positions(chain), label="index")
    field = data.draw(st.sampled_from(RECORDED_EVENT_FIELDS), label="field")
    value = data.draw(replacements_for(chain[index], field), label="new value")
    tampered = list(chain)
    tampered[index] = attrs.evolve(chain[index], **{field: value})

    result = verify_chain(tampered)

    assert not result.intact
    assert result.events_checked == index
    assert result.first_broken_seq == tampered[index].global_seq
    if field != "global_seq":
        assert result.first_broken_seq == index + 1


@given(recorded_event_chains(min_size=2), payloads(), st.data())
def test_rehashing_an_edited_event_is_caught_at_the_next_link(
    chain: list[RecordedEvent], payload: dict[str, object], data: st.DataObject
) -> None:
    """An edit whose own hash is recomputed still breaks the following event's prev_hash."""
    index = data.draw(positions(chain, but_last=True), label="index")
    edited = attrs.evolve(chain[index], payload=payload)
    edited = attrs.evolve(edited, hash=recompute_hash(edited))
    tampered = [*chain[:index], edited, *chain[index + 1 :]]

    result = verify_chain(tampered)

    if edited.hash == chain[index].hash:  # the payload drawn was the original one
        assert result.intact
        return
    assert result.first_broken_seq == index + 2
    assert result.events_checked == index + 1
    assert "prev_hash" in result.problem


def renumbered(events: list[RecordedEvent]) -> list[RecordedEvent]:
    """``events`` with global sequences rewritten to 1, 2, ... as a forger hiding a gap would."""
    return [attrs.evolve(e, global_seq=seq) for seq, e in enumerate(events, start=1)]


@given(recorded_event_chains(min_size=2), st.booleans(), st.data())
def test_deleting_an_event_is_detected_with_or_without_renumbering(
    chain: list[RecordedEvent], renumber: bool, data: st.DataObject
) -> None:
    """Removing an event (not the last) breaks the chain where its successor now stands."""
    index = data.draw(positions(chain, but_last=True), label="index")
    kept = chain[:index] + chain[index + 1 :]

    result = verify_chain(renumbered(kept) if renumber else kept)

    assert result.events_checked == index
    if renumber:  # no gap to see, but the successor's prev_hash names the deleted event
        assert result.first_broken_seq == index + 1
        assert "prev_hash" in result.problem
    else:
        assert result.first_broken_seq == chain[index + 1].global_seq
        assert "sequence gap" in result.problem


@given(recorded_event_chains(min_size=2))
def test_truncating_the_tail_shows_only_in_the_count_checked(
    chain: list[RecordedEvent],
) -> None:
    """Dropping the newest event leaves an intact prefix: compare the count with the known head."""
    result = verify_chain(chain[:-1])
    assert result.intact
    assert result.events_checked == len(chain) - 1


@given(recorded_event_chains(min_size=2), st.booleans(), st.data())
def test_reordering_two_events_is_detected_with_or_without_renumbering(
    chain: list[RecordedEvent], renumber: bool, data: st.DataObject
) -> None:
    """Swapping two events is caught at the earlier of the two positions."""
    first = data.draw(positions(chain, but_last=True), label="first")
    second = data.draw(st.integers(first + 1, len(chain) - 1), label="second")
    swapped = list(chain)
    swapped[first], swapped[second] = chain[second], chain[first]

    result = verify_chain(renumbered(swapped) if renumber else swapped)

    assert result.events_checked == first
    if renumber:
        assert result.first_broken_seq == first + 1
    else:
        assert result.first_broken_seq == chain[second].global_seq


@given(recorded_event_chains(), st.data())
def test_the_hash_covers_content_not_its_spelling(
    chain: list[RecordedEvent], data: st.DataObject
) -> None:
    """Reordered payload keys or another offset for the same instant keep the hash valid."""
    index = data.draw(positions(chain), label="index")
    original = chain[index]
    offset = data.draw(offset_moments(), label="any offset").tzinfo
    respelled = attrs.evolve(
        original,
        payload=dict(reversed(list(original.payload.items()))),
        occurred_at=original.occurred_at.astimezone(offset),
        recorded_at=original.recorded_at.astimezone(offset),
    )
    assert recompute_hash(respelled) == original.hash
    assert verify_chain([*chain[:index], respelled, *chain[index + 1 :]]).intact


@given(recorded_event_chains())
def test_hashing_the_payloads_canonical_json_gives_the_same_hash(
    chain: list[RecordedEvent],
) -> None:
    """The store hashes each payload's JSON text once encoded: the same bytes, the same hash."""
    for event in chain:
        spliced = event_hash_of_json(
            prev_hash=event.prev_hash,
            global_seq=event.global_seq,
            stream_id=event.stream_id,
            version=event.version,
            event_type=event.event_type,
            payload_json=canonical_json(event.payload).decode("utf-8"),
            occurred_at=event.occurred_at,
            recorded_at=event.recorded_at,
            actor=event.actor,
            request_id=event.request_id,
            policy_version=event.policy_version,
        )
        assert spliced == recompute_hash(event) == event.hash
