"""Convolution generators: output sizes, parameter and MAC counts, receptive fields.

The formulas follow PyTorch's documented shapes (nn.Conv2d, nn.MaxPool2d), and
tests check every generator against real torch layers.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from quizcnn.generators.drawn import Drawn

# -- the formulas (also used by the tests and the proofs' explanations) ----------


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """nn.Conv2d / nn.MaxPool2d(ceil_mode=False): floor((H + 2p - d(k-1) - 1)/s) + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pool_out_ceil(size: int, kernel: int, stride: int, padding: int = 0, dilation: int = 1) -> int:
    """nn.MaxPool2d(ceil_mode=True): ceil instead of floor, but the last window
    must start inside the input or the left padding, else it is dropped."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = -(-span // stride) + 1  # ceil division
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out


def conv_param_count(c_in: int, c_out: int, kernel: int, bias: bool, groups: int = 1) -> int:
    """Weights C_out * (C_in/groups) * k * k, plus C_out biases."""
    return c_out * (c_in // groups) * kernel * kernel + (c_out if bias else 0)


def conv_mac_count(
    h_out: int, w_out: int, c_in: int, c_out: int, kernel: int, groups: int = 1
) -> int:
    """Multiply-adds of the weights: one per weight per output position."""
    return h_out * w_out * c_out * (c_in // groups) * kernel * kernel


@dataclass(frozen=True)
class Layer:
    """One layer of a stack for the receptive-field question."""

    kind: str  # "conv" or "maxpool"
    kernel: int
    stride: int
    dilation: int = 1

    def describe(self) -> str:
        name = "conv" if self.kind == "conv" else "max-pool"
        text = f"{name} {self.kernel}x{self.kernel}, stride {self.stride}"
        if self.dilation > 1:
            text += f", dilation {self.dilation}"
        return text


def receptive_field(layers: list[Layer]) -> int:
    """r_l = r_{l-1} + (k_l - 1) * d_l * (product of the strides of the layers before l)."""
    rf, jump = 1, 1
    for layer in layers:
        rf += (layer.kernel - 1) * layer.dilation * jump
        jump *= layer.stride
    return rf


# -- the generators ---------------------------------------------------------------


def _conv_output_size(rng: random.Random) -> Drawn:
    if rng.random() < 0.3:
        return _pool_output_size(rng)
    while True:
        size = rng.choice([7, 14, 15, 28, 31, 32, 56, 64, 100, 112, 224, 227])
        kernel = rng.choice([1, 3, 3, 3, 5, 7, 11])
        stride = rng.choice([1, 1, 2, 2, 3, 4])
        padding = rng.choice([0, 0, 1, 2, 3])
        dilation = rng.choice([1, 1, 1, 1, 2, 3])
        if size + 2 * padding >= dilation * (kernel - 1) + 1:
            break
    out = conv_out(size, kernel, stride, padding, dilation)
    layer = f"nn.Conv2d(16, 32, kernel_size={kernel}, stride={stride}, padding={padding}"
    layer += f", dilation={dilation})" if dilation > 1 else ")"
    question = f"A {size}x{size} input goes through {layer}. What is the output height?"
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    working = (
        "floor((H + 2p - d(k-1) - 1)/s) + 1 = "
        f"floor(({size} + 2*{padding} - {dilation}*({kernel}-1) - 1)/{stride}) + 1 "
        f"= floor({span}/{stride}) + 1 = {out}"
    )
    return Drawn(question, float(out), 0.0, None, working)


def _pool_output_size(rng: random.Random) -> Drawn:
    while True:
        size = rng.choice([7, 13, 14, 15, 27, 28, 55, 56, 57, 111, 112, 113])
        kernel = rng.choice([2, 2, 3, 3, 3, 5])
        stride = rng.choice([1, 2, 2, 2, 3])
        padding = rng.choice([0, 0, 0, 1]) if kernel >= 2 else 0
        ceil_mode = rng.random() < 0.7
        if size + 2 * padding >= kernel:
            break
    if ceil_mode:
        out = pool_out_ceil(size, kernel, stride, padding)
    else:
        out = conv_out(size, kernel, stride, padding)
    layer = f"nn.MaxPool2d(kernel_size={kernel}, stride={stride}, padding={padding}, ceil_mode={ceil_mode})"
    question = f"A {size}x{size} input goes through {layer}. What is the output height?"
    span = size + 2 * padding - (kernel - 1) - 1
    if ceil_mode:
        raw = -(-span // stride) + 1
        working = f"ceil_mode: ceil((H + 2p - (k-1) - 1)/s) + 1 = ceil({span}/{stride}) + 1 = {raw}"
        if raw != out:
            working += (
                f"; but the last window would start at {(raw - 1) * stride} >= H + p = "
                f"{size + padding}, outside the input, so PyTorch drops it: {out}"
            )
    else:
        working = f"floor((H + 2p - (k-1) - 1)/s) + 1 = floor({span}/{stride}) + 1 = {out}"
    return Drawn(question, float(out), 0.0, None, working)


def _channel_pair(rng: random.Random) -> tuple[int, int, int]:
    """C_in, C_out and a groups value that divides both (usually 1)."""
    c_in = rng.choice([3, 16, 32, 64, 96, 128, 256])
    c_out = rng.choice([16, 32, 64, 128, 192, 256])
    groups = 1
    if c_in != 3 and rng.random() < 0.25:
        groups = rng.choice([g for g in (2, 4, 8, 32) if c_in % g == 0 and c_out % g == 0])
    return c_in, c_out, groups


def _conv_params(rng: random.Random) -> Drawn:
    c_in, c_out, groups = _channel_pair(rng)
    kernel = rng.choice([1, 3, 3, 5, 7])
    bias = rng.random() < 0.6
    value = conv_param_count(c_in, c_out, kernel, bias, groups)
    layer = f"nn.Conv2d({c_in}, {c_out}, kernel_size={kernel}"
    layer += f", groups={groups}" if groups > 1 else ""
    layer += f", bias={bias})"
    weights = c_out * (c_in // groups) * kernel * kernel
    working = (
        f"weights C_out*(C_in/groups)*k*k = {c_out}*({c_in}/{groups})*{kernel}*{kernel} = {weights}"
        + (f"; plus {c_out} biases = {value}" if bias else "; no bias")
    )
    question = f"How many learnable parameters does {layer} have?"
    return Drawn(question, float(value), 0.0, None, working)


def _conv_macs(rng: random.Random) -> Drawn:
    c_in, c_out, groups = _channel_pair(rng)
    size = rng.choice([7, 14, 28, 32, 56, 112])
    kernel = rng.choice([1, 3, 3, 5])
    stride = rng.choice([1, 1, 2])
    padding = kernel // 2
    out = conv_out(size, kernel, stride, padding)
    macs = conv_mac_count(out, out, c_in, c_out, kernel, groups)
    layer = f"nn.Conv2d({c_in}, {c_out}, kernel_size={kernel}, stride={stride}, padding={padding}"
    layer += f", groups={groups})" if groups > 1 else ")"
    question = (
        f"A {size}x{size} input goes through {layer}. How many multiply-adds (MACs) does it "
        "take, ignoring the bias? Answer in millions (within 1%)."
    )
    millions = macs / 1e6
    working = (
        f"output {out}x{out}; MACs = H_out*W_out*C_out*(C_in/groups)*k*k = "
        f"{out}*{out}*{c_out}*({c_in}/{groups})*{kernel}*{kernel} = {macs:,} "
        f"≈ {millions:.4g} M (FLOPs ≈ 2 x MACs = {2 * macs:,})"
    )
    return Drawn(question, millions, 0.01 * millions, "M MACs", working)


def _stack(rng: random.Random) -> list[Layer]:
    layers = []
    for _ in range(rng.randint(2, 5)):
        if rng.random() < 0.25:
            layers.append(Layer("maxpool", rng.choice([2, 3]), 2))
        else:
            kernel = rng.choice([1, 3, 3, 3, 5, 7])
            dilation = rng.choice([1, 1, 1, 2]) if kernel > 1 else 1
            layers.append(Layer("conv", kernel, rng.choice([1, 1, 2]), dilation))
    return layers


def _receptive_field(rng: random.Random) -> Drawn:
    layers = _stack(rng)
    value = receptive_field(layers)
    listing = "; ".join(f"({i}) {layer.describe()}" for i, layer in enumerate(layers, 1))
    question = (
        f"A stack of layers, input first: {listing}. What is the receptive field "
        "(in input pixels, along one side) of one unit of the last layer?"
    )
    steps, rf, jump = ["r_0 = 1"], 1, 1
    for i, layer in enumerate(layers, 1):
        rf += (layer.kernel - 1) * layer.dilation * jump
        steps.append(f"r_{i} = r_{i - 1} + ({layer.kernel}-1)*{layer.dilation}*{jump} = {rf}")
        jump *= layer.stride
    working = "r_l = r_(l-1) + (k_l - 1) * d_l * (product of earlier strides): " + "; ".join(steps)
    return Drawn(question, float(value), 0.0, "px", working)


GENERATORS: dict[str, Callable[[random.Random], Drawn]] = {
    "conv_output_size": _conv_output_size,
    "conv_params": _conv_params,
    "conv_macs": _conv_macs,
    "receptive_field": _receptive_field,
}
