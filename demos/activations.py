"""Activation functions: saturation, sparsity, dying ReLU, ELU and h-swish

Why a network needs a non-linearity at all, and what each common choice does
to the gradient, measured with autograd:

- Without an activation, two stacked linear layers are exactly one linear
  layer, and no linear model can fit XOR; one ReLU layer fits it exactly.
- sigmoid saturates: its derivative σ(x)(1 − σ(x)) is at most 0.25 (at 0) and
  about 4.5e-5 at ±10, so a chain of sigmoids multiplies small factors and the
  gradient vanishes. tanh = 2σ(2x) − 1 is a rescaled sigmoid: derivative up
  to 1, and zero-centred outputs (mean 0 on symmetric input, sigmoid's is 0.5).
- ReLU's derivative is exactly 1 on the positive side (a chain of ReLUs keeps
  the gradient) and exactly 0 on the negative side: about half the outputs are
  hard zeros on zero-mean input (sparsity). The price: a unit whose
  pre-activation is negative on every input outputs 0 everywhere, gets zero
  gradient and never recovers (dying ReLU); LeakyReLU still gets a gradient.
- ELU = α(eˣ − 1) for x < 0 saturates smoothly at −α and pushes the mean
  activation towards zero.
- h-swish(x) = x·ReLU6(x + 3)/6 (MobileNetV3) is exactly nn.Hardswish and
  stays within 3σ(−3) ≈ 0.142 of swish x·σ(x), using no exponential.
"""

import math

from quizcnn.proofkit import Proof, main


def run(proof: Proof) -> None:
    why_nonlinearity(proof)
    sigmoid_and_tanh(proof)
    relu_sparsity_and_gradient(proof)
    dying_relu(proof)
    elu(proof)
    hswish(proof)
    derivative_table(proof)


def derivative(proof: Proof, fn, x):
    """d fn(x) / dx, element-wise, by autograd (fn acts element-wise)."""
    x = x.detach().clone().requires_grad_(True)
    fn(x).sum().backward()
    return x.grad


def why_nonlinearity(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    proof.reseed(1)
    # Two linear layers with nothing between them ...
    first, second = torch.nn.Linear(5, 7), torch.nn.Linear(7, 3)
    first, second = first.to(dev, f64), second.to(dev, f64)
    x = torch.randn(64, 5, device=dev, dtype=f64)
    with torch.no_grad():
        stacked = second(first(x))
        # ... are one linear layer with W = W2 W1 and b = W2 b1 + b2.
        w = second.weight @ first.weight
        b = second.weight @ first.bias + second.bias
        single = x @ w.T + b
    proof.close(
        "linear_stack_collapses",
        "Linear(5,7) then Linear(7,3) with no activation equals one Linear(5,3): max difference",
        (stacked - single).abs().max(),
        0.0,
        1e-6,
    )

    # XOR: the best linear fit (least squares, with a bias) predicts 0.5 everywhere.
    inputs = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], device=dev, dtype=f64)
    target = torch.tensor([0.0, 1.0, 1.0, 0.0], device=dev, dtype=f64)
    design = torch.cat([inputs, torch.ones(4, 1, device=dev, dtype=f64)], dim=1)
    coef = torch.linalg.pinv(design) @ target
    linear_mse = ((design @ coef - target) ** 2).mean()
    proof.close(
        "xor_linear_mse", "best linear model on XOR: mean squared error", linear_mse, 0.25, 1e-6
    )
    # One hidden ReLU layer, weights set by hand: y = relu(x1 + x2) − 2 relu(x1 + x2 − 1).
    s = inputs.sum(dim=1)
    relu_net = torch.relu(s) - 2 * torch.relu(s - 1)
    proof.close(
        "xor_relu_mse",
        "two ReLU units on XOR (y = relu(x1+x2) − 2·relu(x1+x2−1)): mean squared error",
        ((relu_net - target) ** 2).mean(),
        0.0,
        1e-12,
    )


