"""The normalization family: which values share a mean, and what each layer reduces to

Every layer here computes x_hat = (x - mu) / sqrt(var + eps) (RMSNorm skips mu)
and differs only in WHICH values share one mean and one variance. The proof
measures that set directly: it nudges one input value and counts the outputs
that move. On an (N, C, H, W) tensor:

- BatchNorm2d (training): one statistic per channel, over (N, H, W);
- LayerNorm([C, H, W]): one per sample, over (C, H, W);
- InstanceNorm2d: one per sample and channel, over (H, W);
- GroupNorm(G, C): one per sample and group of C/G channels, over (C/G, H, W);
  G = 1 is LayerNorm over (C, H, W) and G = C is InstanceNorm, numerically;
- RMSNorm(d): divides by sqrt(mean(x^2) + eps) over the last d values, with no
  mean subtraction and no bias; it equals LayerNorm only when the mean is 0;
  nn.RMSNorm's eps=None means torch.finfo(dtype).eps of the computation type
  (float32 for a float16 input), not 1e-5.

It also checks that GroupNorm's output does not depend on the batch, that
InstanceNorm2d (track_running_stats=False by default) behaves the same in eval
mode, the parameter counts, and weight standardization (Qiao et al. 2019) by hand.
"""

from quizcnn.proofkit import Proof, main


def run(proof: Proof) -> None:
    torch, dev, dt = proof.torch, proof.device, proof.float64
    tight = 1e-10 if dt == torch.float64 else 1e-4
    axes_by_perturbation(proof, torch, dev, dt)
    extremes_of_groupnorm(proof, torch, dev, dt, tight)
    rmsnorm_by_hand(proof, torch, dev, dt, tight)
    batch_and_mode_independence(proof, torch, dev, dt, tight)
    parameter_counts(proof, torch)
    weight_standardization(proof, torch, dev, dt, tight)


def _moved(layer, x, torch) -> int:
    """How many outputs change when the single input value x[0, 0, 0, 0] changes.

    Two nudges of different size: an output can sit exactly where the shift of the
    mean and the change of the variance cancel for one nudge, never for both."""
    base = layer(x)
    moved = torch.zeros_like(base, dtype=torch.bool)
    for nudge in (1.0, 3.0):
        bumped = x.clone()
        bumped[0, 0, 0, 0] += nudge
        moved |= (layer(bumped) - base).abs() > 1e-9
    return int(moved.sum().item())


