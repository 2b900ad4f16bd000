"""Receptive field of a stack of convolutions and poolings, from (kernel, stride, dilation)

Checks ``receptive_field(layers)`` -> an int, the side of the receptive field
of one output unit, for ``layers`` a list of (kernel, stride, dilation) tuples,
input first. The reference is MEASURED: the stack is built as torch Conv1d
layers with all-ones weights and no padding, one output unit is
back-propagated with autograd, and the receptive field is the span (last − first
+ 1) of the input positions whose gradient is nonzero (all weights and inputs
are positive, so nothing cancels). The tests check that this equals the
recurrence r_0 = 1, r_l = r_{l−1} + (k_l − 1)·d_l·(s_1···s_{l−1}).

Cases: a single layer, three 3x3s, kernel-1 layers, a ResNet-like strided
stem, dilations 1-2-4, a stride on the last layer (which does not count),
strides and dilations mixed, 2x2 poolings, a seeded random stack, and no
layers at all (the input pixel itself: 1).

Recognized mistakes: the layer's own stride included in its growth (the
product of the strides up to and including layer l), dilation ignored, the
dilated kernel taken as k·d wide instead of d·(k − 1) + 1, strides ignored
altogether.
"""

from __future__ import annotations

FUNCTION = "receptive_field"


def measured(torch, layers) -> int:
    """The receptive field of output unit 0 of an all-ones Conv1d stack, by autograd."""
    length = 3  # output units; walk back to the input length that gives at least that many
    for k, s, d in reversed(layers):
        length = (length - 1) * s + (k - 1) * d + 1
    length += 5
    x = torch.ones(1, 1, length, dtype=torch.float64, requires_grad=True)
    y = x
    for k, s, d in layers:
        weight = torch.ones(1, 1, k, dtype=torch.float64)
        y = torch.nn.functional.conv1d(y, weight, stride=s, dilation=d)
    y[0, 0, 0].backward()
    reached = torch.nonzero(x.grad[0, 0]).flatten()
    return int(reached.max() - reached.min() + 1)


def formula(layers, own_stride=False, dilation=True, dilated_width=None, strides=True) -> int:
    """r_l = r_{l-1} + (k_l - 1)·d_l·jump; the keywords replay the classic mistakes."""
    r, jump = 1, 1
    for k, s, d in layers:
        if own_stride:
            jump *= s
        d = d if dilation else 1
        width = d * (k - 1) + 1 if dilated_width is None else k * d
        r += (width - 1) * (jump if strides else 1)
        if not own_stride:
            jump *= s
    return r


def run(check, fn) -> None:
    np, torch = check.np, check.torch
    cases = [
        ("a single 3x3 conv", [(3, 1, 1)]),
        ("three 3x3 convs (VGG)", [(3, 1, 1)] * 3),
        ("kernel-1 layers", [(1, 1, 1), (3, 1, 1), (1, 1, 1), (1, 2, 1), (1, 1, 1)]),
        ("strided stem: 7/2 conv, 3/2 pool, two 3x3", [(7, 2, 1), (3, 2, 1), (3, 1, 1), (3, 1, 1)]),
        ("dilated 3x3s (dilation 1, 2, 4)", [(3, 1, 1), (3, 1, 2), (3, 1, 4)]),
        ("a stride on the last layer only", [(3, 1, 1), (3, 1, 1), (3, 2, 1)]),
        ("strides and dilations mixed", [(3, 2, 1), (3, 1, 2), (5, 2, 1), (3, 1, 3)]),
        ("2x2 poolings (even kernels)", [(2, 2, 1), (2, 2, 1), (3, 1, 1)]),
        ("random stack of 6 layers", None),
        ("no layers (the input pixel itself)", []),
    ]
    for k, (name, layers) in enumerate(cases):
        check.reseed(k)
        if layers is None:
            layers = [
                (
                    int(np.random.choice([1, 2, 3, 5])),
                    int(np.random.choice([1, 2])),
                    int(np.random.choice([1, 2])),
                )
                for _ in range(6)
            ]
        mistakes = {
            "a layer's growth (k − 1)·d is multiplied by the strides of the layers BEFORE it, "
            "not its own: a stride only spaces out what later layers see": formula(
                layers, own_stride=True
            ),
            "dilation d spreads a k-tap kernel over d·(k − 1) + 1 input positions: the growth is "
            "(k − 1)·d·jump": formula(layers, dilation=False),
            "a dilated kernel spans d·(k − 1) + 1 positions, not k·d": formula(
                layers, dilated_width=True
            ),
            "each layer's growth is multiplied by the product of the earlier strides (the jump "
            "between neighbouring units of its input)": formula(layers, strides=False),
        }
        check.compare(
            name,
            lambda layers=layers: fn([tuple(layer) for layer in layers]),
            measured(torch, layers),
            inputs=f"layers (kernel, stride, dilation), input first: {layers}",
            atol=0,
            rtol=0,
            mistakes=mistakes,
        )
