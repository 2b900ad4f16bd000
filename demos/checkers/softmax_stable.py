"""A numerically stable softmax in numpy, over any axis

Checks ``softmax(z, axis=-1)`` against ``torch.softmax(z, dim=axis)`` in
float64 (rtol 1e-10): small random logits first (a naive softmax passes them),
then logits of ±1000, where exp overflows to inf (and a row of only −1000
underflows to 0/0), a row of equal values (ties: every entry 1/C), a batch of
one, a 3-D input over its last axis and over axis 0, and float32 logits.
Every shape is non-square, so normalizing over the wrong axis gives the wrong
numbers or an error, never the right answer by chance. Every case also checks
that z is unchanged afterwards (the task says to leave it so).

Recognized mistakes: no max subtraction (inf/inf = nan on large logits), the
max taken over the whole array instead of along the axis, normalizing over the
wrong axis (or ignoring ``axis`` and always using the last one).
"""

from __future__ import annotations

FUNCTION = "softmax"

# name, shape, axis, values
CASES = [
    ("random logits (4, 5), axis=-1", (4, 5), -1, "normal"),
    ("large logits (±1000)", (3, 5), -1, "large"),
    ("a row of equal values (ties)", (3, 4), -1, "ties"),
    ("batch of one (1, 7)", (1, 7), -1, "normal"),
    ("3-D input (2, 3, 4), axis=-1", (2, 3, 4), -1, "normal"),
    ("3-D input (2, 3, 4), axis=0", (2, 3, 4), 0, "normal"),
    ("float32 logits (6, 3)", (6, 3), -1, "float32"),
]

LARGE_HINT = (
    "subtract the max along the axis first: exp(z − max) never overflows, and "
    "softmax(z − c) = softmax(z) for any constant c"
)


def run(check, fn) -> None:
    np, torch = check.np, check.torch
    for k, (name, shape, axis, values) in enumerate(CASES):
        check.reseed(k)
        z = _logits(np, shape, values)
        expected = torch.softmax(torch.from_numpy(z.copy()), dim=axis).numpy()
        check.compare(
            name,
            lambda z=z, axis=axis: check.untouched(fn, ("z",), (z,), axis=axis),
            expected,
            inputs=f"z: {shape} {z.dtype} ({_describe(values)}); axis={axis}",
            atol=1e-6 if values == "float32" else 1e-12,
            rtol=1e-5 if values == "float32" else 1e-10,
            mistakes=_mistakes(np, z, axis),
            hint=LARGE_HINT if values == "large" else "",
        )


def _logits(np, shape, values):
    if values == "large":
        z = np.random.uniform(-1000.0, 1000.0, size=shape)
        z[0, :2] = 1000.0  # exp(1000) = inf
        z[1, :] = -1000.0 - np.arange(shape[1])  # a row where every exp underflows to 0
        return z
    if values == "ties":
        z = np.random.randn(*shape)
        z[1, :] = 3.0
        return z
    z = np.random.randn(*shape) * 2.0
    return z.astype(np.float32) if values == "float32" else z


def _describe(values: str) -> str:
    return {
        "normal": "standard normal × 2",
        "large": "uniform in ±1000, one row all ≈ −1000",
        "ties": "row 1 all equal to 3",
        "float32": "standard normal × 2, float32",
    }[values]


def _mistakes(np, z, axis) -> dict:
    z = z.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        naive = np.exp(z) / np.exp(z).sum(axis=axis, keepdims=True)
        global_max = np.exp(z - z.max()) / np.exp(z - z.max()).sum(axis=axis, keepdims=True)
    out = {
        LARGE_HINT + " (this computes exp(z) directly: inf/inf = nan)": naive,
        "take the max along the axis (keepdims=True), not over the whole array: a row far "
        "below the global max underflows to 0/0": global_max,
    }
    for other in range(z.ndim):
        if other != axis % z.ndim:
            e = np.exp(z - z.max(axis=other, keepdims=True))
            out[
                f"this normalizes over axis {other}: softmax must sum to 1 along axis={axis} "
                "(use z.max(axis=axis, keepdims=True) and .sum(axis=axis, keepdims=True))"
            ] = e / e.sum(axis=other, keepdims=True)
    return out
