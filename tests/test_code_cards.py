"""Code cards end to end: the user's file runs in a limited child process, every way
it can go wrong is one clear line, `quizcnn solve` exits 0 only when all cases pass,
and a drill in a real terminal opens an editor, checks, and saves the grade with the
number of runs."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import textwrap
from pathlib import Path

import pexpect
import pytest
from typer.testing import CliRunner

from quizcnn.bank import load_bank
from quizcnn.cli import app
from quizcnn.runner import CheckRun, attempt_path, prepare_attempt, unchanged_from_starter

pytestmark = pytest.mark.slow
CARD = "code-bn-forward"
runner = CliRunner()


@pytest.fixture(scope="module")
def card():
    return load_bank().by_id[CARD]


UNBIASED = """\
import numpy as np


def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5,
                      training=True):
    if training:
        n = x.shape[0]
        mean, var = x.mean(axis=0), x.var(axis=0, ddof=1)  # the mistake: N - 1 here
        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var = (1 - momentum) * running_var + momentum * var
    else:
        mean, var = running_mean, running_var
    return gamma * (x - mean) / np.sqrt(var + eps) + beta, running_mean, running_var
"""

WRONG = {
    "syntax": (
        "def batchnorm_forward(x, *a, **k)\n    return x\n",
        "syntax error in your file, line 1",
    ),
    "missing": (
        "def other(x):\n    return x\n",
        "your file defines no function batchnorm_forward()",
    ),
    "import": ("import no_such_module_here\n", "No module named 'no_such_module_here'"),
    "loop": ("def batchnorm_forward(*a, **k):\n    while True:\n        pass\n", "10 s"),
}


def run_file(card, tmp_path: Path, code: str, **limits):
    path = tmp_path / "attempt.py"
    path.write_text(code, encoding="utf-8")
    return CheckRun(card, **limits).run(path)


@pytest.mark.parametrize("name", sorted(WRONG))
def test_a_file_that_cannot_be_checked_is_one_clear_line(card, tmp_path, name):
    code, message = WRONG[name]
    report = run_file(card, tmp_path, code, **({"time_limit_s": 3} if name == "loop" else {}))
    assert not report.passed and message.replace("10 s", "3 s") in report.error, report.error
    assert "\n" not in report.error


def test_an_exception_names_its_last_frame_in_the_users_file(card, tmp_path):
    code = "def batchnorm_forward(x, *a, **k):\n    y = x\n    return y[100]\n"
    report = run_file(card, tmp_path, code)
    assert "IndexError" in report.first_failure.got
    assert "your file, line 3, in batchnorm_forward: return y[100]" in report.first_failure.got


def test_a_50_gb_allocation_fails_inside_the_child(card, tmp_path):
    code = "import numpy as np\ndef batchnorm_forward(*a, **k):\n    return np.ones(50_000_000_000 // 8)\n"
    report = run_file(card, tmp_path, code)
    assert not report.passed and "MemoryError" in report.first_failure.got


def test_megabytes_of_output_are_capped_and_counted(card, tmp_path):
    code = "def batchnorm_forward(x, *a, **k):\n    print('spam' * 250_000)\n    return x\n"
    report = run_file(card, tmp_path, code)
    assert report.output_bytes >= 1_000_000 and len(report.output) <= 2_000
    assert not report.passed


def test_the_reference_solution_passes_in_the_child(card, tmp_path):
    report = run_file(card, tmp_path, card.solution)
    assert report.passed, report.to_dict()
    assert report.time_limit_s == 10 and len(report.cases) >= 5


def test_solve_exit_codes_and_json(card, tmp_path):
    good = tmp_path / "good.py"
    good.write_text(card.solution, encoding="utf-8")
    bad = tmp_path / "bad.py"
    bad.write_text(UNBIASED, "utf-8")
    assert runner.invoke(app, ["solve", CARD, str(good)]).exit_code == 0
    result = runner.invoke(app, ["solve", CARD, str(bad), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["passed"] is False and "biased variance" in data["cases"][0]["hint"]
    missing = runner.invoke(app, ["solve", CARD, str(tmp_path / "nope.py")])
    assert missing.exit_code == 2 and "no such file" in missing.output
    recall = runner.invoke(app, ["solve", "bn-normalizes-over", str(good)])
    assert recall.exit_code == 2 and "not a code card" in recall.output


def test_the_attempt_starts_from_the_starter_and_is_kept(card, isolated_home):
    path = prepare_attempt(card)
    assert path == attempt_path(card) and unchanged_from_starter(card, path)
    path.write_text("# mine\n", encoding="utf-8")
    assert prepare_attempt(card).read_text(encoding="utf-8") == "# mine\n"
    assert not unchanged_from_starter(card, path)


EDITOR = """\
import sys
from pathlib import Path
attempt, state = Path(sys.argv[1]), Path(sys.argv[0]).with_suffix(".count")
count = int(state.read_text()) if state.exists() else 0
state.write_text(str(count + 1))
folder = Path(sys.argv[0]).parent
if count == 0:  # first edit: the classic mistake, the unbiased variance
    attempt.write_text((folder / "wrong.py").read_text())
