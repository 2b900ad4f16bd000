"""ViT's patch embedding: a strided convolution, 196 tokens, and the equivariance it gives up

ViT (Dosovitskiy et al., arXiv:2010.11929, §3.1) cuts an image into P x P
patches, flattens each one and maps it to D dimensions with one learned linear
projection (Eq. 1), prepends a learned [class] token and adds learned 1-D
position embeddings. Measured here:

- nn.Conv2d(3, D, kernel_size=P, stride=P) is exactly that projection: it
  equals unfold (or a reshape) into flattened patches followed by nn.Linear
  with the conv's weight reshaped to (D, 3·P²), to float64 round-off;
- a 224x224 image with P = 16 gives 14 x 14 = 196 patch tokens, 197 with
  [class]; ViT-B/16 built from PyTorch layers has 86.6M parameters;
- shifting the image by P pixels shifts the token grid by exactly one cell,
  but a 1-pixel shift gives tokens that are no shift of the old ones, while a
  stride-1 convolution with the same kernel is exactly shift-equivariant;
- without position embeddings a transformer encoder layer is permutation
  equivariant: shuffle the tokens and the outputs shuffle the same way, so the
  order of the patches (the 2-D layout) reaches the model only through the
  position embeddings, which start random and must learn it;
- fine-tuning at 384x384 keeps P and gets 577 tokens; the 14 x 14 position
  embeddings are interpolated in 2-D to 24 x 24 (§3.2).
"""

from quizcnn.proofkit import Proof, main


