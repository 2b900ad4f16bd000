"""Inception's 1x1 reductions, factorized convolutions and DenseNet's growth rate, counted

GoogLeNet (arXiv:1409.4842, §4-5, Table 1) puts 1x1 convolutions in front of
the expensive 3x3 and 5x5 branches of an Inception module to shrink the
channels they read. For inception(3a) (28x28x192 in, branches 64 | 96->128 |
16->32 | pool->32, 256 out) forward hooks count 128 million multiply-adds,
the "128M" of Table 1; the same module without the reductions would need
about 2.4x as many (the 5x5 branch alone goes from 120M to 12M) and would
output 416 channels instead of 256, because the pooling branch passes all of
its input channels through.

Inception v3 (arXiv:1512.00567, §3) factorizes further:

- a 5x5 convolution into two stacked 3x3s: the same 5x5 receptive field with
  18/25 of the weights (28% fewer); VGG's version (arXiv:1409.1556, §2.3) is
  three 3x3s for one 7x7, 27/49 of the weights;
- an n x n convolution into a 1 x n followed by an n x 1: 2n/n² of the
  weights (33% fewer for n = 3, 71% fewer for n = 7); the pair is exact for
  any rank-1 n x n kernel.

DenseNet (arXiv:1608.06993, §3) concatenates instead of adding: layer l of a
block reads k0 + (l-1)·k channels, where k is the growth rate, and the block
passes its input through unchanged, so later layers can reuse early features.
A hand-built DenseNet-121 (k = 32, blocks 6-12-24-16, compression 0.5) has
7,978,856 parameters, under a third of ResNet-50's.
"""

from __future__ import annotations

from _common import conv_macs

from quizcnn.proofkit import Proof, main

# inception(3a): (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj), GoogLeNet Table 1
INCEPTION_3A = (64, 96, 128, 16, 32, 32)


def make_inception(torch):
    nn = torch.nn

    class Inception(nn.Module):
        """Four parallel branches concatenated on channels; reduce=False drops the 1x1s."""

        def __init__(self, cin, c1, r3, c3, r5, c5, cp, dev, reduce=True):
            super().__init__()
            relu = nn.ReLU
            self.b1 = nn.Sequential(nn.Conv2d(cin, c1, 1, device=dev), relu())
            if reduce:
                self.b3 = nn.Sequential(
                    nn.Conv2d(cin, r3, 1, device=dev),
                    relu(),
                    nn.Conv2d(r3, c3, 3, padding=1, device=dev),
                    relu(),
                )
                self.b5 = nn.Sequential(
                    nn.Conv2d(cin, r5, 1, device=dev),
                    relu(),
                    nn.Conv2d(r5, c5, 5, padding=2, device=dev),
                    relu(),
                )
                self.bp = nn.Sequential(
                    nn.MaxPool2d(3, 1, padding=1), nn.Conv2d(cin, cp, 1, device=dev), relu()
                )
            else:
                self.b3 = nn.Sequential(nn.Conv2d(cin, c3, 3, padding=1, device=dev), relu())
                self.b5 = nn.Sequential(nn.Conv2d(cin, c5, 5, padding=2, device=dev), relu())
                self.bp = nn.MaxPool2d(3, 1, padding=1)

        def forward(self, x):
            return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], dim=1)

    return Inception


