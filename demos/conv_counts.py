"""Counting a conv layer: parameters, multiply-adds, FLOPs, and why conv beats fully connected

A Conv2d(C_in, C_out, k, groups=g) holds C_out * (C_in/g) * k * k weights plus
C_out biases, whatever the image size. Each output value is one dot product
of length (C_in/g) * k * k, so the layer costs

    MACs = H_out * W_out * C_out * (C_in/g) * k * k      (multiply-adds)

and, since one multiply-add is one multiplication plus one addition,
FLOPs = 2 * MACs. Many papers (ResNet among them) write "FLOPs" for what are
really multiply-adds, so published numbers differ by exactly 2x.

This proof shows where those counts come from:
- a conv written out as the dense matrix of a fully connected layer: mostly
  zeros (local connectivity) and only C_out*C_in*k*k distinct values repeated
  at every position (weight sharing);
- conv vs fully connected parameters for the same input and output shapes;
- the parameter formula against sum(p.numel()) for plain, grouped, depthwise
  and bias-free layers;
- the conv as im2col + one matrix multiply, whose sizes give the MAC count;
  the kernel is not flipped: PyTorch's "convolution" is cross-correlation;
- one output value computed with counted scalar operations: 2 FLOPs per MAC;
- ResNet's 7x7/2 stem: cheap (118M multiply-adds) because it reads 3 channels.
"""

from quizcnn.proofkit import Proof, main


class Counted:
    """A number that counts the multiplications and additions done with it."""

    muls = 0
    adds = 0

    def __init__(self, value: float):
        self.value = value

    def __mul__(self, other):
        Counted.muls += 1
        return Counted(self.value * _value(other))

    def __add__(self, other):
        Counted.adds += 1
        return Counted(self.value + _value(other))


def _value(x) -> float:
    return x.value if isinstance(x, Counted) else float(x)


