"""The active policy of a running server: swapped atomically, read without locks."""

from __future__ import annotations

import threading

from domain.ports import Policy


class ActivePolicy:
    """Holds the policy new decisions are made under.

    Readers take a reference and use it for a whole decision, so an activation in between
    never mixes two versions inside one command.
    """

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self._lock = threading.Lock()

    def __call__(self) -> Policy:
        """The policy to decide under now."""
        return self._policy

    def activate(self, policy: Policy) -> Policy:
        """Make ``policy`` active; return the one it replaced."""
        with self._lock:
            previous, self._policy = self._policy, policy
        return previous
