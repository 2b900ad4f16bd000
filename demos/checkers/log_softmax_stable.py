"""log-softmax through log-sum-exp in numpy, stable for very negative and very positive logits

Checks ``log_softmax(z, axis=-1)`` against ``torch.log_softmax(z, dim=axis)`` in
float64 (atol 1e-10, rtol 1e-10). Cases, in order: small random logits (every
formula passes them), very negative logits (entries near −1000 next to small
ones: their probability underflows to 0, so log(softmax(z)) is −inf while the
right answer is about −1000; and a whole row near −1000, so the max must be taken
per row, not over the whole array), very positive logits (+1000: exp overflows
unless the max is subtracted; one row mixes +1000 and −1000, so shifting by the
mean is not enough), a row of equal values (−log C everywhere), a batch of
one, a 3-D input over axis 0 and over the middle axis. Shapes are non-square,
so a wrong axis never gives the right numbers.

Recognized mistakes: log(softmax(z)) (−inf where a probability underflows),
no max subtraction (log(inf) = inf, so −inf everywhere for large logits), the
max subtracted but not added back to the log-sum-exp (off by max(z)), and the
wrong axis.
"""

from __future__ import annotations

FUNCTION = "log_softmax"

# name, shape, axis, values
CASES = [
    ("random logits (4, 5), axis=-1", (4, 5), -1, "normal"),
    ("very negative logits (−1000), one whole row", (3, 4), -1, "negative"),
    ("very positive logits (+1000), one row ±1000", (3, 4), -1, "positive"),
    ("a row of equal values (ties)", (2, 6), -1, "ties"),
    ("batch of one (1, 7)", (1, 7), -1, "normal"),
    ("3-D input (2, 3, 4), axis=0", (2, 3, 4), 0, "normal"),
    ("3-D input (2, 3, 4), axis=1", (2, 3, 4), 1, "normal"),
]

LSE = "log_softmax(z) = z − m − log Σ exp(z − m), with m = max(z) along the axis"


def run(check, fn) -> None:
    np, torch = check.np, check.torch
    for k, (name, shape, axis, values) in enumerate(CASES):
        check.reseed(k)
        z = _logits(np, shape, values)
        expected = torch.log_softmax(torch.from_numpy(z.copy()), dim=axis).numpy()
        hint = ""
        if values == "negative":
            hint = f"a probability of e^-1000 underflows to 0 and its log is −inf: {LSE}"
        elif values == "positive":
            hint = f"exp(1000) overflows: {LSE}"
        check.compare(
            name,
            lambda z=z, axis=axis: fn(z.copy(), axis=axis),
            expected,
            inputs=f"z: {shape} float64 ({_describe(values)}); axis={axis}",
            atol=1e-10,
            rtol=1e-10,
            mistakes=_mistakes(np, z, axis),
            hint=hint,
        )


def _logits(np, shape, values):
    z = np.random.randn(*shape) * 2.0
    if values == "negative":
        z[:, 1:3] = -1000.0 + np.random.randn(shape[0], 2)  # next to small logits in column 0
        z[-1] = -1000.0 + np.random.randn(shape[1])  # a row far below the others: no global max
    elif values == "positive":
        z = 1000.0 + np.random.randn(*shape) * 3.0
        z[-1, 1::2] -= 2000.0  # +1000 next to −1000 in one row: no shift by the mean
    elif values == "ties":
        z[0, :] = -2.5
    return z


def _describe(values: str) -> str:
    return {
        "normal": "standard normal × 2",
        "negative": "columns 1-2 and the last row ≈ −1000, the rest standard normal × 2",
        "positive": "1000 + standard normal × 3, every other entry of the last row −1000",
        "ties": "row 0 all equal to −2.5",
    }[values]


def _mistakes(np, z, axis) -> dict:
    m = z.max(axis=axis, keepdims=True)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(z - m)
        log_of_softmax = np.log(e / e.sum(axis=axis, keepdims=True))
        no_max = z - np.log(np.exp(z).sum(axis=axis, keepdims=True))
    out = {
        f"this takes log(softmax(z)): a probability that underflows to 0 gives −inf. {LSE}": (
            log_of_softmax
        ),
        f"subtract the max before exp: exp(1000) is inf. {LSE}": no_max,
        f"the max was subtracted but not added back: log Σ exp(z) = m + log Σ exp(z − m). {LSE}": (
            z - np.log(e.sum(axis=axis, keepdims=True))
        ),
    }
    for other in range(z.ndim):
        if other != axis % z.ndim:
            mo = z.max(axis=other, keepdims=True)
            out[f"this normalizes over axis {other}, not along axis={axis}"] = (
                z - mo - np.log(np.exp(z - mo).sum(axis=other, keepdims=True))
            )
    return out
