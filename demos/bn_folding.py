"""Folding BatchNorm into the convolution before it; frozen BN and SyncBN

In eval mode BatchNorm is a fixed per-channel affine map, so a conv followed by
BN is one conv with new weights and bias, per output channel c:

    s_c = gamma_c / sqrt(running_var_c + eps)
    W'_c = s_c * W_c          b'_c = s_c * (b_c - running_mean_c) + beta_c

The proof measures that the folded conv equals conv -> BN in eval mode to about
1e-15 in float64 (by hand and with torch.nn.utils.fuse_conv_bn_eval), and that
it does NOT equal conv -> BN in training mode, where BN uses the batch's own
statistics (and moves its running ones). A BN placed before a zero-padded conv
folds exactly only away from the border. It also checks:

- frozen BN (torchvision's FrozenBatchNorm2d, rewritten here as a reference:
  four buffers, no parameters) is the same affine map; in model.train() its
  statistics never move and a sample's output ignores its batchmates, while a
  BN that was merely put in eval() mode goes back to batch statistics as soon
  as model.train() is called again;
- SyncBatchNorm's statistics: per-device sums of x and x^2 combined across
  devices give exactly the full-batch statistics, so a batch split over two
  "GPUs" is normalized as one batch; convert_sync_batchnorm swaps every
  BatchNorm*d and keeps its weights and running statistics;
- the parameter and buffer counts of each layer.
"""

from quizcnn.proofkit import Proof, main

EPS = 1e-5


def make_frozen_bn(torch):
    """A reference FrozenBatchNorm2d: the same four buffers and forward as
    torchvision.ops.FrozenBatchNorm2d (torchvision is not importable here)."""

    class _Frozen(torch.nn.Module):
        def __init__(self, num_features: int, eps: float = EPS):
            super().__init__()
            self.eps = eps
            # Buffers, not parameters: saved in the state_dict, never trained.
            self.register_buffer("weight", torch.ones(num_features))
            self.register_buffer("bias", torch.zeros(num_features))
            self.register_buffer("running_mean", torch.zeros(num_features))
            self.register_buffer("running_var", torch.ones(num_features))

        def forward(self, x):
            scale = self.weight * (self.running_var + self.eps).rsqrt()
            shift = self.bias - self.running_mean * scale
            return x * scale.reshape(1, -1, 1, 1) + shift.reshape(1, -1, 1, 1)

    return _Frozen


def run(proof: Proof) -> None:
    torch = proof.torch
    tight = 1e-10 if proof.float64 == torch.float64 else 1e-4
    folding(proof, torch, tight)
    fold_bn_before_padded_conv(proof, torch, tight)
    frozen_bn(proof, torch, tight)
    sync_bn(proof, torch, tight)
    counts(proof, torch)


def _trained_conv_bn(torch, dev, dt, bias: bool):
    """A conv -> BN pair whose BN has non-trivial gamma, beta and running statistics."""
    nn = torch.nn
    conv = nn.Conv2d(3, 8, 3, padding=1, bias=bias, device=dev, dtype=dt)
    bn = nn.BatchNorm2d(8, device=dev, dtype=dt)
    with torch.no_grad():
        bn.weight.copy_(torch.rand(8, device=dev, dtype=dt) * 2 + 0.2)
        bn.bias.copy_(torch.randn(8, device=dev, dtype=dt))
        for _ in range(5):  # a few training batches move the running statistics
            bn(conv(torch.randn(16, 3, 10, 10, device=dev, dtype=dt) * 2 + 1))
    return conv, bn


def fold(torch, conv, bn):
    """W' = s·W and b' = s·(b − μ) + β per output channel, s = γ / sqrt(σ² + ε)."""
    s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    b = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    w_folded = conv.weight * s.reshape(-1, 1, 1, 1)
    b_folded = s * (b - bn.running_mean) + bn.bias
    return w_folded, b_folded


