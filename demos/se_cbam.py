"""Squeeze-and-Excitation and CBAM: channel gates, spatial gates, and what they cost

An SE block (Hu et al., arXiv:1709.01507, §3) squeezes each channel of a
feature map to one number by global average pooling, passes that C-vector
through FC(C -> C/r), ReLU, FC(C/r -> C) and a sigmoid (the excitation), and
multiplies every channel by its gate. Measured here:

- the parameter count of a built SE module is 2C²/r weights plus C/r + C
  biases (8,464 for C = 256, r = 16), and 2,530,992 over the 16 blocks of an
  SE-ResNet-50; smaller r grows it as 1/r;
- the output is exactly the input scaled per channel, by gates strictly
  inside (0, 1) that depend on the input (unlike a fixed per-channel scale)
  and that need not sum to 1 (sigmoid, not softmax);
- the gates do not change when the pixels of each channel are shuffled: the
  squeeze keeps no information about where things are;
- on the residual branch (the paper's standard placement) a closed gate leaves
  the identity path intact; after the addition (SE-POST) it shuts it.

CBAM (Woo et al., arXiv:1807.06521, §3) adds a spatial gate: its channel
attention runs the average- AND max-pooled vectors through one shared MLP (so
it has exactly SE's parameters), then its spatial attention stacks the
channel-wise average and max maps (2 x H x W) and applies a 7x7 conv and a
sigmoid (98 weights). The two gates are applied one after the other,
channel first; they do not commute.
"""

from quizcnn.proofkit import Proof, main

# The 16 bottleneck blocks of ResNet-50: (number of blocks, output channels) per stage.
RESNET50_STAGES = [(3, 256), (4, 512), (6, 1024), (3, 2048)]


