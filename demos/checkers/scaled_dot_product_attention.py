"""Scaled dot-product attention with a boolean mask, batch and head dimensions

Checks ``attention(q, k, v, mask=None)`` -> softmax(q·kᵀ/√d)·v over the last
two dimensions, for q (..., L, d), k (..., S, d), v (..., S, dv) and an
optional boolean mask broadcastable to (..., L, S) in which True means "may
attend" (the convention of ``torch.nn.functional.scaled_dot_product_attention``'s
boolean ``attn_mask``). The reference is
``torch.nn.functional.scaled_dot_product_attention`` itself, in float64; the
task forbids the user that module, but the checker only compares outputs. Every
mask row allows at least one key and forbids at least one, so no row is empty.

Cases: a single sequence, batch and heads, more keys than queries with
dv ≠ d, a large head size (d = 512), an (L, S) mask broadcast over batch and
heads, a full (B, H, L, S) mask, scores of ±1000, a single key, and 2-D inputs
with no batch dimensions at all (a mask (L, S) then broadcasts over nothing).
Every case checks that q, k, v and the mask are left unchanged.

Recognized mistakes: no 1/√d scaling, 1/d instead of 1/√d, the softmax over
the queries' axis (-2) instead of the keys' (-1), the mask's polarity
inverted (True taken as "masked out", MultiheadAttention's key_padding_mask
convention), masked scores set to 0 instead of −inf, and the mask applied
after the softmax without renormalizing. A hand-written softmax without the
max subtracted overflows on the ±1000 case (hinted there).
"""

from __future__ import annotations

import math

FUNCTION = "attention"


def run(check, fn) -> None:
    torch = check.torch
    f64 = torch.float64
    cases = [
        ("a single sequence, L=S=5, d=8", (1, 5, 8), (1, 5, 8), (1, 5, 8), None, 1.0),
        ("batch and heads (2, 4, 6, 16)", (2, 4, 6, 16), (2, 4, 6, 16), (2, 4, 6, 16), None, 1.0),
        ("more keys than queries, dv ≠ d", (2, 3, 4, 16), (2, 3, 9, 16), (2, 3, 9, 10), None, 1.0),
        ("large head size (d = 512)", (2, 2, 6, 512), (2, 2, 7, 512), (2, 2, 7, 8), None, 1.0),
        (
            "boolean mask (L, S), broadcast over batch and heads",
            (2, 3, 4, 8),
            (2, 3, 7, 8),
            (2, 3, 7, 8),
            (4, 7),
            1.0,
        ),
        (
            "boolean mask (B, H, L, S)",
            (2, 4, 6, 16),
            (2, 4, 6, 16),
            (2, 4, 6, 16),
            (2, 4, 6, 6),
            1.0,
        ),
        ("scores of ±1000 (large logits)", (2, 2, 5, 64), (2, 2, 5, 64), (2, 2, 5, 64), None, 30.0),
        ("a single key (S = 1)", (3, 4, 8), (3, 1, 8), (3, 1, 5), None, 1.0),
        (
            "no batch dimensions: q (4, 8), k and v (3, ·), mask (4, 3)",
            (4, 8),
            (3, 8),
            (3, 5),
            (4, 3),
            1.0,
        ),
    ]
    for i, (name, qs, ks, vs, ms, scale) in enumerate(cases):
        check.reseed(i)
        q = torch.randn(qs, dtype=f64) * scale
        k = torch.randn(ks, dtype=f64) * scale
        v = torch.randn(vs, dtype=f64)
        mask = None
        if ms is not None:
            mask = torch.rand(ms) < 0.6
            mask[..., 0] = True  # every query may attend to something...
            mask[..., -1] = False  # ...and is barred from something
        expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        described = f"q {tuple(qs)}, k {tuple(ks)}, v {tuple(vs)} float64" + (
            f"; mask {tuple(ms)} bool (True = attend)" if ms is not None else "; mask None"
        )
        if scale != 1.0:
            described += f"; q and k ×{scale:g}"

        check.compare(
            name,
            lambda q=q, k=k, v=v, mask=mask: check.untouched(
                fn, ("q", "k", "v", "mask"), (q, k, v, mask)
            ),
            expected,
            inputs=described,
            atol=1e-9,
            rtol=1e-7,
            mistakes=_mistakes(torch, q, k, v, mask),
            hint=(
                "scores of ±1000 overflow exp(): subtract each row's max before exp "
                "(torch.softmax does it for you)"
                if scale != 1.0
                else ""
            ),
        )


def _attend(torch, q, k, v, mask, scale, dim=-1, polarity=True, fill=-math.inf, after=False):
    scores = q @ k.transpose(-2, -1) * scale
    if mask is not None and not after:
        allowed = mask if polarity else ~mask
        scores = scores.masked_fill(~allowed, fill)
    weights = torch.softmax(scores, dim=dim)
    if mask is not None and after:
        weights = weights * mask
    return weights @ v


def _mistakes(torch, q, k, v, mask) -> dict:
    d = q.shape[-1]
    right = 1 / math.sqrt(d)
    out = {
        "scale the scores by 1/√d before the softmax (here 1/√"
        f"{d}): unscaled dot products grow with d and saturate the softmax": _attend(
            torch, q, k, v, mask, 1.0
        ),
        "the scale is 1/√d, not 1/d": _attend(torch, q, k, v, mask, 1 / d),
        "softmax over the last axis (the keys, dim=-1): each query's weights over the keys "
        "sum to 1": _attend(torch, q, k, v, mask, right, dim=-2),
    }
    if mask is not None:
        out.update(
            {
                "mask polarity: True means 'may attend' (F.scaled_dot_product_attention's "
                "boolean attn_mask); fill the False entries with −inf": _attend(
                    torch, q, k, v, mask, right, polarity=False
                ),
                "a masked score must become −inf before the softmax, not 0: exp(0) still gives "
                "the key weight": _attend(torch, q, k, v, mask, right, fill=0.0),
                "mask the scores before the softmax: zeroing weights afterwards leaves rows that "
                "no longer sum to 1": _attend(torch, q, k, v, mask, right, after=True),
            }
        )
    return out
