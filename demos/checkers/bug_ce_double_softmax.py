"""Bug hunt: a classification loss that applies softmax before F.cross_entropy

Checks ``loss_fn(logits, targets)`` -> a scalar tensor, for torch logits of shape
(N, C) and int64 class targets, against ``torch.nn.functional.cross_entropy``
on the raw logits (mean reduction). Each case calls the user's function on a
tensor that requires grad, backpropagates its result, and compares both the
loss and the logits' gradient with autograd's on the reference (float64: atol
1e-10, rtol 1e-10; float32: 1e-5).

Cases: random logits (8, 5); a batch of one; two classes; logits of ±1000
(where log(softmax) gives −inf); confident logits (±20, where the double
softmax's gradient all but vanishes); float32 logits (16, 10).

Recognized mistakes: the softmax before cross_entropy (the starter's bug:
cross_entropy applies log_softmax itself), nll_loss on probabilities instead of
log-probabilities, and the summed loss instead of the mean.
"""

from __future__ import annotations

FUNCTION = "loss_fn"

# name, N, C, values
CASES = [
    ("random logits (8, 5)", 8, 5, "normal"),
    ("batch of one (N=1)", 1, 6, "normal"),
    ("two classes (C=2)", 7, 2, "normal"),
    ("large logits (±1000)", 6, 4, "large"),
    ("confident logits (±20)", 8, 5, "confident"),
    ("float32 logits (16, 10)", 16, 10, "float32"),
]


def run(check, fn) -> None:
    np, torch = check.np, check.torch
    F = torch.nn.functional
    for k, (name, n, c, values) in enumerate(CASES):
        check.reseed(k)
        z, t = _inputs(torch, n, c, values)
        single = z.dtype == torch.float32
        check.compare(
            name,
            lambda z=z, t=t: _loss_and_grad(torch, fn, z, t),
            _loss_and_grad(torch, F.cross_entropy, z, t),
            inputs=f"logits: ({n}, {c}) {str(z.dtype).replace('torch.', '')} "
            f"({_describe(values)}); targets: {t.tolist()}; compared: the loss, then the "
            "logits' gradient after loss.backward()",
            atol=1e-5 if single else 1e-10,
            rtol=1e-5 if single else 1e-10,
            mistakes=_mistakes(np, torch, z, t),
            hint="log(softmax(z)) underflows to −inf at large logits: pass the raw logits to "
            "F.cross_entropy, which computes log_softmax stably"
            if values == "large"
            else "",
        )


def _inputs(torch, n, c, values):
    t = torch.randint(0, c, (n,))
    if values == "large":
        z = torch.rand(n, c, dtype=torch.float64) * 2000 - 1000
    elif values == "confident":
        z = torch.randn(n, c, dtype=torch.float64).sign() * 20.0
    else:
        z = torch.randn(n, c, dtype=torch.float64) * 2.0
    if values == "float32":
        z = z.float()
    return z, t


def _describe(values: str) -> str:
    return {
        "normal": "standard normal × 2",
        "large": "uniform in ±1000",
        "confident": "each ±20",
        "float32": "standard normal × 2",
    }[values]


def _loss_and_grad(torch, fn, z, t):
    leaf = z.detach().clone().requires_grad_(True)
    loss = fn(leaf, t.clone())
    if not isinstance(loss, torch.Tensor) or loss.grad_fn is None:
        raise TypeError(
            "loss_fn must return a torch tensor that autograd can backpropagate through "
            f"(got {type(loss).__name__}{'' if not isinstance(loss, torch.Tensor) else ' with no grad_fn'})"
        )
    if loss.numel() != 1:
        raise TypeError(
            f"loss_fn must return one number, not a tensor of shape {tuple(loss.shape)}"
        )
    loss.backward()
    grad = leaf.grad if leaf.grad is not None else torch.zeros_like(leaf)
    return loss.detach().double().reshape(()).numpy(), grad.double().numpy()


def _mistakes(np, torch, z, t) -> dict:
    F = torch.nn.functional
    return {
        "F.cross_entropy already applies log_softmax: a softmax before it squashes the "
        "logits twice. Pass the raw logits": _loss_and_grad(
            torch, lambda x, y: F.cross_entropy(torch.softmax(x, dim=1), y), z, t
        ),
        "nll_loss expects LOG-probabilities: this feeds it probabilities (use "
        "F.cross_entropy on the logits)": _loss_and_grad(
            torch, lambda x, y: F.nll_loss(torch.softmax(x, dim=1), y), z, t
        ),
        "this is the summed loss: F.cross_entropy averages over the batch by default": (
            _loss_and_grad(torch, lambda x, y: F.cross_entropy(x, y, reduction="sum"), z, t)
        ),
    }
