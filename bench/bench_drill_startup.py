"""Time from launching `quizcnn drill` to its first card on screen, and to its exit at
end of input, as ratios to `python -c "import typer, rich, yaml, fsrs"` measured in
the same run and stopped at the same events.

Both run as fresh processes, interleaved, in the same kind of pseudo-terminal (as
a user sees them). First card: the drill's clock stops when the card's panel
appears; the baseline's when it prints a marker right after its imports (so
neither pays for interpreter teardown). End of input: both clocks stop when the
process has exited, teardown included on both sides; the drill is sent end of
input as soon as its first card shows. A fresh QUIZCNN_HOME holds a database that
already has reviews (the daily case, not the very first run).

The bare `quizcnn drill` (the daily command, and `make drill`) runs without typer
(quizcnn/entry.py); with --bank the command line has options, so it goes through
typer and measures that path instead.

    python bench/bench_drill_startup.py            # built-in bank, 15 rounds
    python bench/bench_drill_startup.py -r 25 --bank tests/fixtures/drillbank

It then prints where the time goes inside one process (imports, bank loading,
the store, the first card), to show what a faster start would have to remove.
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
MARKER = "baseline-imports-done"
CARD = "learning \\d+ · review \\d+ · new \\d+"  # the card panel's subtitle


def quizcnn_command() -> list[str]:
    script = Path(sys.executable).with_name("quizcnn")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "quizcnn.cli"]


def spawn(command: list[str], env: dict) -> pexpect.spawn:
    return pexpect.spawn(
        command[0], command[1:], env=env, encoding="utf-8", dimensions=(40, 120), timeout=30
    )


def time_baseline(env: dict) -> tuple[float, float]:
    """Seconds to the marker printed after the imports, and to the process's exit."""
    start = time.perf_counter()
    child = spawn([sys.executable, "-c", f"{BASELINE}; print({MARKER!r}, flush=True)"], env)
    child.expect(MARKER)
    ready = time.perf_counter() - start
    child.expect(pexpect.EOF)
    exited = time.perf_counter() - start
    child.close()
    return ready, exited


def time_drill(command: list[str], env: dict) -> tuple[float, float]:
    """Seconds to the first card on screen, and to the exit after end of input then."""
    start = time.perf_counter()
    child = spawn(command, env)
    child.expect(CARD)
    card = time.perf_counter() - start
    child.sendeof()
    child.expect(pexpect.EOF)
    exited = time.perf_counter() - start
    child.close()
    return card, exited


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
import rich.console
mark("import rich.console (the baseline has typer, rich, yaml, fsrs instead)")
import quizcnn.bank
mark("import quizcnn.bank (the card model)")
import quizcnn.render
mark("import quizcnn.render (rich.panel, ...)")
import quizcnn.cli_context, quizcnn.drill_screen, quizcnn.entry
mark("import quizcnn.cli_context, drill_screen, entry")
import quizcnn.drill, quizcnn.store, quizcnn.schedule
mark("import quizcnn.drill, store, schedule")
context = quizcnn.cli_context
load = context.load_bank_cached
def timed_load(*args, **kwargs):
    mark("parse argv (typer only when the drill has options)")
    bank = load(*args, **kwargs)
    mark("load the bank (from its cache when unchanged)")
    return bank
context.load_bank_cached = timed_load
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
quizcnn.entry.dispatch(sys.argv)
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
        time_baseline(env), time_drill(drill, env)  # warm the file cache
        base, drills = [], []
        for _ in range(args.rounds):
            base.append(time_baseline(env))
            drills.append(time_drill(drill, env))
        ready = statistics.median(b[0] for b in base)
        base_exit = statistics.median(b[1] for b in base)
        card = statistics.median(d[0] for d in drills)
        drill_exit = statistics.median(d[1] for d in drills)
        print(f"{args.rounds} interleaved runs each, medians:")
        print(
            f"  baseline {BASELINE!r}: imports done {1000 * ready:.0f} ms, exited {1000 * base_exit:.0f} ms"
        )
        print(
            f"  quizcnn drill: first card {1000 * card:.0f} ms, exited at end of input {1000 * drill_exit:.0f} ms"
        )
        # each drill against the baseline run just before it: a drift in the machine's
        # speed moves both sides of a pair alike
        first_card = statistics.median(d[0] / b[0] for b, d in zip(base, drills, strict=True))
        at_exit = statistics.median(d[1] / b[1] for b, d in zip(base, drills, strict=True))
        print(f"  first card / imports done: {first_card:.2f}x  (budget 1.25x; median of pairs)")
        print(f"  drill exit / baseline exit: {at_exit:.2f}x")
        print(
            f"  end of input costs {1000 * (drill_exit - card):.0f} ms after the first card, "
            f"the baseline's teardown {1000 * (base_exit - ready):.0f} ms"
        )
        print()
        breakdown(bank_args, env)
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
