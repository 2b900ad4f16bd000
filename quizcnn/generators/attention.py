"""Generators of the vision-attention topic: ViT token counts, SE/CBAM parameter
counts, and the memory of an attention score matrix.

Pure Python, deterministic for a given ``random.Random``. The tests check each one
against torch: the token grid of a real ``nn.Conv2d(3, D, P, stride=P)``, the
parameters of real ``nn.Linear``/``nn.Conv2d`` layers, and the bytes of a real
(B, h, N, N) tensor.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from quizcnn.generators.drawn import Drawn

# -- the formulas -------------------------------------------------------------------


def vit_token_count(height: int, width: int, patch: int, extra_tokens: int = 1) -> int:
    """Tokens entering a ViT encoder: floor(H/P) * floor(W/P) patches (what a
    Conv2d(3, D, P, stride=P) produces), plus [class] (and DeiT's distillation token)."""
    return (height // patch) * (width // patch) + extra_tokens


def se_param_count(channels: int, reduction: int, bias: bool = True) -> int:
    """SE excitation: FC C -> C/r and FC C/r -> C: 2*C*(C/r) weights, plus C/r + C biases."""
    hidden = channels // reduction
    return 2 * channels * hidden + ((hidden + channels) if bias else 0)


def attention_matrix_bytes(batch: int, heads: int, positions: int, bytes_per_value: int) -> int:
    """The softmax weights of one attention layer: B * h * N * N values."""
    return batch * heads * positions * positions * bytes_per_value


# -- the generators -------------------------------------------------------------------

_SIZES = (96, 128, 160, 192, 224, 256, 288, 320, 336, 384, 448, 512, 518, 640)


def _vit_tokens(rng: random.Random) -> Drawn:
    patch = rng.choice([8, 14, 16, 16, 16, 32])
    sizes = [s for s in _SIZES if s % patch == 0]
    height = rng.choice(sizes)
    width = height if rng.random() < 0.6 else rng.choice(sizes)
    mode = rng.choice(["vit", "vit", "patches", "deit"])
    extra = {"vit": 1, "patches": 0, "deit": 2}[mode]
    value = vit_token_count(height, width, patch, extra)
    what = {
        "vit": "How many tokens enter its transformer encoder, the [class] token included?",
        "patches": "How many patch tokens does the patch embedding produce ([class] not counted)?",
        "deit": (
            "It is a DeiT with a distillation token. How many tokens enter the encoder, "
            "[class] and distillation tokens included?"
        ),
    }[mode]
    question = (
        f"A ViT with patch size {patch} (patch embedding nn.Conv2d(3, 768, kernel_size={patch}, "
        f"stride={patch})) gets a {height}x{width} image (H x W). {what}"
    )
    grid_h, grid_w = height // patch, width // patch
    working = (
        f"(H/P)·(W/P) = ({height}/{patch})·({width}/{patch}) = {grid_h}·{grid_w} = "
        f"{grid_h * grid_w} patch tokens"
        + {
            "vit": f", + 1 [class] = {value}",
            "patches": "",
            "deit": f", + [class] + distillation = {value}",
        }[mode]
    )
    return Drawn(question, float(value), 0.0, "tokens", working)


def _se_params(rng: random.Random) -> Drawn:
    while True:
        channels = rng.choice([64, 96, 128, 192, 256, 384, 512, 768, 1024, 2048])
        reduction = rng.choice([4, 8, 16, 16, 16, 32])
        if channels % reduction == 0:
            break
    bias = rng.random() < 0.7
    cbam = rng.random() < 0.25
    hidden = channels // reduction
    value = se_param_count(channels, reduction, bias)
    mlp = (
        f"nn.Linear({channels}, {hidden}, bias={bias}), ReLU, "
        f"nn.Linear({hidden}, {channels}, bias={bias}), sigmoid"
    )
    if cbam:
        value += 2 * 7 * 7
        question = (
            f"A CBAM block on {channels} channels has a channel attention MLP {mlp} "
            "(one MLP shared by the average- and max-pooled vectors) and a spatial attention "
            "nn.Conv2d(2, 1, kernel_size=7, padding=3, bias=False). How many learnable "
            "parameters does it have?"
        )
    else:
        question = (
            f"A squeeze-and-excitation block on {channels} channels with reduction ratio "
            f"r = {reduction} is global average pooling, {mlp}. How many learnable parameters "
            "does it have?"
        )
    weights = 2 * channels * hidden
    working = f"weights 2·C·(C/r) = 2·{channels}·{hidden} = {weights}"
    if bias:
        working += f"; biases C/r + C = {hidden} + {channels} = {hidden + channels}"
    else:
        working += "; no biases"
    if cbam:
        working += "; the MLP is shared, so it counts once; spatial conv 2·7·7 = 98"
    working += f"; total {value}"
    return Drawn(question, float(value), 0.0, "parameters", working)


def _attention_matrix_mb(rng: random.Random) -> Drawn:
    side = rng.choice([7, 14, 14, 28, 28, 32, 56, 64])
    height = side
    width = side if rng.random() < 0.7 else rng.choice([7, 14, 28, 56])
    heads = rng.choice([1, 3, 4, 6, 8, 12])
    batch = rng.choice([1, 1, 8, 16, 32])
    dtype, size = rng.choice([("float32", 4), ("float32", 4), ("float16", 2), ("bfloat16", 2)])
    positions = height * width
    total = attention_matrix_bytes(batch, heads, positions, size)
    megabytes = total / 1e6
    question = (
        f"Global self-attention with {heads} head{'s' if heads > 1 else ''} runs on a {height}x{width} feature map, "
        f"batch {batch}, in {dtype}. How much memory does one layer's attention-weight tensor "
        "(batch, heads, N, N) take, in MB (1 MB = 10^6 bytes; within 1%)?"
    )
    working = (
        f"N = {height}·{width} = {positions}; B·h·N²·bytes = {batch}·{heads}·{positions}²·{size} "
        f"= {total:,} bytes ≈ {megabytes:.4g} MB"
    )
    return Drawn(question, megabytes, 0.01 * megabytes, "MB", working)


GENERATORS: dict[str, Callable[[random.Random], Drawn]] = {
    "vit_tokens": _vit_tokens,
    "se_params": _se_params,
    "attention_matrix_mb": _attention_matrix_mb,
}
