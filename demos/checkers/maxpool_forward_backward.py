"""Max pooling forward and backward in numpy, overlapping windows and ties included

The user's file defines two functions: ``maxpool2d_forward(x, k, stride=None)`` -> out
and ``maxpool2d_backward(dout, x, k, stride=None)`` -> dx, on x of shape (N, C, H, W),
no padding, floor mode. The forward pass is compared with
``torch.nn.functional.max_pool2d``, the backward pass with autograd's gradient of
it (x.grad after out.backward(dout)), in float64, exactly up to 1e-12.

Cases: non-overlapping 2x2 windows, an all-negative input, overlapping 3x3
windows at stride 2, odd sizes whose last row and column no window covers,
overlapping windows at stride 1 and 2 in the backward pass (an input that is the
max of several windows sums their gradients), ties between small integers, and
a constant input; two cases leave stride out (it defaults to k). On ties PyTorch's CPU kernel keeps the FIRST maximum of the
window in row-major order (a later value replaces it only if strictly larger),
and the whole gradient of that output goes to that one element.

Recognized mistakes: the running max started at 0 (wrong on negative inputs),
ceil mode (a partial window at the edge), the gradient split among tied maxima,
or given in full to each of them, the last tied maximum chosen instead of the
first, and overwriting instead of accumulating where windows overlap (numpy's
``dx[idx] += g`` with repeated indices does that too).
"""

from __future__ import annotations

FUNCTION = "maxpool2d_backward"
FORWARD = "maxpool2d_forward"

# name, pass, shape, k, stride, input kind
CASES = [
    ("forward, 2x2 stride 2", "forward", (2, 3, 6, 6), 2, 2, "normal"),
    ("forward, all-negative input", "forward", (2, 2, 4, 4), 2, 2, "negative"),
    ("forward, 3x3 stride 2 (overlapping)", "forward", (2, 2, 7, 7), 3, 2, "normal"),
    (
        "forward, odd size 5x7 (last row and column dropped), stride left out",
        "forward",
        (1, 2, 5, 7),
        2,
        None,
        "normal",
    ),
    ("backward, 2x2, stride left out (it is k)", "backward", (2, 3, 6, 6), 2, None, "normal"),
    (
        "backward, 3x3 stride 2 (overlapping windows add up)",
        "backward",
        (2, 2, 7, 7),
        3,
        2,
        "normal",
    ),
    (
        "backward, 2x2 stride 1 (an input in up to 4 windows)",
        "backward",
        (1, 2, 5, 5),
        2,
        1,
        "normal",
    ),
    ("backward, ties (integers 0-2, 2x2 stride 2)", "backward", (2, 2, 6, 6), 2, 2, "ties"),
    ("backward, constant input, 3x3 stride 1", "backward", (1, 1, 5, 5), 3, 1, "constant"),
    ("backward, odd size 5x7 (uncovered inputs get 0)", "backward", (1, 2, 5, 7), 2, 2, "normal"),
]


def run(check, fn) -> None:
    np, torch = check.np, check.torch
    forward = _user_forward(fn)
    for k, (name, which, shape, size, given, kind) in enumerate(CASES):
        check.reseed(k)
        x = _input(np, kind, shape)
        stride = size if given is None else given  # None: the call leaves stride out
        strides = () if given is None else (given,)
        out, grad, dout = _reference(np, torch, x, size, stride)
        shown = "stride not given" if given is None else f"stride={given}"
        inputs = f"x: {shape} float64 ({kind} values), k={size}, {shown}"
        if which == "forward":
            check.compare(
                name,
                lambda x=x, size=size, strides=strides: forward(x.copy(), size, *strides),
                out,
                inputs=inputs,
                atol=1e-12,
                rtol=0,
                mistakes=_forward_mistakes(np, torch, x, size, stride),
            )
        else:
            check.compare(
                name,
                lambda x=x, dout=dout, size=size, strides=strides: fn(
                    dout.copy(), x.copy(), size, *strides
                ),
                grad,
                inputs=f"{inputs}; dout: {tuple(dout.shape)} standard normal",
                atol=1e-12,
                rtol=0,
                mistakes=_backward_mistakes(np, x, dout, size, stride),
            )


def _user_forward(fn):
    forward = getattr(fn, "__globals__", {}).get(FORWARD)
    if callable(forward):
        return forward

    def missing(*args):
        raise NameError(f"your file defines no function {FORWARD}() beside {FUNCTION}()")

    return missing


def _input(np, kind, shape):
    if kind == "negative":
        return -np.random.rand(*shape) - 1.0
    if kind == "ties":
        return np.random.randint(0, 3, size=shape).astype(np.float64)
    if kind == "constant":
        return np.full(shape, 0.5)
    return np.random.randn(*shape)


def _reference(np, torch, x, size, stride):
    x_t = torch.tensor(x, requires_grad=True)
    out = torch.nn.functional.max_pool2d(x_t, size, stride)
    dout = np.random.randn(*out.shape)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), x_t.grad.numpy(), dout


def _forward_mistakes(np, torch, x, size, stride) -> dict:
    pool = torch.nn.functional.max_pool2d
    return {
        "the running max starts at 0: start from the window's first value (or -inf), "
        "inputs can all be negative": np.maximum(pool(torch.tensor(x), size, stride).numpy(), 0),
        "this is ceil mode: with PyTorch's default (floor) a window that runs past the "
        "input is dropped": pool(torch.tensor(x), size, stride, ceil_mode=True).numpy(),
    }


def _route(np, x, dout, size, stride, mode):
    """What a loop over the windows returns when it hands out each gradient by `mode`."""
    n, c, h, w = x.shape
    ho, wo = (h - size) // stride + 1, (w - size) // stride + 1
    dx = np.zeros_like(x)
    for a in range(n):
        for b in range(c):
            for i in range(ho):
                for j in range(wo):
                    r, s = i * stride, j * stride
                    window = x[a, b, r : r + size, s : s + size]
                    rows, cols = np.nonzero(window == window.max())
                    g = dout[a, b, i, j]
                    if mode == "overwrite":
                        dx[a, b, r + rows[0], s + cols[0]] = g
                    elif mode == "last":
                        dx[a, b, r + rows[-1], s + cols[-1]] += g
                    elif mode == "split":
                        dx[a, b, r + rows, s + cols] += g / len(rows)
                    elif mode == "all":
                        dx[a, b, r + rows, s + cols] += g
    return dx


def _backward_mistakes(np, x, dout, size, stride) -> dict:
    def route(mode):
        return _route(np, x, dout, size, stride, mode)

    return {
        "windows overlap here: an input that is the max of several windows gets the SUM of "
        "their gradients; accumulate (+=, or np.add.at: dx[idx] += g with repeated indices "
        "overwrites)": route("overwrite"),
        "the gradient is split among tied maxima: PyTorch gives all of it to one element, "
        "the first maximum of the window in row-major order": route("split"),
        "every tied maximum gets the full gradient: only one element of the window, the "
        "first maximum in row-major order, gets it": route("all"),
        "on ties this picks the last maximum: PyTorch keeps the first one in row-major order "
        "(replace only if strictly larger; np.argmax does the same)": route("last"),
    }
