"""Inverted dropout in numpy: the mask, the 1/(1 − p) scaling in training, the identity in eval

Checks ``dropout(x, p=0.5, training=True, rng=None)``, where the task fixes the
mask as ``rng.random(x.shape) >= p`` (one call on a numpy Generator), so the
checker draws the same mask from an identically seeded Generator. Expected, as
in ``torch.nn.functional.dropout``: in training, each element kept with
probability 1 − p and the survivors multiplied by 1/(1 − p) (the factor is read
off F.dropout on a tensor of ones); in eval, x unchanged. Cases: p = 0.5 and
0.2, a 4-D input, ones (every survivor equals 1/(1 − p)), p = 0 (the identity
even in training), p = 0.95, eval at p = 0.5 and 0.95, and the input left
unmodified. Tolerance rtol 1e-12 (float64).

Recognized mistakes: scaling at test time instead (the original, non-inverted
dropout: no factor in training, × (1 − p) in eval), scaling in eval as well,
keeping with probability p instead of 1 − p, no scaling at all, × (1 − p)
instead of ÷ (1 − p), and the mask applied in eval mode too.
"""

from __future__ import annotations

FUNCTION = "dropout"

# name, shape, p, training, values
CASES = [
    ("training, p=0.5, (8, 16)", (8, 16), 0.5, True, "normal"),
    ("training, p=0.2, (2, 3, 5, 5)", (2, 3, 5, 5), 0.2, True, "normal"),
    ("training, x of ones (survivors equal 1/(1 − p)), p=0.3", (10, 10), 0.3, True, "ones"),
    ("eval, p=0.5 (the identity)", (8, 16), 0.5, False, "normal"),
    ("training, p=0 (the identity)", (6, 7), 0.0, True, "normal"),
    ("training, p=0.95 (few survivors, ×20)", (20, 50), 0.95, True, "normal"),
    ("eval, p=0.95 (the identity)", (20, 50), 0.95, False, "normal"),
]


def run(check, fn) -> None:
    np, torch = check.np, check.torch
    for k, (name, shape, p, training, values) in enumerate(CASES):
        check.reseed(k)
        x = np.ones(shape) if values == "ones" else np.random.randn(*shape)
        seed = 1000 + k
        keep = np.random.default_rng(seed).random(shape) >= p
        scale = _torch_scale(torch, p)
        expected = np.where(keep, x * scale, 0.0) if training else x.copy()
        check.compare(
            name,
            lambda x=x, p=p, training=training, seed=seed: fn(
                x.copy(), p, training=training, rng=np.random.default_rng(seed)
            ),
            expected,
            inputs=(
                f"x: {shape} float64 ({values}); p={p}; training={training}; "
                f"rng=np.random.default_rng({seed})"
            ),
            atol=1e-12,
            rtol=1e-12,
            mistakes=_mistakes(np, x, p, training, seed),
        )
    check.reseed(len(CASES))
    x = np.random.randn(5, 5)
    before = x.copy()
    error = ""
    try:
        fn(x, 0.5, training=True, rng=np.random.default_rng(0))
    except Exception as exc:  # reported by the cases above already; here only x matters
        error = f" (the call raised {type(exc).__name__})"
    check.holds(
        "x is left unchanged",
        bool(np.array_equal(x, before)),
        inputs="x: (5, 5) float64; p=0.5; training=True",
        expected="x unchanged after the call",
        got=("unchanged" if np.array_equal(x, before) else "x was modified in place") + error,
        hint="return a new array (x * mask / (1 − p)); do not write into x",
    )


def _torch_scale(torch, p: float) -> float:
    """What F.dropout multiplies a survivor by: measured on ones, 1/(1 − p)."""
    if p == 0.0:
        return 1.0
    torch.manual_seed(0)
    out = torch.nn.functional.dropout(torch.ones(4096, dtype=torch.float64), p, training=True)
    return float(out.max())


def _mistakes(np, x, p, training, seed) -> dict:
    u = np.random.default_rng(seed).random(x.shape)
    keep = u >= p
    if not training:
        return {
            "this scales at test time: with inverted dropout the 1/(1 − p) factor is applied "
            "in training, and eval returns x unchanged": x * (1 - p),
            "eval mode must return x unchanged: the 1/(1 − p) factor belongs to training only": x
            / (1 - p),
            "the mask is applied in eval mode: when training is False, return x (no mask, "
            "no scaling)": np.where(keep, x / (1 - p), 0.0),
        }
    out = {
        "the survivors are not scaled: inverted dropout multiplies them by 1/(1 − p) in "
        "training (the original dropout scaled at test time instead)": np.where(keep, x, 0.0),
        "this multiplies by (1 − p): inverted dropout DIVIDES the survivors by 1 − p": np.where(
            keep, x * (1 - p), 0.0
        ),
    }
    if p > 0:
        out[
            "this keeps an element with probability p: p is the probability of DROPPING, "
            "keep where rng.random(x.shape) >= p and divide by 1 − p"
        ] = np.where(~keep, x / (1 - p), 0.0)
        out[
            "this keeps an element with probability p: p is the probability of DROPPING, "
            "keep where rng.random(x.shape) >= p and divide by 1 − p (not by p)"
        ] = np.where(~keep, x / p, 0.0)
    return out
