"""Generators of the transfer topic: int8 codes, soft targets, pruning counts, ULMFiT rates.

The formulas, each written once here (tests recompute them independently, with torch
where it has the real thing):

- symmetric int8 quantization with a calibrated range max|x| = M: scale = M/127,
  q = clamp(round(x/scale), −127, 127) with ties to even (torch.quantize_per_tensor),
  dequantized x̂ = q·scale, error |x − x̂| ≤ scale/2 inside the range;
- distillation soft targets: p_i = exp(z_i/T) / Σ_j exp(z_j/T);
- torch.nn.utils.prune with a float amount a prunes round(a·r) of the r weights still
  unpruned (Python's round, halves to even), so each call leaves r − round(a·r);
- ULMFiT discriminative fine-tuning: η^(l−1) = η^l/2.6, so d layers below the top
  η = η_top/2.6^d.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from quizcnn.generators.drawn import Drawn

INT8_MAX = 127
ULMFIT_FACTOR = 2.6

# -- the formulas ------------------------------------------------------------------


def int8_scale(max_abs: float) -> float:
    """Symmetric per-tensor scale that maps max|x| to 127."""
    return max_abs / INT8_MAX


def int8_code(x: float, scale: float) -> int:
    """clamp(round(x/scale), −127, 127); Python's round, like torch, sends ties to even."""
    return max(-INT8_MAX, min(INT8_MAX, round(x / scale)))


def soft_targets(logits: list[float], temperature: float) -> list[float]:
    """softmax(z/T), computed stably."""
    scaled = [z / temperature for z in logits]
    top = max(scaled)
    exps = [math.exp(s - top) for s in scaled]
    total = sum(exps)
    return [e / total for e in exps]


def weights_left_after_pruning(count: int, amount: float, calls: int) -> list[int]:
    """Unpruned weights after each prune.l1_unstructured(amount=a) call: r − round(a·r)."""
    left, history = count, []
    for _ in range(calls):
        left -= round(amount * left)
        history.append(left)
    return history


def ulmfit_lr(top_lr: float, layers_below: int) -> float:
    """η^(l−1) = η^l / 2.6, applied layers_below times."""
    return top_lr / ULMFIT_FACTOR**layers_below


# -- the generators -----------------------------------------------------------------

_RANGES = [0.635, 1.27, 2.54, 3.81, 5.08, 6.35, 12.7, 1.0, 3.0, 4.0, 7.5]


def _int8_quantize(rng: random.Random) -> Drawn:
    max_abs = rng.choice(_RANGES)
    scale = int8_scale(max_abs)
    clipped = rng.random() < 0.15
    while True:
        if clipped:
            x = round(rng.choice([-1, 1]) * max_abs * rng.uniform(1.1, 1.6), 3)
        else:
            x = round(rng.uniform(-max_abs, max_abs), 3)
        ratio = x / scale
        # Stay clear of exact-looking ties, where float32 and float64 could round apart.
        if clipped or abs(abs(ratio - math.floor(ratio)) - 0.5) > 0.05:
            break
    q = int8_code(x, scale)
    x_hat = q * scale
    setup = (
        f"A tensor is quantized to int8 symmetrically, per tensor, with the range calibrated "
        f"to max|x| = {max_abs} (scale = max|x|/127, codes clamped to [−127, 127], zero-point 0)."
    )
    working = f"scale = {max_abs}/127 = {scale:.6g}; x/scale = {x}/{scale:.6g} = {ratio:.4f}"
    if clipped:
        working += f", outside ±127, so q is clamped to {q}"
    else:
        working += f", rounded to q = {q}"
    working += f"; dequantized x̂ = q·scale = {x_hat:.6g}, error |x − x̂| = {abs(x - x_hat):.4g}"
    if clipped:
        working += " (clipping error, far above scale/2)"
    else:
        working += f" ≤ scale/2 = {scale / 2:.4g}"
    if rng.random() < 0.6:
        question = f"{setup} Which int8 code q does x = {x} get?"
        return Drawn(question, float(q), 0.0, None, working)
    question = (
        f"{setup} What value does x = {x} come back as after quantize → dequantize (to 4 decimals)?"
    )
    return Drawn(question, x_hat, min(scale / 4, 0.0005), None, working)


