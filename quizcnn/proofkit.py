"""The proof contract: what a proof in demos/ declares, measures and returns.

A proof is a plain Python file with a module docstring (what it shows) and a
function ``run(proof: Proof) -> None``. Inside ``run`` it builds tensors on
``proof.device``, measures, and records each claim with one of ``close``,
``below``, ``above`` or ``holds``. It may add ``table``s and ``series`` for the
app to draw. Every claim is recorded whatever its outcome: a claim that does not
hold is reported as failed, never hidden.

The result model lives in ``quizcnn.results`` and the devices in
``quizcnn.devices``; this module imports torch only when a proof runs.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import Any

from quizcnn.results import (
    DEFAULT_SEED,
    Claim,
    ProofResult,
    Series,
    Table,
    describe_expected,
    format_measured,
)

# One CPU thread: the same reduction order on every machine, so the same
# numbers; the proofs are small enough that more threads buy nothing.
CPU_THREADS = 1


class Proof:
    """Collects claims while a proof runs. ``torch`` and ``device`` are ready to use."""

    def __init__(self, name: str, device: str = "cpu", seed: int = DEFAULT_SEED):
        import torch

        self.torch = torch
        self.name = name
        self.device = torch.device(device)
        self.seed = seed
        self.claims: list[Claim] = []
        self.tables: list[Table] = []
        self.series: list[Series] = []
        self.reseed()

    # -- set-up -----------------------------------------------------------
    def reseed(self, offset: int = 0) -> None:
        """Fix every generator the proof may touch (call again between experiments)."""
        import random

        import numpy as np

        random.seed(self.seed + offset)
        np.random.seed(self.seed + offset)
        self.torch.manual_seed(self.seed + offset)

    @property
    def float64(self):
        """float64 where the device has it; MPS has none, so exact claims there use float32."""
        return self.torch.float32 if self.device.type == "mps" else self.torch.float64

    # -- claims -----------------------------------------------------------
    def close(
        self, key: str, text: str, measured: Any, expected: float, tol: float, *, rel: bool = False
    ) -> bool:
        """Claim measured ≈ expected within tol (relative to |expected| when rel)."""
        m, e = _num(measured), float(expected)
        bound = tol * abs(e) if rel else tol
        ok = math.isfinite(m) and abs(m - e) <= bound
        return self._add(Claim(key, text, m, e, "≈", bound, ok))

    def below(self, key: str, text: str, measured: Any, bound: float) -> bool:
        m = _num(measured)
        return self._add(
            Claim(key, text, m, float(bound), "<", 0.0, math.isfinite(m) and m < bound)
        )

    def above(self, key: str, text: str, measured: Any, bound: float) -> bool:
        m = _num(measured)
        return self._add(
            Claim(key, text, m, float(bound), ">", 0.0, math.isfinite(m) and m > bound)
        )

    def holds(self, key: str, text: str, condition: Any, detail: str = "") -> bool:
        ok = bool(condition)
        return self._add(Claim(key, text, float(ok), 1.0, "is", 0.0, ok, detail))

    def _add(self, claim: Claim) -> bool:
        if any(c.key == claim.key for c in self.claims):
            raise ValueError(f"claim key {claim.key!r} used twice in {self.name}")
        self.claims.append(claim)
        return claim.passed

    # -- things to draw ---------------------------------------------------
    def table(self, title: str, columns: list[str], rows: list[list[Any]]) -> None:
        self.tables.append(Table(title, list(columns), [[_plain(v) for v in r] for r in rows]))

    def plot(
        self,
        title: str,
        x_label: str,
        y_label: str,
        x: list[Any],
        lines: dict[str, Any],
        *,
        log_y: bool = False,
    ) -> None:
        self.series.append(
            Series(
                title,
                x_label,
                y_label,
                [_plain(v) for v in x],
                {k: [_num(v) for v in vs] for k, vs in lines.items()},
                log_y,
            )
        )


def _num(value: Any) -> float:
    """A Python float from a float, a numpy scalar or a one-element tensor."""
    if hasattr(value, "item"):
        value = value.item()
    return float(value)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return value


def prepare_torch(device: str) -> None:
    """Pin what makes runs repeatable: CPU threads and cuDNN's algorithm choice."""
    import torch

    torch.set_num_threads(CPU_THREADS)
    if device.startswith("cuda"):
        torch.backends.cudnn.benchmark = False


def execute(
    name: str, title: str, run, device: str = "cpu", seed: int = DEFAULT_SEED
) -> ProofResult:
    """Run one proof function and collect its result; an exception becomes ``error``."""
    import torch

    prepare_torch(device)
    started = time.perf_counter()
    proof = Proof(name, device, seed)
    error = ""
    try:
        run(proof)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    except Exception as exc:  # a broken proof is reported, not raised at the user
        error = f"{type(exc).__name__}: {exc}"
    return ProofResult(
        name=name,
        title=title,
        device=str(proof.device),
        seed=seed,
        seconds=time.perf_counter() - started,
        torch_version=torch.__version__,
        claims=proof.claims,
        tables=proof.tables,
        series=proof.series,
        error=error,
    )


def main(run, doc: str | None) -> None:
    """Entry point of a proof run alone: ``python demos/NAME.py --device cpu --seed 0``."""
    import argparse  # only here: the app imports this module on every start

    from quizcnn.devices import DeviceError, resolve_device

    name = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    title = (doc or name).strip().splitlines()[0]
    parser = argparse.ArgumentParser(description=title)
    parser.add_argument(
        "--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto (default cpu)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    try:
        device = resolve_device(args.device)
    except DeviceError as exc:
        parser.exit(2, f"error: {exc}\n")
    result = execute(name, title, run, device, args.seed)
    try:
        _print_result(result, as_json=args.json)
    except BrokenPipeError:  # `... | head` closed the pipe: not an error of the proof
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(0 if result.passed else 1)


def _print_result(result: ProofResult, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
        return
    print(f"{result.title}  [{result.device}, seed {result.seed}, {result.seconds:.2f} s]")
    for c in result.claims:
        mark = "PASS" if c.passed else "FAIL"
        print(
            f"  {mark}  {c.text}: measured {format_measured(c.measured)}, expected {describe_expected(c)}"
        )
    if result.error:
        print(f"  ERROR  {result.error}")
    sys.stdout.flush()
