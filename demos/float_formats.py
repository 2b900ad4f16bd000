"""Floating-point formats: fp16, bf16, fp32, TF32 — range, precision and what breaks

What torch.finfo reports, checked against the bit layout worked by hand, and the
failures each limit causes, measured:

- A format with e exponent bits and m stored mantissa bits has machine epsilon
  2^-m, largest finite value (2 - 2^-m) * 2^emax with emax = 2^(e-1) - 1, and
  smallest normal 2^(1 - emax); below that, subnormals reach down to
  2^(1 - emax - m). fp16 is 1/5/10 (eps 2^-10, max 65504, smallest normal
  6.1e-5, smallest subnormal 6.0e-8), bf16 1/8/7 (eps 2^-7, max 3.39e38),
  fp32 1/8/23 (eps 2^-23, max 3.40e38). bf16 is the top half of an fp32.
- fp16 overflows early: 65519 rounds to 65504, 65520 becomes inf, 1e5 is inf;
  bf16 holds 1e5 and 1e-8, at the price of 3 fewer mantissa bits (its rounding
  error is 8x fp16's: 10000 is exact in fp16 and becomes 9984 in bf16).
- Above 2048 the fp16 spacing is 2, so 2048 + 1 = 2048: a running sum of ones
  kept in fp16 stalls at 2048. torch.sum of the same fp16 tensor is exact, and
  on 256, 0.1, 256, 0.1, ... it returns the exact sum rounded once, which a sum
  carried out in fp16, even pairwise, misses: its kernel accumulates wider than
  fp16 (in fp32, by PyTorch's source; the docs do not promise it). Kahan's
  compensated sum recovers the 3000 even with every variable in fp16.
- Subtracting nearly equal numbers cancels the correct digits: E[x^2] - E[x]^2
  in fp32 for data with mean 1e4 and variance 1 is garbage (here negative);
  torch.var, which centres on the mean, is right.
- TF32 keeps fp32's 8 exponent bits and 10 of its 23 mantissa bits; emulated by
  rounding away the low 13 bits, its input error equals fp16's (same mantissa)
  while its range stays fp32's.
"""

import math

from quizcnn.proofkit import Proof, main

# (name, exponent bits, stored mantissa bits) by the IEEE 754 / bfloat16 layouts
LAYOUTS = [("float16", 5, 10), ("bfloat16", 8, 7), ("float32", 8, 23), ("float64", 11, 52)]


def run(proof: Proof) -> None:
    finfo_matches_layout(proof)
    bf16_is_top_half_of_fp32(proof)
    overflow_and_underflow(proof)
    summation_stalls(proof)
    rounding_error(proof)
    cancellation(proof)
    tf32_emulated(proof)


def by_hand(exponent_bits: int, mantissa_bits: int) -> dict[str, float]:
    """The limits of a binary format from its layout alone."""
    emax = 2 ** (exponent_bits - 1) - 1  # the exponent bias; all-ones is kept for inf/NaN
    return {
        "eps": 2.0**-mantissa_bits,  # gap between 1 and the next number
        "max": (2 - 2.0**-mantissa_bits) * 2.0**emax,  # all mantissa bits set, top exponent
        "tiny": 2.0 ** (1 - emax),  # smallest normal (implicit leading 1)
        "subnormal": 2.0 ** (1 - emax - mantissa_bits),  # smallest subnormal (one last bit)
    }


