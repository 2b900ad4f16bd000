"""Loss scaling and mixed precision: why fp16 gradients vanish and how GradScaler saves them

Mixed precision training (Micikevicius et al. 2018) runs the forward and backward
passes in fp16 and keeps three things in fp32: the master weights, the loss
scale and the accumulations. Each piece is measured here:

- a gradient of 1e-8 cast to fp16 becomes exactly 0 (below half of 2^-24, the
  smallest subnormal); one of 1e-7 survives as a subnormal, 19% off. Multiplied
  by 2^16 first and divided back in fp32, both come out within 2^-11;
- in a real fp16 backward pass whose gradients are ~1e-8, every weight gradient
  is 0 without scaling and none is with a scale of 2^16 (kept in fp32: 65536
  itself overflows fp16);
- an fp16 weight of 1.0 ignores an update of 1e-4 (less than half its spacing
  2^-10), so 1000 such steps change nothing; an fp32 master copy moves to 1.1;
- torch.amp.GradScaler (here on the CPU) starts at 2^16, halves the scale and
  skips the optimizer step when a gradient is inf/NaN, and doubles it after
  growth_interval clean steps (default 2000): its trajectory equals the rule
  written out by hand;
- torch.autocast on the CPU runs a matmul in bfloat16 (its output dtype) with
  an error thousands of times fp32's, while mse_loss is autocast to float32;
  bf16 has fp32's exponent, so 1e-8 needs no scaling at all.
"""

import math

from quizcnn.proofkit import Proof, main

SCALE = 2.0**16


class SGD:
    """Plain SGD with the two things GradScaler uses: param_groups and step().

    torch.optim.SGD would do, but constructing a torch.optim optimizer imports
    torch._dynamo (about 1.5 s on one core), more than this proof's budget.
    """

    def __init__(self, params, lr):
        self.param_groups = [{"params": list(params), "lr": lr}]

    def step(self):
        import torch

        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p -= group["lr"] * p.grad


class ReferenceScaler:
    """The dynamic loss-scaling rule as the GradScaler documentation states it."""

    def __init__(self, init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5, interval=2000):
        self.scale, self.growth, self.backoff, self.interval = (
            init_scale,
            growth_factor,
            backoff_factor,
            interval,
        )
        self.clean_steps = 0

    def update(self, found_inf: bool) -> bool:
        """Returns whether the optimizer step is taken."""
        if found_inf:
            self.scale *= self.backoff  # overflow: skip the step, shrink the scale
            self.clean_steps = 0
            return False
        self.clean_steps += 1
        if self.clean_steps == self.interval:  # a run of clean steps: try a larger scale
            self.scale *= self.growth
            self.clean_steps = 0
        return True


def run(proof: Proof) -> None:
    casting_small_gradients(proof)
    fp16_backward(proof)
    master_weights(proof)
    grad_scaler(proof)
    autocast_bf16(proof)


def casting_small_gradients(proof: Proof) -> None:
    torch, dev = proof.torch, proof.device
    g = torch.tensor([1e-8, 1e-7, 1e-5], device=dev)  # fp32 gradients
    plain = g.half()
    scaled = (g * SCALE).half()  # scale in fp32, then cast
    unscaled = scaled.float() / SCALE  # unscale in fp32
    rel_plain = ((plain.float() - g).abs() / g).tolist()
    rel_scaled = ((unscaled - g).abs() / g).tolist()
    proof.holds(
        "fp16_underflows_1e8", "float16(1e-8) is exactly 0: the gradient is lost", plain[0] == 0
    )
    proof.close(
        "fp16_subnormal_1e7",
        "float16(1e-7) is a subnormal, 2 steps of 2^-24: relative error",
        rel_plain[1],
        abs(2 * 2.0**-24 - 1e-7) / 1e-7,
        1e-6,
    )
    proof.below(
        "scaled_1e8_survives",
        "1e-8 scaled by 2^16, cast to float16, unscaled in fp32: relative error",
        rel_scaled[0],
        2.0**-11,
    )
    proof.below(
        "scaled_1e7_survives",
        "1e-7 scaled by 2^16 the same way: relative error",
        rel_scaled[1],
        2.0**-11,
    )
    proof.holds(
        "scale_itself_overflows_fp16",
        "2^16 = 65536 is inf in float16 (max 65504): the scale must live in fp32",
        math.isinf(torch.tensor(SCALE, device=dev).half().item()),
    )
    proof.table(
        "fp32 gradients cast to float16, without and with a loss scale of 2^16",
        ["gradient", "float16(g)", "rel. error", "float16(g * 2^16) / 2^16", "rel. error"],
        [
            [g[i].item(), plain[i].item(), rel_plain[i], unscaled[i].item(), rel_scaled[i]]
            for i in range(3)
        ],
    )


