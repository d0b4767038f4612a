"""The built wheel, installed without extras into a fresh virtual environment outside the
checkout, serves, lints the bundled pack and runs a small simulation.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
from grpc_health.v1 import health_pb2

from tests.e2e.server_process import ServerProcess

# The wheel is built and installed once for the module (~30 s): under pytest-xdist the module
# runs on one worker (``--dist loadgroup``), so the other does not build it again.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900), pytest.mark.xdist_group("wheel")]

ROOT = Path(__file__).resolve().parents[2]


def _run(*command: str | Path, cwd: Path) -> str:
    # A clean environment: nothing of the checkout on the path.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh venv with only the wheel (and its dependencies)."""
    folder = tmp_path_factory.mktemp("wheel")
    # setuptools builds in the checkout's build/ (ignored by git): a module removed since an
    # earlier build must not be packaged from there.
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", folder / "dist",
         ROOT, cwd=folder)  # fmt: skip
    (wheel,) = (folder / "dist").glob("sqm-*.whl")
    venv.create(folder / "venv", with_pip=True)
    bin_dir = folder / "venv" / "bin"
    _run(bin_dir / "python", "-m", "pip", "install", "--quiet", wheel, cwd=folder)
    return bin_dir


def test_the_wheel_claims_only_the_sqm_namespace(installed: Path) -> None:
    """Every file of the wheel is under sqm/ (or its metadata): no generic top-level names."""
    (wheel,) = (installed.parent.parent / "dist").glob("sqm-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/", 1)[0] for name in archive.namelist()}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"sqm"}
    assert any(name.startswith("sqm/rules/packs/") for name in archive.namelist())


def test_the_installed_sqm_serves_and_answers_the_health_check(
    installed: Path, tmp_path: Path
) -> None:
    """`sqm serve` from the wheel starts on SQLite and answers SERVING."""
    server = ServerProcess(tmp_path / "sqm.sqlite3", sqm=[str(installed / "sqm")], cwd=tmp_path)
    server.start()
    try:
        assert server.health() == health_pb2.HealthCheckResponse.SERVING
    finally:
        assert server.stop() == 0


def test_the_installed_sqm_lints_the_bundled_pack_and_simulates(
    installed: Path, tmp_path: Path
) -> None:
    """`sqm policy lint` and a small `sqm simulate run` work from the wheel alone."""
    pack = _run(installed / "python", "-c",
                "from sqm.rules import default_pack_dir; print(default_pack_dir())",
                cwd=tmp_path).strip()  # fmt: skip
    assert not pack.startswith(str(ROOT)), "the pack must come from the installed wheel"
    assert "0 error(s)" in _run(installed / "sqm", "policy", "lint", pack, cwd=tmp_path)
    _run(installed / "sqm", "simulate", "run", pack, "--suppliers", "3", "--months", "1",
         "--json", tmp_path / "run.json", cwd=tmp_path)  # fmt: skip
    assert json.loads((tmp_path / "run.json").read_text())
