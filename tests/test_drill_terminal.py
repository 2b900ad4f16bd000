"""`quizcnn drill` as real processes: a whole session in a pseudo-terminal, a kill -9
in the middle, two drills on one database at once, a piped script, and torch kept
off the path to the first card."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pexpect
import pytest

pytestmark = pytest.mark.slow

FIXTURE_BANK = Path(__file__).parent / "fixtures" / "drillbank"
NOW = "2026-03-02T10:00:00Z"
PROMPT = "\r\n> "  # the input prompt always starts a line


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


def environment(home: Path) -> dict[str, str]:
    env = {**os.environ, "QUIZCNN_HOME": str(home), "TZ": "UTC", "QUIZCNN_NOW": NOW}
    env["TERM"] = "dumb"  # a real terminal, without colour codes between the words
    env.pop("QUIZCNN_BANK", None)
    return env


def cli(bank: Path = FIXTURE_BANK) -> list[str]:
    return [sys.executable, "-m", "quizcnn.cli", "--no-builtin", "--bank", str(bank)]


def spawn(home: Path, *args: str, bank: Path = FIXTURE_BANK) -> pexpect.spawn:
    command = [*cli(bank), "drill", *args]
    return pexpect.spawn(
        command[0],
        command[1:],
        env=environment(home),
        encoding="utf-8",
        dimensions=(50, 100),
        timeout=30,
    )


def reviews(home: Path) -> list[tuple]:
    conn = sqlite3.connect(home / "quizcnn.db")
    try:
        return conn.execute("SELECT card_id, rating, cram FROM review_log ORDER BY id").fetchall()
    finally:
        conn.close()


def integrity(home: Path) -> str:
    conn = sqlite3.connect(home / "quizcnn.db")
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def test_a_whole_drill_in_a_terminal_reveal_explain_grade_undo_quit(home):
    child = spawn(home)
    child.expect("dnorm · recall · new")
    child.expect("dx-bn-axes · learning 0 · review 0 · new 5")
    child.expect("type your answer · Enter reveal · u undo · q quit")
    child.expect(PROMPT)

    child.sendline("per channel, over N H W")  # an attempt, shown beside the answer
    child.expect("your answer")
    child.expect("per channel, over N H W")
    child.expect("Per channel, over the batch")
    child.expect(r"1 Again\s+2 Hard\s+3 Good\s+4 Easy")
    child.expect(r"1m\s+6m\s+10m\s+10d")  # the interval each grade would set
    child.expect(PROMPT)

    child.sendline("e")
    child.expect("explanation")
    child.expect("one mean and one variance")
    child.expect("source: https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html")
    child.expect(PROMPT)

    child.sendline("3")
    child.expect("Good · next in 10m")
    child.expect("dnorm · choice · new")  # the next card: only after the grade is saved
    assert reviews(home) == [("dx-bn-axes", 3, 0)]
    child.expect(PROMPT)

    child.sendline("u")
    child.expect("undone: Good on dx-bn-axes")
    child.expect("dx-bn-axes · learning 0 · review 0 · new 5")
    child.expect(PROMPT)
    assert reviews(home) == []

    child.sendline("")
    child.expect("Answer")
    child.expect(PROMPT)
    child.sendline("4")
    child.expect("Easy · next in 10d")

    child.expect("a\\) 64")
    child.expect(PROMPT)
    child.sendline("z")  # no such choice: re-prompt with the valid keys
    child.expect("pick a letter from a to c; valid keys: a-c \\(choose\\), Enter \\(reveal\\)")
    child.expect(PROMPT)
    child.sendline("b")
    child.expect("✓ right")
    child.expect("3 Good ⏎")
    child.expect(PROMPT)
    child.sendline("")  # Enter takes the auto grade
    child.expect("Good · next in")
    child.expect(PROMPT)

    child.sendline("q")
    child.expect("session")
    child.expect(r"reviewed\s+│\s+2")
    child.expect(r"again-rate\s+│\s+0% \(0\)")
    child.expect(r"due later today\s+│\s+1")  # the choice card's 10-minute step
    child.expect(r"due tomorrow\s+│\s+0")
    child.expect(r"due within 7 days\s+│\s+1")  # the same card; Easy set 10 days
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert reviews(home) == [("dx-bn-axes", 4, 0), ("dx-bn-params", 3, 0)]


def test_a_key_that_means_nothing_re_prompts_in_a_terminal(home):
    child = spawn(home)
    child.expect(PROMPT)
    child.sendline("")
    child.expect(PROMPT)
    child.sendline("x")
    child.expect("'x' means nothing here; valid keys: 1 \\(Again\\), 2 \\(Hard\\), 3 \\(Good\\)")
    child.expect(PROMPT)
    child.sendline("2")
    child.expect("Hard · next in")
    child.expect(PROMPT)
    child.sendcontrol("c")  # Ctrl-C stops cleanly with the summary
    child.expect(r"reviewed\s+│\s+1")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert reviews(home) == [("dx-bn-axes", 2, 0)]


@pytest.mark.parametrize("graded", [1, 3])
def test_kill_9_loses_nothing_graded(home, graded):
    child = spawn(home)
    cards = ["dx-bn-axes", "dx-bn-params", "dx-ln-axes", "dx-same-padding", "dx-gen-params"]
    for k in range(graded):
        child.expect(f"{cards[k]} · learning")
        child.expect(PROMPT)
        child.sendline("")
        child.expect(PROMPT)
        child.sendline("4")
        child.expect("Easy · next in")
    child.expect(f"{cards[graded]} · learning")  # the next card is on screen
    child.expect(PROMPT)
    child.sendline("")  # revealed but not graded when the process dies
    child.expect(PROMPT)
    child.kill(signal.SIGKILL)
    child.close()
    assert child.signalstatus == signal.SIGKILL
    assert reviews(home) == [(card, 4, 0) for card in cards[:graded]]
    assert integrity(home) == "ok"


def _big_bank(folder: Path, n: int) -> Path:
    folder.mkdir()
    cards = "".join(
        textwrap.dedent(f"""\
          - id: load-{k:03d}
            kind: recall
            question: Question {k}?
            answer: Answer {k}.
            explanation: Why {k}.
            sources: [https://pytorch.org/docs/stable/index.html]
        """)
        for k in range(n)
    )
    (folder / "load.yaml").write_text(
        f"format_version: 1\ntopic: load\ntitle: Load\ncards:\n{textwrap.indent(cards, '  ')}"
    )
    return folder


@pytest.mark.parametrize("attempt", range(3))  # each on a new database: both create it
def test_two_drills_at_once_keep_every_review(tmp_path, attempt):
    home = tmp_path / "home"
    bank = _big_bank(tmp_path / "bank", 60)
    env = environment(home)
    script = "\n4\n" * 60
    results: dict[int, subprocess.CompletedProcess] = {}
    start = threading.Barrier(2)

    def run(k: int) -> None:
        start.wait()
        results[k] = subprocess.run(
            [*cli(bank), "drill", "--new", "60"],
            input=script,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reported = 0
    for result in results.values():
        assert result.returncode == 0, result.stderr
        assert "locked" not in result.stderr + result.stdout
        assert "error" not in result.stderr
        count = next(line for line in result.stdout.splitlines() if "reviewed" in line)
        reported += int(count.strip("│ ").split()[-1].strip("│"))
    log = reviews(home)
    assert len(log) == reported >= 60  # every card once, some twice when both showed it
    assert {card for card, _, _ in log} == {f"load-{k:03d}" for k in range(60)}
    assert integrity(home) == "ok"


def test_a_piped_script_drives_a_drill_and_runs_a_proof(home):
    script = "\n".join(
        [
            "",  # reveal dx-bn-axes
            "p",  # run its proof inline
            "3",
            "a",  # dx-bn-params: wrong
            "",  # take the auto grade: Again
            "",
        ]
    )
    result = subprocess.run(
        [*cli(), "drill"], input=script, capture_output=True, text=True,
        env=environment(home), timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "PASS" in out and "bn_vs_ln" in out
    assert "claim" in out and "measured" in out and "expected" in out
    assert "✗ wrong" in out and "Again · next in 1m" in out
    assert "reviewed" in out  # end of input: a clean stop with the summary
    assert reviews(home) == [("dx-bn-axes", 3, 0), ("dx-bn-params", 1, 0)]


def test_torch_is_not_imported_on_the_way_to_the_first_card(home):
    """The drill's first card is drawn in a fresh process; torch must not be loaded."""
    code = textwrap.dedent(
        f"""
        import io, json, sys
        from quizcnn import cli, render
        seen = {{}}
        original = render.drill_card
        def spy(*args, **kwargs):
            seen.setdefault("card", args[1].card.id)
            seen.setdefault("torch", "torch" in sys.modules)
            return original(*args, **kwargs)
        render.drill_card = spy
        sys.stdin = io.StringIO("q\\n")
        sys.argv = ["quizcnn", "--no-builtin", "--bank", {str(FIXTURE_BANK)!r}, "drill"]
        cli.run()  # what the console script's main() runs before it exits
        seen["torch_at_exit"] = "torch" in sys.modules
        print("RESULT" + json.dumps(seen))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True,
        env=environment(home), timeout=60,
    )  # fmt: skip
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT"))
    seen = json.loads(line[len("RESULT") :])
    assert seen == {"card": "dx-bn-axes", "torch": False, "torch_at_exit": False}


def test_nothing_due_says_when_and_suggests_cram(home):
    env = environment(home)
    subprocess.run(
        [*cli(), "drill", "--new", "5"], input="\n4\n" * 5, capture_output=True, text=True,
        env=env, timeout=60, check=True,
    )  # fmt: skip
    result = subprocess.run(
        [*cli(), "drill"], input="", capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0
    assert "Nothing due now. The next card is due in" in result.stdout
    assert "quizcnn drill --cram" in result.stdout
    cram = subprocess.run(
        [*cli(), "drill", "--cram", "--limit", "2"], input="\n1\n\n1\n", capture_output=True,
        text=True, env=env, timeout=60,
    )  # fmt: skip
    assert cram.returncode == 0, cram.stderr
    assert "session (cram)" in cram.stdout and "cram: schedule unchanged" in cram.stdout
    assert [c for _, _, c in reviews(home)] == [0] * 5 + [1, 1]