def folding(proof: Proof, torch, tight) -> None:
    dev, dt = proof.device, proof.float64
    F = torch.nn.functional
    proof.reseed(1)
    conv, bn = _trained_conv_bn(torch, dev, dt, bias=True)
    x = torch.randn(4, 3, 10, 10, device=dev, dtype=dt) * 2 + 1
    with torch.no_grad():
        w_f, b_f = fold(torch, conv, bn)
        folded = F.conv2d(x, w_f, b_f, padding=1)
        conv.eval()
        bn.eval()
        reference = bn(conv(x))
        fused = torch.nn.utils.fuse_conv_bn_eval(conv, bn)
        proof.below(
            "folded_equals_eval",
            "folded conv vs conv -> BN in eval mode (float64): max abs difference",
            (folded - reference).abs().max(),
            tight,
        )
        proof.below(
            "by_hand_equals_fuse_conv_bn_eval",
            "hand-folded weights vs torch.nn.utils.fuse_conv_bn_eval: max abs difference",
            max((fused.weight - w_f).abs().max().item(), (fused.bias - b_f).abs().max().item()),
            tight,
        )
        # Training mode: BN normalizes with this batch's statistics, not the running ones.
        conv.train()
        bn.train()
        before = bn.running_mean.clone()
        train_out = bn(conv(x))
        proof.above(
            "folded_differs_from_train",
            "folded conv vs conv -> BN in TRAINING mode: max abs difference",
            (folded - train_out).abs().max(),
            0.05,
        )
        proof.above(
            "train_forward_moves_running_mean",
            "one training-mode forward: largest change of running_mean (the folded copy is now stale)",
            (bn.running_mean - before).abs().max(),
            1e-3,
        )
    try:
        torch.nn.utils.fuse_conv_bn_eval(conv, bn)
        refused = False
    except AssertionError:
        refused = True
    proof.holds(
        "fuse_refuses_training_mode",
        "fuse_conv_bn_eval on modules in training mode raises ('Fusion only for eval!')",
        refused,
    )
    # The card's worked example: a conv WITHOUT bias, gamma = 3, beta = 1, mu = 2, var = 9 - eps.
    no_bias = torch.nn.Conv2d(1, 1, 1, bias=False, device=dev, dtype=dt)
    bn1 = torch.nn.BatchNorm2d(1, device=dev, dtype=dt).eval()
    with torch.no_grad():
        no_bias.weight.fill_(0.5)
        bn1.weight.fill_(3.0)
        bn1.bias.fill_(1.0)
        bn1.running_mean.fill_(2.0)
        bn1.running_var.fill_(9.0 - bn1.eps)
        fused1 = torch.nn.utils.fuse_conv_bn_eval(no_bias.eval(), bn1)
    proof.close(
        "example_folded_bias",
        "conv without bias + BN(γ=3, β=1, μ=2, σ²+ε=9): folded bias β − γμ/√(σ²+ε)",
        fused1.bias[0],
        -1.0,
        1e-9,
    )
    proof.close(
        "example_folded_weight",
        "same example, conv weight 0.5: folded weight 0.5·γ/√(σ²+ε)",
        fused1.weight.flatten()[0],
        0.5,
        1e-9,
    )


def fold_bn_before_padded_conv(proof: Proof, torch, tight) -> None:
    """BN -> conv folds into the conv's input side, but zero padding breaks it at the border."""
    dev, dt = proof.device, proof.float64
    F = torch.nn.functional
    proof.reseed(2)
    c_in, c_out = 4, 5
    s = torch.rand(c_in, device=dev, dtype=dt) + 0.5  # BN in eval: y = s·x + t per channel
    t = torch.randn(c_in, device=dev, dtype=dt) * 2
    w = torch.randn(c_out, c_in, 3, 3, device=dev, dtype=dt)
    b = torch.randn(c_out, device=dev, dtype=dt)
    x = torch.randn(2, c_in, 8, 8, device=dev, dtype=dt)
    bn_x = x * s.reshape(1, -1, 1, 1) + t.reshape(1, -1, 1, 1)
    w_in = w * s.reshape(1, -1, 1, 1)  # scale each INPUT channel
    b_in = b + (w * t.reshape(1, -1, 1, 1)).sum(dim=(1, 2, 3))
    exact = F.conv2d(bn_x, w, b, padding=1)
    folded = F.conv2d(x, w_in, b_in, padding=1)
    diff = (exact - folded).abs()
    proof.below(
        "pre_conv_fold_interior_exact",
        "BN -> conv(3x3, padding=1) folded into the conv: max difference away from the border",
        diff[..., 1:-1, 1:-1].max(),
        tight,
    )
    proof.above(
        "pre_conv_fold_border_wrong",
        "same fold: max difference on the border pixels (padding adds 0, not BN's shift t)",
        diff.max(),
        0.05,
    )
    no_pad = (F.conv2d(bn_x, w, b) - F.conv2d(x, w_in, b_in)).abs().max()
    proof.below(
        "pre_conv_fold_no_padding_exact",
        "same fold with padding=0: max difference everywhere",
        no_pad,
        tight,
    )