else:  # second edit: the fix
    attempt.write_text((folder / "solution.py").read_text())
"""


def test_a_code_card_in_a_real_terminal_wrong_then_fixed_then_graded(card, tmp_path):
    home = tmp_path / "home"
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "solution.py").write_text(card.solution, encoding="utf-8")
    (tools / "wrong.py").write_text(UNBIASED, encoding="utf-8")
    editor = tools / "editor.py"
    editor.write_text(EDITOR, encoding="utf-8")
    bank = tmp_path / "bank"
    bank.mkdir()
    (bank / "code.yaml").write_text(
        textwrap.dedent(
            """\
            format_version: 1
            topic: code
            title: Code
            cards:
            """
        )
        + _card_yaml(card),
        encoding="utf-8",
    )
    env = {**os.environ, "QUIZCNN_HOME": str(home), "TERM": "dumb", "TZ": "UTC"}
    env["QUIZCNN_NOW"] = "2026-03-02T10:00:00Z"
    env["EDITOR"] = f"{sys.executable} {editor}"
    env.pop("VISUAL", None)
    command = [sys.executable, "-m", "quizcnn.cli", "--no-builtin", "--bank", str(bank), "drill"]
    child = pexpect.spawn(
        command[0], command[1:], env=env, encoding="utf-8", dimensions=(50, 100), timeout=60
    )
    child.expect("o open your file and check it")
    child.sendline("o")
    child.expect("first failure")
    child.expect("biased variance")
    child.expect("not yet")
    child.sendline("o")
    child.expect("all cases pass")
    child.expect("o open your file and check it again")
    child.sendline("")  # the solution, and the suggested grade: Hard (passed on run 2)
    child.expect("reference solution")
    child.expect("Hard ⏎")
    child.sendline("")
    child.expect("Hard")
    child.sendline("q")
    child.expect(pexpect.EOF)
    conn = sqlite3.connect(home / "quizcnn.db")
    ((rating, detail),) = conn.execute("SELECT rating, detail FROM review_log").fetchall()
    conn.close()
    assert rating == 2 and json.loads(detail) == {"passed": True, "runs": 2}


def _card_yaml(card) -> str:
    """The shipped card as YAML, citing no bibliography (the test bank has none)."""
    import yaml

    data = {
        "id": card.id,
        "kind": "implement",
        "question": card.question,
        "task": card.task,
        "starter": card.starter,
        "checker": card.checker,
        "solution": card.solution,
        "answer": card.answer,
        "explanation": card.explanation,
        "sources": ["Ioffe & Szegedy 2015, §3"],
    }

    class Literal(yaml.SafeDumper):
        """Multi-line text as | blocks, as an author writes it (no escapes)."""

    Literal.add_representer(
        str,
        lambda dumper, value: dumper.represent_scalar(
            "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
        ),
    )
    text = yaml.dump([data], Dumper=Literal, sort_keys=False, allow_unicode=True, width=1000)
    return textwrap.indent(text, "  ")


def test_check_reports_an_unknown_checker_and_a_starter_that_does_not_parse(tmp_path):
    folder = tmp_path / "bank"
    folder.mkdir()
    (folder / "codes.yaml").write_text(
        "format_version: 1\ntopic: codes\ntitle: T\ncards:\n"
        "  - id: cx-code\n    kind: implement\n    question: Write f.\n    task: Write f.\n"
        "    starter: |\n      def f(x)\n          return x\n"
        "    checker: no_such_checker\n"
        "    solution: |\n      def f(x):\n          return x\n"
        "    answer: A.\n    explanation: E.\n    sources: [S]\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["--no-builtin", "--bank", str(folder), "check"])
    assert result.exit_code == 1
    found = [
        line.split("codes.yaml:", 1)[1]
        for line in result.output.splitlines()
        if "codes.yaml:" in line
    ]
    assert (
        "12:14: cx-code: checker 'no_such_checker' names no file demos/checkers/no_such_checker.py"
        in found
    ), found
    assert any(f.startswith("10:1: cx-code: starter is not valid Python") for f in found), found


def test_bad_code_in_a_drill_is_one_line_and_the_session_goes_on(card, tmp_path):
    """A grade before, a check that cannot run, the drill going on, every grade kept."""
    from datetime import datetime, timezone

    from quizcnn.checkkit import CheckReport
    from quizcnn.drill import Checked, Drill, Invalid, PointsConfirmed
    from quizcnn.store import open_store

    bank = load_bank()
    cards = [bank.by_id["bn-normalizes-over"], card]
    with open_store(tmp_path / "quizcnn.db") as store:
        drill = Drill(store, cards, clock=lambda: datetime(2026, 3, 2, 10, tzinfo=timezone.utc))
        drill.start()
        drill.press("")
        drill.press("a")
        (confirmed,) = drill.press("")
        assert isinstance(confirmed, PointsConfirmed)
        events = drill.press("3")  # the recall card: Good, saved; the code card is next
        assert events[-1].shown.card.id == card.id
        for error in (
            "syntax error in your file, line 1: expected ':'",
            "your code ran past the 10 s limit and was stopped (an endless loop, or far too much work?)",
        ):
            (checked,) = drill.checked(CheckReport(card.id, card.checker, "", error=error))
            assert isinstance(checked, Checked) and checked.report.error == error
        assert ("o", "open your file and check it again") in drill.valid_keys()
        (invalid,) = drill.press("x")  # a stray key: one line, the card stays
        assert isinstance(invalid, Invalid)
        drill.press("")  # the solution
        drill.press("")  # the suggested grade: Again (still failing)
        reviews = store.reviews()
        assert [(r.card_id, int(r.rating)) for r in reviews] == [
            ("bn-normalizes-over", 3),
            (card.id, 1),
        ]
        assert reviews[1].detail == {"passed": False, "runs": 2}


def test_solve_edit_with_no_editor_or_an_untouched_file_checks_nothing(isolated_home, monkeypatch):
    monkeypatch.setenv("EDITOR", "/no/such/editor")
    monkeypatch.delenv("VISUAL", raising=False)
    missing = runner.invoke(app, ["solve", CARD, "--edit"])
    assert missing.exit_code == 2 and "cannot start the editor '/no/such/editor'" in missing.output
    assert "first failure" not in missing.output
    monkeypatch.setenv("EDITOR", "true")  # an editor that changes nothing
    untouched = runner.invoke(app, ["solve", CARD, "--edit"])
    assert untouched.exit_code == 2 and "edit the file first" in untouched.output
