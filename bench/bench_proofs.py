"""How long each proof takes on this CPU, as a ratio to `python -c "import torch"`.

Both are timed the same way, as fresh subprocesses of the same Python in the
same run, so the ratio is comparable across machines: a ratio of 2 means the
proof, run alone (`python demos/NAME.py --device cpu`), costs twice a bare torch
import. "in proof" is the time the proof reports for its own body (torch
already imported, one CPU thread). Target: every proof under 3 s, judged on its
own body ("in proof"), since the torch import is paid once per `proofs run`.

    python bench/bench_proofs.py                 # every proof
    python bench/bench_proofs.py bn_vs_ln -r 5   # one proof, median of 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMOS = ROOT / "demos"
TARGET_SECONDS = 3.0


def timed(command: list[str]) -> tuple[float, str]:
    """Wall time of one subprocess and its stdout; a failure stops the bench loudly."""
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):  # 1 = a claim failed: still a timing
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return seconds, done.stdout


def median_time(command: list[str], repeat: int) -> tuple[float, str]:
    runs = [timed(command) for _ in range(repeat)]
    return statistics.median(s for s, _ in runs), runs[-1][1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="proofs to time (default: all in demos/)")
    parser.add_argument("-r", "--repeat", type=int, default=1, help="runs per proof (median)")
    args = parser.parse_args()
    names = args.names or sorted(p.stem for p in DEMOS.glob("[a-z]*.py"))

    python = sys.executable
    timed([python, "-c", "import torch"])  # warm the file cache: the first import reads from disk
    baseline, _ = median_time([python, "-c", "import torch"], max(3, args.repeat))
    print(
        f'baseline: python -c "import torch" = {baseline:.2f} s (median of {max(3, args.repeat)})'
    )
    print(f"{'proof':28} {'seconds':>8} {'ratio':>6} {'in proof':>9}  verdict")
    slow = []
    for name in names:
        command = [python, str(DEMOS / f"{name}.py"), "--device", "cpu", "--json"]
        seconds, stdout = median_time(command, args.repeat)
        result = json.loads(stdout)
        verdict = "pass" if result["passed"] else "FAIL"
        flag = "" if result["seconds"] < TARGET_SECONDS else f"  over {TARGET_SECONDS:g} s"
        if flag:
            slow.append(name)
        print(
            f"{name:28} {seconds:8.2f} {seconds / baseline:6.2f} {result['seconds']:9.2f}"
            f"  {verdict}{flag}"
        )
    print(f"{len(names) - len(slow)}/{len(names)} proofs under {TARGET_SECONDS:g} s on this CPU")


if __name__ == "__main__":
    main()
