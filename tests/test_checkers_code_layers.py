"""The checkers of questions/code_layers.yaml: right code passes, realistic wrong code fails.

Every card's solution passes and its starter fails. For each implement card, the
mistakes people make are written out as whole files below, each with the case
it must fail first and, where the checker recognizes the mistake, words from
the hint. A wrong solution that passed would be a defect of the checker.
"""

from __future__ import annotations

import textwrap

import pytest
from checkercheck import assert_fails_first_at, assert_passes, bank, card, check_code

CARDS = [
    "impl-conv-output-size",
    "impl-conv2d-naive",
    "impl-maxpool-forward-backward",
    "impl-bn-backward",
    "impl-layernorm-forward",
    "impl-groupnorm-forward",
    "impl-dropout-inverted",
    "impl-kaiming-normal",
    "bug-bn-forward-unbiased-normalize",
    "bug-bn-forward-momentum-swapped",
    "bug-dropout-scales-at-eval",
]


def code(text: str) -> str:
    return textwrap.dedent(text).lstrip()


def variant(base: str, *replacements: tuple[str, str]) -> str:
    """``base`` with each (old, new) replaced; each old must occur, so a variant never
    silently equals the base."""
    for old, new in replacements:
        assert old in base, old
        base = base.replace(old, new)
    return base


# --- conv_output_size ---------------------------------------------------------------

SIZE = code(
    """
    import math


    def conv_output_size(h, kernel, stride=1, padding=0, dilation=1):
        return (h + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    """
)
SIZE_WRONG = [
    (
        "no dilation",
        variant(SIZE, ("dilation * (kernel - 1) - 1", "kernel")),
        "dilation 2 and 3",
        "dilation is missing",
    ),
    (
        "ceil",
        variant(
            SIZE,
            (
                "(h + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1",
                "math.ceil((h + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1",
            ),
        ),
        "stride 2 and 3 (floor when it does not divide)",
        "rounds up",
    ),
    (
        "true division",
        variant(SIZE, ("// stride", "/ stride")),
        "stride 2 and 3 (floor when it does not divide)",
        "true division",
    ),
    ("no + 1", variant(SIZE, ("// stride + 1", "// stride")), "stride 1, no padding", "+ 1"),
    (
        "padding once",
        variant(SIZE, ("2 * padding", "padding")),
        "stride 1, 'same' padding",
        "padding is counted once",
    ),
]

# --- conv2d -------------------------------------------------------------------------

CONV = code(
    """
    import numpy as np


    def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        n, c, h, wd = x.shape
        o, cg, kh, kw = w.shape
        xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
        hp, wp = xp.shape[2:]
        ho = (hp - dilation * (kh - 1) - 1) // stride + 1
        wo = (wp - dilation * (kw - 1) - 1) // stride + 1
        og = o // groups
        out = np.zeros((n, o, ho, wo))
        for oc in range(o):
            g = oc // og
            chans = xp[:, g * cg:(g + 1) * cg]
            for i in range(ho):
                for j in range(wo):
                    r, s = i * stride, j * stride
                    window = chans[:, :, r:r + dilation * (kh - 1) + 1:dilation,
                                   s:s + dilation * (kw - 1) + 1:dilation]
                    out[:, oc, i, j] = (window * w[oc]).sum(axis=(1, 2, 3))
            if b is not None:
                out[:, oc] += b[oc]
        return out
    """
)
CONV_WRONG = [
    (
        "kernel flipped (true convolution)",
        variant(CONV, ("(window * w[oc])", "(window * w[oc, :, ::-1, ::-1])")),
        "3x3, stride 1, no padding",
        "flipped",
    ),
    (
        "groups ignored",
        variant(CONV, ("chans = xp[:, g * cg:(g + 1) * cg]", "chans = xp[:, :cg]")),
        "groups=2 (4 -> 6 channels)",
        "groups are ignored",
    ),
    (
        "padding on one side",
        variant(CONV, ("(padding, padding), (padding, padding)", "(0, padding), (0, padding)")),
        "3x3, stride 2, padding 1",
        "one side only",
    ),
    (
        "dilation ignored",
        variant(
            CONV,
            ("(hp - dilation * (kh - 1) - 1)", "(hp - kh)"),
            ("(wp - dilation * (kw - 1) - 1)", "(wp - kw)"),
            ("r:r + dilation * (kh - 1) + 1:dilation", "r:r + kh"),
            ("s:s + dilation * (kw - 1) + 1:dilation", "s:s + kw"),
        ),
        "dilation 2, padding 2",
        "dilation is ignored",
    ),
    (
        "bias forgotten",
        variant(CONV, ("out[:, oc] += b[oc]", "pass")),
        "3x3, stride 1, no padding",
        "bias is missing",
    ),
]

