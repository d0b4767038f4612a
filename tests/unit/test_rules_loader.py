"""Loading policy packs: the default pack loads; broken packs fail with every problem located."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from sqm.domain.errors import InvalidCommand
from sqm.domain.model import Action, Certificate, Stage, SupplierState
from sqm.domain.pack_catalogue import CertificateKindId
from sqm.rules import PackError, PackInvalid, default_pack_dir, load_pack
from sqm.rules.compiler import STAGE_PROPERTY, compile_rule, engine_message, ruleset_name
from sqm.rules.engine import MAX_MATCHES_PER_MESSAGE
from sqm.rules.facts import CATALOGUE, qualification_facts
from sqm.rules.schema_check import MANIFEST_SCHEMA, POLICY_FILE_SCHEMA, load_schema

MANIFEST = """\
format: sqm.policy/v1
name: test-pack
title: A pack for tests
files:
  - qualification.yaml
"""

# Line numbers matter: the tests replace text on a line and expect the error on that line.
RULES = """\
format: sqm.policy/v1
criteria:
  - {id: capability, weight: 60}
  - {id: price, weight: 40}
required_certificates:
  all: [business_licence]
  software: [tl_9000]
rules:
  - id: QUAL-001
    stage: qualification
    title: Qualify
    when:
      all:
        - {fact: weighted_score, op: ">=", value: 70}
        - {fact: certificates_missing, op: "==", value: 0}
    then: {action: qualify}
    message: "Qualified with {weighted_score}"
"""

EXTRA_RULES = """\
format: sqm.policy/v1
rules:
  - id: QUAL-002
    stage: qualification
    title: Disqualify on a failed audit
    when:
      all:
        - {fact: site_audit_failed, op: "==", value: true}
    then: {action: disqualify}
    message: "Disqualified"
"""

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def write_pack(root: Path, files: Mapping[str, str]) -> Path:
    """Write ``files`` (relative path -> text) under ``root`` and return ``root``."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def broken(tmp_path: Path, rules: str = RULES, manifest: str = MANIFEST) -> tuple[PackError, ...]:
    """The errors of a pack with the given rule file and manifest; fails if it loads."""
    write_pack(tmp_path, {"manifest.yaml": manifest, "qualification.yaml": rules})
    with pytest.raises(PackInvalid) as raised:
        load_pack(tmp_path)
    return raised.value.errors


def located(errors: tuple[PackError, ...]) -> list[tuple[str, int]]:
    """The (file, line) of each error, in order."""
    return [(e.file, e.line) for e in errors]


def only_error(errors: tuple[PackError, ...]) -> PackError:
    """The single error of a load that had exactly one problem."""
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


# --- the default pack and valid packs -----------------------------------------------------------


def test_default_pack_loads_with_its_qualification_rules() -> None:
    """The telecom default pack loads with the qualification rules the architecture asks for."""
    pack = load_pack(default_pack_dir())
    assert pack.name == "telecom-default"
    assert pack.files[0] == "qualification.yaml"
    assert [r.id for r in pack.rules_for(Stage.QUALIFICATION)] == [
        "QUAL-001",
        "QUAL-002",
        "QUAL-003",
        "QUAL-004",
    ]
    assert sum(c.weight for c in pack.criteria) == Decimal(100)
    assert pack.certificates.for_category("software") == (
        "business_licence",
        "iso_9001",
        "tl_9000",
    )
    assert {r.action for r in pack.rules_for(Stage.QUALIFICATION)} == {
        Action.QUALIFY,
        Action.DISQUALIFY,
    }


def test_default_pack_rules_point_at_their_lines() -> None:
    """Each rule records the file and the line where its ``- id:`` entry starts."""
    pack = load_pack(default_pack_dir())
    for rule in pack.rules:
        lines = (default_pack_dir() / rule.file).read_text(encoding="utf-8").splitlines()
        assert lines[rule.line - 1].strip() == f"- id: {rule.id}"


