"""THE durable_rules adapter: nothing else in the code base imports ``durable``.

The engine is used statelessly, around its sharp edges (``durable_rules_notes.md``):

- durable's C core driven directly (:class:`_Core`), loaded lazily, never through a ``Host``
  (which can never be shut down and leaves reference cycles behind every evaluation);
- one ruleset name per policy version, registered once (rulesets cannot be replaced);
- one fresh session (sid) per evaluation, its state always deleted afterwards (more than
  1,024 live sessions crash the process);
- the context is asserted as a *fact* with a unique ``id``: an event fires only one rule, and
  messages without an id are de-duplicated by content;
- every ruleset gets one more rule, :data:`HANDLED_RULE`, that matches every message, so no
  assertion is ever "not handled": deleting the session of an unhandled assertion made to a
  ruleset registered after another had fired corrupted the C core's heap (``munmap_chunk():
  invalid pointer``, the process aborted), depending on memory layout. The rule costs one of
  the :data:`MAX_MATCHES_PER_MESSAGE` chains (:data:`RESERVED_CHAINS`) and is never reported;
- every call holds one lock: the C core never releases the GIL and interleaved calls from two
  threads misbehave, so calls take turns, each on its caller's thread. Callers on any thread
  are safe. (Handing every call to one dedicated thread did the same, but the hand-over
  cost about 70 us an evaluation, as much as the evaluation itself; see
  docs/performance.md.)
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias, TypeVar

from sqm.domain.errors import PolicyError

EngineValue: TypeAlias = int | float | str
"""What a message property may hold: booleans are encoded as 0/1 before they get here."""

MAX_MESSAGE_PROPERTIES = 254
"""Measured: a message with 255 properties (``id`` and ``sid`` included) fails with error 302."""

MAX_MATCHES_PER_MESSAGE = 64
"""Measured: one message completing more than 64 distinct condition chains fails with error 303
and the process then crashes; an ``any`` group is one chain per branch."""

MESSAGE_MARK = "sqm_message"
"""A property (always 1) the adapter adds to every message, for :data:`HANDLED_RULE` to match;
the session's own state fact lacks it (a rule on ``sid`` would re-match the state after every
action, forever)."""

RESERVED_PROPERTIES = frozenset({"id", "sid", MESSAGE_MARK})

HANDLED_RULE = "sqm.handled"
"""The adapter's own rule, matching every message it asserts; a dot keeps its name apart from
a policy's rule ids."""

RESERVED_CHAINS = 1
"""Condition chains every message completes besides the policy's rules: :data:`HANDLED_RULE`."""

_T = TypeVar("_T")


