"""The vision-attention proofs' key numbers match values computed here, and the topic's
generators agree with real torch layers.

Every expected number below is worked out in this file (pure Python or numpy) from
the papers' formulas, not read back from the proofs' code.
"""

from __future__ import annotations

import math
import random
import re

import numpy as np
import pytest

from quizcnn.generators import draw

RESNET50_STAGES = [(3, 256), (4, 512), (6, 1024), (3, 2048)]
RESNET50_PARAMS = 25_557_032


def se_params(c: int, r: int, bias: bool = True) -> int:
    return 2 * c * (c // r) + ((c // r + c) if bias else 0)


# -- se_cbam ---------------------------------------------------------------------------


def test_se_and_cbam_parameter_counts(proof_result):
    r = proof_result("se_cbam")
    assert r.claim("se_params_formula").measured == 256 * 16 + 16 + 16 * 256 + 256 == 8464
    assert r.claim("se_params_no_bias").measured == 2 * 256 * 256 / 16
    assert r.claim("cbam_channel_params_equal_se").measured == 8464
    assert r.claim("cbam_spatial_params").measured == 2 * 7 * 7


def test_se_resnet50_table_follows_eq5(proof_result):
    rows = {row[0]: row for row in proof_result("se_cbam").tables[0].rows}
    for ratio in (2, 4, 8, 16, 32):
        extra = sum(n * se_params(c, ratio) for n, c in RESNET50_STAGES)
        assert rows[ratio][1] == extra
        assert rows[ratio][2] == RESNET50_PARAMS + extra
    # r = 16: the paper's "about 2.5M extra", 28.1M in all; r = 2: 45.7M.
    assert rows[16][1] == 2_530_992
    assert round(rows[16][2] / 1e6, 1) == 28.1
    assert round(rows[2][2] / 1e6, 1) == 45.7
    # weights alone scale exactly as 1/r (Eq. 5)
    weights = {r_: sum(n * 2 * c * c // r_ for n, c in RESNET50_STAGES) for r_ in (2, 16)}
    assert weights[2] / weights[16] == 8


def test_se_gates_and_placement(proof_result):
    r = proof_result("se_cbam")
    assert r.claim("se_is_channel_scaling").measured < 1e-12
    assert r.claim("se_ignores_spatial_arrangement").measured < 1e-12
    # 256 independent sigmoids of O(1) logits sum to roughly 256 * 0.5, never to 1
    assert 64 < r.claim("se_gates_not_normalized").measured < 192
    # a closed gate sigmoid(-30) is below 1e-13: SE-POST leaves ~nothing, the standard block x
    assert 1 / (1 + math.exp(30)) < 1e-13
    assert r.claim("se_post_blocks_identity").measured < 1e-9
    assert r.claim("se_standard_keeps_identity").measured < 1e-9


def test_se_cost_next_to_a_conv(proof_result):
    c, r_, hw = 256, 16, 14 * 14
    expected = (2 * c * (c // r_) + 2 * c * hw) / (9 * c * c * hw)
    assert proof_result("se_cbam").claim("se_macs_fraction").measured == pytest.approx(expected)
    assert expected < 1e-3


def test_cbam_gates_differ_from_se(proof_result):
    r = proof_result("se_cbam")
    assert r.claim("cbam_channel_formula").measured < 1e-12
    assert r.claim("cbam_max_pool_matters").measured > 1e-3
    assert r.claim("cbam_order_matters").measured > 1e-3


# -- self_attention_cost ---------------------------------------------------------------


def test_attention_cost_table_is_quadratic(proof_result):
    rows = proof_result("self_attention_cost").tables[1].rows
    d = 64
    for label, n, entries, megabytes, macs in rows:
        side_h, side_w = (int(v) for v in label.split("x"))
        assert n == side_h * side_w
        assert entries == n * n
        assert megabytes == pytest.approx(n * n * 4 / 1e6)
        assert macs == 2 * n * n * d
    assert rows[-1][1] == 3136
    assert rows[-1][3] == pytest.approx(39.337984)


def test_swin_window_counts(proof_result):
    r = proof_result("self_attention_cost")
    c, m, hw = 96, 7, 56 * 56
    assert r.claim("swin_window_count").measured == (56 // 7) ** 2 == 64
    assert r.claim("swin_window_macs_formula").measured == 2 * m * m * hw * c == 29_503_488
    assert r.claim("swin_vs_global_ratio").measured == (2 * hw * hw * c) / (2 * m * m * hw * c)
    assert r.claim("swin_linear_in_n").measured == 4
    assert r.claim("global_quadratic_in_n").measured == 16
    rows = r.tables[2].rows
    assert rows[0][2] == 2 * hw**2 * c
    assert rows[1][3] == 2 * m * m * 112 * 112 * c


def test_multihead_attention_parameters(proof_result):
    r = proof_result("self_attention_cost")
    d = 768
    in_proj, out_proj = 3 * d * d + 3 * d, d * d + d
    assert r.claim("mha_params").measured == in_proj + out_proj == 2_362_368
    assert r.claim("mha_params_independent_of_heads").measured == 0
    assert r.claim("attn_matrix_bytes_56").measured == 3136**2 * 4 == 39_337_984
    assert r.claim("attn_matrix_vs_features").measured == 3136 / 64


def test_dot_product_variance_and_saturation(proof_result):
    """An independent numpy experiment reproduces the proof's variances and saturation."""
    r = proof_result("self_attention_cost")
    rng = np.random.default_rng(123)
    for d_k in (64, 512):
        q, k = rng.standard_normal((2, 10_000, d_k))
        dots = (q * k).sum(axis=1)
        assert dots.var() == pytest.approx(d_k, rel=0.05)
        assert r.claim(f"qk_variance_d{d_k}").measured == pytest.approx(d_k, rel=0.05)
        assert r.claim(f"scaled_variance_d{d_k}").measured == pytest.approx(1.0, abs=0.05)
    logits = rng.standard_normal((500, 16, 512)) @ rng.standard_normal(512)  # 16 keys, 1 query

    def mean_top_weight(z):
        p = np.exp(z - z.max(axis=1, keepdims=True))
        return (p / p.sum(axis=1, keepdims=True)).max(axis=1).mean()

    assert mean_top_weight(logits) > 0.85 and r.claim("unscaled_softmax_saturates").measured > 0.85
    assert mean_top_weight(logits / math.sqrt(512)) < 0.5
    assert r.claim("scaled_softmax_spreads").measured < 0.5


# -- vit_patch_embed -----------------------------------------------------------------


def test_vit_token_table(proof_result):
    r = proof_result("vit_patch_embed")
    for label, patch, grid, n, with_cls in r.tables[0].rows:
        size = int(label.split("x")[0])
        assert n == (size // patch) ** 2
        assert grid == f"{size // patch}x{size // patch}"
        assert with_cls == n + 1
    assert r.claim("tokens_224_p16").measured == (224 // 16) ** 2 == 196
    assert r.claim("sequence_length_with_cls").measured == 197
    assert r.claim("pos_embed_interpolated_length").measured == (384 // 16) ** 2 + 1 == 577


def test_vit_b16_parameter_breakdown(proof_result):
    r = proof_result("vit_patch_embed")
    d, mlp, layers = 768, 3072, 12
    patch = 3 * 16 * 16 * d + d
    attention = 4 * d * d + 4 * d
    feed_forward = d * mlp + mlp + mlp * d + d
    norms = 2 * 2 * d
    layer = attention + feed_forward + norms
    head = 2 * d + d * 1000 + 1000
    cls_pos = d + 197 * d
    total = patch + layers * layer + head + cls_pos
    assert r.claim("vit_b_patch_embed_params").measured == patch == 590_592
    assert r.claim("vit_b_layer_params").measured == layer == 7_087_872
    assert total == 86_567_656
    assert r.claim("vit_b16_params").measured == pytest.approx(total / 1e6)
    rows = {row[0]: row[1] for row in r.tables[1].rows}
    assert rows["total"] == total
    assert rows["12 encoder layers"] == layers * layer


def test_strided_conv_is_patchify_then_matmul():
    """Independent numpy check of the identity the proof measures with torch."""
    rng = np.random.default_rng(0)
    p, d, h, w = 4, 5, 12, 8
    x = rng.standard_normal((3, h, w))
    weight = rng.standard_normal((d, 3, p, p))
    conv = np.zeros((d, h // p, w // p))
    for o in range(d):
        for i in range(h // p):
            for j in range(w // p):
                conv[o, i, j] = (weight[o] * x[:, i * p : (i + 1) * p, j * p : (j + 1) * p]).sum()
    patches = x.reshape(3, h // p, p, w // p, p).transpose(1, 3, 0, 2, 4).reshape(-1, 3 * p * p)
    tokens = patches @ weight.reshape(d, -1).T  # (N, D), row-major patch order
    assert np.abs(tokens - conv.reshape(d, -1).T).max() < 1e-12


def test_shift_and_permutation_claims(proof_result):
    r = proof_result("vit_patch_embed")
    assert r.claim("conv_equals_unfold_linear").measured < 1e-12
    assert r.claim("reshape_equals_unfold").measured == 0
    assert r.claim("shift_by_p_shifts_tokens").measured < 1e-12
    assert r.claim("shift_by_1_not_equivariant").measured > 0.1
    assert r.claim("stride1_conv_equivariant").measured < 1e-12
    assert r.claim("encoder_permutation_equivariant").measured < 1e-12
    assert r.claim("pos_embedding_breaks_permutation").measured > 1e-2


# -- generators -----------------------------------------------------------------------

torch = pytest.importorskip("torch")
SEEDS = range(40)


@pytest.mark.parametrize("name", ["vit_tokens", "se_params", "attention_matrix_mb"])
def test_generators_are_deterministic_and_vary(name):
    assert draw(name, random.Random(11)) == draw(name, random.Random(11))
    questions = {draw(name, random.Random(seed)).question for seed in range(20)}
    assert len(questions) > 10
    drawn = draw(name, random.Random(0))
    assert drawn.question.endswith("?") and drawn.working and drawn.tolerance >= 0


def test_vit_tokens_match_a_real_patch_embedding():
    for seed in SEEDS:
        drawn = draw("vit_tokens", random.Random(seed))
        patch = int(re.search(r"patch size (\d+)", drawn.question).group(1))
        height, width = map(int, re.search(r"gets a (\d+)x(\d+) image", drawn.question).groups())
        with torch.device("meta"):
            grid = torch.nn.Conv2d(3, 8, patch, stride=patch)(torch.empty(1, 3, height, width))
        extra = 2 if "DeiT" in drawn.question else 0 if "patch tokens" in drawn.question else 1
        assert drawn.value == grid.shape[-2] * grid.shape[-1] + extra, drawn.question
        assert drawn.tolerance == 0


def test_se_params_match_built_layers():
    seen_cbam = False
    for seed in SEEDS:
        drawn = draw("se_params", random.Random(seed))
        linears = re.findall(r"nn\.Linear\((\d+), (\d+), bias=(True|False)\)", drawn.question)
        assert len(linears) == 2, drawn.question
        layers = [torch.nn.Linear(int(a), int(b), bias=(c == "True")) for a, b, c in linears]
        count = sum(p.numel() for layer in layers for p in layer.parameters())
        if "CBAM" in drawn.question:
            seen_cbam = True
            count += sum(p.numel() for p in torch.nn.Conv2d(2, 1, 7, bias=False).parameters())
        assert drawn.value == count, drawn.question
    assert seen_cbam


def test_attention_matrix_mb_matches_tensor_bytes():
    dtypes = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    for seed in SEEDS:
        drawn = draw("attention_matrix_mb", random.Random(seed))
        heads = int(re.search(r"with (\d+) heads?", drawn.question).group(1))
        height, width = map(
            int, re.search(r"on a (\d+)x(\d+) feature map", drawn.question).groups()
        )
        batch = int(re.search(r"batch (\d+)", drawn.question).group(1))
        dtype = dtypes[re.search(r"in (\w+)\.", drawn.question).group(1)]
        n = height * width
        weights = torch.empty(batch, heads, n, n, dtype=dtype, device="meta")
        megabytes = weights.numel() * weights.element_size() / 1e6
        assert drawn.value == pytest.approx(megabytes, rel=1e-12), drawn.question
        assert drawn.tolerance == pytest.approx(0.01 * megabytes)
