"""The checker contract: how a code card's checker in demos/checkers/ tests a user's module.

A checker is a plain Python file with a module docstring (what it checks),
``FUNCTION`` (the name the user's module must define) and ``run(check, fn)``.
Inside ``run`` it draws seeded random inputs and edge cases, computes the torch
reference, and records each case with ``check.compare``: the user's function is
called there, its output compared with the reference at a stated tolerance,
and a classic mistake recognized when the output matches it instead (``mistakes``
maps a hint to what that mistake would have returned). ``check.untouched`` calls
the user's function on copies and fails the case if it changed one of them. The
first failing case is reported in full; every case is reported, passed or not.

Like proofkit, this module does not import torch at import time: the app reads
reports without it, and only the checker's child process pays for torch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_SEED = 0


@dataclass
class CaseResult:
    """One checked input: what went in, what was expected and what came back."""

    name: str
    passed: bool
    inputs: str  # a short description of the input (shapes, values, dtype)
    expected: str  # shape and a preview of the reference
    got: str  # shape and a preview of the user's output, or the error
    max_abs_error: float | None = None
    tolerance: str = ""
    hint: str = ""  # a recognized classic mistake, or what to look at


@dataclass
class CheckReport:
    """The verdict on one file: every case, or the one line that stopped the run."""

    card: str
    checker: str
    function: str
    cases: list[CaseResult] = field(default_factory=list)
    error: str = ""  # the file could not be checked at all (syntax, import, missing function...)
    seconds: float = 0.0
    time_limit_s: float = 0.0
    output: str = ""  # what the user's code printed (the start of it)
    output_bytes: int = 0

    @property
    def passed(self) -> bool:
        return not self.error and bool(self.cases) and all(c.passed for c in self.cases)

    @property
    def first_failure(self) -> CaseResult | None:
        return next((c for c in self.cases if not c.passed), None)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckReport:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values["cases"] = [CaseResult(**c) for c in data.get("cases", [])]
        return cls(**values)


class UserError(Exception):
    """The user's code raised: the message names its last frame in the user's file."""


class Check:
    """Collects cases while a checker runs; ``torch`` and ``np`` are ready to use."""

    def __init__(self, user_file: Path | str, seed: int = DEFAULT_SEED):
        import numpy as np
        import torch

        self.torch = torch
        self.np = np
        self.user_file = str(user_file)
        self.seed = seed
        self.cases: list[CaseResult] = []
        self.reseed()

    def reseed(self, offset: int = 0) -> None:
        import random

        random.seed(self.seed + offset)
        self.np.random.seed(self.seed + offset)
        self.torch.manual_seed(self.seed + offset)

    # -- cases -------------------------------------------------------------------

    def compare(
        self,
        name: str,
        call: Callable[[], Any],
        expected: Any,
        *,
        inputs: str,
        atol: float = 1e-6,
        rtol: float = 1e-5,
        mistakes: Mapping[str, Any] | None = None,
        hint: str = "",
    ) -> bool:
        """Call the user's code and compare its output with the reference, elementwise
        within atol + rtol·|expected|. A tuple output is compared item by item."""
        want = _arrays(expected)
        try:
            got = _arrays(call())
        except UserError as exc:
            return self._add(CaseResult(name, False, inputs, _describe(want), str(exc), hint=hint))
        except Exception as exc:  # the user's code raised: report where, in their file
            return self._add(
                CaseResult(name, False, inputs, _describe(want), self.user_error(exc), hint=hint)
            )
        problem, error = _mismatch(want, got, atol, rtol)
        tolerance = f"atol {atol:g}, rtol {rtol:g}"
        if problem is None:
            return self._add(
                CaseResult(name, True, inputs, _describe(want), _describe(got), error, tolerance)
            )
        recognized = _recognize(got, mistakes or {}, atol, rtol)
        return self._add(
            CaseResult(
                name,
                False,
                inputs,
                _describe(want),
                f"{_describe(got)} ({problem})",
                error,
                tolerance,
                recognized or hint,
            )
        )

    def untouched(self, fn: Callable, names: tuple[str, ...], inputs: tuple, **kwargs) -> Any:
        """``fn(*copies of inputs, **kwargs)`` for a ``compare`` call: a UserError (the case
        fails, naming the argument) if fn changed a copy, since every task says to leave
        the caller's arrays as they were. A None input is passed as None."""
        import copy

        given = [copy.deepcopy(a) for a in inputs]  # numpy arrays and torch tensors alike
        out = fn(*given, **kwargs)
        np = self.np
        for name, after, before in zip(names, given, inputs, strict=True):
            if before is not None and not np.array_equal(np.asarray(after), np.asarray(before)):
                raise UserError(
                    f"{name} was modified in place: leave the inputs as they were and "
                    "return new arrays"
                )
        return out

    def holds(
        self, name: str, condition: bool, *, inputs: str, expected: str, got: str, hint: str = ""
    ) -> bool:
        """A case that is a yes/no property (the user's state after a call, say)."""
        return self._add(CaseResult(name, bool(condition), inputs, expected, got, hint=hint))

    def _add(self, case: CaseResult) -> bool:
        self.cases.append(case)
        return case.passed

    def user_error(self, exc: BaseException) -> str:
        """'ValueError: ... (your file, line 12, in f: x = y[3])': the user's last frame."""
        import traceback

        frames = [
            f for f in traceback.extract_tb(exc.__traceback__) if f.filename == self.user_file
        ]
        where = ""
        if frames:
            last = frames[-1]
            code = f": {last.line.strip()}" if last.line else ""
            where = f" (your file, line {last.lineno}, in {last.name}{code})"
        return f"{type(exc).__name__}: {exc}{where}"