# --- max pooling --------------------------------------------------------------------

POOL_FORWARD = code(
    """
    import numpy as np


    def maxpool2d_forward(x, k, stride=None):
        s = stride or k
        n, c, h, w = x.shape
        ho, wo = (h - k) // s + 1, (w - k) // s + 1
        out = np.zeros((n, c, ho, wo))
        for a in range(n):
            for b in range(c):
                for i in range(ho):
                    for j in range(wo):
                        out[a, b, i, j] = x[a, b, i * s:i * s + k, j * s:j * s + k].max()
        return out
    """
)
POOL_SPLIT = POOL_FORWARD + code(
    """


    def maxpool2d_backward(dout, x, k, stride=None):
        s = stride or k
        dx = np.zeros_like(x)
        n, c, ho, wo = dout.shape
        for a in range(n):
            for b in range(c):
                for i in range(ho):
                    for j in range(wo):
                        window = x[a, b, i * s:i * s + k, j * s:j * s + k]
                        mask = window == window.max()
                        dx[a, b, i * s:i * s + k, j * s:j * s + k] += (
                            mask * dout[a, b, i, j] / mask.sum())
        return dx
    """
)
POOL_SCAN = code(
    """
    import numpy as np


    def maxpool2d_forward(x, k, stride=None):
        s = stride or k
        n, c, h, w = x.shape
        out = np.zeros((n, c, (h - k) // s + 1, (w - k) // s + 1))
        for a in range(n):
            for b in range(c):
                for i in range(out.shape[2]):
                    for j in range(out.shape[3]):
                        best = x[a, b, i * s, j * s]
                        for u in range(k):
                            for v in range(k):
                                if x[a, b, i * s + u, j * s + v] > best:
                                    best = x[a, b, i * s + u, j * s + v]
                        out[a, b, i, j] = best
        return out


    def maxpool2d_backward(dout, x, k, stride=None):
        s = stride or k
        dx = np.zeros_like(x)
        n, c, ho, wo = dout.shape
        for a in range(n):
            for b in range(c):
                for i in range(ho):
                    for j in range(wo):
                        best, at = x[a, b, i * s, j * s], (i * s, j * s)
                        for u in range(k):
                            for v in range(k):
                                val = x[a, b, i * s + u, j * s + v]
                                if val > best:
                                    best, at = val, (i * s + u, j * s + v)
                        dx[a, b, at[0], at[1]] += dout[a, b, i, j]
        return dx
    """
)
POOL_VECTOR = POOL_FORWARD + code(
    """


    def maxpool2d_backward(dout, x, k, stride=None):
        s = stride or k
        ho, wo = dout.shape[2:]
        dx = np.zeros_like(x)
        ii, jj = np.meshgrid(np.arange(ho), np.arange(wo), indexing="ij")
        for a in range(x.shape[0]):
            for b in range(x.shape[1]):
                wins = np.stack([x[a, b, i * s:i * s + k, j * s:j * s + k].ravel()
                                 for i in range(ho) for j in range(wo)])
                arg = wins.argmax(axis=1)
                rows = ii.ravel() * s + arg // k
                cols = jj.ravel() * s + arg % k
                dx[a, b, rows, cols] += dout[a, b].ravel()
        return dx
    """
)
POOL_WRONG = [
    (
        "gradient split among ties",
        POOL_SPLIT,
        "backward, ties (integers 0-2, 2x2 stride 2)",
        "split among tied",
    ),
    (
        "every tie gets the full gradient",
        variant(POOL_SPLIT, (" / mask.sum())", ")")),
        "backward, ties (integers 0-2, 2x2 stride 2)",
        "every tied maximum",
    ),
    (
        "last maximum on ties (>=)",
        variant(POOL_SCAN, ("if val > best:", "if val >= best:")),
        "backward, ties (integers 0-2, 2x2 stride 2)",
        "last maximum",
    ),
    (
        "fancy-index += overwrites overlapping windows",
        POOL_VECTOR,
        "backward, 3x3 stride 2 (overlapping windows add up)",
        "accumulate",
    ),
    (
        "running max starts at 0",
        variant(POOL_SCAN, ("best = x[a, b, i * s, j * s]\n", "best = 0.0\n")),
        "forward, 2x2 stride 2",
        "starts at 0",
    ),
    (
        "forward function missing",
        POOL_SCAN.split("\n\n\ndef maxpool2d_backward")[0].replace(
            "def maxpool2d_forward", "def max_pool_forward"
        )
        + "\n\n\ndef maxpool2d_backward"
        + POOL_SCAN.split("\n\n\ndef maxpool2d_backward")[1],
        "forward, 2x2 stride 2",
        "",
    ),
]

