"""Output size of convolution and pooling: the formula, checked against PyTorch

For one spatial side of size H, kernel k, stride s, padding p and dilation d,
nn.Conv2d and nn.MaxPool2d (default ceil_mode=False) produce

    H_out = floor((H + 2p - d(k - 1) - 1) / s) + 1

A dilated kernel covers d(k - 1) + 1 input pixels, which is where d(k - 1) + 1
comes from. With ceil_mode=True, pooling rounds up instead, so a partial window
at the end still produces an output, but PyTorch drops a last window that would
START in the right padding: if (H_out - 1) * s >= H + p, H_out goes down by one.

The formula often quoted in notes, (H - k + 2p)/s + 1, is the d = 1 case and
silently needs the floor. This proof runs the real layers over a grid of every
small (H, k, s, p, d), counts disagreements with the formula (zero expected),
and checks the sizes of well-known layers: "same" padding p = (k - 1)/2 at
stride 1, ResNet's 7x7/2 stem and 3x3/2 max-pool, AlexNet's 11x11/4 first conv,
and AlexNet's overlapping 3x3/2 pool, which matches a 2x2/2 pool in size only
on odd sides such as its 55 (27 both; 56 gives 27 against 28).
"""

from quizcnn.proofkit import Proof, main


def conv_out(h: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """floor((H + 2p - d(k-1) - 1)/s) + 1, as documented for nn.Conv2d."""
    return (h + 2 * p - d * (k - 1) - 1) // s + 1


def pool_out_ceil(h: int, k: int, s: int, p: int = 0) -> int:
    """ceil instead of floor, minus a last window that would start in the right padding."""
    out = -(-(h + 2 * p - (k - 1) - 1) // s) + 1
    if (out - 1) * s >= h + p:
        out -= 1
    return out


def run(proof: Proof) -> None:
    torch = proof.torch
    F = torch.nn.functional
    dev = proof.device

    def conv_side(h, k, s, p, d):
        x = torch.zeros(1, 1, h, h, device=dev)
        w = torch.zeros(1, 1, k, k, device=dev)
        return F.conv2d(x, w, stride=s, padding=p, dilation=d).shape[-1]

    def pool_side(h, k, s, p, ceil_mode):
        x = torch.zeros(1, 1, h, h, device=dev)
        return F.max_pool2d(x, k, s, p, ceil_mode=ceil_mode).shape[-1]

    # --- 1. a grid of convolutions, dilation included ------------------------
    checked = mismatched = 0
    for h in range(1, 13):
        for k in (1, 2, 3, 5):
            for s in (1, 2, 3):
                for p in (0, 1, 2):
                    for d in (1, 2):
                        if h + 2 * p < d * (k - 1) + 1:
                            continue  # the kernel does not fit: PyTorch refuses
                        checked += 1
                        mismatched += conv_side(h, k, s, p, d) != conv_out(h, k, s, p, d)
    proof.close(
        "conv_grid_mismatches",
        f"nn.Conv2d sizes that differ from the formula ({checked} configurations)",
        mismatched,
        0,
        0,
    )

    # --- 2. a grid of max pooling, floor and ceil mode ---------------------------
    floor_bad = ceil_bad = dropped = pooled = 0
    for h in range(2, 13):
        for k in (2, 3, 4):
            for s in (1, 2, 3):
                for p in range(0, k // 2 + 1):  # PyTorch allows p <= k/2
                    if h + 2 * p < k:
                        continue
                    pooled += 1
                    floor_bad += pool_side(h, k, s, p, False) != conv_out(h, k, s, p)
                    measured = pool_side(h, k, s, p, True)
                    ceil_bad += measured != pool_out_ceil(h, k, s, p)
                    dropped += measured != -(-(h + 2 * p - k) // s) + 1
    proof.close(
        "pool_floor_mismatches",
        f"MaxPool2d(ceil_mode=False) sizes that differ from the formula ({pooled} cases)",
        floor_bad,
        0,
        0,
    )
    proof.close(
        "pool_ceil_mismatches",
        "MaxPool2d(ceil_mode=True) sizes that differ from ceil + the last-window rule",
        ceil_bad,
        0,
        0,
    )
    proof.above(
        "ceil_last_window_dropped",
        "grid cases where plain ceil would be one too many (PyTorch drops the window)",
        dropped,
        0,
    )

    # --- 3. well-known layers -----------------------------------------------------
    for k in (3, 5, 7):
        proof.close(
            f"same_padding_k{k}",
            f"{k}x{k} conv, stride 1, padding {(k - 1) // 2} keeps 32x32",
            conv_side(32, k, 1, (k - 1) // 2, 1),
            32,
            0,
        )
    proof.close(
        "resnet_stem", "224 -> 7x7 conv, stride 2, padding 3", conv_side(224, 7, 2, 3, 1), 112, 0
    )
    proof.close(
        "resnet_maxpool",
        "112 -> 3x3 max-pool, stride 2, padding 1",
        pool_side(112, 3, 2, 1, False),
        56,
        0,
    )
    proof.close(
        "alexnet_conv1",
        "227 -> 11x11 conv, stride 4, no padding",
        conv_side(227, 11, 4, 0, 1),
        55,
        0,
    )
    proof.close(
        "dilated_3x3",
        "32 -> 3x3 conv, dilation 2, padding 2 (covers 5x5)",
        conv_side(32, 3, 1, 2, 2),
        32,
        0,
    )
    floor_size = pool_side(56, 3, 2, 0, False)
    ceil_size = pool_side(56, 3, 2, 0, True)
    proof.close("pool_floor_56", "56 -> 3x3 max-pool, stride 2, ceil_mode=False", floor_size, 27, 0)
    proof.close("pool_ceil_56", "56 -> 3x3 max-pool, stride 2, ceil_mode=True", ceil_size, 28, 0)
    # AlexNet's overlapping 3x3/2 pool vs a 2x2/2 pool: the same size on its odd
    # 55x55 maps (27 both), but one apart on even sides such as 56 (27 vs 28)
    proof.close(
        "overlap_pool_55",
        "55: (2x2/2 max-pool side) - (3x3/2 max-pool side)",
        pool_side(55, 2, 2, 0, False) - pool_side(55, 3, 2, 0, False),
        0,
        0,
    )
    proof.close(
        "overlap_pool_56",
        "56: (2x2/2 max-pool side) - (3x3/2 max-pool side)",
        pool_side(56, 2, 2, 0, False) - floor_size,
        1,
        0,
    )
    # H=5, k=2, s=2, p=1: ceil gives 4, but window 4 would start at 6 = H + p: dropped
    proof.close(
        "ceil_dropped_example",
        "5 -> 2x2 max-pool, stride 2, padding 1, ceil_mode=True (not 4)",
        pool_side(5, 2, 2, 1, True),
        3,
        0,
    )
    # downsampling by a stride-2 conv instead of a 2x2 pool gives the same size
    proof.close(
        "strided_conv_like_pool",
        "56 -> 3x3 conv stride 2 padding 1, same as 2x2 max-pool stride 2",
        conv_side(56, 3, 2, 1, 1),
        pool_side(56, 2, 2, 0, False),
        0,
    )
    proof.table(
        "Output sizes",
        ["layer", "input", "formula", "PyTorch"],
        [
            ["conv 7x7 s2 p3", 224, conv_out(224, 7, 2, 3), conv_side(224, 7, 2, 3, 1)],
            ["conv 11x11 s4", 227, conv_out(227, 11, 4), conv_side(227, 11, 4, 0, 1)],
            ["conv 3x3 d2 p2", 32, conv_out(32, 3, 1, 2, 2), conv_side(32, 3, 1, 2, 2)],
            ["max-pool 3x3 s2", 56, conv_out(56, 3, 2), floor_size],
            ["max-pool 3x3 s2 ceil", 56, pool_out_ceil(56, 3, 2), ceil_size],
            ["max-pool 2x2 s2 p1 ceil", 5, pool_out_ceil(5, 2, 2, 1), pool_side(5, 2, 2, 1, True)],
        ],
    )


if __name__ == "__main__":
    main(run, __doc__)