def axes_by_perturbation(proof: Proof, torch, dev, dt) -> None:
    """Nudge one value; the outputs that move are exactly the values it was normalized with."""
    proof.reseed(1)
    nn = torch.nn
    N, C, H, W, G = 3, 8, 5, 5, 2
    x = torch.randn(N, C, H, W, device=dev, dtype=dt)
    layers = [
        ("BatchNorm2d(8), training", nn.BatchNorm2d(C, device=dev, dtype=dt), N * H * W, "N·H·W"),
        ("LayerNorm([8, 5, 5])", nn.LayerNorm([C, H, W], device=dev, dtype=dt), C * H * W, "C·H·W"),
        ("InstanceNorm2d(8)", nn.InstanceNorm2d(C, device=dev, dtype=dt), H * W, "H·W"),
        ("GroupNorm(2, 8)", nn.GroupNorm(G, C, device=dev, dtype=dt), C // G * H * W, "(C/G)·H·W"),
        ("RMSNorm(5), last axis", nn.RMSNorm(W, device=dev, dtype=dt), W, "W"),
    ]
    rows = []
    for name, layer, expected, formula in layers:
        with torch.no_grad():
            moved = _moved(layer, x, torch)
        rows.append([name, moved, f"{formula} = {expected}"])
        key = name.split("(")[0].lower()
        proof.close(
            f"{key}_group_size",
            f"{name} on (3, 8, 5, 5): outputs that move when one input moves",
            moved,
            expected,
            0,
        )
    proof.table(
        "Which values share one mean and variance (nudge x[0,0,0,0], count outputs that move)",
        ["layer", "outputs moved", "expected"],
        rows,
    )


def extremes_of_groupnorm(proof: Proof, torch, dev, dt, tight) -> None:
    proof.reseed(2)
    F = torch.nn.functional
    N, C, H, W = 3, 6, 4, 4
    x = torch.randn(N, C, H, W, device=dev, dtype=dt) * 3 + 1
    proof.below(
        "gn_g1_is_layernorm",
        "GroupNorm(G=1) vs LayerNorm([C, H, W]): max abs difference",
        (F.group_norm(x, 1) - F.layer_norm(x, [C, H, W])).abs().max(),
        tight,
    )
    proof.below(
        "gn_gc_is_instancenorm",
        "GroupNorm(G=C) vs InstanceNorm2d: max abs difference",
        (F.group_norm(x, C) - F.instance_norm(x)).abs().max(),
        tight,
    )
    # The statistics of GroupNorm(32, 64) on (8, 64, 56, 56): one mean per sample and group.
    big = torch.randn(8, 64, 56, 56, device=dev, dtype=torch.float32)
    _, mean, rstd = torch.ops.aten.native_group_norm(big, None, None, 8, 64, 56 * 56, 32, 1e-5)
    proof.close(
        "gn_number_of_means",
        "GroupNorm(32, 64) on (8, 64, 56, 56): number of means computed (N·G)",
        mean.numel(),
        8 * 32,
        0,
    )


def rmsnorm_by_hand(proof: Proof, torch, dev, dt, tight) -> None:
    proof.reseed(3)
    nn = torch.nn
    F = torch.nn.functional
    d = 16
    x = torch.randn(5, d, device=dev, dtype=dt) + 2.0  # a clearly non-zero mean per row
    rms = nn.RMSNorm(d, eps=1e-6, device=dev, dtype=dt)
    with torch.no_grad():
        rms.weight.copy_(torch.rand(d, device=dev, dtype=dt) + 0.5)
        by_hand = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * rms.weight
        proof.below(
            "rmsnorm_by_hand",
            "nn.RMSNorm vs x / sqrt(mean(x²) + eps) · weight by hand: max abs difference",
            (rms(x) - by_hand).abs().max(),
            tight,
        )
    # No mean subtraction: with a non-zero mean, RMSNorm and LayerNorm disagree ...
    ln = F.layer_norm(x, [d], eps=1e-6)
    rn = F.rms_norm(x, [d], eps=1e-6)
    proof.above(
        "rmsnorm_differs_from_ln",
        "RMSNorm vs LayerNorm on rows with mean ≈ 2: max abs difference",
        (rn - ln).abs().max(),
        0.5,
    )
    # ... and they agree exactly once each row has mean 0 (then mean(x²) is the variance).
    xc = x - x.mean(-1, keepdim=True)
    proof.below(
        "rmsnorm_equals_ln_at_zero_mean",
        "RMSNorm vs LayerNorm on zero-mean rows: max abs difference",
        (F.rms_norm(xc, [d], eps=1e-6) - F.layer_norm(xc, [d], eps=1e-6)).abs().max(),
        tight,
    )
    # RMSNorm output keeps the input's mean direction: its mean is not 0.
    proof.above(
        "rmsnorm_output_mean_not_zero",
        "RMSNorm output on rows with mean ≈ 2: smallest |row mean| (LayerNorm's would be 0)",
        rn.mean(-1).abs().min(),
        0.5,
    )
    # Invariances (Zhang & Sennrich, Table 1): both ignore a rescaling of the input,
    # only LayerNorm ignores a shift of it.
    proof.below(
        "rmsnorm_scale_invariant",
        "RMSNorm(7·x) vs RMSNorm(x): max abs difference (re-scaling invariance)",
        (F.rms_norm(7 * x, [d], eps=1e-12) - F.rms_norm(x, [d], eps=1e-12)).abs().max(),
        tight,
    )
    proof.above(
        "rmsnorm_not_shift_invariant",
        "RMSNorm(x + 1.5) vs RMSNorm(x): max abs difference (no re-centering invariance)",
        (F.rms_norm(x + 1.5, [d], eps=1e-12) - F.rms_norm(x, [d], eps=1e-12)).abs().max(),
        0.05,
    )
    proof.below(
        "layernorm_shift_invariant",
        "LayerNorm(x + 1.5) vs LayerNorm(x): max abs difference",
        (F.layer_norm(x + 1.5, [d], eps=1e-12) - F.layer_norm(x, [d], eps=1e-12)).abs().max(),
        tight,
    )
    # eps=None: torch.finfo(dtype).eps. Visible only when mean(x²) is tiny, so use rms ~ 1e-3.
    small = x * 1e-3
    finfo_eps = torch.finfo(dt).eps
    default = nn.RMSNorm(d, device=dev, dtype=dt)
    with torch.no_grad():
        got = default(small)
    proof.holds("rmsnorm_eps_default_none", "nn.RMSNorm(d).eps is None", default.eps is None)
    proof.below(
        "rmsnorm_eps_none_is_finfo",
        "nn.RMSNorm(eps=None) vs the formula with eps = torch.finfo(dtype).eps: max abs difference",
        (got - F.rms_norm(small, [d], eps=finfo_eps)).abs().max(),
        tight,
    )
    proof.above(
        "rmsnorm_eps_none_is_not_1e5",
        "nn.RMSNorm(eps=None) vs the formula with eps = 1e-5 on inputs of rms ~ 0.002: max abs difference",
        (got - F.rms_norm(small, [d], eps=1e-5)).abs().max(),
        0.1,
    )
    # The same in float32: eps=None is torch.finfo(torch.float32).eps, about 1.19e-7.
    small32 = small.float()
    with torch.no_grad():
        got32 = nn.RMSNorm(d, device=dev, dtype=torch.float32)(small32)
    f32_eps = torch.finfo(torch.float32).eps
    proof.below(
        "rmsnorm_eps_none_float32",
        "float32: nn.RMSNorm(eps=None) vs the formula with eps = 1.19e-7: max abs difference",
        (got32 - F.rms_norm(small32, [d], eps=f32_eps)).abs().max(),
        1e-5,
    )
    # float16 input: the default is float32's eps too (the computation runs in float32),
    # not torch.finfo(torch.float16).eps = 9.8e-4, which would swamp mean(x²) ~ 5e-6 here.
    # Outputs are of order 1, so float16 rounding (2^-11 relative) stays far below 0.01.
    small16 = small.half()
    with torch.no_grad():
        got16 = nn.RMSNorm(d, device=dev, dtype=torch.float16)(small16).float()
    reference = small16.float()
    proof.below(
        "rmsnorm_eps_none_float16",
        "float16: nn.RMSNorm(eps=None) vs the float32 formula with float32's eps: max abs difference",
        (got16 - F.rms_norm(reference, [d], eps=f32_eps)).abs().max(),
        1e-2,
    )
    proof.above(
        "rmsnorm_eps_none_float16_not_own_eps",
        "float16: nn.RMSNorm(eps=None) vs the formula with float16's own eps (9.8e-4)",
        (got16 - F.rms_norm(reference, [d], eps=torch.finfo(torch.float16).eps)).abs().max(),
        0.5,
    )
    # The worked example of the cards: x = (1, 2, 3, 4).
    v = torch.tensor([[1.0, 2.0, 3.0, 4.0]], device=dev, dtype=dt)
    rms_first = F.rms_norm(v, [4], eps=1e-12)[0, 0]
    ln_first = F.layer_norm(v, [4], eps=1e-12)[0, 0]
    proof.close(
        "rmsnorm_example_first",
        "RMSNorm of (1, 2, 3, 4), first output: 1/sqrt(7.5)",
        rms_first,
        1 / 7.5**0.5,
        1e-9,
    )
    proof.close(
        "layernorm_example_first",
        "LayerNorm of (1, 2, 3, 4), first output: -1.5/sqrt(1.25)",
        ln_first,
        -1.5 / 1.25**0.5,
        1e-9,
    )


def batch_and_mode_independence(proof: Proof, torch, dev, dt, tight) -> None:
    proof.reseed(4)
    nn = torch.nn
    x = torch.randn(16, 8, 6, 6, device=dev, dtype=dt) * 2 + 1
    gn = nn.GroupNorm(4, 8, device=dev, dtype=dt)
    bn = nn.BatchNorm2d(8, device=dev, dtype=dt)
    with torch.no_grad():
        gn_alone, gn_in_batch = gn(x[:1]), gn(x)[:1]
        bn_small, bn_large = bn(x[:2])[:1], bn(x)[:1]
    proof.below(
        "gn_batch_size_independent",
        "GroupNorm: sample 0 alone vs inside a batch of 16: max abs difference",
        (gn_alone - gn_in_batch).abs().max(),
        tight,
    )
    proof.above(
        "bn_batch_size_dependent",
        "BatchNorm2d (training): sample 0 in a batch of 2 vs a batch of 16: max abs difference",
        (bn_small - bn_large).abs().max(),
        0.05,
    )
    # InstanceNorm2d keeps no running statistics by default: eval == train.
    inorm = nn.InstanceNorm2d(8, device=dev, dtype=dt)
    with torch.no_grad():
        train_out = inorm(x)
        inorm.eval()
        eval_out = inorm(x)
    proof.holds(
        "in_default_no_running_stats",
        "nn.InstanceNorm2d(8): track_running_stats and affine default to False, no buffers",
        not inorm.track_running_stats and not inorm.affine and not list(inorm.buffers()),
    )
    proof.below(
        "in_eval_equals_train",
        "InstanceNorm2d (defaults): eval output vs training output: max abs difference",
        (eval_out - train_out).abs().max(),
        tight,
    )
    tracked = nn.InstanceNorm2d(8, track_running_stats=True, device=dev, dtype=dt)
    with torch.no_grad():
        tracked_train = tracked(x)
        tracked.eval()
        tracked_eval = tracked(x)
    proof.above(
        "in_tracked_eval_differs",
        "InstanceNorm2d(track_running_stats=True): eval (running stats) vs training output",
        (tracked_eval - tracked_train).abs().max(),
        0.05,
    )


def _count(module) -> tuple[int, int]:
    params = sum(p.numel() for p in module.parameters())
    buffers = sum(b.numel() for b in module.buffers())
    return params, buffers


def parameter_counts(proof: Proof, torch) -> None:
    nn = torch.nn
    with torch.device("meta"):
        modules = [
            ("nn.BatchNorm2d(256)", nn.BatchNorm2d(256), 512),
            ("nn.GroupNorm(32, 256)", nn.GroupNorm(32, 256), 512),
            ("nn.InstanceNorm2d(256)", nn.InstanceNorm2d(256), 0),
            ("nn.InstanceNorm2d(256, affine=True)", nn.InstanceNorm2d(256, affine=True), 512),
            ("nn.LayerNorm(4096)", nn.LayerNorm(4096), 8192),
            ("nn.LayerNorm(4096, bias=False)", nn.LayerNorm(4096, bias=False), 4096),
            ("nn.RMSNorm(4096)", nn.RMSNorm(4096), 4096),
        ]
    rows = []
    for name, module, expected in modules:
        params, buffers = _count(module)
        rows.append([name, params, expected, buffers])
    proof.table(
        "Learnable parameters and buffer values",
        ["layer", "parameters", "closed form", "buffer values"],
        rows,
    )
    counted = {name: _count(m)[0] for name, m, _ in modules}
    proof.close(
        "gn_params",
        "nn.GroupNorm(32, 256): learnable parameters (per-channel γ, β)",
        counted["nn.GroupNorm(32, 256)"],
        512,
        0,
    )
    proof.close(
        "in_params_default",
        "nn.InstanceNorm2d(256) with defaults: learnable parameters",
        counted["nn.InstanceNorm2d(256)"],
        0,
        0,
    )
    proof.close(
        "rmsnorm_params",
        "nn.RMSNorm(4096): learnable parameters (weight only, no bias)",
        counted["nn.RMSNorm(4096)"],
        4096,
        0,
    )
    proof.close(
        "layernorm_params",
        "nn.LayerNorm(4096): learnable parameters (weight and bias)",
        counted["nn.LayerNorm(4096)"],
        8192,
        0,
    )
    proof.holds(
        "all_counts_match",
        "every parameter count in the table matches its closed form",
        all(counted[name] == expected for name, _, expected in modules),
    )


def weight_standardization(proof: Proof, torch, dev, dt, tight) -> None:
    """WS: standardize each output channel's filter over its fan-in (C_in·k·k values)."""
    proof.reseed(5)
    F = torch.nn.functional
    c_out, c_in, k = 6, 4, 3
    eps = 0.0  # the paper adds a small eps; 0 here so that the invariance below is exact
    w = torch.randn(c_out, c_in, k, k, device=dev, dtype=dt) * 0.2 + 0.05

    def standardize(weight):
        flat = weight.reshape(weight.shape[0], -1)
        mu = flat.mean(1, keepdim=True)
        var = flat.var(1, unbiased=False, keepdim=True)
        return ((flat - mu) / torch.sqrt(var + eps)).reshape(weight.shape)

    w_hat = standardize(w)
    flat = w_hat.reshape(c_out, -1)
    proof.below(
        "ws_filter_mean_zero",
        "weight standardization: largest |mean| of a filter over C_in·k·k = 36 weights",
        flat.mean(1).abs().max(),
        tight,
    )
    proof.below(
        "ws_filter_var_one",
        "weight standardization: largest |variance - 1| of a filter (biased, over 36 weights)",
        flat.var(1, unbiased=False).sub(1).abs().max(),
        tight,
    )
    # A WS conv does not care about each filter's scale and offset: WS(a·w + c) = WS(w).
    scale = torch.rand(c_out, 1, 1, 1, device=dev, dtype=dt) * 5 + 0.5
    offset = torch.randn(c_out, 1, 1, 1, device=dev, dtype=dt)
    x = torch.randn(2, c_in, 7, 7, device=dev, dtype=dt)
    y = F.conv2d(x, standardize(w))
    y_reparam = F.conv2d(x, standardize(w * scale + offset))
    proof.below(
        "ws_invariant_to_filter_affine",
        "WS conv: output with filters a·w + c vs w (per-filter a > 0, c): max abs difference",
        (y - y_reparam).abs().max(),
        tight,
    )
    # WS fixes the weights, not the activations: GroupNorm after it still normalizes per sample.
    z = F.group_norm(y, 2)
    proof.below(
        "ws_then_gn_normalized",
        "WS conv followed by GroupNorm(2): largest |mean| of a (sample, group)",
        z.reshape(2, 2, -1).mean(-1).abs().max(),
        tight,
    )


if __name__ == "__main__":
    main(run, __doc__)
