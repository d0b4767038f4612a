"""Value objects and the supplier's state, all immutable."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime

import attrs


class LifecycleState(enum.StrEnum):
    """Where a supplier stands in the operator's process."""

    CANDIDATE = "candidate"
    QUALIFIED = "qualified"
    CONTRACTED = "contracted"
    UNDER_REVIEW = "under_review"
    REMEDIATION = "remediation"
    TERMINATED = "terminated"


class ServiceCategory(enum.StrEnum):
    """What a supplier provides; policies require different certificates per category."""

    NETWORK_EQUIPMENT = "network_equipment"
    SOFTWARE = "software"
    IT_SERVICES = "it_services"
    DATA_SERVICES = "data_services"
    NETWORK_SERVICES = "network_services"
    FIELD_SERVICES = "field_services"


class CertificateKind(enum.StrEnum):
    """Certificates the qualification review knows about."""

    BUSINESS_LICENCE = "business_licence"
    ISO_9001 = "iso_9001"
    TL_9000 = "tl_9000"
    ISO_27001 = "iso_27001"
    OPERATING_LICENCE = "operating_licence"


class Action(enum.StrEnum):
    """What a fired rule asks the domain to do; the domain decides how (see ``domain.decide``)."""

    QUALIFY = "qualify"
    DISQUALIFY = "disqualify"


class Stage(enum.StrEnum):
    """The moment in the process at which a policy is consulted."""

    QUALIFICATION = "qualification"


@attrs.frozen
class Certificate:
    """A certificate as presented by the supplier; valid on ``[valid_from, valid_until)``."""

    kind: CertificateKind
    number: str
    issuer: str
    valid_from: datetime
    valid_until: datetime

    def is_valid_at(self, moment: datetime) -> bool:
        """True when ``moment`` lies within the certificate's validity period."""
        return self.valid_from <= moment < self.valid_until


FactValue = bool | int | float | str


@attrs.frozen
class ConditionOutcome:
    """One condition of a rule, evaluated: the fact's actual value against the threshold."""

    fact: str
    operator: str
    threshold: FactValue
    actual: FactValue
    held: bool


@attrs.frozen
class Decision:
    """The result of a rule evaluated against one decision context: data, not a side effect.

    ``fired`` is False for explanations of rules that did not fire ("why not qualified?").
    """

    rule_id: str
    rule_title: str
    rule_file: str
    rule_line: int
    policy_version: str
    action: Action
    fired: bool
    message: str
    facts: Mapping[str, FactValue] = attrs.field(factory=dict)
    conditions: tuple[ConditionOutcome, ...] = ()


@attrs.frozen
class SupplierState:
    """A supplier as the fold of its events; never updated in place."""

    supplier_id: str
    name: str
    category: ServiceCategory
    lifecycle: LifecycleState = LifecycleState.CANDIDATE
    version: int = 0
    registered_at: datetime | None = None
    updated_at: datetime | None = None
    scores: Mapping[str, float] = attrs.field(factory=dict)
    certificates: tuple[Certificate, ...] = ()
    site_audit_passed: bool | None = None
    last_decisions: tuple[Decision, ...] = ()

    def valid_certificate_kinds(self, moment: datetime) -> frozenset[CertificateKind]:
        """The kinds of certificate the supplier holds that are valid at ``moment``."""
        return frozenset(c.kind for c in self.certificates if c.is_valid_at(moment))