def run(proof: Proof) -> None:
    torch = proof.torch
    nn = torch.nn
    dev = proof.device
    dt = proof.float64
    tight = 1e-12 if dt == torch.float64 else 1e-5

    def count(module):
        return sum(p.numel() for p in module.parameters())

    class SE(nn.Module):
        """Squeeze (global average pool) -> FC C/r -> ReLU -> FC C -> sigmoid -> scale."""

        def __init__(self, c, r=16, bias=True):
            super().__init__()
            self.fc1 = nn.Linear(c, c // r, bias=bias)
            self.fc2 = nn.Linear(c // r, c, bias=bias)

        def gates(self, x):
            z = x.mean(dim=(2, 3))  # squeeze: (N, C)
            return torch.sigmoid(self.fc2(torch.relu(self.fc1(z))))  # excitation: (N, C)

        def forward(self, x):
            return x * self.gates(x)[:, :, None, None]

    class ChannelGate(nn.Module):
        """CBAM channel attention: sigmoid(MLP(avgpool) + MLP(maxpool)), one shared MLP."""

        def __init__(self, c, r=16):
            super().__init__()
            self.mlp = nn.Sequential(nn.Linear(c, c // r), nn.ReLU(), nn.Linear(c // r, c))

        def forward(self, x):
            avg, mx = x.mean(dim=(2, 3)), x.amax(dim=(2, 3))
            return torch.sigmoid(self.mlp(avg) + self.mlp(mx))[:, :, None, None]  # (N, C, 1, 1)

    class SpatialGate(nn.Module):
        """CBAM spatial attention: sigmoid(conv7x7([mean over C; max over C]))."""

        def __init__(self, k=7):
            super().__init__()
            self.conv = nn.Conv2d(2, 1, k, padding=k // 2, bias=False)

        def forward(self, x):
            pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], 1)
            return torch.sigmoid(self.conv(pooled))  # (N, 1, H, W)

    # --- 1. SE parameters ------------------------------------------------------
    C, r = 256, 16
    se = SE(C, r).to(device=dev, dtype=dt)
    proof.close(
        "se_params_formula",
        "SE(C=256, r=16) parameters vs 2C²/r + C/r + C",
        count(se),
        2 * C * C / r + C / r + C,
        0,
    )
    proof.close(
        "se_params_no_bias",
        "SE(C=256, r=16) without biases vs 2C²/r",
        count(SE(C, r, bias=False)),
        2 * C * C / r,
        0,
    )
    # Summed over SE-ResNet-50: one SE module per stage, counted once per block.
    rows = []
    for ratio in (2, 4, 8, 16, 32):
        extra = sum(n * count(SE(c, ratio)) for n, c in RESNET50_STAGES)
        rows.append([ratio, extra, 25_557_032 + extra])
    extra16 = next(row[1] for row in rows if row[0] == 16)
    proof.close(
        "se_resnet50_r16_extra",
        "parameters SE adds to ResNet-50 at r = 16 (16 blocks, C = 256..2048)",
        extra16,
        2_530_992,
        0,
    )
    extra2 = rows[0][1]
    proof.close(
        "se_params_scale_as_one_over_r",
        "SE-ResNet-50 extra weights at r = 2 / at r = 16 (1/r scaling: 8, up to biases)",
        extra2 / extra16,
        8.0,
        0.05,
    )
    proof.table(
        "SE-ResNet-50 parameters by reduction ratio r (ResNet-50 alone: 25,557,032)",
        ["r", "added by SE", "total"],
        rows,
    )

    # --- 2. what SE computes ----------------------------------------------------
    x = torch.randn(4, C, 7, 7, dtype=dt, device=dev) * 2 + 0.5
    with torch.no_grad():
        y, s = se(x), se.gates(x)
        ratio_map = y / x  # one number per (sample, channel) if SE only rescales channels
        proof.below(
            "se_is_channel_scaling",
            "SE output / input: largest spread of the ratio over the 7x7 positions of a channel",
            (ratio_map.amax(dim=(2, 3)) - ratio_map.amin(dim=(2, 3))).abs().max(),
            tight,
        )
        proof.holds(
            "se_gates_in_unit_interval",
            "every SE gate lies strictly between 0 and 1",
            bool((s > 0).all() and (s < 1).all()),
            f"min {s.min().item():.4f}, max {s.max().item():.4f}",
        )
        gate_sums = s.sum(dim=1)
        proof.above(
            "se_gates_not_normalized",
            "sum of the 256 gates of one sample (a softmax would give 1)",
            gate_sums.min(),
            10.0,
        )
        proof.above(
            "se_gates_input_dependent",
            "largest change of a gate between two samples (a fixed scale would give 0)",
            (s[0] - s[1]).abs().max(),
            1e-3,
        )
        # Shuffle the pixels of the map (the same permutation for every channel).
        perm = torch.randperm(49, device=dev)
        shuffled = x.flatten(2)[:, :, perm].view_as(x)
        proof.below(
            "se_ignores_spatial_arrangement",
            "change of the SE gates when the 49 pixels are shuffled: max abs",
            (se.gates(shuffled) - s).abs().max(),
            tight,
        )

    # --- 3. where SE sits in a residual block -------------------------------------
    # A gate near 0 (excitation bias -30) on the residual branch leaves relu(x + 0);
    # applied after the addition (SE-POST) it shuts the identity path too.
    branch = nn.Conv2d(C, C, 3, padding=1, bias=False).to(device=dev, dtype=dt)
    closed = SE(C, r).to(device=dev, dtype=dt)
    with torch.no_grad():
        closed.fc2.weight.zero_()
        closed.fc2.bias.fill_(-30.0)
        xr = torch.relu(torch.randn(2, C, 7, 7, dtype=dt, device=dev))
        standard = torch.relu(xr + closed(branch(xr)))
        se_post = closed(torch.relu(xr + branch(xr)))
    proof.below(
        "se_standard_keeps_identity",
        "SE on the residual branch, gates ~0: max |block(x) - x| (identity survives)",
        (standard - xr).abs().max(),
        1e-9,
    )
    proof.below(
        "se_post_blocks_identity",
        "SE after the addition (SE-POST), gates ~0: largest output (the signal is gone)",
        se_post.abs().max(),
        1e-9,
    )

    # --- 4. SE's cost in multiply-adds next to a 3x3 conv ---------------------------
    H = W = 14
    conv_macs = 9 * C * C * H * W
    se_macs = 2 * C * (C // r) + 2 * C * H * W  # two FCs, plus the pooling and the scaling
    proof.below(
        "se_macs_fraction",
        "SE multiply-adds / those of a 3x3 conv C->C on 14x14 (C = 256)",
        se_macs / conv_macs,
        0.01,
    )

    # --- 5. CBAM -----------------------------------------------------------------
    cg = ChannelGate(C, r).to(device=dev, dtype=dt)
    sg = SpatialGate().to(device=dev, dtype=dt)
    proof.close(
        "cbam_channel_params_equal_se",
        "CBAM channel attention parameters (one MLP shared by avg and max) vs SE's",
        count(cg),
        count(se),
        0,
    )
    proof.close(
        "cbam_spatial_params",
        "CBAM spatial attention parameters: 7x7 conv, 2 maps -> 1, no bias (2*7*7)",
        count(sg),
        98,
        0,
    )
    with torch.no_grad():
        mc = cg(x)
        by_hand = torch.sigmoid(cg.mlp(x.mean(dim=(2, 3))) + cg.mlp(x.amax(dim=(2, 3))))
        proof.below(
            "cbam_channel_formula",
            "channel map vs sigmoid(MLP(avgpool F) + MLP(maxpool F)): max abs error",
            (mc[:, :, 0, 0] - by_hand).abs().max(),
            tight,
        )
        avg_only = torch.sigmoid(2 * cg.mlp(x.mean(dim=(2, 3))))
        proof.above(
            "cbam_max_pool_matters",
            "change of the channel map if max pooling is replaced by a second avg pool",
            (mc[:, :, 0, 0] - avg_only).abs().max(),
            1e-3,
        )
        f1 = mc * x  # F' = Mc(F) * F
        ms = sg(f1)
        out = ms * f1  # F'' = Ms(F') * F'
        proof.holds(
            "cbam_map_shapes",
            "channel map is (N, C, 1, 1) and spatial map (N, 1, H, W), both inside (0, 1)",
            tuple(mc.shape) == (4, C, 1, 1)
            and tuple(ms.shape) == (4, 1, 7, 7)
            and bool((mc > 0).all() and (mc < 1).all() and (ms > 0).all() and (ms < 1).all()),
            f"{tuple(mc.shape)}, {tuple(ms.shape)}",
        )
        proof.above(
            "cbam_spatial_map_varies",
            "spread (max - min) of the spatial map over the 7x7 positions of one sample",
            (ms.amax(dim=(2, 3)) - ms.amin(dim=(2, 3))).min(),
            1e-3,
        )
        xs = sg(x) * x
        spatial_first = cg(xs) * xs
        proof.above(
            "cbam_order_matters",
            "channel-then-spatial vs spatial-then-channel: relative difference of outputs",
            (out - spatial_first).norm() / out.norm(),
            1e-3,
        )

    proof.table(
        "SE and CBAM on a (4, 256, 7, 7) map, r = 16",
        ["module", "parameters", "gate shape", "gate range"],
        [
            ["SE", count(se), "(N, C, 1, 1)", f"{s.min().item():.3f}..{s.max().item():.3f}"],
            [
                "CBAM channel",
                count(cg),
                "(N, C, 1, 1)",
                f"{mc.min().item():.3f}..{mc.max().item():.3f}",
            ],
            [
                "CBAM spatial",
                count(sg),
                "(N, 1, H, W)",
                f"{ms.min().item():.3f}..{ms.max().item():.3f}",
            ],
        ],
    )


if __name__ == "__main__":
    main(run, __doc__)