def sigmoid_and_tanh(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    x = torch.linspace(-10, 10, 2001, device=dev, dtype=f64)  # step 0.01, holds 0 and ±10
    d_sigmoid = derivative(proof, torch.sigmoid, x)
    d_tanh = derivative(proof, torch.tanh, x)
    at_zero = 1000
    proof.close(
        "sigmoid_max_grad", "largest sigmoid derivative on [−10, 10]", d_sigmoid.max(), 0.25, 1e-9
    )
    proof.holds(
        "sigmoid_max_at_zero",
        "the sigmoid derivative peaks at x = 0",
        int(d_sigmoid.argmax()) == at_zero,
        f"argmax x = {x[d_sigmoid.argmax()].item():g}",
    )
    proof.below(
        "sigmoid_grad_at_10",
        "sigmoid derivative at x = ±10 (saturated: the larger of the two)",
        max(d_sigmoid[0].item(), d_sigmoid[-1].item()),
        1e-4,
    )
    proof.close("tanh_max_grad", "largest tanh derivative (at x = 0)", d_tanh.max(), 1.0, 1e-9)
    proof.below("tanh_grad_at_5", "tanh derivative at x = 5 (saturated)", d_tanh[1500], 1e-3)
    proof.close(
        "tanh_is_rescaled_sigmoid",
        "max |tanh(x) − (2σ(2x) − 1)| on [−10, 10]",
        (torch.tanh(x) - (2 * torch.sigmoid(2 * x) - 1)).abs().max(),
        0.0,
        1e-6,
    )
    # Zero-centred or not: feed a symmetric input and average the outputs.
    proof.close(
        "sigmoid_mean_output",
        "mean sigmoid output on symmetric input",
        torch.sigmoid(x).mean(),
        0.5,
        1e-9,
    )
    proof.close(
        "tanh_mean_output", "mean tanh output on symmetric input", torch.tanh(x).mean(), 0.0, 1e-9
    )

    # Backprop through a chain of 10 sigmoids: each factor is at most 0.25.
    z = torch.zeros((), device=dev, dtype=f64, requires_grad=True)
    y = z
    for _ in range(10):
        y = torch.sigmoid(y)
    y.backward()
    proof.below(
        "sigmoid_chain_gradient",
        "gradient through 10 stacked sigmoids at x = 0 (bound 0.25^10 ≈ 9.5e-7)",
        z.grad,
        0.25**10,
    )
    z = torch.ones((), device=dev, dtype=f64, requires_grad=True)
    y = z
    for _ in range(10):
        y = torch.relu(y)
    y.backward()
    proof.close(
        "relu_chain_gradient", "gradient through 10 stacked ReLUs at x = 1", z.grad, 1.0, 0.0
    )


def relu_sparsity_and_gradient(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    proof.reseed(2)
    x = torch.randn(100_000, device=dev, dtype=f64)
    out = torch.relu(x)
    proof.close(
        "relu_zero_fraction",
        "fraction of ReLU outputs exactly 0 on N(0, 1) input",
        (out == 0).double().mean(),
        0.5,
        0.01,
    )
    grad = derivative(proof, torch.relu, x)
    proof.holds(
        "relu_grad_positive_is_one",
        "ReLU derivative is exactly 1 wherever x > 0",
        bool((grad[x > 0] == 1).all()),
    )
    proof.holds(
        "relu_grad_negative_is_zero",
        "ReLU derivative is exactly 0 wherever x < 0",
        bool((grad[x < 0] == 0).all()),
    )
    at_zero = derivative(proof, torch.relu, torch.zeros(1, device=dev, dtype=f64))
    proof.close(
        "relu_grad_at_zero", "ReLU'(0) as PyTorch's autograd computes it", at_zero, 0.0, 0.0
    )
    proof.close(
        "relu_mean_output",
        "mean ReLU output on N(0, 1) input (analytic 1/√(2π) ≈ 0.399)",
        out.mean(),
        1 / math.sqrt(2 * math.pi),
        0.01,
    )


def dying_relu(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    proof.reseed(3)
    x = torch.randn(1000, 8, device=dev, dtype=f64)
    target = torch.randn(1000, 1, device=dev, dtype=f64)

    def unit(activation):
        layer = torch.nn.Linear(8, 1).to(dev, f64)
        with torch.no_grad():
            layer.weight.copy_(torch.full((1, 8), 0.1))
            layer.bias.fill_(-10.0)  # e.g. after one too-large update: negative on every input
        return layer, activation

    layer, act = unit(torch.relu)
    out = act(layer(x))
    ((out - target) ** 2).mean().backward()
    proof.close(
        "dead_relu_zero_outputs",
        "dead ReLU unit: fraction of 1000 inputs with output 0",
        (out == 0).double().mean(),
        1.0,
        0.0,
    )
    grad_norm = layer.weight.grad.norm() + layer.bias.grad.abs().sum()
    proof.close(
        "dead_relu_zero_grad",
        "dead ReLU unit: gradient norm of its weights and bias",
        grad_norm,
        0.0,
        0.0,
    )

    # Train it: plain SGD (written out, w ← w − lr·∂L/∂w) never moves a dead unit.
    before = torch.cat([layer.weight.detach().flatten(), layer.bias.detach()]).clone()
    for _ in range(50):
        layer.zero_grad()
        ((act(layer(x)) - target) ** 2).mean().backward()
        with torch.no_grad():
            for param in layer.parameters():
                param -= 0.5 * param.grad
    after = torch.cat([layer.weight.detach().flatten(), layer.bias.detach()])
    proof.holds(
        "dead_relu_stays_dead",
        "after 50 SGD steps the dead ReLU unit's weights have not changed",
        bool(torch.equal(before, after)),
    )

    leaky_layer, leaky = unit(torch.nn.LeakyReLU(0.01))
    ((leaky(leaky_layer(x)) - target) ** 2).mean().backward()
    leaky_grad = leaky_layer.weight.grad.norm() + leaky_layer.bias.grad.abs().sum()
    proof.above(
        "leaky_relu_gets_gradient", "same unit with LeakyReLU(0.01): gradient norm", leaky_grad, 0.0
    )


def elu(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    for alpha in (1.0, 2.0):
        value = torch.nn.functional.elu(torch.tensor(-20.0, device=dev, dtype=f64), alpha=alpha)
        proof.close(
            f"elu_saturates_alpha_{alpha:g}",
            f"ELU(−20) with α = {alpha:g} (saturates at −α)",
            value,
            -alpha,
            1e-6,
        )
    x = torch.linspace(-8, -0.01, 800, device=dev, dtype=f64)
    grad = derivative(proof, torch.nn.functional.elu, x)
    proof.close(
        "elu_negative_grad",
        "for x < 0, ELU'(x) = ELU(x) + α: max difference",
        (grad - (torch.nn.functional.elu(x) + 1.0)).abs().max(),
        0.0,
        1e-6,
    )
    proof.reseed(4)
    z = torch.randn(100_000, device=dev, dtype=f64)
    # E[ELU(z)] = 1/√(2π) + e^{1/2} Φ(−1) − 1/2 for z ~ N(0, 1), α = 1.
    expected = 1 / math.sqrt(2 * math.pi) + math.exp(0.5) * 0.5 * math.erfc(1 / math.sqrt(2)) - 0.5
    proof.close(
        "elu_mean_output",
        "mean ELU output on N(0, 1) input (analytic ≈ 0.161, ReLU's ≈ 0.399)",
        torch.nn.functional.elu(z).mean(),
        expected,
        0.01,
    )


def hswish(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    x = torch.linspace(-6, 6, 1201, device=dev, dtype=f64)  # step 0.01, holds ±3
    by_formula = x * torch.nn.functional.relu6(x + 3) / 6
    by_module = torch.nn.Hardswish()(x)
    swish = x * torch.sigmoid(x)
    proof.close(
        "hswish_is_x_relu6",
        "max |x·ReLU6(x + 3)/6 − nn.Hardswish(x)| on [−6, 6]",
        (by_formula - by_module).abs().max(),
        0.0,
        1e-6,
    )
    proof.close(
        "hswish_vs_swish_max_diff",
        "max |h-swish(x) − x·σ(x)| on [−6, 6] (analytic 3σ(−3) ≈ 0.142, at x = ±3)",
        (by_module - swish).abs().max(),
        3 / (1 + math.exp(3)),
        1e-6,
    )
    below, above = x <= -3, x >= 3
    proof.holds(
        "hswish_zero_below_minus3",
        "h-swish is exactly 0 for x ≤ −3",
        bool((by_module[below] == 0).all()),
    )
    proof.close(
        "hswish_identity_above_3",
        "h-swish equals x for x ≥ 3: max |h-swish(x) − x| (rounding only)",
        (by_module[above] - x[above]).abs().max(),
        0.0,
        1e-6,
    )


def derivative_table(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    fns = {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "ReLU": torch.relu,
        "LeakyReLU(0.01)": torch.nn.LeakyReLU(0.01),
        "ELU(α=1)": torch.nn.functional.elu,
        "Hardswish": torch.nn.Hardswish(),
    }
    points = [-10.0, -5.0, -1.0, 0.0, 1.0, 5.0, 10.0]
    x = torch.tensor(points, device=dev, dtype=f64)
    rows = []
    for name, fn in fns.items():
        grads = derivative(proof, fn, x)
        rows.append([name, *(f"{g:.3g}" for g in grads.tolist())])
    proof.table(
        "Derivative f'(x) by autograd (PyTorch takes ReLU'(0) = 0)",
        ["function", *(f"x={p:g}" for p in points)],
        rows,
    )
    grid = list(range(-6, 7))
    xs = torch.tensor(grid, device=dev, dtype=f64)
    proof.plot(
        "Derivatives: sigmoid and tanh vanish at both ends, ReLU is 0 or 1",
        "x",
        "f'(x)",
        grid,
        {
            name: derivative(proof, fns[name], xs).tolist()
            for name in ("sigmoid", "tanh", "ReLU", "ELU(α=1)")
        },
    )


if __name__ == "__main__":
    main(run, __doc__)
