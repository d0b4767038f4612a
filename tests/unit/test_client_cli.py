"""The client commands' flags, environment defaults, CSV reading and derived request ids."""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Iterable
from pathlib import Path

import grpc
import pytest

from sqm.client.cli import add_client_commands, connection
from sqm.client.cli_output import error_text, events_text, table
from sqm.client.connection import DEFAULT_SERVER, TlsFilesInvalid, connection_from
from sqm.client.csv_import import (
    CsvInvalid,
    CsvRow,
    RejectedLine,
    batches,
    derived_request_id,
    import_rows,
    parse_measurements,
    read_measurements,
)
from sqm.client.errors import BadField, SqmError
from sqm.v1 import resources_pb2 as pb
from sqm.v1 import supplier_service_pb2 as api

HEADER = "supplier_id,objective_id,value,unit,period_start,period_end,occur_time,request_id\n"
ROW = "acme,availability,99.95,percent,2026-01-01T00:00:00Z,2026-01-31T00:00:00Z,{occur},{rid}\n"
DIGEST = "ab" * 32


def _row(occur: str = "2026-01-31T00:00:00Z", rid: str = "") -> str:
    return ROW.format(occur=occur, rid=rid)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sqm")
    add_client_commands(parser.add_subparsers(required=True))
    return parser.parse_args(argv)


def _problems(text: str) -> tuple[str, ...]:
    with pytest.raises(CsvInvalid) as raised:
        parse_measurements(text, DIGEST)
    return raised.value.problems


def test_supplier_get_takes_an_id_and_the_connection_flags() -> None:
    """Every connection flag is accepted after the verb."""
    args = _parse(
        ["supplier", "get", "acme", "--server", "h:1", "--token", "t", "--tls-ca", "ca.pem",
         "--tls-cert", "c.pem", "--tls-key", "k.pem", "--timeout", "5", "--output", "json"]
    )  # fmt: skip
    assert (args.supplier_id, args.server, args.token, args.output) == ("acme", "h:1", "t", "json")
    assert (args.tls_ca, args.tls_cert, args.tls_key, args.timeout) == (
        "ca.pem", "c.pem", "k.pem", 5.0,
    )  # fmt: skip


def test_output_must_be_text_or_json() -> None:
    """An unknown output format is a usage error (exit 2)."""
    with pytest.raises(SystemExit) as raised:
        _parse(["supplier", "list", "--output", "yaml"])
    assert raised.value.code == 2


def test_import_defaults_to_batches_of_a_thousand_all_or_none() -> None:
    """Without flags an import sends 1,000 rows a stream, refused whole on a bad row."""
    args = _parse(["measurements", "import", "m.csv"])
    assert (args.file, args.batch_size, args.partial, args.quiet) == (
        Path("m.csv"), 1000, False, False,
    )  # fmt: skip


@pytest.mark.parametrize("size", ["0", "-3", "ten", "10001"])
def test_a_batch_size_out_of_range_is_a_usage_error(size: str) -> None:
    """Batch sizes below 1, above the server's limit or not numbers are refused."""
    with pytest.raises(SystemExit):
        _parse(["measurements", "import", "m.csv", "--batch-size", size])


def test_server_and_token_come_from_the_environment_when_no_flag_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SQM_SERVER and SQM_TOKEN fill in missing flags."""
    monkeypatch.setenv("SQM_SERVER", "sqm.example:443")
    monkeypatch.setenv("SQM_TOKEN", "from-env")
    target = connection(_parse(["supplier", "list"]))
    assert (target.server, target.token) == ("sqm.example:443", "from-env")


def test_flags_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A flag given on the command line is used even when the variable is set."""
    monkeypatch.setenv("SQM_SERVER", "sqm.example:443")
    monkeypatch.setenv("SQM_TOKEN", "from-env")
    target = connection(_parse(["supplier", "list", "--server", "h:1", "--token", "flag"]))
    assert (target.server, target.token) == ("h:1", "flag")


def test_without_flags_or_environment_the_local_server_is_used_in_plaintext() -> None:
    """The default is 127.0.0.1:50051, no token, no TLS, a 30 second deadline."""
    target = connection_from(environ={})
    assert (target.server, target.token, target.uses_tls, target.timeout) == (
        DEFAULT_SERVER, None, False, 30.0,
    )  # fmt: skip
    assert target.credentials() is None


def test_a_token_is_not_shown_in_the_connections_repr() -> None:
    """Logging a connection does not leak its bearer token."""
    assert "s3cret" not in repr(connection_from(token="s3cret", environ={}))


