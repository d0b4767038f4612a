"""Generated files are checked in; these tests fail when they drift from their sources."""

from __future__ import annotations

import filecmp
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sqm.domain import lifecycle

ROOT = Path(__file__).resolve().parents[2]
GENERATED_DIR = ROOT / "proto" / "sqm" / "v1"
BUF = ROOT / ".tools" / "node_modules" / ".bin" / "buf"


def test_generated_protobuf_code_matches_the_proto_files(tmp_path: Path) -> None:
    """Regenerating from proto/ reproduces the checked-in *_pb2 files byte for byte."""
    subprocess.run([sys.executable, str(ROOT / "proto" / "generate.py"), str(tmp_path)], check=True)
    fresh = sorted(p.name for p in (tmp_path / "sqm" / "v1").iterdir())
    checked_in = sorted(p.name for p in GENERATED_DIR.glob("*_pb2*"))
    assert fresh == checked_in, "run `make proto` and commit the result"
    _, mismatch, errors = filecmp.cmpfiles(
        tmp_path / "sqm" / "v1", GENERATED_DIR, fresh, shallow=False
    )
    assert mismatch == [], f"stale generated code {mismatch}: run `make proto`"
    assert errors == []


def test_lifecycle_doc_embeds_the_diagram_generated_from_the_machine() -> None:
    """docs/lifecycle.md holds exactly what `sqm lifecycle` prints; run `make docs` if not."""
    doc = (ROOT / "docs" / "lifecycle.md").read_text(encoding="utf-8")
    block = re.search(r"```mermaid\n(.*?)```", doc, re.DOTALL)
    assert block is not None, "docs/lifecycle.md has no mermaid block"
    assert block.group(1) == lifecycle.mermaid(), "stale diagram: run `make docs`"


def test_proto_files_pass_buf_standard_lint() -> None:
    """`buf lint` with the STANDARD rules finds nothing in proto/."""
    buf = shutil.which("buf") or (str(BUF) if BUF.exists() else None)
    if buf is None:
        pytest.skip("buf is not installed (`make buf` installs it with npm): LINT NOT RUN")
    result = subprocess.run(
        [buf, "lint"], cwd=ROOT / "proto", capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
