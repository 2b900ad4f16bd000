"""BatchNorm does not cure exploding gradients: a deep plain BN net explodes at init

Notes often say BatchNorm "fundamentally solves" vanishing and exploding
gradients. Yang et al. (2019, "A Mean Field Theory of Batch Normalization",
arXiv:1902.08129) show the opposite for deep feed-forward nets without skip
connections: at initialization the gradient grows geometrically from the output
back to the input, and BN itself causes it. For ReLU and a batch of B, their
theorem gives the growth of the squared gradient norm per layer in closed form
(it falls to pi / (pi - 1) = 1.47 as B grows). Here a 30-layer MLP, width 64,
ReLU, Kaiming init, batch of 64, is built twice, with and without BN after every
linear layer, and the gradient norm of each layer's weight after one backward
pass is measured:

- with BN the first layer's gradient is more than 30x the last layer's
  (typically a few hundred times);
- the growth per layer, about 1.22x, is the square root of Yang et al.'s rate
  for B = 64, although the theory is for infinitely wide layers;
- without BN (Kaiming init keeps ReLU signals at scale) every layer's gradient
  stays within a factor of 10 of every other.

Deep BN networks train in practice because they also have residual connections
(ResNet), and because, as Yang et al. observe, a single optimization step
already shrinks the gradients' range across layers dramatically.
"""

import math

from quizcnn.proofkit import Proof, main

DEPTH, WIDTH, BATCH, CLASSES = 30, 64, 64, 4


def arccos_kernel(c: float) -> float:
    """E[relu(u) relu(v)] for unit Gaussians with correlation c, divided by E[relu(u)^2]."""
    return (math.sqrt(1 - c * c) + (math.pi - math.acos(c)) * c) / math.pi


def relu_bn_gradient_rate(batch: int) -> float:
    """Yang et al. 2019, ReLU-batchnorm theorem: growth of |grad|^2 per layer, batch B.

    J is the arccos kernel, c = -1/(B-1) the correlation between two samples once
    BN has subtracted the batch mean, and ReLU is the alpha = 1 case of the theorem.
    """
    b, c = batch, -1 / (batch - 1)
    j_prime = (math.pi - math.acos(c)) / math.pi  # dJ/dc
    numerator = (b - 1) * (j_prime + (b - 1) * arccos_kernel(1.0))
    denominator = (b - 3) * (b - 1) * (arccos_kernel(1.0) - arccos_kernel(c))
    return numerator / denominator - 1 / (b - 3)


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
    predicted = math.sqrt(relu_bn_gradient_rate(BATCH))  # norm, not squared norm
    proof.close(
        "bn_growth_matches_mean_field",
        f"with BN: growth per layer vs sqrt of Yang et al.'s ReLU rate for batch {BATCH}",
        ratio_bn ** (1 / (DEPTH - 1)),
        predicted,
        0.05,
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
