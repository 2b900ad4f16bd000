"""Gradient accumulation: when k micro-batches equal one big batch, and when they do not

.grad in PyTorch accumulates: each backward() adds to it until zero_grad().
Gradient accumulation uses that to run k micro-batches of n and step once.

- Without BatchNorm, with a mean loss and equal micro-batches, summing the
  gradients of loss_j / k over the k micro-batches gives the big batch's
  gradient to rounding (float64, a few 1e-16). Forgetting the 1/k multiplies
  the gradient by exactly k (for plain SGD, the same as a k-times larger lr).
- With unequal micro-batches (32 = 10 + 10 + 10 + 2), dividing by k is wrong:
  the small micro-batch's samples get 4x the weight. Weighting loss_j by
  n_j / N (or summing the loss and dividing by N) is exact.
- With BatchNorm in training mode the equality breaks: each micro-batch is
  normalized with its own mean and variance, so the outputs, the gradients and
  the running statistics (updated k times instead of once, each time by
  r ← 0.9·r + 0.1·μ of that micro-batch) all differ. In eval
  mode BatchNorm is a fixed affine map and accumulation is exact again, and so
  it is with LayerNorm, which never mixes samples.
"""

from quizcnn.proofkit import Proof, main

N, K, D_IN, HIDDEN = 32, 4, 8, 16


def run(proof: Proof) -> None:
    torch = proof.torch
    proof.reseed(11)
    x = torch.randn(N, D_IN, device=proof.device, dtype=proof.float64)
    y = torch.randn(N, 1, device=proof.device, dtype=proof.float64)
    rows = []
    without_bn(proof, x, y, rows)
    unequal_micro_batches(proof, x, y, rows)
    with_batchnorm(proof, x, y, rows)
    proof.table(
        "Accumulated gradient vs big-batch gradient, batch 32 as 4 micro-batches",
        ["model / recipe", "max |difference| / max |big-batch gradient|"],
        rows,
    )


def net(proof: Proof, norm: str | None = None):
    torch = proof.torch
    proof.reseed(12)  # the same weights for every copy
    layers = [torch.nn.Linear(D_IN, HIDDEN)]
    if norm == "bn":
        layers.append(torch.nn.BatchNorm1d(HIDDEN))
    elif norm == "ln":
        layers.append(torch.nn.LayerNorm(HIDDEN))
    layers += [torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 1)]
    return torch.nn.Sequential(*layers).to(proof.device, proof.float64)


def grads(model) -> list:
    return [p.grad.detach().clone() for p in model.parameters()]


def big_batch_grad(model, x, y) -> list:
    model.zero_grad()
    ((model(x) - y) ** 2).mean().backward()
    return grads(model)


def accumulated_grad(model, x, y, sizes, weights) -> list:
    """backward() on each micro-batch's mean loss times its weight, without zero_grad between."""
    model.zero_grad()
    start = 0
    for size, weight in zip(sizes, weights, strict=True):
        xb, yb = x[start : start + size], y[start : start + size]
        (weight * ((model(xb) - yb) ** 2).mean()).backward()
        start += size
    return grads(model)


def gap(a: list, b: list) -> float:
    """Largest elementwise difference, relative to the largest big-batch gradient entry."""
    scale = max(t.abs().max().item() for t in b)
    return max((u - v).abs().max().item() for u, v in zip(a, b, strict=True)) / scale


