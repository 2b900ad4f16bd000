"""One Adam or AdamW step in numpy, bias correction and both kinds of weight decay, as torch.optim

Checks ``adam_step(param, grad, m, v, t, lr, betas, eps, weight_decay=0.0,
decoupled=False)`` -> ``(param, m, v)``, with t the step number (1 on the first
step) and m, v the raw moment estimates (PyTorch's exp_avg and exp_avg_sq,
zeros before step 1). The checker runs it for 5 steps, feeding back what it
returned, against ``torch.optim.Adam`` (decoupled=False: weight decay λ·p added
to the gradient, L2) and ``torch.optim.AdamW`` (decoupled=True: p ← p·(1 − lr·λ)
first), in float64 (atol 1e-12, rtol 1e-10). Compared: the parameter after
each step, and m and v after the last.

Cases: Adam with the defaults; tiny gradients (|g| ~ 1e-6, where eps matters);
Adam with weight decay 0.1; AdamW with weight decay 0.1; betas (0.5, 0.9) at
lr 0.1; one element with gradients ~1e4 (Adam's step does not grow with the
gradient); AdamW with a strong decay (0.5) on a (2, 3) parameter.

Recognized mistakes: no bias correction (or only on m), eps inside the square
root, AdamW's decay applied as L2 (added to the gradient), Adam's L2 applied
as a decoupled decay, the decoupled decay without the lr factor (p·(1 − λ)) or
applied after the update, and m and v stored bias-corrected.
"""

from __future__ import annotations

FUNCTION = "adam_step"

STEPS = 5
# name, shape, grad scale, lr, betas, eps, weight decay, decoupled
CASES = [
    ("Adam, 5 steps (the defaults)", (10,), 1.0, 1e-3, (0.9, 0.999), 1e-8, 0.0, False),
    ("tiny gradients (|g| ~ 1e-6)", (8,), 1e-6, 1e-3, (0.9, 0.999), 1e-8, 0.0, False),
    ("Adam, weight decay 0.1 (L2)", (10,), 1.0, 1e-2, (0.9, 0.999), 1e-8, 0.1, False),
    ("AdamW, weight decay 0.1 (decoupled)", (10,), 1.0, 1e-2, (0.9, 0.999), 1e-8, 0.1, True),
    ("betas (0.5, 0.9), lr 0.1, (3, 4)", (3, 4), 1.0, 0.1, (0.5, 0.9), 1e-8, 0.0, False),
    ("one element, gradients ~1e4", (1,), 1e4, 1e-3, (0.9, 0.999), 1e-8, 0.0, False),
    ("AdamW, weight decay 0.5, (2, 3)", (2, 3), 1.0, 0.05, (0.9, 0.99), 1e-8, 0.5, True),
]


def warm() -> None:
    """Called while the card is on screen: the first torch.optim optimizer of a process
    imports torch._dynamo (about 1.5 s), which would otherwise delay the verdict."""
    import torch

    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)


def run(check, fn) -> None:
    np, torch = check.np, check.torch
    for k, (name, shape, scale, lr, betas, eps, wd, decoupled) in enumerate(CASES):
        check.reseed(k)
        param = np.random.randn(*shape)
        grads = [np.random.randn(*shape) * scale for _ in range(STEPS)]
        expected = _reference(torch, param, grads, lr, betas, eps, wd, decoupled)
        config = dict(lr=lr, betas=betas, eps=eps, weight_decay=wd, decoupled=decoupled)
        check.compare(
            name,
            lambda p=param, g=grads, c=config: _steps(np, fn, p, g, c),
            expected,
            inputs=(
                f"param {shape} float64 standard normal, fresh gradients each step "
                f"(standard normal × {scale:g}); m = v = zeros, t = 1..{STEPS}; lr={lr:g}, "
                f"betas={betas}, eps={eps:g}, weight_decay={wd:g}, decoupled={decoupled}; "
                f"compared: the param after each step (one row per step), then m and v "
                f"after step {STEPS}"
            ),
            atol=1e-12,
            rtol=1e-10,
            mistakes=_mistakes(np, param, grads, config),
        )


