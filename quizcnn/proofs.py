"""Find, load and run the proofs in demos/, and choose the device they run on.

A proof is named by its file: ``demos/bn_vs_ln.py`` is the proof ``bn_vs_ln``.
Only files in the shipped demos folder are ever loaded; a bank can name a proof
but never supply code. torch is imported only when a proof actually runs.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from quizcnn.paths import demos_dir
from quizcnn.proofkit import DEFAULT_SEED, ProofResult, execute

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
DEVICES = ("auto", "cpu", "cuda", "mps")


class ProofError(Exception):
    """A proof that cannot be found or loaded, or a device that is not there."""


@dataclass(frozen=True)
class ProofInfo:
    name: str
    title: str  # first line of the module docstring
    path: Path


def proof_names(directory: Path | None = None) -> set[str]:
    """The names of the proofs, from file names alone (cheap: for bank validation)."""
    directory = directory or demos_dir()
    return {p.stem for p in directory.glob("*.py") if NAME_RE.match(p.stem)}


def available(directory: Path | None = None) -> dict[str, ProofInfo]:
    """Every proof file, by name, read without importing (so without torch)."""
    directory = directory or demos_dir()
    found: dict[str, ProofInfo] = {}
    for path in sorted(directory.glob("*.py")):
        name = path.stem
        if not NAME_RE.match(name):
            continue  # helpers such as _common.py are not proofs
        found[name] = ProofInfo(name, _docstring_title(path), path)
    return found


def _docstring_title(path: Path) -> str:
    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    except (SyntaxError, UnicodeDecodeError):
        doc = None
    return (doc or path.stem).strip().splitlines()[0]


def load_run(info: ProofInfo) -> Callable:
    """Import a proof's module from its file and return its ``run`` function."""
    spec = importlib.util.spec_from_file_location(f"quizcnn_demo_{info.name}", info.path)
    if spec is None or spec.loader is None:
        raise ProofError(f"{info.path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ProofError(f"{info.path}: fails to import: {type(exc).__name__}: {exc}") from exc
    run = getattr(module, "run", None)
    if not callable(run):
        raise ProofError(f"{info.path}: defines no run(proof) function")
    return run


def resolve_device(requested: str) -> str:
    """auto -> cuda, then mps, then cpu. An absent device is a ProofError, never a crash."""
    if requested not in DEVICES and not requested.startswith("cuda:"):
        known = ", ".join([*DEVICES, "cuda:N"])
        raise ProofError(f"unknown device {requested!r}: use one of {known}")
    import torch

    has_cuda = torch.cuda.is_available()
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if requested == "auto":
        return "cuda" if has_cuda else "mps" if has_mps else "cpu"
    if requested.startswith("cuda"):
        if not has_cuda:
            raise ProofError(
                f"device {requested!r} is not available: this torch "
                f"({torch.__version__}) sees no CUDA GPU; use --device cpu"
            )
        index = int(requested.split(":", 1)[1]) if ":" in requested else 0
        if index >= torch.cuda.device_count():
            raise ProofError(
                f"device {requested!r} is not available: {torch.cuda.device_count()} CUDA GPU(s) seen"
            )
    if requested == "mps" and not has_mps:
        raise ProofError("device 'mps' is not available on this machine; use --device cpu")
    return requested


def run_proof(
    name: str,
    device: str = "cpu",
    seed: int = DEFAULT_SEED,
    directory: Path | None = None,
) -> ProofResult:
    """Run one proof by name on an already-resolved device."""
    proofs = available(directory)
    if name not in proofs:
        raise ProofError(f"no proof named {name!r} in {directory or demos_dir()}")
    info = proofs[name]
    return execute(info.name, info.title, load_run(info), device, seed)


def run_many(
    names: Iterable[str],
    device: str = "cpu",
    seed: int = DEFAULT_SEED,
    directory: Path | None = None,
) -> Iterator[ProofResult]:
    """Run proofs one after another, yielding each result as it completes."""
    for name in names:
        yield run_proof(name, device, seed, directory)
