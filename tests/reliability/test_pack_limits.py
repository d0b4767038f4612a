"""One set of pack limits for lint, validation and start-up; a bad pack at start-up is one
located line and exit 2.

A rule file of 2.1 MB was accepted by ``sqm policy lint`` and refused by ``ValidatePolicy``
(1 MiB); ``sqm serve --policy-dir`` with a too-large file or a YAML alias bomb exited after
a traceback. Now lint refuses the file as validation does (``sqm.rules.limits``), and
``sqm serve`` prints one line naming the pack and the file and exits 2.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sqm.rules import default_pack_dir
from sqm.rules.limits import MAX_FILE_BYTES
from tests.commands import sqm
from tests.reliability.pack_mutations import ALIAS_BOMB

pytestmark = pytest.mark.reliability


def _copy(folder: Path) -> Path:
    shutil.copytree(default_pack_dir(), folder)
    return folder


def _too_large(folder: Path) -> Path:
    pack = _copy(folder)
    with (pack / "sla.yaml").open("a", encoding="utf-8") as out:
        out.write(("# padding\n" * 10) * (2_100_000 // 100))
    return pack


def _bomb(folder: Path) -> Path:
    pack = _copy(folder)
    (pack / "sla.yaml").write_bytes(ALIAS_BOMB)
    return pack


def test_lint_refuses_a_rule_file_larger_than_validation_accepts(tmp_path: Path) -> None:
    """A 2.1 MB rule file: lint exits 1 naming the file and the 1 MiB limit."""
    pack = _too_large(tmp_path / "pack")
    linted = sqm("policy", "lint", str(pack))
    assert linted.returncode == 1, linted.stdout + linted.stderr
    assert "sla.yaml" in linted.stdout + linted.stderr
    assert f"at most {MAX_FILE_BYTES} bytes" in linted.stdout + linted.stderr


@pytest.mark.parametrize("make", [_too_large, _bomb], ids=["too large", "alias bomb"])
def test_serve_with_a_bad_pack_prints_one_located_line_and_exits_2(
    tmp_path: Path, make: object
) -> None:
    """No traceback: one ``sqm: policy pack DIR: sla.yaml...`` line on stderr, exit 2."""
    assert callable(make)
    pack = make(tmp_path / "pack")
    served = sqm(
        "serve", "--address", "127.0.0.1:0", "--database", str(tmp_path / "sqm.sqlite3"),
        "--policy-dir", str(pack), "--tick-seconds", "0", timeout=60,
    )  # fmt: skip
    assert served.returncode == 2, served.stdout + served.stderr
    assert "Traceback" not in served.stderr
    errors = [line for line in served.stderr.splitlines() if line.startswith("sqm:")]
    assert len(errors) == 1, served.stderr
    assert f"policy pack {pack}" in errors[0]
    assert "sla.yaml" in errors[0]
