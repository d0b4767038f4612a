"""Tampering with a served SQLite file is reported, where it happened, by the server's
VerifyAuditChain and by the offline ``sqm audit verify``; the untouched record verifies.

One record is made once per module (a server on an alternative pack, then one on the
default pack with signed checkpoints, populated with suppliers, penalties, a review and a
document). Each test copies it with its checkpoint file, makes one edit of
``tests/reliability/tamper.py`` with the server stopped, starts a server on the copy and
asks both verifiers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sqm.client.audit_client import AuditClient
from sqm.rules import default_pack_dir
from sqm.server.security.checkpoints import generate_key
from sqm.v1 import audit_service_pb2 as api
from tests.commands import default_pack_variant, sqm
from tests.e2e.server_process import ServerProcess
from tests.e2e.test_db_transfer import populate
from tests.reliability import tamper

# The populated record is built once for the module (~30 s): under pytest-xdist the module
# runs on one worker (``--dist loadgroup``), so the other does not build it again.
pytestmark = [pytest.mark.reliability, pytest.mark.xdist_group("tamper_evidence")]


class Record:
    """A served database, its key pair and its checkpoint file, copied per test."""

    def __init__(self, folder: Path, key: Path) -> None:
        self.folder = folder
        self.database = folder / "sqm.sqlite3"
        self.checkpoints = folder / "checkpoints.jsonl"
        self.key = key
        self.public_key = key.with_name(key.name + ".pub")

    def server_args(self) -> tuple[str, ...]:
        """``sqm serve`` flags: no deadline ticks, checkpoints only at stop, and a snapshot
        at every command, so that the record's snapshots hold its penalties to tamper with.
        """
        return (
            "--tick-seconds", "0",
            "--snapshot-every", "1",
            "--checkpoint-key", str(self.key),
            "--checkpoint-file", str(self.checkpoints),
            "--checkpoint-seconds", "0",
        )  # fmt: skip

    def copy(self, folder: Path) -> Record:
        """The database and its checkpoints copied to ``folder`` (the same key)."""
        folder.mkdir()
        copied = Record(folder, self.key)
        shutil.copy(self.database, copied.database)
        shutil.copy(self.checkpoints, copied.checkpoints)
        return copied

    def server_verdict(self) -> api.VerifyAuditChainResponse:
        """VerifyAuditChain's answer from a server started on the database."""
        server = ServerProcess(self.database, *self.server_args()).start()
        try:
            with AuditClient(server.address) as audit:
                return audit.verify_chain()
        finally:
            server.stop()

    def offline(self, source: Path | None = None) -> tuple[int, str]:
        """``sqm audit verify``'s exit status and output, on the database or ``source``."""
        found = sqm(
            "audit", "verify", str(source or self.database),
            "--checkpoints", str(self.checkpoints), "--public-key", str(self.public_key),
        )  # fmt: skip
        assert "Traceback" not in found.stderr, found.stderr
        return found.returncode, found.stdout


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> Record:
    """A populated record with a checkpoint of its head signed at the server's stop."""
    root = tmp_path_factory.mktemp("tamper")
    (root / "pristine").mkdir()
    made = Record(root / "pristine", root / "checkpoint.pem")
    generate_key(made.key, made.public_key)
    alternative = default_pack_variant(
        root / "alt-pack", "manifest.yaml", "name: telecom-default", "name: telecom-alt"
    )
    first = ServerProcess(made.database, "--tick-seconds", "0", "--policy-dir", str(alternative))
    first.start().health()  # serving: the pack is archived; stop() is then a clean exit
    assert first.stop() == 0
    server = ServerProcess(made.database, *made.server_args()).start()
    try:
        activated = sqm("policy", "activate", str(default_pack_dir()), "--server", server.address)
        assert activated.returncode == 0, activated.stdout + activated.stderr
        populate(server.address)
    finally:
        assert server.stop() == 0
    assert made.checkpoints.read_text().count("\n") == 1
    return made


def test_the_untouched_record_verifies_online_and_offline(record: Record, tmp_path: Path) -> None:
    """No finding for a record nobody edited, by the server, offline, and from an export."""
    copy = record.copy(tmp_path / "copy")
    verdict = copy.server_verdict()
    assert verdict.intact, verdict.problem
    assert verdict.events_checked > 20
    assert not verdict.findings
    code, out = copy.offline()
    assert code == 0, out
    export = tmp_path / "export.jsonl"
    exported = sqm("db", "export", "--database", str(copy.database), str(export))
    assert exported.returncode == 0, exported.stderr
    code, out = copy.offline(export)
    assert code == 0, out


@pytest.mark.parametrize("edit", sorted(tamper.EDITS))
def test_each_edit_is_reported_where_it_happened(record: Record, tmp_path: Path, edit: str) -> None:
    """The edit is a finding of VerifyAuditChain and of ``sqm audit verify``, named in place."""
    copy = record.copy(tmp_path / "copy")
    where = tamper.EDITS[edit](copy.database)

    code, out = copy.offline()
    verdict = copy.server_verdict()

    assert not verdict.intact
    problems = [f"{f.place}: {f.problem}" for f in verdict.findings]
    assert problems
    assert problems[0] in verdict.problem
    assert any(where in p for p in problems), problems
    assert code == 1, out
    assert where in out, out


def test_a_watcher_keeps_each_checkpoint_and_its_copy_outlives_the_servers_file(
    tmp_path: Path,
) -> None:
    """``sqm watch --checkpoints`` keeps every signed head, byte for byte as the server wrote
    it; with the server's own file gone, the watcher's copy still shows a truncated log.
    """
    live = Record(tmp_path, tmp_path / "checkpoint.pem")
    generate_key(live.key, live.public_key)
    kept = tmp_path / "watcher-checkpoints.jsonl"
    server = ServerProcess(
        live.database,
        *live.server_args()[:-1],
        "0.2",  # a checkpoint every 0.2 s
    ).start()
    watcher = subprocess.Popen(
        [sys.executable, "-m", "sqm.server", "watch", "--server", server.address,
         "--checkpoints", str(kept)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        populate(server.address)
        with AuditClient(server.address) as audit:
            head = audit.verify_chain().events_checked  # sequences run 1..head
        deadline = time.monotonic() + 30
        while _last_sequence(kept) != head and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        watcher.terminate()
        output, _ = watcher.communicate(timeout=30)
        assert server.stop() == 0
    assert _last_sequence(kept) == head, output
    assert " checkpoint " in output
    servers_lines = live.checkpoints.read_text().splitlines()
    assert set(kept.read_text().splitlines()) <= set(servers_lines)

    where = tamper.tail_truncated(live.database)
    live.checkpoints.unlink()  # whoever truncated the log removed the server's file too
    found = sqm(
        "audit", "verify", str(live.database),
        "--checkpoints", str(kept), "--public-key", str(live.public_key),
    )  # fmt: skip
    assert found.returncode == 1, found.stdout + found.stderr
    assert where in found.stdout, found.stdout


def _last_sequence(checkpoints: Path) -> int:
    lines = checkpoints.read_text().splitlines() if checkpoints.exists() else []
    return int(json.loads(lines[-1])["sequence"]) if lines else 0
