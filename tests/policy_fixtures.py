"""A fixed qualification pack for the policy-tooling tests (independent of the default pack,
which grows): the manifest, the rule file, and helpers to write it or a variant of it.
"""

from __future__ import annotations

import re
from pathlib import Path

MANIFEST = """\
format: sqm.policy/v1
name: telecom-default
title: Telecom operator default supplier policy
files:
  - qualification.yaml
"""

QUALIFICATION = """\
# Qualification review (process step 1): who may become a qualified supplier.
# Facts available at stage "qualification": weighted_score, criteria_missing,
# certificates_missing, missing_certificates, site_audit_passed, site_audit_failed, category.
format: sqm.policy/v1

# The weighted evaluation (scoring step of the selection process). Scores run from 0 to 100;
# weighted_score = sum(score * weight / 100); a criterion with no score counts 0.
criteria:
  - id: capability
    weight: 30
    description: Technical capability, resources and references for the service asked for
  - id: price
    weight: 25
    description: Price competitiveness over the contract term
  - id: delivery_lead_time
    weight: 15
    description: Lead time to deliver or to start the service
  - id: quality_management
    weight: 20
    description: Quality management system and practice
  - id: past_performance
    weight: 10
    description: Past performance with this and other operators

# Certificates that must be valid at the time of the decision; "all" applies to every category.
required_certificates:
  all: [business_licence, iso_9001]
  network_equipment: [tl_9000]
  software: [tl_9000]
  it_services: [iso_27001]
  data_services: [iso_27001]
  network_services: [operating_licence]

rules:
  - id: QUAL-001
    stage: qualification
    title: Qualify a candidate that meets every requirement
    description: >-
      Every criterion scored, a weighted score of at least 70, every required certificate
      valid at the time of the decision, and a passed site audit.
    when:
      all:
        - {fact: weighted_score, op: ">=", value: 70}
        - {fact: criteria_missing, op: "==", value: 0}
        - {fact: certificates_missing, op: "==", value: 0}
        - {fact: site_audit_passed, op: "==", value: true}
    then: {action: qualify}
    message: >-
      Qualified: weighted score {weighted_score} >= 70, every required certificate valid
      and the site audit passed
    not_fired_message: >-
      Not qualified yet: weighted score {weighted_score} (needs 70), {criteria_missing}
      criteria unscored, certificates missing or not valid now: {missing_certificates}

  - id: QUAL-002
    stage: qualification
    title: Disqualify a candidate that failed its site audit
    when:
      all:
        - {fact: site_audit_failed, op: "==", value: true}
    then: {action: disqualify}
    message: "Disqualified: the site audit failed"

  - id: QUAL-003
    stage: qualification
    title: Disqualify a fully scored candidate below the score floor of 40
    description: Only once every criterion is scored, so partial evidence never disqualifies.
    when:
      all:
        - {fact: criteria_missing, op: "==", value: 0}
        - {fact: weighted_score, op: "<", value: 40}
    then: {action: disqualify}
    message: "Disqualified: weighted score {weighted_score} is below the floor of 40"
"""


def write_pack(folder: Path, qualification: str = QUALIFICATION) -> Path:
    """The pack (manifest and ``qualification``) in ``folder``, created if need be."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.yaml").write_text(MANIFEST, encoding="utf-8")
    (folder / "qualification.yaml").write_text(qualification, encoding="utf-8")
    return folder


def pack_files(qualification: str = QUALIFICATION) -> dict[str, str]:
    """The pack as data, as a client sends it."""
    return {"manifest.yaml": MANIFEST, "qualification.yaml": qualification}


def raise_threshold(text: str, old: int = 70, new: int = 80) -> str:
    """``text`` with every ``old`` standing alone (not inside 27001) replaced by ``new``."""
    return re.sub(rf"(?<![\d.]){old}(?![\d.])", str(new), text)
