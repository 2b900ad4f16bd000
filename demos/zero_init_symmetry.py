"""Zero and constant initialization: the symmetry that training never breaks

If two hidden units of a layer start with the same incoming weights, bias and
outgoing weights, they compute the same value on every input and receive the
same gradient, so every update (SGD, momentum, Adam: any optimizer that
treats entries alike) keeps them equal. A constant-initialized layer of 16 units therefore
trains like a layer of ONE unit, however long it trains. Random weights break
the tie; the biases may then start at zero, since the weights already differ.

An all-zero net is worse still: with zero weights everywhere, every hidden
activation of a ReLU or tanh net is 0 (f(0) = 0), so the output layer's weight
gradient (delta times activation) is 0, and the gradient sent back to the
hidden layers (W_out^T times delta) is 0 too. Only the output bias learns.

The task: 256 points in [-1, 1]^2, label 1 where x1 * x2 > 0 (XOR-like, so no
single direction separates it), an MLP 2 -> 16 -> 16 -> 1 with ReLU,
BCE-with-logits loss, 300 full-batch steps of SGD with momentum 0.9, float64.
"""

from quizcnn.proofkit import Proof, main

HIDDEN = 16
STEPS = 300
LR = 0.1
MOMENTUM = 0.9
POINTS = 256
CONSTANT = 0.3


def make_mlp(proof: Proof):
    torch = proof.torch
    nn = torch.nn
    kw = {"device": proof.device, "dtype": proof.float64}
    return nn.Sequential(
        nn.Linear(2, HIDDEN, **kw),
        nn.ReLU(),
        nn.Linear(HIDDEN, HIDDEN, **kw),
        nn.ReLU(),
        nn.Linear(HIDDEN, 1, **kw),
    )


def fill(model, weight, bias) -> None:
    """Set every weight to `weight` and every bias to `bias` (numbers)."""
    for layer in model:
        if hasattr(layer, "weight"):
            layer.weight.data.fill_(weight)
            layer.bias.data.fill_(bias)


def train(proof: Proof, model, x, y) -> float:
    """Full-batch SGD with momentum, written out; returns the final training accuracy.

    Each entry's update depends only on that entry's own gradient history, so
    entries that start equal and get equal gradients stay equal.
    """
    torch = proof.torch
    params = list(model.parameters())
    velocity = [torch.zeros_like(p) for p in params]
    for _ in range(STEPS):
        for p in params:
            p.grad = None
        torch.nn.functional.binary_cross_entropy_with_logits(model(x).squeeze(1), y).backward()
        with torch.no_grad():
            for p, v in zip(params, velocity, strict=True):
                v.mul_(MOMENTUM).add_(p.grad)
                p.sub_(LR * v)
    with torch.no_grad():
        return ((model(x).squeeze(1) > 0).to(y.dtype) == y).to(y.dtype).mean().item()


def row_spread(weight) -> float:
    """Largest difference between any row (one unit's incoming weights) and row 0."""
    return (weight - weight[0:1]).abs().max().item()


def run(proof: Proof) -> None:
    torch = proof.torch
    dev = proof.device
    dt = proof.float64

    x = torch.rand(POINTS, 2, dtype=dt, device=dev) * 2 - 1
    y = (x[:, 0] * x[:, 1] > 0).to(dt)

    # --- 1. all zeros: the hidden layers get exactly zero gradient ---------
    zero = make_mlp(proof)
    fill(zero, 0.0, 0.0)
    torch.nn.BCEWithLogitsLoss()(zero(x).squeeze(1), y).backward()
    hidden_grad = sum(zero[i].weight.grad.abs().sum().item() for i in (0, 2))
    proof.close(
        "zero_init_hidden_grad",
        "all-zero init: sum |grad| over both hidden weight matrices",
        hidden_grad,
        0.0,
        0.0,
    )
    proof.close(
        "zero_init_output_weight_grad",
        "all-zero init: sum |grad| of the output weights (hidden activations are 0)",
        zero[4].weight.grad.abs().sum(),
        0.0,
        0.0,
    )
    # The output is 0, so p = sigmoid(0) = 1/2 and d(loss)/d(bias) = mean(p - y).
    proof.close(
        "zero_init_output_bias_grad",
        "all-zero init: output-bias gradient, minus its formula 0.5 - mean(y)",
        zero[4].bias.grad.sum() - (0.5 - y.mean()),
        0.0,
        1e-12,
    )
    zero_acc = train(proof, zero, x, y)
    still_zero = all(zero[i].weight.abs().max().item() == 0.0 for i in (0, 2, 4))
    proof.holds(
        "zero_init_stays_zero",
        f"all-zero init: every weight is still exactly 0 after {STEPS} SGD steps",
        still_zero,
    )

    # --- 2. a constant: units stay copies of each other --------------------
    const = make_mlp(proof)
    fill(const, CONSTANT, 0.0)
    const_acc = train(proof, const, x, y)
    spread = max(row_spread(const[0].weight), row_spread(const[2].weight))
    proof.below(
        "constant_rows_identical",
        f"constant init {CONSTANT}: largest difference between hidden units' weights after training",
        spread,
        1e-12,
    )
    rank = torch.linalg.matrix_rank(const[2].weight.detach()).item()
    proof.close(
        "constant_rank_one",
        "constant init: rank of the 16x16 hidden weight matrix after training",
        rank,
        1.0,
        0.0,
    )
    proof.below(
        "constant_cannot_fit",
        "constant init: training accuracy on the XOR-like task",
        const_acc,
        0.8,
    )

    # --- 3. random weights, zero biases: the tie is broken -----------------
    proof.reseed(1)
    rand = make_mlp(proof)  # PyTorch's default random weights ...
    for i in (0, 2, 4):
        torch.nn.init.zeros_(rand[i].bias)  # ... with zero biases
    rand_acc = train(proof, rand, x, y)
    proof.above(
        "random_rows_differ",
        "random init: smallest difference between hidden unit 0 and any other",
        min((rand[2].weight[i] - rand[2].weight[0]).abs().max().item() for i in range(1, HIDDEN)),
        1e-3,
    )
    proof.above(
        "random_fits",
        "random weights, zero biases: training accuracy on the XOR-like task",
        rand_acc,
        0.9,
    )

    proof.table(
        f"After {STEPS} SGD steps (2 -> 16 -> 16 -> 1, ReLU)",
        ["init", "distinct hidden units", "train accuracy"],
        [
            ["all zeros", 0, zero_acc],
            [f"all weights {CONSTANT}, biases 0", 1, const_acc],
            ["random weights, biases 0", HIDDEN, rand_acc],
        ],
    )


if __name__ == "__main__":
    main(run, __doc__)
