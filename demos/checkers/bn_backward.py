"""BatchNorm's backward pass on (N, D) in training mode: dx, dgamma and dbeta

Checks ``batchnorm_backward(dout, x, gamma, eps)`` -> ``(dx, dgamma, dbeta)``
against autograd through ``torch.nn.functional.batch_norm(training=True)``
(beta is a parameter too; its gradient is dbeta), in float64 at 1e-9 relative
to the gradient's size, on seeded random batches, an odd feature count, the
smallest batch (N = 2), large magnitudes, a constant upstream gradient (which
BN removes entirely: dx = 0) and an upstream gradient proportional to x̂ (dx ≈ 0, up to eps).

Recognized mistakes: the batch mean and variance treated as constants
(dx = dout·γ/σ), only the mean's path kept (dx = γ/σ·(dout − mean(dout))),
the unbiased variance in the forward pass (differentiated consistently, or
plugged into the usual formula), and dgamma without the x̂ factor.
"""

from __future__ import annotations

FUNCTION = "batchnorm_backward"

# name, N, D, x scale, x shift, upstream gradient, eps
CASES = [
    ("N=8, D=4", 8, 4, 1.0, 0.0, "normal", 1e-5),
    ("N=32, D=17 (odd D), x·0.01, eps 1e-3", 32, 17, 0.01, 0.0, "normal", 1e-3),
    ("N=2 (smallest batch)", 2, 5, 1.0, 0.0, "normal", 1e-5),
    ("N=1000, D=3 (a large batch)", 1000, 3, 1.0, 0.0, "normal", 1e-5),
    ("large magnitudes (x·1e3 + 1e4)", 16, 3, 1e3, 1e4, "normal", 1e-5),
    ("constant dout (BN removes it: dx = 0)", 8, 4, 1.0, 0.0, "constant", 1e-5),
    ("dout proportional to x̂ (dx ≈ 0)", 8, 4, 2.0, 1.0, "xhat", 1e-5),
]


def run(check, fn) -> None:
    np, torch = check.np, check.torch
    for k, (name, n, d, scale, shift, kind, eps) in enumerate(CASES):
        check.reseed(k)
        x = np.random.randn(n, d) * scale + shift
        gamma = np.random.rand(d) + 0.5
        beta = np.random.randn(d)
        if kind == "constant":
            dout = np.ones((n, d)) * np.random.randn(d)
        elif kind == "xhat":
            dout = (x - x.mean(0)) / np.sqrt(x.var(0) + eps) * np.random.randn(d)
        else:
            dout = np.random.randn(n, d)
        expected = _reference(torch, dout, x, gamma, beta, eps)
        # dx is about |dout|·γ/σ: the tolerance follows the gradient's size
        size = float(np.abs(dout).max() * gamma.max() / np.sqrt(x.var(0).min() + eps))
        inputs = (
            f"x: ({n}, {d}) float64, scale {scale:g}, shift {shift:g}; dout: {kind}; "
            f"gamma: rand + 0.5; eps={eps:g}"
        )
        args = (dout.copy(), x.copy(), gamma.copy())
        check.compare(
            name,
            lambda args=args, eps=eps: fn(*args, eps=eps),
            expected,
            inputs=inputs,
            atol=1e-9 * max(1.0, size, float(np.abs(dout).sum(0).max())),
            rtol=1e-7,
            mistakes=_mistakes(np, torch, dout, x, gamma, beta, eps),
        )


def _reference(torch, dout, x, gamma, beta, eps, unbiased=False):
    x_t = torch.tensor(x, requires_grad=True)
    g_t = torch.tensor(gamma, requires_grad=True)
    b_t = torch.tensor(beta, requires_grad=True)
    if unbiased:  # the forward pass of a user who normalized with the N − 1 variance
        mean = x_t.mean(0)
        y = g_t * (x_t - mean) / torch.sqrt(x_t.var(0, unbiased=True) + eps) + b_t
    else:
        y = torch.nn.functional.batch_norm(
            x_t, None, None, g_t, b_t, training=True, momentum=0.0, eps=eps
        )
    y.backward(torch.tensor(dout))
    return x_t.grad.numpy(), g_t.grad.numpy(), b_t.grad.numpy()


def _mistakes(np, torch, dout, x, gamma, beta, eps) -> dict:
    n = x.shape[0]
    mean, var = x.mean(0), x.var(0)
    sigma = np.sqrt(var + eps)
    xhat = (x - mean) / sigma
    dgamma, dbeta = (dout * xhat).sum(0), dout.sum(0)
    unbiased_sigma = np.sqrt(var * n / (n - 1) + eps)
    xhat_u = (x - mean) / unbiased_sigma
    formula_u = (
        gamma / (n * unbiased_sigma) * (n * dout - dout.sum(0) - xhat_u * (dout * xhat_u).sum(0))
    )
    return {
        "the batch mean and variance depend on x too: dx = γ/(Nσ)·(N·dout − Σdout − "
        "x̂·Σ(dout·x̂)), not dout·γ/σ": (dout * gamma / sigma, dgamma, dbeta),
        "the variance's path is missing: besides − mean(dout), dx has the term "
        "− x̂·mean(dout·x̂) (times γ/σ)": (
            gamma / sigma * (dout - dout.mean(0)),
            dgamma,
            dbeta,
        ),
        "this differentiates BN with the unbiased variance (N − 1): training-mode BN "
        "normalizes with the biased one (divide by N)": _reference(
            torch, dout, x, gamma, beta, eps, unbiased=True
        ),
        "this plugs the unbiased variance (N − 1) into the formula: training-mode BN "
        "normalizes with the biased one (divide by N)": (
            formula_u,
            (dout * xhat_u).sum(0),
            dbeta,
        ),
        "dgamma is Σ dout·x̂ over the batch (x̂ the normalized input), not Σ dout": (
            gamma / (n * sigma) * (n * dout - dout.sum(0) - xhat * (dout * xhat).sum(0)),
            dbeta,
            dbeta,
        ),
    }
