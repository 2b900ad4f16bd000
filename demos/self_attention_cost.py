"""Scaled dot-product attention: the formula, why 1/sqrt(d_k), and the N² cost

Attention(Q, K, V) = softmax(QKᵀ / √d_k) V (Vaswani et al., arXiv:1706.03762,
§3.2.1). Measured here:

- torch.nn.functional.scaled_dot_product_attention equals the formula written
  by hand, with 1/√d_k as its default scale, and each row of weights sums to 1;
- for q and k with independent unit-variance entries, q·k has variance d_k
  (64 for d_k = 64, 512 for 512); dividing by √d_k brings it back to 1;
  unscaled, a softmax over 16 keys at d_k = 512 is nearly one-hot and its
  Jacobian almost vanishes (the paper's footnote 4);
- nn.MultiheadAttention(d, h) has 4d² + 4d parameters whatever h is, and equals
  per-head attention on slices of its projections, concatenated, then out_proj;
- on N positions the score matrix has N² entries and the two matmuls cost
  2N²d multiply-adds: 4x the positions is 16x the cost. A 56x56 feature map
  has N = 3,136 and one fp32 score matrix of 39.3 MB per head and image, 49
  times the size of a 64-channel feature map (N/d);
- Swin's windowed attention (Liu et al., arXiv:2103.14030, §3.2) with M x M
  windows costs 2M²·hw·C instead of 2(hw)²C in its attention matmuls: linear
  in the number of positions, 64x cheaper at 56x56 with M = 7.

FLOPs here are counted from the shapes of the matmuls the code performs (a
counter wraps each matmul), not timed.
"""

import math

from quizcnn.proofkit import Proof, main


class MatmulCounter:
    """Counts multiply-adds of each matmul: (..., n, k) @ (..., k, m) costs batch * n * k * m.

    With dry=True it returns a tensor of the result's shape without computing it, so
    the cost of a large case can be counted in no time.
    """

    def __init__(self, torch, dry=False):
        self.torch, self.dry, self.macs = torch, dry, 0

    def mm(self, a, b):
        batch = math.prod(a.shape[:-2])
        n, k, m = a.shape[-2], a.shape[-1], b.shape[-1]
        assert b.shape[-2] == k
        self.macs += batch * n * k * m
        if self.dry:  # the result's shape, backed by one element (no memory, no compute)
            return a.new_empty(()).expand(*a.shape[:-1], m)
        return a @ b


def attention(counter, q, k, v):
    """softmax(q kᵀ / sqrt(d_k)) v, counting the two matmuls."""
    scores = counter.mm(q, k.transpose(-2, -1))
    if counter.dry:
        return counter.mm(scores, v), scores
    weights = (scores / math.sqrt(q.shape[-1])).softmax(dim=-1)
    return counter.mm(weights, v), weights


