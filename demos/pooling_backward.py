"""Pooling: how it back-propagates, when max or average wins, and global average pooling

Pooling has no weights, but gradients still flow through it:
- max pooling passes each output's gradient to the ONE input that was the
  maximum of its window (the argmax, remembered from the forward pass); every
  other input of the window gets zero;
- average pooling splits each output's gradient evenly: 1/k^2 to each of the
  k x k inputs of the window;
- with overlapping windows (3x3, stride 2) an input can sit in up to 2 windows
  per axis, so up to 4 in 2-D, and sums what each sends it. Either way the total
  gradient is conserved.

Neither pooling is "always better". Max pooling keeps the strongest response
and suits detecting whether a sparse feature is present; average pooling keeps
the mean and suits evidence spread over the whole region. Two synthetic tasks
show each one winning.

Global average pooling (Network in Network, §3.2) turns each C x H x W map into
C numbers with no parameters at all, replacing the large flatten + fully
connected head, and makes the head independent of the input size.
"""

from quizcnn.proofkit import Proof, main


def best_threshold_accuracy(neg, pos) -> float:
    """Accuracy of the best single threshold separating two sets of scores (pos above)."""
    scores = sorted([(float(v), 0) for v in neg] + [(float(v), 1) for v in pos])
    total = len(scores)
    right = len(pos)  # threshold below everything: every positive right, every negative wrong
    best = right
    for _, label in scores:  # move the threshold past one score at a time
        right += 1 if label == 0 else -1
        best = max(best, right)
    return best / total


