"""Profile ``sqm serve`` under the benchmark's load with py-spy: where the server's time goes.

``python -m bench.profile unary`` (or ``streaming``, ``get``) starts a server on a fresh copy
of the benchmark store (for ingestion the steady-state one the benchmark uses: suppliers with
a year of records each; ``--postgres``: the same store imported into a PostgreSQL schema),
samples it with ``py-spy record`` while the load runs, and prints
the functions holding the most samples (inclusive, and where the time is spent itself).
The raw collapsed stacks are kept in ``var/bench/profiles/`` for a flame graph.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bench import ingestion, load, postgres_ingestion, scale
from bench.plan import FULL
from bench.processes import sqm_server

FOLDER = Path("var/bench/profiles")
TOP = 25


def main() -> int:
    """Parse the arguments and profile."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("what", choices=["unary", "streaming", "get"])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rate", type=float, help="an open loop at this rate (default: full)")
    parser.add_argument(
        "--postgres", action="store_true", help="serve from PostgreSQL (unary, streaming)"
    )
    args = parser.parse_args()
    if shutil.which("py-spy") is None and not Path(sys.prefix, "bin", "py-spy").exists():
        print("py-spy is not installed (pip install py-spy)", file=sys.stderr)
        return 2
    FOLDER.mkdir(parents=True, exist_ok=True)
    name = f"{args.what}-postgres" if args.postgres else args.what
    output = FOLDER / f"{name}.txt"
    store = ingestion.steady(FULL.suppliers, FULL.steady_days)
    with (
        _database(args.what, store, postgres=args.postgres) as database,
        sqm_server(database, FOLDER / f"{name}.log") as server,
    ):
        spy = _record(server.process.pid, output, args.seconds + 5)
        time.sleep(1)
        _load(args.what, server.address, store, args.seconds, args.rate)
        spy.wait()
    print(summary(output))
    return 0


@contextlib.contextmanager
def _database(what: str, store: ingestion.Store, *, postgres: bool) -> Iterator[str]:
    if postgres:
        with postgres_ingestion.imported(store, FOLDER) as url:
            yield url
    elif what == "get":
        yield str(scale.store(FULL.scale_suppliers))
    else:
        yield str(ingestion.fresh_copy(store, FOLDER, what))


def _record(pid: int, output: Path, seconds: float) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy") or str(Path(sys.prefix, "bin", "py-spy"))
    command = [
        spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "200",
        "--format", "raw", "--output", str(output), "--nonblocking",
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603


def _load(
    what: str, address: str, store: ingestion.Store, seconds: float, rate: float | None
) -> None:
    if what == "streaming":
        rows = ingestion.rows(store, 20_000, "profile")
        streams = [ingestion._upload_streams(rows, 500)]
        load.uploads(address, streams)
        return
    method = scale.GET_METHOD if what == "get" else ingestion.RECORD_METHOD
    if what == "get":
        payloads = scale.get_requests(FULL.scale_suppliers, 60_000)
    else:
        payloads = [r.SerializeToString() for r in ingestion.rows(store, 60_000, "profile")]
    load.unary(address, method, payloads, concurrency=32, seconds=seconds, rate=rate)


def summary(raw: Path) -> str:
    """The functions with the most samples in py-spy's collapsed stacks."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{total} samples", "", "inclusive:"]
    lines += [f"{100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(TOP)]
    lines += ["", "self:"]
    lines += [f"{100 * n / total:5.1f}%  {f}" for f, n in own.most_common(TOP)]
    return "\n".join(lines)


def _short(frame: str) -> str:
    # "function (path/to/module.py:line)" -> "function (module.py)"
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    return f"{name} ({'/'.join(Path(path).parts[-2:])})"


if __name__ == "__main__":
    sys.exit(main())