def frozen_bn(proof: Proof, torch, tight) -> None:
    dev, dt = proof.device, proof.float64
    nn = torch.nn
    proof.reseed(3)
    C = 6
    bn = nn.BatchNorm2d(C, device=dev, dtype=dt)
    with torch.no_grad():
        bn.weight.copy_(torch.rand(C, device=dev, dtype=dt) + 0.5)
        bn.bias.copy_(torch.randn(C, device=dev, dtype=dt))
        for _ in range(3):
            bn(torch.randn(8, C, 5, 5, device=dev, dtype=dt) * 3 + 2)
    frozen = make_frozen_bn(torch)(C).to(device=dev, dtype=dt)
    frozen.load_state_dict({k: v for k, v in bn.state_dict().items() if k != "num_batches_tracked"})
    x = torch.randn(4, C, 5, 5, device=dev, dtype=dt) * 3 + 2
    frozen.train()  # as during fine-tuning: the whole model is in training mode
    with torch.no_grad():
        bn.eval()
        proof.below(
            "frozen_equals_bn_eval",
            "FrozenBatchNorm2d (model.train()) vs BatchNorm2d in eval, same numbers: max abs diff",
            (frozen(x) - bn(x)).abs().max(),
            tight,
        )
        stats_before = frozen.running_mean.clone(), frozen.running_var.clone()
        for _ in range(3):
            frozen(torch.randn(2, C, 5, 5, device=dev, dtype=dt))
        moved = max(
            (frozen.running_mean - stats_before[0]).abs().max().item(),
            (frozen.running_var - stats_before[1]).abs().max().item(),
        )
        proof.close(
            "frozen_stats_never_move",
            "FrozenBatchNorm2d after 3 training-mode forwards: change of its statistics",
            moved,
            0.0,
            0.0,
        )
        others = x.clone()
        others[1:] = torch.randn(3, C, 5, 5, device=dev, dtype=dt)
        proof.close(
            "frozen_ignores_batchmates",
            "FrozenBatchNorm2d: change in sample 0's output when samples 1-3 are replaced",
            (frozen(others)[0] - frozen(x)[0]).abs().max(),
            0.0,
            0.0,
        )
        # "Freezing" a plain BN with .eval() is undone by the next model.train().
        model = nn.Sequential(bn)
        bn.eval()
        eval_out = model(x)
        model.train()  # what every training loop calls at the start of an epoch
        again = model(x)
    proof.above(
        "eval_freeze_undone_by_train",
        "BatchNorm2d put in eval(), then model.train(): output change (back to batch statistics)",
        (again - eval_out).abs().max(),
        0.05,
    )
    proof.close(
        "frozen_no_parameters",
        "FrozenBatchNorm2d(6): learnable parameters",
        sum(p.numel() for p in frozen.parameters()),
        0,
        0,
    )


