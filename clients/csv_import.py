"""Import SLA measurements from a CSV file through ``UploadMeasurements``, batch by batch.

The file has a header row naming the columns :data:`REQUIRED_COLUMNS` (in any order) and,
optionally, ``request_id``. Every row is checked before anything is sent, and each
problem names its CSV line. A row without a request id gets one derived from the file's
SHA-256 and the row's number, so importing the same file again is recognised row by row
by the server and never counts twice.

Each batch is one stream: all or none unless partial acceptance is asked. A refused batch
stores nothing; its rows the server named are reported by CSV line, and its other rows as
not stored. Later batches are still sent (each stands alone, and a re-import is safe).
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol, TypeVar

import attrs

from sqm.client.builders import measurement
from sqm.client.errors import SqmError
from sqm.v1 import supplier_service_pb2 as api

REQUIRED_COLUMNS = (
    "supplier_id",
    "objective_id",
    "value",
    "unit",
    "period_start",
    "period_end",
    "occur_time",
)
REQUEST_ID_COLUMN = "request_id"
DEFAULT_BATCH_SIZE = 1_000
# The server decides an upload's rows one by one: a batch's deadline grows with its rows.
UPLOAD_SECONDS_PER_ROW = 0.1
Item = TypeVar("Item")
_ROW_FIELD = re.compile(r"^measurements\[(?P<index>\d+)\](?:\.(?P<field>.*))?$")


class CsvInvalid(ValueError):
    """The file cannot be imported; ``problems`` name each bad line ("line 7: ...")."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


@attrs.frozen
class CsvRow:
    """One measurement read from the file, with the CSV line it came from."""

    line: int
    request: api.RecordMeasurementRequest


@attrs.frozen
class RejectedLine:
    """A row the server refused: its CSV line, the reason, the fields and what was wrong."""

    line: int
    reason: str
    fields: tuple[str, ...]
    description: str


@attrs.define
class ImportReport:
    """What an import did: rows accepted, rows refused, rows of refused batches not stored."""

    accepted: int = 0
    rejected: list[RejectedLine] = attrs.Factory(list)
    not_stored: int = 0

    @property
    def complete(self) -> bool:
        """True when every row was accepted."""
        return not self.rejected and not self.not_stored


class Uploader(Protocol):
    """What an import needs of a client: :meth:`clients.SqmClient.upload_measurements`."""

    def upload_measurements(
        self,
        rows: Iterable[api.RecordMeasurementRequest],
        partial_acceptance: bool = False,
        *,
        timeout: float | None = None,
    ) -> api.UploadMeasurementsResponse:
        """Upload ``rows`` in one stream, within ``timeout`` seconds."""


def derived_request_id(digest: str, row_number: int) -> str:
    """The stable request id of data row ``row_number`` (from 1) of the file with ``digest``."""
    return f"csv-{digest}-{row_number}"


def read_measurements(path: Path) -> list[CsvRow]:
    """Every row of the CSV file at ``path``, or :class:`CsvInvalid` naming every bad line."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CsvInvalid([f"{path}: cannot read: {error.strerror}"]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CsvInvalid([f"{path}: not UTF-8 text ({error.reason})"]) from None
    return parse_measurements(text, hashlib.sha256(data).hexdigest())


def parse_measurements(text: str, digest: str) -> list[CsvRow]:
    """The rows of CSV ``text``; ``digest`` (the file's SHA-256) seeds derived request ids."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = [c.strip() for c in reader.fieldnames or ()]
    if not columns:
        raise CsvInvalid(["line 1: no header row"])
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise CsvInvalid([f"line 1: missing column(s): {', '.join(missing)}"])
    reader.fieldnames = columns
    rows, problems = [], []
    try:
        for number, record in enumerate(reader, start=1):
            try:
                rows.append(_row(record, reader.line_num, digest, number))
            except ValueError as error:
                problems.append(f"line {reader.line_num}: {error}")
    except csv.Error as error:
        problems.append(f"line {reader.line_num}: {error}")
    if problems:
        raise CsvInvalid(problems)
    return rows


def _row(record: dict[str, str | None], line: int, digest: str, number: int) -> CsvRow:
    if None in record:
        raise ValueError("more values than columns")
    values = {key: (value or "").strip() for key, value in record.items()}
    empty = [c for c in REQUIRED_COLUMNS if not values[c]]
    if empty:
        raise ValueError(f"empty {', '.join(empty)}")
    request = measurement(
        values["supplier_id"],
        values["objective_id"],
        _number(values["value"]),
        values["unit"],
        period_start=_time("period_start", values["period_start"]),
        period_end=_time("period_end", values["period_end"]),
        occur_time=_time("occur_time", values["occur_time"]),
        request_id=values.get(REQUEST_ID_COLUMN) or derived_request_id(digest, number),
    )
    return CsvRow(line, request)


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"value: not a number: {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"value: not a finite number: {text!r}")
    return value


def _time(column: str, text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{column}: not an RFC 3339 time: {text!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{column}: give a zone offset (Z or +08:00): {text!r}")
    return moment


def batches(rows: Sequence[Item], size: int) -> Iterator[Sequence[Item]]:
    """``rows`` in consecutive slices of at most ``size``."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def import_rows(
    client: Uploader,
    rows: Sequence[CsvRow],
    *,
    partial: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    timeout: float = 30.0,
    progress: Callable[[int], object] = lambda _: None,
) -> ImportReport:
    """Upload ``rows`` batch by batch; ``progress`` hears how many rows each batch held.

    Each batch's deadline is ``timeout`` plus :data:`UPLOAD_SECONDS_PER_ROW` per row.

    A refusal that names no row (permission denied, unreachable server) is raised as the
    :class:`SqmError` it is.
    """
    report = ImportReport()
    for batch in batches(rows, batch_size):
        try:
            response = client.upload_measurements(
                [row.request for row in batch],
                partial_acceptance=partial,
                timeout=timeout + UPLOAD_SECONDS_PER_ROW * len(batch),
            )
        except SqmError as error:
            _refused_batch(report, batch, error)
        else:
            _answered_batch(report, batch, response)
        progress(len(batch))
    return report


def _answered_batch(
    report: ImportReport, batch: Sequence[CsvRow], response: api.UploadMeasurementsResponse
) -> None:
    report.accepted += response.accepted_count
    for rejected in response.rejected_rows:
        report.rejected.append(
            RejectedLine(
                batch[rejected.index].line,
                rejected.reason,
                tuple(_field(f) for f in rejected.fields),
                rejected.description,
            )
        )


def _refused_batch(report: ImportReport, batch: Sequence[CsvRow], error: SqmError) -> None:
    named: dict[int, list[tuple[str, str]]] = {}
    for bad in error.bad_fields:
        match = _ROW_FIELD.match(bad.field)
        if match and int(match["index"]) < len(batch):
            named.setdefault(int(match["index"]), []).append((bad.field, bad.description))
    if not named:
        raise error
    for index, violations in sorted(named.items()):
        report.rejected.append(
            RejectedLine(
                batch[index].line,
                error.reason or error.code.name,
                tuple(_field(field) for field, _ in violations),
                "; ".join(f"{_field(field)}: {text}" for field, text in violations),
            )
        )
    report.not_stored += len(batch) - len(named)


def _field(name: str) -> str:
    # "measurements[3].unit" means the unit column: the line number already says which row.
    match = _ROW_FIELD.match(name)
    return (match["field"] or name) if match else name