def test_a_valid_pack_loads_into_the_typed_model(tmp_path: Path) -> None:
    """Criteria, certificate requirements, rules and conditions come out typed and located."""
    pack = load_pack(write_pack(tmp_path, {"manifest.yaml": MANIFEST, "qualification.yaml": RULES}))
    (rule,) = pack.rules
    assert (rule.file, rule.line, rule.stage, rule.action) == (
        "qualification.yaml",
        9,
        Stage.QUALIFICATION,
        Action.QUALIFY,
    )
    assert [(c.fact, c.operator.value, c.value, c.line) for c in rule.conditions] == [
        ("weighted_score", ">=", 70, 14),
        ("certificates_missing", "==", 0, 15),
    ]
    assert pack.criterion_ids == ("capability", "price")


def test_chinese_titles_and_messages_load(tmp_path: Path) -> None:
    """UTF-8 text in titles and messages survives loading unchanged."""
    rules = RULES.replace("title: Qualify", "title: 资格审查通过").replace(
        '"Qualified with {weighted_score}"', '"合格：加权得分 {weighted_score}"'
    )
    pack = load_pack(write_pack(tmp_path, {"manifest.yaml": MANIFEST, "qualification.yaml": rules}))
    assert (pack.rules[0].title, pack.rules[0].message) == (
        "资格审查通过",
        "合格：加权得分 {weighted_score}",
    )


def test_rule_files_are_evaluated_in_manifest_order(tmp_path: Path) -> None:
    """Rules come in the order of the manifest's files, then of each file."""
    manifest = MANIFEST + "  - extra/audit.yaml\n"
    files = {
        "manifest.yaml": manifest,
        "qualification.yaml": RULES,
        "extra/audit.yaml": EXTRA_RULES,
    }
    pack = load_pack(write_pack(tmp_path, files))
    assert [(r.id, r.file) for r in pack.rules] == [
        ("QUAL-001", "qualification.yaml"),
        ("QUAL-002", "extra/audit.yaml"),
    ]


# --- one fault, one located error ----------------------------------------------------------------


def test_malformed_yaml_is_located(tmp_path: Path) -> None:
    """A YAML syntax error is reported at its line, not raised as a parser crash."""
    error = only_error(
        broken(tmp_path, RULES.replace("then: {action: qualify}", "then: {action: [}"))
    )
    assert (error.file, error.line) == ("qualification.yaml", 16)
    assert "malformed YAML" in error.message


def test_a_duplicate_key_is_an_error(tmp_path: Path) -> None:
    """A key given twice in one mapping is reported at the second one, naming the first."""
    rules = RULES.replace(
        "    then: {action: qualify}\n", "    title: Again\n    then: {action: qualify}\n"
    )
    error = only_error(broken(tmp_path, rules))
    assert (error.line, error.column) == (16, 5)
    assert "duplicate key 'title' (first on line 11)" in error.message


def test_an_unknown_key_is_named_with_the_keys_expected(tmp_path: Path) -> None:
    """A misspelt key is reported at the key, listing the keys allowed there."""
    errors = broken(tmp_path, RULES.replace("    then: {action", "    than: {action"))
    assert located(errors) == [("qualification.yaml", 9), ("qualification.yaml", 16)]
    assert "missing required key(s): 'then'" in errors[0].message
    assert (
        "rules[QUAL-001].than: unknown key 'than'; expected one of: description, id"
        in errors[1].message
    )


def test_a_value_of_the_wrong_type_is_located(tmp_path: Path) -> None:
    """A weight given as text is a schema error at the value."""
    error = only_error(broken(tmp_path, RULES.replace("weight: 60", "weight: sixty")))
    assert (error.file, error.line, error.column) == ("qualification.yaml", 3, 30)
    assert error.message == "criteria[capability].weight: expected a number, got the text 'sixty'"


def test_an_unknown_fact_lists_the_facts_of_the_stage(tmp_path: Path) -> None:
    """A condition on a fact the catalogue does not have names the facts available."""
    error = only_error(broken(tmp_path, RULES.replace("certificates_missing", "certificate_count")))
    assert (error.line, error.column) == (15, 18)
    assert "unknown fact 'certificate_count' at stage 'qualification'" in error.message
    assert "weighted_score, criteria_missing, certificates_missing" in error.message


def test_an_unknown_operator_is_located(tmp_path: Path) -> None:
    """An operator outside the language is reported at the operator with the allowed ones."""
    error = only_error(broken(tmp_path, RULES.replace('op: ">="', 'op: "=>"')))
    assert error.line == 14
    assert "expected one of: ==, !=, <, <=, >, >=; got the text '=>'" in error.message