def _distillation_soft_target(rng: random.Random) -> Drawn:
    classes = rng.choice([3, 3, 4])
    while True:
        logits = [float(rng.randint(-3, 7)) for _ in range(classes)]
        if len(set(logits)) == classes:
            break
    temperature = rng.choice([1, 2, 2, 3, 4, 5, 10])
    which = rng.randrange(classes)
    probs = soft_targets(logits, temperature)
    value = probs[which]
    z_text = ", ".join(f"{z:g}" for z in logits)
    question = (
        f"A teacher's logits for one example are z = [{z_text}]. With distillation temperature "
        f"T = {temperature}, what soft-target probability does class {which} (0-based) get "
        "(to 3 decimals)?"
    )
    scaled = ", ".join(f"{z / temperature:.4g}" for z in logits)
    working = (
        f"p_i = exp(z_i/T)/Σ_j exp(z_j/T); z/T = [{scaled}]; "
        f"p = [{', '.join(f'{p:.4f}' for p in probs)}], so p_{which} = {value:.4f}"
    )
    if temperature != 1:
        plain = soft_targets(logits, 1)[which]
        working += f" (at T = 1 it would be {plain:.4f}: the temperature flattens the targets)"
    return Drawn(question, value, 0.0015, None, working)


def _prunable_layer(rng: random.Random) -> tuple[str, int, str]:
    """A Linear or Conv2d layer: its constructor text, weight count and weight shape."""
    if rng.random() < 0.5:
        fan_in = rng.choice([64, 100, 128, 256, 300, 512, 784, 1000])
        fan_out = rng.choice([10, 32, 50, 64, 100, 128, 256])
        return f"nn.Linear({fan_in}, {fan_out})", fan_in * fan_out, f"{fan_out}×{fan_in}"
    c_in = rng.choice([3, 16, 32, 64, 96, 128])
    c_out = rng.choice([16, 32, 64, 128, 256])
    kernel = rng.choice([1, 3, 3, 5])
    layer = f"nn.Conv2d({c_in}, {c_out}, kernel_size={kernel})"
    return layer, c_out * c_in * kernel * kernel, f"{c_out}×{c_in}×{kernel}×{kernel}"


def _pruning_weights_left(rng: random.Random) -> Drawn:
    while True:
        layer, count, shape = _prunable_layer(rng)
        if count >= 1000:  # large enough that the usual slip is graded wrong
            break
    amount = rng.choice([0.2, 0.25, 0.3, 0.5, 0.5, 0.6, 0.75, 0.8, 0.9])
    calls = rng.choice([1, 2, 2, 3])
    history = weights_left_after_pruning(count, amount, calls)
    times = {1: "once", 2: "twice", 3: "three times"}[calls]
    question = (
        f"You call prune.l1_unstructured(layer, name='weight', amount={amount}) {times} on "
        f"{layer}. How many of its weights are still nonzero (the bias is not pruned)?"
    )
    steps, left = [], count
    for after in history:
        steps.append(f"{left} − round({amount}·{left}) = {after}")
        left = after
    working = (
        f"weight {shape} = {count} values; each call prunes the given share of the weights "
        f"still unpruned: " + "; ".join(steps)
    )
    if calls > 1:
        working += (
            f" (≈ {count}·(1 − {amount})^{calls}: the amount is a share of what is left, "
            f"not of the original {count})"
        )
    return Drawn(question, float(history[-1]), float(calls), "weights", working)


def _ulmfit_layer_lr(rng: random.Random) -> Drawn:
    top_lr = rng.choice([0.01, 0.004, 0.002, 0.001, 3e-4])
    depth = rng.randint(1, 5)
    value = ulmfit_lr(top_lr, depth)
    below = "layer" if depth == 1 else "layers"
    question = (
        f"Fine-tuning with ULMFiT's discriminative learning rates, the top layer uses "
        f"η = {top_lr:g}. What learning rate does the layer {depth} {below} below it get "
        "(within 1%)?"
    )
    working = (
        f"η^(l−1) = η^l/2.6 per layer down: {top_lr:g}/2.6^{depth} = {top_lr:g}/"
        f"{ULMFIT_FACTOR**depth:.4g} = {value:.4g}"
    )
    return Drawn(question, value, 0.01 * value, None, working)


GENERATORS: dict[str, Callable[[random.Random], Drawn]] = {
    "int8_quantize": _int8_quantize,
    "distillation_soft_target": _distillation_soft_target,
    "pruning_weights_left": _pruning_weights_left,
    "ulmfit_layer_lr": _ulmfit_layer_lr,
}
