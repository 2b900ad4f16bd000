"""`quizcnn explain` and `quizcnn proofs` as a user runs them."""

from __future__ import annotations

import json
import textwrap

import pytest
from typer.testing import CliRunner

import quizcnn.proofs
from quizcnn.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def test_explain_an_alias_shows_the_whole_topic():
    result = run("explain", "bn")
    assert result.exit_code == 0, result.output
    assert "BatchNorm vs LayerNorm (batchnorm)" in result.output
    assert "Over which axes does BatchNorm2d normalize" in result.output
    assert "Proof: bn_vs_ln" in result.output
    assert "https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html" in result.output
    # every card of the topic is shown, not only the first
    assert "bn-origin" in result.output and "ln-transformer-axis" in result.output


def test_explain_a_card_id_shows_its_choices_and_answer():
    result = run("explain", "bn-momentum-convention")
    assert result.exit_code == 0, result.output
    assert "running_mean = 0.9 * running_mean + 0.1 * batch_mean ✓" in result.output
    assert "running_mean = 0.1 * running_mean + 0.9 * batch_mean" in result.output
    assert "Keras" in result.output
    assert "bn-normalizes-over" not in result.output


def test_explanation_math_reaches_the_terminal_as_unicode():
    result = run("explain", "bn-backward-sum-zero")
    assert result.exit_code == 0, result.output
    # the LaTeX survives markdown rendering and reaches the terminal as Unicode
    assert "x̂" in result.output and "Σ_i" in result.output
    assert "\\(" not in result.output and "\\hat" not in result.output


def test_unknown_name_is_one_line_with_suggestions():
    result = run("explain", "batchnrom")
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "no topic, alias or card id named 'batchnrom'" in lines[0]
    assert "batchnorm" in lines[0]
    assert "Traceback" not in result.output


def test_an_error_line_shows_brackets_as_typed_not_as_markup():
    result = run("explain", "[bold]bn[/bold]")
    assert result.exit_code == 2
    assert "named '[bold]bn[/bold]'" in result.output


def test_explain_run_on_cpu_shows_claims_device_and_chart():
    result = run("explain", "bn-gradient-explosion", "--run", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "PASS" in result.output
    assert "bn_deep_gradients: cpu, seed 0" in result.output
    for column in ("claim", "measured", "expected"):
        assert column in result.output
    assert "pass" in result.output and "FAIL" not in result.output
    assert "log scale" in result.output and "█" in result.output


@pytest.mark.skipif(_has_cuda(), reason="this machine has a CUDA GPU")
def test_absent_cuda_is_one_clear_line_and_exit_2():
    result = run("explain", "bn", "--run", "--device", "cuda")
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "device 'cuda' is not available" in lines[0]
    assert "Traceback" not in result.output


def test_unknown_device_is_exit_2():
    result = run("explain", "bn", "--run", "--device", "tpu")
    assert result.exit_code == 2
    assert "unknown device 'tpu'" in result.output


def test_explain_json_without_run_lists_cards():
    result = run("explain", "bn-backward-sum-zero", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["proofs"] == []
    (card,) = data["cards"]
    assert card["id"] == "bn-backward-sum-zero"
    assert card["kind"] == "numeric" and card["value"] == 0
    assert card["proof"] == "bn_vs_ln"


def test_explain_run_json_parses_and_carries_every_claim():
    result = run("explain", "bn-placement", "--run", "--device", "cpu", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    (proof,) = data["proofs"]
    assert proof["name"] == "bn_placement"
    assert proof["device"] == "cpu" and proof["passed"] is True
    keys = {c["key"] for c in proof["claims"]}
    assert {"bias_before_bn_no_effect", "bn_first_trains", "relu_first_trains"} <= keys
    assert all(c["passed"] for c in proof["claims"])


def test_proofs_lists_each_proof_with_the_cards_citing_it():
    result = run("proofs")
    assert result.exit_code == 0, result.output
    assert "bn_deep_gradients" in result.output
    assert "bn-gradient-explosion" in result.output
    assert "bn-normalizes-over" in result.output


def test_proofs_run_named_proofs_prints_a_summary():
    result = run("proofs", "run", "bn_deep_gradients", "bn_placement", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "Proofs on cpu" in result.output
    assert "4/4" in result.output and "7/7" in result.output
    assert "2/2 proofs pass on cpu" in result.output


def test_proofs_run_json_parses():
    result = run("proofs", "run", "bn_deep_gradients", "--device", "cpu", "--json")
    assert result.exit_code == 0, result.output
    (proof,) = json.loads(result.stdout)
    assert proof["name"] == "bn_deep_gradients" and proof["passed"] is True


def test_proofs_run_unknown_name_suggests_and_exits_2():
    result = run("proofs", "run", "bn_vs_lnn")
    assert result.exit_code == 2
    assert "no proof named 'bn_vs_lnn'; did you mean bn_vs_ln" in result.output


# -- a proof whose claim does not hold -----------------------------------------

FALSE_PROOF = '''
"""Two plus two, claimed wrongly"""


def run(proof):
    proof.close("two_plus_two", "2 + 2", 2 + 2, 5.0, 1e-9)
    proof.holds("true_one", "a claim that holds", True)
'''

FALSE_BANK = """
format_version: 1
topic: arithmetic
title: Arithmetic
aliases: [sums]
cards:
  - id: ar-two-plus-two
    kind: numeric
    question: What is 2 + 2?
    value: 4
    tolerance: 0
    answer: "4"
    explanation: Counting.
    proof: wrong_sum
    sources: [Peano 1889]
"""


@pytest.fixture
def failing_setup(tmp_path, monkeypatch):
    demos = tmp_path / "demos"
    bank = tmp_path / "bank"
    demos.mkdir()
    bank.mkdir()
    (demos / "wrong_sum.py").write_text(textwrap.dedent(FALSE_PROOF), encoding="utf-8")
    (bank / "arithmetic.yaml").write_text(textwrap.dedent(FALSE_BANK), encoding="utf-8")
    monkeypatch.setattr(quizcnn.proofs, "demos_dir", lambda: demos)
    return ["--no-builtin", "--bank", str(bank)]


def test_explain_run_with_a_failing_claim_shows_it_and_exits_1(failing_setup):
    result = run(*failing_setup, "explain", "sums", "--run", "--device", "cpu")
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output
    assert "2 + 2" in result.output


def test_proofs_run_with_a_failing_claim_names_it_and_exits_1(failing_setup):
    result = run(*failing_setup, "proofs", "run", "--device", "cpu")
    assert result.exit_code == 1, result.output
    assert "0/1 proofs pass on cpu" in result.output
    assert "wrong_sum.two_plus_two" in result.output
    assert "measured 4, expected 5" in result.output
