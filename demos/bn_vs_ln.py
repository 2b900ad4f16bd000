"""BatchNorm vs LayerNorm: which axes, which statistics, train vs eval

BatchNorm2d (training mode) computes one mean and one variance per channel,
over the batch and the spatial positions (N, H, W); LayerNorm on an image
computes one mean and one variance per sample, over (C, H, W). That single
difference explains the rest, and this proof measures each consequence:

- a sample's BatchNorm output depends on the other samples in its batch, its
  LayerNorm (and GroupNorm) output does not;
- PyTorch keeps running statistics with new = (1 - m) * old + m * batch,
  m = 0.1 (Keras writes the same rule with its momentum = 1 - m, and its
  default 0.99 means m = 0.01); the stored running_var is the UNBIASED batch
  variance, while the training-mode output divides by the BIASED one;
- in eval mode BatchNorm uses those running statistics, so a batch of one works;
  in training mode BatchNorm1d refuses a batch of one;
- the learnable parameters are gamma and beta (2C); the running statistics are
  buffers; with gamma = sqrt(var + eps) and beta = mean the layer is the identity;
- BN only standardizes mean and variance: a skewed input stays exactly as skewed;
- tiny batches make the statistics noisy (with N = 2 every output is +-1);
- a step-by-step numpy forward and backward pass matches autograd.
"""

import numpy as np

from quizcnn.proofkit import Proof, main

EPS = 1e-5
MOMENTUM = 0.1


def numpy_bn_forward(x, gamma, beta, eps=EPS):
    """Training-mode BN on (N, D), one small step at a time, keeping what backward needs."""
    n = x.shape[0]
    mu = x.sum(axis=0) / n  # per-feature mean over the batch
    xc = x - mu  # centred input
    var = (xc**2).sum(axis=0) / n  # BIASED variance: divide by n, not n - 1
    std = np.sqrt(var + eps)
    inv_std = 1.0 / std
    xhat = xc * inv_std  # normalized: mean 0, variance var / (var + eps)
    out = gamma * xhat + beta  # scale and shift
    return out, (xc, inv_std, xhat, gamma)


def numpy_bn_backward(dout, cache):
    """Walk the forward steps in reverse; x reaches the loss through xc, mu and var."""
    xc, inv_std, xhat, gamma = cache
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    # xhat = xc * inv_std: a branch through xc and a branch through inv_std
    dinv_std = (dxhat * xc).sum(axis=0)
    dxc = dxhat * inv_std
    # inv_std = (var + eps)^(-1/2)
    dvar = -0.5 * inv_std**3 * dinv_std
    # var = sum(xc^2) / n
    dxc += 2.0 * xc * dvar / n
    # xc = x - mu and mu = sum(x) / n
    dmu = -dxc.sum(axis=0)
    dx = dxc + dmu / n
    return dx, dgamma, dbeta


