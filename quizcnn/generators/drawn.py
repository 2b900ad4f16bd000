"""What a generator draws: a concrete question, its answer and the working."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Drawn:
    question: str  # the concrete question with the drawn numbers
    value: float  # the right answer
    tolerance: float
    unit: str | None
    working: str  # how the answer is computed, shown after grading
