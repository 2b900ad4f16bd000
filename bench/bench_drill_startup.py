"""Time from launching `quizcnn drill` to its first card on screen, as a ratio to
`python -c "import typer, rich, yaml, fsrs"` measured in the same run.

Both run as fresh processes, interleaved, in a pseudo-terminal (as a user sees
them); the drill's clock stops when the card's panel (its id) appears on the
terminal, the baseline's when the process exits. A fresh QUIZCNN_HOME holds a
database that already has reviews (the daily case, not the very first run).

    python bench/bench_drill_startup.py            # built-in bank, 15 rounds
    python bench/bench_drill_startup.py -r 25 --bank tests/fixtures/drillbank

It then prints where the time goes inside one process (imports, typer's
parsing, bank loading, the store, the first card), to show what a faster start
would have to remove.
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


BREAKDOWN = r"""
import sys, time
t0 = time.perf_counter()
marks = []
def mark(name):
    marks.append((name, time.perf_counter()))
import typer, rich, yaml, fsrs
mark("import typer, rich, yaml, fsrs (the baseline's imports)")
import quizcnn.bank
mark("import quizcnn.bank (+ proofs, proofkit)")
import quizcnn.render
mark("import quizcnn.render (rich.markdown, rich.progress, ...)")
import quizcnn.cli as cli
mark("import quizcnn.cli (the rest)")
import quizcnn.drill, quizcnn.store, quizcnn.schedule
mark("import quizcnn.drill, store, schedule")
load = cli.load_bank_cached
def timed_load(*args, **kwargs):
    mark("typer: build commands, parse argv")
    bank = load(*args, **kwargs)
    mark("load the bank (from its cache when unchanged)")
    return bank
cli.load_bank_cached = timed_load
start = quizcnn.drill.Drill.start
def timed_start(self):
    mark("open the store, settings, Drill()")
    events = start(self)
    mark("Drill.start(): queue, first card, grade previews")
    return events
quizcnn.drill.Drill.start = timed_start
draw = quizcnn.render.drill_card
def timed_draw(*args, **kwargs):
    draw(*args, **kwargs)
    mark("draw the first card")
    previous = t0
    for name, moment in marks:
        print(f"{1000 * (moment - previous):7.1f} ms  {name}", file=sys.stderr)
        previous = moment
    print(f"{1000 * (previous - t0):7.1f} ms  in all, after the interpreter started", file=sys.stderr)
    raise SystemExit(0)
quizcnn.render.drill_card = timed_draw
sys.argv = ["quizcnn", *sys.argv[1:]]
cli.app()
"""


def breakdown(command_args: list[str], env: dict, rounds: int = 5) -> None:
    """The in-process phases of the run with the median total."""
    runs = []
    for _ in range(rounds):
        done = subprocess.run(
            [sys.executable, "-c", BREAKDOWN, *command_args, "drill"],
            input="q\n",
            capture_output=True,
            text=True,
            env=env,
        )
        runs.append(done.stderr)
    runs.sort(key=lambda text: float(text.strip().splitlines()[-1].split()[0]))
    print("where the time goes (median run, in-process):")
    print(runs[len(runs) // 2].rstrip())


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
    bank_args = ["--no-builtin", "--bank", args.bank] if args.bank else []
    try:
        prepare_home(command, env)
        drill = [*command, "drill"]
        time_baseline(env), time_first_card(drill, env)  # warm the file cache
        base, first = [], []
        for _ in range(args.rounds):
            base.append(time_baseline(env))
            first.append(time_first_card(drill, env))
        b, f = statistics.median(base), statistics.median(first)
        print(f"baseline  python -c {BASELINE!r}: median {1000 * b:.0f} ms ({args.rounds} runs)")
        print(f"quizcnn drill, launch to first card:           median {1000 * f:.0f} ms")
        print(f"ratio: {f / b:.2f}x  (target < 1.5x)")
        print()
        breakdown(bank_args, env)
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
