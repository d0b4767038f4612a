"""Signed checkpoints: a line verifies only with its own key and its own words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sqm.server.security.checkpoints import (
    Checkpoint,
    CheckpointError,
    append_checkpoint,
    generate_key,
    load_private_key,
    load_public_key,
    read_checkpoints,
)

HEAD = Checkpoint(41, "ab" * 32, "identity", "2026-12-05T19:00:00Z")


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    """A fresh key pair."""
    generate_key(tmp_path / "key.pem", tmp_path / "key.pem.pub")
    return tmp_path / "key.pem", tmp_path / "key.pem.pub"


def test_a_signed_checkpoint_reads_back_with_its_public_key(
    keys: tuple[Path, Path], tmp_path: Path
) -> None:
    """What was appended is what is read, signature checked."""
    file = tmp_path / "checkpoints.jsonl"
    append_checkpoint(file, load_private_key(keys[0]), HEAD)
    assert read_checkpoints(file, load_public_key(keys[1])) == [HEAD]
    assert (keys[0].stat().st_mode & 0o777) == 0o600


def test_an_edited_checkpoint_line_is_refused_naming_its_line(
    keys: tuple[Path, Path], tmp_path: Path
) -> None:
    """Lowering the sequence (to hide a truncation) breaks the signature."""
    file = tmp_path / "checkpoints.jsonl"
    key = load_private_key(keys[0])
    append_checkpoint(file, key, HEAD)
    append_checkpoint(file, key, HEAD)
    lines = file.read_text().splitlines()
    edited = json.loads(lines[1])
    edited["sequence"] = 7
    file.write_text(lines[0] + "\n" + json.dumps(edited) + "\n")
    with pytest.raises(CheckpointError, match=r"checkpoints\.jsonl:2: the signature"):
        read_checkpoints(file, load_public_key(keys[1]))


def test_checkpoints_signed_with_another_key_are_refused(
    keys: tuple[Path, Path], tmp_path: Path
) -> None:
    """A forger's own key pair does not verify under the auditor's public key."""
    generate_key(tmp_path / "forger.pem", tmp_path / "forger.pem.pub")
    file = tmp_path / "checkpoints.jsonl"
    append_checkpoint(file, load_private_key(tmp_path / "forger.pem"), HEAD)
    with pytest.raises(CheckpointError):
        read_checkpoints(file, load_public_key(keys[1]))


def test_a_key_that_is_not_ed25519_pem_is_one_clear_error(tmp_path: Path) -> None:
    """Not a key: CheckpointError naming the file."""
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(CheckpointError, match=r"junk\.pem"):
        load_private_key(tmp_path / "junk.pem")