def test_an_ordering_operator_on_a_boolean_fact_is_refused(tmp_path: Path) -> None:
    """Booleans compare only with == and !=; the error says which operators apply."""
    rules = RULES.replace(
        '{fact: certificates_missing, op: "==", value: 0}',
        '{fact: site_audit_passed, op: "<", value: true}',
    )
    error = only_error(broken(tmp_path, rules))
    assert error.line == 15
    assert (
        "operator '<' does not apply to fact 'site_audit_passed' of type boolean" in error.message
    )
    assert "expected one of: ==, !=" in error.message


def test_a_text_threshold_for_a_number_fact_is_refused(tmp_path: Path) -> None:
    """``value: "70"`` for a number fact is an error (the engine would match "8" >= 70)."""
    error = only_error(broken(tmp_path, RULES.replace("value: 70", 'value: "70"')))
    assert (error.line, error.column) == (14, 51)
    assert "fact 'weighted_score' has type number; expected a finite number" in error.message


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [("0.5", "a whole number, got 0.5"), ("true", "a whole number, got true")],
)
def test_an_integer_fact_needs_a_whole_number(
    tmp_path: Path, threshold: str, expected: str
) -> None:
    """Integer facts take whole-number thresholds only; booleans are not numbers."""
    rules = RULES.replace('"==", value: 0}', f'"==", value: {threshold}}}')
    error = only_error(broken(tmp_path, rules))
    assert error.line == 15
    assert expected in error.message


def test_a_non_finite_threshold_is_refused(tmp_path: Path) -> None:
    """``.nan`` and ``.inf`` are not thresholds: NaN matches nothing in the engine."""
    error = only_error(broken(tmp_path, RULES.replace("value: 70", "value: .nan")))
    assert error.line == 14
    assert "expected a finite number, got nan" in error.message


def test_an_unknown_category_value_in_a_condition_is_refused(tmp_path: Path) -> None:
    """String facts with a fixed set of values reject values outside it."""
    rules = RULES.replace(
        '{fact: certificates_missing, op: "==", value: 0}',
        '{fact: category, op: "==", value: satellite}',
    )
    error = only_error(broken(tmp_path, rules))
    assert error.line == 15
    assert "unknown category 'satellite'; expected one of: network_equipment" in error.message


def test_a_duplicate_rule_id_across_files_names_the_first(tmp_path: Path) -> None:
    """Rule ids are unique across the pack; the second one points back at the first."""
    manifest = MANIFEST + "  - more.yaml\n"
    files = {
        "manifest.yaml": manifest,
        "qualification.yaml": RULES,
        "more.yaml": EXTRA_RULES.replace("QUAL-002", "QUAL-001"),
    }
    write_pack(tmp_path, files)
    with pytest.raises(PackInvalid) as raised:
        load_pack(tmp_path)
    error = only_error(raised.value.errors)
    assert (error.file, error.line) == ("more.yaml", 3)
    assert "duplicate rule id 'QUAL-001'; first defined at qualification.yaml:9" in error.message


def test_weights_not_summing_to_100_are_refused(tmp_path: Path) -> None:
    """Criteria weights must sum to exactly 100; the error shows the sum and its terms."""
    error = only_error(broken(tmp_path, RULES.replace("weight: 40", "weight: 39.9")))
    assert (error.line, error.column) == (2, 1)
    assert "must sum to exactly 100, got 99.9 (capability 60 + price 39.9)" in error.message


def test_fractional_weights_summing_to_exactly_100_are_accepted(tmp_path: Path) -> None:
    """33.3 + 33.3 + 33.4 is exactly 100 in decimal, which is how weights are added."""
    rules = RULES.replace(
        "  - {id: capability, weight: 60}\n  - {id: price, weight: 40}\n",
        "  - {id: capability, weight: 33.3}\n  - {id: price, weight: 33.3}\n"
        "  - {id: delivery, weight: 33.4}\n",
    )
    pack = load_pack(write_pack(tmp_path, {"manifest.yaml": MANIFEST, "qualification.yaml": rules}))
    assert [c.weight for c in pack.criteria] == [Decimal("33.3"), Decimal("33.3"), Decimal("33.4")]


