"""Int8 quantization: the scale, the rounding error, per-channel scales, outliers and the STE

Symmetric and asymmetric (zero-point) 8-bit quantization, written out by hand and
checked against PyTorch's own quantization functions:

- Symmetric per-tensor: scale = max|x|/127, q = clamp(round(x/scale), −127, 127),
  x̂ = q·scale. The largest |x| lands exactly on ±127, the round-trip error is at
  most scale/2 everywhere (the measured maximum comes within a hair of it), and the
  mean squared error is the uniform-rounding value scale²/12.
  torch.fake_quantize_per_tensor_affine and torch.quantize_per_tensor(qint8) give
  the same integers and values, and both round exact ties to the even code.
- Per-channel scales (one per output channel, torch.fake_quantize_per_channel_affine)
  beat one per-tensor scale by a wide margin on a weight whose channels have very
  different ranges: with one scale, the small channels round mostly to 0.
- One outlier sets the whole tensor's scale: the error of every other element grows
  with the square of the scale, and a large share of them round to 0.
- Asymmetric (affine) quantization r = S·(q − Z) (Jacob et al. 2018, §2.1) on
  uint8: S = (max − min)/255 and an integer zero-point Z, so that real 0 is exactly
  representable; on a skewed range it wastes no codes and beats symmetric int8.
- round() has zero gradient almost everywhere, so quantization-aware training
  uses the straight-through estimator: fake_quantize's backward passes the
  gradient through unchanged inside the clamping range and zeroes it outside.
"""

import warnings

from quizcnn.proofkit import Proof, main

QMAX = 127


def run(proof: Proof) -> None:
    symmetric_per_tensor(proof)
    per_channel(proof)
    outlier(proof)
    asymmetric(proof)
    straight_through(proof)


def symmetric_codes(torch, x, scale: float):
    """q = clamp(round(x/scale), −127, 127), the hand formula (round half to even)."""
    return torch.clamp(torch.round(x / scale), -QMAX, QMAX)


def symmetric_per_tensor(proof: Proof) -> None:
    torch, dev = proof.torch, proof.device
    proof.reseed(1)
    x = torch.randn(20_000, device=dev)  # float32: what the quantization kernels take
    scale = x.abs().max().item() / QMAX
    q = symmetric_codes(torch, x, scale)
    x_hat = q * scale
    err = (x.double() - q.double() * scale).abs()
    proof.close(
        "max_maps_to_127",
        "max |q| for scale = max|x|/127 (the largest |x| lands on ±127)",
        q.abs().max(),
        QMAX,
        0,
    )
    proof.below(
        "error_at_most_half_scale",
        "max |x − q·scale| / (scale/2): never above 1 (a round-to-nearest bound)",
        err.max().item() / (scale / 2),
        1 + 1e-5,
    )
    proof.above(
        "error_bound_is_tight",
        "the same ratio measured on 20,000 Gaussian values: the bound is nearly reached",
        err.max().item() / (scale / 2),
        0.99,
    )
    proof.close(
        "mse_is_scale2_over_12",
        "mean squared round-trip error / (scale²/12): uniform rounding noise",
        (err**2).mean().item() / (scale**2 / 12),
        1.0,
        0.05,
    )
    fake = torch.fake_quantize_per_tensor_affine(x, scale, 0, -QMAX, QMAX)
    proof.close(
        "fake_quantize_matches_hand",
        "torch.fake_quantize_per_tensor_affine(x, scale, 0, −127, 127) vs q·scale: max difference",
        (fake - x_hat).abs().max(),
        0.0,
        1e-6,
    )
    with warnings.catch_warnings():  # quantized dtypes are deprecated in recent releases
        warnings.simplefilter("ignore")
        qt = torch.quantize_per_tensor(x.cpu(), scale, 0, torch.qint8)
        codes = qt.int_repr().to(torch.float32)
        deq = qt.dequantize()
    proof.close(
        "quantize_per_tensor_codes",
        "torch.quantize_per_tensor(x, scale, 0, qint8).int_repr() ≠ hand q: elements",
        (codes != q.cpu()).sum(),
        0,
        0,
    )
    proof.close(
        "dequantize_is_q_times_scale",
        "dequantize() vs q·scale: max difference",
        (deq - x_hat.cpu()).abs().max(),
        0.0,
        1e-6,
    )
    # A power-of-two scale makes x/scale exact, so these are true ties in float32.
    tie_scale = 0.125
    ties = torch.tensor([0.5, 1.5, 2.5, -0.5, -2.5], device=dev) * tie_scale
    fake_codes = torch.fake_quantize_per_tensor_affine(ties, tie_scale, 0, -QMAX, QMAX) / tie_scale
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        int_codes = torch.quantize_per_tensor(ties.cpu(), tie_scale, 0, torch.qint8).int_repr()
    even = [0.0, 2.0, 2.0, 0.0, -2.0]
    proof.holds(
        "ties_to_even",
        "exact ties x/scale = 0.5, 1.5, 2.5, −0.5, −2.5 go to the even code 0, 2, 2, 0, −2 "
        "(fake_quantize_per_tensor_affine and quantize_per_tensor)",
        fake_codes.tolist() == even and int_codes.to(torch.float32).tolist() == even,
        f"fake {fake_codes.tolist()}, quantize_per_tensor {int_codes.tolist()}",
    )
    proof.table(
        "Symmetric per-tensor int8 on 20,000 N(0, 1) values",
        ["quantity", "value"],
        [
            ["max |x|", f"{x.abs().max().item():.5f}"],
            ["scale = max|x|/127", f"{scale:.6f}"],
            ["max |x − x̂|", f"{err.max().item():.6f}"],
            ["scale/2", f"{scale / 2:.6f}"],
            ["mean squared error", f"{(err**2).mean().item():.4e}"],
            ["scale²/12", f"{scale**2 / 12:.4e}"],
            ["storage: float32 bytes vs int8 bytes", f"{4 * x.numel():,} vs {x.numel():,}"],
        ],
    )


