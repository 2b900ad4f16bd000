"""PyTorch's default init and the uniform/normal Xavier and Kaiming variants

nn.Linear and nn.Conv2d initialize their weights with
kaiming_uniform_(w, a=sqrt(5)). Kaiming-uniform draws from U(-bound, bound)
with bound = gain * sqrt(3 / fan_in) and, for leaky_relu with slope a,
gain = sqrt(2 / (1 + a^2)). With a = sqrt(5) the gain is sqrt(1/3), so

    bound = sqrt(1/3) * sqrt(3 / fan_in) = 1 / sqrt(fan_in),

which is what the nn.Linear docs state: U(-sqrt(k), sqrt(k)), k = 1/in_features
(for Conv2d, k = groups / (in_channels * kernel_h * kernel_w)). The bias is
drawn from the same interval. The weight variance is bound^2 / 3 =
1 / (3 fan_in): a third of LeCun's 1/fan_in and a sixth of He's 2/fan_in, so a
deep bias-free ReLU stack built with the defaults shrinks E[x^2] by 1/6 per
layer. The default is not He init.

A uniform U(-b, b) has std b / sqrt(3), which is why each "_uniform_" variant
uses the bound sqrt(3) x the std of its "_normal_" twin:

- xavier_normal_:  std sqrt(2 / (fan_in + fan_out));
  xavier_uniform_: bound sqrt(6 / (fan_in + fan_out));
- kaiming_normal_(nonlinearity='relu'):  std sqrt(2 / fan_in);
  kaiming_uniform_(nonlinearity='relu'): bound sqrt(6 / fan_in).

Each claim measures the tensors PyTorch actually fills.
"""

import math

from quizcnn.proofkit import Proof, main

FAN_IN, FAN_OUT = 300, 200  # nn.Linear(300, 200): weight shape (200, 300)
CONV_IN, CONV_OUT, K = 32, 64, 3  # nn.Conv2d(32, 64, 3): fan_in = 32 * 3 * 3 = 288
DEPTH, WIDTH, BATCH = 20, 256, 128  # the bias-free ReLU stack


def check_uniform(proof: Proof, key: str, what: str, w, bound: float) -> None:
    """A U(-bound, bound) sample: nothing outside, the edge reached, std bound/sqrt(3)."""
    proof.below(f"{key}_max", f"{what}: max |w| / bound", w.abs().max() / bound, 1.0 + 1e-12)
    proof.above(
        f"{key}_edge", f"{what}: max |w| / bound (the edge is reached)", w.abs().max() / bound, 0.99
    )
    proof.close(f"{key}_std", f"{what}: std", w.std(), bound / math.sqrt(3), 0.02, rel=True)


def run(proof: Proof) -> None:
    torch = proof.torch
    nn = torch.nn
    dev = proof.device
    dt = proof.float64

    # --- 1. what nn.Linear and nn.Conv2d draw by default --------------------
    linear = nn.Linear(FAN_IN, FAN_OUT, device=dev, dtype=dt)
    bound = 1 / math.sqrt(FAN_IN)
    check_uniform(
        proof, "linear_weight", "nn.Linear(300, 200).weight", linear.weight.detach(), bound
    )
    proof.below(
        "linear_bias_max",
        "nn.Linear(300, 200).bias: max |b| / (1/sqrt(300))",
        linear.bias.detach().abs().max() / bound,
        1.0 + 1e-12,
    )
    conv = nn.Conv2d(CONV_IN, CONV_OUT, K, device=dev, dtype=dt)
    conv_bound = 1 / math.sqrt(CONV_IN * K * K)
    check_uniform(
        proof, "conv_weight", "nn.Conv2d(32, 64, 3).weight", conv.weight.detach(), conv_bound
    )

    # The same number from the formula: kaiming_uniform_ with a = sqrt(5).
    gain = nn.init.calculate_gain("leaky_relu", math.sqrt(5))
    proof.close(
        "a_sqrt5_bound",
        "gain(leaky_relu, sqrt 5) * sqrt(3 / 300), minus 1/sqrt(300)",
        gain * math.sqrt(3 / FAN_IN) - bound,
        0.0,
        1e-12,
    )
    proof.close(
        "default_variance_times_fan_in",
        "nn.Linear default: Var[w] * fan_in (He would be 2)",
        linear.weight.detach().var() * FAN_IN,
        1 / 3,
        0.02,
        rel=True,
    )

    # --- 2. the default is not He init: a deep ReLU stack shrinks by 1/6 ----
    layers = [nn.Linear(WIDTH, WIDTH, bias=False, device=dev, dtype=dt) for _ in range(DEPTH)]
    x = torch.randn(BATCH, WIDTH, dtype=dt, device=dev)
    second_moments = []
    with torch.no_grad():
        for layer in layers:
            x = torch.relu(layer(x))
            second_moments.append(x.pow(2).mean().item())
    ratio = (second_moments[-1] / second_moments[0]) ** (1 / (DEPTH - 1))
    proof.close(
        "default_relu_ratio",
        "20 bias-free nn.Linear + ReLU, default init: per-layer E[x^2] ratio",
        ratio,
        1 / 6,
        0.1,
        rel=True,
    )

    # --- 3. uniform and normal variants -------------------------------------
    w = torch.empty(FAN_OUT, FAN_IN, dtype=dt, device=dev)
    xavier_std = math.sqrt(2 / (FAN_IN + FAN_OUT))
    nn.init.xavier_uniform_(w)
    check_uniform(
        proof, "xavier_uniform", "xavier_uniform_ (200x300)", w, math.sqrt(6 / (FAN_IN + FAN_OUT))
    )
    nn.init.xavier_normal_(w)
    proof.close(
        "xavier_normal_std", "xavier_normal_ (200x300): std", w.std(), xavier_std, 0.02, rel=True
    )
    nn.init.kaiming_uniform_(w, nonlinearity="relu")
    check_uniform(
        proof, "kaiming_uniform", "kaiming_uniform_(relu) (200x300)", w, math.sqrt(6 / FAN_IN)
    )
    nn.init.kaiming_normal_(w, nonlinearity="relu")
    proof.close(
        "kaiming_normal_std",
        "kaiming_normal_(relu) (200x300): std",
        w.std(),
        math.sqrt(2 / FAN_IN),
        0.02,
        rel=True,
    )

    proof.table(
        "Initializers for a 300-in, 200-out layer",
        ["initializer", "distribution", "formula", "value"],
        [
            ["nn.Linear default", "uniform bound", "1/sqrt(fan_in)", bound],
            ["xavier_uniform_", "uniform bound", "sqrt(6/(fan_in+fan_out))", math.sqrt(6 / 500)],
            ["xavier_normal_", "std", "sqrt(2/(fan_in+fan_out))", xavier_std],
            ["kaiming_uniform_(relu)", "uniform bound", "sqrt(6/fan_in)", math.sqrt(6 / FAN_IN)],
            ["kaiming_normal_(relu)", "std", "sqrt(2/fan_in)", math.sqrt(2 / FAN_IN)],
        ],
    )


if __name__ == "__main__":
    main(run, __doc__)