def fp16_backward(proof: Proof) -> None:
    torch, dev = proof.torch, proof.device
    proof.reseed(1)
    x = torch.randn(64, 32, device=dev)
    w0 = torch.randn(32, 1, device=dev) * 0.1
    y = torch.randn(64, 1, device=dev)

    def weight_grad(dtype, scale):
        w = w0.clone().to(dtype).requires_grad_(True)
        out = x.to(dtype) @ w  # forward matmul in `dtype`
        # the loss in fp32 (autocast does this for mse_loss); a small loss, small gradients
        loss = ((out.float() - y) ** 2).mean() * 1e-7
        (loss * scale).backward()  # the gradient is cast to `dtype` at out.float()
        return w.grad.float() / scale  # unscale in fp32

    g32 = weight_grad(torch.float32, 1.0)
    g16 = weight_grad(torch.float16, 1.0)
    g16s = weight_grad(torch.float16, SCALE)
    proof.holds(
        "fp32_grads_are_small",
        "the fp32 weight gradients are tiny but nonzero (all between 1e-12 and 1e-6)",
        bool((g32.abs() > 1e-12).all() and (g32.abs() < 1e-6).all()),
        f"|g| from {g32.abs().min().item():.2e} to {g32.abs().max().item():.2e}",
    )
    proof.close(
        "fp16_grads_all_zero",
        "fp16 backward without scaling: fraction of weight gradients that are exactly 0",
        (g16 == 0).float().mean(),
        1.0,
        0.0,
    )
    proof.close(
        "scaled_grads_none_zero",
        "fp16 backward with loss scale 2^16: fraction of weight gradients that are 0",
        (g16s == 0).float().mean(),
        0.0,
        0.0,
    )
    proof.below(
        "scaled_grads_accurate",
        "fp16 backward with loss scale 2^16: largest relative error against fp32",
        ((g16s - g32).abs() / g32.abs()).max(),
        0.01,
    )


def master_weights(proof: Proof) -> None:
    torch, dev = proof.torch, proof.device
    update = torch.tensor(1e-4, device=dev)  # lr * gradient, computed in fp32
    w16 = torch.ones((), dtype=torch.float16, device=dev)
    w32 = torch.ones((), device=dev)
    for _ in range(1000):
        w16 = w16 + update.half()  # weights kept only in fp16
        w32 = w32 + update  # an fp32 master copy
    proof.close(
        "fp16_weight_never_moves",
        "fp16 weight 1.0 after 1000 updates of +1e-4",
        w16.float(),
        1.0,
        0.0,
    )
    proof.close(
        "fp32_master_moves",
        "fp32 master weight 1.0 after the same 1000 updates",
        w32,
        1.1,
        1e-4,
    )
    one = torch.ones((), dtype=torch.float16, device=dev)
    proof.holds(
        "fp16_update_ratio_2048",
        "float16: 1 + 2^-12 == 1 (update 4096x smaller than the weight) but 1 + 2^-10 != 1",
        (one + 2.0**-12).item() == 1.0 and (one + 2.0**-10).item() != 1.0,
    )


def make_scaler(proof: Proof, **kwargs):
    torch = proof.torch
    try:
        return torch.amp.GradScaler(proof.device.type, **kwargs)
    except Exception:  # a device torch.amp.GradScaler does not support
        return None


