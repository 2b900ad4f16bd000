"""The console script: the bare `quizcnn drill` runs the drill without typer, and is
the same drill that `quizcnn drill` through typer runs."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pexpect
import pytest
from typer.testing import CliRunner

from quizcnn import cli, drill_screen, entry
from quizcnn.cli_context import GlobalOptions
from quizcnn.drill_screen import DrillRequest

FIXTURE_BANK = Path(__file__).parent / "fixtures" / "drillbank"
NOW = "2026-03-02T10:00:00Z"


def environment(home: Path) -> dict[str, str]:
    env = {**os.environ, "QUIZCNN_HOME": str(home), "TZ": "UTC", "QUIZCNN_NOW": NOW}
    env["TERM"] = "dumb"
    env["QUIZCNN_BANK"] = str(FIXTURE_BANK)  # the bare drill has no --bank: the variable
    env.pop("QUIZCNN_LANG", None)
    return env


def test_the_bare_drill_is_the_drill_typer_runs_with_no_options(monkeypatch):
    calls: list[tuple] = []

    def record(config, request):
        calls.append((config, request))

    monkeypatch.setattr(cli, "run_drill", record)
    monkeypatch.setattr(drill_screen, "run_drill", record)
    assert CliRunner().invoke(cli.app, ["drill"]).exit_code == 0
    entry.dispatch(["quizcnn", "drill"])
    through_typer, bare = calls
    assert through_typer == bare == (GlobalOptions(), DrillRequest())
    # and any option at all goes through typer
    assert CliRunner().invoke(cli.app, ["drill", "--new", "3"]).exit_code == 0
    assert calls[-1][1] == DrillRequest(new=3)


def test_only_the_bare_drill_skips_typer(monkeypatch):
    ran: list[str] = []
    monkeypatch.setattr(drill_screen, "run_drill", lambda config, request: ran.append("bare"))
    monkeypatch.setattr(cli, "app_for", lambda argv: lambda: ran.append(" ".join(argv[1:])))
    for argv in (["drill"], ["drill", "--cram"], ["--lang", "zh", "drill"], ["list"], []):
        entry.dispatch(["quizcnn", *argv])
    assert ran == ["bare", "drill --cram", "--lang zh drill", "list", ""]


def test_the_bare_drill_loads_neither_typer_nor_yaml_nor_torch(tmp_path):
    """With the bank cache fresh; the collector is off until the first card is up."""
    home = tmp_path / "home"
    env = environment(home)
    first = subprocess.run(
        [sys.executable, "-m", "quizcnn", "drill"], input="q\n", env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr  # builds the cache (YAML once)
    code = textwrap.dedent(
        """
        import gc, io, json, sys
        from quizcnn import entry, render
        from quizcnn.cli_context import guarded
        seen = {}
        original = render.drill_card
        def spy(*args, **kwargs):
            seen.setdefault("modules", sorted({"typer", "yaml", "torch"} & set(sys.modules)))
            seen.setdefault("collecting", gc.isenabled())
            return original(*args, **kwargs)
        render.drill_card = spy
        sys.stdin = io.StringIO("q\\n")
        code = guarded(lambda: entry.dispatch(["quizcnn", "drill"]))
        seen["collecting_after"] = gc.isenabled()
        print("RESULT" + json.dumps(seen))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT"))
    assert json.loads(line[len("RESULT") :]) == {
        "modules": [],
        "collecting": False,
        "collecting_after": True,
    }


@pytest.mark.slow
def test_the_console_script_runs_a_bare_drill_in_a_terminal(tmp_path):
    home = tmp_path / "home"
    script = Path(sys.executable).with_name("quizcnn")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "quizcnn"]
    child = pexpect.spawn(
        command[0], [*command[1:], "drill"], env=environment(home), encoding="utf-8",
        dimensions=(50, 100), timeout=30,
    )  # fmt: skip
    child.expect(r"learning \d+ · review \d+ · new \d+")
    child.expect("\r\n> ")
    child.sendline("")  # reveal: the answer and its key points
    child.expect("key points")
    child.expect("\r\n> ")
    child.sendline("a")  # every point said
    child.expect(r"(\d)/\1 key points")
    child.expect("\r\n> ")
    child.sendline("")  # to the grades
    child.expect("3 Good")
    child.expect("\r\n> ")
    child.sendline("3")
    child.expect("Good")
    child.expect("\r\n> ")
    child.sendline("q")
    child.expect("reviewed")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    conn = sqlite3.connect(home / "quizcnn.db")
    try:
        assert conn.execute("SELECT rating FROM review_log").fetchall() == [(3,)]
    finally:
        conn.close()


def test_the_bare_drill_reads_the_lang_setting_from_its_own_database(tmp_path):
    home = tmp_path / "home"
    env = environment(home)

    def quizcnn(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "quizcnn", *args], input=stdin, env=env,
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    english = quizcnn("drill", stdin="q\n")
    assert quizcnn("settings", "lang", "zh").returncode == 0
    chinese = quizcnn("drill", stdin="q\n")
    assert english.returncode == chinese.returncode == 0, chinese.stderr
    panel = [line for line in chinese.stdout.splitlines() if line.startswith("│")]
    assert any("\u4e00" <= ch <= "\u9fff" for line in panel for ch in line)  # the card in Chinese
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in english.stdout)
