"""A client for ``sqm.v1.PolicyService``: validate, activate and list policy versions;
propose, approve, schedule and roll back (sign-off).

::

    from sqm.client.policy_client import PolicyClient

    with PolicyClient("127.0.0.1:50051", actor="policy-team") as policies:
        result = policies.activate_directory("rules/packs/telecom-default")
        print(result.policy_version.version)

An activation is retried on transient failures with the same request id, so a retry never
activates twice. Failures raise :class:`sqm.client.errors.SqmError`; an invalid pack carries
one bad field per problem (``files["qualification.yaml"]``, ``"14:11: ..."``), which
:func:`pack_problems` turns back into located problems.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime

import attrs
import grpc

from sqm.client.errors import SqmError
from sqm.client.retry import RetryingClient
from sqm.rules.loader import read_pack_files
from sqm.v1 import policy_service_pb2 as api
from sqm.v1 import policy_service_pb2_grpc as api_grpc

VERSION_PREFIX = "policyVersions/"
PROPOSAL_PREFIX = "policyProposals/"

_FILE_FIELD = re.compile(r'^files\["(?P<file>.*)"\]$')
_LOCATED = re.compile(r"^(?P<line>\d+):(?P<column>\d+): (?P<message>.*)$", re.DOTALL)


@attrs.frozen
class PackProblem:
    """A problem the server found in a pack, located in its file."""

    file: str
    line: int
    column: int
    message: str


class PolicyClient(RetryingClient):
    """Client for ``sqm.v1.PolicyService``; use as a context manager to close the channel."""

    def __init__(
        self,
        target: str,
        *,
        timeout: float = 30.0,
        attempts: int = 4,
        backoff: float = 0.2,
        actor: str | None = None,
        token: str | None = None,
        channel: grpc.Channel | None = None,
    ) -> None:
        if actor and not (actor.isascii() and actor.isprintable()):
            # gRPC metadata values are printable ASCII; a name in 中文 cannot travel as is.
            raise ValueError(f"actor must be printable ASCII, got {actor!r}")
        channel = channel or grpc.insecure_channel(target)
        super().__init__(
            channel, timeout=timeout, attempts=attempts, backoff=backoff, actor=actor, token=token
        )
        self._stub = api_grpc.PolicyServiceStub(channel)

    def validate(self, files: Mapping[str, str]) -> api.ValidatePolicyResponse:
        """Every error and warning of the pack in ``files``, without activating it."""
        return self._call(self._stub.ValidatePolicy, api.ValidatePolicyRequest(files=files))

    def activate(
        self, files: Mapping[str, str], *, request_id: str | None = None
    ) -> api.ActivatePolicyResponse:
        """Make the pack in ``files`` the server's active policy."""
        request = api.ActivatePolicyRequest(files=files, request_id=request_id or str(uuid.uuid4()))
        return self._call(self._stub.ActivatePolicy, request)

    def validate_directory(self, directory: str | os.PathLike[str]) -> api.ValidatePolicyResponse:
        """:meth:`validate` the pack in ``directory`` (its manifest and listed files)."""
        return self.validate(read_pack_files(directory))

    def activate_directory(
        self, directory: str | os.PathLike[str], *, request_id: str | None = None
    ) -> api.ActivatePolicyResponse:
        """:meth:`activate` the pack in ``directory`` (its manifest and listed files)."""
        return self.activate(read_pack_files(directory), request_id=request_id)

    def list_versions(self, page_size: int = 0) -> Iterator[api.PolicyVersion]:
        """Every archived version, first archived first, fetched page by page."""
        request = api.ListPolicyVersionsRequest(page_size=page_size)
        for page in self._pages(self._stub.ListPolicyVersions, request):
            yield from page.policy_versions

    def get_version(self, version: str) -> api.PolicyVersion:
        """One version with its files."""
        request = api.GetPolicyVersionRequest(name=f"{VERSION_PREFIX}{version}")
        return self._call(self._stub.GetPolicyVersion, request).policy_version

    def explain_supplier(
        self,
        supplier_id: str,
        *,
        policy_version: str = "",
        at: datetime | None = None,
        stage: str = "",
    ) -> api.ExplainSupplierResponse:
        """Evaluate a version (the active one by default) on a supplier's history at ``at``
        (its last event by default): every rule, fired or not, with its reasons.
        """
        request = api.ExplainSupplierRequest(
            name=f"suppliers/{supplier_id}", policy_version=policy_version, stage=stage
        )
        if at is not None:
            request.time.FromDatetime(at)
        return self._call(self._stub.ExplainSupplier, request)

    def propose_directory(
        self,
        directory: str | os.PathLike[str],
        *,
        effective_at: datetime | None = None,
        request_id: str | None = None,
    ) -> api.ProposePolicyResponse:
        """Propose the pack in ``directory`` to take effect at ``effective_at`` (None: upon
        approval).
        """
        request = api.ProposePolicyRequest(
            files=read_pack_files(directory), request_id=request_id or str(uuid.uuid4())
        )
        if effective_at is not None:
            request.effective_time.FromDatetime(effective_at)
        return self._call(self._stub.ProposePolicy, request)

    def approve(self, number: int, *, request_id: str | None = None) -> api.ApprovePolicyResponse:
        """Approve proposal ``number`` (four eyes: never the proposer's own)."""
        request = api.ApprovePolicyRequest(
            name=f"{PROPOSAL_PREFIX}{number}", request_id=request_id or str(uuid.uuid4())
        )
        return self._call(self._stub.ApprovePolicy, request)

    def schedule(
        self, number: int, effective_at: datetime, *, request_id: str | None = None
    ) -> api.SchedulePolicyResponse:
        """Set when proposal ``number`` takes effect (its approvals are asked again)."""
        request = api.SchedulePolicyRequest(
            name=f"{PROPOSAL_PREFIX}{number}", request_id=request_id or str(uuid.uuid4())
        )
        request.effective_time.FromDatetime(effective_at)
        return self._call(self._stub.SchedulePolicy, request)

    def rollback(
        self, number: int = 0, *, request_id: str | None = None
    ) -> api.RollbackPolicyResponse:
        """Roll the active version back (``number`` 0), or withdraw proposal ``number``."""
        name = f"{PROPOSAL_PREFIX}{number}" if number else ""
        request = api.RollbackPolicyRequest(name=name, request_id=request_id or str(uuid.uuid4()))
        return self._call(self._stub.RollbackPolicy, request)

    def list_proposals(self) -> api.ListPolicyProposalsResponse:
        """Every proposal, first made first, and how many must sign off a change."""
        return self._call(self._stub.ListPolicyProposals, api.ListPolicyProposalsRequest())


def pack_problems(error: SqmError) -> list[PackProblem]:
    """The located problems of an invalid pack, from the error's bad fields."""
    found = []
    for bad in error.bad_fields:
        file_match = _FILE_FIELD.match(bad.field)
        if file_match is None:
            continue
        located = _LOCATED.match(bad.description)
        if located is None:
            found.append(PackProblem(file_match["file"], 0, 0, bad.description))
        else:
            found.append(
                PackProblem(
                    file_match["file"],
                    int(located["line"]),
                    int(located["column"]),
                    located["message"],
                )
            )
    return found
