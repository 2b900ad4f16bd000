"""Binary cross-entropy on logits in numpy, stable at |z| = 100 and 1000, soft targets included

Checks ``bce_with_logits(z, y)`` -> the mean loss, against
``torch.nn.functional.binary_cross_entropy_with_logits`` (mean reduction) in
float64 (atol 1e-10, rtol 1e-10; float32: 1e-5). Cases: random logits with
0/1 targets, a 2-D multi-label batch with soft targets in [0, 1], logits of
±100 (sigmoid rounds to exactly 0 or 1 there, so log(sigmoid) breaks), logits
of ±1000 (exp(1000) overflows, so log(1 + exp(z)) breaks), zero logits (ln 2
per element), a batch of one with a soft target, and float32 logits of ±100
(exp(100) overflows float32).

Recognized mistakes: sigmoid then log (nan or inf at |z| = 100),
log(1 + exp(z)) − z·y without the stable form (inf at z = 1000), the sum
instead of the mean, the targets swapped (y and 1 − y), and the stable form
without its max(z, 0) term.
"""

from __future__ import annotations

FUNCTION = "bce_with_logits"

# name, shape, logits, targets
CASES = [
    ("random logits, 0/1 targets (16,)", (16,), "normal", "hard"),
    ("multi-label (4, 6), soft targets", (4, 6), "normal", "soft"),
    ("large logits (z = ±100)", (8,), "100", "mixed"),
    ("very large logits (z = ±1000)", (8,), "1000", "mixed"),
    ("zero logits (ln 2 each)", (3, 5), "zero", "hard"),
    ("batch of one, soft target", (1,), "normal", "soft"),
    ("float32 logits (z = ±100)", (8,), "100-float32", "mixed"),
]

STABLE = "max(z, 0) − z·y + log(1 + exp(−|z|))"
HINTS = {
    "100": "sigmoid(±100) rounds to exactly 1 or 0 and log(0) = −inf: compute the loss from "
    f"z itself, {STABLE}",
    "1000": f"exp(1000) overflows to inf: use the stable form {STABLE}, whose exp never sees "
    "a positive argument",
    "100-float32": f"exp(100) overflows float32: use the stable form {STABLE}",
}


def run(check, fn) -> None:
    np, torch = check.np, check.torch
    for k, (name, shape, logits, targets) in enumerate(CASES):
        check.reseed(k)
        z, y = _inputs(np, shape, logits, targets)
        expected = torch.nn.functional.binary_cross_entropy_with_logits(
            torch.from_numpy(z.copy()), torch.from_numpy(y.copy())
        ).numpy()
        single = z.dtype == np.float32
        check.compare(
            name,
            lambda z=z, y=y: fn(z.copy(), y.copy()),
            expected,
            inputs=f"z: {shape} {z.dtype} ({logits}); y: {targets} targets {_preview(y)}",
            atol=1e-5 if single else 1e-10,
            rtol=1e-5 if single else 1e-10,
            mistakes=_mistakes(np, z.astype(np.float64), y.astype(np.float64)),
            hint=HINTS.get(logits, ""),
        )


def _inputs(np, shape, logits, targets):
    if logits == "zero":
        z = np.zeros(shape)
    elif logits.startswith(("100", "1000")):
        big = 1000.0 if logits == "1000" else 100.0
        z = big * np.array([1, -1, 1, -1, 1, -1, 0.5, -0.5])
    else:
        z = np.random.randn(*shape) * 2.0
    if targets == "hard":
        y = (np.random.rand(*shape) < 0.5).astype(np.float64)
    elif targets == "soft":
        y = np.random.rand(*shape)
    else:  # each sign of z with y = 1, y = 0 and a soft y
        y = np.array([1.0, 0.0, 0.0, 1.0, 0.3, 0.7, 0.9, 0.2])
    if logits.endswith("float32"):
        return z.astype(np.float32), y.astype(np.float32)
    return z, y


def _preview(y) -> str:
    values = ", ".join(f"{v:.2g}" for v in y.reshape(-1)[:8])
    return f"[{values}{', ...' if y.size > 8 else ''}]"


def _mistakes(np, z, y) -> dict:
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        p = 1.0 / (1.0 + np.exp(-z))
        naive = np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)))
        unstable = np.mean(np.log(1 + np.exp(z)) - z * y)
    stable = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    swapped = np.maximum(z, 0) - z * (1 - y) + np.log1p(np.exp(-np.abs(z)))
    return {
        f"sigmoid then log breaks where sigmoid rounds to 0 or 1: use {STABLE}": naive,
        f"log(1 + exp(z)) overflows for large z: use {STABLE}": unstable,
        "this is the sum over elements: binary_cross_entropy_with_logits averages (mean "
        "reduction)": stable.sum(),
        "y and 1 − y are swapped: the loss is −[y·log σ(z) + (1 − y)·log(1 − σ(z))], "
        "which is max(z, 0) − z·y + log(1 + exp(−|z|))": swapped.mean(),
        f"the max(z, 0) term is missing: the stable form is {STABLE}": (
            -z * y + np.log1p(np.exp(-np.abs(z)))
        ).mean(),
    }