def run(proof: Proof) -> None:
    torch = proof.torch
    dev = proof.device
    dt = proof.float64  # float64 so that "equal" means equal to ~1e-15
    tight = 1e-10 if dt == torch.float64 else 1e-4
    nn = torch.nn
    F = torch.nn.functional

    # A batch of images whose channels have very different means and scales.
    N, C, H, W = 8, 4, 5, 5
    shift = torch.tensor([3.0, -2.0, 0.5, 10.0], dtype=dt, device=dev).view(1, C, 1, 1)
    scale = torch.tensor([1.0, 4.0, 0.5, 2.0], dtype=dt, device=dev).view(1, C, 1, 1)
    x = torch.randn(N, C, H, W, dtype=dt, device=dev) * scale + shift

    # --- 1. the axes ------------------------------------------------------
    bn = nn.BatchNorm2d(C, device=dev, dtype=dt)  # training mode, gamma = 1, beta = 0
    ln = nn.LayerNorm([C, H, W], device=dev, dtype=dt)
    y_bn, y_ln = bn(x), ln(x)
    bn_mean = y_bn.mean(dim=(0, 2, 3))
    bn_var = y_bn.var(dim=(0, 2, 3), unbiased=False)
    ln_mean = y_ln.mean(dim=(1, 2, 3))
    ln_var = y_ln.var(dim=(1, 2, 3), unbiased=False)
    proof.below(
        "bn_channel_mean_zero",
        "BN output: largest |mean| of a channel over (N,H,W)",
        bn_mean.abs().max(),
        tight,
    )
    proof.close(
        "bn_channel_var_one",
        "BN output: variance of the worst channel over (N,H,W)",
        _farthest_from_one(bn_var),
        1.0,
        1e-4,
    )
    proof.below(
        "ln_sample_mean_zero",
        "LN output: largest |mean| of a sample over (C,H,W)",
        ln_mean.abs().max(),
        tight,
    )
    proof.close(
        "ln_sample_var_one",
        "LN output: variance of the worst sample over (C,H,W)",
        _farthest_from_one(ln_var),
        1.0,
        1e-4,
    )
    # BN's per-sample statistics and LN's per-channel statistics are NOT normalized.
    proof.above(
        "bn_leaves_samples_unnormalized",
        "BN output: largest |mean| of one sample over (C,H,W) (BN does not do this)",
        y_bn.mean(dim=(1, 2, 3)).abs().max(),
        0.01,
    )

    # --- 2. batchmates -----------------------------------------------------
    x_other = x.clone()
    x_other[1:] = torch.randn(N - 1, C, H, W, dtype=dt, device=dev) * scale + shift
    bn_change = (bn(x_other)[0] - y_bn[0]).abs().max().item()
    ln_change = (ln(x_other)[0] - y_ln[0]).abs().max().item()
    gn_change = (F.group_norm(x_other, 2)[0] - F.group_norm(x, 2)[0]).abs().max().item()
    proof.above(
        "bn_depends_on_batchmates",
        "BN (train): change in sample 0's output when samples 1..7 are replaced",
        bn_change,
        1e-2,
    )
    proof.below(
        "ln_ignores_batchmates",
        "LN: change in sample 0's output when samples 1..7 are replaced",
        ln_change,
        tight,
    )
    proof.below(
        "gn_ignores_batchmates",
        "GroupNorm(2 groups): change in sample 0's output when samples 1..7 are replaced",
        gn_change,
        tight,
    )
    proof.below(
        "gn_one_group_is_ln",
        "GroupNorm with 1 group vs LayerNorm over (C,H,W): max abs difference",
        (F.group_norm(x, 1) - F.layer_norm(x, [C, H, W])).abs().max(),
        tight,
    )

    # In a transformer, LayerNorm(d_model) on (batch, tokens, d_model) normalizes each token alone.
    tokens = torch.randn(4, 6, 8, dtype=dt, device=dev) * 3 + 1
    ln_tok = nn.LayerNorm(8, device=dev, dtype=dt)
    out_tok = ln_tok(tokens)
    other_tokens = tokens.clone()
    other_tokens[:, 1:] = torch.randn(4, 5, 8, dtype=dt, device=dev)
    proof.below(
        "ln_token_mean_zero",
        "LayerNorm(d_model) on (batch, tokens, d_model): largest |mean| of one token's features",
        out_tok.mean(dim=-1).abs().max(),
        tight,
    )
    proof.below(
        "ln_token_ignores_other_tokens",
        "LayerNorm(d_model): change in token 0's output when the other tokens are replaced",
        (ln_tok(other_tokens)[:, 0] - out_tok[:, 0]).abs().max(),
        tight,
    )

    # --- 3. running statistics ----------------------------------------------
    n = N * H * W  # values per channel
    bn = nn.BatchNorm2d(C, device=dev, dtype=dt)  # fresh: running_mean 0, running_var 1
    proof.close("momentum_default", "nn.BatchNorm2d default momentum", bn.momentum, MOMENTUM, 0.0)
    rm0, rv0 = bn.running_mean.clone(), bn.running_var.clone()
    y = bn(x)
    mean_b = x.mean(dim=(0, 2, 3))
    var_biased = x.var(dim=(0, 2, 3), unbiased=False)
    var_unbiased = x.var(dim=(0, 2, 3), unbiased=True)
    proof.below(
        "running_mean_update",
        "running_mean vs (1-0.1)*old + 0.1*batch_mean: max abs error",
        (bn.running_mean - ((1 - MOMENTUM) * rm0 + MOMENTUM * mean_b)).abs().max(),
        tight,
    )
    proof.below(
        "running_var_update_unbiased",
        "running_var vs (1-0.1)*old + 0.1*UNBIASED batch var: max abs error",
        (bn.running_var - ((1 - MOMENTUM) * rv0 + MOMENTUM * var_unbiased)).abs().max(),
        tight,
    )
    implied = (bn.running_var - (1 - MOMENTUM) * rv0) / MOMENTUM  # the variance it stored
    proof.close(
        "running_var_is_n_over_n_minus_1",
        f"stored batch variance / biased variance (n = N*H*W = {n})",
        (implied / var_biased).mean(),
        n / (n - 1),
        1e-9,
    )
    by_biased = (x - mean_b.view(1, C, 1, 1)) / (var_biased.view(1, C, 1, 1) + EPS).sqrt()
    by_unbiased = (x - mean_b.view(1, C, 1, 1)) / (var_unbiased.view(1, C, 1, 1) + EPS).sqrt()
    proof.below(
        "train_output_uses_biased_var",
        "train output vs (x - mean)/sqrt(BIASED var + eps): max abs error",
        (y - by_biased).abs().max(),
        tight,
    )
    proof.above(
        "train_output_not_unbiased",
        "train output vs (x - mean)/sqrt(UNBIASED var + eps): max abs difference",
        (y - by_unbiased).abs().max(),
        1e-4,
    )
    rm1, rv1 = bn.running_mean.clone(), bn.running_var.clone()
    x2 = torch.randn(N, C, H, W, dtype=dt, device=dev) * scale + shift
    bn(x2)
    proof.below(
        "running_mean_second_step",
        "second step: running_mean vs 0.9*previous + 0.1*new batch mean",
        (bn.running_mean - (0.9 * rm1 + 0.1 * x2.mean(dim=(0, 2, 3)))).abs().max(),
        tight,
    )
    proof.close(
        "num_batches_tracked",
        "num_batches_tracked after two training batches",
        bn.num_batches_tracked,
        2,
        0.0,
    )
    running_rows = [
        ["running_mean[0] before", float(rm0[0]), "0 (initial value)"],
        ["batch 1 mean[0]", float(mean_b[0]), "per channel over (N,H,W)"],
        ["running_mean[0] after batch 1", float(rm1[0]), "0.9*0 + 0.1*batch mean"],
        ["batch 1 var[0] biased", float(var_biased[0]), f"divide by n = {n}: used to normalize"],
        ["batch 1 var[0] unbiased", float(var_unbiased[0]), f"divide by n-1 = {n - 1}: stored"],
        ["running_var[0] after batch 1", float(rv1[0]), "0.9*1 + 0.1*unbiased var"],
    ]
    proof.table("Running statistics, channel 0", ["quantity", "value", "rule"], running_rows)

    # --- 4. eval mode ------------------------------------------------------
    bn.eval()
    x_test = torch.randn(N, C, H, W, dtype=dt, device=dev) * scale + shift
    expected_eval = (x_test - bn.running_mean.view(1, C, 1, 1)) / (
        bn.running_var.view(1, C, 1, 1) + EPS
    ).sqrt() * bn.weight.view(1, C, 1, 1) + bn.bias.view(1, C, 1, 1)
    y_eval = bn(x_test)
    proof.below(
        "eval_uses_running_stats",
        "eval output vs (x - running_mean)/sqrt(running_var + eps): max abs error",
        (y_eval - expected_eval).abs().max(),
        tight,
    )
    proof.below(
        "eval_single_sample_same",
        "eval: a sample alone vs inside its batch, max abs difference",
        (bn(x_test[:1]) - y_eval[:1]).abs().max(),
        tight,
    )
    bn.train()

    # --- 5. parameters vs buffers -------------------------------------------
    bn64 = nn.BatchNorm2d(64)
    ln64 = nn.LayerNorm([64, 8, 8])
    proof.close(
        "bn_learnable_params",
        "nn.BatchNorm2d(64): learnable parameters (gamma and beta)",
        sum(p.numel() for p in bn64.parameters()),
        2 * 64,
        0.0,
    )
    proof.close(
        "ln_learnable_params",
        "nn.LayerNorm([64, 8, 8]): learnable parameters (elementwise gamma and beta)",
        sum(p.numel() for p in ln64.parameters()),
        2 * 64 * 8 * 8,
        0.0,
    )
    buffers = dict(bn64.named_buffers())
    proof.holds(
        "bn_running_stats_are_buffers",
        "running_mean, running_var, num_batches_tracked are buffers without gradients",
        set(buffers) == {"running_mean", "running_var", "num_batches_tracked"}
        and not any(b.requires_grad for b in buffers.values())
        and {name for name, _ in bn64.named_parameters()} == {"weight", "bias"},
        f"buffers: {sorted(buffers)}",
    )

    # --- 6. gamma and beta can undo the normalization ------------------------
    ident = nn.BatchNorm2d(C, device=dev, dtype=dt)
    with torch.no_grad():
        ident.weight.copy_((var_biased + EPS).sqrt())
        ident.bias.copy_(mean_b)
    proof.below(
        "gamma_beta_recover_identity",
        "gamma = sqrt(var + eps), beta = mean: max |BN(x) - x|",
        (ident(x) - x).abs().max(),
        tight,
    )

    # --- 7. BN standardizes two moments, it does not make data Gaussian -------
    skewed = torch.empty(256, 2, 4, 4, dtype=dt, device=dev).exponential_()
    y_skewed = F.batch_norm(skewed, None, None, training=True)
    skew_in, skew_out = _skewness(skewed), _skewness(y_skewed)
    proof.below(
        "bn_keeps_skewness",
        "exponential input: |skewness after BN - skewness before| (worst channel)",
        (skew_out - skew_in).abs().max(),
        tight,
    )
    proof.above(
        "bn_output_not_gaussian",
        "skewness of the BN output (a Gaussian has 0; exponential has 2)",
        skew_out.min(),
        1.0,
    )

    # --- 8. batch size -------------------------------------------------------
    try:
        nn.BatchNorm1d(C, device=dev, dtype=dt)(torch.randn(1, C, dtype=dt, device=dev))
        refused, message = False, "no error"
    except ValueError as exc:
        refused, message = True, str(exc)
    proof.holds(
        "batch_of_one_refused",
        "BatchNorm1d in training on input (1, C) raises ValueError",
        refused,
        message,
    )
    pair = torch.randn(2, 16, dtype=dt, device=dev) * 3
    # With two samples, x - mean = +-d and the biased std is |d|: only the sign survives
    # (eps = 1e-20 here, as torch refuses 0; the default 1e-5 pulls |output| just below 1).
    y_pair = F.batch_norm(pair, None, None, training=True, eps=1e-20)
    proof.below(
        "batch_of_two_is_sign",
        "batch of 2, eps ~ 0: max | |output| - 1 | (every output is +1 or -1)",
        (y_pair.abs() - 1).abs().max(),
        tight,
    )
    sizes, spread = [2, 4, 8, 32, 128], []
    anchor = torch.randn(1, 16, dtype=dt, device=dev)
    for size in sizes:
        outs = []
        for _ in range(40):
            mates = torch.randn(size - 1, 16, dtype=dt, device=dev)
            outs.append(F.batch_norm(torch.cat([anchor, mates]), None, None, training=True)[0])
        spread.append(torch.stack(outs).std(dim=0).mean())
    proof.above(
        "small_batches_are_noisy",
        "spread of one sample's BN output over 40 random batches: batch 4 / batch 128",
        spread[1] / spread[-1],
        3.0,
    )
    proof.plot(
        "How much one sample's BN output moves with its batchmates",
        "batch size",
        "std of output over batches",
        sizes,
        {"BatchNorm (train)": spread},
        log_y=True,
    )

    # --- 9. numpy forward and backward vs autograd ------------------------------
    # (numpy works in float64 on the CPU; MPS has no float64, so its reference runs on CPU)
    ref_dev = dev if dev.type != "mps" else torch.device("cpu")
    rng = np.random.default_rng(proof.seed)
    xn = rng.normal(2.0, 3.0, size=(16, 5))
    gn_ = rng.normal(1.0, 0.5, size=5)
    bn_ = rng.normal(0.0, 0.5, size=5)
    doutn = rng.normal(size=(16, 5))
    out_np, cache = numpy_bn_forward(xn, gn_, bn_)
    dx_np, dg_np, db_np = numpy_bn_backward(doutn, cache)

    def tensor(a):
        return torch.tensor(a, dtype=torch.float64, device=ref_dev, requires_grad=True)

    xt, gt, bt = tensor(xn), tensor(gn_), tensor(bn_)
    out_t = F.batch_norm(xt, None, None, gt, bt, training=True, eps=EPS)
    out_t.backward(torch.tensor(doutn, dtype=torch.float64, device=ref_dev))
    errors = {
        "forward": np.abs(out_np - out_t.detach().cpu().numpy()).max(),
        "dx": np.abs(dx_np - xt.grad.cpu().numpy()).max(),
        "dgamma": np.abs(dg_np - gt.grad.cpu().numpy()).max(),
        "dbeta": np.abs(db_np - bt.grad.cpu().numpy()).max(),
    }
    for part, err in errors.items():
        proof.below(
            f"numpy_{part}_matches_autograd",
            f"numpy step-by-step {part} vs autograd (float64): max abs error",
            err,
            1e-8,
        )
    proof.below(
        "dx_sums_to_zero",
        "sum over the batch of dL/dx, per feature (mean subtraction removes it): max abs",
        np.abs(dx_np.sum(axis=0)).max(),
        1e-10,
    )
    # With eps = 0 the division by the standard deviation also removes the part of the
    # gradient along xhat (with eps > 0 a remainder of order eps / var is left).
    _, cache0 = numpy_bn_forward(xn, gn_, bn_, eps=0.0)
    dx0, _, _ = numpy_bn_backward(doutn, cache0)
    proof.below(
        "dx_orthogonal_to_xhat",
        "eps = 0: sum over the batch of dL/dx * xhat, per feature: max abs",
        np.abs((dx0 * cache0[2]).sum(axis=0)).max(),
        1e-10,
    )

    proof.table(
        "What each layer normalizes (x of shape (8, 4, 5, 5))",
        [
            "layer",
            "statistics over",
            "how many means",
            "learnable",
            "sample 0 moves with batchmates",
        ],
        [
            ["BatchNorm2d (train)", "(N, H, W), per channel", C, 2 * C, bn_change],
            ["LayerNorm([C,H,W])", "(C, H, W), per sample", N, 2 * C * H * W, ln_change],
            ["GroupNorm(2, C)", "(C/2, H, W), per sample", 2 * N, 2 * C, gn_change],
        ],
    )


def _farthest_from_one(values):
    return values[(values - 1).abs().argmax()]


def _skewness(t):
    """Per-channel sample skewness E[(x - mu)^3] / sigma^3 over (N, H, W)."""
    dims = (0, 2, 3)
    centred = t - t.mean(dim=dims, keepdim=True)
    return (centred**3).mean(dim=dims) / (centred**2).mean(dim=dims) ** 1.5


if __name__ == "__main__":
    main(run, __doc__)
