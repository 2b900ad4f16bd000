"""Overfitting and underfitting, and what weight decay really does in each optimizer

A two-hidden-layer MLP (1,153 parameters) is fitted to 10 noisy samples
of sin(πx) (noise std 0.5, so no model can beat a validation MSE of about
0.25), with full-batch Adam:

- Overfitting: the training loss falls to about 0 (the net memorizes the
  noise) while the validation loss, after an early minimum, rises again.
  Early stopping keeps the weights from that minimum.
- An L2 penalty (Adam's weight_decay) keeps the training loss above 0 and
  shrinks the gap between validation and training loss.
- Underfitting: a straight line cannot follow sin(πx); even its training loss
  stays far above the noise floor (about 0.2 of curvature plus the noise).

Then what `weight_decay` means, one optimizer step at a time:

- SGD(weight_decay=λ) is exactly SGD on loss + (λ/2)‖w‖², and so is
  Adam(weight_decay=λ): both add λw to the gradient (an L2 penalty).
- In Adam that added gradient is divided by √v̂, so it is not a decay of the
  weights: a weight with no loss gradient shrinks by about lr per step
  whatever λ is. AdamW decouples it: w ← (1 − lr·λ)·w, exactly, besides the
  Adam step (Loshchilov & Hutter, arXiv:1711.05101).
"""

import math

from quizcnn.proofkit import Proof, main

NOISE_STD = 0.5
STEPS = 400
EVERY = 10  # record the losses every EVERY steps


def run(proof: Proof) -> None:
    overfitting_and_remedies(proof)
    weight_decay_semantics(proof)


def make_data(proof: Proof):
    torch, dev = proof.torch, proof.device
    proof.reseed(1)
    x = torch.linspace(-1, 1, 10).unsqueeze(1)
    y = torch.sin(math.pi * x) + NOISE_STD * torch.randn(10, 1)
    x_val = torch.rand(400, 1) * 2 - 1
    y_val = torch.sin(math.pi * x_val) + NOISE_STD * torch.randn(400, 1)
    return x.to(dev), y.to(dev), x_val.to(dev), y_val.to(dev)


def fit(proof: Proof, data, *, init_seed: int, weight_decay: float = 0.0):
    """Train a 1-32-32-1 tanh MLP; return the net and its loss curves."""
    torch, dev = proof.torch, proof.device
    x, y, x_val, y_val = data
    proof.reseed(init_seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(1, 32),
        torch.nn.Tanh(),
        torch.nn.Linear(32, 32),
        torch.nn.Tanh(),
        torch.nn.Linear(32, 1),
    ).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=0.02, weight_decay=weight_decay)
    train_curve, val_curve = [], []
    for step in range(1, STEPS + 1):
        opt.zero_grad()
        torch.nn.functional.mse_loss(net(x), y).backward()
        opt.step()
        if step % EVERY == 0:
            with torch.no_grad():
                train_curve.append(torch.nn.functional.mse_loss(net(x), y).item())
                val_curve.append(torch.nn.functional.mse_loss(net(x_val), y_val).item())
    return net, train_curve, val_curve


def overfitting_and_remedies(proof: Proof) -> None:
    torch = proof.torch
    data = make_data(proof)
    x, y, x_val, y_val = data

    net, train, val = fit(proof, data, init_seed=10)
    best = min(range(len(val)), key=val.__getitem__)
    proof.below(
        "overfit_train_loss",
        "no regularization: final training MSE (the noise variance is 0.25)",
        train[-1],
        0.025,
    )
    proof.above(
        "val_rises",
        "no regularization: final validation MSE / its minimum during training",
        val[-1] / val[best],
        1.05,
    )
    proof.holds(
        "early_stop_point",
        "the validation minimum comes before the end of training (early stopping keeps it)",
        best < len(val) - 1,
        f"minimum at step {(best + 1) * EVERY} of {STEPS}",
    )

    _, train_l2, val_l2 = fit(proof, data, init_seed=10, weight_decay=0.01)
    gap, gap_l2 = val[-1] - train[-1], val_l2[-1] - train_l2[-1]
    proof.below(
        "l2_shrinks_gap",
        "validation − training MSE with L2 (weight_decay=0.01) / without",
        gap_l2 / gap,
        1.0,
    )
    proof.above(
        "l2_train_loss",
        "with L2: final training MSE (no longer memorizes the noise)",
        train_l2[-1],
        0.01,
    )

    # Underfitting: the best straight line, by least squares.
    design = torch.cat([x, torch.ones_like(x)], dim=1)
    coef = torch.linalg.pinv(design) @ y
    line_train = torch.nn.functional.mse_loss(design @ coef, y).item()
    line_val = torch.nn.functional.mse_loss(
        torch.cat([x_val, torch.ones_like(x_val)], dim=1) @ coef, y_val
    ).item()
    proof.above(
        "underfit_train_loss",
        "a straight line (underfits): training MSE, where the MLP reaches about 0",
        line_train,
        0.15,
    )
    proof.above(
        "underfit_val_loss",
        "a straight line: validation MSE, far above the 0.25 noise floor",
        line_val,
        0.3,
    )

    proof.table(
        "Final losses (MSE; the noise floor is 0.25)",
        ["model", "train", "validation", "gap"],
        [
            ["MLP, no regularization", f"{train[-1]:.4f}", f"{val[-1]:.4f}", f"{gap:.4f}"],
            [
                f"MLP, early-stopped at step {(best + 1) * EVERY}",
                f"{train[best]:.4f}",
                f"{val[best]:.4f}",
                f"{val[best] - train[best]:.4f}",
            ],
            [
                "MLP, L2 (weight_decay=0.01)",
                f"{train_l2[-1]:.4f}",
                f"{val_l2[-1]:.4f}",
                f"{gap_l2:.4f}",
            ],
            [
                "straight line",
                f"{line_train:.4f}",
                f"{line_val:.4f}",
                f"{line_val - line_train:.4f}",
            ],
        ],
    )
    proof.plot(
        "Training and validation loss, no regularization",
        "step",
        "MSE",
        [(i + 1) * EVERY for i in range(0, len(val), 3)],
        {"train": train[::3], "validation": val[::3]},
        log_y=True,
    )


