"""Transposed convolution: its output size, what it computes, and why it makes checkerboards

nn.ConvTranspose2d is the layer most segmentation decoders and GAN generators
use to upsample. This proof measures what it is, with PyTorch's own layer:

- Output size. For input H, kernel k, stride s, padding p, dilation d and
  output_padding a, PyTorch documents
      H_out = (H - 1) s - 2p + d (k - 1) + a + 1.
  Checked against F.conv_transpose2d over a grid of settings.
- Why output_padding exists: with stride 2, Conv2d(k=3, p=1) maps BOTH a 7x7
  and an 8x8 input to 4x4, so the transpose cannot know which size to return;
  output_padding = 1 picks 8. The extra row is not zeros: it holds real
  contributions (it is the row the padding would otherwise crop).
- What it computes. A convolution is a sparse matrix C acting on the
  flattened input; the transposed convolution with the same weights is
  exactly C^T, which is why it is the gradient of the convolution with
  respect to its input: <conv(x), y> = <x, conv_transpose(y)>, and autograd's
  input gradient equals conv_transpose2d of the upstream gradient.
- The "slow" equivalent: insert s - 1 zeros between input pixels, pad by
  d(k - 1) - p (plus output_padding on the bottom/right), and run an ordinary
  stride-1 convolution with the kernel rotated by 180 degrees and its in/out
  channel axes swapped (Dumoulin & Visin 2016, ch. 4). Without the flip the
  result is wrong.
- It is not an inverse: conv_transpose(conv(x)) is not x ("deconvolution" is
  a misnomer).
- Checkerboards (Odena, Dumoulin & Olah 2016): each output pixel receives
  contributions from a number of input pixels that depends on its position.
  With k = 3, s = 2 the interior counts alternate 1, 2 per axis (1, 2, 4 in
  2-D); with k = 4, s = 2 every interior pixel gets 2 per axis (4 in 2-D);
  with k = 5, s = 3 they run 2, 2, 1 per axis.
  Even overlap is not enough: a random 4x4 kernel still turns a constant
  image into a periodic pattern. Nearest-neighbour resize followed by a
  stride-1 conv maps a constant image to a constant interior, whatever the
  kernel.
"""

import itertools

from quizcnn.proofkit import Proof, main


def out_size_formula(h: int, k: int, s: int, p: int, a: int, d: int) -> int:
    """PyTorch's documented ConvTranspose2d output size along one axis."""
    return (h - 1) * s - 2 * p + d * (k - 1) + a + 1


def run(proof: Proof) -> None:
    output_size_grid(proof)
    output_padding(proof)
    adjoint_and_gradient(proof)
    zero_stuffing(proof)
    checkerboard(proof)


