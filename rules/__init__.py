"""The policy language: rule files -> typed, checked model -> durable_rules -> decisions.

The public API::

    from sqm.rules import load_policy, default_pack_dir

    policy = load_policy(default_pack_dir())   # raises PackInvalid listing every problem
    evaluation = policy.evaluate(DecisionContext(Stage.QUALIFICATION, supplier, now))
    policy.why_not(context, Action.QUALIFY)    # the rules that would have, and what failed
    policy.classify(objective, value)          # breach severity by the pack's tiers
    policy.quote_service_credit(supplier, breach, now)

``load_pack`` loads and checks a pack without touching the engine (for validation tools).
The language is described in ``docs/policy-language.md``.
"""

from __future__ import annotations

from pathlib import Path

from sqm.rules.errors import PackError, PackInvalid
from sqm.rules.loader import load_pack
from sqm.rules.model import PolicyPack, Rule
from sqm.rules.policy import CompiledPolicy, load_policy

DEFAULT_PACK = "telecom-default"


def default_pack_dir() -> Path:
    """The directory of the telecom default policy pack shipped with the service."""
    return Path(__file__).resolve().parent / "packs" / DEFAULT_PACK


__all__ = [
    "CompiledPolicy",
    "PackError",
    "PackInvalid",
    "PolicyPack",
    "Rule",
    "default_pack_dir",
    "load_pack",
    "load_policy",
]
