"""LayerNorm's forward pass in numpy, over the last len(normalized_shape) dimensions

Checks ``layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5)``
against ``torch.nn.functional.layer_norm`` in float64 (tolerance 1e-9) on
(N, D) inputs, a (B, T, D) sequence, (N, C, H, W) images normalized over the
last dimension and over (C, H, W), a batch of one, no affine parameters
(weight and bias None), and large magnitudes.

Recognized mistakes: statistics over the batch axis (BatchNorm's axis) instead
of the normalized dimensions, the unbiased variance, only the last dimension
normalized whatever normalized_shape says, and eps added to the standard
deviation instead of the variance.
"""

from __future__ import annotations

FUNCTION = "layer_norm"

# name, x shape, normalized_shape, affine ("both", "weight" alone, "none"), scale, shift, eps
CASES = [
    ("(N, D) = (8, 16)", (8, 16), (16,), "both", 1.0, 0.0, 1e-5),
    ("(B, T, D) = (2, 5, 12)", (2, 5, 12), (12,), "both", 1.0, 0.0, 1e-5),
    ("(N, C, H, W), normalized over (C, H, W)", (2, 3, 4, 5), (3, 4, 5), "both", 1.0, 0.0, 1e-5),
    (
        "(N, C, H, W) over W only; weight without bias, eps 1e-3",
        (2, 3, 4, 6),
        (6,),
        "weight",
        1.0,
        0.0,
        1e-3,
    ),
    ("batch of one, (1, 10)", (1, 10), (10,), "both", 1.0, 0.0, 1e-5),
    (
        "weight and bias None, (4, 2, 3, 3) over (2, 3, 3)",
        (4, 2, 3, 3),
        (2, 3, 3),
        "none",
        1.0,
        0.0,
        1e-5,
    ),
    ("large magnitudes (x·1e3 + 1e4)", (6, 7), (7,), "both", 1e3, 1e4, 1e-5),
]


def run(check, fn) -> None:
    np, torch = check.np, check.torch
    for k, (name, shape, normalized, affine, scale, shift, eps) in enumerate(CASES):
        check.reseed(k)
        x = np.random.randn(*shape) * scale + shift
        weight = np.random.rand(*normalized) + 0.5 if affine != "none" else None
        bias = np.random.randn(*normalized) if affine == "both" else None
        expected = _reference(torch, x, normalized, weight, bias, eps)
        shown = {"both": f"weight, bias: shape {normalized}", "none": "weight, bias: None"}
        inputs = (
            f"x: {shape} float64, scale {scale:g}, shift {shift:g}; normalized_shape="
            f"{normalized}; {shown.get(affine, f'weight: shape {normalized}, bias: None')}; "
            f"eps={eps:g}"
        )
        args = (x.copy(), normalized, _copy(weight), _copy(bias))
        check.compare(
            name,
            lambda args=args, eps=eps: fn(*args, eps=eps),
            expected,
            inputs=inputs,
            atol=1e-9,
            rtol=1e-9,
            mistakes=_mistakes(np, x, normalized, weight, bias, eps),
        )


def _copy(a):
    return None if a is None else a.copy()


def _reference(torch, x, normalized, weight, bias, eps):
    return torch.nn.functional.layer_norm(
        torch.tensor(x),
        normalized,
        None if weight is None else torch.tensor(weight),
        None if bias is None else torch.tensor(bias),
        eps=eps,
    ).numpy()


def _mistakes(np, x, normalized, weight, bias, eps) -> dict:
    axes = tuple(range(x.ndim - len(normalized), x.ndim))
    w = 1.0 if weight is None else weight
    b = 0.0 if bias is None else bias

    def normalize(over, ddof=0, eps_on_std=False):
        mean = x.mean(axis=over, keepdims=True)
        var = x.var(axis=over, keepdims=True, ddof=ddof)
        std = np.sqrt(var) + eps if eps_on_std else np.sqrt(var + eps)
        return (x - mean) / std * w + b

    n = int(np.prod([x.shape[a] for a in axes]))
    out = {
        "the statistics are over the batch axis (that is BatchNorm): LayerNorm takes one "
        "mean and variance per sample, over the last len(normalized_shape) dims": normalize(0),
        "this is the unbiased variance (N − 1): LayerNorm divides by N, the number of "
        "normalized elements": normalize(axes, ddof=1) if n > 1 else None,
        "eps goes inside the square root: (x − μ)/√(σ² + ε)": normalize(axes, eps_on_std=True),
    }
    if len(axes) > 1:
        out[
            "only the last dimension is normalized: normalized_shape has "
            f"{len(normalized)} dims, so reduce over the last {len(normalized)} axes together"
        ] = normalize(x.ndim - 1)
    return {hint: wrong for hint, wrong in out.items() if wrong is not None}