def grad_scaler(proof: Proof) -> None:
    torch, dev = proof.torch, proof.device
    defaults = make_scaler(proof)
    ref = ReferenceScaler()
    if defaults is not None:
        got = (
            defaults.get_scale(),
            defaults.get_growth_factor(),
            defaults.get_backoff_factor(),
            defaults.get_growth_interval(),
        )
    else:  # emulate the documented defaults
        got = (ref.scale, ref.growth, ref.backoff, ref.interval)
    for key, value, expected in zip(
        ["init_scale", "growth_factor", "backoff_factor", "growth_interval"],
        got,
        [2.0**16, 2.0, 0.5, 2000],
        strict=True,
    ):
        proof.close(f"default_{key}", f"GradScaler default {key}", value, expected, 0.0)

    # Overflows (True) and clean steps, with a short growth interval to see the scale grow.
    pattern = [True, False, False, False, False, True] + [False] * 6 + [True, True] + [False] * 3
    interval = 3
    scaler = make_scaler(proof, growth_interval=interval)
    ref = ReferenceScaler(interval=interval)
    w = torch.nn.Parameter(torch.ones(4, device=dev))
    opt = SGD([w], lr=0.1)
    rows, same, skipped_unchanged, taken_correct = [], True, True, True
    for step, found_inf in enumerate(pattern):
        w.grad = None
        loss = (w * torch.arange(1.0, 5.0, device=dev)).sum()  # gradient 1, 2, 3, 4
        before = w.detach().clone()
        if scaler is not None:
            scaler.scale(loss).backward()
            if found_inf:
                w.grad[0] = float("inf")  # an overflow in the scaled backward pass
            scaler.step(opt)
            scaler.update()
            scale = scaler.get_scale()
        else:
            (loss * ref.scale).backward()
        taken = ref.update(found_inf)
        if scaler is None:
            scale = ref.scale
            if taken:
                w.grad /= SCALE  # emulated unscale before the step
                opt.step()
        moved = (w.detach() - before).abs().max().item()
        same &= scale == ref.scale
        if taken:
            expected = before - 0.1 * torch.arange(1.0, 5.0, device=dev)
            taken_correct &= bool(torch.allclose(w.detach(), expected, atol=1e-6))
        else:
            skipped_unchanged &= moved == 0.0
        rows.append([step, "inf" if found_inf else "finite", scale, ref.scale, moved > 0])
    proof.table(
        f"GradScaler(growth_interval={interval}) vs the documented rule",
        ["step", "gradient", "GradScaler scale", "rule's scale", "parameters moved"],
        rows,
    )
    proof.close(
        "backoff_on_inf",
        "scale after the first step, whose gradient had an inf (2^16 * 0.5)",
        rows[0][2],
        2.0**15,
        0.0,
    )
    proof.close(
        "growth_after_interval",
        f"scale after {interval} clean steps that follow it (2^15 * 2)",
        rows[3][2],
        2.0**16,
        0.0,
    )
    proof.holds(
        "inf_step_skipped", "on every inf step the parameters stay unchanged", skipped_unchanged
    )
    proof.holds(
        "clean_step_unscaled",
        "on every clean step the update is lr * the UNSCALED gradient",
        taken_correct,
    )
    proof.holds(
        "scaler_matches_rule",
        f"the scale follows the documented rule over all {len(pattern)} steps",
        same,
    )


def autocast_bf16(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    proof.reseed(3)
    a, b = torch.randn(128, 256, device=dev), torch.randn(256, 64, device=dev)
    exact = a.to(f64) @ b.to(f64)
    with torch.autocast(device_type=dev.type, dtype=torch.bfloat16):
        c = a @ b  # matmul is on the lower-precision list
        loss = torch.nn.functional.mse_loss(c, torch.zeros_like(c))  # on the fp32 list
    fp32 = a @ b
    scale = exact.abs().mean()
    err_bf = ((c.to(f64) - exact).abs().max() / scale).item()
    err_32 = ((fp32.to(f64) - exact).abs().max() / scale).item()
    proof.holds(
        "autocast_matmul_bf16",
        "inside autocast, a @ b of fp32 tensors is bfloat16",
        c.dtype == torch.bfloat16,
    )
    proof.holds(
        "autocast_mse_fp32",
        "inside autocast, mse_loss returns float32 even for a bfloat16 input",
        loss.dtype == torch.float32,
    )
    proof.holds(
        "cpu_autocast_default_bf16",
        "torch.get_autocast_dtype('cpu') is bfloat16 (CUDA's default is float16)",
        torch.get_autocast_dtype("cpu") == torch.bfloat16,
    )
    proof.above(
        "bf16_matmul_error_vs_fp32",
        "autocast bf16 matmul error / fp32 matmul error (max error / mean |result|)",
        err_bf / err_32,
        100.0,
    )
    proof.below(
        "bf16_matmul_error", "autocast bf16 matmul: max error / mean |result|", err_bf, 0.05
    )
    tiny = torch.tensor([1e-8, 1e-20], device=dev)
    proof.below(
        "bf16_no_underflow",
        "bfloat16 keeps 1e-8 and 1e-20 without any scaling: worst relative error (< 2^-8)",
        ((tiny.bfloat16().float() - tiny).abs() / tiny).max(),
        2.0**-8,
    )
    proof.table(
        "A 128x256 @ 256x64 matmul: error against float64",
        ["how", "output dtype", "max error / mean |result|"],
        [["autocast (bfloat16)", str(c.dtype), err_bf], ["plain fp32", str(fp32.dtype), err_32]],
    )


if __name__ == "__main__":
    main(run, __doc__)