def test_a_client_certificate_without_a_ca_is_refused() -> None:
    """Mutual TLS needs TLS: a certificate alone is a configuration error."""
    target = connection_from(tls_cert="c.pem", tls_key="k.pem", environ={})
    with pytest.raises(TlsFilesInvalid, match="--tls-ca"):
        target.credentials()


def test_a_missing_ca_file_is_named(tmp_path: Path) -> None:
    """An unreadable CA file is reported with its path."""
    target = connection_from(tls_ca=str(tmp_path / "nope.pem"), environ={})
    with pytest.raises(TlsFilesInvalid, match=r"nope\.pem"):
        target.credentials()


def test_a_non_positive_timeout_is_refused() -> None:
    """A deadline of zero seconds would fail every call."""
    with pytest.raises(ValueError, match="timeout"):
        connection_from(timeout=0, environ={})


def test_rows_are_read_with_their_csv_line_numbers() -> None:
    """Each row keeps the line it came from, the header being line 1."""
    rows = parse_measurements(HEADER + _row() + _row("2026-02-01T00:00:00+08:00"), DIGEST)
    assert [r.line for r in rows] == [2, 3]
    assert rows[0].request.name == "suppliers/acme"
    assert rows[0].request.value == 99.95
    assert rows[1].request.occur_time.ToJsonString() == "2026-01-31T16:00:00Z"


def test_a_missing_column_is_reported_on_line_one() -> None:
    """The header must name every required column."""
    header = HEADER.replace("unit,", "")
    assert _problems(header) == ("line 1: missing column(s): unit",)


def test_an_empty_file_has_no_header() -> None:
    """A file without a header row cannot be imported."""
    assert _problems("") == ("line 1: no header row",)


def test_every_bad_row_is_reported_with_its_line_number() -> None:
    """Bad numbers, bad times, missing zones and empty cells are all reported at once."""
    text = (
        HEADER
        + _row()
        + _row().replace("99.95", "lots")
        + _row("yesterday")
        + _row("2026-01-31T00:00:00")
        + _row().replace("availability", "")
        + _row().replace("99.95", "nan")
    )
    problems = _problems(text)
    assert problems == (
        "line 3: value: not a number: 'lots'",
        "line 4: occur_time: not an RFC 3339 time: 'yesterday'",
        "line 5: occur_time: give a zone offset (Z or +08:00): '2026-01-31T00:00:00'",
        "line 6: empty objective_id",
        "line 7: value: not a finite number: 'nan'",
    )


def test_a_row_with_too_many_values_is_reported() -> None:
    """More cells than columns is a problem, not silently dropped data."""
    assert _problems(HEADER + _row().rstrip("\n") + ",extra\n") == (
        "line 2: more values than columns",
    )


def test_rows_without_a_request_id_get_one_from_the_file_digest_and_row_number() -> None:
    """The derived id is the same every time the same file is read."""
    rows = parse_measurements(HEADER + _row() + _row(rid="mine"), DIGEST)
    assert rows[0].request.request_id == derived_request_id(DIGEST, 1)
    assert rows[1].request.request_id == "mine"
    assert len(derived_request_id(DIGEST, 10_000_000)) <= 128


def test_reading_the_same_file_twice_derives_the_same_request_ids(tmp_path: Path) -> None:
    """Stable ids are what make a re-import count nothing twice."""
    path = tmp_path / "m.csv"
    path.write_text(HEADER + _row() + _row("2026-02-01T00:00:00Z"))
    first = [r.request.request_id for r in read_measurements(path)]
    again = [r.request.request_id for r in read_measurements(path)]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert first == again == [f"csv-{digest}-1", f"csv-{digest}-2"]


def test_another_file_derives_other_request_ids(tmp_path: Path) -> None:
    """A changed file is new data: its rows do not collide with the old file's ids."""
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    one.write_text(HEADER + _row())
    two.write_text(HEADER + _row().replace("99.95", "99.5"))
    assert read_measurements(one)[0].request.request_id != (
        read_measurements(two)[0].request.request_id
    )


def test_a_column_missing_a_request_id_column_still_derives_ids() -> None:
    """The request_id column itself is optional."""
    header = HEADER.replace(",request_id", "")
    (row,) = parse_measurements(header + _row().rstrip(",\n") + "\n", DIGEST)
    assert row.request.request_id == derived_request_id(DIGEST, 1)


def test_batches_are_consecutive_slices() -> None:
    """Five rows in batches of two are sent as 2, 2 and 1."""
    assert [list(b) for b in batches([1, 2, 3, 4, 5], 2)] == [[1, 2], [3, 4], [5]]


