"""A plain SGD training loop: the parameters after k steps

Checks ``train(model, data, steps, lr)``, which must run ``steps`` steps of
``torch.optim.SGD(model.parameters(), lr=lr)`` (no momentum, no weight decay)
on the mean-squared-error loss ``nn.MSELoss()(model(x), y)``, step t using the
batch ``data[t % len(data)]``, and leave the trained parameters in ``model``.
The reference is the textbook loop (zero_grad, forward, loss, backward, step)
run here on a deep copy of the same float64 model with the same data; the
user's parameters after the call are compared with its parameters, flattened
and concatenated, at atol 1e-10.

Cases: a linear model after 1 step, after 5 steps over 3 batches, one batch
repeated 10 times, a two-layer MLP (Linear, Tanh, Linear) after 8 steps, and
0 steps (nothing may change).

Recognized mistakes: gradients never zeroed (each step applies the sum of all
gradients so far), optimizer.step() before loss.backward() (the first step
moves nothing, each later one applies the previous batch's gradient), and
no update at all (step() with no gradient: before backward, or right after
zero_grad()).
"""

from __future__ import annotations

import copy

import torch

FUNCTION = "train"

# The first optimizer built in a process imports torch._dynamo (1.5-2.5 s on a slow CPU).
# Build one while the checker loads, so that time is not charged to the user's code.
torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)


def reference_loop(torch, model, data, steps, lr, bug=None):
    """Train ``model`` in place. bug replays a classic mistake: "no zero_grad",
    "step before backward" (step, zero_grad, backward) or "no update"."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.MSELoss()
    for t in range(steps):
        x, y = data[t % len(data)]
        if bug == "step before backward":
            loss = loss_fn(model(x), y)
            optimizer.step()
            optimizer.zero_grad()
            loss.backward()
            continue
        if bug != "no zero_grad":
            optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        if bug != "no update":
            optimizer.step()
    return model


def flat(torch, model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def run(check, fn) -> None:
    torch = check.torch
    nn = torch.nn
    cases = [
        ("linear model, 1 step", "linear", 1, 1, 0.1),
        ("linear model, 5 steps over 3 batches", "linear", 3, 5, 0.1),
        ("one batch repeated, 10 steps", "linear", 1, 10, 0.05),
        ("two-layer MLP, 8 steps over 4 batches", "mlp", 4, 8, 0.2),
        ("0 steps leave the model unchanged", "mlp", 2, 0, 0.1),
    ]
    for i, (name, kind, batches, steps, lr) in enumerate(cases):
        check.reseed(i)
        if kind == "linear":
            model = nn.Linear(4, 2)
        else:
            model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
        model = model.double()
        data = [
            (torch.randn(6, 4, dtype=torch.float64), torch.randn(6, 2, dtype=torch.float64))
            for _ in range(batches)
        ]
        expected = flat(torch, reference_loop(torch, copy.deepcopy(model), data, steps, lr))
        mistakes = {}
        for bug, hint in HINTS.items():
            try:
                wrong = reference_loop(torch, copy.deepcopy(model), data, steps, lr, bug=bug)
                mistakes[hint] = flat(torch, wrong)
            except RuntimeError:  # the in-place step breaks backward through later layers
                pass

        def call(model=model, data=data, steps=steps, lr=lr):
            fn(model, [(x.clone(), y.clone()) for x, y in data], steps, lr)
            return flat(torch, model)

        check.compare(
            name,
            call,
            expected,
            inputs=(
                f"{'Linear(4, 2)' if kind == 'linear' else 'Linear(4, 8), Tanh, Linear(8, 2)'} "
                f"float64; {batches} batch(es) of x (6, 4), y (6, 2); steps={steps}, lr={lr:g}"
            ),
            atol=1e-10,
            rtol=1e-8,
            mistakes=mistakes,
            hint=ORDER if kind == "mlp" else "",
        )


ORDER = (
    "one step is zero_grad(), forward, loss, backward(), step(), in that order; "
    "'modified by an inplace operation' means step() changed the weights between the "
    "forward pass and backward()"
)
HINTS = {
    "no update": "the parameters did not move: optimizer.step() ran with no gradient (before "
    "loss.backward(), or between zero_grad() and backward)",
    "no zero_grad": "the gradients accumulate: .grad keeps adding up across backward() calls "
    "until you call optimizer.zero_grad(), once per step",
    "step before backward": "each step applied the previous batch's gradient: call "
    "loss.backward() first, then optimizer.step()",
}
