"""``sqm db`` and ``sqm serve --database``: what an operator sees, success or not.

Every refusal is one line on stderr naming what was expected, with exit status 2 and no
traceback.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from sqm.server.cli.main import main
from sqm.server.storage import postgres_schema
from sqm.server.storage.sqlite import SqliteEventStore
from tests.commands import sqm
from tests.fakes import T0
from tests.policy_fixtures import pack_files
from tests.postgres import ThrowawayPostgresStore, fresh_schema

pytestmark = pytest.mark.integration


def assert_refused(result: subprocess.CompletedProcess[str], expected: str) -> None:
    """Exit status 2 and one line on stderr saying ``expected``."""
    assert result.returncode == 2, result
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr


def test_migrate_applies_each_migration_once(capsys: pytest.CaptureFixture[str]) -> None:
    """The first run lists what it applied; the second finds the schema current."""
    with fresh_schema() as url:
        assert main(["db", "migrate", "--database", url]) == 0
        first = capsys.readouterr().out
        assert main(["db", "migrate", "--database", url]) == 0
        second = capsys.readouterr().out

    assert first.count("applied migration") == postgres_schema.SCHEMA_VERSION
    assert f"schema at version {postgres_schema.SCHEMA_VERSION}" in first
    assert "applied" not in second.replace("(already)", "")
    assert "(already)" in second


def test_migrate_on_a_sqlite_file_creates_it_current(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SQLite files migrate as they open; `sqm db migrate` says so and leaves one ready."""
    path = tmp_path / "new.sqlite3"

    assert main(["db", "migrate", "--database", str(path)]) == 0

    assert "SQLite" in capsys.readouterr().out
    with SqliteEventStore(path) as store:
        assert store.last_sequence() == 0


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["serve", "--address", "127.0.0.1:0"], "sqm db migrate --database URL"),
        (["db", "export", "{tmp}/out.jsonl"], "is at schema version 0"),
    ],
    ids=["serve", "export"],
)
def test_an_unmigrated_postgresql_schema_is_refused_in_one_line(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    """Without --migrate, nothing is created: the operator is told which command to run."""
    with fresh_schema() as url:
        result = sqm(*(arg.format(tmp=tmp_path) for arg in args), "--database", url)

    assert_refused(result, expected)


@pytest.mark.parametrize(
    ("database", "expected"),
    [
        ("postgresql://postgres@127.0.0.1:1/test", "cannot connect to PostgreSQL"),
        ("mysql://db/sqm", "must be a SQLite file path or a postgresql:// URL"),
    ],
    ids=["unreachable", "other-scheme"],
)
def test_serve_refuses_a_database_it_cannot_use_in_one_line(database: str, expected: str) -> None:
    """A wrong or unreachable database stops `sqm serve` before it listens."""
    assert_refused(sqm("serve", "--address", "127.0.0.1:0", "--database", database), expected)


def test_export_of_a_missing_sqlite_file_is_refused(tmp_path: Path) -> None:
    """Export only reads: a file that is not there is not created."""
    missing = tmp_path / "missing.sqlite3"

    assert_refused(
        sqm("db", "export", "--database", str(missing), str(tmp_path / "out.jsonl")),
        "no such database",
    )
    assert not missing.exists()


def test_a_broken_file_is_refused_naming_its_line_and_leaves_no_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failed import into a new SQLite file leaves no file behind."""
    source = tmp_path / "source.sqlite3"
    with SqliteEventStore(source):
        pass
    dump = tmp_path / "sqm.jsonl"
    assert main(["db", "export", "--database", str(source), str(dump)]) == 0
    lines = dump.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    header["format_version"] = 99
    dump.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n", encoding="utf-8")
    target = tmp_path / "target.sqlite3"
    capsys.readouterr()

    assert main(["db", "import", "--database", str(target), str(dump)]) == 2

    message = capsys.readouterr().err
    assert message.startswith(f"sqm: {dump}:1: not an sqm-export file of version 1")
    assert "nothing was imported" in message
    assert not target.exists()


def test_policy_versions_reads_a_postgresql_database(capsys: pytest.CaptureFixture[str]) -> None:
    """The policy tools that read a server's database take its URL as they take a file."""
    with ThrowawayPostgresStore() as store:
        store.save_version("c" * 64, "telecom-default", pack_files(), T0)
        store.record_activation("c" * 64, "alice", "activate-1", T0)

        assert main(["policy", "versions", "--database", store.url]) == 0

    assert "cccccccc" in capsys.readouterr().out
