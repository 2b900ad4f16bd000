"""Generators of the norm_family topic: BN folding and GroupNorm group sizes.

- ``fold_bn_channel``: one output channel of a conv followed by BatchNorm in eval
  mode folds into a conv with, for s = gamma / sqrt(running_var + eps),
  W' = s * W and b' = s * (b - running_mean) + beta (b = 0 for a conv without
  bias). The drawn running_var is written as (a nice square) - eps, so that
  sqrt(running_var + eps) can be done in the head.
- ``gn_group_values``: GroupNorm(G, C) on (N, C, H, W) normalizes each group of
  each sample over its C/G channels and all positions: (C/G) * H * W values
  share one mean and variance, whatever N is. G = 1 is LayerNorm over
  (C, H, W) and G = C is InstanceNorm (H * W values).

Pure Python; tests check both against torch (fuse_conv_bn_eval, nn.GroupNorm).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from quizcnn.generators.drawn import Drawn

EPS = 1e-5


# -- the formulas (also used by the tests) ----------------------------------------


def folded_weight(w: float, gamma: float, var: float, eps: float = EPS) -> float:
    """W' = gamma / sqrt(var + eps) * W, for one weight of the channel."""
    return gamma / math.sqrt(var + eps) * w


def folded_bias(
    b: float, gamma: float, beta: float, mean: float, var: float, eps: float = EPS
) -> float:
    """b' = gamma / sqrt(var + eps) * (b - mean) + beta."""
    return gamma / math.sqrt(var + eps) * (b - mean) + beta


def gn_values_per_group(channels: int, height: int, width: int, groups: int) -> int:
    """(C / G) * H * W: the values one GroupNorm mean and variance are taken over."""
    if channels % groups:
        raise ValueError(f"num_channels {channels} is not divisible by num_groups {groups}")
    return channels // groups * height * width


# -- the generators ---------------------------------------------------------------


def _fmt(value: float) -> str:
    """A drawn number as the question prints it (and as the answer uses it)."""
    return f"{value:g}"


def _term(value: float) -> str:
    """A number inside the working's arithmetic: negatives in parentheses."""
    return f"({value:g})" if value < 0 else f"{value:g}"


def _fold_bn_channel(rng: random.Random) -> Drawn:
    std = rng.choice([0.5, 1.0, 1.5, 2.0, 2.5, 4.0, 5.0])
    var = round(std * std - EPS, 8)  # running_var + eps is a perfect square
    gamma = rng.choice([0.5, 0.8, 1.2, 1.5, 2.0, 2.5, 3.0])
    beta = rng.choice([-1.0, -0.5, -0.2, 0.0, 0.1, 0.3, 0.5, 1.0])
    mean = rng.choice([-2.0, -1.0, -0.5, 0.4, 0.6, 1.0, 2.0, 3.0])
    w = rng.choice([-0.6, -0.3, 0.2, 0.4, 0.5, 0.8, 1.2])
    has_bias = rng.random() < 0.5
    b = rng.choice([-0.4, -0.1, 0.2, 0.3, 0.5]) if has_bias else 0.0
    ask_bias = rng.random() < 0.6
    conv = f"One output channel of a Conv2d has a weight {_fmt(w)} at some tap and " + (
        f"bias {_fmt(b)}" if has_bias else "no bias (bias=False)"
    )
    bn = (
        f"the BatchNorm2d after it (eval mode) has gamma = {_fmt(gamma)}, beta = {_fmt(beta)}, "
        f"running_mean = {_fmt(mean)}, running_var = {var:.5f}, eps = 1e-5"
    )
    s = gamma / math.sqrt(var + EPS)
    scale_text = (
        f"s = gamma/sqrt(running_var + eps) = {_fmt(gamma)}/sqrt({_fmt(std * std)}) = {s:.4g}"
    )
    if ask_bias:
        value = folded_bias(b, gamma, beta, mean, var)
        what = "the channel's bias"
        working = (
            f"{scale_text}; b' = s*(b - running_mean) + beta = {s:.4g}*({_term(b)} - {_term(mean)})"
            f" + {_term(beta)} = {value:.4g}"
        )
    else:
        value = folded_weight(w, gamma, var)
        what = "that weight"
        working = (
            f"{scale_text}; W' = s*W = {s:.4g}*{_term(w)} = {value:.4g} "
            "(the bias and mean only move the bias)"
        )
    question = (
        f"{conv}; {bn}. After folding BN into the conv for inference, what is {what}? "
        "Answer in two decimals."
    )
    return Drawn(question, value, 0.01, None, working)


def _gn_group_values(rng: random.Random) -> Drawn:
    n = rng.choice([1, 2, 4, 8, 16])
    c = rng.choice([32, 64, 96, 128, 256])
    h = rng.choice([7, 14, 28, 56])
    roll = rng.random()
    if roll < 0.15:
        g = 1  # LayerNorm over (C, H, W)
    elif roll < 0.3:
        g = c  # InstanceNorm
    else:
        g = rng.choice([d for d in (2, 4, 8, 16, 32) if c % d == 0])
    value = gn_values_per_group(c, h, h, g)
    question = (
        f"nn.GroupNorm({g}, {c}) is applied to a tensor of shape ({n}, {c}, {h}, {h}). "
        "Over how many values is each mean (and variance) computed?"
    )
    note = ""
    if g == 1:
        note = " (G = 1: LayerNorm over (C, H, W))"
    elif g == c:
        note = " (G = C: InstanceNorm, one channel per group)"
    working = (
        f"(C/G)*H*W = ({c}/{g})*{h}*{h} = {value}{note}; N = {n} does not enter: "
        f"GroupNorm never mixes samples, it computes N*G = {n * g} means"
    )
    return Drawn(question, float(value), 0.0, "values", working)


GENERATORS: dict[str, Callable[[random.Random], Drawn]] = {
    "fold_bn_channel": _fold_bn_channel,
    "gn_group_values": _gn_group_values,
}
