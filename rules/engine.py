"""THE durable_rules adapter: nothing else in the code base imports ``durable``.

The engine is used statelessly, around its sharp edges (``durable_rules_notes.md``):

- one host per process, created lazily (a host can never be shut down);
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
    """The process's one durable_rules host, fed one call at a time.

    ``register`` a ruleset definition once per name (the dict form of ``Host.set_rulesets``,
    each rule's ``run`` being the name reported when it fires); ``evaluate`` a message
    against it and get the names of the rules that fired.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._host: Any = None
        self._definitions: dict[str, str] = {}
        self._fired: dict[str, set[str]] = {}
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

    def _get_host(self) -> Any:
        if self._host is None:
            self._host = _new_host(self._record_fired)
        return self._host

    def _register(self, name: str, definition: dict[str, Any], canonical: str) -> None:
        known = self._definitions.get(name)
        if known is not None:
            if known != canonical:
                raise PolicyError(f"ruleset {name!r} is already registered with different rules")
            return
        definition[HANDLED_RULE] = {"all": [{"m": {MESSAGE_MARK: 1}}], "run": HANDLED_RULE}
        try:
            self._get_host().set_rulesets({name: definition})
        except Exception as error:
            raise PolicyError(f"the rules engine refused ruleset {name!r}: {error}") from error
        self._definitions[name] = canonical

    def _evaluate(self, name: str, message: dict[str, EngineValue]) -> frozenset[str]:
        if name not in self._definitions:
            raise PolicyError(f"ruleset {name!r} is not registered")
        sid = f"sqm-{next(self._sids)}"
        fired = self._fired[sid] = set()
        completed, delete = False, True
        try:
            self._assert(name, {**message, "id": sid, "sid": sid, MESSAGE_MARK: 1})
            completed = True
        except _Unhandled:
            delete = False  # deleting an unhandled assertion's session is what crashes
            raise
        finally:
            del self._fired[sid]
            if delete:
                self._delete_state(name, sid, must_succeed=completed)
        return frozenset(fired)

    def _assert(self, name: str, fact: dict[str, EngineValue]) -> None:
        from durable.engine import MessageNotHandledException  # noqa: PLC0415 - lazy: see _new_host

        try:
            state = self._get_host().assert_fact(name, fact)
        except MessageNotHandledException:
            # Never expected: HANDLED_RULE matches every message.
            raise _Unhandled(f"the rules engine did not handle a message on {name!r}") from None
        except Exception as error:
            raise PolicyError(f"the rules engine failed on ruleset {name!r}: {error}") from error
        # Exceptions inside actions are swallowed into the state; surface them.
        if isinstance(state, dict) and state.get("exception"):
            raise PolicyError(f"a rule action failed in ruleset {name!r}: {state['exception']}")

    def _delete_state(self, name: str, sid: str, *, must_succeed: bool) -> None:
        try:
            self._get_host().delete_state(name, sid)
        except Exception as error:
            # After a failed assert the session may never have been created; the original
            # error is the one worth reporting. After a success, a leaked session is a leak.
            if must_succeed:
                raise PolicyError(f"could not delete engine session {sid!r}: {error}") from error

    def _record_fired(self, sid: str, rule: str) -> None:
        if rule != HANDLED_RULE:
            self._fired[sid].add(rule)


class _Unhandled(PolicyError):
    """An assertion no rule handled: its session must not be deleted (see the module doc)."""


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


def _new_host(on_fired: Callable[[str, str], None]) -> Any:
    # Imported here, not at module level: importing ``rules`` must not load the C extension
    # (a CLI validating a pack does not need it), and nothing is built at import time.
    from durable.engine import Host  # noqa: PLC0415

    class _Host(Host):  # type: ignore[misc]  # durable ships no type information
        def get_action(self, action_name: str) -> Callable[[Any], None]:
            def action(closure: Any) -> None:
                on_fired(closure.s.sid, action_name)

            return action

        def _run(self) -> None:
            # Host.__init__ starts two perpetual timer threads that dispatch pending actions
            # and timers. We use neither, and the dispatcher could pick up one of our
            # actions on its own thread, out of our evaluation. Leave them unstarted.
            pass

    return _Host()


_engine: RulesEngine | None = None
_engine_lock = threading.Lock()


def rules_engine() -> RulesEngine:
    """The process's rules engine, created on first use."""
    global _engine  # noqa: PLW0603 - one host per process is the point
    with _engine_lock:
        if _engine is None:
            _engine = RulesEngine()
        return _engine