def test_an_unknown_certificate_kind_is_refused(tmp_path: Path) -> None:
    """Certificate kinds are checked against the domain's list."""
    error = only_error(broken(tmp_path, RULES.replace("[business_licence]", "[business_license]")))
    assert (error.line, error.column) == (6, 9)
    assert "unknown certificate kind 'business_license'; expected one of: business_licence" in (
        error.message
    )


def test_an_unknown_service_category_is_refused(tmp_path: Path) -> None:
    """Keys of required_certificates are 'all' or a service category, reported at the key."""
    error = only_error(broken(tmp_path, RULES.replace("  software:", "  sofware:")))
    assert (error.line, error.column) == (7, 3)
    assert "unknown service category 'sofware'; expected one of: all, network_equipment" in (
        error.message
    )


def test_an_unknown_action_is_refused(tmp_path: Path) -> None:
    """Actions are checked against what the domain can do."""
    error = only_error(broken(tmp_path, RULES.replace("action: qualify", "action: promote")))
    assert (error.line, error.column) == (16, 20)
    assert "unknown action 'promote'; expected one of: qualify, disqualify" in error.message


def test_an_unknown_stage_is_refused(tmp_path: Path) -> None:
    """Stages are checked against the domain's stages."""
    unknown = RULES.replace("stage: qualification", "stage: shortlisting")
    error = only_error(broken(tmp_path, unknown))
    assert error.line == 10
    assert "unknown stage 'shortlisting'; expected one of: qualification" in error.message


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('"Qualified with {score}"', "placeholder {score} is not a fact"),
        ('"Qualified with {weighted_score.real}"', "must be a fact name"),
        ('"Qualified with {weighted_score"', "malformed message template"),
        ('"Qualified with {category:.2f}"', "format ':.2f' does not apply to fact 'category'"),
    ],
)
def test_a_bad_message_placeholder_is_refused(tmp_path: Path, template: str, expected: str) -> None:
    """Placeholders must name facts of the rule's stage, with a format that fits the fact."""
    rules = RULES.replace('"Qualified with {weighted_score}"', template)
    error = only_error(broken(tmp_path, rules))
    assert error.line == 17
    assert expected in error.message


def test_literal_braces_in_a_message_are_allowed(tmp_path: Path) -> None:
    """``{{`` and ``}}`` are literal braces, not placeholders."""
    rules = RULES.replace(
        '"Qualified with {weighted_score}"', '"Score {{raw}}: {weighted_score:.1f}"'
    )
    pack = load_pack(write_pack(tmp_path, {"manifest.yaml": MANIFEST, "qualification.yaml": rules}))
    assert pack.rules[0].fact_names == ("weighted_score", "certificates_missing")


def test_a_file_listed_in_the_manifest_but_missing_is_located_in_the_manifest(
    tmp_path: Path,
) -> None:
    """A listed rule file that does not exist is reported at its manifest entry."""
    error = only_error(broken(tmp_path, manifest=MANIFEST + "  - missing.yaml\n"))
    assert (error.file, error.line, error.column) == ("manifest.yaml", 6, 5)
    assert "file 'missing.yaml' does not exist" in error.message


def test_a_pack_without_a_manifest_is_refused(tmp_path: Path) -> None:
    """A directory with no manifest.yaml is not a pack."""
    write_pack(tmp_path, {"qualification.yaml": RULES})
    with pytest.raises(PackInvalid) as raised:
        load_pack(tmp_path)
    error = only_error(raised.value.errors)
    assert (error.file, error.line) == ("manifest.yaml", 0)
    assert str(error).startswith("manifest.yaml: file not found in the policy pack directory")


def test_a_manifest_path_leaving_the_pack_is_refused(tmp_path: Path) -> None:
    """Rule files are inside the pack directory: no '..', no absolute paths."""
    (tmp_path / "outside.yaml").write_text(EXTRA_RULES, encoding="utf-8")
    error = only_error(broken(tmp_path / "pack", manifest=MANIFEST + "  - ../outside.yaml\n"))
    assert (error.file, error.line) == ("manifest.yaml", 6)
    assert "must be a path inside the pack directory" in error.message