def per_channel(proof: Proof) -> None:
    torch, dev = proof.torch, proof.device
    proof.reseed(2)
    channels, fan_in = 16, 256
    ranges = torch.logspace(-2, 0, channels, device=dev)  # channel scales from 0.01 to 1
    w = torch.randn(channels, fan_in, device=dev) * ranges[:, None]
    tensor_scale = w.abs().max().item() / QMAX
    channel_scales = w.abs().amax(dim=1) / QMAX
    per_tensor = torch.fake_quantize_per_tensor_affine(w, tensor_scale, 0, -QMAX, QMAX)
    zeros = torch.zeros(channels, dtype=torch.int32, device=dev)
    per_chan = torch.fake_quantize_per_channel_affine(w, channel_scales, zeros, 0, -QMAX, QMAX)
    s_c = channel_scales[:, None]
    hand = torch.clamp(torch.round(w / s_c), -QMAX, QMAX) * s_c
    proof.close(
        "per_channel_matches_hand",
        "fake_quantize_per_channel_affine (axis 0) vs clamp(round(w/s_c))·s_c: max difference",
        (per_chan - hand).abs().max(),
        0.0,
        1e-6,
    )

    def rel_errors(wq):
        return (w - wq).norm(dim=1) / w.norm(dim=1)  # ‖w_c − ŵ_c‖/‖w_c‖ per channel

    mean_rel_tensor = rel_errors(per_tensor).mean().item()
    mean_rel_channel = rel_errors(per_chan).mean().item()
    proof.above(
        "per_channel_beats_per_tensor",
        "mean over channels of ‖w_c − ŵ_c‖/‖w_c‖: per-tensor scale / per-channel scales",
        mean_rel_tensor / mean_rel_channel,
        10.0,
    )
    small = 0  # the channel with the smallest range
    proof.above(
        "small_channel_zeroed_per_tensor",
        "smallest channel (range 0.01×), one per-tensor scale: fraction of weights rounded to 0",
        (per_tensor[small] == 0).float().mean(),
        0.5,
    )
    proof.below(
        "small_channel_kept_per_channel",
        "the same channel with its own scale: fraction rounded to 0",
        (per_chan[small] == 0).float().mean(),
        0.05,
    )
    rows = []
    for c in (0, 5, 10, 15):
        rows.append(
            [
                c,
                f"{w[c].abs().max().item():.4f}",
                f"{rel_errors(per_tensor)[c].item():.4f}",
                f"{(per_tensor[c] == 0).float().mean().item():.3f}",
                f"{rel_errors(per_chan)[c].item():.4f}",
            ]
        )
    mse_ratio = ((w - per_tensor) ** 2).mean().item() / ((w - per_chan) ** 2).mean().item()
    rows.append(["mean", "", f"{mean_rel_tensor:.4f}", "", f"{mean_rel_channel:.4f}"])
    rows.append(["MSE ratio (per-tensor / per-channel)", "", f"{mse_ratio:.2f}", "", ""])
    proof.table(
        "Weight (16, 256), channel ranges 0.01 to 1: relative error ‖w − ŵ‖/‖w‖ per channel",
        [
            "channel",
            "max |w|",
            "per-tensor rel. error",
            "per-tensor share of 0s",
            "per-channel rel. error",
        ],
        rows,
    )


