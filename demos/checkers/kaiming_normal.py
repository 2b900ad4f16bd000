"""Kaiming (He) normal initialization in numpy: fan, gain and the normal shape

Checks ``kaiming_normal(shape, rng, mode="fan_in", nonlinearity="relu")`` on
large linear and conv shapes. The expected standard deviation is
``torch.nn.init.kaiming_normal_``'s gain / √fan, with the fan and gain computed
by torch's own helpers (``_calculate_fan_in_and_fan_out``: fan_in = shape[1]·
receptive field, fan_out = shape[0]·receptive field, the receptive field being
the product of shape[2:]; ``calculate_gain``: √2 for relu, 1 for linear, 5/3
for tanh). The outputs are random, so each case is statistical: the sample
standard deviation of each draw must lie within 5 standard errors (σ/√(2n)) of
gain/√fan; on one large draw, the mean within 5 standard errors (σ/√n) of 0 and
the kurtosis within 5 standard errors (√(24/n)) of 3, the normal's (a uniform
has 1.8). A right solution fails a case with probability below 1e-5. Last, two
calls with identically seeded Generators must return the same array, and a
differently seeded one another: the draw comes from the rng passed in.

Recognized mistakes: the fan without the receptive field (shape[1] alone on a
conv weight), gain 1 instead of √2 (or √2 on a linear layer), fan_in and fan_out
swapped, the variance used as the standard deviation, a uniform draw (caught by
the kurtosis), and a draw from numpy's global generator instead of rng.
"""

from __future__ import annotations

import math

FUNCTION = "kaiming_normal"

# name, shape, mode, nonlinearity
CASES = [
    ("linear (512, 128), fan_in, relu", (512, 128), "fan_in", "relu"),
    ("conv (64, 32, 3, 3), fan_in, relu", (64, 32, 3, 3), "fan_in", "relu"),
    ("conv (128, 16, 5, 5), fan_out, relu", (128, 16, 5, 5), "fan_out", "relu"),
    ("linear (300, 700), fan_out, relu", (300, 700), "fan_out", "relu"),
    ("conv (32, 64, 1, 1) pointwise, fan_in, linear", (32, 64, 1, 1), "fan_in", "linear"),
    ("conv (64, 48, 3, 3), fan_in, tanh", (64, 48, 3, 3), "fan_in", "tanh"),
]
LARGE = (256, 128, 3, 3)  # the draw whose mean and kurtosis are checked