def _steps(np, fn, param, grads, config):
    p = param.copy()
    m, v = np.zeros_like(p), np.zeros_like(p)
    rows = []
    for t in range(1, STEPS + 1):
        out = fn(p.copy(), grads[t - 1].copy(), m.copy(), v.copy(), t, **config)
        if not (isinstance(out, (tuple, list)) and len(out) == 3):
            raise TypeError(f"adam_step must return (param, m, v), not {type(out).__name__}")
        p, m, v = (np.asarray(a, dtype=np.float64) for a in out)
        rows.append(p.reshape(-1))
    return np.stack(rows), m, v


def _reference(torch, param, grads, lr, betas, eps, wd, decoupled):
    tensor = torch.tensor(param.copy(), requires_grad=True)
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    opt = cls([tensor], lr=lr, betas=betas, eps=eps, weight_decay=wd)
    rows = []
    for g in grads:
        tensor.grad = torch.tensor(g.copy())
        opt.step()
        rows.append(tensor.detach().reshape(-1).clone())
    state = opt.state[tensor]
    return (
        torch.stack(rows).numpy(),
        state["exp_avg"].detach().numpy().copy(),
        state["exp_avg_sq"].detach().numpy().copy(),
    )


def _simulate(np, param, grads, config, variant):
    lr, (b1, b2), eps = config["lr"], config["betas"], config["eps"]
    wd, decoupled = config["weight_decay"], config["decoupled"]
    if variant == "as_l2":
        decoupled = False
    elif variant == "as_decoupled":
        decoupled = True
    p = param.copy()
    m, v = np.zeros_like(p), np.zeros_like(p)
    rows = []
    for t, g in enumerate(grads, start=1):
        if decoupled and variant != "decay_after":
            p = p * (1 - (wd if variant == "decay_no_lr" else lr * wd))
        elif not decoupled:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        c1 = 1.0 if variant == "no_correction" else 1 - b1**t
        c2 = 1.0 if variant in ("no_correction", "m_only") else 1 - b2**t
        mh, vh = m / c1, v / c2
        denom = np.sqrt(vh + eps) if variant == "eps_inside" else np.sqrt(vh) + eps
        p = p - lr * mh / denom
        if variant == "decay_after" and decoupled:
            p = p * (1 - lr * wd)
        if variant == "store_corrected":
            m, v = mh, vh
        rows.append(p.reshape(-1))
    return np.stack(rows), m, v


def _mistakes(np, param, grads, config) -> dict:
    def sim(variant):
        return _simulate(np, param, grads, config, variant)

    out = {
        "no bias correction: divide m by 1 − β1^t and v by 1 − β2^t (with m = v = 0 at the "
        "start, the first steps are otherwise far too small or too large)": sim("no_correction"),
        "v is not bias-corrected: use m̂ = m/(1 − β1^t) AND v̂ = v/(1 − β2^t)": sim("m_only"),
        "eps is inside the square root: PyTorch divides by √v̂ + eps": sim("eps_inside"),
        "m and v are stored bias-corrected: keep the raw averages as the state and correct "
        "a copy for the step": sim("store_corrected"),
    }
    if config["weight_decay"]:
        if config["decoupled"]:
            out[
                "AdamW's decay is applied as L2 (added to the gradient): decoupled decay "
                "shrinks the parameter, p ← p·(1 − lr·λ), outside m and v"
            ] = sim("as_l2")
            out["the decoupled decay is p ← p·(1 − lr·λ): it is scaled by the lr"] = sim(
                "decay_no_lr"
            )
            out[
                "the decoupled decay comes first in PyTorch: p ← p·(1 − lr·λ), then the Adam step"
            ] = sim("decay_after")
        else:
            out[
                "torch.optim.Adam's weight_decay is L2: add λ·p to the gradient (it then "
                "enters m and v); the decoupled decay is AdamW's"
            ] = sim("as_decoupled")
    return out
