"""The server's boundary pieces: page tokens, error statuses and settings precedence."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2

from sqm.domain.errors import (
    ConcurrencyConflict,
    FieldViolation,
    IllegalTransition,
    InvalidCommand,
    SupplierNotFound,
)
from sqm.rules.errors import PackError, PackInvalid
from sqm.server.api import pagination
from sqm.server.api.errors import to_status
from sqm.server.config import DEFAULT_ADDRESS, settings_from


def test_page_token_round_trips_its_position() -> None:
    """A token encodes the position it resumes after."""
    token = pagination.encode("suppliers", "acme")
    assert pagination.decode(token, "suppliers") == "acme"


def test_page_token_from_another_collection_is_refused() -> None:
    """A suppliers token cannot page through a supplier's events."""
    token = pagination.encode("suppliers", "acme")
    with pytest.raises(InvalidCommand) as raised:
        pagination.decode(token, "events:acme")
    assert raised.value.violations[0].field == "page_token"


@pytest.mark.parametrize("token", ["garbage", "!!!", "e30", "bnVsbA"])
def test_malformed_page_tokens_are_refused(token: str) -> None:
    """Anything the server did not issue is an INVALID_ARGUMENT on page_token."""
    with pytest.raises(InvalidCommand):
        pagination.decode(token, "suppliers")


def test_page_size_defaults_caps_and_refuses_negative() -> None:
    """0 means the default, large values are capped, negative values are refused."""
    assert pagination.page_size(0, 50, 1000) == 50
    assert pagination.page_size(5000, 50, 1000) == 1000
    with pytest.raises(InvalidCommand):
        pagination.page_size(-1, 50, 1000)


def _details(status: object) -> list[object]:
    found: list[object] = []
    for detail in status.details:  # type: ignore[attr-defined]
        for cls in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.BadRequest,
            error_details_pb2.PreconditionFailure,
        ):
            message = cls()
            if detail.Unpack(message):
                found.append(message)
    return found


def test_invalid_command_maps_to_invalid_argument_with_field_violations() -> None:
    """Each bad field becomes a BadRequest field violation."""
    code, status = to_status(InvalidCommand([FieldViolation("name", "must not be empty")]))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    info, bad_request = _details(status)
    assert info.reason == "INVALID_ARGUMENT"  # type: ignore[attr-defined]
    assert bad_request.field_violations[0].field == "name"  # type: ignore[attr-defined]


def test_illegal_transition_maps_to_failed_precondition_naming_the_state() -> None:
    """The current state travels in ErrorInfo metadata and a PreconditionFailure."""
    code, status = to_status(IllegalTransition("terminated", "qualify"))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    info, failure = _details(status)
    assert info.metadata["current_state"] == "terminated"  # type: ignore[attr-defined]
    assert failure.violations[0].subject == "terminated"  # type: ignore[attr-defined]


def test_a_status_with_hundreds_of_problems_fits_the_trailers_and_says_what_it_left_out() -> None:
    """GRPC clients refuse trailers beyond 8 KiB (the details base64-encoded): a pack with
    500 long problems still answers INVALID_ARGUMENT, listing what fits and counting the rest.
    """
    problems = [PackError("monitoring.yaml", n + 1, 3, "x" * 900) for n in range(500)]
    code, status = to_status(PackInvalid(problems, "hostile"))

    info, bad_request = _details(status)
    violations = list(bad_request.field_violations)  # type: ignore[attr-defined]
    on_the_wire = len(status.message.encode()) + len(status.SerializeToString()) * 4 // 3
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert info.reason == "POLICY_INVALID"  # type: ignore[attr-defined]
    assert on_the_wire < 8192 - 1024  # room left for the other headers
    assert 1 < len(violations) < 500
    assert violations[0].description.startswith("1:3: " + "x" * 100)
    left_out = 500 - len(violations) + 1
    assert violations[-1].description.startswith(f"{len(violations)}:3: {left_out} more problem(s)")
    assert "sqm policy lint" in violations[-1].description
    assert status.message.endswith("(cut; the details list every problem)")


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (SupplierNotFound("x"), grpc.StatusCode.NOT_FOUND),
        (ConcurrencyConflict("x", 1, 2), grpc.StatusCode.ABORTED),
    ],
)
def test_domain_errors_map_to_their_codes(error: Exception, code: grpc.StatusCode) -> None:
    """Not found and stale versions get NOT_FOUND and ABORTED."""
    assert to_status(error)[0] == code  # type: ignore[arg-type]


def test_flags_override_environment_which_overrides_defaults() -> None:
    """Settings precedence: flag, then SQM_* variable, then default."""
    environ = {"SQM_ADDRESS": "127.0.0.1:7000", "SQM_DATABASE": "var/env.sqlite3"}
    from_env = settings_from({}, environ)
    assert from_env.address == "127.0.0.1:7000"
    assert from_env.database == Path("var/env.sqlite3")
    from_flag = settings_from({"address": "127.0.0.1:8000"}, environ)
    assert from_flag.address == "127.0.0.1:8000"
    assert settings_from({}, {}).address == DEFAULT_ADDRESS
