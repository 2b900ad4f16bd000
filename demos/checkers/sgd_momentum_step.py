"""One step of SGD with momentum, weight decay and Nesterov, exactly as torch.optim.SGD does it

Checks ``sgd_momentum_step(params, grads, velocities, lr, momentum,
weight_decay=0.0, nesterov=False)`` -> ``(new_params, new_velocities)``, where
params, grads and velocities are lists of numpy arrays (velocities holds None
before the first step). The checker calls it for 3 steps, feeding back what it
returned, and compares the parameters after every step with
``torch.optim.SGD`` (dampening 0) run on the same tensors and gradients, in
float64 (atol 1e-12, rtol 1e-10). PyTorch's rule: g ← g + λ·p; b ← g on the
first step, then b ← μ·b + g; p ← p − lr·b, or with Nesterov p ← p − lr·(g + μ·b).

Cases: momentum 0.9 over 3 steps; weight decay; Nesterov; Nesterov with weight
decay; a learning rate that changes between steps (0.1, 0.03, 0.01), where
Sutskever's form v ← μ·v − lr·g, p ← p + v (p + μ·v − lr·g with Nesterov)
stops agreeing with PyTorch's; momentum 0 (plain SGD); odd shapes ((1,) and
(2, 3, 2)); and, last, the returned velocities, which must be PyTorch's
momentum buffers.

Recognized mistakes: Sutskever's form (equal only at a constant lr), weight
decay added after the momentum instead of to the gradient, Nesterov ignored,
an EMA buffer b ← μ·b + (1 − μ)·g (dampening = μ), the buffer started at zero
with dampening, and the Nesterov look-ahead taken with the old buffer.
"""

from __future__ import annotations

FUNCTION = "sgd_momentum_step"

STEPS = 3
# name, shapes, lrs per step, momentum, weight decay, nesterov
CASES = [
    ("momentum 0.9, 3 steps", [(3, 4), (5,)], [0.1] * 3, 0.9, 0.0, False),
    ("weight decay 0.01", [(3, 4), (5,)], [0.1] * 3, 0.9, 0.01, False),
    ("nesterov", [(3, 4), (5,)], [0.1] * 3, 0.9, 0.0, True),
    ("nesterov with weight decay 0.01", [(4, 2)], [0.05] * 3, 0.8, 0.01, True),
    (
        "lr changes between steps (0.1, 0.03, 0.01)",
        [(3, 4), (5,)],
        [0.1, 0.03, 0.01],
        0.9,
        0.0,
        False,
    ),
    ("momentum 0 (plain SGD)", [(6,)], [0.1] * 3, 0.0, 0.0, False),
    ("odd shapes (1,) and (2, 3, 2)", [(1,), (2, 3, 2)], [0.2] * 3, 0.5, 0.001, False),
]


def warm() -> None:
    """Called while the card is on screen: the first torch.optim optimizer of a process
    imports torch._dynamo (about 1.5 s), which would otherwise delay the verdict."""
    import torch

    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)


def run(check, fn) -> None:
    np, torch = check.np, check.torch
    for k, (name, shapes, lrs, mu, wd, nesterov) in enumerate(CASES):
        check.reseed(k)
        params = [np.random.randn(*s) for s in shapes]
        grads = [[np.random.randn(*s) for s in shapes] for _ in range(STEPS)]
        ref_params, _ = _reference(torch, params, grads, lrs, mu, wd, nesterov)
        check.compare(
            name,
            lambda p=params, g=grads, lrs=lrs, mu=mu, wd=wd, n=nesterov: _steps(
                np, fn, p, g, lrs, mu, wd, n
            )[0],
            ref_params,
            inputs=_inputs(shapes, lrs, mu, wd, nesterov),
            atol=1e-12,
            rtol=1e-10,
            mistakes={
                hint: trajectory[0]
                for hint, trajectory in _mistakes(np, params, grads, lrs, mu, wd, nesterov).items()
            },
        )
    # last: the velocities themselves are PyTorch's momentum buffers
    check.reseed(len(CASES))
    shapes, lrs, mu, wd = [(3, 4), (5,)], [0.1, 0.03, 0.01], 0.9, 0.01
    params = [np.random.randn(*s) for s in shapes]
    grads = [[np.random.randn(*s) for s in shapes] for _ in range(STEPS)]
    _, ref_buffers = _reference(torch, params, grads, lrs, mu, wd, False)
    check.compare(
        "velocities are PyTorch's momentum buffers (after 3 steps)",
        lambda: _steps(np, fn, params, grads, lrs, mu, wd, False)[1],
        ref_buffers,
        inputs=_inputs(shapes, lrs, mu, wd, False) + "; compared: the velocities returned",
        atol=1e-12,
        rtol=1e-10,
        mistakes={
            hint: trajectory[1]
            for hint, trajectory in _mistakes(np, params, grads, lrs, mu, wd, False).items()
        },
        hint="return the buffer b = μ·b + (g + λ·p), PyTorch's state['momentum_buffer'], "
        "not lr·b or the step taken",
    )


def _inputs(shapes, lrs, mu, wd, nesterov) -> str:
    shown = ", ".join(str(s) for s in shapes)
    return (
        f"params {shown} float64 standard normal, fresh standard normal grads each step; "
        f"lr per step {lrs}, momentum={mu}, weight_decay={wd}, nesterov={nesterov}; "
        f"velocities=[None, ...] on step 1; compared: the parameters after each of the "
        f"{STEPS} steps, flattened into one row per step"
    )


