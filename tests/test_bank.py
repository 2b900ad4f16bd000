"""The bank loader: valid fixtures load, and every error class is caught with its exact position."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from quizcnn.bank import BankError, UnknownName, load_bank

FIXTURES = Path(__file__).parent / "fixtures" / "bank"


def issues_for(tmp_path: Path, *names: str, folder: str = "broken") -> list[str]:
    """Load only the named fixture files and return their problems as printed lines."""
    bank_dir = tmp_path / "bank"
    bank_dir.mkdir()
    for name in names:
        shutil.copy(FIXTURES / folder / name, bank_dir / name)
    with pytest.raises(BankError) as caught:
        load_bank([bank_dir], include_builtin=False)
    # the lines start with the temp path; compare the rest exactly
    return [str(i).replace(f"{bank_dir}/", "") for i in caught.value.issues]


def test_valid_fixture_bank_loads_every_kind():
    bank = load_bank([FIXTURES / "valid"], include_builtin=False)
    assert list(bank.topics) == ["norms", "sizes"]
    assert [c.id for c in bank.cards] == [
        "fx-bn-axes",
        "fx-bn-params",
        "fx-bn-momentum",
        "fx-out-size",
        "fx-out-size-fixed",
    ]
    params = bank.by_id["fx-bn-params"]
    assert params.choices == ("64", "128", "256") and params.correct == "128"
    assert bank.by_id["fx-bn-momentum"].value == pytest.approx(0.1)
    assert bank.by_id["fx-out-size"].generator == "conv_output_size"
    # block scalars keep LaTeX backslashes as written
    assert r"\frac{1}{NHW}" in bank.by_id["fx-bn-axes"].explanation
    # a card without sources is a warning, not an error, unless strict
    assert [w.card_id for w in bank.warnings] == []


def test_lookup_by_topic_alias_and_id_with_suggestions():
    bank = load_bank([FIXTURES / "valid"], include_builtin=False)
    assert [c.id for c in bank.find("fixture-bn")] == [
        "fx-bn-axes",
        "fx-bn-params",
        "fx-bn-momentum",
    ]
    assert [c.id for c in bank.find("FX-BN-PARAMS")] == ["fx-bn-params"]
    with pytest.raises(UnknownName) as caught:
        bank.find("fx-bn-param")
    assert "fx-bn-params" in caught.value.suggestions


def test_yaml_syntax_error_names_line_and_column(tmp_path):
    assert issues_for(tmp_path, "syntax.yaml") == [
        "syntax.yaml:8:11: -: YAML syntax error: did not find expected ',' or ']' "
        "(while parsing a flow sequence)"
    ]


def test_wrong_types(tmp_path):
    assert issues_for(tmp_path, "types.yaml") == [
        "types.yaml:9:16: bx-types: tolerance must be a number, not str 'small'",
        "types.yaml:12:14: bx-types: sources must be a list of strings, not a scalar",
    ]


def test_missing_required_field(tmp_path):
    assert issues_for(tmp_path, "missing.yaml") == [
        "missing.yaml:5:5: bx-missing: missing required key 'answer'"
    ]


def test_unknown_key_suggests_the_near_one(tmp_path):
    assert issues_for(tmp_path, "unknown_key.yaml") == [
        "unknown_key.yaml:5:5: bx-unknown: missing required key 'explanation'",
        "unknown_key.yaml:9:5: bx-unknown: unknown key 'explaination' in card; did you mean 'explanation'?",
    ]


def test_proof_must_name_a_demo_file(tmp_path):
    assert issues_for(tmp_path, "bad_proof.yaml") == [
        "bad_proof.yaml:10:12: bx-bad-proof: proof 'no_such_demo' names no file demos/no_such_demo.py"
    ]


def test_correct_must_be_among_choices(tmp_path):
    assert issues_for(tmp_path, "bad_correct.yaml") == [
        "bad_correct.yaml:9:14: bx-bad-correct: correct 'Sigmoid' is not among the choices"
    ]


def test_empty_string(tmp_path):
    assert issues_for(tmp_path, "empty.yaml") == ["empty.yaml:7:15: bx-empty: question is empty"]


def test_backslash_escape_in_double_quotes_points_at_the_backslash(tmp_path):
    assert issues_for(tmp_path, "escape.yaml") == [
        'escape.yaml:8:23: bx-escape: "\\f" in a double-quoted string became a form feed; '
        "write LaTeX in single quotes or a block scalar (| or >)"
    ]


def test_duplicate_ids_name_both_places_and_alias_clash(tmp_path):
    lines = issues_for(tmp_path, "first.yaml", "second.yaml", folder="clash")
    assert lines == [
        "second.yaml:4:18: -: alias 'shared-alias' is also claimed by topic 'first'",
        "second.yaml:6:9: cx-same-id: duplicate id 'cx-same-id': first defined at first.yaml:6:9",
    ]


def test_every_broken_file_is_reported_in_one_pass(tmp_path):
    names = sorted(p.name for p in (FIXTURES / "broken").glob("*.yaml"))
    lines = issues_for(tmp_path, *names)
    assert {line.split(":")[0] for line in lines} == set(names)
    assert len(lines) == 10


def test_topic_must_match_file_name_and_kind_fields_belong_to_their_kind(tmp_path):
    (tmp_path / "wrong_name.yaml").write_text(
        "format_version: 1\ntopic: other\ntitle: T\ncards:\n"
        "  - id: a-card\n    kind: recall\n    question: Q?\n    answer: A.\n"
        "    explanation: E.\n    choices: [x, y]\n    sources: [S]\n",
        encoding="utf-8",
    )
    with pytest.raises(BankError) as caught:
        load_bank([tmp_path], include_builtin=False)
    lines = [str(i).replace(f"{tmp_path}/", "") for i in caught.value.issues]
    assert lines == [
        "wrong_name.yaml:2:8: -: topic 'other' must match the file name 'wrong_name'",
        "wrong_name.yaml:10:14: a-card: 'choices' is only for choice cards, not recall cards",
    ]


def test_strict_requires_sources(tmp_path):
    (tmp_path / "nosrc.yaml").write_text(
        "format_version: 1\ntopic: nosrc\ntitle: T\ncards:\n"
        "  - id: no-src\n    kind: recall\n    question: Q?\n    answer: A.\n    explanation: E.\n"
        # a proof, points and a follow-up, so that the missing sources are the only issue
        "    points: [one, two]\n    follow_ups: [has-src]\n    proof: dropout\n"
        "  - id: has-src\n    kind: choice\n    question: Q?\n    choices: [a, b]\n"
        "    correct: a\n    answer: A.\n    explanation: E.\n    sources: [S]\n",
        encoding="utf-8",
    )
    bank = load_bank([tmp_path], include_builtin=False)
    assert [w.card_id for w in bank.warnings] == ["no-src"]
    with pytest.raises(BankError) as caught:
        load_bank([tmp_path], include_builtin=False, strict=True)
    assert str(caught.value.issues[0]).endswith(
        "nosrc.yaml:5:5: no-src: no sources: cite a paper section or an official docs page"
    )


def test_strict_requires_a_proof_in_every_topic_at_the_topic_key(tmp_path):
    (tmp_path / "noproof.yaml").write_text(
        "format_version: 1\ntopic: noproof\ntitle: T\ncards:\n"
        "  - id: no-proof\n    kind: recall\n    question: Q?\n    answer: A.\n"
        "    explanation: E.\n    sources: [S]\n",
        encoding="utf-8",
    )
    load_bank([tmp_path], include_builtin=False)  # not strict: fine
    with pytest.raises(BankError) as caught:
        load_bank([tmp_path], include_builtin=False, strict=True)
    messages = [str(i) for i in caught.value.issues]
    assert any(
        m.endswith("noproof.yaml:2:8: -: topic 'noproof' has no card with a proof")
        for m in messages
    ), messages


def test_a_bank_never_runs_code(tmp_path):
    """Python tags are not part of safe YAML: they fail to load instead of executing."""
    marker = tmp_path / "ran"
    (tmp_path / "evil.yaml").write_text(
        "format_version: 1\ntopic: evil\ntitle: !!python/object/apply:os.system "
        f'["touch {marker}"]\ncards: []\n',
        encoding="utf-8",
    )
    with pytest.raises(BankError):
        load_bank([tmp_path], include_builtin=False)
    assert not marker.exists()


def test_shipped_bank_passes_strict_validation():
    bank = load_bank(strict=True)
    assert len(bank.cards) >= 15
    assert len(bank.topics) >= 5


def test_the_shipped_bank_spells_each_tag_one_way():
    """drill --tag matches exactly, so 'misconceptions' beside 'misconception' hides cards."""
    tags = set(load_bank().tag_counts())
    plurals = sorted(t for t in tags if t.endswith("s") and t[:-1] in tags)
    spellings = sorted(t for t in tags if t.replace("_", "-") != t or t != t.lower())
    assert plurals == [] and spellings == []
