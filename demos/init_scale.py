"""Init scale: activation size through 50 layers of width 512

He et al. (2015, arXiv:1502.01852, Sec. 2.2) follow E[x^2], the second moment
of a layer's input, through a ReLU network without biases. For
z = W x with n inputs and weights of variance std^2, Var[z] = n std^2 E[x^2];
ReLU keeps the positive half of a symmetric z, so E[relu(z)^2] = Var[z] / 2:

    E[x_{l+1}^2] = (n std^2 / 2) E[x_l^2]   at every layer.

The factor n std^2 / 2 is raised to the 50th power. With n = 512:

- std 0.01:         factor 0.0256 -> the activations collapse to ~1e-40;
- std 0.1:          factor 2.56   -> they explode to ~1e10;
- std 1/sqrt(n):    factor 0.5    -> E[x^2] halves at every layer (this is
                    LeCun / Xavier scaling, right for a linear or tanh layer);
- std sqrt(2/n):    factor 1      -> Kaiming/He: stable for ReLU;
- the inverted factor that some notes give, std sqrt(n/2) ("1/sqrt(2/n)"),
  has factor n^2 / 4 = 65536 per layer; putting the 2 on the wrong side,
  std sqrt(1/(2n)), has factor 0.25.

Every ReLU run below uses the SAME 50 random matrices, only scaled
differently, on the same 128 inputs. Xavier's std sqrt(2/(fan_in+fan_out)),
here 1/sqrt(512), is derived for activations with slope 1 at 0 such as tanh:
a tanh net keeps a healthy scale (it decays only slowly, because tanh squashes
large values), and with PyTorch's recommended tanh gain 5/3 it settles.
Finally nn.init.kaiming_normal_ is measured: its defaults (a=0,
mode='fan_in', nonlinearity='leaky_relu', which with a=0 is ReLU's gain
sqrt(2)) give std sqrt(2 / fan_in); mode='fan_out' uses fan_out instead.
"""

import math

from quizcnn.proofkit import Proof, main

DEPTH = 50
WIDTH = 512
BATCH = 128


def propagate(torch, x, weights, std, activation):
    """Run x through the stack with every weight scaled to `std`; E[x^2] and std per layer."""
    second_moments, stds = [], []
    for w in weights:
        x = activation(x @ (std * w).T)
        second_moments.append(x.pow(2).mean().item())
        stds.append(x.std().item())
    return second_moments, stds


def per_layer_ratio(second_moments, first: int = 0) -> float:
    """Geometric mean of E[x_{l+1}^2] / E[x_l^2] from layer `first` to the last."""
    steps = len(second_moments) - 1 - first
    return (second_moments[-1] / second_moments[first]) ** (1.0 / steps)


