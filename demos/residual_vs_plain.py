"""Degradation, not vanishing gradients: a deep plain BN net vs its residual twins

He et al. (arXiv:1512.03385, §1 and §4.1) found that a deeper *plain* network
has a higher *training* error than a shallower one (so it is not overfitting),
and argued that the cause is not vanishing gradients: their plain nets use
BatchNorm and He initialization, and the gradients they measured were healthy.
Identity shortcuts fixed the problem without adding a single parameter.

This proof rebuilds that experiment at toy scale. Four MLPs of width 32 are
trained on the same small regression task (fit a random tanh "teacher"), full
batch, with Adam and the same learning rate and number of steps:

- plain-34: 16 blocks of Linear-BN-ReLU-Linear-BN-ReLU, plus input and output
  layers (34 weighted layers);
- residual-34: the same layers with the same initial weights, plus an identity
  shortcut around each block (ReLU(x + F(x)), as in ResNet v1);
- preact-34: the ResNet v2 unit (arXiv:1603.05027): BN-ReLU-Linear twice
  inside the branch and x + F(x) with nothing after the addition, so the
  shortcut path from input to output is a pure identity;
- plain-10: 4 blocks, the shallow plain baseline.

What it shows:

- at initialization the plain net's first-layer gradient is not small: it is
  larger than the last layer's (with BN the gradient tends to grow toward the
  input; see Yang et al., ICLR 2019), and the forward signal has not died;
- the plain net's first layer moves during training as much as the residual
  net's does, so its early layers are learning;
- still, plain-34 ends with a far higher training loss than plain-10 (the
  degradation problem) and than residual-34 and preact-34 (what the
  shortcuts buy).

Adam scales each step by the gradient's own running magnitude, so a gradient
that were merely too small or too large would not slow it down; the plain net's
trouble is the harder optimization landscape, not the size of its gradients.
"""

from __future__ import annotations

from quizcnn.proofkit import Proof, main

WIDTH = 32
INPUTS = 16
SAMPLES = 128
DEEP_BLOCKS = 16  # 2 * 16 + input + output = 34 weighted layers
SHALLOW_BLOCKS = 4  # 2 * 4 + 2 = 10 weighted layers
STEPS = 60
LEARNING_RATE = 3e-3


def build(torch, blocks: int, kind: str, dev):
    """kind: "plain", "residual" (ResNet v1 unit) or "preact" (ResNet v2 unit)."""
    nn = torch.nn

    def linear():
        return nn.Linear(WIDTH, WIDTH, bias=False)  # BN's shift makes a bias redundant

    class Block(nn.Module):
        """Two Linear-BN layers; the residual versions add their input back."""

        def __init__(self):
            super().__init__()
            if kind == "preact":  # BN-ReLU-Linear, twice
                self.f = nn.Sequential(
                    nn.BatchNorm1d(WIDTH),
                    nn.ReLU(),
                    linear(),
                    nn.BatchNorm1d(WIDTH),
                    nn.ReLU(),
                    linear(),
                )
            else:  # Linear-BN-ReLU-Linear-BN
                self.f = nn.Sequential(
                    linear(), nn.BatchNorm1d(WIDTH), nn.ReLU(), linear(), nn.BatchNorm1d(WIDTH)
                )

        def forward(self, x):
            out = self.f(x)
            if kind == "preact":
                return x + out  # nothing after the addition: a clean identity path
            return torch.relu(x + out if kind == "residual" else out)

    # v2 nets end with one more BN-ReLU before the head, as in the paper.
    tail = [nn.BatchNorm1d(WIDTH), nn.ReLU()] if kind == "preact" else []
    body = nn.Sequential(*[Block() for _ in range(blocks)])
    net = nn.Sequential(nn.Linear(INPUTS, WIDTH), body, *tail, nn.Linear(WIDTH, 1))
    for m in net.modules():
        if isinstance(m, nn.Linear):  # He init, as in the paper
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    return net.to(dev)


def teacher_task(torch, dev):
    """Inputs and standardized targets of a random one-hidden-layer tanh net."""
    x = torch.randn(SAMPLES, INPUTS, device=dev)
    w1 = torch.randn(INPUTS, 64, device=dev) / INPUTS**0.5
    w2 = torch.randn(64, 1, device=dev) / 8.0
    y = torch.tanh(x @ w1) @ w2
    return x, (y - y.mean()) / y.std()


def block_weights(net):
    """The Linear weights inside the blocks, input side first."""
    linear = type(net[0])
    return [layer.weight for block in net[1] for layer in block.f if isinstance(layer, linear)]


