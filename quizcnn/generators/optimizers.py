"""Generators of the optimizers topic: Adam's first steps, a scheduled lr, the linear scaling rule.

The formulas follow torch.optim.Adam / AdamW (Kingma & Ba 2015, Alg. 1; the
decoupled decay of AdamW multiplies θ by 1 − lr·λ), torch.optim.lr_scheduler's
CosineAnnealingLR / LinearLR / SequentialLR, and Goyal et al. 2017 (§2.1, §2.2,
§5.1). tests/test_proofs_optimizers.py checks every draw against torch.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from quizcnn.generators.drawn import Drawn

EPS = 1e-8  # torch.optim.Adam's default eps

# -- the formulas ---------------------------------------------------------------------


def adam_theta(
    theta: float,
    grads: list[float],
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    weight_decay: float = 0.0,
    decoupled: bool = False,
    eps: float = EPS,
) -> float:
    """θ after len(grads) Adam steps on one parameter.

    m_t = β1 m + (1 − β1) g, v_t = β2 v + (1 − β2) g², θ ← θ − lr·m̂/(√v̂ + eps) with
    m̂ = m/(1 − β1^t), v̂ = v/(1 − β2^t). weight_decay adds λθ to g (Adam's L2) or,
    decoupled (AdamW), multiplies θ by (1 − lr·λ) before the step.
    """
    b1, b2 = betas
    m = v = 0.0
    for t, g in enumerate(grads, start=1):
        if decoupled:
            theta *= 1 - lr * weight_decay
        elif weight_decay:
            g = g + weight_decay * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        theta -= lr * (m / (1 - b1**t)) / (math.sqrt(v / (1 - b2**t)) + eps)
    return theta


def cosine_lr(t: int, t_max: int, base_lr: float, eta_min: float = 0.0) -> float:
    """CosineAnnealingLR's closed form: η_min + ½(η_max − η_min)(1 + cos(π t / T_max))."""
    return eta_min + 0.5 * (base_lr - eta_min) * (1 + math.cos(math.pi * t / t_max))


def warmup_cosine_lr(t: int, warmup: int, total: int, base_lr: float, start_factor: float) -> float:
    """SequentialLR(LinearLR(start_factor, warmup), CosineAnnealingLR(total − warmup)), milestone warmup."""
    if t < warmup:
        return base_lr * (start_factor + (1 - start_factor) * t / warmup)
    return cosine_lr(t - warmup, total - warmup, base_lr)


def linear_scaled_lr(base_lr: float, base_batch: int, batch: int) -> float:
    """Goyal et al.'s linear scaling rule: multiply the batch by k, multiply the lr by k."""
    return base_lr * batch / base_batch


def gradual_warmup_lr(i: int, warmup_iters: int, small_lr: float, target_lr: float) -> float:
    """Goyal et al. §2.2: from the small-batch lr, a constant increment per iteration to k·η."""
    return small_lr + (target_lr - small_lr) * min(i, warmup_iters) / warmup_iters


# -- the generators ---------------------------------------------------------------------


def _num(x: float) -> str:
    return f"{x:g}"


def _minus_lr_sign(theta: float, lr: float, g: float) -> str:
    """θ − lr·sign(g), written out with the sign resolved: '1 − 0.1' or '1 + 0.1'."""
    return f"{_num(theta)} {'−' if g > 0 else '+'} {_num(lr)}"


def _adam_update(rng: random.Random) -> Drawn:
    lr = rng.choice([0.1, 0.05, 0.01])
    theta0 = rng.choice([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 3.0])
    variant = rng.choice(["two_steps", "two_steps", "adamw", "l2"])
    tol = 0.01 * lr
    if variant == "two_steps":
        b1, b2 = rng.choice([(0.9, 0.999), (0.9, 0.99), (0.8, 0.999), (0.5, 0.9)])
        g1 = rng.choice([-3.0, -2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 4.0])
        g2 = rng.choice([-4.0, -2.0, -1.0, 0.5, 1.0, 2.0, 3.0])
        value = adam_theta(theta0, [g1, g2], lr, (b1, b2))
        m_hat = (b1 * g1 + g2) / (1 + b1)
        v_hat = (b2 * g1**2 + g2**2) / (1 + b2)
        step2 = lr * m_hat / math.sqrt(v_hat)
        question = (
            f"A single parameter θ = {_num(theta0)} is trained with "
            f"torch.optim.Adam(lr={_num(lr)}, betas=({_num(b1)}, {_num(b2)})). Its first two "
            f"gradients are g1 = {_num(g1)} and g2 = {_num(g2)}. What is θ after the second step "
            "(eps = 1e-8 is negligible)?"
        )
        working = (
            f"step 1: m̂ = g1, v̂ = g1², so θ1 = θ0 − lr·sign(g1) = {_minus_lr_sign(theta0, lr, g1)} "
            f"= {theta0 - lr * math.copysign(1, g1):.6g}; "
            f"step 2: m̂2 = (β1·g1 + g2)/(1 + β1) = {m_hat:.6g}, "
            f"v̂2 = (β2·g1² + g2²)/(1 + β2) = {v_hat:.6g}, "
            f"step = lr·m̂2/√v̂2 = {step2:.6g}; θ2 = {value:.6g}"
        )
    elif variant == "adamw":
        wd = rng.choice([0.05, 0.1, 0.5])
        g1 = rng.choice([-2.0, -0.5, -0.01, 0.01, 0.3, 1.0, 5.0])
        value = adam_theta(theta0, [g1], lr, weight_decay=wd, decoupled=True)
        question = (
            f"A single parameter θ = {_num(theta0)} is trained with "
            f"torch.optim.AdamW(lr={_num(lr)}, weight_decay={_num(wd)}). Its first gradient is "
            f"g1 = {_num(g1)}. What is θ after the first step?"
        )
        decayed = theta0 * (1 - lr * wd)
        working = (
            f"AdamW first shrinks θ: θ·(1 − lr·λ) = ({_num(theta0)})·(1 − "
            f"{_num(lr)}·{_num(wd)}) = {decayed:.6g}; then the Adam step on g1 alone, "
            f"lr·g1/(|g1| + eps) ≈ lr·sign(g1) = {_num(lr * math.copysign(1, g1))}; "
            f"θ1 = {decayed:.6g} {'−' if g1 > 0 else '+'} {_num(lr)} = {value:.6g}"
        )
    else:
        wd = rng.choice([0.1, 0.5, 1.0])
        g1 = rng.choice([-1.0, -0.2, -0.05, 0.05, 0.2, 1.0])
        if abs(g1 + wd * theta0) < 0.01:  # keep clear of eps and of a zero gradient
            g1 = -g1
        value = adam_theta(theta0, [g1], lr, weight_decay=wd)
        g_eff = g1 + wd * theta0
        question = (
            f"A single parameter θ = {_num(theta0)} is trained with "
            f"torch.optim.Adam(lr={_num(lr)}, weight_decay={_num(wd)}). Its first loss gradient is "
            f"g1 = {_num(g1)}. What is θ after the first step?"
        )
        working = (
            f"Adam's weight_decay is an L2 term added to the gradient: g = g1 + λθ = {_num(g1)} + "
            f"{_num(wd)}·({_num(theta0)}) = {g_eff:.6g}; the first Adam step is lr·sign(g) whatever "
            f"its size, so θ1 = {_minus_lr_sign(theta0, lr, g_eff)} = {value:.6g}"
        )
    return Drawn(question, value, tol, None, working)


def _cosine_lr(rng: random.Random) -> Drawn:
    base = rng.choice([0.1, 0.05, 0.01, 0.001, 0.4])
    if rng.random() < 0.6:
        t_max = rng.choice([10, 20, 50, 90, 100, 200])
        eta_min = rng.choice([0.0, 0.0, base / 100, base / 10])
        t = rng.randrange(1, t_max)
        value = cosine_lr(t, t_max, base, eta_min)
        question = (
            f"An optimizer with lr = {_num(base)} is wrapped in "
            f"CosineAnnealingLR(optimizer, T_max={t_max}, eta_min={_num(eta_min)}), and "
            "scheduler.step() is called once after every epoch. What lr does epoch "
            f"{t} use (epochs counted from 0)?"
        )
        working = (
            f"η_t = η_min + ½(η_max − η_min)(1 + cos(π t/T_max)) = {_num(eta_min)} + "
            f"½·({_num(base)} − {_num(eta_min)})·(1 + cos(π·{t}/{t_max})) = {value:.6g}"
        )
    else:
        warmup = rng.choice([2, 5, 10])
        total = rng.choice([50, 100, 200])
        start = rng.choice([0.01, 0.1, 0.25])
        t = rng.randrange(0, total)
        value = warmup_cosine_lr(t, warmup, total, base, start)
        question = (
            f"An optimizer with lr = {_num(base)} is scheduled by SequentialLR(optimizer, "
            f"[LinearLR(optimizer, start_factor={_num(start)}, total_iters={warmup}), "
            f"CosineAnnealingLR(optimizer, T_max={total - warmup})], milestones=[{warmup}]), "
            "stepped once after every optimizer step. What lr does step "
            f"{t} use (steps counted from 0)?"
        )
        if t < warmup:
            working = (
                f"warmup: lr·(s + (1 − s)·t/w) = {_num(base)}·({_num(start)} + "
                f"(1 − {_num(start)})·{t}/{warmup}) = {value:.6g}"
            )
        else:
            working = (
                f"cosine phase, T_cur = t − {warmup} = {t - warmup}: ½·{_num(base)}·(1 + "
                f"cos(π·{t - warmup}/{total - warmup})) = {value:.6g}"
            )
    tol = max(0.01 * value, 1e-4 * base)
    return Drawn(question, value, tol, None, working)


def _linear_scaling_lr(rng: random.Random) -> Drawn:
    if rng.random() < 0.5:
        base_lr, base_batch = rng.choice([(0.1, 256), (0.2, 512), (0.05, 128), (0.4, 1024)])
        batch = rng.choice([b for b in (64, 128, 512, 1024, 2048, 4096, 8192) if b != base_batch])
        value = linear_scaled_lr(base_lr, base_batch, batch)
        question = (
            f"A ResNet recipe trains with SGD at lr {_num(base_lr)} for batch size {base_batch}. "
            f"By the linear scaling rule, what lr should batch size {batch} use?"
        )
        working = f"k = {batch}/{base_batch} = {batch / base_batch:g}; lr = k·{_num(base_lr)} = {value:.6g}"
    else:
        batch = rng.choice([1024, 2048, 4096, 8192])
        epochs = rng.choice([2, 5])
        per_epoch = 1_281_167 // batch  # ImageNet-1k training images per iteration of the batch
        total = epochs * per_epoch
        i = rng.randrange(0, total)
        target = linear_scaled_lr(0.1, 256, batch)
        value = gradual_warmup_lr(i, total, 0.1, target)
        question = (
            f"Following Goyal et al., ResNet-50 trains with batch {batch} (reference: lr 0.1 for "
            f"batch 256) and warms up linearly from 0.1 to the scaled lr over {epochs} epochs of "
            f"{per_epoch} iterations. What lr does iteration {i} use (counted from 0)?"
        )
        working = (
            f"target k·η = {batch}/256·0.1 = {target:g}; warmup adds (target − 0.1)/{total} per "
            f"iteration: 0.1 + ({target:g} − 0.1)·{i}/{total} = {value:.6g}"
        )
    return Drawn(question, value, 0.005 * value, None, working)


GENERATORS: dict[str, Callable[[random.Random], Drawn]] = {
    "adam_update": _adam_update,
    "cosine_lr": _cosine_lr,
    "linear_scaling_lr": _linear_scaling_lr,
}