def run(proof: Proof) -> None:
    torch = proof.torch
    dev = proof.device
    dt = proof.float64  # float64: the collapsed run reaches 1e-40, below float32's normal range
    n = WIDTH

    x0 = torch.randn(BATCH, n, dtype=dt, device=dev)  # E[x^2] = 1
    # One set of standard-normal matrices; each experiment only changes the scale.
    weights = [torch.randn(n, n, device=dev).to(dt) for _ in range(DEPTH)]

    relu_inits = {
        "std 0.01": 0.01,
        "std 0.1": 0.1,
        "std 1/sqrt(n)": 1 / math.sqrt(n),
        "kaiming sqrt(2/n)": math.sqrt(2 / n),
    }
    relu = {
        name: propagate(torch, x0, weights, std, torch.relu) for name, std in relu_inits.items()
    }

    e2_small, std_small = relu["std 0.01"]
    proof.below(
        "std001_collapses", "ReLU, std 0.01: activation std at layer 50", std_small[-1], 1e-30
    )
    e2_big, std_big = relu["std 0.1"]
    proof.above("std01_explodes", "ReLU, std 0.1: activation std at layer 50", std_big[-1], 1e8)
    proof.close(
        "std01_ratio",
        "ReLU, std 0.1: per-layer E[x^2] ratio (n std^2 / 2 = 2.56)",
        per_layer_ratio(e2_big),
        n * 0.1**2 / 2,
        0.05,
        rel=True,
    )
    e2_lecun, _ = relu["std 1/sqrt(n)"]
    proof.close(
        "lecun_halves",
        "ReLU, std 1/sqrt(n): per-layer E[x^2] ratio",
        per_layer_ratio(e2_lecun),
        0.5,
        0.05,
        rel=True,
    )
    e2_kaiming, std_kaiming = relu["kaiming sqrt(2/n)"]
    proof.close(
        "kaiming_ratio",
        "ReLU, Kaiming std sqrt(2/n): per-layer E[x^2] ratio",
        per_layer_ratio(e2_kaiming),
        1.0,
        0.05,
    )
    # One finite-width net drifts like a random walk in log E[x^2] (about 5/n
    # relative variance per layer), so "stable" means: same order of magnitude.
    proof.below(
        "kaiming_second_moment_layer50",
        "ReLU, Kaiming: |log10 E[x^2]| at layer 50 (input E[x^2] = 1)",
        abs(math.log10(e2_kaiming[-1])),
        1.0,
    )

    # The notes' mistakes: ten layers are enough to measure their factor.
    wrong = {
        "inverted sqrt(n/2)": (math.sqrt(n / 2), n * n / 4),
        "halved sqrt(1/(2n))": (math.sqrt(1 / (2 * n)), 0.25),
    }
    wrong_ratio = {}
    for name, (std, _) in wrong.items():
        e2, _ = propagate(torch, x0, weights[:10], std, torch.relu)
        wrong_ratio[name] = per_layer_ratio(e2)
    proof.close(
        "inverted_factor_ratio",
        "ReLU, std sqrt(n/2) (inverted Kaiming): per-layer E[x^2] ratio",
        wrong_ratio["inverted sqrt(n/2)"],
        n * n / 4,
        0.1,
        rel=True,
    )
    proof.close(
        "halved_factor_ratio",
        "ReLU, std sqrt(1/(2n)): per-layer E[x^2] ratio",
        wrong_ratio["halved sqrt(1/(2n))"],
        0.25,
        0.1,
        rel=True,
    )

    # Xavier for tanh: std sqrt(2 / (fan_in + fan_out)) = 1/sqrt(512) here.
    xavier_std = math.sqrt(2 / (n + n))
    e2_tanh, std_tanh = propagate(torch, x0, weights, xavier_std, torch.tanh)
    proof.above(
        "xavier_tanh_std_layer50",
        "tanh, Xavier: activation std at layer 50 (no exponential collapse)",
        std_tanh[-1],
        0.05,
    )
    proof.above(
        "xavier_tanh_late_ratio",
        "tanh, Xavier: per-layer E[x^2] ratio over layers 40-50",
        per_layer_ratio(e2_tanh, first=DEPTH - 11),
        0.95,
    )
    gain = torch.nn.init.calculate_gain("tanh")  # 5/3
    e2_gain, _ = propagate(torch, x0, weights, gain * xavier_std, torch.tanh)
    proof.close(
        "xavier_tanh_gain_stable",
        "tanh, Xavier x gain 5/3: per-layer E[x^2] ratio over layers 40-50",
        per_layer_ratio(e2_gain, first=DEPTH - 11),
        1.0,
        0.02,
    )

    # What nn.init.kaiming_normal_ actually draws.
    w = torch.empty(n, n, dtype=dt, device=dev)
    torch.nn.init.kaiming_normal_(w)  # defaults: a=0, mode='fan_in', nonlinearity='leaky_relu'
    proof.close(
        "kaiming_normal_std",
        "kaiming_normal_ (defaults) on 512x512: measured std",
        w.std(),
        math.sqrt(2 / n),
        0.01,
        rel=True,
    )
    proof.close(
        "kaiming_default_gain",
        "calculate_gain('leaky_relu', 0), the default's gain",
        torch.nn.init.calculate_gain("leaky_relu", 0),
        math.sqrt(2),
        1e-12,
    )
    conv_w = torch.empty(64, 32, 3, 3, dtype=dt, device=dev)  # fan_in = 32*3*3 = 288
    torch.nn.init.kaiming_normal_(conv_w, nonlinearity="relu")
    proof.close(
        "kaiming_normal_conv_std",
        "kaiming_normal_ on Conv2d(32, 64, 3) weight: std (fan_in = 288)",
        conv_w.std(),
        math.sqrt(2 / 288),
        0.02,
        rel=True,
    )
    w_out = torch.empty(256, n, dtype=dt, device=dev)  # fan_in 512, fan_out 256
    torch.nn.init.kaiming_normal_(w_out, mode="fan_out", nonlinearity="relu")
    proof.close(
        "kaiming_normal_fan_out_std",
        "kaiming_normal_(mode='fan_out') on a 256x512 weight: std (fan_out = 256)",
        w_out.std(),
        math.sqrt(2 / 256),
        0.01,
        rel=True,
    )

    rows = [
        [name, std, n * std**2 / 2, per_layer_ratio(relu[name][0]), relu[name][1][-1]]
        for name, std in relu_inits.items()
    ]
    rows += [[name, std, factor, wrong_ratio[name], "-"] for name, (std, factor) in wrong.items()]
    proof.table(
        "ReLU, width 512: per-layer E[x^2] ratio, predicted n std^2 / 2 vs measured",
        ["init", "std", "predicted", "measured", "std at layer 50"],
        rows,
    )
    proof.plot(
        "Activation std per layer (ReLU unless marked)",
        "layer",
        "std",
        list(range(1, DEPTH + 1)),
        {
            "std 0.01": std_small,
            "std 0.1": std_big,
            "std 1/sqrt(n)": relu["std 1/sqrt(n)"][1],
            "kaiming": std_kaiming,
            "tanh, xavier": std_tanh,
        },
        log_y=True,
    )


if __name__ == "__main__":
    main(run, __doc__)
