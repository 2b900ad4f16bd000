"""`quizcnn check` and `quizcnn list` as a user runs them, and what --help costs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quizcnn.cli import app

FIXTURES = Path(__file__).parent / "fixtures" / "bank"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_check_passes_on_the_shipped_bank_and_summarises_it():
    result = run("check", "--strict")
    assert result.exit_code == 0, result.output
    assert "topics" in result.output and "cards" in result.output
    assert "ok: the bank passes strict validation" in result.output


def test_check_on_broken_fixtures_prints_every_error_with_positions():
    result = run("--no-builtin", "--bank", str(FIXTURES / "broken"), "check")
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith(str(FIXTURES))]
    assert len(lines) == 10
    for line in lines:
        path, line_no, col, card_id, message = line.split(":", 4)
        assert path.endswith(".yaml") and line_no.isdigit() and col.isdigit() and message
    assert "10 problem(s) in the question bank" in result.output
    assert "Traceback" not in result.output


def test_user_bank_adds_to_the_builtin_one_from_the_option_or_the_environment(monkeypatch):
    builtin = json.loads(run("list", "--json").output)
    with_option = json.loads(run("--bank", str(FIXTURES / "valid"), "list", "--json").output)
    assert [t["topic"] for t in with_option] == [t["topic"] for t in builtin] + ["norms", "sizes"]
    monkeypatch.setenv("QUIZCNN_BANK", str(FIXTURES / "valid"))
    with_env = json.loads(run("list", "--json").output)
    assert with_env == with_option


def test_a_missing_bank_folder_is_one_clear_line():
    result = run("--bank", "/no/such/folder", "check")
    assert result.exit_code == 1
    assert "/no/such/folder:1:1: -: bank folder does not exist or is not a folder" in result.output


def test_list_topics_table_and_json():
    result = run("--no-builtin", "--bank", str(FIXTURES / "valid"), "list")
    assert result.exit_code == 0
    assert "Normalization" in result.output and "5 cards in 2 topics" in result.output
    rows = json.loads(
        run("--no-builtin", "--bank", str(FIXTURES / "valid"), "list", "--json").output
    )
    assert rows == [
        {
            "topic": "norms",
            "title": "Normalization (fixture)",
            "aliases": ["fixture-bn", "fixture-ln"],
            "cards": 3,
        },
        {"topic": "sizes", "title": "Output sizes (fixture)", "aliases": [], "cards": 2},
    ]


def test_list_one_topic_by_alias_and_unknown_topic():
    bank = ["--no-builtin", "--bank", str(FIXTURES / "valid")]
    rows = json.loads(run(*bank, "list", "--topic", "fixture-ln", "--json").output)
    assert [(r["id"], r["kind"], r["proof"]) for r in rows] == [
        ("fx-bn-axes", "recall", "bn_vs_ln"),
        ("fx-bn-params", "choice", "bn_vs_ln"),
        ("fx-bn-momentum", "numeric", None),
    ]
    table = run(*bank, "list", "--topic", "norms")
    assert table.exit_code == 0 and "fx-bn-axes" in table.output
    unknown = run(*bank, "list", "--topic", "norm")
    assert unknown.exit_code == 2
    assert "no topic, alias or card id named 'norm'; did you mean norms" in unknown.output


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["check"], ["list"]])
def test_help_version_check_and_list_never_import_torch(args):
    code = (
        "import sys\n"
        "from quizcnn.cli import app\n"
        "try:\n"
        f"    app({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.stdout.strip().splitlines()[-1] == "NO-TORCH", out.stderr


@pytest.mark.parametrize("command", [["check"], ["list"], ["drill"], ["export", "tsv"]])
def test_no_builtin_without_a_bank_is_one_line_not_an_empty_bank(command, monkeypatch):
    result = run("--no-builtin", *command)
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: --no-builtin leaves no cards: add --bank DIR or set QUIZCNN_BANK"
    )
    monkeypatch.setenv("QUIZCNN_BANK", str(FIXTURES / "valid"))
    assert run("--no-builtin", "list").exit_code == 0


def test_list_tags_counts_the_cards_drill_tag_would_pick():
    bank = ["--no-builtin", "--bank", str(FIXTURES / "valid")]
    counts = json.loads(run(*bank, "list", "--tags", "--json").output)
    assert counts == {"normalization": 2, "pytorch": 1}
    table = run(*bank, "list", "--tags").output
    assert "normalization" in table and "quizcnn drill --tag TAG" in table
    per_card = json.loads(run(*bank, "list", "--topic", "norms", "--json").output)
    assert [c["tags"] for c in per_card] == [["normalization"], ["normalization", "pytorch"], []]
    assert run(*bank, "list", "--tags", "--topic", "nosuch").exit_code == 2
