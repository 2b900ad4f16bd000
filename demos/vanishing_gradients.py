"""Vanishing and exploding gradients in a 20-layer MLP

Backpropagation multiplies one Jacobian per layer. For a layer
z_{l+1} = W_{l+1} f(z_l) + b, the gradient that reaches z_l is
f'(z_l) * (W_{l+1}^T dL/dz_{l+1}), so its size changes by roughly
(scale of W) x (typical f') at every layer, and over 20 layers that factor is
raised to the 20th power. This proof measures the three regimes on the same
data (a batch of 16 random inputs, 10 random classes, cross-entropy loss):

- sigmoid: sigma'(x) = sigma(x)(1 - sigma(x)) is at most 0.25 (at x = 0), so
  each layer shrinks the gradient by at least 0.25 * ||W||_2. With PyTorch's
  default nn.Linear init the first layer's weight gradient ends up ~1e-16 of
  the last layer's; even Xavier init leaves it below 1e-6. Only weights about
  10x Xavier's undo the 0.25 factor, and they do it by saturating most units
  (sigma' near 0), which stalls learning in another way;
- ReLU with Kaiming init (std = sqrt(2 / fan_in)): the derivative is exactly 1
  on the active half and the weight scale makes up for the other half, so the
  per-layer weight-gradient norms stay within a small factor of each other;
- ReLU with a too-large init (std 0.4 for width 128, i.e. 3.2x Kaiming): the
  gradient grows by ~3.2 per layer on the way back, several 1e9 in all
  (3.2^19 = 4e9);
- remedies measured here: identity skip connections (h + f(h)) keep the
  gradient reaching the first layer of the same sigmoid net, and
  torch.nn.utils.clip_grad_norm_ rescales an exploding gradient to max_norm
  without changing its direction, while clip_grad_value_ clamps each entry
  and so does change the direction.

"Gradient norm per layer" below is the Frobenius norm of each nn.Linear
weight's .grad. The claims about the backward signal use the gradient with
respect to each layer's output z_l (the quantity the chain rule carries).
"""

from quizcnn.proofkit import Proof, main

DEPTH = 20  # nn.Linear layers: 19 hidden (width -> width) and one output (width -> classes)
WIDTH = 128
BATCH = 16
CLASSES = 10
BIG_STD = 0.4  # looks small, but sqrt(2 / 128) = 0.125 is Kaiming's std here
MAX_NORM = 1.0  # for clip_grad_norm_
CLIP_VALUE = 1e-3  # for clip_grad_value_


def build_layers(proof: Proof, init=None) -> list:
    """DEPTH nn.Linear layers; init(layer) overrides PyTorch's default initialization."""
    torch = proof.torch
    sizes = [WIDTH] * DEPTH + [CLASSES]
    layers = [
        torch.nn.Linear(sizes[i], sizes[i + 1], device=proof.device, dtype=proof.float64)
        for i in range(DEPTH)
    ]
    if init is not None:
        with torch.no_grad():
            for layer in layers:
                init(layer)
    return layers


def backprop(proof: Proof, layers, activation, x, y, residual=False):
    """One forward and backward pass; returns (weight-grad norms, dL/dz norms) per layer."""
    torch = proof.torch
    h = x
    outputs = []
    for i, layer in enumerate(layers):
        z = layer(h)
        z.retain_grad()  # keep dL/dz_l, the signal backpropagation carries
        outputs.append(z)
        if i < len(layers) - 1:
            h = h + activation(z) if residual else activation(z)
    torch.nn.functional.cross_entropy(z, y).backward()
    weight_grads = [layer.weight.grad.norm().item() for layer in layers]
    signals = [z.grad.norm().item() for z in outputs]
    return weight_grads, signals


def flat_grad(torch, params):
    return torch.cat([p.grad.flatten() for p in params])