def run(proof: Proof) -> None:
    torch = proof.torch
    nn = torch.nn
    F = torch.nn.functional
    dev = proof.device
    dt = proof.float64

    # --- 1. max pooling routes the gradient to the argmax ---------------------------
    x = torch.randn(1, 1, 8, 8, device=dev, dtype=dt, requires_grad=True)
    out, idx = F.max_pool2d(x, 2, 2, return_indices=True)
    upstream = torch.randn_like(out)  # any gradient arriving from the layers above
    out.backward(upstream)
    expected = torch.zeros(64, device=dev, dtype=dt)
    expected[idx.flatten()] = upstream.flatten()  # scatter to the remembered argmax positions
    proof.below(
        "max_grad_to_argmax",
        "max |max-pool input gradient - upstream gradient placed at the argmax|",
        (x.grad.flatten() - expected).abs().max(),
        1e-12,
    )
    per_window = (x.grad != 0).view(4, 2, 4, 2).sum(dim=(1, 3))
    proof.close(
        "max_nonzero_per_window",
        "inputs receiving gradient in each 2x2 window (max over windows)",
        per_window.max(),
        1,
        0,
    )
    proof.close(
        "max_grad_conserved",
        "sum of input gradients - sum of upstream gradients (max pool)",
        x.grad.sum() - upstream.sum(),
        0,
        1e-12,
    )

    # --- 2. average pooling splits it evenly -----------------------------------------
    for k in (2, 3):
        xa = torch.randn(1, 1, 6, 6, device=dev, dtype=dt, requires_grad=True)
        pooled = F.avg_pool2d(xa, k, k)
        pooled.sum().backward()  # an upstream gradient of 1 per output
        proof.close(
            f"avg_share_k{k}",
            f"each input's gradient under {k}x{k} average pooling (1/k^2)",
            xa.grad.max(),
            1 / k**2,
            1e-12,
        )
        proof.close(
            f"avg_share_uniform_k{k}",
            f"spread of the gradient within {k}x{k} windows (max - min)",
            xa.grad.max() - xa.grad.min(),
            0,
            1e-12,
        )

    # --- 3. overlapping windows: gradients add up -------------------------------------
    xo = torch.randn(1, 1, 9, 9, device=dev, dtype=dt, requires_grad=True)
    po = F.max_pool2d(xo, 3, 2)
    up = torch.rand_like(po) + 0.5  # positive, so counts are visible in the sums
    po.backward(up)
    proof.close(
        "overlap_grad_conserved",
        "3x3/2 max-pool: sum of input gradients - sum of upstream gradients",
        xo.grad.sum() - up.sum(),
        0,
        1e-12,
    )
    _, idx_o = F.max_pool2d(xo.detach(), 3, 2, return_indices=True)
    wins = torch.bincount(idx_o.flatten(), minlength=81)
    proof.above("overlap_multiple_wins", "windows won by the most-winning input", wins.max(), 1)

    # The most an input can win: 3x3 windows at stride 2 start at 0, 2, 4, 6, so
    # index 2 lies in two of them along each axis, i.e. in 2 x 2 = 4 windows.
    # A spike there wins all four and collects the sum of their gradients.
    xs = xo.detach().clone()
    xs[0, 0, 2, 2] = 100.0
    xs.requires_grad_(True)
    ps, idx_s = F.max_pool2d(xs, 3, 2, return_indices=True)
    ps.backward(up)
    proof.close(
        "overlap_max_windows",
        "3x3/2 max-pool: windows won by a spike at (2, 2) (2 per axis: up to 4)",
        (idx_s.flatten() == 2 * 9 + 2).sum(),
        4,
        0,
    )
    proof.close(
        "overlap_spike_gradient",
        "gradient at the spike - sum of the upstream gradients of its 4 windows",
        xs.grad[0, 0, 2, 2] - up[0, 0, :2, :2].sum(),
        0,
        1e-12,
    )

    # --- 4. max vs average: which one fits depends on the task ----------------------
    proof.reseed(1)
    n, side = 400, 16
    noise = torch.randn(2, n, side, side, device=dev, dtype=dt)

    # task A: is there one bright spot anywhere? (sparse feature)
    spot = noise[1].clone()
    rows, cols = torch.randint(0, side, (n,)), torch.randint(0, side, (n,))
    spot[torch.arange(n), rows, cols] += 4.0
    # task B: is the whole map slightly brighter? (evidence spread everywhere)
    glow = noise[1] + 0.2

    def pooled_scores(maps):
        return maps.amax(dim=(-2, -1)), maps.mean(dim=(-2, -1))

    neg_max, neg_avg = pooled_scores(noise[0])
    spot_max, spot_avg = pooled_scores(spot)
    glow_max, glow_avg = pooled_scores(glow)
    acc = {
        ("spot", "max"): best_threshold_accuracy(neg_max.tolist(), spot_max.tolist()),
        ("spot", "avg"): best_threshold_accuracy(neg_avg.tolist(), spot_avg.tolist()),
        ("glow", "max"): best_threshold_accuracy(neg_max.tolist(), glow_max.tolist()),
        ("glow", "avg"): best_threshold_accuracy(neg_avg.tolist(), glow_avg.tolist()),
    }
    proof.above(
        "max_wins_sparse",
        "one bright spot: accuracy(global max) - accuracy(global average)",
        acc[("spot", "max")] - acc[("spot", "avg")],
        0.15,
    )
    proof.above(
        "avg_wins_diffuse",
        "whole map +0.2: accuracy(global average) - accuracy(global max)",
        acc[("glow", "avg")] - acc[("glow", "max")],
        0.15,
    )
    proof.table(
        "Best-threshold accuracy of one pooled number (400 maps per class, 16x16 noise)",
        ["task", "global max pooling", "global average pooling"],
        [
            ["one +4 spot somewhere", acc[("spot", "max")], acc[("spot", "avg")]],
            ["every pixel +0.2", acc[("glow", "max")], acc[("glow", "avg")]],
        ],
    )

    # --- 5. global average pooling instead of a fully connected head ----------------------
    channels, classes, fmap = 512, 10, 7
    gap_head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, classes))
    fc_head = nn.Sequential(nn.Flatten(), nn.Linear(channels * fmap * fmap, classes))
    gap_only = nn.AdaptiveAvgPool2d(1)
    proof.close(
        "gap_params",
        "parameters of global average pooling itself",
        sum(1 for _ in gap_only.parameters()),
        0,
        0,
    )
    proof.close(
        "gap_head_params",
        f"GAP + Linear({channels}, {classes}) parameters",
        sum(p.numel() for p in gap_head.parameters()),
        channels * classes + classes,
        0,
    )
    proof.close(
        "fc_head_params",
        f"flatten {channels}x{fmap}x{fmap} + Linear parameters",
        sum(p.numel() for p in fc_head.parameters()),
        channels * fmap * fmap * classes + classes,
        0,
    )
    gap_head = gap_head.to(device=dev, dtype=dt)
    sizes_ok = all(
        gap_head(torch.randn(2, channels, s, s, device=dev, dtype=dt)).shape == (2, classes)
        for s in (7, 10, 13)
    )
    proof.holds(
        "gap_any_size",
        "the GAP head gives (N, 10) for 7x7, 10x10 and 13x13 maps",
        sizes_ok,
        "the flatten + FC head accepts only 7x7",
    )
    # NiN's version: the last conv outputs one map per class; GAP of each map is its score
    maps = torch.randn(2, classes, fmap, fmap, device=dev, dtype=dt)
    proof.below(
        "gap_is_mean",
        "max |GAP(class maps) - per-map mean| (NiN: one map per class, no FC at all)",
        (gap_only(maps).flatten(1) - maps.mean(dim=(-2, -1))).abs().max(),
        1e-12,
    )


if __name__ == "__main__":
    main(run, __doc__)
