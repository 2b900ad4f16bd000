"""Find, load and run the proofs in demos/.

A proof is named by its file: ``demos/bn_vs_ln.py`` is the proof ``bn_vs_ln``.
Only files in the shipped demos folder are ever loaded; a bank can name a proof
but never supply code. torch is imported only when a proof actually runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from quizcnn.paths import checkers_dir, demos_dir
from quizcnn.results import DEFAULT_SEED, ProofResult
from quizcnn.suggest import did_you_mean

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class ProofError(Exception):
    """A proof that cannot be found or loaded."""


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


def checker_names(directory: Path | None = None) -> set[str]:
    """The names of the code-card checkers, from file names alone."""
    directory = directory or checkers_dir()
    return {p.stem for p in directory.glob("*.py") if NAME_RE.match(p.stem)}


def checker_path(name: str, directory: Path | None = None) -> Path:
    """The checker's file; ProofError when the shipped folder has none of that name."""
    if not NAME_RE.match(name) or name not in checker_names(directory):
        raise ProofError(f"no checker named {name!r} in {directory or checkers_dir()}")
    return (directory or checkers_dir()) / f"{name}.py"


def proof_titles(directory: Path | None = None) -> dict[str, str]:
    """Each proof's title by name, read once per folder and process."""
    directory = (directory or demos_dir()).resolve()
    if directory not in _TITLES:
        _TITLES[directory] = {name: info.title for name, info in available(directory).items()}
    return _TITLES[directory]


_TITLES: dict[Path, dict[str, str]] = {}


def check_names(names: Iterable[str], directory: Path | None = None) -> None:
    """ProofError for the first name that is no proof, with the closest names."""
    known = available(directory)
    for name in names:
        if name not in known:
            hint = did_you_mean(name, known) or "; see `quizcnn proofs`"
            raise ProofError(f"no proof named {name!r}{hint}")


def _docstring_title(path: Path) -> str:
    import ast

    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    except (SyntaxError, UnicodeDecodeError):
        doc = None
    return (doc or path.stem).strip().splitlines()[0]


def load_run(info: ProofInfo) -> Callable:
    """Import a proof's module from its file and return its ``run`` function."""
    import importlib.util
    import sys

    folder = str(info.path.parent)
    if folder not in sys.path:  # a proof imports what proofs share from demos/_common.py
        sys.path.append(folder)

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


def run_proof(
    name: str,
    device: str = "cpu",
    seed: int = DEFAULT_SEED,
    directory: Path | None = None,
) -> ProofResult:
    """Run one proof by name on an already-resolved device."""
    from quizcnn.proofkit import execute  # torch is imported by the proof, from here on

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