def without_bn(proof: Proof, x, y, rows) -> None:
    torch = proof.torch
    model = net(proof)
    big = big_batch_grad(model, x, y)
    equal = [N // K] * K
    acc = accumulated_grad(model, x, y, equal, [1 / K] * K)
    proof.close(
        "accumulation_equals_big_batch",
        "no BN: Σ grad(loss_j / 4) over 4 micro-batches of 8 vs grad of the batch of 32 (relative)",
        gap(acc, big),
        0.0,
        1e-14,
    )
    rows.append(["MLP, loss_j / k", f"{gap(acc, big):.1e}"])
    forgot = accumulated_grad(model, x, y, equal, [1.0] * K)
    proof.close(
        "forgot_divide_is_k_times",
        "forgetting the / k: Σ|accumulated gradient| / Σ|big-batch gradient|",
        sum(f.abs().sum().item() for f in forgot) / sum(b.abs().sum().item() for b in big),
        float(K),
        1e-9,
    )
    proof.close(
        "forgot_divide_exact",
        "forgetting the / k: max |accumulated − k·big-batch| (relative)",
        gap(forgot, [K * b for b in big]),
        0.0,
        1e-14,
    )
    rows.append(["MLP, loss_j without / k", f"{gap(forgot, big):.1e}"])

    # What makes accumulation work: backward() adds into .grad.
    w = torch.ones(3, device=proof.device, dtype=proof.float64, requires_grad=True)
    (2 * w).sum().backward()
    (5 * w).sum().backward()
    proof.close(
        "grad_adds_up",
        "two backward() calls without zero_grad: w.grad (2 + 5 per entry)",
        w.grad.mean(),
        7.0,
        1e-15,
    )
    model.zero_grad()
    proof.holds(
        "zero_grad_sets_none",
        "module.zero_grad() leaves .grad None (set_to_none=True is the default)",
        all(p.grad is None for p in model.parameters()),
    )


def unequal_micro_batches(proof: Proof, x, y, rows) -> None:
    model = net(proof)
    big = big_batch_grad(model, x, y)
    sizes = [10, 10, 10, 2]
    naive = accumulated_grad(model, x, y, sizes, [1 / K] * K)
    proof.above(
        "unequal_divide_by_k_wrong",
        "micro-batches 10, 10, 10, 2 with loss_j / 4: gradient gap (relative)",
        gap(naive, big),
        1e-2,
    )
    weighted = accumulated_grad(model, x, y, sizes, [s / N for s in sizes])
    proof.close(
        "unequal_weight_by_size",
        "the same micro-batches with loss_j · n_j / N: gradient gap (relative)",
        gap(weighted, big),
        0.0,
        1e-14,
    )
    # Why: each sample's weight in the accumulated gradient. A per-sample scalar u_i
    # added to the loss as mean_j(u_i) exposes it: d(total)/du_i is sample i's weight.
    torch = proof.torch
    u = torch.zeros(N, device=proof.device, dtype=proof.float64, requires_grad=True)
    start = 0
    for size in sizes:
        (u[start : start + size].mean() / K).backward()
        start += size
    proof.close(
        "unequal_last_sample_weight",
        "loss_j / 4 with sizes 10/10/10/2: weight of a sample in the 2-sample micro-batch × N",
        u.grad[-1] * N,
        4.0,
        1e-12,
    )
    proof.close(
        "unequal_other_sample_weight",
        "the same for a sample in a 10-sample micro-batch (1 would be its fair share)",
        u.grad[0] * N,
        0.8,
        1e-12,
    )
    rows.append(["MLP, sizes 10/10/10/2, loss_j / k", f"{gap(naive, big):.1e}"])
    rows.append(["MLP, sizes 10/10/10/2, loss_j · n_j / N", f"{gap(weighted, big):.1e}"])


def with_batchnorm(proof: Proof, x, y, rows) -> None:
    torch = proof.torch
    equal = [N // K] * K
    big_model, acc_model = net(proof, "bn"), net(proof, "bn")
    big = big_batch_grad(big_model, x, y)
    acc = accumulated_grad(acc_model, x, y, equal, [1 / K] * K)
    proof.above(
        "bn_train_breaks_equality",
        "BN in train mode: accumulated vs big-batch gradient, gap (relative)",
        gap(acc, big),
        1e-2,
    )
    rows.append(["MLP + BatchNorm1d (train)", f"{gap(acc, big):.1e}"])
    with torch.no_grad():
        out_big = net(proof, "bn")(x)[: N // K]
        out_micro = net(proof, "bn")(x[: N // K])
    proof.above(
        "bn_output_depends_on_micro_batch",
        "BN in train mode: the first 8 samples' outputs, in the batch of 32 vs alone, max difference",
        (out_big - out_micro).abs().max(),
        1e-2,
    )
    bn_big, bn_acc = big_model[1], acc_model[1]
    proof.holds(
        "bn_running_stats_updated_k_times",
        "num_batches_tracked: 1 after the big batch, 4 after the accumulated micro-batches",
        int(bn_big.num_batches_tracked) == 1 and int(bn_acc.num_batches_tracked) == K,
    )
    proof.above(
        "bn_running_mean_differs",
        "running_mean after the big batch vs after the 4 micro-batches: max difference",
        (bn_big.running_mean - bn_acc.running_mean).abs().max(),
        1e-3,
    )
    with torch.no_grad():
        pre_bn = big_model[0](x)[:, 0]  # channel 0 before BN (no step was taken: same weights)
    micro_means = [pre_bn[j * (N // K) : (j + 1) * (N // K)].mean().item() for j in range(K)]
    running = 0.0
    for m in micro_means:  # BatchNorm1d's update, momentum 0.1, once per forward pass
        running = 0.9 * running + 0.1 * m
    proof.close(
        "bn_running_mean_recurrence",
        "running_mean[0] after the 4 micro-batches vs r ← 0.9·r + 0.1·μ_j over their means",
        bn_acc.running_mean[0].item() - running,
        0.0,
        1e-12,
    )
    proof.close(
        "bn_running_mean_one_update",
        "running_mean[0] after the batch of 32 vs 0.1 × its mean (a single update from 0)",
        bn_big.running_mean[0].item() - 0.1 * pre_bn.mean().item(),
        0.0,
        1e-12,
    )
    proof.table(
        "BatchNorm1d channel 0: batch means seen, and running_mean (momentum 0.1, starts at 0)",
        ["quantity", "value"],
        [[f"micro-batch {j + 1} mean", f"{m:.12f}"] for j, m in enumerate(micro_means)]
        + [
            ["batch of 32 mean", f"{pre_bn.mean().item():.12f}"],
            ["running_mean after the 4 micro-batches", f"{bn_acc.running_mean[0].item():.12f}"],
            ["running_mean after the batch of 32", f"{bn_big.running_mean[0].item():.12f}"],
        ],
    )
    eval_big, eval_acc = net(proof, "bn").eval(), net(proof, "bn").eval()
    eval_gap = gap(
        accumulated_grad(eval_acc, x, y, equal, [1 / K] * K), big_batch_grad(eval_big, x, y)
    )
    proof.close(
        "bn_eval_accumulation_exact",
        "BN in eval mode (running statistics): accumulated vs big-batch gradient (relative)",
        eval_gap,
        0.0,
        1e-14,
    )
    ln = net(proof, "ln")
    ln_big = big_batch_grad(ln, x, y)
    ln_acc = accumulated_grad(ln, x, y, equal, [1 / K] * K)
    proof.close(
        "layernorm_accumulation_exact",
        "LayerNorm instead of BN (train mode): accumulated vs big-batch gradient (relative)",
        gap(ln_acc, ln_big),
        0.0,
        1e-14,
    )
    rows.append(["MLP + BatchNorm1d (eval)", f"{eval_gap:.1e}"])
    rows.append(["MLP + LayerNorm", f"{gap(ln_acc, ln_big):.1e}"])


if __name__ == "__main__":
    main(run, __doc__)
