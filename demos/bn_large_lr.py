"""BatchNorm lets you train with a learning rate that blows up the same net without it

BatchNorm makes a layer's output independent of the scale of the weights in
front of it: BN(a * W x) = BN(W x) for any a > 0. Two things follow, both
measured here in float64:

- the gradient with respect to W shrinks as the weights grow (it scales as 1/a)
  and is orthogonal to W, so a step that would enlarge the weights also damps
  the next step: a built-in brake on large learning rates;
- a deep ReLU MLP (8 layers, Kaiming init) trained with plain SGD at
  learning rate 2.0 diverges to inf/nan without BN and trains well with BN.
  At a small learning rate (0.1) both train: BN widens the range of usable rates.

This is what Ioffe & Szegedy (2015, section 3.3) argued and Bjorck et al. (2018)
measured. Why exactly it helps is still debated: Santurkar et al. (2018) show
that reducing "internal covariate shift" is not the reason, and point to a
smoother loss landscape instead.
"""

import math

from quizcnn.proofkit import Proof, main

DEPTH, WIDTH, IN, CLASSES = 8, 64, 16, 4
STEPS, BATCH, SAMPLES = 100, 64, 512
LEARNING_RATES = [0.1, 0.5, 2.0]
LARGE_LR = 2.0
CAP = 1e6  # losses above this (or nan) are drawn at the cap


def make_mlp(torch, batchnorm: bool, device):
    layers, width_in = [], IN
    for _ in range(DEPTH):
        # A bias in front of BN is cancelled by its mean subtraction, so BN nets drop it.
        linear = torch.nn.Linear(width_in, WIDTH, bias=not batchnorm)
        torch.nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        if linear.bias is not None:
            torch.nn.init.zeros_(linear.bias)
        layers.append(linear)
        if batchnorm:
            layers.append(torch.nn.BatchNorm1d(WIDTH))
        layers.append(torch.nn.ReLU())
        width_in = WIDTH
    layers.append(torch.nn.Linear(width_in, CLASSES))
    return torch.nn.Sequential(*layers).to(device)


def train(proof: Proof, batchnorm: bool, lr: float, x, y):
    """Plain SGD; returns per-step losses and the final accuracy on all samples."""
    torch = proof.torch
    proof.reseed(1)  # the same initial weights and batches for every run
    model = make_mlp(torch, batchnorm, proof.device)
    params = list(model.parameters())
    losses = []
    for _ in range(STEPS):
        idx = torch.randint(0, SAMPLES, (BATCH,), device=proof.device)
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():  # plain SGD, written out (torch.optim would add nothing here)
            for param, grad in zip(params, grads, strict=True):
                param -= lr * grad
        losses.append(loss.item())
        if not math.isfinite(losses[-1]):
            losses += [math.inf] * (STEPS - len(losses))  # blown up: nothing left to learn
            break
    model.eval()
    with torch.no_grad():
        accuracy = (model(x).argmax(dim=1) == y).float().mean().item()
    return losses, accuracy


def run(proof: Proof) -> None:
    torch = proof.torch
    dev = proof.device
    dt = proof.float64
    tight = 1e-10 if dt == torch.float64 else 1e-4
    F = torch.nn.functional

    # --- 1. scale invariance of a linear layer followed by BN (float64) -------
    x = torch.randn(32, 10, dtype=dt, device=dev)
    target = torch.randn(32, 6, dtype=dt, device=dev)
    w = torch.randn(6, 10, dtype=dt, device=dev)

    def loss_and_grad(weights):
        weights = weights.clone().requires_grad_(True)
        # eps ~ 0 makes the invariance exact; the default 1e-5 bends it at the 1e-6 level
        out = F.batch_norm(x @ weights.T, None, None, training=True, eps=1e-20)
        loss = ((out - target) ** 2).mean()
        loss.backward()
        return out.detach(), loss.item(), weights.grad

    a = 10.0
    out1, loss1, grad1 = loss_and_grad(w)
    out_a, loss_a, grad_a = loss_and_grad(a * w)
    proof.below(
        "bn_scale_invariant",
        "max |BN(10 W x) - BN(W x)| (float64)",
        (out_a - out1).abs().max(),
        tight,
    )
    proof.close(
        "grad_scales_inverse",
        "gradient norm at 10 W / gradient norm at W (expected 1/10)",
        grad_a.norm() / grad1.norm(),
        1 / a,
        1e-6,
        rel=True,
    )
    proof.below(
        "grad_orthogonal_to_w",
        "|<W, dL/dW>| / (|W| |dL/dW|): the gradient cannot change the weights' scale",
        (w * grad1).sum().abs() / (w.norm() * grad1.norm()),
        tight,
    )

    # --- 2. the same deep net with and without BN, over learning rates -------
    proof.reseed(0)
    x = torch.randn(SAMPLES, IN, device=dev)
    teacher = torch.randn(IN, CLASSES, device=dev)
    y = (x @ teacher).argmax(dim=1)  # a learnable 4-class task

    rows, curves = [], {}
    results = {}
    for lr in LEARNING_RATES:
        for batchnorm in (False, True):
            losses, accuracy = train(proof, batchnorm, lr, x, y)
            results[(lr, batchnorm)] = (losses, accuracy)
            worst = max(losses) if all(math.isfinite(v) for v in losses) else math.inf
            rows.append(
                [lr, "BN" if batchnorm else "no BN", losses[0], losses[-1], worst, accuracy]
            )
    for batchnorm in (False, True):
        losses = results[(LARGE_LR, batchnorm)][0]
        curves["BN" if batchnorm else "no BN"] = [
            min(v, CAP) if math.isfinite(v) else CAP for v in losses[::10]
        ]

    plain_losses, plain_acc = results[(LARGE_LR, False)]
    bn_losses, bn_acc = results[(LARGE_LR, True)]
    plain_blew_up = not all(math.isfinite(v) for v in plain_losses) or max(plain_losses) > 1e3
    proof.holds(
        "no_bn_diverges_at_large_lr",
        f"without BN, SGD at lr = {LARGE_LR}: the loss goes to inf/nan or above 1000",
        plain_blew_up,
        f"largest loss {max(plain_losses):.3g}, last {plain_losses[-1]:.3g}",
    )
    proof.above(
        "bn_trains_at_large_lr",
        f"with BN, SGD at lr = {LARGE_LR}: accuracy on the 512 training samples (chance 0.25)",
        bn_acc,
        0.8,
    )
    proof.holds(
        "bn_loss_stays_finite_at_large_lr",
        f"with BN, SGD at lr = {LARGE_LR}: every training loss is finite",
        all(math.isfinite(v) for v in bn_losses),
        f"largest loss {max(bn_losses):.3g}",
    )
    small = LEARNING_RATES[0]
    proof.above(
        "both_train_at_small_lr",
        f"lr = {small}: the worse of the two accuracies (no BN, BN): both learn",
        min(results[(small, False)][1], results[(small, True)][1]),
        0.6,
    )
    proof.table(
        f"{DEPTH}-layer ReLU MLP, Kaiming init, plain SGD, {STEPS} steps of batch {BATCH}",
        ["lr", "net", "first loss", "last loss", "largest loss", "accuracy"],
        rows,
    )
    proof.plot(
        f"Training loss at lr = {LARGE_LR} (every 10th step; inf/nan drawn at {CAP:g})",
        "step",
        "loss",
        list(range(0, STEPS, 10)),
        curves,
        log_y=True,
    )


if __name__ == "__main__":
    main(run, __doc__)
