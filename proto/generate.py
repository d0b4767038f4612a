"""Generate the Python code for proto/sqm/v1 (the one command behind `make proto`).

Usage: python proto/generate.py [OUTPUT_ROOT]   (default: proto/, beside the sources)
The staleness test runs it into a temporary folder and compares the results byte for byte.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

PROTO_ROOT = Path(__file__).resolve().parent


def proto_files() -> list[Path]:
    """Every .proto of the API, in a stable order."""
    return sorted((PROTO_ROOT / "sqm" / "v1").glob("*.proto"))


def generate(output_root: Path) -> None:
    """Write *_pb2.py, *_pb2_grpc.py and their typed stubs (mypy-protobuf) under ``output_root``."""
    well_known = resources.files("grpc_tools") / "_proto"
    plugins = Path(sys.executable).parent  # protoc-gen-mypy* are installed beside python
    args = [
        "grpc_tools.protoc",
        f"--proto_path={PROTO_ROOT}",
        f"--proto_path={well_known}",
        f"--plugin=protoc-gen-mypy={plugins / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={plugins / 'protoc-gen-mypy_grpc'}",
        f"--python_out={output_root}",
        f"--mypy_out={output_root}",
        f"--grpc_python_out={output_root}",
        f"--mypy_grpc_out={output_root}",
        *(str(p.relative_to(PROTO_ROOT)) for p in proto_files()),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else PROTO_ROOT)
