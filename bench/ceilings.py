"""The ceilings: what this machine does with nothing of SQM around it, measured in this run.

(a) the durable_rules loop alone on the decision contexts SQM produces (assert the context
    as a fact with a fresh session, collect what fired, delete the session), as
    ``sqm.rules.engine`` drives it but without anything else;
(b) a trivial grpc.aio echo server (:mod:`bench.echo`) under the same client;
(c) SQLite inserts with SQM's durability settings (WAL, ``synchronous=FULL``), one row per
    transaction, the way a unary command commits.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from bench.processes import in_fresh_process

CONTEXT_SUPPLIERS = 12
"""Suppliers of a baseline simulation whose decision contexts feed ceiling (a)."""
EVENT_ROW_BYTES = 700
"""About the size of an event's payload (a measurement with its decision contexts)."""


@attrs.frozen
class Contexts:
    """Engine messages recorded from a simulation, with the ruleset they were sent to."""

    ruleset: str
    definition: Mapping[str, Any]
    messages: tuple[Mapping[str, Any], ...]
    supplier_months: int

    @property
    def per_supplier_month(self) -> float:
        """Engine evaluations per simulated supplier-month."""
        return len(self.messages) / self.supplier_months


def record_contexts(months: int) -> Contexts:
    """The decision contexts of a small baseline ``sqm simulate run`` (seed 1)."""
    return in_fresh_process(_record_contexts, months)


def _record_contexts(months: int) -> Contexts:
    import random  # noqa: PLC0415 - in the child

    from sqm.domain.serialization import parse_time  # noqa: PLC0415
    from sqm.rules import CompiledPolicy, default_pack_dir, load_pack  # noqa: PLC0415
    from sqm.rules.engine import rules_engine  # noqa: PLC0415
    from sqm.simulation import impact  # noqa: PLC0415

    recorder = _Recorder(rules_engine())
    pack = load_pack(default_pack_dir())
    policy = CompiledPolicy(pack, recorder)
    rates = impact.Rates()
    start = parse_time(rates.start).replace(day=1, hour=0, minute=0, second=0)
    tally = impact.Tally(impact.month_labels(start, months))
    for number in range(CONTEXT_SUPPLIERS):  # what ``impact.simulate`` does, through ours
        impact.SupplierLife(
            policy, pack, rates, generator=random.Random(f"1:{number}"),  # noqa: S311
            number=number, start=start, tally=tally,
        ).live()  # fmt: skip
    return Contexts(
        recorder.ruleset, recorder.definition, tuple(recorder.messages), CONTEXT_SUPPLIERS * months
    )


class _Recorder:
    """A ``RuleEngine`` that passes calls through and keeps what it was asked."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self.ruleset = ""
        self.definition: dict[str, Any] = {}
        self.messages: list[Mapping[str, Any]] = []

    def register(self, name: str, definition: Mapping[str, Any]) -> None:
        self.ruleset, self.definition = name, dict(definition)
        self._engine.register(name, definition)

    def evaluate(self, name: str, message: Mapping[str, Any]) -> frozenset[str]:
        self.messages.append(dict(message))
        return frozenset(self._engine.evaluate(name, message))


ENGINE_WINDOWS = 3
"""Windows the engine loop is timed over; the best is the ceiling (what the machine can do,
not what a moment of someone else's load left of it)."""


def engine_rate(contexts: Contexts, seconds: float) -> float:
    """Ceiling (a): evaluations a second of the raw durable_rules loop on ``contexts``, the
    best of :data:`ENGINE_WINDOWS` windows making up ``seconds``.
    """
    return in_fresh_process(_engine_rate, contexts, seconds)


def _engine_rate(contexts: Contexts, seconds: float) -> float:
    from durable.engine import Host  # noqa: PLC0415 - the C extension, in the child only

    from sqm.rules.engine import HANDLED_RULE, MESSAGE_MARK  # noqa: PLC0415

    fired: list[str] = []

    class RawHost(Host):  # type: ignore[misc]
        def get_action(self, name: str) -> Any:
            return lambda closure: fired.append(name)

        def _run(self) -> None:  # no timer threads, as in sqm.rules.engine
            pass

    host = RawHost()
    definition = {
        **contexts.definition,
        HANDLED_RULE: {"all": [{"m": {MESSAGE_MARK: 1}}], "run": HANDLED_RULE},
    }
    host.set_rulesets({contexts.ruleset: definition})
    sids = itertools.count()

    def evaluate(message: Mapping[str, Any]) -> None:
        sid = f"c{next(sids)}"
        host.assert_fact(contexts.ruleset, {**message, "id": sid, "sid": sid, MESSAGE_MARK: 1})
        host.delete_state(contexts.ruleset, sid)

    return _best_rate(evaluate, contexts, seconds)


def _best_rate(
    evaluate: Callable[[Mapping[str, Any]], object], contexts: Contexts, seconds: float
) -> float:
    """Evaluations a second of ``evaluate`` over the contexts, cycled: the best of
    :data:`ENGINE_WINDOWS` windows making up ``seconds``.
    """
    messages = itertools.cycle(contexts.messages)
    best = 0.0
    for _ in range(ENGINE_WINDOWS):
        done = 0
        began = time.perf_counter()
        for message in messages:
            evaluate(message)
            done += 1
            if done % 256 == 0 and time.perf_counter() - began >= seconds / ENGINE_WINDOWS:
                break
        best = max(best, done / (time.perf_counter() - began))
    return best


def adapter_rate(contexts: Contexts, seconds: float) -> float:
    """Evaluations a second of the same loop through SQM's own engine adapter
    (:class:`sqm.rules.engine.RulesEngine`, which drives durable_rules' C core without its
    ``Host``): context for ceiling (a), not a ceiling; the best of :data:`ENGINE_WINDOWS`.
    """
    return in_fresh_process(_adapter_rate, contexts, seconds)


def _adapter_rate(contexts: Contexts, seconds: float) -> float:
    from sqm.rules.engine import RulesEngine  # noqa: PLC0415 - the C extension, in the child only

    engine = RulesEngine()
    engine.register(contexts.ruleset, contexts.definition)
    return _best_rate(lambda message: engine.evaluate(contexts.ruleset, message), contexts, seconds)


def sqlite_commit_rate(seconds: float) -> float:
    """Ceiling (c): one-row transactions a second, WAL and ``synchronous=FULL``."""
    return in_fresh_process(_sqlite_commit_rate, seconds)


def _sqlite_commit_rate(seconds: float) -> float:
    with tempfile.TemporaryDirectory(dir=_scratch()) as folder:
        connection = sqlite3.connect(Path(folder) / "ceiling.sqlite3", isolation_level=None)
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute("CREATE TABLE rows (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
        payload = "x" * EVENT_ROW_BYTES
        done = 0
        began = time.perf_counter()
        while time.perf_counter() - began < seconds:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO rows (payload) VALUES (?)", (payload,))
            connection.execute("COMMIT")
            done += 1
        elapsed = time.perf_counter() - began
        connection.close()
    return done / elapsed


def _scratch() -> str:
    # The same disk as the benchmark's stores (var/), not a tmpfs /tmp.
    folder = Path("var/bench/scratch")
    folder.mkdir(parents=True, exist_ok=True)
    return os.fspath(folder)
