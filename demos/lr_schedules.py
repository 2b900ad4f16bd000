"""Learning-rate schedules: torch.optim.lr_scheduler against the closed forms, and the linear scaling rule

Every schedule is PyTorch's own scheduler driving a real optimizer; the
learning rate the optimizer holds before each step is compared with the
formula, step by step.

- StepLR(step_size=30, gamma=0.1) and MultiStepLR([30, 60, 80]) (Goyal et al.'s
  ResNet-50 schedule): lr = base·gamma^(number of milestones passed).
- CosineAnnealingLR(T_max): η_min + ½(η_max − η_min)(1 + cos(πt/T_max)); half
  the base at T_max/2, η_min at T_max, and past T_max it climbs back up.
  CosineAnnealingWarmRestarts(T_0=10, T_mult=2) jumps back to the base lr at
  epochs 10, 30 and 70 (SGDR's warm restarts, periods 10, 20, 40).
- OneCycleLR(max_lr, total_steps) with its defaults: starts at max_lr/25, peaks
  at step 0.3·total − 1, ends at max_lr/25/10⁴, cosine in both phases; momentum
  goes the other way, 0.95 → 0.85 → 0.95 (for Adam, beta1 is cycled).
- Warmup: LinearLR(start_factor=1/32, total_iters) is Goyal et al.'s gradual
  warmup from 0.1 to 3.2; SequentialLR(LinearLR, CosineAnnealingLR) gives
  warmup then cosine. Calling scheduler.step() before optimizer.step() skips the
  first lr of the schedule (PyTorch warns).
- Linear scaling rule on a least-squares problem: one step on a batch of k·n
  with lr k·η moves the weights almost as far as k steps of n with lr η; with
  lr η it moves k times less, with √k·η √k times less. The rule has a ceiling:
  past 2/λ_max the big-batch step diverges while the small steps converge.
- LARS and LAMB (reference implementations of their update rules): the ratio
  ‖w‖/‖∇L‖ differs between layers, so one global lr moves some layers far more,
  relative to their weights, than others; LARS's local lr η‖w‖/(‖∇L‖ + β‖w‖)
  and LAMB's ‖w‖/‖r‖ scaling give every layer the same relative step.
"""

import math
import warnings

from quizcnn.proofkit import Proof, main

BASE = 0.1


def run(proof: Proof) -> None:
    curves = {}
    curves["step"] = step_decay(proof)
    curves["cosine"] = cosine(proof)
    warm_restarts(proof)
    curves["one-cycle"] = one_cycle(proof)
    curves["warmup + cosine"] = warmup(proof)
    step_order(proof)
    linear_scaling(proof)
    layerwise_trust_ratios(proof)
    shown = list(range(0, 100, 5))
    proof.plot(
        "Learning rate before each step, 100 steps, base / max lr 0.1",
        "step",
        "learning rate",
        shown,
        {name: [curve[t] for t in shown] for name, curve in curves.items()},
    )


def optimizer(proof: Proof, lr: float = BASE, **options):
    torch = proof.torch
    p = torch.nn.Parameter(torch.zeros(1, device=proof.device, dtype=proof.float64))
    return torch.optim.SGD([p], lr=lr, **options)


def lrs(opt, scheduler, steps: int) -> list[float]:
    """The lr each optimizer.step() uses, stepping the scheduler after it (the right order)."""
    seen = []
    for t in range(steps):
        seen.append(float(opt.param_groups[0]["lr"]))
        opt.step()
        if t < steps - 1:
            scheduler.step()
    return seen


def max_gap(measured: list[float], expected: list[float]) -> float:
    return max(abs(m - e) for m, e in zip(measured, expected, strict=True))


