"""A contract signed under an award: the need must be awarded to the supplier, and its
service standard supplies the objectives a contract names none of.

The need is another stream, so this is checked where both are at hand, before the supplier's
command is decided; the domain records the need on the contract.
"""

from __future__ import annotations

import attrs

from sqm.domain.commands import Command, SignContract
from sqm.domain.needs import NeedNotFound, NeedPrecondition, NeedStatus, need_stream
from sqm.domain.ports import EventStore
from sqm.domain.serialization import need_from_dict


def under_award(command: Command, store: EventStore) -> Command:
    """``command``, with the need's objectives when it signs a contract under an award that
    names objectives and the contract names none. Raises ``NeedNotFound`` for an unknown
    need and ``NeedPrecondition`` when the need is not awarded to the supplier.
    """
    if not isinstance(command, SignContract) or not command.need_id:
        return command
    snapshot = store.load_snapshot(need_stream(command.need_id))
    if snapshot is None:
        raise NeedNotFound(command.need_id)
    need = need_from_dict(snapshot.state)
    if need.status is not NeedStatus.AWARDED or need.awarded_supplier_id != command.supplier_id:
        awarded = f"awarded to {need.awarded_supplier_id!r}" if need.awarded_supplier_id else "open"
        raise NeedPrecondition(
            f"needs/{need.need_id}",
            f"need {need.need_id!r} is {awarded}; a contract under it is signed with the"
            " supplier it was awarded to",
        )
    if command.objectives or not need.objectives:
        return command
    return attrs.evolve(command, objectives=need.objectives)