def finfo_matches_layout(proof: Proof) -> None:
    torch = proof.torch
    rows = []
    for name, e, m in LAYOUTS:
        dtype = getattr(torch, name)
        info = torch.finfo(dtype)
        hand = by_hand(e, m)
        short = {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32", "float64": "fp64"}[name]
        rows.append([name, f"1/{e}/{m}", info.bits, info.eps, hand["eps"], info.max, info.tiny])
        proof.close(
            f"eps_{short}", f"torch.finfo({name}).eps vs 2^-{m}", info.eps, hand["eps"], 0.0
        )
        if name != "float64":
            proof.close(
                f"max_{short}",
                f"torch.finfo({name}).max vs (2 - 2^-{m}) * 2^{2 ** (e - 1) - 1}",
                info.max,
                hand["max"],
                1e-12,
                rel=True,
            )
        if name == "float16":
            proof.close(
                "tiny_fp16",
                "torch.finfo(float16).tiny (smallest NORMAL) vs 2^-14",
                info.tiny,
                hand["tiny"],
                0.0,
            )
            zero = torch.zeros((), dtype=dtype, device=proof.device)
            up = torch.nextafter(zero, torch.ones_like(zero))
            proof.close(
                "subnormal_fp16",
                "smallest positive float16 (nextafter(0, 1), a subnormal) vs 2^-24",
                up.float(),
                hand["subnormal"],
                0.0,
            )
        proof.holds(
            f"bits_add_up_{short}",
            f"{name}: 1 sign + {e} exponent + {m} mantissa bits = finfo.bits = {info.bits}",
            1 + e + m == info.bits,
        )
    proof.table(
        "torch.finfo against the bit layout (sign/exponent/mantissa)",
        ["dtype", "layout", "bits", "eps", "2^-m", "max", "smallest normal"],
        rows,
    )


def bf16_is_top_half_of_fp32(proof: Proof) -> None:
    torch, dev = proof.torch, proof.device
    proof.reseed(1)
    x = torch.randn(1000, device=dev).bfloat16()  # values exactly representable in bf16
    fp32_bits = x.float().view(torch.int32)
    bf16_bits = x.view(torch.int16).to(torch.int32)
    proof.holds(
        "bf16_is_fp32_top_half",
        "for 1000 bf16 values, the 16 bf16 bits equal the upper 16 bits of the fp32 encoding",
        bool(torch.equal(bf16_bits, fp32_bits >> 16)),
    )
    one_fp16 = torch.ones((), dtype=torch.float16, device=dev).view(torch.int16).item()
    proof.close(
        "fp16_one_bits",
        "bit pattern of float16 1.0: sign 0, exponent 15 (the bias), mantissa 0 = 0x3C00",
        one_fp16,
        0x3C00,
        0.0,
    )


def overflow_and_underflow(proof: Proof) -> None:
    torch, dev = proof.torch, proof.device
    values = [65504.0, 65519.0, 65520.0, 1e5, 1e-4, 1e-8, 2.0**-26]
    x = torch.tensor(values, device=dev)  # fp32
    h, b = x.half(), x.bfloat16()
    proof.table(
        "The same fp32 values cast to fp16 and bf16",
        ["fp32 value", "as float16", "as bfloat16"],
        [[v, h[i].item(), b[i].item()] for i, v in enumerate(values)],
    )
    proof.close(
        "fp16_65519_rounds_down",
        "float16(65519): rounds to the largest finite value 65504",
        h[1].float(),
        65504.0,
        0.0,
    )
    proof.holds(
        "fp16_65520_is_inf",
        "float16(65520) is inf: halfway to 65536, which is past the top, rounds to overflow",
        math.isinf(h[2].item()),
    )
    proof.holds(
        "fp16_1e5_inf_bf16_finite",
        "1e5 overflows to inf in float16 and stays finite in bfloat16",
        math.isinf(h[3].item()) and math.isfinite(b[3].item()),
    )
    proof.holds(
        "fp16_1e8_zero_bf16_not",
        "1e-8 underflows to 0 in float16 (below half of 2^-24) and is kept by bfloat16",
        h[5].item() == 0.0 and b[5].item() > 0.0,
    )
    proof.close(
        "fp16_1e4_subnormal_error",
        "float16(1e-4) is normal: relative error below 2^-11",
        abs(h[4].item() - 1e-4) / 1e-4,
        0.0,
        2.0**-11,
    )


def summation_stalls(proof: Proof) -> None:
    torch, dev = proof.torch, proof.device
    half = torch.float16
    big = torch.tensor(2048.0, dtype=half, device=dev)
    one = torch.ones((), dtype=half, device=dev)
    proof.close("fp16_2048_plus_1", "float16: 2048 + 1", (big + one).float(), 2048.0, 0.0)
    proof.close(
        "fp16_spacing_2048",
        "float16 spacing just above 2048 (nextafter(2048, inf) - 2048)",
        (torch.nextafter(big, big * 2) - big).float(),
        2.0,
        0.0,
    )
    n = 3000
    naive = torch.zeros((), dtype=half, device=dev)
    kahan, comp = torch.zeros((), dtype=half, device=dev), torch.zeros((), dtype=half, device=dev)
    for _ in range(n):
        naive = naive + one  # the running total itself is fp16
        y = one - comp  # Kahan: add back what the last addition lost
        t = kahan + y
        comp = (t - kahan) - y
        kahan = t
    proof.close(
        "fp16_running_sum_stalls",
        f"a running sum of {n} ones kept in float16",
        naive.float(),
        2048.0,
        0.0,
    )
    proof.close(
        "torch_sum_fp16_exact",
        f"torch.sum of {n} float16 ones",
        torch.ones(n, dtype=half, device=dev).sum().float(),
        float(n),
        0.0,
    )
    proof.close(
        "kahan_fp16_exact",
        f"Kahan compensated sum of {n} ones, every variable float16",
        kahan.float(),
        float(n),
        0.0,
    )
    # Ones cannot tell an fp32 accumulator from a pairwise sum done in fp16 (both
    # give 3000). 256 and 0.1 in turn can: in fp16, 256 + 0.1 rounds back to 256
    # (spacing 0.25 there), so an fp16 pairwise sum loses every 0.1, while a wide
    # accumulator returns the exact sum 25609.998 rounded once to fp16: 25616.
    pairs = torch.tensor([256.0, 0.1] * 100, device=dev).half()
    once = pairs.double().sum().half()  # the exact sum, rounded to fp16 once
    tree = pairs
    while tree.numel() > 1:  # pairwise sums, each rounded to fp16
        if tree.numel() % 2:
            tree = torch.cat([tree, tree.new_zeros(1)])
        tree = tree[0::2] + tree[1::2]
    proof.holds(
        "torch_sum_fp16_rounds_once",
        "torch.sum of (256, 0.1) × 100 in float16 is the exact sum rounded once (25616); "
        "a pairwise sum carried out in float16 gives 25600",
        bool(pairs.sum() == once) and once.item() == 25616.0 and tree[0].item() == 25600.0,
        f"exact {pairs.double().sum().item():.4f}, torch.sum {pairs.sum().item()}, "
        f"fp16 pairwise {tree[0].item()}",
    )


def rounding_error(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    proof.reseed(2)
    x = (1 + torch.rand(20_000, device=dev, dtype=f64)).float()  # uniform in [1, 2)
    ref = x.to(f64)
    err16 = ((x.half().to(f64) - ref).abs() / ref).max().item()
    err_bf = ((x.bfloat16().to(f64) - ref).abs() / ref).max().item()
    proof.below(
        "fp16_rel_err_near_1",
        "largest relative rounding error of float16 on [1, 2): at most 2^-11 (half of eps)",
        err16,
        2.0**-11 * (1 + 1e-9),
    )
    proof.below(
        "bf16_rel_err_near_1",
        "largest relative rounding error of bfloat16 on [1, 2): at most 2^-8 (half of eps)",
        err_bf,
        2.0**-8 * (1 + 1e-9),
    )
    proof.close(
        "bf16_over_fp16_error",
        "bfloat16 / float16 worst rounding error on [1, 2): 2^3 (three fewer mantissa bits)",
        err_bf / err16,
        8.0,
        0.5,
    )
    near = torch.tensor([10000.0, 10001.0, 10030.0], device=dev)
    proof.close("fp16_10000", "float16(10000): exact", near.half()[0].float(), 10000.0, 0.0)
    proof.close(
        "bf16_10000",
        "bfloat16(10000): spacing is 64 between 8192 and 16384, nearest is 9984",
        near.bfloat16()[0].float(),
        9984.0,
        0.0,
    )
    proof.table(
        "Rounding near 1 and near 1e4",
        ["quantity", "float16", "bfloat16"],
        [
            ["worst relative error on [1, 2)", err16, err_bf],
            ["half of eps", 2.0**-11, 2.0**-8],
            ["spacing in [8192, 16384)", 2.0 ** (13 - 10), 2.0 ** (13 - 7)],
            ["x = 10000", near.half()[0].item(), near.bfloat16()[0].item()],
            ["x = 10001", near.half()[1].item(), near.bfloat16()[1].item()],
            ["x = 10030", near.half()[2].item(), near.bfloat16()[2].item()],
        ],
    )


def cancellation(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    proof.reseed(3)
    x = (1e4 + torch.randn(10_000, device=dev, dtype=f64)).float()  # mean 1e4, variance ~1
    true_var = x.to(f64).var(unbiased=False).item()
    naive = ((x * x).mean() - x.mean() ** 2).item()  # E[x^2] - E[x]^2, in fp32
    two_pass = x.var(unbiased=False).item()  # subtracts the mean first
    proof.above(
        "naive_variance_wrong",
        "fp32 E[x^2] - E[x]^2 for mean 1e4, variance 1: relative error",
        abs(naive - true_var) / true_var,
        0.5,
    )
    proof.below(
        "two_pass_variance_right",
        "fp32 torch.var (a stable, mean-centred algorithm): relative error",
        abs(two_pass - true_var) / true_var,
        1e-3,
    )
    proof.table(
        "Variance of 10,000 fp32 values with mean 1e4 and variance about 1",
        ["method", "result"],
        [
            ["float64 reference", true_var],
            ["fp32 E[x^2] - E[x]^2", naive],
            ["fp32 torch.var", two_pass],
        ],
    )


def tf32_round(x, torch):
    """Round an fp32 tensor to TF32 (1/8/10): nearest, by adding half of the dropped part."""
    bits = x.view(torch.int32)
    return ((bits + 0x1000) & ~0x1FFF).view(torch.float32)  # keep 10 of the 23 mantissa bits


def tf32_truncate(x, torch):
    return (x.view(torch.int32) & ~0x1FFF).view(torch.float32)  # low 13 mantissa bits zeroed


def tf32_emulated(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    proof.reseed(4)
    x = torch.randn(20_000, device=dev)
    ref = x.to(f64)
    rel = lambda y: ((y.to(f64) - ref).abs() / ref.abs()).max().item()  # noqa: E731
    proof.below(
        "tf32_truncate_error",
        "TF32 by zeroing fp32's low 13 mantissa bits: worst relative error, below 2^-10",
        rel(tf32_truncate(x, torch)),
        2.0**-10,
    )
    proof.below(
        "tf32_round_error",
        "TF32 rounded to nearest: worst relative error, at most 2^-11 (as fp16)",
        rel(tf32_round(x, torch)),
        2.0**-11 * (1 + 1e-6),
    )
    huge = torch.tensor([1e30, 1e-30], device=dev)
    proof.holds(
        "tf32_keeps_fp32_range",
        "1e30 and 1e-30 survive TF32 rounding (fp32's exponent) but not float16",
        bool(torch.isfinite(tf32_round(huge, torch)).all())
        and bool((tf32_round(huge, torch) != 0).all())
        and math.isinf(huge.half()[0].item())
        and huge.half()[1].item() == 0.0,
    )
    # a matmul: inputs rounded, products accumulated in fp32, as TF32 tensor cores do
    a, b = torch.randn(128, 256, device=dev), torch.randn(256, 128, device=dev)
    exact = a.to(f64) @ b.to(f64)
    scale = exact.abs().mean()
    errors = {
        "fp32": ((a @ b).to(f64) - exact).abs().max() / scale,
        "TF32 inputs": ((tf32_round(a, torch) @ tf32_round(b, torch)).to(f64) - exact).abs().max()
        / scale,
        "fp16 inputs": ((a.half().float() @ b.half().float()).to(f64) - exact).abs().max() / scale,
        "bf16 inputs": ((a.bfloat16().float() @ b.bfloat16().float()).to(f64) - exact).abs().max()
        / scale,
    }
    proof.table(
        "A 128x256 @ 256x128 matmul, fp32 accumulation: max error / mean |result|",
        ["inputs", "relative error"],
        [[k, v.item()] for k, v in errors.items()],
    )
    proof.close(
        "tf32_matches_fp16_inputs",
        "matmul error with TF32-rounded inputs / with fp16-rounded inputs (same 10-bit mantissa)",
        errors["TF32 inputs"] / errors["fp16 inputs"],
        1.0,
        0.5,
    )
    proof.above(
        "tf32_much_worse_than_fp32",
        "matmul error with TF32 inputs / full fp32",
        errors["TF32 inputs"] / errors["fp32"],
        30.0,
    )


if __name__ == "__main__":
    main(run, __doc__)
