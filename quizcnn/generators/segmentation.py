"""Generators of the segmentation topic: transposed-conv sizes, skip-merge costs, dilated coverage.

The formulas follow PyTorch's documented shapes and parameter counts
(nn.ConvTranspose2d, nn.Conv2d); tests check every draw against real torch
layers (shapes, ``sum(p.numel())``) and against the gradient of one output of
a stack of dilated convs.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from quizcnn.generators.drawn import Drawn

# -- the formulas -----------------------------------------------------------------


def convtranspose_out(
    size: int,
    kernel: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    """nn.ConvTranspose2d: (H - 1) s - 2p + d (k - 1) + output_padding + 1."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def merge_conv_params(
    c_up: int, c_skip: int, c_out: int, merge: str, bias: bool, kernel: int = 3
) -> int:
    """Parameters of a decoder's skip merge plus the k x k conv after it.

    concat: the conv reads c_up + c_skip channels, the merge itself has none.
    add: the conv reads c_up channels; if c_skip != c_up a 1x1 conv with bias
    first projects the skip to c_up channels (c_skip * c_up + c_up parameters).
    """
    if merge == "concat":
        c_in, merge_params = c_up + c_skip, 0
    elif merge == "add":
        c_in = c_up
        merge_params = 0 if c_skip == c_up else c_skip * c_up + c_up
    else:
        raise ValueError(f"merge must be 'concat' or 'add', not {merge!r}")
    return merge_params + c_out * c_in * kernel * kernel + (c_out if bias else 0)


def dilated_offsets(rates: tuple[int, ...], kernel: int = 3) -> set[int]:
    """1-D input offsets that reach one output of stacked stride-1 dilated convs.

    Each layer adds {-r*(k-1)/2, ..., 0, ..., +r*(k-1)/2} in steps of r (odd k);
    the stack reaches the sumset. In 2-D the reached set is this set squared.
    """
    half = (kernel - 1) // 2
    reach = {0}
    for r in rates:
        reach = {o + r * t for o in reach for t in range(-half, half + 1)}
    return reach


# -- the generators ---------------------------------------------------------------


def _convtranspose_output_size(rng: random.Random) -> Drawn:
    while True:
        size = rng.choice([3, 4, 7, 8, 14, 16, 28, 32, 56])
        kernel = rng.choice([1, 2, 3, 3, 4, 4, 5, 7])
        stride = rng.choice([1, 2, 2, 2, 3, 4])
        dilation = rng.choice([1, 1, 1, 1, 2, 3])
        padding = rng.choice([0, 0, 1, 1, 2, 3])
        output_padding = rng.randrange(max(stride, dilation)) if rng.random() < 0.4 else 0
        # PyTorch needs output_padding < max(stride, dilation); keep padding within the kernel.
        if (
            padding <= dilation * (kernel - 1)
            and convtranspose_out(size, kernel, stride, padding, output_padding, dilation) >= 1
        ):
            break
    out = convtranspose_out(size, kernel, stride, padding, output_padding, dilation)
    layer = f"nn.ConvTranspose2d(64, 32, kernel_size={kernel}, stride={stride}, padding={padding}"
    if output_padding:
        layer += f", output_padding={output_padding}"
    if dilation > 1:
        layer += f", dilation={dilation}"
    layer += ")"
    question = f"A {size}x{size} input goes through {layer}. What is the output height?"
    working = (
        "(H - 1)*s - 2p + d*(k - 1) + output_padding + 1 = "
        f"({size} - 1)*{stride} - 2*{padding} + {dilation}*({kernel} - 1) + {output_padding} + 1"
        f" = {out}"
    )
    return Drawn(question, float(out), 0.0, None, working)


def _unet_skip_params(rng: random.Random) -> Drawn:
    c_up = rng.choice([32, 64, 128, 256, 512])
    c_skip = c_up if rng.random() < 0.6 else rng.choice([c_up // 2, c_up * 2])
    c_out = rng.choice([c_up, c_up, c_up // 2])
    merge = rng.choice(["concat", "add"])
    bias = rng.random() < 0.5
    value = merge_conv_params(c_up, c_skip, c_out, merge, bias)
    how = "concatenated along the channels" if merge == "concat" else "added element-wise"
    projection = ""
    if merge == "add" and c_skip != c_up:
        projection = (
            f" (the skip is first projected to {c_up} channels by a 1x1 conv with bias,"
            " which counts too)"
        )
    question = (
        f"A U-Net decoder stage upsamples to {c_up} channels; the encoder skip has {c_skip} "
        f"channels. The two are {how}{projection}, then go through nn.Conv2d(?, {c_out}, "
        f"kernel_size=3, bias={bias}). How many learnable parameters do the merge and that "
        "conv have together?"
    )
    bias_text = f" + {c_out} biases" if bias else ""
    if merge == "concat":
        working = (
            f"concat: the conv reads {c_up} + {c_skip} = {c_up + c_skip} channels; "
            f"{c_out}*{c_up + c_skip}*3*3{bias_text} = {value}"
        )
    else:
        conv = c_out * c_up * 9 + (c_out if bias else 0)
        working = f"add: the conv reads {c_up} channels; {c_out}*{c_up}*3*3{bias_text} = {conv}"
        if c_skip != c_up:
            working += (
                f"; plus the 1x1 projection {c_skip}*{c_up} + {c_up} = {c_skip * c_up + c_up}"
                f"; total {value}"
            )
    return Drawn(question, float(value), 0.0, "parameters", working)


def _dilated_coverage(rng: random.Random) -> Drawn:
    if rng.random() < 0.5:  # the stacks interviews ask about: same rate, powers of 2, HDC
        rates = rng.choice(
            [
                (2, 2, 2),
                (2, 4, 8),
                (1, 2, 4),
                (1, 2, 3),
                (1, 2, 5),
                (1, 2, 9),
                (3, 3),
                (2, 2),
                (1, 3),
                (2, 4),
                (1, 4),
                (4, 4, 4),
            ]
        )
    else:
        rates = tuple(rng.choice([1, 1, 2, 2, 3, 4, 5, 6]) for _ in range(rng.choice([2, 3])))
    layers = len(rates)
    reach = dilated_offsets(rates)
    side = max(reach) - min(reach) + 1
    value = len(reach) ** 2
    listing = ", ".join(str(r) for r in rates)
    question = (
        f"{layers} stacked 3x3 convs (stride 1) have dilation rates ({listing}), input first. "
        f"One output unit's receptive field is {side}x{side} input pixels. How many of those "
        f"{side * side} pixels can actually influence it?"
    )
    offsets = sorted(reach)
    working = (
        f"per axis each layer adds offsets {{-r, 0, +r}}; the reachable offsets are "
        f"{offsets} ({len(reach)} of {side}); in 2-D the set is squared: "
        f"{len(reach)}^2 = {value}"
        + (" (every pixel: no gridding)" if len(reach) == side else " (holes: gridding)")
    )
    return Drawn(question, float(value), 0.0, "px", working)


GENERATORS: dict[str, Callable[[random.Random], Drawn]] = {
    "convtranspose_output_size": _convtranspose_output_size,
    "unet_skip_params": _unet_skip_params,
    "dilated_coverage": _dilated_coverage,
}