# --- BatchNorm backward -------------------------------------------------------------

BN_STAGED = code(
    """
    import numpy as np


    def batchnorm_backward(dout, x, gamma, eps=1e-5):
        n = x.shape[0]
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        std = np.sqrt(var + eps)
        xhat = (x - mu) / std
        dgamma = (dout * xhat).sum(axis=0)
        dbeta = dout.sum(axis=0)
        dxhat = dout * gamma
        dvar = (dxhat * (x - mu) * -0.5 * std ** -3).sum(axis=0)
        dmu = -(dxhat / std).sum(axis=0) + dvar * (-2 * (x - mu)).mean(axis=0)
        dx = dxhat / std + dvar * 2 * (x - mu) / n + dmu / n
        return dx, dgamma, dbeta
    """
)
BN_WRONG = [
    (
        "mean and variance treated as constants",
        variant(
            BN_STAGED, ("dx = dxhat / std + dvar * 2 * (x - mu) / n + dmu / n", "dx = dxhat / std")
        ),
        "N=8, D=4",
        "depend on x too",
    ),
    (
        "the variance path dropped",
        variant(
            BN_STAGED,
            ("dx = dxhat / std + dvar * 2 * (x - mu) / n + dmu / n", "dx = dxhat / std + dmu / n"),
            ("+ dvar * (-2 * (x - mu)).mean(axis=0)", ""),
        ),
        "N=8, D=4",
        "variance's path is missing",
    ),
    (
        "unbiased variance",
        variant(BN_STAGED, ("var = x.var(axis=0)", "var = x.var(axis=0, ddof=1)")),
        "N=8, D=4",
        "unbiased variance",
    ),
    (
        "dmu divided by n twice",
        variant(BN_STAGED, ("+ dmu / n\n", "+ dmu / n / n\n")),
        "N=8, D=4",
        "",
    ),
    (
        "dgamma without x_hat",
        variant(BN_STAGED, ("dgamma = (dout * xhat).sum(axis=0)", "dgamma = dout.sum(axis=0)")),
        "N=8, D=4",
        "dgamma is",
    ),
]

# --- LayerNorm ----------------------------------------------------------------------

