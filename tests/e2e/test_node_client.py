"""The Node example client (clients/node) against a real server: qualify, then decode errors."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e

NODE_CLIENT = Path(__file__).resolve().parents[2] / "clients" / "node"
INSTALL_TIMEOUT_SECONDS = 300


def _installed() -> Path:
    """clients/node with its pinned packages installed (kept in node_modules, gitignored)."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("NPM OR NODE NOT FOUND: THE NODE CLIENT EXAMPLE WAS NOT RUN")
    if not (NODE_CLIENT / "node_modules" / "@grpc" / "grpc-js").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=NODE_CLIENT,
            check=True,
            capture_output=True,
            timeout=INSTALL_TIMEOUT_SECONDS,
        )
    return Path(node)


def test_node_client_qualifies_a_supplier_and_decodes_error_details(
    server: ServerProcess,
) -> None:
    """The script qualifies a supplier, then prints the ErrorInfo reason and each violation."""
    node = _installed()
    run = subprocess.run(
        [str(node), "qualify.js", server.address, "node-acme"],
        cwd=NODE_CLIENT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert "registered suppliers/node-acme" in lines
    assert "state LIFECYCLE_STATE_QUALIFIED" in lines
    assert "reason SUPPLIER_ALREADY_EXISTS (domain sqm.v1)" in lines
    assert "reason INVALID_ARGUMENT (domain sqm.v1)" in lines
    violations = {line.split(":")[0] for line in lines if line.startswith("violation ")}
    assert violations == {
        "violation supplier_id",
        "violation display_name",
        "violation category",
        "violation request_id",
    }