def sync_bn(proof: Proof, torch, tight) -> None:
    """What SyncBatchNorm computes, without processes: combine per-device sums."""
    dev, dt = proof.device, proof.float64
    F = torch.nn.functional
    proof.reseed(4)
    C = 3
    # Two "GPUs" with 2 images each, from differently shifted data.
    gpu0 = torch.randn(2, C, 6, 6, device=dev, dtype=dt) + 1.5
    gpu1 = torch.randn(2, C, 6, 6, device=dev, dtype=dt) - 1.5
    full = torch.cat([gpu0, gpu1])
    # Each device contributes (count, sum, sum of squares) per channel; an all-reduce adds them.
    count = sum(g.numel() // C for g in (gpu0, gpu1))
    total = sum(g.sum(dim=(0, 2, 3)) for g in (gpu0, gpu1))
    total_sq = sum((g * g).sum(dim=(0, 2, 3)) for g in (gpu0, gpu1))
    mean = total / count
    var = total_sq / count - mean**2  # biased, as BN normalizes with
    synced = [
        (g - mean.reshape(1, -1, 1, 1)) / torch.sqrt(var.reshape(1, -1, 1, 1) + EPS)
        for g in (gpu0, gpu1)
    ]
    whole_batch = F.batch_norm(full, None, None, training=True, eps=EPS)
    per_device = torch.cat(
        [F.batch_norm(g, None, None, training=True, eps=EPS) for g in (gpu0, gpu1)]
    )
    proof.below(
        "sync_stats_equal_full_batch",
        "SyncBN-style statistics (summed over 2 devices) vs BN on the whole batch of 4: max abs diff",
        (torch.cat(synced) - whole_batch).abs().max(),
        tight,
    )
    proof.above(
        "per_device_bn_differs",
        "plain BN under DDP (each device normalizes its own 2 images) vs whole-batch BN: max abs diff",
        (per_device - whole_batch).abs().max(),
        0.5,
    )
    # convert_sync_batchnorm: every BatchNorm*d becomes SyncBatchNorm, weights kept.
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8)
    )
    with torch.no_grad():
        model[1].weight.uniform_(0.5, 1.5)
        model[1].running_mean.uniform_(-1, 1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    kinds = [type(m).__name__ for m in converted]
    proof.close(
        "convert_sync_bn_layers",
        "convert_sync_batchnorm on conv-BN-ReLU-conv-BN: number of SyncBatchNorm layers",
        kinds.count("SyncBatchNorm"),
        2,
        0,
    )
    after = converted.state_dict()
    proof.holds(
        "convert_sync_bn_keeps_state",
        "convert_sync_batchnorm keeps every weight and running statistic (same state_dict)",
        set(after) == set(before) and all(torch.equal(after[k], before[k]) for k in before),
    )


def counts(proof: Proof, torch) -> None:
    nn = torch.nn
    frozen_cls = make_frozen_bn(torch)

    def count(m):
        return sum(p.numel() for p in m.parameters()), sum(b.numel() for b in m.buffers())

    with torch.device("meta"):
        conv_bn = nn.Sequential(nn.Conv2d(64, 128, 3, bias=False), nn.BatchNorm2d(128))
        folded = nn.Conv2d(64, 128, 3, bias=True)
        layers = [
            ("nn.BatchNorm2d(256)", nn.BatchNorm2d(256)),
            ("nn.SyncBatchNorm(256)", nn.SyncBatchNorm(256)),
            ("FrozenBatchNorm2d(256)", frozen_cls(256)),
            ("nn.GroupNorm(32, 256)", nn.GroupNorm(32, 256)),
            ("Conv2d(64, 128, 3, bias=False) + BatchNorm2d(128)", conv_bn),
            ("folded: Conv2d(64, 128, 3, bias=True)", folded),
        ]
    rows = [[name, *count(m)] for name, m in layers]
    proof.table("Parameters and buffer values", ["layer", "parameters", "buffer values"], rows)
    by_name = {name: count(m) for name, m in layers}
    proof.close(
        "bn_buffers",
        "nn.BatchNorm2d(256): buffer values (running_mean, running_var, num_batches_tracked)",
        by_name["nn.BatchNorm2d(256)"][1],
        2 * 256 + 1,
        0,
    )
    proof.holds(
        "syncbn_same_counts_as_bn",
        "nn.SyncBatchNorm(256) has the same parameters and buffers as nn.BatchNorm2d(256)",
        by_name["nn.SyncBatchNorm(256)"] == by_name["nn.BatchNorm2d(256)"],
    )
    proof.close(
        "frozen_state_values",
        "FrozenBatchNorm2d(256): values in its state_dict (4 buffers of 256, no parameters)",
        by_name["FrozenBatchNorm2d(256)"][1],
        4 * 256,
        0,
    )
    proof.close(
        "conv_bn_params",
        "Conv2d(64, 128, 3, bias=False) + BatchNorm2d(128): learnable parameters",
        by_name["Conv2d(64, 128, 3, bias=False) + BatchNorm2d(128)"][0],
        128 * 64 * 9 + 2 * 128,
        0,
    )
    proof.close(
        "folded_params",
        "after folding, Conv2d(64, 128, 3, bias=True): parameters",
        by_name["folded: Conv2d(64, 128, 3, bias=True)"][0],
        128 * 64 * 9 + 128,
        0,
    )


if __name__ == "__main__":
    main(run, __doc__)