def _arrays(value: Any) -> list:
    """The output as a list of numpy arrays (tensors detached, tuples flattened)."""
    import numpy as np

    items = (
        list(value) if isinstance(value, (tuple, list)) and not _is_number_list(value) else [value]
    )
    out = []
    for item in items:
        if hasattr(item, "detach"):
            item = item.detach().cpu().numpy()
        try:
            out.append(np.asarray(item, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise UserError(
                f"returned {type(item).__name__}, which is not an array or number ({exc})"
            ) from None
    return out


def _is_number_list(value) -> bool:
    return bool(value) and all(isinstance(v, (int, float)) for v in value)


def _mismatch(want: list, got: list, atol: float, rtol: float) -> tuple[str | None, float | None]:
    """Why got differs from want (None if it does not), and the largest error."""
    import numpy as np

    if len(want) != len(got):
        return f"returned {len(got)} values, expected {len(want)}", None
    worst = 0.0
    for i, (w, g) in enumerate(zip(want, got, strict=True)):
        label = f"output {i}: " if len(want) > 1 else ""
        if w.shape != g.shape:
            return f"{label}shape {tuple(g.shape)}, expected {tuple(w.shape)}", None
        if not np.all(np.isfinite(g)) and np.all(np.isfinite(w)):
            return f"{label}contains inf or nan", None
        error = float(np.max(np.abs(w - g))) if w.size else 0.0
        worst = max(worst, error)
        if not np.allclose(g, w, atol=atol, rtol=rtol, equal_nan=True):
            return f"{label}max abs error {error:.3g}", worst
    return None, worst


def _recognize(got: list, mistakes: Mapping[str, Any], atol: float, rtol: float) -> str:
    """The hint of the first classic mistake whose output the user's output matches."""
    for hint, wrong in mistakes.items():
        try:
            if _mismatch(_arrays(wrong), got, max(atol, 1e-6), max(rtol, 1e-5))[0] is None:
                return hint
        except UserError:
            continue
    return ""


def _describe(arrays: list) -> str:
    parts = []
    for a in arrays:
        flat = a.reshape(-1)[:4]
        preview = ", ".join(f"{v:.4g}" for v in flat) + (", ..." if a.size > 4 else "")
        shape = f"shape {tuple(a.shape)}" if a.ndim else "scalar"
        parts.append(f"{shape} [{preview}]")
    return "; ".join(parts)


def finite(value: float) -> bool:
    return math.isfinite(value)


def execute(
    card: str,
    checker: str,
    module: Any,
    user_file: Path | str,
    load_user: Callable[[], Any],
    seed: int = DEFAULT_SEED,
) -> CheckReport:
    """Run one checker module's ``run`` on the user's module; nothing raises out."""
    function = getattr(module, "FUNCTION", "")
    report = CheckReport(card, checker, function)
    started = time.perf_counter()
    check = Check(user_file, seed)
    try:
        user = load_user()
        fn = getattr(user, function, None)
        if not callable(fn):
            report.error = f"your file defines no function {function}()"
        else:
            module.run(check, fn)
    except UserError as exc:
        report.error = str(exc)
    except SyntaxError as exc:
        report.error = f"syntax error in your file, line {exc.lineno}: {exc.msg}"
    except Exception as exc:  # importing the user's file raised
        report.error = check.user_error(exc)
    report.cases = check.cases
    report.seconds = time.perf_counter() - started
    return report
