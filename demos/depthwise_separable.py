"""Depthwise separable, grouped and inverted-residual convolutions: what they cost and why

MobileNet v1 (arXiv:1704.04861, §3.1) replaces a standard K x K convolution
from M to N channels by a depthwise K x K convolution (one filter per input
channel, `groups=M`) followed by a pointwise 1x1 convolution. Per output
position the cost falls from K²·M·N to K²·M + M·N multiply-adds, a ratio of
1/N + 1/K²: about 1/8 to 1/9 for 3x3 kernels. The proof counts the MACs with
forward hooks and the parameters with `numel`, and shows that the separable
pair is exactly a standard convolution whose kernel is factorized, so it is
cheaper *and* less expressive.

It also measures:

- width multiplier α and resolution multiplier ρ (§3.3, §3.4): cost ≈ α²ρ²;
- grouped convolution (ResNeXt, arXiv:1611.05431): C_in·C_out·k²/g weights,
  the same as g parallel convolutions on channel slices; a ResNeXt 32x4d block
  costs about what a ResNet bottleneck costs;
- ShuffleNet's channel shuffle (arXiv:1707.01083): without it, stacked group
  convolutions never mix information across groups;
- MobileNetV2's inverted residual (arXiv:1801.04381, §3): expand x6, depthwise
  3x3, then a *linear* 1x1 projection (no ReLU), with the shortcut between the
  narrow ends; and the reason for "linear": a ReLU after a low-dimensional
  embedding destroys information that it keeps in a high-dimensional one
  (a point survives when at least two of the n random units stay positive,
  which happens with probability 1 - (n + 1) / 2^n);
- squeeze-and-excitation (arXiv:1709.01507) parameters, about 10% on top of
  ResNet-50, and MobileNetV3's h-swish (arXiv:1905.02244).
"""

from __future__ import annotations

import math

from _common import conv_macs

from quizcnn.proofkit import Proof, main


def separable(nn, m, n, k, dev, dtype=None):
    return nn.Sequential(
        nn.Conv2d(
            m, m, k, padding=k // 2, groups=m, bias=False, device=dev, dtype=dtype
        ),  # depthwise
        nn.Conv2d(m, n, 1, bias=False, device=dev, dtype=dtype),  # pointwise
    )


def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def relu_recovery(torch, dims, dev, trials=32, points=400) -> float:
    """Share of points on a 2-D spiral that can be recovered exactly from ReLU(T x), T: dims x 2."""
    f64 = torch.float64
    t = torch.linspace(0.5, 4 * math.pi, points, dtype=f64, device=dev)
    x = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1)  # (points, 2)
    T = torch.randn(trials, dims, 2, dtype=f64, device=dev)
    y = torch.relu(torch.einsum("tnd,pd->tpn", T, x))  # (trials, points, dims)
    # Units that stayed positive are linear in x: solve with those rows only
    # (pinv, not lstsq: with fewer than 2 positive units the system is singular).
    active = (y > 0).to(f64)
    A = T[:, None] * active[..., None]  # (trials, points, dims, 2)
    solution = (torch.linalg.pinv(A) @ y[..., None])[..., 0]
    error = (solution - x).norm(dim=-1) / x.norm(dim=-1)
    return (error < 1e-6).to(f64).mean().item()


