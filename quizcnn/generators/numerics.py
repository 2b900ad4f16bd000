"""Generators of the numerics topic: float spacing and rounding, format limits, checkpoint memory.

Pure Python: a binary floating-point format is described by its exponent and
stored-mantissa bit counts, and everything follows from those (IEEE 754 layout,
which bfloat16 and float8_e5m2 share):

- in the binade [2^E, 2^(E+1)) the spacing (one ulp) is 2^(E - m);
- machine epsilon is 2^-m, the largest finite value (2 - 2^-m) * 2^emax with
  emax = 2^(e-1) - 1, the smallest normal 2^(1 - emax), the smallest
  subnormal 2^(1 - emax - m);
- a value is stored as the nearest multiple of the spacing, ties to even.

Gradient checkpointing of an n-layer chain in k equal segments, all but the last
checkpointed (as torch.utils.checkpoint.checkpoint_sequential does), stores the
k - 1 segment inputs plus the last segment's n/k + 1 activations: k + n/k in
all, against n + 1 without checkpointing, smallest (2 * sqrt(n)) at
k = sqrt(n) (Chen et al. 2016); backward recomputes the n - n/k layers of the
checkpointed segments once more. Tests check each against torch.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from quizcnn.generators.drawn import Drawn


@dataclass(frozen=True)
class Format:
    name: str  # as torch spells the dtype
    exponent_bits: int
    mantissa_bits: int

    @property
    def emax(self) -> int:
        return 2 ** (self.exponent_bits - 1) - 1

    @property
    def eps(self) -> float:
        return 2.0**-self.mantissa_bits

    @property
    def max(self) -> float:
        return (2 - 2.0**-self.mantissa_bits) * 2.0**self.emax

    @property
    def tiny(self) -> float:
        return 2.0 ** (1 - self.emax)

    @property
    def smallest_subnormal(self) -> float:
        return 2.0 ** (1 - self.emax - self.mantissa_bits)


FLOAT16 = Format("float16", 5, 10)
BFLOAT16 = Format("bfloat16", 8, 7)
FLOAT32 = Format("float32", 8, 23)
FLOAT64 = Format("float64", 11, 52)
FLOAT8_E5M2 = Format("float8_e5m2", 5, 2)
FORMATS = {f.name: f for f in (FLOAT16, BFLOAT16, FLOAT32, FLOAT64, FLOAT8_E5M2)}


# -- the formulas (the tests check them against torch) ---------------------------


def spacing(value: float, fmt: Format) -> float:
    """The gap from a positive normal value to the next larger one: 2^(floor(log2 x) - m)."""
    exponent = math.frexp(value)[1] - 1  # value = f * 2^exponent with 1 <= f < 2
    return 2.0 ** (exponent - fmt.mantissa_bits)


def round_to_format(value: int, fmt: Format) -> float:
    """The nearest number of `fmt` to a positive integer in its normal range, ties to even."""
    step = Fraction(spacing(value, fmt))
    q = Fraction(value) / step
    r = math.floor(q)
    if q - r > Fraction(1, 2) or (q - r == Fraction(1, 2) and r % 2 == 1):
        r += 1
    return float(r * step)


def checkpoint_stored(n: int, k: int) -> int:
    """Activations stored after the forward pass: k - 1 segment inputs + (n/k + 1)."""
    return n + 1 if k <= 1 else k + n // k


def checkpoint_recomputed(n: int, k: int) -> int:
    """Layer forwards repeated in backward: every layer of the k - 1 checkpointed segments."""
    return 0 if k <= 1 else n - n // k


# -- the generators ---------------------------------------------------------------


def _representable_integer(rng: random.Random, fmt: Format, top: int) -> int:
    """A positive integer below `top` that `fmt` stores exactly (a multiple of its spacing)."""
    n = rng.randint(3, top)
    step = int(spacing(n, fmt)) if spacing(n, fmt) >= 1 else 1
    return max(step, n // step * step)


def _float_spacing(rng: random.Random) -> Drawn:
    fmt = rng.choice([FLOAT16, FLOAT16, FLOAT16, BFLOAT16, BFLOAT16, FLOAT32])
    top = {"float16": 60000, "bfloat16": 200000, "float32": 10**9}[fmt.name]
    if rng.random() < 0.5:
        x = _representable_integer(rng, fmt, top)
        gap = spacing(x, fmt)
        exponent = math.frexp(x)[1] - 1
        question = (
            f"{x} is stored exactly in {fmt.name}. What is the distance from it to the next "
            f"larger {fmt.name} number?"
        )
        working = (
            f"{x} lies in [2^{exponent}, 2^{exponent + 1}) = [{2**exponent}, {2 ** (exponent + 1)}); "
            f"{fmt.name} keeps {fmt.mantissa_bits} mantissa bits, so the spacing there is "
            f"2^({exponent} - {fmt.mantissa_bits}) = {gap:g}"
        )
        return Drawn(question, gap, 0.005 * gap, None, working)
    while True:
        n = rng.randint(3, top)
        if spacing(n, fmt) >= 2 and n % int(spacing(n, fmt)):  # rounding actually happens
            break
    stored = round_to_format(n, fmt)
    gap = spacing(n, fmt)
    exponent = math.frexp(n)[1] - 1
    question = (
        f"The integer {n} is converted to {fmt.name} (round to nearest). What value is stored?"
    )
    low, step = int(n // gap * gap), int(gap)
    nearer = (
        "exactly halfway, so the tie goes to the one with an even last mantissa bit"
        if 2 * (n - low) == step
        else "the nearer one is stored"
    )
    working = (
        f"{n} lies in [2^{exponent}, 2^{exponent + 1}), where {fmt.name}'s spacing is "
        f"2^({exponent} - {fmt.mantissa_bits}) = {step}; its neighbours are {low} and "
        f"{low + step}, {nearer}: {int(stored)}"
    )
    return Drawn(question, stored, 0.0, None, working)


_QUANTITIES = {
    "eps": ("machine epsilon (torch.finfo(...).eps)", "2^-m"),
    "max": ("largest finite value", "(2 - 2^-m) * 2^emax"),
    "tiny": ("smallest positive normal value (torch.finfo(...).tiny)", "2^(1 - emax)"),
    "smallest_subnormal": ("smallest positive subnormal value", "2^(1 - emax - m)"),
}


def _format_limits(rng: random.Random) -> Drawn:
    fmt = rng.choice([FLOAT16, FLOAT16, BFLOAT16, BFLOAT16, FLOAT32, FLOAT64, FLOAT8_E5M2])
    quantity = rng.choice(list(_QUANTITIES))
    if fmt.name == "float64" and quantity == "smallest_subnormal":
        quantity = "eps"
    what, formula = _QUANTITIES[quantity]
    value = getattr(fmt, quantity)
    question = (
        f"torch.{fmt.name} has 1 sign bit, {fmt.exponent_bits} exponent bits and "
        f"{fmt.mantissa_bits} stored mantissa bits. To 3 significant figures, what is its "
        f"{what}?"
    )
    working = (
        f"m = {fmt.mantissa_bits}, emax = 2^({fmt.exponent_bits} - 1) - 1 = {fmt.emax}; "
        f"{formula} = {value:.6g}"
    )
    return Drawn(question, value, 0.01 * value, None, working)


def _checkpoint_memory(rng: random.Random) -> Drawn:
    variant = rng.choice(["stored", "stored", "best", "recompute"])
    if variant == "best":
        root = rng.choice([3, 4, 5, 6, 7, 8, 10, 12, 16])
        n = root * root
        size = rng.choice([32, 64, 100, 128, 256])
        question = (
            f"A chain of {n} layers, each output activation {size} MB, is trained with "
            "gradient checkpointing in k equal segments, all but the last checkpointed "
            "(checkpoint_sequential). Stored activations are the k - 1 segment inputs plus "
            "the last segment's n/k + 1. With the best k, how many MB of activations does "
            "the forward pass store?"
        )
        value = 2 * root * size
        working = (
            f"k + n/k is smallest at k = sqrt(n) = {root}: {root} + {n}/{root} = {2 * root} "
            f"activations x {size} MB = {value} MB (without checkpointing: "
            f"{n + 1} x {size} = {(n + 1) * size} MB)"
        )
        return Drawn(question, float(value), 0.0, "MB", working)
    n = rng.choice([12, 16, 24, 32, 48, 64, 96, 120])
    k = rng.choice([d for d in range(2, n // 2 + 1) if n % d == 0 and d <= 12])
    if variant == "recompute":
        question = (
            f"A chain of {n} layers is run with torch.utils.checkpoint.checkpoint_sequential "
            f"in {k} segments (every segment but the last is checkpointed). How many layer "
            "forward calls does the backward pass repeat?"
        )
        value = checkpoint_recomputed(n, k)
        working = (
            f"each checkpointed segment is recomputed once: (k - 1) * n/k = "
            f"{k - 1} * {n // k} = {value} extra layer forwards, "
            f"{value / n:.2f} of a forward pass"
        )
        return Drawn(question, float(value), 0.0, None, working)
    size = rng.choice([16, 32, 50, 64, 128])
    value = checkpoint_stored(n, k) * size
    question = (
        f"A chain of {n} layers, each output activation {size} MB, is split into {k} equal "
        "segments and every segment but the last is checkpointed (checkpoint_sequential). "
        "How many MB of activations are stored for backward after the forward pass "
        "(count the input as one activation)?"
    )
    working = (
        f"k - 1 = {k - 1} segment input{'s' if k > 2 else ''} + the last segment's "
        f"n/k + 1 = {n // k + 1}: "
        f"{checkpoint_stored(n, k)} activations x {size} MB = {value} MB "
        f"(without checkpointing: {n + 1} x {size} = {(n + 1) * size} MB)"
    )
    return Drawn(question, float(value), 0.0, "MB", working)


GENERATORS: dict[str, Callable[[random.Random], Drawn]] = {
    "float_spacing": _float_spacing,
    "format_limits": _format_limits,
    "checkpoint_memory": _checkpoint_memory,
}
