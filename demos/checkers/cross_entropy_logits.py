"""Softmax cross-entropy from logits in numpy: the mean loss and its gradient (p − onehot)/N

Checks ``cross_entropy(logits, targets)`` -> ``(loss, dlogits)`` for logits of
shape (N, C) and integer class targets of shape (N,), against
``torch.nn.functional.cross_entropy`` (mean reduction) and autograd's gradient
of it with respect to the logits, in float64 (atol 1e-10, rtol 1e-10).

Cases: random logits (8, 5); a target whose logit is 60 below the others
(probability ~e^-60: −log p must come out as ~60, which clipping p or adding an
eps to it breaks); logits of ±1000 (exp overflows unless the max is
subtracted, and the target's probability underflows to 0); a batch of one;
two classes; all logits equal (loss log C); a larger batch (32, 10); and the logits array
left unmodified by the call.

Recognized mistakes: the gradient not divided by N, the loss summed while the
gradient is averaged (or both summed: sum reduction), the gradient's sign
flipped (onehot − p), and a softmax applied to the logits before the loss (the
double softmax, with either gradient).
"""

from __future__ import annotations

FUNCTION = "cross_entropy"

# name, N, C, values
CASES = [
    ("random logits (8, 5)", 8, 5, "normal"),
    ("a target with probability ~0 (its logit 60 below)", 4, 3, "unlikely"),
    ("large logits (±1000)", 6, 4, "large"),
    ("batch of one (N=1)", 1, 6, "normal"),
    ("two classes (C=2)", 7, 2, "normal"),
    ("all logits equal (loss = log C)", 5, 4, "equal"),
    ("random logits (32, 10)", 32, 10, "normal"),
]

HINTS = {
    "large": "exp(1000) overflows and e^-2000 underflows: compute the loss as "
    "logsumexp(z) − z[target] with the max subtracted inside the logsumexp",
    "unlikely": "−log p for p ≈ e^-60 must be ≈ 60: do not clip p or add an eps to it; "
    "use log-softmax, z[target] − logsumexp(z), which needs no log of a probability",
}


def run(check, fn) -> None:
    np, torch = check.np, check.torch
    for k, (name, n, c, values) in enumerate(CASES):
        check.reseed(k)
        z, t = _inputs(np, n, c, values)
        expected = _reference(torch, z, t)
        check.compare(
            name,
            lambda z=z, t=t: fn(z.copy(), t.copy()),
            expected,
            inputs=f"logits: ({n}, {c}) float64 ({_describe(values)}); targets: {t.tolist()}",
            atol=1e-10,
            rtol=1e-10,
            mistakes=_mistakes(np, torch, z, t),
            hint=HINTS.get(values, ""),
        )
    check.reseed(len(CASES))
    z, t = _inputs(np, 4, 3, "normal")
    before = z.copy()
    error = ""
    try:
        fn(z, t)
    except Exception as exc:  # reported by the cases above already; here only z matters
        error = f" (the call raised {type(exc).__name__})"
    same = bool(np.array_equal(z, before))
    check.holds(
        "logits left unchanged",
        same,
        inputs="logits: (4, 3) float64 standard normal",
        expected="the logits array unchanged after the call",
        got=("unchanged" if same else "the logits were modified in place") + error,
        hint="write z = logits - logits.max(axis=1, keepdims=True), not logits -= ...: "
        "the caller's array must not change",
    )


def _inputs(np, n, c, values):
    t = np.random.randint(0, c, size=n)
    if values == "large":
        z = np.random.uniform(-1000.0, 1000.0, size=(n, c))
        z[0, :] = -1000.0
        z[0, (t[0] + 1) % c] = 1000.0  # target 2000 below the max
    elif values == "unlikely":
        z = np.random.randn(n, c)
        z[np.arange(n), t] -= 60.0
    elif values == "equal":
        z = np.full((n, c), 2.0)
    else:
        z = np.random.randn(n, c) * 2.0
    return z, t.astype(np.int64)


def _describe(values: str) -> str:
    return {
        "normal": "standard normal × 2",
        "large": "uniform in ±1000",
        "unlikely": "standard normal, the target's logit lowered by 60",
        "equal": "every logit 2.0",
    }[values]


def _reference(torch, z, t):
    zt = torch.tensor(z, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(zt, torch.from_numpy(t))
    loss.backward()
    return loss.detach().numpy(), zt.grad.numpy()


def _mistakes(np, torch, z, t) -> dict:
    n, c = z.shape
    loss, grad = _reference(torch, z, t)
    p = torch.softmax(torch.from_numpy(z), dim=1).numpy()
    onehot = np.eye(c)[t]
    double_loss, double_grad = _reference(torch, p, t)  # CE of the probabilities
    pp = torch.softmax(torch.from_numpy(p), dim=1).numpy()
    return {
        "the gradient of the MEAN loss is (softmax − onehot)/N: divide the gradient by N too": (
            loss,
            p - onehot,
        ),
        "the loss is summed but the gradient averaged: with mean reduction both are divided by N": (
            loss * n,
            grad,
        ),
        "this is the summed loss and its gradient: F.cross_entropy averages over the batch "
        "(divide the loss and the gradient by N)": (loss * n, grad * n),
        "the gradient's sign is flipped: dL/dz = softmax(z) − onehot, not onehot − softmax(z)": (
            loss,
            -grad,
        ),
        "this takes the softmax of probabilities (a double softmax): the loss must be "
        "computed from the raw logits": (double_loss, double_grad),
        "this takes the softmax of probabilities (a double softmax): the loss must be "
        "computed from the raw logits, and its gradient is (softmax(z) − onehot)/N": (
            double_loss,
            (pp - onehot) / n,
        ),
    }