def _flat(np, arrays):
    return np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays])


def _steps(np, fn, params, grads, lrs, mu, wd, nesterov):
    """Run the user's step STEPS times on its own returned state: (trajectory, velocities)."""
    current = [p.copy() for p in params]
    velocities = [None] * len(params)
    rows = []
    for step in range(STEPS):
        out = fn(
            [p.copy() for p in current],
            [g.copy() for g in grads[step]],
            velocities,
            lr=lrs[step],
            momentum=mu,
            weight_decay=wd,
            nesterov=nesterov,
        )
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError(
                "sgd_momentum_step must return (new_params, new_velocities), two lists, "
                f"not {type(out).__name__}"
            )
        new_params, velocities = out
        if len(new_params) != len(params) or len(velocities) != len(params):
            raise TypeError(
                f"expected {len(params)} parameters and {len(params)} velocities back, got "
                f"{len(new_params)} and {len(velocities)}"
            )
        current = [np.asarray(p, dtype=np.float64) for p in new_params]
        rows.append(_flat(np, current))
    kept = [
        np.zeros(np.shape(p)) if v is None else v for v, p in zip(velocities, params, strict=True)
    ]
    return np.stack(rows), _flat(np, kept)


def _reference(torch, params, grads, lrs, mu, wd, nesterov):
    tensors = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    opt = torch.optim.SGD(tensors, lr=lrs[0], momentum=mu, weight_decay=wd, nesterov=nesterov)
    rows = []
    for step in range(STEPS):
        opt.param_groups[0]["lr"] = lrs[step]
        for t, g in zip(tensors, grads[step], strict=True):
            t.grad = torch.tensor(g.copy())
        opt.step()
        rows.append(torch.cat([t.detach().reshape(-1) for t in tensors]).numpy().copy())
    buffers = []
    for t in tensors:
        buf = opt.state[t].get("momentum_buffer")
        buffers.append((buf if buf is not None else torch.zeros_like(t)).detach().reshape(-1))
    trajectory = torch.stack([torch.from_numpy(r) for r in rows]).numpy()
    return trajectory, torch.cat(buffers).numpy().copy()


def _simulate(np, params, grads, lrs, mu, wd, nesterov, variant):
    """A wrong (or right) update rule run for STEPS steps: (trajectory, velocities)."""
    ps = [p.copy() for p in params]
    vs = [None] * len(ps)
    rows = []
    for step in range(STEPS):
        lr = lrs[step]
        for i, (p, g) in enumerate(zip(ps, grads[step], strict=True)):
            v = vs[i]
            if variant == "sutskever":  # Nesterov in this form: p + μ·v − lr·g
                g = g + wd * p
                v = mu * (0 if v is None else v) - lr * g
                ps[i] = p + mu * v - lr * g if nesterov else p + v
            elif variant == "decay_after":
                v = g.copy() if v is None else mu * v + g
                step_dir = (g + mu * v) if nesterov else v
                ps[i] = p - lr * (step_dir + wd * p)
            elif variant == "ema":
                g = g + wd * p
                v = g.copy() if v is None else mu * v + (1 - mu) * g
                ps[i] = p - lr * ((g + mu * v) if nesterov else v)
            elif variant == "zero_start_dampened":
                g = g + wd * p
                v = mu * (0 if v is None else v) + (1 - mu) * g
                ps[i] = p - lr * ((g + mu * v) if nesterov else v)
            elif variant == "nesterov_old_buffer":
                g = g + wd * p
                old = np.zeros_like(g) if v is None else v
                v = g.copy() if v is None else mu * v + g
                ps[i] = p - lr * (g + mu * old)
            else:  # "plain": PyTorch's rule, nesterov as given
                g = g + wd * p
                v = g.copy() if v is None else mu * v + g
                ps[i] = p - lr * ((g + mu * v) if nesterov else v)
            vs[i] = v
        rows.append(_flat(np, ps))
    return np.stack(rows), _flat(
        np, [np.zeros_like(p) if v is None else v for v, p in zip(vs, ps, strict=True)]
    )


def _mistakes(np, params, grads, lrs, mu, wd, nesterov) -> dict:
    def sim(variant, nest=nesterov):
        return _simulate(np, params, grads, lrs, mu, wd, nest, variant)

    out = {}
    if nesterov:
        out[
            "nesterov is ignored: with nesterov=True PyTorch steps by g + μ·b (the new "
            "buffer), not by b"
        ] = sim("plain", False)
        out[
            "the Nesterov look-ahead uses the old buffer: PyTorch first updates b = μ·b + g, "
            "then steps by g + μ·b"
        ] = sim("nesterov_old_buffer")
    out |= {
        "this is Sutskever's form v = μ·v − lr·g, p = p + v: it equals PyTorch's only while lr "
        "is constant. PyTorch keeps b = μ·b + g and steps p −= lr·b": sim("sutskever"),
        "weight decay is added after the momentum: PyTorch adds λ·p to the gradient FIRST, "
        "so the decay enters the momentum buffer": sim("decay_after"),
        "the buffer is an EMA (μ·b + (1 − μ)·g): PyTorch's default has no dampening, "
        "b = μ·b + g": sim("ema"),
        "the buffer started at 0 with a (1 − μ)·g term: PyTorch's first buffer is the "
        "gradient itself, then b = μ·b + g": sim("zero_start_dampened"),
    }
    return out