def step_decay(proof: Proof) -> list[float]:
    sched = proof.torch.optim.lr_scheduler
    opt = optimizer(proof)
    step = lrs(opt, sched.StepLR(opt, step_size=30, gamma=0.1), 100)
    proof.close(
        "steplr_closed_form",
        "StepLR(step_size=30, gamma=0.1), 100 epochs: max |lr − 0.1·0.1^⌊t/30⌋|",
        max_gap(step, [BASE * 0.1 ** (t // 30) for t in range(100)]),
        0.0,
        1e-15,
    )
    opt = optimizer(proof)
    multi = lrs(opt, sched.MultiStepLR(opt, milestones=[30, 60, 80], gamma=0.1), 90)
    passed = [sum(t >= m for m in (30, 60, 80)) for t in range(90)]
    proof.close(
        "multisteplr_closed_form",
        "MultiStepLR([30, 60, 80]), 90 epochs: max |lr − 0.1·0.1^(milestones passed)|",
        max_gap(multi, [BASE * 0.1**k for k in passed]),
        0.0,
        1e-15,
    )
    proof.close("multisteplr_last", "MultiStepLR: lr in epoch 89", multi[89], 1e-4, 1e-15)
    return step


def cosine_closed(t: float, t_max: float, eta_max: float = BASE, eta_min: float = 0.0) -> float:
    """SGDR's schedule within one period: η_min + ½(η_max − η_min)(1 + cos(π t / T))."""
    return eta_min + 0.5 * (eta_max - eta_min) * (1 + math.cos(math.pi * t / t_max))


def cosine(proof: Proof) -> list[float]:
    sched = proof.torch.optim.lr_scheduler
    opt = optimizer(proof)
    seen = lrs(opt, sched.CosineAnnealingLR(opt, T_max=100, eta_min=1e-3), 201)
    proof.close(
        "cosine_closed_form",
        "CosineAnnealingLR(T_max=100, eta_min=1e-3), t = 0..100: max |lr − closed form|",
        max_gap(seen[:101], [cosine_closed(t, 100, eta_min=1e-3) for t in range(101)]),
        0.0,
        1e-12,
    )
    proof.close(
        "cosine_half_way",
        "lr at t = T_max/2 = 50 (expected (η_max + η_min)/2)",
        seen[50],
        (BASE + 1e-3) / 2,
        1e-12,
    )
    proof.close(
        "cosine_at_tmax", "lr at t = T_max = 100 (expected eta_min)", seen[100], 1e-3, 1e-12
    )
    proof.close(
        "cosine_past_tmax_climbs",
        "stepping on past T_max: lr at t = 150 (the cosine's second half-period, going up)",
        seen[150],
        (BASE + 1e-3) / 2,
        1e-9,
    )
    proof.close("cosine_back_at_base", "lr at t = 200 = 2·T_max", seen[200], BASE, 1e-9)
    proof.table(
        "CosineAnnealingLR(T_max=100, eta_min=1e-3) from 0.1",
        ["t", "lr (torch)", "closed form"],
        [
            [t, f"{seen[t]:.6f}", f"{cosine_closed(t, 100, eta_min=1e-3):.6f}"]
            for t in (0, 25, 50, 75, 99, 100, 125, 150, 200)
        ],
    )
    opt = optimizer(proof)
    return lrs(opt, sched.CosineAnnealingLR(opt, T_max=100), 100)


def warm_restarts(proof: Proof) -> None:
    sched = proof.torch.optim.lr_scheduler
    opt = optimizer(proof)
    seen = lrs(opt, sched.CosineAnnealingWarmRestarts(opt, T_0=10, T_mult=2), 75)
    expected, start, period = [], 0, 10
    for t in range(75):
        if t - start == period:
            start, period = t, period * 2
        expected.append(cosine_closed(t - start, period))
    proof.close(
        "warm_restarts_closed_form",
        "CosineAnnealingWarmRestarts(T_0=10, T_mult=2), 75 epochs: max |lr − closed form|",
        max_gap(seen, expected),
        0.0,
        1e-12,
    )
    restarts = [t for t in range(1, 75) if seen[t] > seen[t - 1]]
    proof.holds(
        "warm_restart_epochs",
        "the lr jumps back up exactly at epochs 10, 30 and 70",
        restarts == [10, 30, 70],
        detail=f"jumps at {restarts}",
    )


def one_cycle(proof: Proof) -> list[float]:
    torch = proof.torch
    sched = torch.optim.lr_scheduler
    total, max_lr = 100, 1.0
    opt = optimizer(proof, momentum=0.9)
    scheduler = sched.OneCycleLR(opt, max_lr=max_lr, total_steps=total)
    lr_seen, mom_seen = [], []
    for t in range(total):
        lr_seen.append(opt.param_groups[0]["lr"])
        mom_seen.append(opt.param_groups[0]["momentum"])
        opt.step()
        if t < total - 1:
            scheduler.step()
    initial, final = max_lr / 25, max_lr / 25 / 1e4
    peak = 0.3 * total - 1  # end of phase 1, a step index

    def cos_anneal(start, end, pct):
        return end + (start - end) / 2 * (1 + math.cos(math.pi * pct))

    def closed(t, a, b, c):
        if t <= peak:
            return cos_anneal(a, b, t / peak)
        return cos_anneal(b, c, (t - peak) / (total - 1 - peak))

    proof.close(
        "onecycle_closed_form",
        "OneCycleLR(max_lr=1, total_steps=100), defaults: max |lr − two cosine phases|",
        max_gap(lr_seen, [closed(t, initial, max_lr, final) for t in range(total)]),
        0.0,
        1e-12,
    )
    proof.close(
        "onecycle_first_lr", "first lr = max_lr / div_factor (25)", lr_seen[0], initial, 1e-12
    )
    proof.holds(
        "onecycle_peak_at_29",
        "the largest lr (= max_lr) is used at step 29 = 0.3·100 − 1",
        lr_seen.index(max(lr_seen)) == 29 and abs(max(lr_seen) - max_lr) < 1e-12,
    )
    proof.close(
        "onecycle_last_lr",
        "last lr = max_lr / 25 / final_div_factor (1e4)",
        lr_seen[-1],
        final,
        1e-15,
    )
    proof.close(
        "onecycle_momentum_closed_form",
        "momentum: max |m − closed form| (0.95 → 0.85 at the lr peak → 0.95)",
        max_gap(mom_seen, [closed(t, 0.95, 0.85, 0.95) for t in range(total)]),
        0.0,
        1e-12,
    )
    proof.close(
        "onecycle_momentum_at_peak", "momentum at the lr peak (step 29)", mom_seen[29], 0.85, 1e-12
    )
    p = torch.nn.Parameter(torch.zeros(1, dtype=proof.float64, device=proof.device))
    adam = torch.optim.Adam([p], lr=1e-3)
    one = sched.OneCycleLR(adam, max_lr=1e-2, total_steps=total)
    for _ in range(29):  # to the lr peak
        adam.step()
        one.step()
    proof.close(
        "onecycle_cycles_adam_beta1",
        "OneCycleLR on Adam: beta1 at step 29 (cycled in place of momentum)",
        adam.param_groups[0]["betas"][0],
        0.85,
        1e-12,
    )
    opt = optimizer(proof, momentum=0.9)  # the curve to plot: the same policy at max_lr 0.1
    return lrs(opt, sched.OneCycleLR(opt, max_lr=BASE, total_steps=total), total)


def warmup(proof: Proof) -> list[float]:
    sched = proof.torch.optim.lr_scheduler
    # Goyal et al.: kn = 8192 = 32 × 256, so the target is 32 × 0.1 = 3.2, reached
    # linearly from 0.1 (the small-batch lr) over the warmup iterations.
    k, iters = 32, 50
    opt = optimizer(proof, lr=0.1 * k)
    seen = lrs(opt, sched.LinearLR(opt, start_factor=1 / k, total_iters=iters), 60)
    goyal = [0.1 + (0.1 * k - 0.1) * min(i, iters) / iters for i in range(60)]
    proof.close(
        "linear_warmup_is_goyal",
        "LinearLR(start_factor=1/32, total_iters=50) on lr 3.2 vs 0.1 + 3.1·i/50: max difference",
        max_gap(seen, goyal),
        0.0,
        1e-12,
    )
    proof.close(
        "warmup_starts_at_small_lr", "first warmup lr (the batch-256 lr)", seen[0], 0.1, 1e-12
    )
    proof.close("warmup_reaches_target", "lr at iteration 50 and after", seen[55], 3.2, 1e-12)

    w, total = 5, 100
    opt = optimizer(proof)
    chained = sched.SequentialLR(
        opt,
        [
            sched.LinearLR(opt, start_factor=0.1, total_iters=w),
            sched.CosineAnnealingLR(opt, T_max=total - w),
        ],
        milestones=[w],
    )
    seen = lrs(opt, chained, total)
    expected = [
        BASE * (0.1 + 0.9 * t / w) if t < w else cosine_closed(t - w, total - w)
        for t in range(total)
    ]
    proof.close(
        "warmup_then_cosine",
        "SequentialLR(LinearLR(0.1, 5 iters), CosineAnnealingLR(95)), milestone 5: max |lr − closed form|",
        max_gap(seen, expected),
        0.0,
        1e-12,
    )
    return seen


def step_order(proof: Proof) -> None:
    sched = proof.torch.optim.lr_scheduler
    used, warned = {}, False
    for order in ("optimizer first", "scheduler first"):
        opt = optimizer(proof)
        scheduler = sched.StepLR(opt, step_size=1, gamma=0.5)
        used[order] = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(3):
                if order == "scheduler first":
                    scheduler.step()
                used[order].append(opt.param_groups[0]["lr"])
                opt.step()
                if order == "optimizer first":
                    scheduler.step()
        if order == "scheduler first":
            warned = any("before `optimizer.step()`" in str(w.message) for w in caught)
    proof.close(
        "first_step_uses_base_lr",
        "StepLR(gamma=0.5), optimizer.step() then scheduler.step(): lr of the first update",
        used["optimizer first"][0],
        BASE,
        1e-15,
    )
    proof.close(
        "wrong_order_skips_first_lr",
        "scheduler.step() before optimizer.step(): lr of the first update (0.1 was skipped)",
        used["scheduler first"][0],
        BASE / 2,
        1e-15,
    )
    proof.holds("wrong_order_warns", "PyTorch warns about the order", warned)


def linear_scaling(proof: Proof) -> None:
    torch = proof.torch
    proof.reseed(3)
    k, n, d = 8, 32, 5
    x = torch.randn(k * n, d, device=proof.device, dtype=proof.float64)
    y = x @ torch.randn(d, device=proof.device, dtype=proof.float64) + 0.1 * torch.randn(
        k * n, device=proof.device, dtype=proof.float64
    )
    w0 = torch.zeros(d, device=proof.device, dtype=proof.float64)

    def loss(w, rows=slice(None)):
        return 0.5 * ((x[rows] @ w - y[rows]) ** 2).mean()

    def sgd(lr, batches):
        w = torch.nn.Parameter(w0.clone())
        opt = torch.optim.SGD([w], lr=lr)
        for rows in batches:
            opt.zero_grad()
            loss(w, rows).backward()
            opt.step()
        return w.detach()

    small = [slice(j * n, (j + 1) * n) for j in range(k)]
    eta = 0.01
    w_small = sgd(eta, small)
    moved = (w_small - w0).norm()
    w_linear, w_same, w_sqrt = (
        sgd(k * eta, [slice(None)]),
        sgd(eta, [slice(None)]),
        sgd(math.sqrt(k) * eta, [slice(None)]),
    )
    proof.below(
        "linear_rule_matches_k_small_steps",
        "1 step of 256 with lr 8η vs 8 steps of 32 with lr η: ‖difference‖ / ‖distance moved‖",
        (w_linear - w_small).norm() / moved,
        0.1,
    )
    proof.close(
        "unscaled_moves_k_times_less",
        "1 step of 256 with lr η: distance moved / the 8 small steps' (≈ 1/8)",
        (w_same - w0).norm() / moved,
        1 / k,
        0.02,
    )
    proof.close(
        "sqrt_rule_moves_sqrt_k_less",
        "1 step of 256 with lr √8·η: distance moved / the 8 small steps' (≈ 1/√8)",
        (w_sqrt - w0).norm() / moved,
        1 / math.sqrt(k),
        0.05,
    )
    lam_max = torch.linalg.eigvalsh(x.T @ x / (k * n)).max().item()
    eta_big = 1.6 / lam_max  # fine for a small batch, but 8η is past 2/λ_max
    start = loss(w0).item()
    big_batch = loss(sgd(k * eta_big, [slice(None)])).item()
    small_steps = loss(sgd(eta_big, small)).item()
    proof.above(
        "linear_rule_ceiling",
        "lr 8η beyond 2/λ_max: loss after the single big-batch step / the starting loss",
        big_batch / start,
        1.0,
    )
    proof.below(
        "small_steps_still_fine",
        "the same data as 8 steps of 32 with lr η: loss / the starting loss",
        small_steps / start,
        0.5,
    )
    proof.table(
        "Goyal et al.'s reference lr 0.1·kn/256 (§5.1) and the warmup start",
        ["batch kn", "k", "lr 0.1·kn/256", "warmup starts at"],
        [
            [kn, kn // 256, f"{0.1 * kn / 256:g}", "0.1" if kn > 256 else "-"]
            for kn in (256, 1024, 8192, 32768)
        ],
    )


def lars_local_lr(w_norm: float, g_norm: float, eta: float, beta: float) -> float:
    """You et al. 2017, Eq. 6 with weight decay (Alg. 1): λ = η‖w‖ / (‖∇L‖ + β‖w‖)."""
    return eta * w_norm / (g_norm + beta * w_norm)


def layerwise_trust_ratios(proof: Proof) -> None:
    torch = proof.torch
    proof.reseed(5)
    net = torch.nn.Sequential(
        torch.nn.Linear(32, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 10),
    ).to(proof.device, proof.float64)
    x = torch.randn(256, 32, device=proof.device, dtype=proof.float64)
    y = torch.randint(0, 10, (256,), device=proof.device)
    torch.nn.functional.cross_entropy(net(x), y).backward()
    lr, eta = 1.0, 1e-3
    rows, sgd_rel, lars_rel, lamb_rel = [], [], [], []
    for name, p in net.named_parameters():
        if not name.endswith("weight"):
            continue
        w, g = p.detach(), p.grad
        wn, gn = w.norm().item(), g.norm().item()
        sgd_step = lr * eta * g  # one global lr for every layer
        lars_step = lr * lars_local_lr(wn, gn, eta, 0.0) * g
        r = g / (g.abs() + 1e-8)  # LAMB's Adam direction at step 1: m̂/(√v̂ + ε) = sign(g)
        lamb_lr = 1e-3
        lamb_step = lamb_lr * (wn / r.norm().item()) * r  # trust ratio ‖w‖/‖r‖
        sgd_rel.append(sgd_step.norm().item() / wn)
        lars_rel.append(lars_step.norm().item() / wn)
        lamb_rel.append(lamb_step.norm().item() / wn)
        rows.append(
            [
                name,
                f"{wn:.3f}",
                f"{gn:.4f}",
                f"{wn / gn:.1f}",
                f"{sgd_rel[-1]:.2e}",
                f"{lars_rel[-1]:.2e}",
                f"{lamb_rel[-1]:.2e}",
            ]
        )
    proof.above(
        "trust_ratios_differ",
        "‖w‖/‖∇L‖ across the 3 weight matrices of an MLP: largest / smallest",
        max(float(r[3]) for r in rows) / min(float(r[3]) for r in rows),
        2.0,
    )
    proof.close(
        "lars_equal_relative_steps",
        "LARS (β = 0): ‖Δw‖/‖w‖ of every layer vs lr·η (largest relative deviation)",
        max(abs(v / (lr * eta) - 1) for v in lars_rel),
        0.0,
        1e-12,
    )
    proof.close(
        "lamb_equal_relative_steps",
        "LAMB (first step, no decay, lr 0.001): ‖Δw‖/‖w‖ of every layer vs 0.001 (largest relative deviation)",
        max(abs(v / 1e-3 - 1) for v in lamb_rel),
        0.0,
        1e-12,
    )
    proof.close(
        "lars_local_lr_example",
        "LARS local lr for ‖w‖ = 5, ‖∇L‖ = 0.1, η = 0.001, β = 5e-4: η‖w‖/(‖∇L‖ + β‖w‖)",
        lars_local_lr(5.0, 0.1, 1e-3, 5e-4),
        0.005 / 0.1025,
        1e-15,
    )
    proof.table(
        "One gradient of an MLP: per-layer norms and relative step ‖Δw‖/‖w‖ (LARS: lr 1, η = 0.001; LAMB: lr 0.001)",
        ["layer", "‖w‖", "‖∇L‖", "‖w‖/‖∇L‖", "SGD, lr 0.001", "LARS", "LAMB"],
        rows,
    )


if __name__ == "__main__":
    main(run, __doc__)