LN = code(
    """
    import numpy as np


    def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
        axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True)
        y = (x - mean) / np.sqrt(var + eps)
        if weight is not None:
            y = y * weight
        if bias is not None:
            y = y + bias
        return y
    """
)
LN_WRONG = [
    (
        "batch axis",
        variant(LN, ("axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))", "axes = 0")),
        "(N, D) = (8, 16)",
        "batch axis",
    ),
    (
        "unbiased variance",
        variant(
            LN,
            (
                "var = x.var(axis=axes, keepdims=True)",
                "var = x.var(axis=axes, keepdims=True, ddof=1)",
            ),
        ),
        "(N, D) = (8, 16)",
        "unbiased",
    ),
    (
        "last axis only",
        variant(LN, ("axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))", "axes = -1")),
        "(N, C, H, W), normalized over (C, H, W)",
        "only the last dimension",
    ),
    (
        "eps on the std",
        variant(LN, ("np.sqrt(var + eps)", "(np.sqrt(var) + eps)")),
        "(N, D) = (8, 16)",
        "inside the square root",
    ),
    (
        "weight None not handled",
        variant(
            LN,
            ("    if weight is not None:\n        y = y * weight\n", "    y = y * weight\n"),
            ("    if bias is not None:\n        y = y + bias\n", "    y = y + bias\n"),
        ),
        "(N, C, H, W) over W only; weight without bias, eps 1e-3",
        "",
    ),
    (
        "the affine applied only when both weight and bias are given",
        variant(
            LN,
            (
                "    if weight is not None:\n        y = y * weight\n    if bias is not None:\n        y = y + bias\n",
                "    if weight is not None and bias is not None:\n        y = y * weight + bias\n",
            ),
        ),
        "(N, C, H, W) over W only; weight without bias, eps 1e-3",
        "",
    ),
    (
        "eps written into the code",
        variant(LN, ("np.sqrt(var + eps)", "np.sqrt(var + 1e-5)")),
        "(N, C, H, W) over W only; weight without bias, eps 1e-3",
        "",
    ),
]

# --- GroupNorm ----------------------------------------------------------------------

GN = code(
    """
    import numpy as np


    def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
        n, c, h, w = x.shape
        g = x.reshape(n, num_groups, c // num_groups, h, w)
        mean = g.mean(axis=(2, 3, 4), keepdims=True)
        var = g.var(axis=(2, 3, 4), keepdims=True)
        y = ((g - mean) / np.sqrt(var + eps)).reshape(n, c, h, w)
        if weight is not None:
            y = y * weight.reshape(1, c, 1, 1)
        if bias is not None:
            y = y + bias.reshape(1, c, 1, 1)
        return y
    """
)
GN_INTERLEAVED = code(
    """
    import numpy as np


    def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
        n, c, h, w = x.shape
        g = x.reshape(n, c // num_groups, num_groups, h, w)
        mean = g.mean(axis=(1, 3, 4), keepdims=True)
        var = g.var(axis=(1, 3, 4), keepdims=True)
        y = ((g - mean) / np.sqrt(var + eps)).reshape(n, c, h, w)
        if weight is not None:
            y = y * weight.reshape(1, c, 1, 1)
        if bias is not None:
            y = y + bias.reshape(1, c, 1, 1)
        return y
    """
)
GN_PER_GROUP_AFFINE = code(
    """
    import numpy as np


    def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
        n, c, h, w = x.shape
        g = x.reshape(n, num_groups, c // num_groups, h, w)
        mean = g.mean(axis=(2, 3, 4), keepdims=True)
        var = g.var(axis=(2, 3, 4), keepdims=True)
        y = (g - mean) / np.sqrt(var + eps)
        if weight is not None:  # one scale and shift per group
            y = y * weight[:num_groups].reshape(1, num_groups, 1, 1, 1)
        if bias is not None:
            y = y + bias[:num_groups].reshape(1, num_groups, 1, 1, 1)
        return y.reshape(n, c, h, w)
    """
)
GN_WRONG = [
    ("interleaved groups", GN_INTERLEAVED, "C=6, G=2", "interleaved"),
    (
        "interleaved groups by a reshape and swapaxes",
        variant(
            GN,
            (
                "x.reshape(n, num_groups, c // num_groups, h, w)",
                "x.reshape(n, c // num_groups, num_groups, h, w).swapaxes(1, 2)",
            ),
        ),
        "C=6, G=2",
        "interleaved",
    ),
    ("affine per group", GN_PER_GROUP_AFFINE, "C=6, G=2", "per channel, not per group"),
    (
        "statistics over the channels only",
        variant(
            GN,
            (
                "axis=(2, 3, 4), keepdims=True)\n    var = g.var(axis=(2, 3, 4)",
                "axis=2, keepdims=True)\n    var = g.var(axis=2",
            ),
        ),
        "C=6, G=2",
        "H and W too",
    ),
    (
        "unbiased variance",
        variant(
            GN,
            (
                "var = g.var(axis=(2, 3, 4), keepdims=True)",
                "var = g.var(axis=(2, 3, 4), keepdims=True, ddof=1)",
            ),
        ),
        "C=6, G=2",
        "unbiased",
    ),
]

