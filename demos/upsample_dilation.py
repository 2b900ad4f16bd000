"""Upsampling and dilation: F.interpolate, bilinear as a transposed conv, atrous rates and gridding

Segmentation networks either upsample coarse maps back to pixels or avoid
downsampling in the first place with dilated ("atrous") convolutions. This
proof measures both with PyTorch:

- F.interpolate(mode="bilinear") against hand formulas. A destination index
  o maps to a source coordinate
      align_corners=True:  src = o (in - 1) / (out - 1)   (corner centres meet)
      align_corners=False: src = (o + 0.5) in / out - 0.5, clamped at 0
  (pixel edges meet; the default). Upsampling [0, 1] by 2 gives
  [0, 1/3, 2/3, 1] with True and [0, 0.25, 0.75, 1] with False: the clamp
  keeps values inside the input's range.
- Bilinear upsampling by an integer factor f IS a transposed convolution:
  groups = C, kernel 2f - f mod 2, stride f, padding ceil((f - 1)/2) and the
  separable "tent" weights FCN initializes its upsampling layers with. It
  reproduces F.interpolate(align_corners=False) exactly away from the
  border; at the border the zero padding differs from the edge clamp.
  Nearest-neighbour x2 is a transposed conv with a 2x2 kernel of ones.
- Dilation keeps resolution: a stride-2 conv followed by a 3x3 conv equals,
  at every other pixel, a stride-1 conv followed by the same 3x3 conv with
  dilation 2 (no new weights). That is how DeepLab lowers the output stride.
- Large rates waste taps: on a 65x65 map a 3x3 filter with rate r keeps
  fewer taps inside the map as r grows, and for r >= 65 only the centre tap
  ever sees a feature (DeepLabv3's reason to add image-level pooling).
- Gridding: three stacked 3x3 convs with rates (2, 2, 2) span 13x13 but read
  only 49 of its 169 pixels, and neighbouring outputs read disjoint pixels.
  Rates (1, 2, 3) or (1, 2, 5) read every pixel of their field (Wang et al.'s
  hybrid dilated convolution), and so do Yu & Koltun's rates doubling from 1,
  (1, 2, 4); (2, 4, 8) shares the factor 2 and reads 27%; (1, 2, 9) has no
  common factor yet still leaves holes, as HDC's M_2 <= K rule predicts.
"""

import math

import numpy as np

from quizcnn.proofkit import Proof, main


def linear_matrix(n_in: int, n_out: int, align_corners: bool) -> np.ndarray:
    """1-D linear interpolation as an (n_out x n_in) matrix, from the index mapping."""
    m = np.zeros((n_out, n_in))
    for o in range(n_out):
        if align_corners:
            src = o * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        else:
            src = max((o + 0.5) * n_in / n_out - 0.5, 0.0)
        i0 = min(int(math.floor(src)), n_in - 1)
        i1 = min(i0 + 1, n_in - 1)
        t = src - i0
        m[o, i0] += 1 - t
        m[o, i1] += t
    return m


def tent_kernel(f: int) -> np.ndarray:
    """FCN/Caffe's bilinear upsampling kernel for factor f: size 2f - f % 2."""
    k = 2 * f - f % 2
    centre = f - 1 if k % 2 == 1 else f - 0.5
    v = np.array([1 - abs(i - centre) / f for i in range(k)])
    return np.outer(v, v)


def hdc_m2(rates: tuple[int, ...]) -> int:
    """Wang et al.'s M_2: M_n = r_n, M_i = max(M_{i+1} - 2 r_i, 2 r_i - M_{i+1}, r_i)."""
    m = rates[-1]
    for r in reversed(rates[1:-1]):
        m = max(m - 2 * r, 2 * r - m, r)
    return m


def run(proof: Proof) -> None:
    interpolate_formulas(proof)
    bilinear_as_transposed_conv(proof)
    atrous_keeps_resolution(proof)
    valid_taps(proof)
    gridding(proof)


