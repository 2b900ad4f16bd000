"""Generators of the regularizers topic: label smoothing, CutMix, stochastic depth, dropout before BN.

The formulas, each written once here (tests recompute them independently, with torch
where it has the real thing):

- label smoothing in PyTorch's convention: q_true = 1 − ε + ε/K, q_other = ε/K;
- the optimal logit gap under label smoothing: z_true − z_other = ln(q_true / q_other);
- CutMix's exact λ (official code): side = int(W·√(1 − λ)), box [c − side//2, c + side//2)
  clipped to [0, W) on each axis, λ_exact = 1 − box area / (W·H);
- stochastic depth, linear decay: p_l = 1 − (l/L)(1 − p_L), E[active blocks] = Σ_l p_l
  = L − (1 − p_L)(L + 1)/2;
- dropout's training-mode variance for inputs of mean c, variance v, drop probability p:
  (c² + v)/(1 − p) − c² (Li et al. 2019).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from quizcnn.generators.drawn import Drawn

# -- the formulas ------------------------------------------------------------------


def smoothed_targets(classes: int, eps: float) -> tuple[float, float]:
    """(true-class target, each other class's target) of CrossEntropyLoss(label_smoothing=eps)."""
    return 1 - eps + eps / classes, eps / classes


def smoothing_logit_gap(classes: int, eps: float) -> float:
    """z_true − z_other at the minimum of cross-entropy against the smoothed target."""
    true, other = smoothed_targets(classes, eps)
    return math.log(true / other)


def cutmix_box(size: int, lam: float, cx: int, cy: int) -> tuple[int, int, int, int]:
    """The official CutMix box (x1, y1, x2, y2) on a size×size image, clipped to the image."""
    cut = int(size * math.sqrt(1 - lam))
    half = cut // 2

    def clip(v: int) -> int:
        return min(max(v, 0), size)

    return clip(cx - half), clip(cy - half), clip(cx + half), clip(cy + half)


def cutmix_exact_lambda(size: int, lam: float, cx: int, cy: int) -> float:
    x1, y1, x2, y2 = cutmix_box(size, lam, cx, cy)
    return 1 - (x2 - x1) * (y2 - y1) / (size * size)


def expected_active_blocks(blocks: int, p_last: float) -> float:
    """Σ_{l=1..L} (1 − (l/L)(1 − p_L)) = L − (1 − p_L)(L + 1)/2."""
    return blocks - (1 - p_last) * (blocks + 1) / 2


def dropout_train_variance(mean: float, var: float, p: float) -> float:
    """Var(m·x/(1 − p)), m ~ Bernoulli(1 − p): (c² + v)/(1 − p) − c²."""
    return (mean * mean + var) / (1 - p) - mean * mean


# -- the generators -----------------------------------------------------------------


def _label_smoothed_target(rng: random.Random) -> Drawn:
    classes = rng.choice([2, 3, 5, 10, 10, 100, 1000])
    eps = rng.choice([0.05, 0.1, 0.1, 0.2, 0.3])
    true, other = smoothed_targets(classes, eps)
    if rng.random() < 0.5:
        value, slip = true, 1 - eps
        which = "the true class"
        working = f"1 − ε + ε/K = 1 − {eps} + {eps}/{classes} = {true:.6g}"
        mistake = (
            f"1 − ε = {slip:.6g} forgets that the uniform share ε/K also goes to the true class"
        )
    else:
        value, slip = other, eps / (classes - 1) if classes > 1 else eps
        which = "each of the other classes"
        working = f"ε/K = {eps}/{classes} = {other:.6g}"
        mistake = (
            f"ε/(K − 1) = {slip:.6g} is a different convention (some codebases), not PyTorch's"
        )
    question = (
        f"Give the exact value: nn.CrossEntropyLoss(label_smoothing={eps}) on a {classes}-class "
        f"problem with class-index targets; what target probability does it train {which} "
        "towards?"
    )
    tolerance = abs(value - slip) / 4
    return Drawn(question, round(value, 12), tolerance, None, f"{working}; {mistake}")


def _label_smoothing_logit_gap(rng: random.Random) -> Drawn:
    classes = rng.choice([3, 5, 10, 10, 100, 1000])
    eps = rng.choice([0.05, 0.1, 0.1, 0.2, 0.3])
    true, other = smoothed_targets(classes, eps)
    gap = smoothing_logit_gap(classes, eps)
    question = (
        f"To 2 decimals: A {classes}-class classifier is trained with label smoothing ε = {eps} "
        "(PyTorch's convention, ε/K to every class). At the minimum of one sample's loss, what "
        "is the gap z_true − z_other between the true class's logit and any other logit?"
    )
    working = (
        f"the optimum puts softmax = q, so z_true − z_other = ln(q_true/q_other) = "
        f"ln({true:.6g}/{other:.6g}) = {gap:.4f}; without smoothing there is no finite optimum"
    )
    return Drawn(question, gap, 0.01, None, working)


def _cutmix_lambda(rng: random.Random) -> Drawn:
    size = rng.choice([32, 32, 64, 224])
    lam = rng.choice([0.19, 0.36, 0.5, 0.51, 0.64, 0.75, 0.84, 0.91])
    cut = int(size * math.sqrt(1 - lam))
    if rng.random() < 0.5:  # a centre near a border, so the box gets clipped
        cx = rng.choice([rng.randrange(0, cut // 2 + 1), rng.randrange(size - cut // 2 - 1, size)])
    else:
        cx = rng.randrange(0, size)
    cy = rng.randrange(0, size)
    x1, y1, x2, y2 = cutmix_box(size, lam, cx, cy)
    value = cutmix_exact_lambda(size, lam, cx, cy)
    question = (
        f"CutMix on {size}x{size} images draws λ = {lam}. The official code cuts a square of side "
        f"int({size}·√(1 − λ)) = {cut}, centred at (x, y) = ({cx}, {cy}), from x1 = x − {cut // 2} "
        f"to x2 = x + {cut // 2} (likewise in y), clipped to [0, {size}], pastes it from the "
        "other image, then recomputes λ from the box. To 3 decimals, what λ weights the first "
        "image's label?"
    )
    working = (
        f"box x [{x1}, {x2}), y [{y1}, {y2}): area {(x2 - x1)}·{(y2 - y1)} = {(x2 - x1) * (y2 - y1)}; "
        f"λ = 1 − area/(W·H) = 1 − {(x2 - x1) * (y2 - y1)}/{size * size} = {value:.4f}"
        + ("" if abs(value - lam) < 1e-9 else f" (the drawn λ = {lam} would mislabel the mix)")
    )
    return Drawn(question, value, 0.001, None, working)


def _stochastic_depth_expected_depth(rng: random.Random) -> Drawn:
    blocks = rng.choice([8, 16, 18, 27, 54, 54, 100, 200])
    p_last = rng.choice([0.5, 0.5, 0.5, 0.2, 0.8, 0.9])
    value = expected_active_blocks(blocks, p_last)
    question = (
        f"A residual network with L = {blocks} residual blocks is trained with stochastic depth, "
        f"survival probability decaying linearly from 1 (input) to p_L = {p_last} at the last block, "
        "p_l = 1 − (l/L)(1 − p_L). To 2 decimals, what is the expected number of active blocks "
        "in a training step?"
    )
    working = (
        f"Σ_{{l=1..L}} p_l = L − (1 − p_L)(L + 1)/2 = {blocks} − {1 - p_last:.2g}·{blocks + 1}/2 "
        f"= {value:.2f}" + (" = (3L − 1)/4" if p_last == 0.5 else "")
    )
    return Drawn(question, value, 0.01, "blocks", working)


def _dropout_bn_variance(rng: random.Random) -> Drawn:
    mean = rng.choice([0.0, 0.0, 0.5, 1.0, 1.0, 2.0])
    var = rng.choice([0.25, 0.5, 1.0, 1.0, 2.0, 4.0])
    p = rng.choice([0.1, 0.2, 0.3, 0.5, 0.5])
    value = dropout_train_variance(mean, var, p)
    question = (
        f"A unit has mean {mean} and variance {var}. It passes through nn.Dropout(p={p}) and then "
        f"a BatchNorm layer; at test time the variance reaching BN is {var}. To 3 decimals, what "
        "variance does BN's running_var converge to in training?"
    )
    working = (
        f"(c² + v)/(1 − p) − c² = ({mean}² + {var})/{1 - p:.2g} − {mean}² = {value:.4f}; "
        f"BN then divides eval inputs by √{value:.4g} instead of √{var}"
    )
    return Drawn(question, value, 0.001, None, working)


GENERATORS: dict[str, Callable[[random.Random], Drawn]] = {
    "label_smoothed_target": _label_smoothed_target,
    "label_smoothing_logit_gap": _label_smoothing_logit_gap,
    "cutmix_lambda": _cutmix_lambda,
    "stochastic_depth_expected_depth": _stochastic_depth_expected_depth,
    "dropout_bn_variance": _dropout_bn_variance,
}