# --- dropout ------------------------------------------------------------------------

DROP = code(
    """
    import numpy as np


    def dropout(x, p=0.5, training=True, rng=None):
        if not training:
            return x
        keep = rng.random(x.shape) >= p
        return x * keep / (1 - p)
    """
)
DROP_WRONG = [
    (
        "scaled at test time instead (original dropout)",
        variant(DROP, ("return x\n", "return x * (1 - p)\n"), ("x * keep / (1 - p)", "x * keep")),
        "training, p=0.5, (8, 16)",
        "not scaled",
    ),
    (
        "keeps with probability p",
        variant(DROP, ("keep = rng.random(x.shape) >= p", "keep = rng.random(x.shape) < p")),
        "training, p=0.5, (8, 16)",
        "probability p",
    ),
    (
        "keeps with probability p, divides by p",
        variant(
            DROP,
            ("keep = rng.random(x.shape) >= p", "keep = rng.random(x.shape) < p"),
            ("/ (1 - p)", "/ p"),
        ),
        "training, p=0.5, (8, 16)",
        "probability p",
    ),
    (
        "multiplies by 1 - p",
        variant(DROP, ("x * keep / (1 - p)", "x * keep * (1 - p)")),
        "training, p=0.5, (8, 16)",
        "multiplies by (1 − p)",
    ),
    (
        "training flag ignored",
        variant(DROP, ("    if not training:\n        return x\n", "")),
        "eval, p=0.5 (the identity)",
        "mask is applied in eval",
    ),
    (
        "x modified in place",
        variant(DROP, ("return x * keep / (1 - p)", "x *= keep / (1 - p)\n    return x")),
        "x is left unchanged",
        "do not write into x",
    ),
    (
        "a binomial mask (another draw than the task's)",
        variant(DROP, ("rng.random(x.shape) >= p", "rng.binomial(1, 1 - p, x.shape) == 1")),
        "training, p=0.2, (2, 3, 5, 5)",
        "",
    ),
]

# --- Kaiming normal -----------------------------------------------------------------

KAIMING = code(
    """
    import math

    import numpy as np


    def kaiming_normal(shape, rng, mode="fan_in", nonlinearity="relu"):
        gain = {"relu": math.sqrt(2), "linear": 1.0, "tanh": 5 / 3}[nonlinearity]
        receptive = int(np.prod(shape[2:]))
        fan = shape[1] * receptive if mode == "fan_in" else shape[0] * receptive
        return rng.normal(0.0, gain / math.sqrt(fan), size=shape)
    """
)
KAIMING_WRONG = [
    (
        "fan without the receptive field",
        variant(KAIMING, ("receptive = int(np.prod(shape[2:]))", "receptive = 1")),
        "conv (64, 32, 3, 3), fan_in, relu: std",
        "receptive field",
    ),
    (
        "gain 1",
        variant(KAIMING, ('"relu": math.sqrt(2)', '"relu": 1.0')),
        "linear (512, 128), fan_in, relu: std",
        "gain is 1",
    ),
    (
        "gain sqrt(2) whatever the nonlinearity",
        variant(
            KAIMING,
            (
                'gain = {"relu": math.sqrt(2), "linear": 1.0, "tanh": 5 / 3}[nonlinearity]',
                "gain = math.sqrt(2)",
            ),
        ),
        "conv (32, 64, 1, 1) pointwise, fan_in, linear: std",
        "gain is √2",
    ),
    (
        "fan_in and fan_out swapped",
        variant(
            KAIMING,
            (
                'shape[1] * receptive if mode == "fan_in"',
                'shape[0] * receptive if mode == "fan_in"',
            ),
            ("else shape[0] * receptive", "else shape[1] * receptive"),
        ),
        "linear (512, 128), fan_in, relu: std",
        "swapped",
    ),
    (
        "the variance as the std",
        variant(KAIMING, ("gain / math.sqrt(fan)", "gain ** 2 / fan")),
        "linear (512, 128), fan_in, relu: std",
        "variance",
    ),
    (
        "uniform with the right std (kaiming_uniform_)",
        variant(
            KAIMING,
            (
                "rng.normal(0.0, gain / math.sqrt(fan), size=shape)",
                "rng.uniform(-1, 1, size=shape) * gain * math.sqrt(3 / fan)",
            ),
        ),
        "kurtosis of a (256, 128, 3, 3) draw (normal: 3)",
        "uniform",
    ),
    (
        "uniform on [0, 1) scaled (not centred)",
        variant(
            KAIMING,
            (
                "rng.normal(0.0, gain / math.sqrt(fan), size=shape)",
                "rng.random(size=shape) * gain * math.sqrt(12 / fan)",
            ),
        ),
        "mean of a (256, 128, 3, 3) draw",
        "centred",
    ),
    (
        "np.random instead of the rng passed in",
        variant(KAIMING, ("rng.normal(0.0,", "np.random.normal(0.0,")),
        "the draw comes from the rng passed in",
        "passed as rng",
    ),
]