def run(proof: Proof) -> None:
    torch = proof.torch
    nn = torch.nn
    F = torch.nn.functional
    dev = proof.device
    dt = proof.float64

    # --- 1. a conv is a sparse, weight-shared fully connected layer -------------
    c_in, c_out, side, k = 2, 3, 6, 3
    conv = nn.Conv2d(c_in, c_out, k, padding=1, bias=False, device=dev, dtype=dt)
    n_in = c_in * side * side
    basis = torch.eye(n_in, device=dev, dtype=dt).view(n_in, c_in, side, side)
    with torch.no_grad():
        dense = conv(basis).view(n_in, -1).T  # column j = response to input pixel j
        x = torch.randn(1, c_in, side, side, device=dev, dtype=dt)
        gap = (dense @ x.flatten() - conv(x).flatten()).abs().max()
    proof.below("dense_matrix_matches", "max |dense matrix @ x - conv(x)|", gap, 1e-12)
    nonzero = int((dense != 0).sum())
    # with padding 1, a 3x3 window covers 3 input rows except at the 2 borders: 3*6 - 2
    taps_per_axis = k * side - 2
    proof.close(
        "local_connectivity",
        f"nonzero entries of the {dense.shape[0]}x{dense.shape[1]} dense matrix",
        nonzero,
        c_out * c_in * taps_per_axis**2,
        0,
    )
    distinct = torch.unique(dense[dense != 0]).numel()
    proof.close(
        "weight_sharing",
        "distinct values in the dense matrix (= conv weights, reused at every position)",
        distinct,
        c_out * c_in * k * k,
        0,
    )

    # --- 2. conv vs fully connected for the same shapes ----------------------------
    conv_layer = nn.Conv2d(3, 16, 3, padding=1)
    fc_layer = nn.Linear(3 * 32 * 32, 16 * 32 * 32, device="meta")  # shapes only, 50M weights
    conv_params = sum(p.numel() for p in conv_layer.parameters())
    fc_params = sum(p.numel() for p in fc_layer.parameters())
    proof.close(
        "conv_params_32", "Conv2d(3, 16, 3) params: 16*3*9 + 16", conv_params, 16 * 3 * 9 + 16, 0
    )
    proof.close(
        "fc_params_32",
        "Linear from 3x32x32 to 16x32x32 params: 3072*16384 + 16384",
        fc_params,
        3072 * 16384 + 16384,
        0,
    )
    proof.above("fc_over_conv", "fully connected / conv parameters", fc_params / conv_params, 1e5)

    # --- 3. the parameter formula against counted parameters ----------------------
    layers = [
        ("Conv2d(64, 128, 3)", 64, 128, 3, 1, True),
        ("Conv2d(64, 128, 3, bias=False)", 64, 128, 3, 1, False),
        ("Conv2d(64, 128, 3, groups=4)", 64, 128, 3, 4, True),
        ("Conv2d(64, 64, 3, groups=64) depthwise", 64, 64, 3, 64, True),
        ("Conv2d(64, 128, 1) pointwise", 64, 128, 1, 1, True),
        ("Conv2d(3, 64, 7, bias=False) ResNet stem", 3, 64, 7, 1, False),
        ("Conv2d(96, 96, 7, groups=96, bias=False) depthwise 7x7", 96, 96, 7, 96, False),
        ("Conv2d(96, 96, 7, bias=False) dense 7x7", 96, 96, 7, 1, False),
    ]
    rows, mismatches = [], 0
    for name, ci, co, kk, g, bias in layers:
        counted = sum(p.numel() for p in nn.Conv2d(ci, co, kk, groups=g, bias=bias).parameters())
        formula = co * (ci // g) * kk * kk + (co if bias else 0)
        mismatches += counted != formula
        rows.append([name, formula, counted])
    proof.close(
        "params_formula", "layers whose counted params differ from the formula", mismatches, 0, 0
    )
    proof.table("Parameters: C_out*(C_in/g)*k*k + C_out", ["layer", "formula", "counted"], rows)

    # --- 4. a conv is im2col + one matrix multiply: its sizes are the MACs ----------
    proof.reseed(1)
    ci, co, kk, h = 8, 16, 3, 10
    conv = nn.Conv2d(ci, co, kk, stride=2, padding=1, bias=False, device=dev, dtype=dt)
    x = torch.randn(1, ci, h, h, device=dev, dtype=dt)
    patches = F.unfold(x, kk, padding=1, stride=2)  # (1, ci*k*k, positions)
    weight = conv.weight.view(co, -1)  # (co, ci*k*k)
    with torch.no_grad():
        by_matmul = (weight @ patches[0]).view(1, co, 5, 5)
        gap = (by_matmul - conv(x)).abs().max()
    proof.below("im2col_matches_conv", "max |W @ unfold(x) - conv(x)|", gap, 1e-12)
    # nn.Conv2d slides the kernel as is (cross-correlation); a textbook
    # convolution flips it first, and that is a different result
    with torch.no_grad():
        flipped = F.conv2d(x, conv.weight.flip(-2, -1), stride=2, padding=1)
    proof.above(
        "no_kernel_flip",
        "relative gap between Conv2d and a true (flipped-kernel) convolution",
        (flipped - by_matmul).norm() / by_matmul.norm(),
        0.1,
    )
    m, kdim, n = weight.shape[0], weight.shape[1], patches.shape[-1]
    h_out = (h + 2 - kk) // 2 + 1
    proof.close(
        "macs_im2col",
        "matmul M*K*N multiply-adds = H_out*W_out*C_out*C_in*k*k",
        m * kdim * n,
        h_out * h_out * co * ci * kk * kk,
        0,
    )

    # --- 5. FLOPs = 2 x MACs: count the scalar operations of one output value ---------
    w = conv.weight[0].detach().cpu().flatten().tolist()  # one output channel
    window = patches[0, :, 7].cpu().tolist()  # one output position
    Counted.muls = Counted.adds = 0
    acc = Counted(0.0)  # a bias would start here; adding each product is one add
    for wi, xi in zip(w, window, strict=True):
        acc = acc + Counted(wi) * xi
    proof.close(
        "one_value_matches",
        "counted dot product vs the conv's output value",
        acc.value,
        by_matmul[0, 0, 1, 2],
        1e-12,
    )
    macs_one = len(w)
    proof.close(
        "muls_per_value",
        "multiplications for one output value = C_in*k*k",
        Counted.muls,
        macs_one,
        0,
    )
    proof.close(
        "flops_per_mac",
        "FLOPs (multiplications + additions) per multiply-add",
        (Counted.muls + Counted.adds) / macs_one,
        2,
        0,
    )

    # ResNet's 7x7/2 stem, measured: output positions (from a real forward pass on
    # the shape-only "meta" device) times the layer's weights
    stem = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False, device="meta")
    stem_out = stem(torch.empty(1, 3, 224, 224, device="meta"))
    stem_macs = stem_out.shape[-2] * stem_out.shape[-1] * stem.weight.numel()
    proof.close(
        "stem_macs",
        "ResNet 7x7/2 stem on 224x224: multiply-adds = 112*112 * 64*3*7*7",
        stem_macs,
        112 * 112 * 64 * 3 * 7 * 7,
        0,
    )
    proof.table(
        "MACs vs FLOPs of ResNet's 7x7/2 stem on 224x224 (output 112x112x64)",
        ["count", "value", "as papers often print it"],
        [
            ["multiply-adds (MACs)", stem_macs, f"{stem_macs / 1e9:.3f} G 'FLOPs'"],
            ["FLOPs = 2 x MACs", 2 * stem_macs, f"{2 * stem_macs / 1e9:.3f} GFLOPs"],
        ],
    )
    proof.plot(
        "Weights of one layer: fully connected vs conv on a 3x32x32 -> 16x32x32 map",
        "layer",
        "parameters",
        ["fully connected", "3x3 conv"],
        {"parameters": [fc_params, conv_params]},
        log_y=True,
    )


if __name__ == "__main__":
    main(run, __doc__)
