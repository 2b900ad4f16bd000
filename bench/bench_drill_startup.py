"""Time from launching `quizcnn drill` to its first card on screen, as a ratio to
`python -c "import typer, rich, yaml, fsrs"` measured in the same run.

Both run as fresh processes, interleaved, in a pseudo-terminal (as a user sees
them); the drill's clock stops when the card's panel (its id) appears on the
terminal, the baseline's when the process exits. A fresh QUIZCNN_HOME holds a
database that already has reviews (the daily case, not the very first run).

    python bench/bench_drill_startup.py            # built-in bank, 15 rounds
    python bench/bench_drill_startup.py -r 25 --bank tests/fixtures/drillbank
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pexpect

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "import typer, rich, yaml, fsrs"


def quizcnn_command() -> list[str]:
    script = Path(sys.executable).with_name("quizcnn")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "quizcnn.cli"]


def time_baseline(env: dict) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", BASELINE], env=env, check=True)
    return time.perf_counter() - start


def time_first_card(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    child = pexpect.spawn(
        command[0], command[1:], env=env, encoding="utf-8", dimensions=(40, 120), timeout=30
    )
    child.expect("learning \\d+ · review \\d+ · new \\d+")  # the card panel's subtitle
    elapsed = time.perf_counter() - start
    child.sendline("q")
    child.expect(pexpect.EOF)
    child.close()
    return elapsed


def prepare_home(command: list[str], env: dict) -> None:
    """Grade a few cards so the database exists and has history (scripted drill)."""
    subprocess.run(
        [*command, "drill", "--new", "5"],
        input="\n3\n" * 5 + "q\n",
        env=env,
        text=True,
        capture_output=True,
        check=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--rounds", type=int, default=15)
    parser.add_argument("--bank", help="a --bank folder to use instead of the built-in bank")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="quizcnn-bench-"))
    env = {**os.environ, "QUIZCNN_HOME": str(home), "TERM": "xterm-256color"}
    env.pop("QUIZCNN_NOW", None)
    # as installed: bytecode cached (pip compiles typer, rich, ... at install time)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "quizcnn")], check=True)
    command = quizcnn_command()
    if args.bank:
        command += ["--no-builtin", "--bank", args.bank]
    try:
        prepare_home(command, env)
        drill = [*command, "drill"]
        time_baseline(env), time_first_card(drill, env)  # warm the file cache
        base, first = [], []
        for _ in range(args.rounds):
            base.append(time_baseline(env))
            first.append(time_first_card(drill, env))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    b, f = statistics.median(base), statistics.median(first)
    print(f"baseline  python -c {BASELINE!r}: median {1000 * b:.0f} ms ({args.rounds} runs)")
    print(f"quizcnn drill, launch to first card:           median {1000 * f:.0f} ms")
    print(f"ratio: {f / b:.2f}x  (target < 1.5x)")


if __name__ == "__main__":
    main()