WRONG = {
    "impl-conv-output-size": SIZE_WRONG,
    "impl-conv2d-naive": CONV_WRONG,
    "impl-maxpool-forward-backward": POOL_WRONG,
    "impl-bn-backward": BN_WRONG,
    "impl-layernorm-forward": LN_WRONG,
    "impl-groupnorm-forward": GN_WRONG,
    "impl-dropout-inverted": DROP_WRONG,
    "impl-kaiming-normal": KAIMING_WRONG,
}
WRONG_CASES = [
    pytest.param(card_id, text, case, hint, id=f"{card_id}: {label}")
    for card_id, wrongs in WRONG.items()
    for label, text, case, hint in wrongs
]
RIGHT = [
    ("impl-conv-output-size", SIZE),
    ("impl-conv2d-naive", CONV),
    ("impl-maxpool-forward-backward", POOL_SCAN),
    ("impl-bn-backward", BN_STAGED),
    ("impl-layernorm-forward", LN),
    ("impl-groupnorm-forward", GN),
    ("impl-dropout-inverted", DROP),
    ("impl-kaiming-normal", KAIMING),
]

# A bug hunt's starter fails at this case, with this hint.
BUG_HUNTS = {
    "bug-bn-forward-unbiased-normalize": ("training, N=8, D=4", "biased variance"),
    "bug-bn-forward-momentum-swapped": ("training, N=8, D=4", "momentum weights are swapped"),
    "bug-dropout-scales-at-eval": ("eval, p=0.5 (the identity)", "scales at test time"),
}


def test_the_topic_holds_these_cards():
    topic = bank().topics["code_layers"]
    # the BatchNorm-forward card opens the topic (its tests: test_checkers_code.py)
    assert [c.id for c in topic.cards] == ["code-bn-forward", *CARDS]
    for card_id in CARDS:
        the_card = card(card_id)
        assert the_card.kind.value == "implement"
        expected_tag = "bug-hunt" if card_id.startswith("bug-") else "implement"
        assert expected_tag in the_card.tags


@pytest.mark.parametrize("card_id", CARDS)
def test_the_solution_passes(card_id, tmp_path):
    assert_passes(check_code(card_id, card(card_id).solution, tmp_path))


@pytest.mark.parametrize("card_id", CARDS)
def test_the_starter_fails(card_id, tmp_path):
    report = check_code(card_id, card(card_id).starter, tmp_path)
    assert not report.passed


@pytest.mark.parametrize("card_id", list(BUG_HUNTS))
def test_a_bug_hunt_starter_fails_where_its_bug_shows(card_id, tmp_path):
    case, hint = BUG_HUNTS[card_id]
    assert_fails_first_at(check_code(card_id, card(card_id).starter, tmp_path), case, hint)