def run(proof: Proof) -> None:
    torch = proof.torch
    nn = torch.nn
    dev = proof.device
    f64 = proof.float64

    # --- 1. the 1/N + 1/K² ratio, on a VGG-like layer -------------------
    M, N, K, F = 64, 128, 3, 112  # 112x112x64 in, 128 out, 3x3
    x = torch.randn(1, M, F, F, device=dev)
    standard = nn.Conv2d(M, N, K, padding=1, bias=False, device=dev)
    sep = separable(nn, M, N, K, dev)
    macs_std, macs_sep = conv_macs(torch, standard, x)[0], conv_macs(torch, sep, x)[0]
    proof.close(
        "standard_macs",
        "MACs of the standard 3x3 conv, 112x112, 64 -> 128",
        macs_std,
        K * K * M * N * F * F,
        0,
    )
    proof.close(
        "separable_macs",
        "MACs of depthwise 3x3 + pointwise 1x1, same shapes",
        macs_sep,
        K * K * M * F * F + M * N * F * F,
        0,
    )
    proof.close(
        "macs_ratio",
        "MAC ratio separable / standard (= 1/N + 1/K²)",
        macs_sep / macs_std,
        1 / N + 1 / K**2,
        1e-12,
    )
    proof.close(
        "params_ratio",
        "parameter ratio separable / standard",
        count(sep) / count(standard),
        1 / N + 1 / K**2,
        1e-12,
    )

    # The separable pair equals a standard conv whose kernel is pointwise x depthwise.
    small = torch.randn(2, 8, 9, 9, dtype=f64, device=dev)
    pair = separable(nn, 8, 16, 3, dev, f64)
    depthwise, pointwise = pair[0].weight, pair[1].weight  # (8,1,3,3), (16,8,1,1)
    factored = pointwise[:, :, 0, 0, None, None] * depthwise[:, 0][None]  # (16, 8, 3, 3)
    with torch.no_grad():
        diff = (pair(small) - nn.functional.conv2d(small, factored, padding=1)).abs().max()
    proof.below(
        "separable_is_factored_conv",
        "max |separable(x) − conv(x, P⊗D kernel)| in float64",
        diff,
        1e-10,
    )

    with torch.no_grad():
        poked = small.clone()
        poked[:, 5] += 1.0
        changed = (pair[0](poked) - pair[0](small)).abs().amax(dim=(0, 2, 3)) > 0
    proof.holds(
        "depthwise_keeps_channels_apart",
        "changing input channel 5 changes only depthwise output channel 5",
        changed.tolist() == [c == 5 for c in range(8)],
    )

    # --- 2. width and resolution multipliers -----------------------------
    def layer_macs(alpha, rho, m=256, n=256, f=14):
        mm, nn_, ff = int(alpha * m), int(alpha * n), int(rho * f)
        return conv_macs(
            torch, separable(nn, mm, nn_, 3, dev), torch.zeros(1, mm, ff, ff, device=dev)
        )[0]

    full = layer_macs(1.0, 1.0)
    width_ratio, res_ratio = layer_macs(0.5, 1.0) / full, layer_macs(1.0, 0.5) / full
    proof.close(
        "width_multiplier",
        "MAC ratio with width multiplier α = 0.5 (≈ α² = 0.25)",
        width_ratio,
        0.25,
        0.01,
    )
    proof.close(
        "resolution_multiplier",
        "MAC ratio with resolution multiplier ρ = 0.5 (= ρ² = 0.25)",
        res_ratio,
        0.25,
        1e-12,
    )

    # --- 3. grouped convolution and ResNeXt --------------------------------
    grouped = nn.Conv2d(128, 128, 3, padding=1, groups=32, bias=False, device=dev, dtype=f64)
    proof.close(
        "grouped_conv_params",
        "weights of a 3x3 conv 128 -> 128 with 32 groups (C_in·C_out·k²/g)",
        count(grouped),
        128 * 128 * 9 / 32,
        0,
    )
    xg = torch.randn(2, 128, 6, 6, dtype=f64, device=dev)
    with torch.no_grad():
        paths = [
            nn.functional.conv2d(
                xg[:, 4 * i : 4 * i + 4], grouped.weight[4 * i : 4 * i + 4], padding=1
            )
            for i in range(32)
        ]
        path_diff = (grouped(xg) - torch.cat(paths, dim=1)).abs().max()
    proof.below(
        "grouped_equals_parallel_paths",
        "max |grouped conv − 32 separate 4-channel convs, concatenated| in float64",
        path_diff,
        1e-10,
    )
    resnext_block = 256 * 128 + count(grouped) + 128 * 256  # 1x1 reduce, grouped 3x3, 1x1 expand
    resnet_block = 256 * 64 + 64 * 64 * 9 + 64 * 256
    proof.close(
        "resnext_block_weights",
        "conv weights of a ResNeXt 32x4d block (256 -> 128, 3x3 g=32, -> 256)",
        resnext_block,
        32 * (256 * 4 + 9 * 4 * 4 + 4 * 256),
        0,
    )
    proof.close(
        "resnext_vs_resnet_block",
        "ResNeXt block / ResNet bottleneck weights",
        resnext_block / resnet_block,
        70_144 / 69_632,
        1e-12,
    )

    # --- 4. channel shuffle ------------------------------------------------
    g = 3
    gconv1 = nn.Conv2d(9, 9, 1, groups=g, bias=False, device=dev, dtype=f64)
    gconv2 = nn.Conv2d(9, 9, 1, groups=g, bias=False, device=dev, dtype=f64)

    def shuffle(t):  # (N, g*c, H, W) -> (N, g, c) -> transpose -> flatten
        n_, ch, h, w = t.shape
        return t.view(n_, g, ch // g, h, w).transpose(1, 2).reshape(n_, ch, h, w)

    def groups_reaching_output_group0(mix):
        reached = []
        xs = torch.randn(1, 9, 2, 2, dtype=f64, device=dev)
        with torch.no_grad():
            base = gconv2(mix(gconv1(xs)))[:, :3]
            for k in range(g):
                poked = xs.clone()
                poked[:, 3 * k : 3 * k + 3] += 1.0
                if (gconv2(mix(gconv1(poked)))[:, :3] - base).abs().max() > 0:
                    reached.append(k)
        return reached

    proof.holds(
        "no_shuffle_no_mixing",
        "two stacked group convs (g=3), no shuffle: output group 0 sees only input group 0",
        groups_reaching_output_group0(lambda t: t) == [0],
    )
    proof.holds(
        "shuffle_mixes_groups",
        "with a channel shuffle between them: output group 0 sees all 3 input groups",
        groups_reaching_output_group0(shuffle) == [0, 1, 2],
    )

    # --- 5. MobileNetV2 inverted residual with linear bottleneck ----------
    class InvertedResidual(nn.Module):
        def __init__(self, c, t=6):
            super().__init__()
            hidden = c * t
            self.expand = nn.Sequential(
                nn.Conv2d(c, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6()
            )
            self.depthwise = nn.Sequential(
                nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden, bias=False),
                nn.BatchNorm2d(hidden),
                nn.ReLU6(),
            )
            self.project = nn.Sequential(
                nn.Conv2d(hidden, c, 1, bias=False), nn.BatchNorm2d(c)
            )  # linear

        def forward(self, x):
            return x + self.project(
                self.depthwise(self.expand(x))
            )  # shortcut joins the narrow ends

    block = InvertedResidual(24).to(dev)
    xb = torch.randn(4, 24, 8, 8, device=dev)
    with torch.no_grad():
        hidden = block.expand(xb)
        projected = block.project(block.depthwise(hidden))
    proof.close(
        "v2_expansion",
        "channels inside the block / channels at its ends (expansion t)",
        hidden.shape[1] / xb.shape[1],
        6,
        0,
    )
    proof.close(
        "v2_block_conv_weights",
        "conv weights of a t=6 inverted residual on 24 channels",
        sum(m.weight.numel() for m in block.modules() if isinstance(m, nn.Conv2d)),
        24 * 144 + 144 * 9 + 144 * 24,
        0,
    )
    proof.holds(
        "v2_projection_is_linear",
        "the 1x1 projection has no ReLU: its output keeps negative values",
        projected.min().item() < 0,
        f"min {projected.min().item():.3f}",
    )
    # A point comes back from ReLU(T x) exactly when at least two of the n
    # random units stay positive; each does with probability 1/2, so the
    # expected share is P(Binomial(n, 1/2) >= 2) = 1 - (n + 1) / 2**n.
    dims = (2, 3, 5, 15, 30)
    share = {n: relu_recovery(torch, n, dev) for n in dims}
    proof.below(
        "relu_loses_info_2d",
        "share of 2-D spiral points recoverable after ReLU in 2 dims",
        share[2],
        0.4,
    )
    proof.above("relu_keeps_info_30d", "share recoverable after ReLU in 30 dims", share[30], 0.95)
    proof.close(
        "relu_recovery_3d",
        "share recoverable in 3 dims ≈ P(at least 2 of 3 units positive) = 1/2",
        share[3],
        1 - (3 + 1) / 2**3,
        0.05,
    )
    proof.table(
        "ReLU(T x) for a 2-D spiral embedded in n dims (MobileNetV2 Fig. 1)",
        ["n", "share of points recoverable", "P(at least 2 of n units > 0)"],
        [[n, f"{share[n]:.2f}", f"{1 - (n + 1) / 2**n:.2f}"] for n in dims],
    )

    # --- 6. squeeze-and-excitation and h-swish ------------------------------
    def se(c, r):  # global pool -> FC c/r -> ReLU -> FC c -> sigmoid -> scale channels
        return nn.Sequential(nn.Linear(c, c // r), nn.ReLU(), nn.Linear(c // r, c), nn.Sigmoid())

    proof.close(
        "se_params",
        "parameters of an SE block on 256 channels, r = 16",
        count(se(256, 16)),
        2 * 256 * 16 + 16 + 256,
        0,
    )
    widths = [256] * 3 + [512] * 4 + [1024] * 6 + [2048] * 3  # ResNet-50 block outputs
    extra = sum(count(se(c, 16)) for c in widths)
    proof.close(
        "se_resnet50_extra",
        "extra parameters of SE (r=16) on every ResNet-50 block, in millions",
        extra / 1e6,
        2.5,
        0.05,
    )

    z = torch.linspace(-8, 8, 4001, dtype=f64, device=dev)
    hswish = z * nn.functional.relu6(z + 3) / 6
    proof.below(
        "hardswish_formula",
        "max |nn.Hardswish(x) − x·ReLU6(x+3)/6| (CUDA's kernel rounds its 1/6 at ~1e-7)",
        (nn.functional.hardswish(z) - hswish).abs().max(),
        1e-6,
    )
    proof.below(
        "hswish_close_to_swish",
        "max |h-swish − swish| on [-8, 8]",
        (hswish - z * torch.sigmoid(z)).abs().max(),
        0.15,
    )


if __name__ == "__main__":
    main(run, __doc__)
