"""Label-smoothed cross-entropy in numpy, with PyTorch's convention: ε/K to every class

Checks ``label_smoothed_cross_entropy(logits, targets, eps)`` -> the mean loss,
against ``torch.nn.functional.cross_entropy(logits, targets,
label_smoothing=eps)`` in float64 (atol 1e-10, rtol 1e-10). PyTorch's target
is q = (1 − ε)·onehot(y) + ε/K over all K classes (the true class gets
1 − ε + ε/K), so the loss is (1 − ε)·(−log p_y) + ε·mean_k(−log p_k).

Cases: ε = 0.1 with K = 5; two classes with ε = 0.2; ε = 0 (plain
cross-entropy); a batch of one with K = 10; logits of ±1000 (the smoothing term
needs log p of EVERY class, so log(softmax) gives −inf there); ε = 1 (a
uniform target); a larger batch with ε = 0.3.

Recognized mistakes: ε/(K − 1) spread over the other classes only (another
convention, not PyTorch's), smoothing the predicted probabilities instead of
the target (−log((1 − ε)·p_y + ε/K)), ε ignored, the weights swapped
(ε·onehot + (1 − ε)/K), the true class given 1 − ε without its ε/K share, and
the sum instead of the mean.
"""

from __future__ import annotations

FUNCTION = "label_smoothed_cross_entropy"

# name, N, K, eps, values
CASES = [
    ("ε = 0.1, K = 5, (8, 5)", 8, 5, 0.1, "normal"),
    ("two classes (K = 2), ε = 0.2", 6, 2, 0.2, "normal"),
    ("ε = 0 (plain cross-entropy)", 5, 4, 0.0, "normal"),
    ("batch of one, K = 10, ε = 0.1", 1, 10, 0.1, "normal"),
    ("large logits (±1000, one row 2000 lower), ε = 0.1", 4, 3, 0.1, "large"),
    ("ε = 1 (a uniform target)", 5, 4, 1.0, "normal"),
    ("random logits (16, 7), ε = 0.3", 16, 7, 0.3, "normal"),
]

LOG_SOFTMAX = "z − m − log Σ exp(z − m) with m = max(z) per row"


def run(check, fn) -> None:
    np, torch = check.np, check.torch
    for k, (name, n, c, eps, values) in enumerate(CASES):
        check.reseed(k)
        t = np.random.randint(0, c, size=n).astype(np.int64)
        if values == "large":
            z = np.random.uniform(-1000.0, 1000.0, size=(n, c))
            z[-1] -= 2000.0  # a row far below the others: the max is taken per row
        else:
            z = np.random.randn(n, c) * 2.0
        expected = torch.nn.functional.cross_entropy(
            torch.from_numpy(z.copy()), torch.from_numpy(t.copy()), label_smoothing=eps
        ).numpy()
        check.compare(
            name,
            lambda z=z, t=t, eps=eps: fn(z.copy(), t.copy(), eps),
            expected,
            inputs=(
                f"logits: ({n}, {c}) float64 "
                f"({'uniform in ±1000' if values == 'large' else 'standard normal × 2'}); "
                f"targets: {t.tolist()}; eps={eps}"
            ),
            atol=1e-10,
            rtol=1e-10,
            mistakes=_mistakes(np, z, t, eps),
            hint=(
                "every class's log-probability enters the smoothed loss, and e^-2000 "
                f"underflows: take log-probabilities as {LOG_SOFTMAX}, never log(softmax)"
                if values == "large"
                else ""
            ),
        )


def _mistakes(np, z, t, eps) -> dict:
    n, c = z.shape
    m = z.max(axis=1, keepdims=True)
    logp = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    onehot = np.eye(c)[t]

    def ce(q):
        return float(np.mean(-(q * logp).sum(axis=1)))

    p = np.exp(logp)
    out = {
        "this spreads ε/(K − 1) over the other classes only; PyTorch gives every class ε/K, "
        "the true one included: q = (1 − ε)·onehot + ε/K": ce(
            (1 - eps) * onehot + eps / max(c - 1, 1) * (1 - onehot)
        ),
        "this smooths the predicted probabilities; label smoothing smooths the TARGET: "
        "loss = (1 − ε)·(−log p_y) + ε·mean_k(−log p_k)": float(
            np.mean(-np.log((1 - eps) * p[np.arange(n), t] + eps / c))
        ),
        "ε is ignored: this is the plain cross-entropy": ce(onehot),
        "the weights are swapped: the target is (1 − ε)·onehot + ε/K, not ε·onehot + (1 − ε)/K": (
            ce(eps * onehot + (1 - eps) / c)
        ),
        "the true class also gets its ε/K share: q = (1 − ε)·onehot + ε/K for EVERY class "
        "(the true one gets 1 − ε + ε/K)": ce((1 - eps) * onehot + eps / c * (1 - onehot)),
        "this is the sum over the batch: F.cross_entropy averages (mean reduction)": (
            ce((1 - eps) * onehot + eps / c) * n
        ),
    }
    return out
