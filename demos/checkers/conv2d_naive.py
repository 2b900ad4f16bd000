"""A naive conv2d forward pass in numpy: stride, padding, dilation and groups

Checks ``conv2d(x, w, b, stride=1, padding=0, dilation=1, groups=1)`` with x of
shape (N, C, H, W), w of shape (O, C/groups, kh, kw) and b of shape (O,) or None
against ``torch.nn.functional.conv2d`` in float64 (tolerance 1e-9) on seeded
random inputs: a plain 3x3, stride with padding, a non-square kernel on a
non-square input, dilation, two groups, depthwise (groups = C), a batch of one
with a 1x1 kernel and no bias, and a kernel that covers the whole padded input.

Recognized mistakes: the kernel flipped (a true convolution, where PyTorch
computes cross-correlation), the groups ignored (every output channel reading
the first C/groups input channels), padding on one side only, dilation ignored,
and the bias left out.
"""

from __future__ import annotations

import contextlib

FUNCTION = "conv2d"

# name, N, C, H, W, O, kh, kw, stride, padding, dilation, groups, bias
CASES = [
    ("3x3, stride 1, no padding", 2, 3, 7, 7, 4, 3, 3, 1, 0, 1, 1, True),
    ("3x3, stride 2, padding 1", 2, 3, 8, 8, 5, 3, 3, 2, 1, 1, 1, True),
    ("non-square kernel (2x3) on a 6x9 input, padding 1", 2, 2, 6, 9, 3, 2, 3, 1, 1, 1, 1, True),
    ("dilation 2, padding 2", 1, 2, 9, 9, 3, 3, 3, 1, 2, 2, 1, True),
    ("groups=2 (4 -> 6 channels)", 2, 4, 6, 6, 6, 3, 3, 1, 1, 1, 2, True),
    ("depthwise (groups = C = 3), stride 2", 2, 3, 7, 7, 3, 3, 3, 2, 1, 1, 3, True),
    ("batch of 1, 1x1 kernel, no bias", 1, 5, 4, 3, 2, 1, 1, 1, 0, 1, 1, False),
    ("kernel covers the padded input (output 1x1)", 1, 2, 3, 3, 2, 5, 5, 1, 1, 1, 1, True),
    ("everything at once: s=2, p=2, d=2, groups=3", 2, 6, 9, 10, 3, 3, 2, 2, 2, 2, 3, True),
]


def run(check, fn) -> None:
    np, torch = check.np, check.torch
    for k, (name, n, c, h, wd, o, kh, kw, s, p, d, g, has_bias) in enumerate(CASES):
        check.reseed(k)
        x = np.random.randn(n, c, h, wd)
        w = np.random.randn(o, c // g, kh, kw)
        b = np.random.randn(o) if has_bias else None
        expected = _conv(torch, x, w, b, s, p, d, g)
        inputs = (
            f"x: ({n}, {c}, {h}, {wd}) float64, w: ({o}, {c // g}, {kh}, {kw}), "
            f"b: {'(' + str(o) + ',)' if has_bias else 'None'}; stride={s}, padding={p}, "
            f"dilation={d}, groups={g}"
        )
        args = (x.copy(), w.copy(), None if b is None else b.copy())
        check.compare(
            name,
            lambda args=args, s=s, p=p, d=d, g=g: fn(
                *args, stride=s, padding=p, dilation=d, groups=g
            ),
            expected,
            inputs=inputs,
            atol=1e-9,
            rtol=1e-9,
            mistakes=_mistakes(np, torch, x, w, b, s, p, d, g),
        )


def _conv(torch, x, w, b, stride, padding, dilation, groups, pad_input=None):
    x_t = torch.tensor(x)
    if pad_input is not None:
        x_t = torch.nn.functional.pad(x_t, pad_input)
        padding = 0
    return torch.nn.functional.conv2d(
        x_t,
        torch.tensor(w),
        None if b is None else torch.tensor(b),
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
    ).numpy()


def _mistakes(np, torch, x, w, b, s, p, d, g) -> dict:
    """What each wrong conv returns; a mistake whose kernel no longer fits is left out."""
    out = {
        "the kernel is flipped: PyTorch's conv2d is cross-correlation, "
        "sum of x[i·s + u·d, j·s + v·d] · w[u, v] with no flip": _conv(
            torch, x, w[:, :, ::-1, ::-1].copy(), b, s, p, d, g
        ),
    }
    if g > 1:
        out[
            "the groups are ignored: output channel o reads only its own group's "
            "C/groups input channels, group o // (O/groups)"
        ] = _conv(torch, x[:, : x.shape[1] // g], w, b, s, p, d, 1)
    if p > 0:
        one_side = {
            "p zeros after": (0, p, 0, p),
            "2p zeros after": (0, 2 * p, 0, 2 * p),
            "2p zeros before": (2 * p, 0, 2 * p, 0),
        }
        for where, pad in one_side.items():
            # leave out a mistake whose kernel no longer fits its one-sided input
            with contextlib.suppress(RuntimeError):
                out[
                    f"the padding is on one side only ({where}): pad p zeros before AND "
                    "after, on H and on W"
                ] = _conv(torch, x, w, b, s, p, d, g, pad_input=pad)
    if d > 1:
        out["the dilation is ignored: kernel tap (u, v) reads x[i·s + u·d, j·s + v·d]"] = _conv(
            torch, x, w, b, s, p, 1, g
        )
    if b is not None:
        out["the bias is missing: add b[o] to every output of channel o"] = _conv(
            torch, x, w, None, s, p, d, g
        )
    return out
