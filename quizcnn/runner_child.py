"""The child process that runs a user's code against a checker: ``python -m quizcnn.runner_child``.

It imports torch and the checker first, says it is ready (one byte on stdout),
then waits for one job on stdin (JSON: the card, the checker's path, the user's
file, the report's path, the limits). So a parent can start it while the card
is on screen and the verdict comes soon after the editor closes. Before the
user's code runs, the child caps its own memory (address space) and CPU time,
and sends whatever the code prints to a capped buffer, never to the terminal.
Started as ``python -m quizcnn.runner_child NAME PATH``, it loads that checker
before saying it is ready, and calls the checker's ``warm()`` if it has one.
One job per process: user code can leave any state behind.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import resource
import sys
from pathlib import Path

OUTPUT_KEPT = 2_000  # characters of the user's printed output kept in the report


class CappedOutput(io.TextIOBase):
    """A stdout that keeps the first characters and counts the rest."""

    def __init__(self, keep: int = OUTPUT_KEPT):
        self.kept: list[str] = []
        self.room = keep
        self.total = 0

    def write(self, text: str) -> int:
        self.total += len(text)
        if self.room > 0:
            self.kept.append(text[: self.room])
            self.room -= len(self.kept[-1])
        return len(text)

    def text(self) -> str:
        return "".join(self.kept)


def load_module(name: str, path: str):
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def limit_resources(memory_mb: int, cpu_s: int) -> None:
    """Address space: what torch already mapped plus the budget; CPU seconds. Hard
    limits too, so the user's code cannot lift them again."""
    with open("/proc/self/status", encoding="ascii") as status:
        size_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    cap = (size_kb * 1024) + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    used = resource.getrusage(resource.RUSAGE_SELF)  # importing torch already spent some
    spent = int(used.ru_utime + used.ru_stime) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (spent + cpu_s, spent + cpu_s + 1))


def main() -> None:
    import numpy  # noqa: F401 - warm: the user's code and the checker need them
    import torch

    from quizcnn import checkkit

    torch.set_num_threads(1)  # the same reduction order everywhere, as in proofs
    preloaded = None
    if len(sys.argv) > 2:  # the checker is known at start: load it (and warm it) now
        preloaded = load_module(f"quizcnn_checker_{sys.argv[1]}", sys.argv[2])
        warm = getattr(preloaded, "warm", None)
        if callable(warm):
            warm()  # e.g. the first torch.optim optimizer imports torch._dynamo (~1.5 s)
    ready = os.fdopen(os.dup(1), "wb", buffering=0)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # output written below Python's sys.stdout goes nowhere
    os.dup2(devnull, 2)
    ready.write(b"R")
    ready.close()
    job = json.loads(sys.stdin.readline() or "{}")
    if not job:
        return
    checker = preloaded or load_module(f"quizcnn_checker_{job['checker']}", job["checker_path"])
    output = CappedOutput()
    sys.stdout = sys.stderr = output
    if sys.platform.startswith("linux"):
        limit_resources(job["memory_mb"], int(job["time_limit_s"]) + 1)
    sys.path.insert(0, str(Path(job["file"]).parent))
    report = checkkit.execute(
        job["card"],
        job["checker"],
        checker,
        job["file"],
        lambda: load_module("quizcnn_attempt", job["file"]),
    )
    report.output, report.output_bytes = output.text(), output.total
    report.time_limit_s = job["time_limit_s"]
    Path(job["report"]).write_text(json.dumps(report.to_dict()), encoding="utf-8")


if __name__ == "__main__":
    main()
    # the report is written: skip the interpreter's teardown, which with torch loaded
    # takes longer than the whole check, so the verdict is not kept waiting for it
    os._exit(0)
