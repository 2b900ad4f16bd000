"""The result of a proof run: its claims, tables and series, and how they read.

Torch-free on purpose: render, the Anki export and the bank read results
without paying for torch; only running a proof (proofkit) imports it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_SEED = 0  # every proof's generators start here unless --seed says otherwise


@dataclass
class Claim:
    """One measured statement. ``op`` says how measured relates to expected."""

    key: str
    text: str
    measured: float
    expected: float
    op: str  # "≈" (|m-e| <= tolerance), "<", ">", or "is" (a boolean, 1.0 = true)
    tolerance: float = 0.0
    passed: bool = False
    detail: str = ""


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass
class Series:
    """Numbers to draw as bars, one bar per x label; several named lines allowed."""

    title: str
    x_label: str
    y_label: str
    x: list[Any]
    lines: dict[str, list[float]]
    log_y: bool = False


@dataclass
class ProofResult:
    name: str
    title: str
    device: str
    seed: int
    seconds: float
    torch_version: str
    claims: list[Claim] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    error: str = ""

    @property
    def passed(self) -> bool:
        return not self.error and bool(self.claims) and all(c.passed for c in self.claims)

    def claim(self, key: str) -> Claim:
        for c in self.claims:
            if c.key == key:
                return c
        raise KeyError(f"{self.name} has no claim {key!r}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["passed"] = self.passed
        return d


def format_measured(value: float) -> str:
    if value == 0 or (1e-3 <= abs(value) < 1e5):
        return f"{value:.6g}"
    return f"{value:.3e}"


def describe_expected(claim: Claim) -> str:
    if claim.op == "is":
        return "true"
    if claim.op == "≈":
        return f"{format_measured(claim.expected)} ± {claim.tolerance:.1e}"
    return f"{claim.op} {format_measured(claim.expected)}"