def run(check, fn) -> None:
    np, torch = check.np, check.torch
    for k, (name, shape, mode, nonlinearity) in enumerate(CASES):
        check.reseed(k)
        std, fans, gain = _torch_std(torch, shape, mode, nonlinearity)
        n = math.prod(shape)
        se_std = std / math.sqrt(2 * n)
        inputs = (
            f"shape={shape}, mode={mode!r}, nonlinearity={nonlinearity!r}, "
            f"rng=np.random.default_rng({100 + k}); torch: fan_in={fans[0]}, "
            f"fan_out={fans[1]}, gain={gain:.4g}"
        )
        check.compare(
            f"{name}: std",
            lambda shape=shape, mode=mode, nl=nonlinearity, k=k: _draw(
                np, fn, shape, 100 + k, mode, nl
            ).std(),
            std,
            inputs=inputs + f"; 5 standard errors = {5 * se_std:.3g}",
            atol=5 * se_std,
            rtol=0,
            mistakes=_mistakes(shape, mode, fans, gain),
            hint=f"the std should be gain/√fan = {gain:.4g}/√{fans[mode == 'fan_out']}",
        )
    check.reseed(len(CASES))
    std = _torch_std(torch, LARGE, "fan_in", "relu")[0]
    n = math.prod(LARGE)
    se_mean, se_kurtosis = std / math.sqrt(n), math.sqrt(24 / n)
    inputs = f"shape={LARGE}, fan_in, relu, rng=np.random.default_rng(200)"
    check.compare(
        f"mean of a {LARGE} draw",
        lambda: _draw(np, fn, LARGE, 200, "fan_in", "relu").mean(),
        0.0,
        inputs=f"{inputs}; 5 standard errors = {5 * se_mean:.3g}",
        atol=5 * se_mean,
        rtol=0,
        hint="the weights are centred: a normal with mean 0",
    )
    check.compare(
        f"kurtosis of a {LARGE} draw (normal: 3)",
        lambda: _kurtosis(np, _draw(np, fn, LARGE, 200, "fan_in", "relu")),
        3.0,
        inputs=f"{inputs}; 5 standard errors = {5 * se_kurtosis:.3g}",
        atol=5 * se_kurtosis,
        rtol=0,
        mistakes={
            "this is a uniform draw (kurtosis 1.8): kaiming_normal draws from a normal, "
            "rng.normal(0, std, shape)": 1.8,
        },
        hint="kaiming_normal draws from a normal distribution (kurtosis 3)",
    )

    same = differs = False
    error = ""
    try:
        first = _draw(np, fn, (64, 32), 7, "fan_in", "relu")
        same = bool(np.array_equal(first, _draw(np, fn, (64, 32), 7, "fan_in", "relu")))
        differs = not np.array_equal(first, _draw(np, fn, (64, 32), 8, "fan_in", "relu"))
    except Exception as exc:  # the cases above report the error itself
        error = f" (the call raised {type(exc).__name__})"
    got = "the same array twice" if same else "two different arrays from the same seed"
    check.holds(
        "the draw comes from the rng passed in",
        same and differs,
        inputs="shape=(64, 32), twice with np.random.default_rng(7), then with seed 8",
        expected="the same array for seed 7 both times, another one for seed 8",
        got=(got if not same or differs else "the same array for seeds 7 and 8") + error,
        hint="draw with the Generator passed as rng (rng.normal), not np.random, torch "
        "or a Generator of your own",
    )


def _draw(np, fn, shape, seed, mode, nonlinearity):
    out = np.asarray(fn(shape, np.random.default_rng(seed), mode=mode, nonlinearity=nonlinearity))
    if out.shape != tuple(shape):
        raise ValueError(f"returned an array of shape {out.shape}, expected {tuple(shape)}")
    return out.astype(np.float64)


def _kurtosis(np, a) -> float:
    centred = a - a.mean()
    return float((centred**4).mean() / (centred**2).mean() ** 2)


def _torch_std(torch, shape, mode, nonlinearity):
    """gain/√fan with torch's helpers (the formula kaiming_normal_ uses)."""
    tensor = torch.empty(shape)
    fans = torch.nn.init._calculate_fan_in_and_fan_out(tensor)
    gain = torch.nn.init.calculate_gain(nonlinearity)
    fan = fans[0] if mode == "fan_in" else fans[1]
    return gain / math.sqrt(fan), fans, gain


def _mistakes(shape, mode, fans, gain) -> dict:
    fan = fans[0] if mode == "fan_in" else fans[1]
    other = fans[1] if mode == "fan_in" else fans[0]
    bare = shape[1] if mode == "fan_in" else shape[0]
    out = {}
    if len(shape) > 2 and math.prod(shape[2:]) > 1:
        out[
            "the fan is missing the receptive field: for a conv weight fan_in = C_in·kh·kw "
            "(fan_out = C_out·kh·kw)"
        ] = gain / math.sqrt(bare)
    if gain != 1.0:
        out[f"the gain is 1: torch.nn.init.calculate_gain gives {gain:.4g} here (√2 for relu)"] = (
            1 / math.sqrt(fan)
        )
    else:
        out["the gain is √2: for nonlinearity='linear' calculate_gain gives 1"] = math.sqrt(2 / fan)
    if other != fan:
        out[
            "fan_in and fan_out are swapped: fan_in = shape[1]·∏shape[2:], fan_out = shape[0]·∏shape[2:]"
        ] = gain / math.sqrt(other)
    out["this is the variance, gain²/fan: the std is gain/√fan"] = gain**2 / fan
    return out