def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def receptive_field(torch, layers, size=11) -> tuple[int, int]:
    """Height and width of the input region that moves the centre output (by gradient)."""
    x = torch.zeros(1, 1, size, size, dtype=layers[0].weight.dtype, device=layers[0].weight.device)
    x.requires_grad_(True)
    out = x
    for layer in layers:
        out = layer(out)
    out[0, 0, size // 2, size // 2].backward()
    rows, cols = (x.grad[0, 0] != 0).nonzero(as_tuple=True)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def make_densenet(torch):
    nn = torch.nn

    class DenseLayer(nn.Module):
        """DenseNet-BC layer: BN-ReLU-1x1 (4k) -> BN-ReLU-3x3 (k), output concatenated."""

        def __init__(self, cin, k, dev):
            super().__init__()
            self.f = nn.Sequential(
                nn.BatchNorm2d(cin, device=dev),
                nn.ReLU(),
                nn.Conv2d(cin, 4 * k, 1, bias=False, device=dev),
                nn.BatchNorm2d(4 * k, device=dev),
                nn.ReLU(),
                nn.Conv2d(4 * k, k, 3, padding=1, bias=False, device=dev),
            )

        def forward(self, x):
            return torch.cat([x, self.f(x)], dim=1)

    def transition(cin, dev):  # compression 0.5, then halve the size
        return nn.Sequential(
            nn.BatchNorm2d(cin, device=dev),
            nn.ReLU(),
            nn.Conv2d(cin, cin // 2, 1, bias=False, device=dev),
            nn.AvgPool2d(2),
        )

    def dense_block(cin, k, layers, dev):
        return nn.Sequential(*[DenseLayer(cin + i * k, k, dev) for i in range(layers)])

    def densenet121(dev, k=32, blocks=(6, 12, 24, 16)):
        parts = [
            nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False, device=dev),
            nn.BatchNorm2d(64, device=dev),
            nn.ReLU(),
            nn.MaxPool2d(3, 2, padding=1),
        ]
        c = 64
        for i, n in enumerate(blocks):
            parts.append(dense_block(c, k, n, dev))
            c += n * k
            if i < len(blocks) - 1:
                parts.append(transition(c, dev))
                c //= 2
        parts += [nn.BatchNorm2d(c, device=dev), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        return nn.Sequential(*parts, nn.Linear(c, 1000, device=dev))

    return dense_block, transition, densenet121


def run(proof: Proof) -> None:
    torch = proof.torch
    nn = torch.nn
    dev = proof.device
    f64 = proof.float64

    # --- 1. inception(3a) with and without the 1x1 reductions ------------
    Inception = make_inception(torch)
    x = torch.randn(1, 192, 28, 28, device=dev)
    with_reduce = Inception(192, *INCEPTION_3A, dev)
    naive = Inception(192, *INCEPTION_3A, dev, reduce=False)
    macs_reduce, out_reduce = conv_macs(torch, with_reduce, x)
    macs_naive, out_naive = conv_macs(torch, naive, x)
    hw = 28 * 28
    proof.close(
        "inception3a_macs_millions",
        "inception(3a) multiply-adds, millions (Table 1: 128M)",
        macs_reduce / 1e6,
        128,
        1,
    )
    proof.close(
        "inception3a_macs_closed_form",
        "inception(3a) MACs from hooks = sum over branches of H·W·C_in·C_out·k²",
        macs_reduce,
        hw * (192 * 64 + 192 * 96 + 96 * 128 * 9 + 192 * 16 + 16 * 32 * 25 + 192 * 32),
        0,
    )
    proof.close(
        "naive_module_macs",
        "MACs of the same module without 1x1 reductions",
        macs_naive,
        hw * 192 * (64 + 128 * 9 + 32 * 25),
        0,
    )
    proof.above(
        "reductions_save", "naive MACs / MACs with reductions", macs_naive / macs_reduce, 2.0
    )
    five_naive, _ = conv_macs(torch, naive.b5, x)
    five_reduced, _ = conv_macs(torch, with_reduce.b5, x)
    proof.close(
        "five_by_five_naive_millions",
        "5x5 branch straight on 192 channels, millions of MACs",
        five_naive / 1e6,
        120.4224,
        1e-9,
    )
    proof.close(
        "five_by_five_reduced_millions",
        "5x5 branch after a 1x1 reduce to 16 channels, millions of MACs",
        five_reduced / 1e6,
        12.443648,
        1e-9,
    )
    proof.holds(
        "output_channels",
        "output channels: 256 with reductions, 416 without (the pool branch passes 192 through)",
        out_reduce.shape[1] == 256 and out_naive.shape[1] == 416,
        f"{out_reduce.shape[1]} and {out_naive.shape[1]}",
    )
    proof.table(
        "inception(3a) on 28x28x192",
        ["module", "MACs (millions)", "parameters", "output channels"],
        [
            [
                "with 1x1 reductions",
                f"{macs_reduce / 1e6:.1f}",
                count(with_reduce),
                out_reduce.shape[1],
            ],
            ["without", f"{macs_naive / 1e6:.1f}", count(naive), out_naive.shape[1]],
        ],
    )

    # --- 2. factorized convolutions (Inception v3 §3) ---------------------
    def conv(kh, kw):
        return nn.Conv2d(
            1, 1, (kh, kw), padding=(kh // 2, kw // 2), bias=False, device=dev, dtype=f64
        )

    five, two_threes = [conv(5, 5)], [conv(3, 3), conv(3, 3)]
    proof.close(
        "two_3x3_vs_5x5_weights",
        "weights of two 3x3 / one 5x5 (same channels)",
        sum(count(m) for m in two_threes) / count(five[0]),
        18 / 25,
        1e-12,
    )
    proof.holds(
        "two_3x3_see_5x5",
        "two stacked 3x3 convs have a 5x5 receptive field, like one 5x5",
        receptive_field(torch, two_threes) == receptive_field(torch, five) == (5, 5),
        f"{receptive_field(torch, two_threes)}",
    )
    # VGG's version of the same argument (arXiv:1409.1556, §2.3): 27C² vs 49C².
    seven, three_threes = [conv(7, 7)], [conv(3, 3), conv(3, 3), conv(3, 3)]
    proof.close(
        "three_3x3_vs_7x7_weights",
        "weights of three 3x3 / one 7x7 (same channels)",
        sum(count(m) for m in three_threes) / count(seven[0]),
        27 / 49,
        1e-12,
    )
    proof.holds(
        "three_3x3_see_7x7",
        "three stacked 3x3 convs have a 7x7 receptive field, like one 7x7",
        receptive_field(torch, three_threes) == receptive_field(torch, seven) == (7, 7),
        f"{receptive_field(torch, three_threes)}",
    )
    for n in (3, 7):
        proof.close(
            f"asymmetric_{n}_weights",
            f"weights of 1x{n} + {n}x1 / one {n}x{n}",
            (count(conv(1, n)) + count(conv(n, 1))) / count(conv(n, n)),
            2 / n,
            1e-12,
        )
    row, col, full = conv(1, 7), conv(7, 1), conv(7, 7)
    with torch.no_grad():
        full.weight.copy_(
            col.weight[0, 0, :, 0][:, None] * row.weight[0, 0, 0, :][None, :]
        )  # rank 1
        xs = torch.randn(2, 1, 12, 12, dtype=f64, device=dev)
        diff = (col(row(xs)) - full(xs)).abs().max()
    proof.below(
        "asymmetric_exact_for_rank1",
        "max |7x1(1x7(x)) − 7x7(x)| for a rank-1 7x7 kernel, float64",
        diff,
        1e-10,
    )
    proof.holds(
        "asymmetric_rf",
        "1x7 then 7x1 covers a 7x7 receptive field",
        receptive_field(torch, [row, col], size=15) == (7, 7),
    )

    # --- 3. DenseNet: growth rate and feature reuse ------------------------
    dense_block, transition, densenet121 = make_densenet(torch)
    k0, k, layers = 64, 32, 6
    block = dense_block(k0, k, layers, dev).eval()
    xd = torch.randn(2, k0, 8, 8, device=dev)
    with torch.no_grad():
        out = block(xd)
        after = transition(out.shape[1], dev)(out)
    proof.holds(
        "dense_layer_inputs",
        "layer l of the block reads k0 + (l-1)·k channels: 64, 96, ..., 224",
        [layer.f[0].num_features for layer in block] == [k0 + i * k for i in range(layers)],
    )
    proof.close(
        "dense_block_out_channels",
        "channels leaving a 6-layer block (k0 = 64, k = 32)",
        out.shape[1],
        k0 + layers * k,
        0,
    )
    proof.close(
        "dense_block_reuses_input",
        "max |block output's first 64 channels − block input|",
        (out[:, :k0] - xd).abs().max(),
        0,
        0,
    )
    proof.holds(
        "transition_halves",
        "the transition layer halves channels (θ = 0.5) and spatial size: 256x8x8 -> 128x4x4",
        tuple(after.shape[1:]) == (128, 4, 4),
    )
    proof.close(
        "densenet121_params",
        "parameters of the hand-built DenseNet-121",
        count(densenet121(torch.device("meta"))),
        7_978_856,
        0,
    )


if __name__ == "__main__":
    main(run, __doc__)