def outlier(proof: Proof) -> None:
    torch, dev = proof.torch, proof.device
    proof.reseed(3)
    x = torch.randn(20_000, device=dev)
    with_outlier = x.clone()
    with_outlier[0] = 100.0
    rest = slice(1, None)  # every element but the outlier
    rows, mse, scales, zero_share = [], {}, {}, {}
    for name, data in (("no outlier", x), ("one value = 100", with_outlier)):
        scale = data.abs().max().item() / QMAX
        xq = torch.fake_quantize_per_tensor_affine(data, scale, 0, -QMAX, QMAX)
        scales[name] = scale
        mse[name] = ((data[rest] - xq[rest]) ** 2).mean().item()
        zero_share[name] = (xq[rest] == 0).float().mean().item()
        rows.append([name, f"{scale:.5f}", f"{mse[name]:.3e}", f"{zero_share[name]:.3f}"])
    proof.table(
        "One outlier in 20,000 N(0, 1) values, symmetric per-tensor int8",
        ["data", "scale", "MSE on the other 19,999", "share of them rounded to 0"],
        rows,
    )
    a, b = "no outlier", "one value = 100"
    proof.close(
        "outlier_error_grows_as_scale_squared",
        "MSE ratio (with / without the outlier) over the squared scale ratio",
        (mse[b] / mse[a]) / (scales[b] / scales[a]) ** 2,
        1.0,
        0.15,
    )
    proof.above(
        "outlier_zeroes_many",
        "with the outlier: share of the other values that round to 0",
        zero_share[b],
        0.25,
    )


def asymmetric(proof: Proof) -> None:
    torch, dev = proof.torch, proof.device
    proof.reseed(4)
    x = torch.rand(20_000, device=dev) * 6.2 - 1.0  # a skewed range, [−1, 5.2)
    lo, hi = min(x.min().item(), 0.0), max(x.max().item(), 0.0)  # the range must hold 0
    scale = (hi - lo) / 255
    zero_point = int(round(-lo / scale))
    q = torch.clamp(torch.round(x / scale) + zero_point, 0, 255)
    hand = scale * (q - zero_point)  # r = S (q − Z)
    fake = torch.fake_quantize_per_tensor_affine(x, scale, zero_point, 0, 255)
    proof.close(
        "affine_matches_torch",
        "fake_quantize_per_tensor_affine(x, S, Z, 0, 255) vs S·(q − Z) by hand: max difference",
        (fake - hand).abs().max(),
        0.0,
        1e-6,
    )
    real_zero = torch.zeros(3, device=dev)
    proof.close(
        "zero_exactly_representable",
        "real 0 after the affine round trip (q = Z): |value|",
        torch.fake_quantize_per_tensor_affine(real_zero, scale, zero_point, 0, 255).abs().max(),
        0.0,
        0.0,
    )
    sym_scale = x.abs().max().item() / QMAX
    sym = torch.fake_quantize_per_tensor_affine(x, sym_scale, 0, -QMAX, QMAX)
    mse_affine = ((x - fake) ** 2).mean().item()
    mse_sym = ((x - sym) ** 2).mean().item()
    proof.above(
        "affine_beats_symmetric_on_skewed",
        "on [−1, 5.2): MSE of symmetric int8 / MSE of affine uint8",
        mse_sym / mse_affine,
        2.0,
    )
    proof.table(
        "Asymmetric (affine) uint8 vs symmetric int8 on values in [−1, 5.2)",
        ["scheme", "scale", "zero-point", "codes used", "MSE"],
        [
            ["affine uint8", f"{scale:.6f}", zero_point, "0..255", f"{mse_affine:.3e}"],
            [
                "symmetric int8",
                f"{sym_scale:.6f}",
                0,
                f"{int((x.min() / sym_scale).round())}..127",
                f"{mse_sym:.3e}",
            ],
        ],
    )


def straight_through(proof: Proof) -> None:
    torch, dev = proof.torch, proof.device
    x = torch.linspace(-3, 3, 601, device=dev).requires_grad_(True)
    torch.round(x).sum().backward()
    proof.holds(
        "round_has_zero_gradient",
        "autograd's gradient of sum(round(x)): zero everywhere, so it alone cannot train",
        bool((x.grad == 0).all()),
    )
    x.grad = None
    scale = 2.0 / QMAX  # values beyond |x| ≈ 2 are clamped
    torch.fake_quantize_per_tensor_affine(x, scale, 0, -QMAX, QMAX).sum().backward()
    codes = torch.round(x.detach() / scale)
    inside = ((codes >= -QMAX) & (codes <= QMAX)).to(x.grad.dtype)
    proof.holds(
        "ste_passes_inside_range",
        "fake_quantize's gradient is 1 where round(x/scale) is within [−127, 127], 0 outside",
        bool(torch.equal(x.grad, inside)),
        f"{int(inside.sum().item())} of {x.numel()} positions pass the gradient",
    )


if __name__ == "__main__":
    main(run, __doc__)