def interpolate_formulas(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    proof.reseed(1)
    x = torch.randn(1, 1, 5, 7, device=dev, dtype=f64)
    worst = {True: 0.0, False: 0.0}
    for out_h, out_w in [(10, 14), (13, 9), (11, 21)]:
        for align in (True, False):
            got = F.interpolate(x, size=(out_h, out_w), mode="bilinear", align_corners=align)
            ref = linear_matrix(5, out_h, align) @ x[0, 0].cpu().numpy()
            ref = ref @ linear_matrix(7, out_w, align).T
            diff = float(np.abs(got[0, 0].cpu().numpy() - ref).max())
            worst[align] = max(worst[align], diff)
    for align in (True, False):
        proof.close(
            f"bilinear_formula_align_{str(align).lower()}",
            f"F.interpolate bilinear, align_corners={align}, vs the hand formula "
            "(5x7 to three sizes): max diff",
            worst[align],
            0.0,
            1e-12,
        )
    ramp = torch.tensor([[[0.0, 1.0]]], device=dev, dtype=f64)
    rows = []
    values = {}
    for align in (True, False):
        up = F.interpolate(ramp, scale_factor=2, mode="linear", align_corners=align)[0, 0]
        values[align] = up.tolist()
        rows.append([str(align), ", ".join(f"{v:.4f}" for v in values[align])])
    proof.table(
        "F.interpolate([0, 1], scale_factor=2, mode='linear')", ["align_corners", "output"], rows
    )
    proof.close(
        "align_true_second_value",
        "[0, 1] upsampled x2 with align_corners=True: second value (1/3)",
        values[True][1],
        1 / 3,
        1e-12,
    )
    proof.close(
        "align_false_second_value",
        "[0, 1] upsampled x2 with align_corners=False: second value (0.25)",
        values[False][1],
        0.25,
        1e-12,
    )
    proof.holds(
        "align_false_stays_in_range",
        "align_corners=False output stays within [0, 1] (edge clamp, no extrapolation)",
        min(values[False]) >= 0.0 and max(values[False]) <= 1.0,
        detail=f"{values[False]}",
    )


def bilinear_as_transposed_conv(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    proof.reseed(2)
    c = 3
    rows = []
    interior, border = {}, {}
    for f in (2, 3, 4):
        w = torch.tensor(tent_kernel(f), device=dev, dtype=f64)
        k = w.shape[-1]
        weight = w.expand(c, 1, k, k).contiguous()  # one kernel per channel (groups = C)
        pad = math.ceil((f - 1) / 2)
        x = torch.randn(1, c, 8, 8, device=dev, dtype=f64)
        up = F.conv_transpose2d(x, weight, stride=f, padding=pad, groups=c)
        ref = F.interpolate(x, scale_factor=f, mode="bilinear", align_corners=False)
        interior[f] = (up - ref)[..., f:-f, f:-f].abs().max().item()
        border[f] = (up - ref).abs().max().item()
        rows.append([f, k, f, pad, f"{interior[f]:.1e}", f"{border[f]:.3f}"])
    proof.table(
        "Bilinear x f as ConvTranspose2d(groups=C) with FCN's tent kernel vs F.interpolate",
        ["f", "kernel", "stride", "padding", "interior max diff", "border max diff"],
        rows,
    )
    proof.close(
        "tent_kernel_x2_values",
        "1-D tent kernel for f = 2: [0.25, 0.75, 0.75, 0.25], max deviation",
        float(np.abs(tent_kernel(2)[1] / 0.75 - np.array([0.25, 0.75, 0.75, 0.25])).max()),
        0.0,
        1e-12,
    )
    proof.close(
        "bilinear_convT_interior",
        "tent-kernel ConvTranspose2d vs bilinear F.interpolate, f in {2, 3, 4}: "
        "worst interior max diff",
        max(interior.values()),
        0.0,
        1e-12,
    )
    proof.above(
        "bilinear_convT_border_differs",
        "the same at the border (zero padding vs edge clamp): smallest max diff",
        min(border.values()),
        0.01,
    )
    x = torch.randn(1, 2, 5, 5, device=dev, dtype=f64)
    nearest = F.conv_transpose2d(
        x, torch.ones(2, 1, 2, 2, device=dev, dtype=f64), stride=2, groups=2
    )
    proof.close(
        "nearest_is_convT_ones",
        "nearest x2 vs ConvTranspose2d(k=2, s=2, groups=C) with a kernel of ones: max diff",
        (nearest - F.interpolate(x, scale_factor=2, mode="nearest")).abs().max(),
        0.0,
        0.0,
    )


def atrous_keeps_resolution(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    proof.reseed(3)
    x = torch.randn(1, 3, 32, 32, device=dev, dtype=f64)
    w1 = torch.randn(4, 3, 3, 3, device=dev, dtype=f64)
    w2 = torch.randn(5, 4, 3, 3, device=dev, dtype=f64)
    strided = F.conv2d(F.conv2d(x, w1, padding=1, stride=2), w2, padding=1)
    dense = F.conv2d(F.conv2d(x, w1, padding=1, stride=1), w2, padding=2, dilation=2)
    proof.holds(
        "atrous_output_sizes",
        "stride-2 path gives 16x16 (output stride 2); the dilated path keeps 32x32",
        tuple(strided.shape[-2:]) == (16, 16) and tuple(dense.shape[-2:]) == (32, 32),
        detail=f"{tuple(strided.shape[-2:])} and {tuple(dense.shape[-2:])}",
    )
    proof.close(
        "atrous_subsample_equals_strided",
        "dilated dense output at every other pixel vs the strided output: max diff",
        (dense[..., ::2, ::2] - strided).abs().max(),
        0.0,
        1e-12,
    )


def valid_taps(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    ones_map = torch.ones(1, 1, 65, 65, device=dev, dtype=f64)
    ones_k = torch.ones(1, 1, 3, 3, device=dev, dtype=f64)
    rows = []
    mean_taps = {}
    for r in (1, 6, 12, 18, 24, 36, 64, 65):
        # Zero padding r keeps the map 65x65; each output counts the taps that land on the map.
        taps = F.conv2d(ones_map, ones_k, padding=r, dilation=r)
        mean_taps[r] = taps.mean().item()
        rows.append([r, f"{mean_taps[r]:.3f}", f"{mean_taps[r] / 9:.3f}", int(taps.max().item())])
    proof.table(
        "3x3 filter with rate r on a 65x65 map: taps that land on real features",
        ["rate", "mean taps", "fraction of 9", "most at any pixel"],
        rows,
    )
    proof.close(
        "valid_taps_rate24",
        "rate 24 on 65x65: mean number of the 9 taps that fall on the map",
        mean_taps[24],
        (147 / 65) ** 2,  # per axis: 65 centre taps + 41 + 41 side taps over 65 positions
        1e-9,
    )
    proof.close(
        "valid_taps_rate65",
        "rate 65 on 65x65: taps on the map at every pixel (only the centre: a 1x1 conv)",
        mean_taps[65],
        1.0,
        1e-12,
    )


def gridding(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    side = 41

    def reached(rates, at=(20, 20)):
        """Input pixels with a nonzero gradient for one output of stacked all-ones 3x3 convs."""
        x = torch.zeros(1, 1, side, side, device=dev, dtype=f64, requires_grad=True)
        h = x
        for r in rates:
            h = F.conv2d(h, torch.ones(1, 1, 3, 3, device=dev, dtype=f64), padding=r, dilation=r)
        h[0, 0, at[0], at[1]].backward()
        return x.grad[0, 0] != 0

    rows = []
    stats = {}
    for rates in [(1, 1, 1), (2, 2, 2), (2, 4, 8), (1, 2, 4), (1, 2, 3), (1, 2, 5), (1, 2, 9)]:
        hit = reached(rates)
        rows_hit = hit.any(dim=1).nonzero().flatten()
        extent = int(rows_hit.max() - rows_hit.min() + 1)
        touched = int(hit.sum())
        stats[rates] = (extent, touched)
        rows.append(
            [
                str(rates),
                extent,
                touched,
                extent * extent,
                f"{touched / extent**2:.3f}",
                hdc_m2(rates),
            ]
        )
    proof.table(
        "Three stacked 3x3 convs: input pixels that reach one output",
        ["rates", "field side", "pixels read", "pixels in field", "fraction", "HDC M_2"],
        rows,
    )
    proof.holds(
        "gridding_222",
        "rates (2, 2, 2): field 13x13 but only 49 pixels read",
        stats[(2, 2, 2)] == (13, 49),
        detail=f"{stats[(2, 2, 2)]}",
    )
    proof.holds(
        "doubling_from_1_full",
        "rates (1, 2, 4), Yu & Koltun's doubling from 1: field 15x15 and all 225 pixels read",
        stats[(1, 2, 4)] == (15, 225),
        detail=f"{stats[(1, 2, 4)]}",
    )
    proof.holds(
        "hdc_123_full",
        "rates (1, 2, 3): field 13x13 and all 169 pixels read",
        stats[(1, 2, 3)] == (13, 169),
        detail=f"{stats[(1, 2, 3)]}",
    )
    proof.holds(
        "hdc_125_full",
        "rates (1, 2, 5): field 17x17 and all 289 pixels read",
        stats[(1, 2, 5)] == (17, 289),
        detail=f"{stats[(1, 2, 5)]}",
    )
    proof.close(
        "coprime_129_holes",
        "rates (1, 2, 9), no common factor: fraction of the 25x25 field read",
        stats[(1, 2, 9)][1] / stats[(1, 2, 9)][0] ** 2,
        (21 / 25) ** 2,
        1e-12,
    )
    proof.holds(
        "hdc_rule_agrees",
        "for stacks starting at rate 1, HDC's M_2 <= 3 exactly when no pixel is missed",
        all((hdc_m2(r) <= 3) == (stats[r][1] == stats[r][0] ** 2) for r in stats if r[0] == 1),
        detail=", ".join(f"{r}: M_2={hdc_m2(r)}" for r in stats if r[0] == 1),
    )
    a, b = reached((2, 2, 2), (20, 20)), reached((2, 2, 2), (20, 21))
    proof.close(
        "gridding_neighbours_disjoint",
        "rates (2, 2, 2): input pixels shared by two horizontally adjacent outputs",
        int((a & b).sum()),
        0,
        0,
    )


if __name__ == "__main__":
    main(run, __doc__)
