"""Evaluating a model: eval mode and no autograd graph, with Dropout and BatchNorm inside

Checks ``evaluate(model, x)`` -> the model's outputs on x, as deterministic
predictions: the output must equal the model's own eval-mode output (Dropout
off, BatchNorm normalizing with its running statistics), computed here on a
deep copy under ``model.eval()`` and ``torch.no_grad()``. The model arrives in
training mode, as it is after a training loop. Also checked: two calls give
the same output, the BatchNorm running statistics (and num_batches_tracked)
are left exactly as they were, and the returned tensor carries no autograd
graph (requires_grad is False). Models: an MLP with BatchNorm1d and Dropout,
and a small CNN with BatchNorm2d and Dropout2d, in float64; a batch of one
(which BatchNorm refuses in training mode) included.

Recognized mistake: the model left in training mode (model.eval() missing, or
torch.no_grad() taken to switch modes, which it does not): the output then
equals the training-mode output for the same random seed.
"""

from __future__ import annotations

import copy

FUNCTION = "evaluate"

TRAIN_MODE = (
    "the model is still in training mode: Dropout drops units and BatchNorm uses the batch's "
    "statistics (and updates its running ones). Call model.eval() first; torch.no_grad() "
    "only stops the graph, it does not switch modes"
)


def _mlp(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3)
    )


def _cnn(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Dropout2d(0.3),
        nn.Flatten(),
        nn.Linear(4 * 5 * 5, 3),
    )


def _trained(torch, build, shape, steps=5):
    """A model in training mode whose BatchNorm has seen a few batches (non-trivial stats)."""
    model = build(torch).double()
    with torch.no_grad():
        for _ in range(steps):
            model(torch.randn(8, *shape, dtype=torch.float64) * 2 + 1)
    return model.train()


def _state(model) -> dict:
    return {name: b.detach().clone() for name, b in model.named_buffers()}


def run(check, fn) -> None:
    torch = check.torch
    settings = [
        ("MLP (BatchNorm1d, Dropout): eval-mode output", _mlp, (6,), 8),
        ("CNN (BatchNorm2d, Dropout2d): eval-mode output", _cnn, (2, 5, 5), 4),
        ("batch of one (BatchNorm refuses it in training mode)", _mlp, (6,), 1),
    ]
    labels = {
        _mlp: "MLP: Linear, BatchNorm1d, ReLU, Dropout(0.5), Linear",
        _cnn: "CNN: Conv2d, BatchNorm2d, ReLU, Dropout2d(0.3), Flatten, Linear",
    }
    for i, (name, build, shape, n) in enumerate(settings):
        check.reseed(i)
        model = _trained(torch, build, shape)
        x = torch.randn(n, *shape, dtype=torch.float64)
        reference = copy.deepcopy(model).eval()
        with torch.no_grad():
            expected = reference(x)
        mistakes = {}
        if n > 1:
            seed = 1000 + i
            torch.manual_seed(seed)
            with torch.no_grad():
                mistakes[TRAIN_MODE] = copy.deepcopy(model).train()(x.clone())
        before = _state(model)
        outputs = []

        def call(model=model, x=x, seed=1000 + i, outputs=outputs):
            torch.manual_seed(seed)  # the same dropout masks as the training-mode replay above
            out = fn(model, x.clone())
            outputs.append(out)
            return out

        check.compare(
            name,
            call,
            expected,
            inputs=f"{labels[build]}, float64, in training mode; x {tuple(x.shape)}",
            atol=1e-10,
            rtol=1e-8,
            mistakes=mistakes,
            hint=TRAIN_MODE,
        )
        if i > 0 or not outputs:  # properties: once, on the first model, if the call returned
            continue
        try:
            again = fn(model, x.clone())
        except Exception:  # the first call returned; the second is reported as different
            again = None
        same = _same(torch, outputs[0], again)
        check.holds(
            "two calls give the same output",
            same,
            inputs="evaluate(model, x) twice on the same model and x",
            expected="identical outputs",
            got="identical" if same else "different outputs (or an error)",
            hint=TRAIN_MODE,
        )
        after = _state(model)
        changed = [k for k in before if not torch.equal(before[k], after[k])]
        check.holds(
            "BatchNorm running statistics unchanged",
            not changed,
            inputs="the model's buffers before and after two calls",
            expected="running_mean, running_var and num_batches_tracked as before",
            got="unchanged" if not changed else "changed: " + ", ".join(changed),
            hint=TRAIN_MODE,
        )
        needs_grad = bool(getattr(outputs[0], "requires_grad", False))
        check.holds(
            "no autograd graph (requires_grad False)",
            not needs_grad,
            inputs="the tensor evaluate(model, x) returned",
            expected="requires_grad False",
            got=f"requires_grad {needs_grad}",
            hint="wrap the forward pass in torch.no_grad() (or torch.inference_mode()): "
            "evaluation needs no graph, and keeping one holds every activation in memory",
        )


def _same(torch, a, b) -> bool:
    try:
        return bool(torch.equal(torch.as_tensor(a), torch.as_tensor(b)))
    except (TypeError, RuntimeError):
        return False