def windows(x, m):
    """(B, H, W, C) -> (B * H/m * W/m, m*m, C): Swin's non-overlapping m x m windows."""
    b, h, w, c = x.shape
    x = x.view(b, h // m, m, w // m, m, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, m * m, c)


def run(proof: Proof) -> None:
    torch = proof.torch
    F = torch.nn.functional
    nn = torch.nn
    dev = proof.device
    dt = proof.float64
    tight = 1e-12 if dt == torch.float64 else 1e-5

    # --- 1. the formula and PyTorch's implementation ---------------------------------
    B, heads, N, d = 2, 3, 10, 16
    q, k, v = (torch.randn(B, heads, N, d, dtype=dt, device=dev) for _ in range(3))
    by_hand = ((q @ k.transpose(-2, -1)) / math.sqrt(d)).softmax(dim=-1) @ v
    sdpa = F.scaled_dot_product_attention(q, k, v)
    proof.below(
        "sdpa_equals_formula",
        "F.scaled_dot_product_attention vs softmax(QKᵀ/√d_k)V by hand: max abs error",
        (sdpa - by_hand).abs().max(),
        tight,
    )
    explicit = F.scaled_dot_product_attention(q, k, v, scale=1 / math.sqrt(d))
    unscaled = F.scaled_dot_product_attention(q, k, v, scale=1.0)
    proof.holds(
        "sdpa_default_scale",
        "SDPA's default scale is 1/√d_k (same as scale=1/√d_k, not as scale=1)",
        (explicit - sdpa).abs().max() < tight and (unscaled - sdpa).abs().max() > 1e-3,
    )
    _, weights = attention(MatmulCounter(torch), q, k, v)
    proof.below(
        "rows_sum_to_one",
        "each row of attention weights sums to 1: max |row sum - 1|",
        (weights.sum(dim=-1) - 1).abs().max(),
        tight,
    )

    # --- 2. why divide by sqrt(d_k) ------------------------------------------------
    # One draw serves every experiment: 10,000 query/key pairs with N(0, 1) entries.
    proof.reseed(1)
    qs = torch.randn(10_000, 512, dtype=dt, device=dev)
    ks = torch.randn(10_000, 512, dtype=dt, device=dev)
    variance_rows = []
    for d_k in (64, 512):
        dots = (qs[:, :d_k] * ks[:, :d_k]).sum(dim=1)  # the first d_k features
        variance_rows.append([d_k, dots.var().item(), (dots / math.sqrt(d_k)).var().item()])
    for d_k, var, scaled_var in variance_rows:
        proof.close(
            f"qk_variance_d{d_k}",
            f"variance of q·k over 10,000 pairs, unit-variance entries, d_k = {d_k}",
            var,
            d_k,
            0.05,
            rel=True,
        )
        proof.close(
            f"scaled_variance_d{d_k}",
            f"variance of q·k/√d_k, d_k = {d_k}",
            scaled_var,
            1.0,
            0.05,
        )
    proof.table(
        "Variance of a dot product of two vectors with independent N(0, 1) entries",
        ["d_k", "var(q·k)", "var(q·k/√d_k)"],
        variance_rows,
    )

    # Softmax over 16 keys at d_k = 512, with and without the scaling: 500 queries.
    d_k, n_keys = 512, 16
    ql = qs[:500, None, :]  # (500, 1, 512)
    kl = ks[:8000].view(500, n_keys, d_k)  # (500, 16, 512)
    logits = (ql @ kl.transpose(-2, -1)).squeeze(1)  # (500, 16)

    def softmax_stats(z):
        p = z.softmax(dim=-1)
        jac = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]  # d softmax / d logits
        return p.max(dim=-1).values.mean(), jac.flatten(1).norm(dim=1).mean()

    top_raw, jac_raw = softmax_stats(logits)
    top_scaled, jac_scaled = softmax_stats(logits / math.sqrt(d_k))
    proof.above(
        "unscaled_softmax_saturates",
        "d_k = 512, no scaling: mean largest weight of a softmax over 16 keys (1 = one-hot)",
        top_raw,
        0.85,
    )
    proof.below(
        "scaled_softmax_spreads",
        "the same with 1/√d_k: mean largest weight",
        top_scaled,
        0.5,
    )
    proof.above(
        "scaling_restores_gradient",
        "norm of the softmax Jacobian, scaled / unscaled logits (mean over 500 queries)",
        jac_scaled / jac_raw,
        3.0,
    )

    # --- 3. multi-head attention in PyTorch -------------------------------------------
    mha12 = nn.MultiheadAttention(768, 12)
    mha1 = nn.MultiheadAttention(768, 1)
    n12 = sum(p.numel() for p in mha12.parameters())
    proof.close(
        "mha_params",
        "nn.MultiheadAttention(768, 12) parameters vs 4d² + 4d",
        n12,
        4 * 768**2 + 4 * 768,
        0,
    )
    proof.close(
        "mha_params_independent_of_heads",
        "parameters with 1 head minus with 12 heads (d = 768)",
        sum(p.numel() for p in mha1.parameters()) - n12,
        0,
        0,
    )
    D, h = 32, 4
    mha = nn.MultiheadAttention(D, h, batch_first=True, device=dev, dtype=dt).eval()
    x = torch.randn(2, 9, D, dtype=dt, device=dev)
    with torch.no_grad():
        out, _ = mha(x, x, x, need_weights=False)
        qkv = x @ mha.in_proj_weight.T + mha.in_proj_bias  # (2, 9, 3D): Q, K, V side by side

        def split(t):  # (2, 9, D) -> (2, h, 9, D/h): each head gets a slice of the features
            return t.view(2, 9, h, D // h).transpose(1, 2)

        qh, kh, vh = (split(t) for t in qkv.chunk(3, dim=-1))
        heads_out = F.scaled_dot_product_attention(qh, kh, vh)  # scale 1/sqrt(D/h)
        concat = heads_out.transpose(1, 2).reshape(2, 9, D)
        hand = mha.out_proj(concat)
    proof.below(
        "mha_matches_hand",
        "nn.MultiheadAttention(32, 4) vs per-head SDPA on slices + concat + out_proj",
        (out - hand).abs().max(),
        1e-10 if dt == torch.float64 else 1e-5,
    )

    # --- 4. cost in the number of positions N -------------------------------------------
    d = 64
    sizes = [(7, 7), (14, 14), (28, 28), (56, 56)]
    cost_rows = []
    for hgt, wid in sizes:
        n = hgt * wid
        small = n <= 784  # compute small cases for real, count the large one dry
        counter = MatmulCounter(torch, dry=not small)
        t = torch.randn(1, n, d, device=dev) if small else torch.empty(1, n, d, device=dev)
        _, scores = attention(counter, t, t, t)
        cost_rows.append(
            [f"{hgt}x{wid}", n, scores.numel(), scores.numel() * 4 / 1e6, counter.macs]
        )
    proof.holds(
        "score_entries_n_squared",
        "the score matrix has N² entries for N = 49, 196, 784, 3136",
        all(row[2] == row[1] ** 2 for row in cost_rows),
        ", ".join(str(row[2]) for row in cost_rows),
    )
    proof.close(
        "attention_macs_formula",
        "multiply-adds of QKᵀ and AV at N = 3136, d = 64 vs 2N²d",
        cost_rows[-1][4],
        2 * 3136**2 * d,
        0,
    )
    proof.close(
        "quadratic_growth",
        "multiply-adds at 56x56 / at 28x28 (4x the positions)",
        cost_rows[-1][4] / cost_rows[-2][4],
        16,
        0,
    )
    scores56 = torch.empty(3136, 3136, dtype=torch.float32, device=dev)
    bytes56 = scores56.numel() * scores56.element_size()
    proof.close(
        "attn_matrix_bytes_56",
        "bytes of one fp32 (3136, 3136) score matrix: 56x56 map, one head, one image",
        bytes56,
        3136**2 * 4,
        0,
    )
    features56 = torch.empty(3136, d, dtype=torch.float32, device=dev)
    proof.close(
        "attn_matrix_vs_features",
        "score matrix bytes / bytes of the 56x56x64 feature map it comes from (N/d)",
        bytes56 / (features56.numel() * features56.element_size()),
        3136 / d,
        0,
    )
    proof.table(
        "Global self-attention on an HxW map, d = 64, one head, one image (fp32)",
        ["map", "N", "score entries", "score MB", "MACs of QKᵀ and AV"],
        cost_rows,
    )

    # --- 5. Swin: attention inside M x M windows ----------------------------------------
    C, M = 96, 7
    swin_rows = []
    for side in (56, 112):
        fmap = torch.empty(1, side, side, C, device=dev)
        win = windows(fmap, M)
        local = MatmulCounter(torch, dry=True)
        attention(local, win, win, win)
        full = MatmulCounter(torch, dry=True)
        tokens = fmap.reshape(1, side * side, C)
        attention(full, tokens, tokens, tokens)
        swin_rows.append([f"{side}x{side}", win.shape[0], full.macs, local.macs])
    (_, n_win56, full56, local56), (_, _, full112, local112) = swin_rows
    proof.close(
        "swin_window_count",
        "7x7 windows on a 56x56 map (Swin-T stage 1)",
        n_win56,
        64,
        0,
    )
    proof.close(
        "swin_window_macs_formula",
        "windowed attention matmuls at 56x56, C = 96 vs 2·M²·hw·C",
        local56,
        2 * M * M * 56 * 56 * C,
        0,
    )
    proof.close(
        "swin_vs_global_ratio",
        "global / windowed attention-matmul cost at 56x56 (hw / M²)",
        full56 / local56,
        56 * 56 / (M * M),
        0,
    )
    proof.close(
        "swin_linear_in_n",
        "windowed cost at 112x112 / at 56x56 (4x the positions: linear)",
        local112 / local56,
        4,
        0,
    )
    proof.close(
        "global_quadratic_in_n",
        "global cost at 112x112 / at 56x56 (quadratic)",
        full112 / full56,
        16,
        0,
    )
    proof.table(
        "Attention matmul multiply-adds, C = 96: global vs 7x7 windows (projections excluded)",
        ["map", "windows", "global 2(hw)²C", "windowed 2M²hwC"],
        swin_rows,
    )


if __name__ == "__main__":
    main(run, __doc__)