@pytest.mark.parametrize("card_id, text", RIGHT, ids=[r[0] for r in RIGHT])
def test_another_right_solution_passes(card_id, text, tmp_path):
    """The base that the wrong variants are made from is itself right: each variant
    fails for its one change, and a right solution other than the card's passes."""
    assert_passes(check_code(card_id, text, tmp_path))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # wrong code divides by p = 0
@pytest.mark.parametrize("card_id, text, case, hint", WRONG_CASES)
def test_a_wrong_solution_fails_at_its_case(card_id, text, case, hint, tmp_path):
    assert_fails_first_at(check_code(card_id, text, tmp_path), case, hint)


def test_every_implement_card_has_two_wrong_solutions_with_hints():
    for card_id, wrongs in WRONG.items():
        assert len([w for w in wrongs if w[3]]) >= 2, card_id


def test_the_missing_forward_function_is_named(tmp_path):
    _, text, case, _ = POOL_WRONG[-1]
    report = check_code("impl-maxpool-forward-backward", text, tmp_path)
    assert report.first_failure.name == case
    assert "maxpool2d_forward" in report.first_failure.got


def test_each_checker_runs_5_to_10_cases(tmp_path):
    for card_id in CARDS[:8]:
        report = check_code(card_id, card(card_id).solution, tmp_path)
        assert 5 <= len(report.cases) <= 10, (card_id, len(report.cases))


# Found by probing the checkers with a candidate's slips (each once passed): arguments
# the cases never varied (eps, stride left out, weight without bias, the seed) and
# in-place updates the task forbids.
PROBED = [
    (
        "impl-bn-backward",
        variant(BN_STAGED, ("std = np.sqrt(var + eps)", "std = np.sqrt(var + 1e-5)")),
        "N=32, D=17 (odd D), x·0.01, eps 1e-3",
    ),
    (
        "impl-maxpool-forward-backward",
        variant(
            POOL_SCAN,
            (
                "    s = stride or k\n    n, c, h, w",
                "    s = stride or 1\n    n, c, h, w",
            ),
        ),
        "forward, odd size 5x7 (last row and column dropped), stride left out",
    ),
    (
        "impl-maxpool-forward-backward",
        variant(POOL_SCAN, ("    s = stride or k\n    dx", "    s = stride\n    dx")),
        "backward, 2x2, stride left out (it is k)",
    ),
    (
        "impl-groupnorm-forward",
        variant(
            GN,
            (
                "    if weight is not None:\n        y = y * weight.reshape(1, c, 1, 1)\n"
                "    if bias is not None:\n        y = y + bias.reshape(1, c, 1, 1)\n",
                "    if weight is not None and bias is not None:\n"
                "        y = y * weight.reshape(1, c, 1, 1) + bias.reshape(1, c, 1, 1)\n",
            ),
        ),
        "batch of one, C=8, G=4; weight without bias, eps 1e-3",
    ),
    (
        "impl-groupnorm-forward",
        variant(GN, ("np.sqrt(var + eps)", "np.sqrt(var + 1e-5)")),
        "batch of one, C=8, G=4; weight without bias, eps 1e-3",
    ),
    (
        "impl-kaiming-normal",
        variant(KAIMING, ("return rng.normal(", "return np.random.default_rng(0).normal(")),
        "the draw comes from the rng passed in",
    ),
]


@pytest.mark.parametrize("card_id, text, case", PROBED, ids=[f"{c}: {w}" for c, _, w in PROBED])
def test_a_probed_slip_fails_at_its_case(card_id, text, case, tmp_path):
    assert_fails_first_at(check_code(card_id, text, tmp_path), case)


def test_a_size_returned_as_a_float_fails_at_the_int_case(tmp_path):
    """Right numbers, wrong type: `... // stride + 1.0` is 3.0, and a size is an int."""
    text = variant(SIZE, ("// stride + 1", "// stride + 1.0"))
    assert_fails_first_at(
        check_code("impl-conv-output-size", text, tmp_path), "the result is an int"
    )
