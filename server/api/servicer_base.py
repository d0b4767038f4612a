"""What every SupplierService method shares: check a request, run the service, answer.

Application calls run on one worker thread: the SQLite connection and the rules engine are
both fed from a single thread, and commands are serialised within the process (across
processes, optimistic concurrency in the store does it).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import grpc

from sqm.domain.catalogue_checks import validate_with_ids
from sqm.domain.commands import Command
from sqm.domain.errors import ClaimOutsideWindow, FieldViolation, InvalidCommand
from sqm.domain.model import SupplierState
from sqm.domain.validation import SUPPLIER_ID, validate
from sqm.server.api import mapping
from sqm.server.api.errors import translated
from sqm.server.api.proto_values import shown
from sqm.server.app.group_commit import GroupCommit
from sqm.server.app.needs import NeedService
from sqm.server.app.pipeline import RequestContext
from sqm.server.app.suppliers import CommandResult, SupplierService
from sqm.server.security.auth import current_actor
from sqm.v1 import resources_pb2 as pb
from sqm.v1 import supplier_service_pb2 as api

ACTOR_METADATA_KEY = "x-sqm-actor"
SUPPLIER_ID_RULE = "a lower-case letter, then lower-case letters, digits or hyphens, at most 63"

T = TypeVar("T")
C = TypeVar("C")
Context = grpc.aio.ServicerContext[Any, Any]
Clock = Callable[[], datetime]
Mapper = Callable[[Any, Clock], C]


class OnWorker:
    """A servicer whose calls into the application run on its worker thread (``_executor``)."""

    _executor: Executor

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(function, *args))


class ServicerBase(OnWorker):
    """The service, its worker thread and the clock, and the steps every method takes."""

    def __init__(
        self,
        service: SupplierService,
        executor: ThreadPoolExecutor,
        clock: Clock,
        needs: NeedService | None = None,
        calls_cut_off: threading.Event | None = None,
    ) -> None:
        self._service = service
        # Set by a stopping server when its grace is over (App.calls_cut_off).
        self._calls_cut_off = calls_cut_off or threading.Event()
        self._executor = executor
        self._clock = clock
        self._needs = needs
        self._commits = GroupCommit(service, executor)

    async def _read(self, supplier: str) -> SupplierState:
        """The supplier's state for an answer. With a read connection of its own the read is
        done right here on the event loop: a WAL read never waits for a writer, and handing
        a read of a few hundred microseconds to the worker thread and back cost as much
        again (docs/performance.md, sixth round). Otherwise it queues on the worker.
        """
        if self._service.reads_apart:
            return self._service.read(supplier)
        return await self._run(self._service.read, supplier)

    def _prepare(
        self,
        mapper: Mapper[C],
        request: Any,
        context: Context,
        validator: Callable[[Any], None] = validate,
    ) -> tuple[C, RequestContext]:
        """Map ``request`` and check its request id and etag, naming every bad field at once.

        The domain's own field checks run here too (they run again in the service), so a
        caller learns of a bad request id and an empty reason in the same answer; so do the
        checks of the ids it names against the active policy's catalogue (an unknown metric
        is named with the pack's metrics).
        """
        catalogue = self._service.catalogue()

        def checked(command: Any) -> None:
            validate_with_ids(command, catalogue, validator)

        command, problems = mapping.checked_command(mapper, checked, request, self._clock)
        request_id_problem = mapping.request_id_problem(request.request_id)
        if request_id_problem:
            problems.append(FieldViolation("request_id", request_id_problem))
        view_problem = _view_problem(request)
        if view_problem:
            problems.append(view_problem)
        version = None
        if "etag" in request.DESCRIPTOR.fields_by_name:
            try:
                version = mapping.expected_version(request.etag)
            except InvalidCommand as error:
                problems.extend(error.violations)
        if problems or command is None:
            raise InvalidCommand(problems)
        # A time the server filled in differs on every retry: leave it out of the fingerprint.
        defaulted = "occur_time" in request.DESCRIPTOR.fields_by_name and not request.HasField(
            "occur_time"
        )
        return command, RequestContext(request.request_id, actor(context), version, defaulted)

    async def _process(
        self, mapper: Mapper[Command], request: Any, context: Context
    ) -> api.ProcessResult:
        """The whole of a process method: prepare, execute, answer with a ProcessResult."""
        command, request_context = self._prepare(mapper, request, context)
        result = await self._execute(command, request_context)
        return mapping.process_result(result, write_view(request), self._service.policy())

    async def _execute(self, command: Command, context: RequestContext) -> CommandResult:
        try:
            return await self._commits.execute(command, context)
        except InvalidCommand as error:
            raise mapping.in_api_terms(error, command) from None
        except ClaimOutsideWindow as error:
            names = mapping.API_FIELD_NAMES.get(type(command), {})
            field = mapping.api_field(error.field, names)
            raise ClaimOutsideWindow(field, error.limit, str(error)) from None


def process_method(
    mapper: Mapper[Command], answer: Callable[..., T], doc: str
) -> Callable[[Any, Any, Context], Awaitable[T]]:
    """A process method (``OpenReview`` and the like): run the command ``mapper`` makes of the
    request, answer ``answer(result=...)``. Those methods differ in nothing else.
    """

    async def method(self: ServicerBase, request: Any, context: Context) -> T:
        return answer(result=await self._process(mapper, request, context))

    method.__doc__ = doc
    return translated(method)


def write_view(request: Any) -> pb.SupplierView.ValueType:
    """The supplier view a mutating call's answer is built in: BASIC unless asked."""
    return mapping.supplier_view(request.view, pb.SUPPLIER_VIEW_BASIC)


def read_view(request: Any) -> pb.SupplierView.ValueType:
    """The supplier view a read's answer is built in: FULL unless asked (a bad one refused)."""
    problem = _view_problem(request)
    if problem:
        raise InvalidCommand([problem])
    return mapping.supplier_view(request.view, pb.SUPPLIER_VIEW_FULL)


def _view_problem(request: Any) -> FieldViolation | None:
    if "view" not in request.DESCRIPTOR.fields_by_name:
        return None
    if request.view == pb.SUPPLIER_VIEW_UNSPECIFIED or request.view in mapping.VIEWS:
        return None
    return FieldViolation("view", f"unknown supplier view {request.view}")


def actor(context: Context) -> str:
    """Who is calling: the token's name when auth is on (see :mod:`sqm.server.security.auth`)."""
    return current_actor().name


def supplier_id(name: str, field: str) -> str:
    """The supplier id in a resource name, or INVALID_ARGUMENT naming ``field``.

    The id is checked as a registration would check it, so a read never looks up (or
    quotes back in NOT_FOUND) something that cannot be a supplier id.
    """
    bad = mapping.Violations()
    found = mapping.supplier_id_from_name(name, field, bad)
    if found and not SUPPLIER_ID.fullmatch(found):
        bad.add(field, f"{shown(found)} is not a supplier id: {SUPPLIER_ID_RULE}")
    bad.raise_if_any()
    return found
