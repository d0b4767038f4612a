"""The README's `buf curl` examples, run exactly as written against a real server."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from sqm.client import SqmClient
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / ".tools" / "node_modules" / ".bin" / "buf"
README_ADDRESS = "127.0.0.1:50051"


def readme_buf_curl_commands() -> list[list[str]]:
    """Every `buf curl` command of the README's code blocks, continuation lines joined."""
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    commands = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith("buf curl "):
                commands.append(shlex.split(line))
    return commands


def _run(command: list[str], address: str) -> str:
    """``command`` with only the binary's path and the server's address filled in."""
    argv = [str(BUF), *(arg.replace(README_ADDRESS, address) for arg in command[1:])]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"{shlex.join(command)}\n{done.stderr}"
    return done.stdout


def test_readme_has_buf_curl_examples_for_health_methods_and_a_supplier() -> None:
    """The examples cover a health check, listing methods and GetSupplier."""
    joined = [" ".join(c) for c in readme_buf_curl_commands()]
    assert any("grpc.health.v1.Health/Check" in c for c in joined)
    assert any("--list-methods" in c for c in joined)
    assert any("SupplierService/GetSupplier" in c for c in joined)


def test_readme_buf_curl_commands_work_against_a_server(
    server: ServerProcess, client: SqmClient
) -> None:
    """Each command succeeds through reflection and shows what the README promises."""
    if not BUF.exists():
        pytest.skip("BUF NOT INSTALLED (`make buf`): THE README'S buf curl EXAMPLES WERE NOT RUN")
    client.register_supplier("acme-net", "ACME Networks", "network_equipment")
    outputs = {" ".join(c): _run(c, server.address) for c in readme_buf_curl_commands()}
    for command, output in outputs.items():
        if "Health/Check" in command:
            assert '"status": "SERVING"' in output
        elif "--list-methods" in command:
            assert "sqm.v1.SupplierService/GetSupplier" in output.splitlines()
        elif "GetSupplier" in command:
            assert '"name": "suppliers/acme-net"' in output
