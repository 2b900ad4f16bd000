"""L1, L2 and smooth L1 / Huber: their gradients vs the residual, and outliers

For a residual r = prediction - target, per element:
- L1 (|r|): gradient sign(r), magnitude 1 however large or small the error;
  not differentiable at 0, where PyTorch returns 0.
- L2 / MSE (r²): gradient 2r, growing with the error, so one far outlier
  dominates the update.
- Smooth L1 (PyTorch, beta): 0.5 r²/beta for |r| < beta, |r| - 0.5 beta
  otherwise; gradient r/beta inside, sign(r) outside (Fast R-CNN uses beta = 1).
- Huber (PyTorch, delta): 0.5 r² for |r| < delta, delta (|r| - 0.5 delta)
  otherwise; it equals delta × smooth L1 with beta = delta, so its gradient
  is capped at delta instead of 1.

Measured with autograd on PyTorch's own loss functions in float64. Then the
consequence: fitting a constant to data with one outlier, the L2 fit is the
mean (pulled far) and the L1 fit is the median (barely moves); fitting a line,
the outlier tilts the least-squares line much more than the L1 line.

Not to be confused: an L1 *penalty* on the weights (lasso) is a different use
of |·|. Its constant-magnitude subgradient sets weights exactly to zero
(sparsity); an L2 penalty only shrinks them. Measured at the end.
"""

from quizcnn.proofkit import Proof, main

BETA = 0.5  # smooth L1 threshold used in the gradient checks


def grad_of(proof: Proof, loss_fn, r):
    """Per-element gradient of sum(loss(r, 0)) with respect to the residual r."""
    torch = proof.torch
    r = r.clone().requires_grad_(True)
    loss = loss_fn(r, torch.zeros_like(r), reduction="sum")
    (g,) = torch.autograd.grad(loss, r)
    return g