def run(proof: Proof) -> None:
    torch = proof.torch
    dev = proof.device
    dt = proof.float64
    nn = torch.nn

    x = torch.randn(BATCH, WIDTH, dtype=dt, device=dev)
    y = torch.randint(0, CLASSES, (BATCH,), device=dev)

    # --- 1. sigma' is at most 0.25 ----------------------------------------
    grid = torch.linspace(-10.0, 10.0, 200_001, dtype=dt, device=dev, requires_grad=True)
    torch.sigmoid(grid).sum().backward()
    d_sigmoid = grid.grad  # autograd's sigma'(x) on a 1e-4 grid
    peak = d_sigmoid.argmax()
    proof.close(
        "sigmoid_max_derivative",
        "max of sigma'(x) over [-10, 10] (autograd)",
        d_sigmoid.max(),
        0.25,
        1e-9,
    )
    proof.close("sigmoid_argmax_at_zero", "sigma' peaks at x = 0", grid[peak].detach(), 0.0, 1e-3)
    proof.below(
        "sigmoid_saturates",
        "largest sigma'(x) for |x| >= 5 (saturation)",
        d_sigmoid[grid.detach().abs() >= 5].max(),
        0.01,
    )
    grid_t = grid.detach().clone().requires_grad_(True)
    torch.tanh(grid_t).sum().backward()
    proof.close(
        "tanh_max_derivative", "max of tanh'(x), for contrast", grid_t.grad.max(), 1.0, 1e-9
    )

    # --- 2. a deep sigmoid MLP: the first layer gets almost nothing --------
    proof.reseed(1)
    sig_layers = build_layers(proof)  # PyTorch's default nn.Linear init
    sig_w, sig_s = backprop(proof, sig_layers, torch.sigmoid, x, y)
    proof.below(
        "sigmoid_first_over_last",
        "sigmoid, default init: |grad W_1| / |grad W_20|",
        sig_w[0] / sig_w[-1],
        1e-6,
    )
    # Chain rule bound: |dL/dz_l| <= 0.25 * ||W_{l+1}||_2 * |dL/dz_{l+1}| at every layer.
    spectral = [
        torch.linalg.matrix_norm(layer.weight.detach(), ord=2).item() for layer in sig_layers
    ]
    worst = max(sig_s[i] / (0.25 * spectral[i + 1] * sig_s[i + 1]) for i in range(DEPTH - 1))
    proof.below(
        "sigmoid_layer_bound",
        "max over layers of |dL/dz_l| / (0.25 ||W_l+1||_2 |dL/dz_l+1|)",
        worst,
        1.0,
    )

    def xavier(layer):
        nn.init.xavier_normal_(layer.weight)
        nn.init.zeros_(layer.bias)

    proof.reseed(2)
    xav_w, _ = backprop(proof, build_layers(proof, xavier), torch.sigmoid, x, y)
    proof.below(
        "sigmoid_xavier_first_over_last",
        "sigmoid, Xavier init: |grad W_1| / |grad W_20| (init alone cannot fix 0.25)",
        xav_w[0] / xav_w[-1],
        1e-6,
    )

    # --- 3. ReLU + Kaiming: the norms stay level ---------------------------
    def kaiming(layer):
        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")  # std = sqrt(2 / fan_in)
        nn.init.zeros_(layer.bias)

    proof.reseed(3)
    kai_layers = build_layers(proof, kaiming)
    kai_w, kai_s = backprop(proof, kai_layers, torch.relu, x, y)
    proof.below(
        "relu_kaiming_spread",
        "ReLU + Kaiming: max / min of the 20 weight-gradient norms",
        max(kai_w) / min(kai_w),
        10.0,
    )

    # --- 4. ReLU with a too-large init: the gradient explodes --------------
    def too_large(layer):
        nn.init.normal_(layer.weight, std=BIG_STD)
        nn.init.zeros_(layer.bias)

    proof.reseed(3)
    big_layers = build_layers(proof, too_large)
    big_w, big_s = backprop(proof, big_layers, torch.relu, x, y)
    proof.above(
        "big_init_signal_first_over_last",
        f"ReLU, std {BIG_STD}: |dL/dz_1| / |dL/dz_20|",
        big_s[0] / big_s[-1],
        1e6,
    )
    proof.above(
        "big_init_vs_kaiming_first_layer",
        f"|grad W_1| with std {BIG_STD} / with Kaiming",
        big_w[0] / kai_w[0],
        1e6,
    )

    # --- 5. a remedy: identity skip connections ----------------------------
    proof.reseed(1)  # the same weights as the plain sigmoid net above
    _, res_s = backprop(proof, build_layers(proof), torch.sigmoid, x, y, residual=True)
    proof.above(
        "residual_sigmoid_signal",
        "sigmoid with h + f(h) skips: |dL/dz_1| / |dL/dz_20|",
        res_s[0] / res_s[-1],
        1e-2,
    )

    # --- 6. gradient clipping -------------------------------------------
    params = [p for layer in big_layers for p in layer.parameters()]
    before = flat_grad(torch, params)
    returned = nn.utils.clip_grad_norm_(params, max_norm=MAX_NORM)
    after = flat_grad(torch, params)
    proof.above("clip_norm_before", "total gradient norm before clipping", before.norm(), 1e6)
    proof.close(
        "clip_returns_total_norm",
        "clip_grad_norm_ returns the norm before clipping (relative error)",
        (returned - before.norm()).abs() / before.norm(),
        0.0,
        1e-9,
    )
    proof.close(
        "clip_norm_after",
        f"total norm after clip_grad_norm_(max_norm={MAX_NORM})",
        after.norm(),
        MAX_NORM,
        1e-6,
    )
    proof.close(
        "clip_norm_keeps_direction",
        "cosine(before, after clip_grad_norm_)",
        torch.dot(before, after) / (before.norm() * after.norm()),
        1.0,
        1e-9,
    )
    with torch.no_grad():  # put the exploded gradient back, then clip by value instead
        offset = 0
        for p in params:
            p.grad.copy_(before[offset : offset + p.numel()].view_as(p))
            offset += p.numel()
    nn.utils.clip_grad_value_(params, clip_value=CLIP_VALUE)
    by_value = flat_grad(torch, params)
    proof.close(
        "clip_value_bounds_entries",
        f"largest |entry| after clip_grad_value_({CLIP_VALUE}), in units of the clip value",
        by_value.abs().max() / CLIP_VALUE,
        1.0,
        1e-9,
    )
    proof.below(
        "clip_value_turns_direction",
        "cosine(before, after clip_grad_value_)",
        torch.dot(before, by_value) / (before.norm() * by_value.norm()),
        0.99,
    )

    layers_axis = list(range(1, DEPTH + 1))
    proof.table(
        "Gradient norms at initialization (first layer, last layer)",
        ["network", "|grad W_1|", "|grad W_20|", "|dL/dz_1| / |dL/dz_20|"],
        [
            ["sigmoid, default init", sig_w[0], sig_w[-1], sig_s[0] / sig_s[-1]],
            ["sigmoid, Xavier", xav_w[0], xav_w[-1], "-"],
            ["ReLU, Kaiming", kai_w[0], kai_w[-1], kai_s[0] / kai_s[-1]],
            [f"ReLU, std {BIG_STD}", big_w[0], big_w[-1], big_s[0] / big_s[-1]],
            ["sigmoid + skips", "-", "-", res_s[0] / res_s[-1]],
        ],
    )
    proof.plot(
        "Weight-gradient norm per layer (layer 1 = input side)",
        "layer",
        "|grad W|",
        layers_axis,
        {
            "sigmoid": sig_w,
            "relu + kaiming": kai_w,
            f"relu, std {BIG_STD}": big_w,
        },
        log_y=True,
    )


if __name__ == "__main__":
    main(run, __doc__)
