"""From the editor's exit to the verdict on screen, for the BatchNorm-forward code card.

Warm: the checker's child process is started when the card is shown (as the
drill does), and the user spends a few seconds in the editor; the clock starts
when the editor exits and stops when the report is drawn. Cold: no child is
pre-started, so the clock also pays for starting Python and importing torch.
Both are printed with the time of `python -c "import torch"` measured in the
same run, the floor a cold check cannot beat.

    python bench/bench_solve.py          # 7 rounds each, medians
    python bench/bench_solve.py -r 15 --think 2
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from quizcnn import render
from quizcnn.bank import load_bank
from quizcnn.runner import CheckRun

CARD = "code-bn-forward"


def verdict_on_screen(run: CheckRun, file: Path) -> float:
    """Seconds from now (the editor's exit) to the report drawn."""
    started = time.perf_counter()
    report = run.run(file)
    render.check_report(Console(file=io.StringIO(), width=100), report, 1)
    assert report.passed, report.to_dict()
    return time.perf_counter() - started


def time_torch_import() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--rounds", type=int, default=7)
    parser.add_argument("--think", type=float, default=4.0, help="seconds in the editor (warm)")
    args = parser.parse_args()
    card = load_bank().by_id[CARD]
    with tempfile.TemporaryDirectory(prefix="bench-solve-") as scratch:
        file = Path(scratch) / "attempt.py"
        file.write_text(card.solution, encoding="utf-8")
        verdict_on_screen(CheckRun(card), file)  # warm the file cache
        warm, cold, floor = [], [], []
        for _ in range(args.rounds):
            run = CheckRun(card).start()  # the card is shown: the child starts
            time.sleep(args.think)  # the user writes in the editor
            warm.append(verdict_on_screen(run, file))
            cold.append(verdict_on_screen(CheckRun(card), file))
            floor.append(time_torch_import())
    w, c, f = (statistics.median(x) for x in (warm, cold, floor))
    print(f"{CARD}, {args.rounds} rounds, medians (editor's exit -> verdict drawn):")
    print(
        f"  warm (child started with the card, {args.think:g} s in the editor): {w:.3f} s  (budget 0.5 s)"
    )
    print(f"  cold (no pre-start):                                   {c:.3f} s")
    print(f"  python -c 'import torch' alone:                        {f:.3f} s")
    print(f"  warm / cold: {w / c:.2f}x   cold / import floor: {c / f:.2f}x")


if __name__ == "__main__":
    main()