class RulesEngine:
    """The process's durable_rules rulesets, fed one call at a time.

    ``register`` a ruleset definition once per name (the dict form of ``Host.set_rulesets``,
    each rule's ``run`` being the name reported when it fires); ``evaluate`` a message
    against it and get the names of the rules that fired.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._core: _Core | None = None
        self._definitions: dict[str, str] = {}
        self._sids = itertools.count(1)

    def register(self, name: str, definition: Mapping[str, Any]) -> None:
        """Register ruleset ``name`` unless it already is; the same name must mean the same rules.

        Raises :class:`PolicyError` when the engine refuses the definition, or when ``name``
        was registered with a different definition (rulesets cannot be replaced).
        """
        canonical = json.dumps(definition, sort_keys=True, ensure_ascii=False)
        self._call(self._register, name, copy.deepcopy(dict(definition)), canonical)

    def is_registered(self, name: str) -> bool:
        """True when ruleset ``name`` is registered in this process."""
        return self._call(lambda: name in self._definitions)

    def evaluate(self, name: str, message: Mapping[str, EngineValue]) -> frozenset[str]:
        """The ``run`` names of the rules of ``name`` that fire on ``message``.

        Raises :class:`PolicyError` when the message holds something the engine mishandles
        (NaN, infinities, booleans, other types, too many properties) or the engine fails.
        """
        checked = _checked_message(message)
        return self._call(self._evaluate, name, checked)

    # Everything below, except _call itself, runs holding the lock.

    def _call(self, function: Callable[..., _T], *args: Any) -> _T:
        with self._lock:
            return function(*args)

    def _get_core(self) -> _Core:
        if self._core is None:
            self._core = _Core()
        return self._core

    def _register(self, name: str, definition: dict[str, Any], canonical: str) -> None:
        known = self._definitions.get(name)
        if known is not None:
            if known != canonical:
                raise PolicyError(f"ruleset {name!r} is already registered with different rules")
            return
        definition[HANDLED_RULE] = {"all": [{"m": {MESSAGE_MARK: 1}}], "run": HANDLED_RULE}
        try:
            self._get_core().create(name, definition)
        except Exception as error:
            raise PolicyError(f"the rules engine refused ruleset {name!r}: {error}") from error
        self._definitions[name] = canonical

    def _evaluate(self, name: str, message: dict[str, EngineValue]) -> frozenset[str]:
        if name not in self._definitions:
            raise PolicyError(f"ruleset {name!r} is not registered")
        sid = f"sqm-{next(self._sids)}"
        core = self._get_core()
        completed, delete = False, True
        try:
            fired = core.assert_fact(name, {**message, "id": sid, "sid": sid, MESSAGE_MARK: 1})
            completed = True
        except _Unhandled:
            delete = False  # deleting an unhandled assertion's session is what crashes
            raise
        except Exception as error:
            raise PolicyError(f"the rules engine failed on ruleset {name!r}: {error}") from error
        finally:
            if delete:
                self._delete_state(core, name, sid, must_succeed=completed)
        return frozenset(fired) - {HANDLED_RULE}

    def _delete_state(self, core: _Core, name: str, sid: str, *, must_succeed: bool) -> None:
        try:
            core.delete_state(name, sid)
        except Exception as error:
            # After a failed assert the session may never have been created; the original
            # error is the one worth reporting. After a success, a leaked session is a leak.
            if must_succeed:
                raise PolicyError(f"could not delete engine session {sid!r}: {error}") from error


class _Unhandled(PolicyError):
    """An assertion no rule handled: its session must not be deleted (see the module doc)."""


class _Core:
    """durable_rules' C core (``durable_rules_engine``), driven the way ``durable.engine``'s
    ``Host`` drives it for a fact asserted without a callback, less what we never use.

    ``Host`` runs each fired rule's action through a ``Closure``, a ``Content`` and a
    ``Promise`` whose nested callbacks refer to one another: about thirty objects in
    reference cycles an evaluation, which only the garbage collector frees. Under load the
    server's young collections then came every second or so and took 8-9 ms each, the slow
    calls of its p99 (docs/performance.md, sixth round). Our actions only record the rule's
    name, so the loop is written here: assert, then take each action the core starts for the
    session, note its rule and complete it, until none is left. No thread of durable's is
    started (its ``Host`` starts two timer threads that would dispatch our actions on their
    own), and the rest of the adapter's rules apply unchanged.
    """

    def __init__(self) -> None:
        # Imported here, not at module level: importing ``rules`` must not load the C
        # extension (a CLI validating a pack does not need it).
        import durable_rules_engine  # noqa: PLC0415

        self._c: Any = durable_rules_engine
        self._rulesets: dict[str, tuple[int, dict[str, str]]] = {}
        """Each ruleset's handle in the core, and each of its rules' ``run`` name."""

    def create(self, name: str, definition: dict[str, Any]) -> None:
        """Create ruleset ``name`` from ``definition`` (its rules' ``run`` names are kept here)."""
        runs = {rule: str(body.pop("run")) for rule, body in definition.items()}
        handle = self._c.create_ruleset(name, json.dumps(definition, ensure_ascii=False))
        self._rulesets[name] = (handle, runs)

    def assert_fact(self, name: str, fact: Mapping[str, EngineValue]) -> list[str]:
        """Assert ``fact`` in ruleset ``name``; the ``run`` name of each rule that fired."""
        handle, runs = self._rulesets[name]
        result = self._c.assert_fact(handle, json.dumps(fact, ensure_ascii=False))
        if result[0] == _NOT_HANDLED:  # never expected: HANDLED_RULE matches every message
            raise _Unhandled(f"the rules engine did not handle a message on {name!r}")
        if result[0] == _ALREADY_OBSERVED:  # never expected: every message has its own id
            raise PolicyError(f"the rules engine had already seen message {fact.get('id')!r}")
        session = 0 if result[0] == _QUEUED else result[1]
        started = self._c.start_action_for_state(handle, session)
        if not started:
            return []
        state, action = started[0], started[1]
        fired = []
        while action:
            # The action's message is {rule name: what it matched}; ``state`` is the
            # session's, which no action of ours changes, written back as Host does.
            fired.append(runs[next(iter(json.loads(action)))])
            self._c.update_state(handle, state)
            action = self._c.complete_and_start_action(handle, session)
        return fired

    def delete_state(self, name: str, sid: str) -> None:
        """Delete session ``sid`` of ruleset ``name``."""
        self._c.delete_state(self._rulesets[name][0], sid)


_NOT_HANDLED, _ALREADY_OBSERVED, _QUEUED = 1, 2, 3
"""The result codes ``durable_rules_engine.assert_fact`` answers with besides success."""


def _checked_message(message: Mapping[str, EngineValue]) -> dict[str, EngineValue]:
    if len(message) + len(RESERVED_PROPERTIES) > MAX_MESSAGE_PROPERTIES:
        raise PolicyError(
            f"a message may carry at most {MAX_MESSAGE_PROPERTIES - len(RESERVED_PROPERTIES)}"
            f" facts, got {len(message)}"
        )
    for key, value in message.items():
        if key in RESERVED_PROPERTIES:
            raise PolicyError(f"message property {key!r} is reserved for the engine adapter")
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise PolicyError(f"message property {key!r} must be a number or text, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise PolicyError(f"message property {key!r} must be finite, got {value!r}")
    return dict(message)


_engine: RulesEngine | None = None
_engine_lock = threading.Lock()


def rules_engine() -> RulesEngine:
    """The process's rules engine, created on first use."""
    global _engine  # noqa: PLW0603 - one host per process is the point
    with _engine_lock:
        if _engine is None:
            _engine = RulesEngine()
        return _engine
