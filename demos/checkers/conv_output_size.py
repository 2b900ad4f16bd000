"""The output size of a convolution along one side, from kernel, stride, padding and dilation

Checks ``conv_output_size(h, kernel, stride=1, padding=0, dilation=1)`` -> int
against the shape that ``torch.nn.functional.conv2d`` actually produces, on a
grid of settings per case: stride 1, strides that do not divide evenly, padding,
dilation alone and with stride and padding, windows that just fit (output 1),
and an ImageNet stem. Each case calls the function once per setting and compares
the list of sizes exactly; a last case checks that a size comes back as an int
(right numbers as floats, 3.0, are not a size).

Recognized mistakes: ignoring the dilation (a dilated kernel spans d·(k − 1) + 1
inputs), rounding up instead of down, true division instead of floor division,
forgetting the + 1, and padding counted on one side only.
"""

from __future__ import annotations

import math

FUNCTION = "conv_output_size"

# (case name, [(h, kernel, stride, padding, dilation), ...])
CASES = [
    (
        "stride 1, no padding",
        [(5, 3, 1, 0, 1), (7, 1, 1, 0, 1), (10, 4, 1, 0, 1), (32, 5, 1, 0, 1)],
    ),
    ("stride 1, 'same' padding", [(8, 3, 1, 1, 1), (9, 5, 1, 2, 1), (16, 7, 1, 3, 1)]),
    (
        "stride 2 and 3 (floor when it does not divide)",
        [(8, 3, 2, 0, 1), (7, 3, 2, 0, 1), (10, 2, 3, 0, 1), (11, 4, 3, 0, 1), (6, 3, 2, 1, 1)],
    ),
    ("padding larger than needed", [(5, 3, 1, 3, 1), (4, 2, 2, 2, 1), (6, 1, 1, 2, 1)]),
    ("dilation 2 and 3", [(10, 3, 1, 0, 2), (12, 3, 1, 0, 3), (15, 2, 1, 0, 4), (9, 3, 1, 2, 2)]),
    (
        "dilation with stride and padding",
        [(17, 3, 2, 2, 2), (20, 5, 3, 1, 2), (33, 3, 2, 6, 6), (14, 4, 3, 2, 3)],
    ),
    (
        "window just fits (output 1)",
        [(3, 3, 1, 0, 1), (5, 3, 1, 0, 2), (4, 3, 5, 0, 1), (1, 3, 1, 1, 1), (7, 3, 2, 0, 3)],
    ),
    (
        "ImageNet stem sizes",
        [(224, 7, 2, 3, 1), (112, 3, 2, 1, 1), (56, 1, 2, 0, 1), (227, 11, 4, 0, 1)],
    ),
]


def run(check, fn) -> None:
    torch = check.torch
    for k, (name, settings) in enumerate(CASES):
        check.reseed(k)
        expected = [_torch_size(torch, *s) for s in settings]
        inputs = "; ".join(f"h={h}, k={kk}, s={s}, p={p}, d={d}" for h, kk, s, p, d in settings)
        check.compare(
            name,
            lambda settings=settings: [
                fn(h, kk, stride=s, padding=p, dilation=d) for h, kk, s, p, d in settings
            ],
            expected,
            inputs=f"(h, kernel, stride, padding, dilation): {inputs}",
            atol=0,
            rtol=0,
            mistakes=_mistakes(settings),
        )

    _returns_an_int(
        check, lambda: fn(224, 7, stride=2, padding=3, dilation=1), "h=224, k=7, s=2, p=3, d=1"
    )


def _torch_size(torch, h, kernel, stride, padding, dilation) -> int:
    """The height of what F.conv2d returns on an (1, 1, h, 1) input."""
    x = torch.zeros(1, 1, h, 1, dtype=torch.float64)
    w = torch.zeros(1, 1, kernel, 1, dtype=torch.float64)
    out = torch.nn.functional.conv2d(
        x, w, stride=(stride, 1), padding=(padding, 0), dilation=(dilation, 1)
    )
    return int(out.shape[2])


def _mistakes(settings) -> dict:
    def each(formula):
        return [formula(*s) for s in settings]

    return {
        "the dilation is missing: a dilated kernel spans d·(k − 1) + 1 inputs, so "
        "H_out = ⌊(H + 2p − d·(k − 1) − 1) / s⌋ + 1": each(
            lambda h, k, s, p, d: (h + 2 * p - k) // s + 1
        ),
        "this rounds up: a window that would run past the padded input is dropped, "
        "so round down (floor, //)": each(
            lambda h, k, s, p, d: math.ceil((h + 2 * p - d * (k - 1) - 1) / s) + 1
        ),
        "this is true division: the number of whole strides is ⌊·⌋, use // (floor)": each(
            lambda h, k, s, p, d: (h + 2 * p - d * (k - 1) - 1) / s + 1
        ),
        "the + 1 is missing: (H + 2p − d·(k − 1) − 1) // s counts the strides, and the "
        "first window adds one output": each(
            lambda h, k, s, p, d: (h + 2 * p - d * (k - 1) - 1) // s
        ),
        "the padding is counted once: it is added on both sides, 2p": each(
            lambda h, k, s, p, d: (h + p - d * (k - 1) - 1) // s + 1
        ),
    }


def _returns_an_int(check, call, shown: str) -> None:
    """The task's function returns an int (it counts positions): 3.0 is not one."""
    import numbers

    try:
        value = call()
    except Exception as exc:  # the cases above report the error itself
        value = exc
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    check.holds(
        "the result is an int",
        ok,
        inputs=shown,
        expected="an int",
        got=f"{value!r} ({type(value).__name__})",
        hint="" if ok else "return an int: a count of positions (floor division // keeps it one)",
    )