def output_size_grid(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    cases = mismatches = 0
    rows = []
    for h, k, s, p, d in itertools.product(
        (1, 2, 3, 5, 8), (1, 2, 3, 4, 5), (1, 2, 3), (0, 1, 2), (1, 2)
    ):
        for a in range(max(s, d)):  # PyTorch requires output_padding < max(stride, dilation)
            expected = out_size_formula(h, k, s, p, a, d)
            if expected < 1:
                continue
            x = torch.zeros(1, 1, h, h, device=dev, dtype=f64)
            w = torch.zeros(1, 1, k, k, device=dev, dtype=f64)
            got = F.conv_transpose2d(x, w, stride=s, padding=p, output_padding=a, dilation=d)
            cases += 1
            mismatches += int(got.shape[-1] != expected or got.shape[-2] != expected)
            if (h, k, s, p, d, a) in {
                (8, 4, 2, 1, 1, 0),
                (8, 3, 2, 1, 1, 1),
                (5, 3, 2, 0, 1, 0),
                (5, 3, 3, 1, 1, 2),
                (3, 3, 1, 2, 2, 1),
                (2, 5, 3, 1, 2, 0),
            }:
                rows.append([h, k, s, p, d, a, expected, got.shape[-1]])
    proof.table(
        "ConvTranspose2d output size: (H − 1)s − 2p + d(k − 1) + output_padding + 1",
        ["H", "k", "s", "p", "d", "output_padding", "formula", "PyTorch"],
        rows,
    )
    proof.close(
        "shape_grid_cases",
        "settings (H, k, s, p, d, output_padding) tried, every valid one of the grid",
        cases,
        cases,
        0,
    )
    proof.close(
        "shape_grid_mismatches",
        "settings where conv_transpose2d's output size differs from the formula",
        mismatches,
        0,
        0,
    )


def output_padding(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    proof.reseed(1)
    w = torch.randn(1, 1, 3, 3, device=dev, dtype=f64)
    sizes = [
        F.conv2d(torch.zeros(1, 1, n, n, device=dev, dtype=f64), w, stride=2, padding=1).shape[-1]
        for n in (7, 8)
    ]
    proof.holds(
        "conv_maps_7_and_8_to_4",
        "Conv2d(k=3, s=2, p=1) maps both 7x7 and 8x8 inputs to 4x4",
        sizes == [4, 4],
        detail=f"output sides {sizes}",
    )
    y = torch.randn(1, 1, 4, 4, device=dev, dtype=f64)
    back = [
        F.conv_transpose2d(y, w, stride=2, padding=1, output_padding=a).shape[-1] for a in (0, 1)
    ]
    proof.holds(
        "output_padding_picks_size",
        "ConvTranspose2d(k=3, s=2, p=1) maps 4x4 to 7x7, and to 8x8 with output_padding=1",
        back == [7, 8],
        detail=f"output sides {back}",
    )
    extra = F.conv_transpose2d(y, w, stride=2, padding=1, output_padding=1)[0, 0, -1, :]
    proof.above(
        "extra_row_not_zero",
        "the row added by output_padding=1: largest |value| (it holds real contributions)",
        extra.abs().max(),
        0.1,
    )
    # That is exactly the gradient of the 8x8 convolution.
    x = torch.randn(1, 1, 8, 8, device=dev, dtype=f64, requires_grad=True)
    g = torch.randn(1, 1, 4, 4, device=dev, dtype=f64)
    (F.conv2d(x, w, stride=2, padding=1) * g).sum().backward()
    proof.close(
        "output_padding_gradient",
        "grad of Conv2d(s=2, p=1) on 8x8 vs conv_transpose2d(grad, output_padding=1): max diff",
        (x.grad - F.conv_transpose2d(g, w, stride=2, padding=1, output_padding=1)).abs().max(),
        0.0,
        1e-12,
    )


def dense_matrix(fn, n_in: int, shape, torch, dev, dtype):
    """Matrix of a linear map: column j is fn(e_j) flattened."""
    cols = []
    for j in range(n_in):
        e = torch.zeros(n_in, device=dev, dtype=dtype)
        e[j] = 1.0
        cols.append(fn(e.reshape(shape)).flatten())
    return torch.stack(cols, dim=1)


def adjoint_and_gradient(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    proof.reseed(2)
    # Dumoulin & Visin's example: 3x3 kernel over a 4x4 input, no padding, stride 1: C is 4 x 16.
    w = torch.randn(1, 1, 3, 3, device=dev, dtype=f64)
    conv_mat = dense_matrix(lambda t: F.conv2d(t, w), 16, (1, 1, 4, 4), torch, dev, f64)
    convt_mat = dense_matrix(lambda t: F.conv_transpose2d(t, w), 4, (1, 1, 2, 2), torch, dev, f64)
    proof.holds(
        "matrix_shapes",
        "conv 4x4 -> 2x2 is a 4 x 16 matrix; its transpose maps 2x2 -> 4x4 (16 x 4)",
        tuple(conv_mat.shape) == (4, 16) and tuple(convt_mat.shape) == (16, 4),
        detail=f"{tuple(conv_mat.shape)} and {tuple(convt_mat.shape)}",
    )
    proof.close(
        "convT_is_matrix_transpose",
        "matrix of conv_transpose2d vs the transpose of conv2d's matrix: max diff",
        (convt_mat - conv_mat.T).abs().max(),
        0.0,
        1e-15,
    )
    # The adjoint identity and autograd, with channels, stride, padding and dilation.
    x = torch.randn(2, 3, 9, 9, device=dev, dtype=f64, requires_grad=True)
    w = torch.randn(5, 3, 3, 3, device=dev, dtype=f64)  # Conv2d weight (C_out, C_in, k, k)
    conv = F.conv2d(x, w, stride=2, padding=1, dilation=2)
    y = torch.randn_like(conv)
    lhs = (conv * y).sum()
    convt = F.conv_transpose2d(y, w, stride=2, padding=1, dilation=2)
    rhs = (x * convt).sum()
    proof.close(
        "adjoint_identity",
        "<conv(x), y> − <x, conv_transpose(y)>, relative to |<conv(x), y>|",
        ((lhs - rhs) / lhs).abs().detach(),
        0.0,
        1e-12,
    )
    lhs.backward()
    proof.close(
        "autograd_is_convT",
        "autograd's d<conv(x), y>/dx vs conv_transpose2d(y) with the same weight: max diff",
        (x.grad - convt).abs().max(),
        0.0,
        1e-12,
    )
    # Not an inverse: transposing the conv does not undo it.
    z = torch.randn(1, 1, 8, 8, device=dev, dtype=f64)
    k = torch.randn(1, 1, 3, 3, device=dev, dtype=f64)
    back = F.conv_transpose2d(F.conv2d(z, k, padding=1), k, padding=1)
    proof.above(
        "not_an_inverse",
        "‖convT(conv(x)) − x‖ / ‖x‖ with the same weights (an inverse would give 0)",
        (back - z).norm() / z.norm(),
        0.5,
    )


def zero_stuffing(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    proof.reseed(3)
    x = torch.randn(2, 3, 5, 5, device=dev, dtype=f64)
    w = torch.randn(3, 4, 3, 3, device=dev, dtype=f64)  # ConvTranspose2d weight (C_in, C_out, k, k)
    worst_flipped = 0.0
    worst_unflipped = float("inf")
    for s, p, a, d in [(2, 1, 1, 1), (2, 0, 0, 1), (3, 1, 2, 1), (2, 1, 0, 2), (1, 1, 0, 1)]:
        y = F.conv_transpose2d(x, w, stride=s, padding=p, output_padding=a, dilation=d)
        n = x.shape[-1]
        stuffed = torch.zeros(2, 3, (n - 1) * s + 1, (n - 1) * s + 1, device=dev, dtype=f64)
        stuffed[..., ::s, ::s] = x  # s - 1 zeros between neighbouring pixels
        q = d * (3 - 1) - p
        stuffed = F.pad(stuffed, (q, q + a, q, q + a))  # output_padding goes bottom/right
        flipped = w.transpose(0, 1).flip(-2, -1)  # swap in/out channels, rotate 180 degrees
        y_flip = F.conv2d(stuffed, flipped, dilation=d)
        y_plain = F.conv2d(stuffed, w.transpose(0, 1), dilation=d)
        worst_flipped = max(worst_flipped, (y - y_flip).abs().max().item())
        worst_unflipped = min(worst_unflipped, (y - y_plain).abs().max().item())
    proof.close(
        "zero_stuffing_equivalence",
        "conv_transpose2d vs stride-1 conv2d of the zero-stuffed, padded input with the "
        "flipped kernel, worst of 5 settings: max diff",
        worst_flipped,
        0.0,
        1e-12,
    )
    proof.above(
        "flip_is_needed",
        "the same with the kernel NOT flipped: smallest max diff over the 5 settings",
        worst_unflipped,
        0.1,
    )


def checkerboard(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    rows = []
    counts = {}
    for k in (2, 3, 4, 5):
        ones = torch.ones(1, 1, 8, 8, device=dev, dtype=f64)
        overlap = F.conv_transpose2d(ones, torch.ones(1, 1, k, k, device=dev, dtype=f64), stride=2)
        inner = overlap[0, 0, k:-k, k:-k]  # away from the borders
        counts[k] = (inner.min().item(), inner.max().item())
        rows.append([k, 2, "yes" if k % 2 == 0 else "no", counts[k][0], counts[k][1]])
    proof.table(
        "Inputs reaching each interior output pixel, ConvTranspose2d stride 2 (ones kernel)",
        ["k", "s", "k divisible by s", "fewest", "most"],
        rows,
    )
    proof.close(
        "k3s2_uneven_ratio",
        "k=3, s=2: most / fewest contributions to an interior output pixel (2-D)",
        counts[3][1] / counts[3][0],
        4.0,
        0,
    )
    proof.close(
        "k4s2_even",
        "k=4, s=2: most − fewest contributions to an interior output pixel",
        counts[4][1] - counts[4][0],
        0.0,
        0,
    )
    # Stride 3, kernel 5 (not a multiple): per axis, 1 or 2 inputs reach each pixel.
    line = F.conv_transpose1d(
        torch.ones(1, 1, 12, device=dev, dtype=f64),
        torch.ones(1, 1, 5, device=dev, dtype=f64),
        stride=3,
    )[0, 0, 5:-5]
    proof.holds(
        "k5s3_per_axis_counts",
        "k=5, s=3, one axis: interior pixels receive 1 or 2 contributions, in the period 2, 2, 1",
        sorted(set(line.tolist())) == [1.0, 2.0]
        and all(sorted(line[i : i + 3].tolist()) == [1.0, 2.0, 2.0] for i in range(len(line) - 2)),
        detail=f"{line.tolist()}",
    )
    # Even overlap is not enough: a random 4x4 kernel on a constant image still alternates.
    proof.reseed(4)
    const = torch.ones(1, 1, 8, 8, device=dev, dtype=f64)
    w = torch.rand(1, 1, 4, 4, device=dev, dtype=f64)
    up = F.conv_transpose2d(const, w, stride=2, padding=1)[0, 0, 2:-2, 2:-2]
    proof.above(
        "random_k4s2_still_periodic",
        "random 4x4 kernel, stride 2, constant input: interior (max − min) / mean",
        (up.max() - up.min()) / up.mean(),
        0.05,
    )
    # Resize, then convolve: nearest-neighbour x2 then a stride-1 3x3 conv.
    w3 = torch.rand(1, 1, 3, 3, device=dev, dtype=f64)
    resized = F.interpolate(const, scale_factor=2, mode="nearest")
    out = F.conv2d(resized, w3, padding=1)[0, 0, 1:-1, 1:-1]
    proof.close(
        "resize_conv_constant",
        "nearest x2 then random 3x3 conv, constant input: interior (max − min)",
        out.max() - out.min(),
        0.0,
        1e-12,
    )


if __name__ == "__main__":
    main(run, __doc__)
