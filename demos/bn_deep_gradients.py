"""BatchNorm does not cure exploding gradients: a deep plain BN net explodes at init

Notes often say BatchNorm "fundamentally solves" vanishing and exploding
gradients. Yang et al. (2019, "A Mean Field Theory of Batch Normalization")
show the opposite for deep feed-forward nets without skip connections: at
initialization the gradient grows geometrically from the output back to the
input, and BN itself causes it. Here a 30-layer MLP, width 64, ReLU, Kaiming
init, batch of 64, is built twice, with and without BN after every linear layer,
and the gradient norm of each layer's weight after one backward pass is measured:

- with BN the first layer's gradient is more than 30x the last layer's
  (typically a few hundred times: about 1.2x per layer);
- without BN (Kaiming init keeps ReLU signals at scale) every layer's gradient
  stays within a factor of 10 of every other.

Deep BN networks train in practice because they also have residual connections
(ResNet), and because training itself quickly tames the explosion.
"""

from quizcnn.proofkit import Proof, main

DEPTH, WIDTH, BATCH, CLASSES = 30, 64, 64, 4


def weight_grad_norms(proof: Proof, batchnorm: bool) -> list[float]:
    """Gradient norm of every linear layer's weight, input layer first."""
    torch = proof.torch
    proof.reseed(1)  # the same weights and data for both nets
    linears, layers = [], []
    for _ in range(DEPTH):
        linear = torch.nn.Linear(WIDTH, WIDTH, bias=False)
        torch.nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        linears.append(linear)
        layers.append(linear)
        if batchnorm:
            layers.append(torch.nn.BatchNorm1d(WIDTH))
        layers.append(torch.nn.ReLU())
    layers.append(torch.nn.Linear(WIDTH, CLASSES))
    model = torch.nn.Sequential(*layers).to(proof.device)
    x = torch.randn(BATCH, WIDTH, device=proof.device)
    y = torch.randint(0, CLASSES, (BATCH,), device=proof.device)
    torch.nn.functional.cross_entropy(model(x), y).backward()  # training mode: batch stats
    return [linear.weight.grad.norm().item() for linear in linears]


def run(proof: Proof) -> None:
    with_bn = weight_grad_norms(proof, batchnorm=True)
    without_bn = weight_grad_norms(proof, batchnorm=False)

    ratio_bn = with_bn[0] / with_bn[-1]
    proof.above(
        "bn_first_over_last",
        f"with BN: gradient norm of layer 1 / layer {DEPTH}",
        ratio_bn,
        30.0,
    )
    proof.above(
        "bn_growth_per_layer",
        "with BN: average growth of the gradient norm per layer, towards the input",
        ratio_bn ** (1 / (DEPTH - 1)),
        1.1,
    )
    proof.below(
        "no_bn_spread",
        "without BN (Kaiming init): largest / smallest layer gradient norm",
        max(without_bn) / min(without_bn),
        10.0,
    )
    layers = list(range(1, DEPTH + 1))
    proof.plot(
        "Gradient norm of each layer's weight at initialization",
        "layer (1 = input side)",
        "|dL/dW|",
        layers,
        {"Linear-BN-ReLU": with_bn, "Linear-ReLU": without_bn},
        log_y=True,
    )
    proof.table(
        f"{DEPTH}-layer MLP, width {WIDTH}, batch {BATCH}, Kaiming init",
        ["net", "|dL/dW| layer 1", f"|dL/dW| layer {DEPTH}", "layer 1 / last"],
        [
            ["Linear-BN-ReLU", with_bn[0], with_bn[-1], ratio_bn],
            ["Linear-ReLU", without_bn[0], without_bn[-1], without_bn[0] / without_bn[-1]],
        ],
    )


if __name__ == "__main__":
    main(run, __doc__)