def test_an_error_prints_code_reason_message_and_each_bad_field() -> None:
    """A refusal reads ``error: CODE REASON: message`` then its fields."""
    error = SqmError(
        grpc.StatusCode.INVALID_ARGUMENT, "bad request", "INVALID_ARGUMENT",
        bad_fields=(BadField("name", "must be suppliers/{id}"),),
    )  # fmt: skip
    assert error_text(error) == (
        "error: INVALID_ARGUMENT INVALID_ARGUMENT: bad request\n  name: must be suppliers/{id}"
    )


def test_tables_are_aligned_to_their_widest_cell() -> None:
    """Columns line up; trailing spaces are trimmed."""
    assert table(("A", "BB"), [("long", "x"), ("s", "")]) == "A     BB\nlong  x\ns"


class FakeUploader:
    """Answers each upload from a queue: a response, or an error to raise."""

    def __init__(self, *answers: api.UploadMeasurementsResponse | SqmError) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[list[str], bool]] = []
        self.timeouts: list[float | None] = []

    def upload_measurements(
        self,
        rows: Iterable[api.RecordMeasurementRequest],
        partial_acceptance: bool = False,
        *,
        timeout: float | None = None,
    ) -> api.UploadMeasurementsResponse:
        """Record the batch's request ids and deadline; answer with the next queued answer."""
        self.sent.append(([r.request_id for r in rows], partial_acceptance))
        self.timeouts.append(timeout)
        answer = self.answers.pop(0)
        if isinstance(answer, SqmError):
            raise answer
        return answer


def _rows(count: int) -> list[CsvRow]:
    return parse_measurements(HEADER + _row() * count, DIGEST)


def test_an_import_sends_one_stream_per_batch_and_adds_up_the_answers() -> None:
    """Three rows in batches of two: two streams, longer deadlines for more rows, counts summed."""
    uploader = FakeUploader(
        api.UploadMeasurementsResponse(accepted_count=2),
        api.UploadMeasurementsResponse(accepted_count=1),
    )
    seen: list[int] = []

    report = import_rows(uploader, _rows(3), batch_size=2, timeout=10, progress=seen.append)

    assert [len(ids) for ids, _ in uploader.sent] == [2, 1]
    assert uploader.timeouts == [pytest.approx(10.2), pytest.approx(10.1)]
    assert (report.accepted, report.rejected, report.complete, seen) == (3, [], True, [2, 1])


def test_rejected_rows_of_a_partial_import_are_named_by_csv_line() -> None:
    """Row index 1 of the second batch is CSV line 5 (header, then rows 2, 3, 4, 5)."""
    rejected = api.RejectedRow(
        index=1, reason="INVALID_ARGUMENT", fields=["measurements[1].unit"], description="percent"
    )
    uploader = FakeUploader(
        api.UploadMeasurementsResponse(accepted_count=2),
        api.UploadMeasurementsResponse(accepted_count=1, rejected_rows=[rejected]),
    )

    report = import_rows(uploader, _rows(4), partial=True, batch_size=2)

    assert all(partial for _, partial in uploader.sent)
    assert report.rejected == [RejectedLine(5, "INVALID_ARGUMENT", ("unit",), "percent")]
    assert (report.accepted, report.not_stored, report.complete) == (3, 0, False)


def test_a_refused_batch_names_its_bad_rows_and_counts_the_rest_not_stored() -> None:
    """All or none: the named row is rejected, the others of its batch are not stored."""
    refusal = SqmError(
        grpc.StatusCode.INVALID_ARGUMENT, "bad rows", "INVALID_ARGUMENT",
        bad_fields=(BadField("measurements[2].unit", "must be percent"),),
    )  # fmt: skip
    uploader = FakeUploader(refusal, api.UploadMeasurementsResponse(accepted_count=1))

    report = import_rows(uploader, _rows(4), batch_size=3)

    assert report.rejected == [
        RejectedLine(4, "INVALID_ARGUMENT", ("unit",), "unit: must be percent")
    ]
    assert (report.accepted, report.not_stored) == (1, 2)


def test_a_refusal_naming_no_row_stops_the_import() -> None:
    """Permission denied is not about a row: it is raised as it is."""
    denied = SqmError(grpc.StatusCode.PERMISSION_DENIED, "no", "PERMISSION_DENIED")
    with pytest.raises(SqmError) as raised:
        import_rows(FakeUploader(denied), _rows(1))
    assert raised.value is denied


def test_an_escalation_in_the_history_says_whom_it_told_what() -> None:
    """Under the event's row: the notice's kind, role, rule and message."""
    event = pb.SupplierEvent(
        version=7,
        type="Escalated",
        notice=pb.RoleNotice(
            kind="escalated", to="procurement_director", message="2 in 30 days", rule_id="MON-011"
        ),
    )
    lines = events_text([event]).splitlines()
    assert lines[-1] == "    escalated to procurement_director by MON-011: 2 in 30 days"