def test_invalid_utf8_is_located(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are reported at their line and column."""
    write_pack(tmp_path, {"manifest.yaml": MANIFEST})
    (tmp_path / "qualification.yaml").write_bytes(RULES.encode().replace(b"Qualify\n", b"Qu\xe9\n"))
    with pytest.raises(PackInvalid) as raised:
        load_pack(tmp_path)
    error = only_error(raised.value.errors)
    assert (error.line, error.column, error.message) == (11, 14, "not valid UTF-8 text")


def test_criteria_facts_without_criteria_are_refused(tmp_path: Path) -> None:
    """A rule on weighted_score in a pack without criteria could never mean anything."""
    rules = RULES.replace(
        "criteria:\n  - {id: capability, weight: 60}\n  - {id: price, weight: 40}\n", ""
    )
    error = only_error(broken(tmp_path, rules))
    assert error.line == 6
    assert "fact 'weighted_score' needs evaluation criteria" in error.message


# --- many faults, one report ----------------------------------------------------------------------


def test_every_fault_of_a_pack_is_reported_at_once(tmp_path: Path) -> None:
    """Faults in several files and of several kinds all come in one PackInvalid, in order."""
    rules = (
        RULES.replace("weight: 40", "weight: 30")
        .replace("certificates_missing", "certificate_count")
        .replace("action: qualify", "action: promote")
        .replace("{weighted_score}", "{score}")
    )
    files = {
        "manifest.yaml": MANIFEST + "  - more.yaml\n",
        "qualification.yaml": rules,
        "more.yaml": EXTRA_RULES.replace("title: Dis", "titl: Dis"),
    }
    write_pack(tmp_path, files)
    with pytest.raises(PackInvalid) as raised:
        load_pack(tmp_path)
    assert located(raised.value.errors) == [
        ("qualification.yaml", 2),
        ("qualification.yaml", 15),
        ("qualification.yaml", 16),
        ("qualification.yaml", 17),
        ("more.yaml", 3),
        ("more.yaml", 5),
    ]
    text = str(raised.value)
    assert text.splitlines()[0].endswith("is invalid (6 problems):")
    assert "qualification.yaml:15:18: rules[QUAL-001].when.all[1].fact: unknown fact" in text
    assert raised.value.reason == "POLICY_INVALID"


def test_schema_errors_in_one_file_do_not_hide_semantic_errors_in_another(tmp_path: Path) -> None:
    """A file with schema errors is reported; the other files are still checked."""
    files = {
        "manifest.yaml": MANIFEST + "  - more.yaml\n",
        "qualification.yaml": RULES.replace("    then:", "    then_:"),
        "more.yaml": EXTRA_RULES.replace("site_audit_failed", "audit_failed"),
    }
    write_pack(tmp_path, files)
    with pytest.raises(PackInvalid) as raised:
        load_pack(tmp_path)
    assert {e.file for e in raised.value.errors} == {"qualification.yaml", "more.yaml"}


# --- engine limits, refused at load ---------------------------------------------------------------


def test_a_stage_with_more_rules_than_the_engine_can_match_is_refused(tmp_path: Path) -> None:
    """More than 64 chains one message could complete (the adapter's own rule is one) crash
    durable_rules: refused at load.
    """
    rule = EXTRA_RULES.split("rules:\n", 1)[1]
    many = "".join(
        rule.replace("QUAL-002", f"R-{i:03}") for i in range(MAX_MATCHES_PER_MESSAGE + 1)
    )
    files = {
        "manifest.yaml": MANIFEST + "  - many.yaml\n",
        "qualification.yaml": RULES,
        "many.yaml": "format: sqm.policy/v1\nrules:\n" + many,
    }
    write_pack(tmp_path, files)
    with pytest.raises(PackInvalid) as raised:
        load_pack(tmp_path)
    error = only_error(raised.value.errors)
    assert error.file == "many.yaml"
    assert (
        "rule R-062 brings stage 'qualification' to 65 condition chains (the engine adapter's"
        " own included), 1 over the 64 the rules engine handles"
    ) in error.message


def test_an_any_group_counts_one_chain_per_branch(tmp_path: Path) -> None:
    """An ``any`` of 65 conditions is 65 chains for the engine (66 with the adapter's), refused."""
    branches = "".join(
        f'        - {{fact: weighted_score, op: ">=", value: {i}}}\n' for i in range(65)
    )
    rules = RULES.replace(
        '      all:\n        - {fact: weighted_score, op: ">=", value: 70}\n'
        '        - {fact: certificates_missing, op: "==", value: 0}\n',
        "      any:\n" + branches,
    )
    error = only_error(broken(tmp_path, rules))
    assert (error.line, error.column) == (9, 5)
    assert "66 condition chains" in error.message


def window_file(count: int, compared: int) -> str:
    """A rule file declaring ``count`` breach-count windows and one monitoring rule that
    compares the first ``compared`` of them.
    """
    windows = "".join(
        f"  - {{id: breaches_{i}d, kind: breach_count, days: {i + 1}}}\n" for i in range(count)
    )
    conditions = "".join(
        f'        - {{fact: breaches_{i}d, op: ">=", value: 0}}\n' for i in range(compared)
    )
    return (
        "format: sqm.policy/v1\nwindows:\n" + windows + "rules:\n  - id: MON-WIDE\n"
        "    stage: monitoring\n    title: Wide\n    when:\n      all:\n"
        + conditions
        + "    then: {action: remind, reminder: progress_report_due}\n    message: wide\n"
    )


def test_a_stage_comparing_more_facts_than_a_message_holds_is_refused_saying_how_far_over(
    tmp_path: Path,
) -> None:
    """260 facts compared at one stage, with the stage and the adapter's three properties,
    are 264 message properties: a lint error naming the rule, the stage and the 10 too many.
    """
    files = {
        "manifest.yaml": MANIFEST + "  - wide.yaml\n",
        "qualification.yaml": RULES,
        "wide.yaml": window_file(260, 260),
    }
    write_pack(tmp_path, files)
    with pytest.raises(PackInvalid) as raised:
        load_pack(tmp_path)
    error = only_error(raised.value.errors)
    assert error.file == "wide.yaml"
    assert (
        "rule MON-WIDE brings stage 'monitoring' to 264 message properties (the engine"
        " adapter's own included), 10 over the 254 the rules engine handles"
    ) in error.message


def test_many_facts_at_a_stage_are_no_limit_when_its_rules_compare_few(tmp_path: Path) -> None:
    """Only compared facts are posted: 260 windows with one compared is a valid pack."""
    files = {
        "manifest.yaml": MANIFEST + "  - wide.yaml\n",
        "qualification.yaml": RULES,
        "wide.yaml": window_file(260, 1),
    }
    pack = load_pack(write_pack(tmp_path, files))
    assert len(pack.windows) == 260


# --- versions ------------------------------------------------------------------------------------


def test_the_version_is_the_same_for_the_same_content(tmp_path: Path) -> None:
    """Two copies of a pack, anywhere on disk, have the same version."""
    first = load_pack(default_pack_dir())
    shutil.copytree(default_pack_dir(), tmp_path / "copy")
    second = load_pack(tmp_path / "copy")
    assert first.version == second.version
    assert len(first.version) == 64
    assert int(first.version, 16) >= 0


def test_the_version_changes_when_one_byte_changes(tmp_path: Path) -> None:
    """Changing a single byte of a rule file gives a new version."""
    shutil.copytree(default_pack_dir(), tmp_path / "copy")
    path = tmp_path / "copy" / "qualification.yaml"
    path.write_bytes(path.read_bytes().replace(b"value: 70}", b"value: 71}", 1))
    assert load_pack(tmp_path / "copy").version != load_pack(default_pack_dir()).version


def test_the_version_covers_the_manifest(tmp_path: Path) -> None:
    """A change to the manifest alone (its title, say) also gives a new version."""
    shutil.copytree(default_pack_dir(), tmp_path / "copy")
    path = tmp_path / "copy" / "manifest.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "# reviewed\n", encoding="utf-8")
    assert load_pack(tmp_path / "copy").version != load_pack(default_pack_dir()).version


# --- schemas, compiler and facts, without the engine ----------------------------------------------


@pytest.mark.parametrize("name", [MANIFEST_SCHEMA, POLICY_FILE_SCHEMA])
def test_the_schemas_are_valid_draft_2020_12(name: str) -> None:
    """The schemas editors use are themselves valid JSON Schema."""
    Draft202012Validator.check_schema(load_schema(name))


def test_booleans_compile_to_integers_and_rules_test_their_stage() -> None:
    """``== true`` compiles to ``== 1`` (the engine matches True against ``< 70``)."""
    pack = load_pack(default_pack_dir())
    compiled = compile_rule(pack.rules[1])
    assert json.dumps(compiled, sort_keys=True) == json.dumps(
        {
            "all": [
                {
                    "m": {
                        "$and": [
                            {STAGE_PROPERTY: "qualification"},
                            {"$and": [{"site_audit_failed": 1}]},
                        ]
                    }
                }
            ],
            "run": "QUAL-002",
        },
        sort_keys=True,
    )
    assert ruleset_name(pack.version) == f"sqm_{pack.version[:16]}"


def supplier(**fields: object) -> SupplierState:
    """A software supplier with the given fields."""
    return SupplierState("acme", "Acme", "software", **fields)  # type: ignore[arg-type]


def certificate(kind: CertificateKindId, days_left: int = 30) -> Certificate:
    """A certificate valid from a year before T0 until ``days_left`` days after it."""
    return Certificate(kind, "C-1", "CQC", T0 - timedelta(days=365), T0 + timedelta(days=days_left))


def test_qualification_facts_are_derived_at_decision_time() -> None:
    """Scores weigh in, a missing score counts 0, and a certificate expiring now is missing."""
    pack = load_pack(default_pack_dir())
    state = supplier(
        scores={"capability": 90.0, "price": 80.0, "quality_management": 70.5},
        certificates=(
            certificate("business_licence"),
            certificate("iso_9001"),
            certificate("tl_9000", days_left=0),
        ),
        site_audit_passed=False,
    )
    assert qualification_facts(pack, state, T0) == {
        "weighted_score": 61.1,  # 27 + 20 + 14.1
        "criteria_missing": 2,
        "certificates_missing": 1,
        "missing_certificates": "tl_9000",
        "site_audit_passed": False,
        "site_audit_failed": True,
        "blacklisted": False,
        "category": "software",
    }


def test_an_unknown_audit_is_neither_passed_nor_failed() -> None:
    """With no audit recorded, passed counts false and nothing disqualifies for a failure."""
    facts = qualification_facts(load_pack(default_pack_dir()), supplier(), T0)
    assert (facts["site_audit_passed"], facts["site_audit_failed"]) == (False, False)


def test_a_score_for_an_unknown_criterion_names_the_field() -> None:
    """A score for a criterion the pack does not define is an InvalidCommand on that score."""
    with pytest.raises(InvalidCommand) as raised:
        qualification_facts(load_pack(default_pack_dir()), supplier(scores={"speed": 50.0}), T0)
    (violation,) = raised.value.violations
    assert violation.field == "scores['speed']"
    assert "unknown criterion 'speed'; expected one of: capability, price" in violation.description


def test_a_certificate_time_without_a_zone_names_the_field() -> None:
    """A naive validity time is named as an InvalidCommand, not left to fail as a TypeError."""
    naive = Certificate("iso_9001", "C-1", "CQC", datetime(2024, 1, 1), T0)
    with pytest.raises(InvalidCommand) as raised:
        qualification_facts(load_pack(default_pack_dir()), supplier(certificates=(naive,)), T0)
    assert [v.field for v in raised.value.violations] == ["certificates[0].valid_from"]


def test_the_engine_message_holds_only_compared_facts_with_booleans_as_integers() -> None:
    """Facts used only in messages stay out of the engine; booleans become 0/1."""
    pack = load_pack(default_pack_dir())
    facts = qualification_facts(pack, supplier(site_audit_passed=True), T0)
    message = engine_message(Stage.QUALIFICATION, facts, pack.rules_for(Stage.QUALIFICATION))
    assert message == {
        STAGE_PROPERTY: "qualification",
        "weighted_score": 0.0,
        "criteria_missing": 5,
        "certificates_missing": 3,
        "site_audit_passed": 1,
        "site_audit_failed": 0,
        "blacklisted": 0,
    }
    assert set(message) - {STAGE_PROPERTY} <= set(CATALOGUE)
