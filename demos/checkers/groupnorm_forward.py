"""GroupNorm's forward pass in numpy on (N, C, H, W)

Checks ``group_norm(x, num_groups, weight=None, bias=None, eps=1e-5)`` against
``torch.nn.functional.group_norm`` in float64 (tolerance 1e-9): two and three
groups, G = 1 (LayerNorm over (C, H, W)), G = C (InstanceNorm), a batch of one
with non-square maps, 1x1 maps with G = C/2, no affine parameters, and large
magnitudes. Group g holds the contiguous channels g·C/G ... (g + 1)·C/G − 1, and
weight and bias have one entry per CHANNEL, applied after the normalization.

Recognized mistakes: channels grouped interleaved (channel c in group c mod G)
instead of contiguously, the statistics over the group's channels but not over
H and W, the unbiased variance, the affine taken per group (weight[g] for every
channel of group g) instead of per channel, and statistics over the batch.
"""

from __future__ import annotations

FUNCTION = "group_norm"

# name, shape, G, affine ("both", "weight" alone, "none"), scale, shift, eps
CASES = [
    ("C=6, G=2", (2, 6, 4, 4), 2, "both", 1.0, 0.0, 1e-5),
    ("C=6, G=3, non-square 3x5 maps", (2, 6, 3, 5), 3, "both", 1.0, 0.0, 1e-5),
    ("G=1 (LayerNorm over C, H, W)", (3, 4, 3, 3), 1, "both", 1.0, 0.0, 1e-5),
    ("G=C=4 (InstanceNorm)", (2, 4, 3, 4), 4, "both", 1.0, 0.0, 1e-5),
    (
        "batch of one, C=8, G=4; weight without bias, eps 1e-3",
        (1, 8, 2, 3),
        4,
        "weight",
        1.0,
        0.0,
        1e-3,
    ),
    ("1x1 maps, C=8, G=4 (two values per group)", (3, 8, 1, 1), 4, "both", 1.0, 0.0, 1e-5),
    ("weight and bias None, C=6, G=2", (2, 6, 3, 3), 2, "none", 1.0, 0.0, 1e-5),
    ("large magnitudes (x·1e3 + 1e4), C=4, G=2", (2, 4, 3, 3), 2, "both", 1e3, 1e4, 1e-5),
]


def run(check, fn) -> None:
    np, torch = check.np, check.torch
    for k, (name, shape, groups, affine, scale, shift, eps) in enumerate(CASES):
        check.reseed(k)
        c = shape[1]
        x = np.random.randn(*shape) * scale + shift
        weight = np.random.rand(c) + 0.5 if affine != "none" else None
        bias = np.random.randn(c) if affine == "both" else None
        expected = torch.nn.functional.group_norm(
            torch.tensor(x),
            groups,
            None if weight is None else torch.tensor(weight),
            None if bias is None else torch.tensor(bias),
            eps=eps,
        ).numpy()
        shown = {"both": f"weight, bias: ({c},)", "none": "weight, bias: None"}
        inputs = (
            f"x: {shape} float64, scale {scale:g}, shift {shift:g}; num_groups={groups}; "
            f"{shown.get(affine, f'weight: ({c},), bias: None')}; eps={eps:g}"
        )
        args = (x.copy(), groups, _copy(weight), _copy(bias))
        check.compare(
            name,
            lambda args=args, eps=eps: fn(*args, eps=eps),
            expected,
            inputs=inputs,
            atol=1e-9,
            rtol=1e-9,
            mistakes=_mistakes(np, x, groups, weight, bias, eps),
        )


def _copy(a):
    return None if a is None else a.copy()


def _mistakes(np, x, groups, weight, bias, eps) -> dict:
    n, c, h, w = x.shape
    per = c // groups
    shape_c = (1, c, 1, 1)
    wt = np.ones(c) if weight is None else weight
    bs = np.zeros(c) if bias is None else bias

    def stats(v, axes, ddof=0):
        mean = v.mean(axis=axes, keepdims=True)
        return (v - mean) / np.sqrt(v.var(axis=axes, keepdims=True, ddof=ddof) + eps)

    def affine(xhat, wt=wt, bs=bs):
        return xhat * wt.reshape(shape_c) + bs.reshape(shape_c)

    contiguous = x.reshape(n, groups, per, h, w)
    out = {}
    if 1 < groups < c:
        # channel c in group c % G: a reshape to (N, C/G, G, H, W)
        interleaved = stats(x.reshape(n, per, groups, h, w), (1, 3, 4)).reshape(x.shape)
        out[
            "the channels are grouped interleaved (channel c in group c mod G): group g is "
            "the contiguous block of channels g·C/G ... (g + 1)·C/G − 1, reshape to "
            "(N, G, C/G, H, W)"
        ] = affine(interleaved)
        # the same groups reached by swapping axes, then reshaped back in the swapped order
        swapped = stats(x.reshape(n, per, groups, h, w).swapaxes(1, 2), (2, 3, 4))
        out[
            "the channels are grouped interleaved (reshape to (N, C/G, G, H, W), then swapped "
            "axes): group g is the contiguous block g·C/G ... (g + 1)·C/G − 1, reshape "
            "straight to (N, G, C/G, H, W)"
        ] = affine(swapped.reshape(x.shape))
    if h * w > 1 and per > 1:
        out[
            "the statistics must cover H and W too: one mean and variance per (sample, "
            "group), over (C/G, H, W)"
        ] = affine(stats(contiguous, (2,)).reshape(x.shape))
    if per * h * w > 1:
        out["this is the unbiased variance (N − 1): GroupNorm divides by C/G·H·W"] = affine(
            stats(contiguous, (2, 3, 4), ddof=1).reshape(x.shape)
        )
    if weight is not None and per > 1:
        out[
            "the affine is per channel, not per group: weight and bias have C entries, "
            "y = x̂·weight[c] + bias[c]"
        ] = affine(
            stats(contiguous, (2, 3, 4)).reshape(x.shape),
            np.repeat(wt[:groups], per),
            np.repeat(bs[:groups], per),
        )
    if n > 1:
        out["the statistics include the batch axis: GroupNorm normalizes each sample alone"] = (
            affine(stats(contiguous, (0, 2, 3, 4)).reshape(x.shape))
        )
    return out