def gradients_vs_residual(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    r = torch.linspace(-3, 3, 25, dtype=f64, device=dev)  # includes r = 0 exactly
    zero = r.abs().argmin()

    g_l1 = grad_of(proof, F.l1_loss, r)
    g_l2 = grad_of(proof, F.mse_loss, r)
    g_smooth = grad_of(proof, lambda a, b, **k: F.smooth_l1_loss(a, b, beta=BETA, **k), r)

    proof.close(
        "l1_grad_is_sign",
        "max |dL1/dr - sign(r)| over r in [-3, 3]",
        (g_l1 - torch.sign(r)).abs().max(),
        0.0,
        1e-12,
    )
    proof.close(
        "l1_grad_at_zero",
        "PyTorch's L1 gradient at r = 0 (a subgradient; |r| has no derivative there)",
        g_l1[zero],
        0.0,
        1e-12,
    )
    proof.close(
        "l2_grad_is_2r",
        "max |dMSE/dr - 2r| over r in [-3, 3]",
        (g_l2 - 2 * r).abs().max(),
        0.0,
        1e-12,
    )
    expected_smooth = torch.where(r.abs() < BETA, r / BETA, torch.sign(r))
    proof.close(
        "smooth_l1_grad",
        f"max |d smoothL1/dr - (r/beta inside |r|<beta, sign(r) outside)|, beta = {BETA}",
        (g_smooth - expected_smooth).abs().max(),
        0.0,
        1e-12,
    )

    # One outlier at r = 100: its gradient under each loss.
    far = torch.tensor([100.0], dtype=f64, device=dev)
    proof.close(
        "outlier_grad_l2",
        "dMSE/dr at r = 100 (grows with the residual)",
        grad_of(proof, F.mse_loss, far),
        200.0,
        1e-9,
    )
    proof.close(
        "outlier_grad_l1",
        "dL1/dr at r = 100 (constant magnitude)",
        grad_of(proof, F.l1_loss, far),
        1.0,
        1e-12,
    )

    shown = list(range(0, len(r), 2))
    proof.plot(
        "Gradient vs residual r: L1 is ±1, L2 is 2r, smooth L1 (beta 0.5) is r/beta then ±1",
        "residual r",
        "dLoss/dr",
        [f"{r[i].item():g}" for i in shown],
        {
            "L1": [g_l1[i] for i in shown],
            "L2": [g_l2[i] for i in shown],
            "smooth L1": [g_smooth[i] for i in shown],
        },
    )


def smooth_l1_and_huber(proof: Proof) -> None:
    """PyTorch's definitions, and Huber(delta) = delta * SmoothL1(beta = delta)."""
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    r = torch.linspace(-4, 4, 81, dtype=f64, device=dev)
    zero = torch.zeros_like(r)

    by_hand = torch.where(r.abs() < BETA, 0.5 * r**2 / BETA, r.abs() - 0.5 * BETA)
    proof.close(
        "smooth_l1_definition",
        f"max |SmoothL1Loss - (0.5 r²/beta inside, |r| - 0.5 beta outside)|, beta = {BETA}",
        (F.smooth_l1_loss(r, zero, beta=BETA, reduction="none") - by_hand).abs().max(),
        0.0,
        1e-12,
    )
    worst = 0.0
    for delta in (0.5, 1.0, 2.0):
        huber = F.huber_loss(r, zero, delta=delta, reduction="none")
        smooth = F.smooth_l1_loss(r, zero, beta=delta, reduction="none")
        worst = max(worst, (huber - delta * smooth).abs().max().item())
    proof.close(
        "huber_is_delta_times_smooth_l1",
        "max |Huber(delta) - delta * SmoothL1(beta = delta)| for delta in {0.5, 1, 2}",
        worst,
        0.0,
        1e-12,
    )
    g_huber = grad_of(proof, lambda a, b, **k: F.huber_loss(a, b, delta=2.0, **k), r)
    proof.close(
        "huber_grad_capped_at_delta",
        "largest |dHuber/dr| with delta = 2 (Huber's linear part has slope delta)",
        g_huber.abs().max(),
        2.0,
        1e-12,
    )
    proof.close(
        "smooth_l1_beta_zero_is_l1",
        "max |SmoothL1(beta = 0) - L1| (beta -> 0 gives L1)",
        (
            F.smooth_l1_loss(r, zero, beta=0.0, reduction="none")
            - F.l1_loss(r, zero, reduction="none")
        )
        .abs()
        .max(),
        0.0,
        1e-12,
    )


def fit_constant(proof: Proof, data, loss_fn):
    """The constant c minimizing sum(loss(c, data)), found on a fine grid of candidates."""
    torch = proof.torch
    grid = torch.linspace(-5, 50, 55001, dtype=data.dtype, device=data.device)  # step 0.001
    losses = loss_fn(grid[:, None].expand(-1, len(data)), data.expand(len(grid), -1))
    return grid[losses.sum(1).argmin()]


def fit_line(proof: Proof, x, y, loss_fn, steps: int = 600):
    """Slope and intercept minimizing mean(loss(a x + b, y)), by Adam with a decaying lr."""
    torch = proof.torch
    params = torch.zeros(2, dtype=x.dtype, device=x.device, requires_grad=True)
    m = torch.zeros_like(params)
    v = torch.zeros_like(params)
    b1, b2, lr0 = 0.9, 0.999, 0.1
    for t in range(1, steps + 1):
        loss = loss_fn(params[0] * x + params[1], y, reduction="mean")
        (g,) = torch.autograd.grad(loss, params)
        with torch.no_grad():  # Adam, written out; lr decays linearly so L1 settles
            m.mul_(b1).add_((1 - b1) * g)
            v.mul_(b2).add_((1 - b2) * g * g)
            step = lr0 * (1 - t / steps) * (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + 1e-12)
            params -= step
    return params.detach()


def outlier_fits(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional

    # A constant model: ten readings near 1 and one outlier at 40.
    clean = 1.0 + 0.1 * torch.randn(10, dtype=f64, device=dev)
    data = torch.cat([clean, torch.tensor([40.0], dtype=f64, device=dev)])

    def squared(a, b):
        return (a - b) ** 2

    def absolute(a, b):
        return (a - b).abs()

    c_l2 = fit_constant(proof, data, squared)
    c_l1 = fit_constant(proof, data, absolute)
    proof.close(
        "l2_constant_is_mean",
        "L2-optimal constant equals the mean of the data (grid step 0.001)",
        c_l2,
        data.mean().item(),
        1e-3,
    )
    proof.close(
        "l1_constant_is_median",
        "L1-optimal constant equals the median of the data (11 points, grid step 0.001)",
        c_l1,
        data.median().item(),
        1e-3,
    )
    proof.close(
        "outlier_shift_l2",
        "how far the outlier moves the L2 fit from the clean mean: (40 - clean mean) / 11",
        c_l2 - clean.mean(),
        ((40.0 - clean.mean()) / 11).item(),
        1e-3,
    )
    proof.below(
        "outlier_shift_l1",
        "how far the outlier moves the L1 fit from the clean median",
        (c_l1 - clean.median()).abs(),
        0.2,
    )

    # A line y = 2x + 1 with one corrupted target.
    x = torch.linspace(0, 1, 20, dtype=f64, device=dev)
    y = 2 * x + 1 + 0.02 * torch.randn(20, dtype=f64, device=dev)
    y_clean = y.clone()
    y[-1] += 20.0
    # L2: the exact least-squares line. L1 and smooth L1: minimized with Adam.
    design = torch.stack([x, torch.ones_like(x)], 1)
    line_l2 = torch.linalg.lstsq(design, y[:, None]).solution.squeeze(1)
    clean_l2 = torch.linalg.lstsq(design, y_clean[:, None]).solution.squeeze(1)
    # Least squares is linear in y: a jump of 20 in the last target moves the slope
    # by 20 (x_last - mean x) / sum (x - mean x)², however wrong that point is.
    xc = x - x.mean()
    proof.close(
        "l2_slope_shift_closed_form",
        "slope shift of the least-squares line caused by the outlier, vs 20·(x_n - x̄)/Σ(x - x̄)²",
        line_l2[0] - clean_l2[0],
        (20.0 * xc[-1] / (xc**2).sum()).item(),
        1e-9,
    )
    line_l1 = fit_line(proof, x, y, F.l1_loss)
    line_smooth = fit_line(proof, x, y, F.smooth_l1_loss)
    proof.below(
        "l1_fit_beats_l2_line_on_l1",
        "mean |residual| of the L1 fit, vs that of the least-squares line",
        F.l1_loss(line_l1[0] * x + line_l1[1], y),
        F.l1_loss(line_l2[0] * x + line_l2[1], y).item(),
    )
    slope_err = {
        "L2": abs(line_l2[0].item() - 2.0),
        "L1": abs(line_l1[0].item() - 2.0),
        "smooth L1": abs(line_smooth[0].item() - 2.0),
    }
    proof.above(
        "l2_line_tilted_more",
        "slope error with one outlier: L2 / L1 (true slope 2)",
        slope_err["L2"] / max(slope_err["L1"], 1e-6),
        10.0,
    )
    proof.below(
        "smooth_l1_line_robust",
        "slope error of the smooth L1 (beta 1) fit, vs the L2 fit's error",
        slope_err["smooth L1"],
        slope_err["L2"] / 5,
    )
    proof.table(
        "Fits with one outlier",
        ["loss", "constant fit", "line slope (true 2)", "line intercept (true 1)"],
        [
            [
                "L2 / MSE",
                f"{c_l2.item():.3f}",
                f"{line_l2[0].item():.3f}",
                f"{line_l2[1].item():.3f}",
            ],
            ["L1", f"{c_l1.item():.3f}", f"{line_l1[0].item():.3f}", f"{line_l1[1].item():.3f}"],
            [
                "smooth L1",
                "-",
                f"{line_smooth[0].item():.3f}",
                f"{line_smooth[1].item():.3f}",
            ],
        ],
    )


def l1_penalty_vs_l2_penalty(proof: Proof) -> None:
    """L1 *regularization* (on weights) zeroes weights; L2 only shrinks them."""
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    n, d, lam = 100, 20, 0.1
    x = torch.randn(n, d, dtype=f64, device=dev)
    true_w = torch.zeros(d, dtype=f64, device=dev)
    true_w[:3] = torch.tensor([2.0, -1.5, 1.0], dtype=f64, device=dev)
    y = x @ true_w + 0.1 * torch.randn(n, dtype=f64, device=dev)
    gram, xty = x.T @ x / n, x.T @ y / n

    # Lasso, min (1/2N)‖Xw - y‖² + λ‖w‖₁, by proximal gradient (ISTA): a gradient
    # step on the squared error, then soft-thresholding, which sets small weights to 0.
    step = 1.0 / torch.linalg.eigvalsh(gram).max()
    w = torch.zeros(d, dtype=f64, device=dev)
    for _ in range(500):
        v = w - step * (gram @ w - xty)
        w = torch.sign(v) * (v.abs() - step * lam).clamp_min(0.0)
    # Optimality (subgradient) check: |∇_j| <= λ where w_j = 0, ∇_j = -λ sign(w_j) elsewhere.
    grad = gram @ w - xty
    zero = w == 0
    violation = torch.cat(
        [(grad[zero].abs() - lam).clamp_min(0.0), (grad[~zero] + lam * torch.sign(w[~zero])).abs()]
    )
    proof.below(
        "lasso_optimality",
        "largest violation of the L1-penalized optimality conditions (a true optimum)",
        violation.max(),
        1e-8,
    )
    # Ridge, min (1/2N)‖Xw - y‖² + (λ/2)‖w‖², in closed form.
    ridge = torch.linalg.solve(gram + lam * torch.eye(d, dtype=f64, device=dev), xty)
    proof.above(
        "l1_penalty_zeros",
        f"weights exactly 0 with an L1 penalty (λ = {lam}; 17 of 20 true weights are 0)",
        zero.sum(),
        10,
    )
    proof.close(
        "l2_penalty_no_zeros",
        "weights exactly 0 with an L2 penalty of the same λ (it shrinks, never zeroes)",
        (ridge == 0).sum(),
        0.0,
        0.0,
    )


def run(proof: Proof) -> None:
    gradients_vs_residual(proof)
    smooth_l1_and_huber(proof)
    proof.reseed(1)
    outlier_fits(proof)
    proof.reseed(2)
    l1_penalty_vs_l2_penalty(proof)


if __name__ == "__main__":
    main(run, __doc__)
