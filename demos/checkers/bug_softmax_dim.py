"""Bug hunt: class probabilities from a batch of logits, softmax over the right dimension

Checks ``class_probabilities(logits)`` -> probabilities of shape (N, C) for a
torch tensor of logits of shape (N, C): each row (one sample) must sum to 1 and
equal ``torch.softmax(logits, dim=1)`` (float64: atol 1e-12, rtol 1e-10;
float32: 1e-6). Batches are non-square (4×6, 1×5, 3×2, 8×10), so a softmax over
dim=0 (across the batch) is the right shape with the wrong numbers; one square
batch (5×5) catches a sum without keepdim that broadcasts silently. Logits of
±1000 catch a hand-written exp/sum without the max.

Recognized mistakes: softmax over dim=0 (the starter's bug: each column sums to
1), a sigmoid per class (rows do not sum to 1), one normalization over the
whole batch, a row sum without keepdim (divides by the wrong row's sum), and
exp without the max subtracted (nan at ±1000).
"""

from __future__ import annotations

FUNCTION = "class_probabilities"

# name, N, C, values
CASES = [
    ("non-square batch (4, 6)", 4, 6, "normal"),
    ("batch of one (1, 5)", 1, 5, "normal"),
    ("square batch (5, 5)", 5, 5, "normal"),
    ("two classes (3, 2)", 3, 2, "normal"),
    ("large logits (±1000, one row 2000 lower)", 4, 3, "large"),
    ("float32 logits (8, 10)", 8, 10, "float32"),
]


def run(check, fn) -> None:
    torch = check.torch
    for k, (name, n, c, values) in enumerate(CASES):
        check.reseed(k)
        if values == "large":
            z = torch.rand(n, c, dtype=torch.float64) * 2000 - 1000
            z[-1] -= 2000.0  # a row far below the others: the max is taken per row
        else:
            z = torch.randn(n, c, dtype=torch.float64) * 2.0
        if values == "float32":
            z = z.float()
        single = z.dtype == torch.float32
        check.compare(
            name,
            lambda z=z: fn(z.clone()),
            torch.softmax(z, dim=1),
            inputs=f"logits: ({n}, {c}) {str(z.dtype).replace('torch.', '')} "
            f"({'uniform in ±1000' if values == 'large' else 'standard normal × 2'})",
            atol=1e-6 if single else 1e-12,
            rtol=1e-6 if single else 1e-10,
            mistakes=_mistakes(torch, z.double()),
            hint="exp(1000) overflows: torch.softmax subtracts the max for you"
            if values == "large"
            else "",
        )

    check.reseed(100)
    z = torch.randn(4, 6, dtype=torch.float64) * 2.0
    sums = _row_sums(torch, fn, z)
    check.holds(
        "each row sums to 1 (4, 6)",
        isinstance(sums, list) and all(abs(s - 1.0) < 1e-9 for s in sums),
        inputs="logits: (4, 6) float64 standard normal × 2",
        expected="4 row sums, each 1",
        got=str(sums)
        if isinstance(sums, str)
        else "row sums " + ", ".join(f"{s:.4g}" for s in sums),
        hint="each row is one sample's distribution over the C classes: it must sum to 1 "
        "(softmax over dim=1)",
    )


def _row_sums(torch, fn, z):
    try:
        out = fn(z.clone())
        out = torch.as_tensor(out).double()
        if out.shape != z.shape:
            return f"shape {tuple(out.shape)}, expected {tuple(z.shape)}"
        return [float(s) for s in out.sum(dim=1)]
    except Exception as exc:  # the cases above show where the code raised
        return f"the call raised {type(exc).__name__}: {exc}"


def _mistakes(torch, z) -> dict:
    e = torch.exp(z)
    out = {
        "softmax over dim=0 normalizes each class across the batch: a sample's "
        "probabilities are its row, softmax(logits, dim=1)": torch.softmax(z, dim=0),
        "a sigmoid scores each class independently and the rows do not sum to 1: "
        "use softmax over dim=1": torch.sigmoid(z),
        "this normalizes over the whole batch at once: each row must sum to 1 "
        "(softmax over dim=1)": e / e.sum(),
        "exp(z) without subtracting the max overflows: use torch.softmax(logits, dim=1)": e
        / e.sum(dim=1, keepdim=True),
    }
    if z.shape[0] == z.shape[1]:  # otherwise (N, C) / (N,) does not broadcast at all
        out[
            "the row sums need keepdim=True: without it (N,) broadcasts along the columns, "
            "so each entry is divided by another row's sum"
        ] = e / e.sum(dim=1)
    return out