def one_step(proof: Proof, optimizer_cls, penalty: float, **options):
    """Parameters after one step on loss (+ (penalty/2)·‖w‖² when penalty > 0)."""
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    proof.reseed(40)
    w = torch.randn(20, device=dev, dtype=f64, requires_grad=True)
    target = torch.randn(20, device=dev, dtype=f64)
    opt = optimizer_cls([w], lr=0.1, **options)
    for _ in range(3):  # a few steps, so Adam's moments are not trivial
        opt.zero_grad()
        loss = ((w - target) ** 4).sum() + 0.5 * penalty * (w**2).sum()
        loss.backward()
        opt.step()
    return w.detach()


def shrink_without_gradient(proof: Proof, optimizer_cls, weight_decay: float, steps: int = 100):
    """1 − w after `steps` steps for a weight w = 1 whose loss gradient is 0."""
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    w = torch.ones(1, device=dev, dtype=f64, requires_grad=True)
    opt = optimizer_cls([w], lr=1e-3, weight_decay=weight_decay)
    for _ in range(steps):
        opt.zero_grad()
        (0.0 * w).sum().backward()  # the loss does not depend on w
        opt.step()
    return 1.0 - w.item()


def weight_decay_semantics(proof: Proof) -> None:
    torch = proof.torch
    lam = 0.01
    proof.close(
        "sgd_weight_decay_is_l2",
        "SGD(weight_decay=λ) vs SGD on loss + (λ/2)‖w‖², momentum 0.9: max parameter difference",
        (
            one_step(proof, torch.optim.SGD, 0.0, weight_decay=lam, momentum=0.9)
            - one_step(proof, torch.optim.SGD, lam, momentum=0.9)
        )
        .abs()
        .max(),
        0.0,
        1e-9,
    )
    proof.close(
        "adam_weight_decay_is_l2",
        "Adam(weight_decay=λ) vs Adam on loss + (λ/2)‖w‖²: max parameter difference",
        (
            one_step(proof, torch.optim.Adam, 0.0, weight_decay=lam)
            - one_step(proof, torch.optim.Adam, lam)
        )
        .abs()
        .max(),
        0.0,
        1e-9,
    )
    proof.above(
        "adamw_is_not_l2",
        "AdamW(weight_decay=λ) vs Adam on loss + (λ/2)‖w‖²: max parameter difference",
        (
            one_step(proof, torch.optim.AdamW, 0.0, weight_decay=lam)
            - one_step(proof, torch.optim.Adam, lam)
        )
        .abs()
        .max(),
        1e-4,
    )

    adam = {wd: shrink_without_gradient(proof, torch.optim.Adam, wd) for wd in (1e-2, 1e-4)}
    adamw = {wd: shrink_without_gradient(proof, torch.optim.AdamW, wd) for wd in (1e-2, 1e-4)}
    proof.close(
        "adamw_exact_decay",
        "AdamW, weight with no loss gradient, 100 steps, lr 1e-3, λ = 1e-2: 1 − w (expected 1 − (1 − lr·λ)^100)",
        adamw[1e-2],
        1 - (1 - 1e-3 * 1e-2) ** 100,
        1e-4,
        rel=True,
    )
    proof.close(
        "adam_l2_shrink",
        "Adam + L2, same weight, λ = 1e-2: 1 − w ≈ 100 steps × lr = 0.1 (about lr per step)",
        adam[1e-2],
        0.1,
        0.005,
    )
    proof.close(
        "adamw_decay_scales_with_lambda",
        "AdamW: shrink at λ = 1e-2 / shrink at λ = 1e-4",
        adamw[1e-2] / adamw[1e-4],
        100,
        0.01,
        rel=True,
    )
    proof.close(
        "adam_l2_ignores_lambda",
        "Adam + L2: shrink at λ = 1e-2 / shrink at λ = 1e-4 (λ cancels in m/√v)",
        adam[1e-2] / adam[1e-4],
        1.0,
        0.01,
    )
    proof.table(
        "1 − w after 100 steps (lr 1e-3) for a weight w = 1 with no loss gradient",
        ["optimizer", "λ = 1e-2", "λ = 1e-4"],
        [
            ["Adam(weight_decay=λ)  (L2)", f"{adam[1e-2]:.3e}", f"{adam[1e-4]:.3e}"],
            ["AdamW(weight_decay=λ) (decoupled)", f"{adamw[1e-2]:.3e}", f"{adamw[1e-4]:.3e}"],
        ],
    )


if __name__ == "__main__":
    main(run, __doc__)