def train(torch, net, x, y):
    """Full-batch Adam; returns the loss per step and each block weight at the start."""
    start = [w.detach().clone() for w in block_weights(net)]
    # foreach: one batched update for all tensors, much faster on CPU.
    opt = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE, foreach=True)
    losses = []
    for _ in range(STEPS):
        loss = torch.mean((net(x) - y) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, start


def relative_change(net, start, index: int) -> float:
    w = block_weights(net)[index].detach()
    return ((w - start[index]).norm() / start[index].norm()).item()


def run(proof: Proof) -> None:
    torch = proof.torch
    dev = proof.device
    x, y = teacher_task(torch, dev)

    # The same seed before each build gives the twins identical initial weights.
    proof.reseed(1)
    plain = build(torch, DEEP_BLOCKS, "plain", dev)
    proof.reseed(1)
    residual = build(torch, DEEP_BLOCKS, "residual", dev)
    proof.reseed(1)
    preact = build(torch, DEEP_BLOCKS, "preact", dev)
    proof.reseed(1)
    shallow = build(torch, SHALLOW_BLOCKS, "plain", dev)

    # Gradients and forward signal of the two deep nets at initialization.
    grad_norms = {}
    for name, net in (("plain-34", plain), ("residual-34", residual)):
        hidden = net[:-1](x)  # what reaches the output layer
        loss = torch.mean((net[-1](hidden) - y) ** 2)
        loss.backward()
        grad_norms[name] = [w.grad.norm().item() for w in block_weights(net)]
        if name == "plain-34":
            plain_signal_std = hidden.std().item()
        net.zero_grad()
    plain_norms = grad_norms["plain-34"]
    first_over_last = plain_norms[0] / plain_norms[-1]

    curves = {}
    starts = {}
    nets = {"plain-34": plain, "residual-34": residual, "preact-34": preact, "plain-10": shallow}
    for name, net in nets.items():
        curves[name], starts[name] = train(torch, net, x, y)
    final = {name: sum(c[-5:]) / 5 for name, c in curves.items()}
    moved_plain = relative_change(plain, starts["plain-34"], 0)
    moved_residual = relative_change(residual, starts["residual-34"], 0)

    proof.above(
        "plain_grads_do_not_vanish",
        "plain-34 with BN at init: first-layer / last-layer gradient norm (vanishing would be << 1)",
        first_over_last,
        1.0,
    )
    proof.above(
        "plain_forward_signal_alive",
        "plain-34 at init: std of the last hidden layer's activations (BN keeps it from dying)",
        plain_signal_std,
        0.3,
    )
    proof.above(
        "plain_first_layer_learns",
        "relative change of the first block weight after training, plain-34 / residual-34",
        moved_plain / moved_residual,
        0.5,
    )
    proof.above(
        "degradation_deeper_plain_worse",
        "final training loss, plain-34 / plain-10 (the deeper plain net fits worse)",
        final["plain-34"] / final["plain-10"],
        10.0,
    )
    proof.below(
        "residual_trains_better",
        "final training loss, residual-34 / plain-34 (same layers plus identity shortcuts)",
        final["residual-34"] / final["plain-34"],
        0.1,
    )
    proof.below(
        "preact_trains_better",
        "final training loss, preact-34 (ResNet v2 units) / plain-34",
        final["preact-34"] / final["plain-34"],
        0.1,
    )

    proof.table(
        "Final training loss (mean of the last 5 steps)",
        ["net", "weighted layers", "final MSE"],
        [
            ["plain-10", 2 * SHALLOW_BLOCKS + 2, f"{final['plain-10']:.2e}"],
            ["plain-34", 2 * DEEP_BLOCKS + 2, f"{final['plain-34']:.2e}"],
            ["residual-34", 2 * DEEP_BLOCKS + 2, f"{final['residual-34']:.2e}"],
            ["preact-34", 2 * DEEP_BLOCKS + 2, f"{final['preact-34']:.2e}"],
        ],
    )
    every = 5
    proof.plot(
        "Training loss per step (every 5th step)",
        "step",
        "MSE",
        list(range(0, STEPS, every)),
        {name: c[::every] for name, c in curves.items()},
        log_y=True,
    )
    proof.plot(
        "Gradient norm per block layer at init (layer 1 = nearest the input)",
        "layer",
        "‖∂L/∂W‖",
        list(range(1, len(plain_norms) + 1)),
        grad_norms,
        log_y=True,
    )


if __name__ == "__main__":
    main(run, __doc__)