def run(proof: Proof) -> None:
    torch = proof.torch
    nn = torch.nn
    F = torch.nn.functional
    dev = proof.device
    dt = proof.float64
    tight = 1e-10 if dt == torch.float64 else 1e-4

    def count(module):
        return sum(p.numel() for p in module.parameters())

    # --- 1. patchify + linear = strided conv ------------------------------------------
    P, D = 16, 32
    x = torch.randn(2, 3, 224, 224, dtype=dt, device=dev)
    embed = nn.Conv2d(3, D, kernel_size=P, stride=P, device=dev, dtype=dt)
    with torch.no_grad():
        grid = embed(x)  # (2, D, 14, 14)
        tokens = grid.flatten(2).transpose(1, 2)  # (2, 196, D), row-major order of patches
        patches = F.unfold(x, kernel_size=P, stride=P).transpose(1, 2)  # (2, 196, 3*16*16)
        linear = nn.Linear(3 * P * P, D, device=dev, dtype=dt)
        linear.weight.copy_(embed.weight.reshape(D, -1))
        linear.bias.copy_(embed.bias)
        via_linear = linear(patches)
        # The same patches by reshape alone: (N, C, 14, P, 14, P) -> (N, 14, 14, C, P, P).
        reshaped = x.reshape(2, 3, 14, P, 14, P).permute(0, 2, 4, 1, 3, 5).reshape(2, 196, -1)
    proof.close(
        "tokens_224_p16",
        "patch tokens from a 224x224 image with P = 16",
        tokens.shape[1],
        196,
        0,
    )
    proof.below(
        "conv_equals_unfold_linear",
        "Conv2d(3, D, 16, stride=16) vs unfold + Linear with the same weights: max abs diff",
        (tokens - via_linear).abs().max(),
        tight,
    )
    proof.close(
        "reshape_equals_unfold",
        "patches by reshape/permute vs F.unfold: max abs diff (the same numbers, moved)",
        (reshaped - patches).abs().max(),
        0.0,
        0.0,
    )
    cls = torch.zeros(2, 1, D, dtype=dt, device=dev)
    sequence = torch.cat([cls, tokens], dim=1)
    proof.close(
        "sequence_length_with_cls",
        "sequence length entering the encoder: 196 patches + [class]",
        sequence.shape[1],
        197,
        0,
    )

    token_rows = []
    for size, patch in [(224, 16), (224, 32), (224, 14), (384, 16), (512, 16)]:
        with torch.no_grad():
            n = nn.Conv2d(3, 1, patch, stride=patch)(torch.empty(1, 3, size, size))[0, 0].numel()
        token_rows.append([f"{size}x{size}", patch, f"{size // patch}x{size // patch}", n, n + 1])
    proof.table(
        "Tokens per image: (H/P)·(W/P) patches, plus [class]",
        ["image", "P", "grid", "patch tokens", "with [class]"],
        token_rows,
    )

    # --- 2. ViT-B/16 parameters, from PyTorch layers ------------------------------------
    # The 12 encoder layers are identical: one is built and counted 12 times.
    width, depth, mlp = 768, 12, 3072
    patch_embed = nn.Conv2d(3, width, 16, stride=16)
    layer_b = nn.TransformerEncoderLayer(width, 12, mlp, activation="gelu", norm_first=True)
    head = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 1000))
    cls_and_pos = width + 197 * width  # learned [class] token and (197, 768) position table
    total = count(patch_embed) + depth * count(layer_b) + count(head) + cls_and_pos
    proof.close(
        "vit_b_patch_embed_params",
        "ViT-B/16 patch embedding Conv2d(3, 768, 16, stride=16): 3·16·16·768 + 768",
        count(patch_embed),
        3 * 16 * 16 * 768 + 768,
        0,
    )
    proof.close(
        "vit_b_layer_params",
        "one ViT-B encoder layer: attention 4d²+4d, MLP 2·d·4d + 5d, two LayerNorms 4d",
        count(layer_b),
        (4 * width**2 + 4 * width) + (2 * width * mlp + mlp + width) + 4 * width,
        0,
    )
    proof.close(
        "vit_b16_params",
        "ViT-B/16 parameters in millions (Table 1 of the paper: 86M)",
        total / 1e6,
        86.0,
        1.0,
    )
    proof.table(
        "ViT-B/16 parameters (1000 classes)",
        ["part", "parameters"],
        [
            ["patch embedding (conv 16x16, stride 16)", count(patch_embed)],
            ["[class] token + position table (197 x 768)", cls_and_pos],
            ["12 encoder layers", depth * count(layer_b)],
            ["final LayerNorm + linear head", count(head)],
            ["total", total],
        ],
    )

    # --- 3. shifts: by P, by 1, and a stride-1 conv -------------------------------------------
    small = torch.randn(1, 3, 64, 64, dtype=dt, device=dev)
    embed8 = nn.Conv2d(3, 8, P, stride=P, device=dev, dtype=dt)

    def token_grid(img):
        return embed8(img)  # (1, 8, 4, 4)

    def roll(t, dx):
        return torch.roll(t, shifts=dx, dims=-1)

    with torch.no_grad():
        g0 = token_grid(small)
        g_p = token_grid(roll(small, P))
        g_1 = token_grid(roll(small, 1))
        # the best any shift of the old grid can do at matching the new one
        best = min(((g_1 - roll(g0, s)).norm() / g0.norm()).item() for s in range(g0.shape[-1]))

        # a stride-1 conv with the same kernel, on a circularly padded image
        def dense(img):
            return F.conv2d(F.pad(img, (0, P - 1, 0, P - 1), mode="circular"), embed8.weight)

        d0, d1 = dense(small), dense(roll(small, 1))
    proof.below(
        "shift_by_p_shifts_tokens",
        "image rolled by P = 16 px: max |tokens - old tokens rolled by one grid cell|",
        (g_p - roll(g0, 1)).abs().max(),
        tight,
    )
    proof.above(
        "shift_by_1_not_equivariant",
        "image rolled by 1 px: smallest relative distance of the tokens to any roll of the old",
        best,
        0.1,
    )
    proof.below(
        "stride1_conv_equivariant",
        "stride-1 conv, same 16x16 kernel, image rolled by 1 px: max |out - old out rolled 1|",
        (d1 - roll(d0, 1)).abs().max(),
        tight,
    )

    # --- 4. what the encoder knows about patch order -----------------------------------------
    layer = nn.TransformerEncoderLayer(
        D, 4, 64, dropout=0.0, batch_first=True, norm_first=True, device=dev, dtype=dt
    ).eval()
    seq = torch.randn(1, 17, D, dtype=dt, device=dev)
    perm = torch.randperm(17, device=dev)
    pos = torch.randn(1, 17, D, dtype=dt, device=dev) * 0.5  # a (random) learned position table
    with torch.no_grad():
        out = layer(seq)
        out_perm = layer(seq[:, perm])
        with_pos = layer(seq + pos)
        with_pos_perm = layer(seq[:, perm] + pos)
    proof.below(
        "encoder_permutation_equivariant",
        "encoder layer, no position embeddings: max |f(tokens permuted) - f(tokens) permuted|",
        (out_perm - out[:, perm]).abs().max(),
        tight,
    )
    proof.above(
        "pos_embedding_breaks_permutation",
        "with position embeddings added: the same difference (relative)",
        (with_pos_perm - with_pos[:, perm]).norm() / with_pos.norm(),
        1e-2,
    )

    # --- 5. higher resolution at fine-tuning: interpolate the position table ------------------
    pos_table = torch.randn(1, 1 + 14 * 14, 768, dtype=dt, device=dev)
    cls_pos, grid_pos = pos_table[:, :1], pos_table[:, 1:]
    grid_pos = grid_pos.reshape(1, 14, 14, 768).permute(0, 3, 1, 2)  # (1, 768, 14, 14)
    resized = F.interpolate(grid_pos, size=(24, 24), mode="bicubic", align_corners=False)
    new_table = torch.cat([cls_pos, resized.flatten(2).transpose(1, 2)], dim=1)
    proof.close(
        "pos_embed_interpolated_length",
        "position table after 2-D interpolation for 384x384, P = 16 (24·24 + 1)",
        new_table.shape[1],
        577,
        0,
    )


if __name__ == "__main__":
    main(run, __doc__)
