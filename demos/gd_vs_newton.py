"""Gradient descent vs Newton vs quasi-Newton (BFGS, L-BFGS), momentum and Adam

On a quadratic f(x) = ½ xᵀAx - bᵀx with condition number κ = λ_max/λ_min:
- Newton's step x - A⁻¹∇f lands on the minimum in one step, because it uses
  the curvature (the Hessian A). The price: n² numbers to store and an n³ solve.
- Gradient descent with step 1/L (L = λ_max) shrinks the error along the
  flattest direction by (1 - 1/κ) per step, so it needs about κ·ln(1/ε) steps:
  ten times the condition number, ten times the steps. A step above 2/L diverges.
- BFGS builds an inverse-Hessian estimate from gradient differences; with exact
  line search on a quadratic it reaches the minimum in n steps and its estimate
  equals A⁻¹. torch.optim.LBFGS keeps only the last few pairs (memory O(mn)).
- Momentum (heavy ball, torch.optim.SGD(momentum=β)) needs about √κ·ln(1/ε) steps.
- Adam divides each coordinate by its own running gradient scale: its first
  step moves every coordinate by about lr, whatever that coordinate's gradient.

Everything runs in float64 on a 10-dimensional quadratic with a random rotation.
"""

import math

from quizcnn.proofkit import Proof, main

DIM = 10
TOL = 1e-6  # "converged": error below TOL times the starting error
LBFGS_ITERATIONS = 30


def quadratic(proof: Proof, kappa: float):
    """A = Q diag(λ) Qᵀ with λ from 1 to kappa; returns A, b, x* and the flattest direction."""
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    q, _ = torch.linalg.qr(torch.randn(DIM, DIM, dtype=f64, device=dev))
    eig = torch.logspace(0, math.log10(kappa), DIM, dtype=f64, device=dev)
    a = q @ torch.diag(eig) @ q.T
    b = torch.randn(DIM, dtype=f64, device=dev)
    return a, b, torch.linalg.solve(a, b), q[:, 0]


def gd_steps(a, b, x_star, x0, lr: float, max_steps: int = 5000):
    """Gradient-descent steps until ‖x - x*‖ ≤ TOL·‖x0 - x*‖, and the error trace."""
    x, e0, trace = x0.clone(), (x0 - x_star).norm(), []
    for k in range(max_steps):
        err = ((x - x_star).norm() / e0).item()
        trace.append(err)
        if err <= TOL:
            return k, trace
        x = x - lr * (a @ x - b)
    return max_steps, trace


def newton_and_gd(proof: Proof) -> None:
    torch = proof.torch
    steps = {}
    for kappa in (10.0, 100.0):
        a, b, x_star, flattest = quadratic(proof, kappa)
        x0 = x_star + 3 * flattest  # start along the slowest direction: the worst case
        if kappa == 100.0:
            x_newton = x0 - torch.linalg.solve(a, a @ x0 - b)
            proof.close(
                "newton_one_step",
                "Newton: ‖x₁ - x*‖ / ‖x₀ - x*‖ after ONE step (κ = 100)",
                (x_newton - x_star).norm() / (x0 - x_star).norm(),
                0.0,
                1e-10,
            )
        steps[kappa], _ = gd_steps(a, b, x_star, x0, lr=1.0 / kappa)
        proof.close(
            f"gd_steps_kappa_{int(kappa)}",
            f"GD steps (lr = 1/L) to reduce the error by 1e6, κ = {kappa:g}: "
            "⌈ln(1e-6) / ln(1 - 1/κ)⌉",
            steps[kappa],
            math.ceil(math.log(TOL) / math.log(1 - 1 / kappa)),
            0.0,
        )
    proof.above(
        "gd_steps_scale_with_kappa",
        "GD steps at κ = 100 / steps at κ = 10 (about the ratio of the κ's)",
        steps[100.0] / steps[10.0],
        9.0,
    )

    # Learning rate: along λ_max the error is multiplied by |1 - lr·L| per step.
    a, b, x_star, _ = quadratic(proof, 100.0)
    eig, vecs = torch.linalg.eigh(a)
    x0 = x_star + vecs[:, -1]  # steepest direction
    growth = {}
    for factor in (1.9, 2.1):
        x = x0.clone()
        for _ in range(50):
            x = x - (factor / eig[-1]) * (a @ x - b)
        growth[factor] = ((x - x_star).norm() / (x0 - x_star).norm()).item()
    proof.close(
        "lr_below_2_over_L_converges",
        "error after 50 GD steps with lr = 1.9/L, vs 0.9⁵⁰",
        growth[1.9],
        0.9**50,
        1e-6,
        rel=True,
    )
    proof.close(
        "lr_above_2_over_L_diverges",
        "error after 50 GD steps with lr = 2.1/L (grows as 1.1⁵⁰)",
        growth[2.1],
        1.1**50,
        1e-6,
        rel=True,
    )


def bfgs_exact(proof: Proof) -> list[float]:
    """Textbook BFGS with exact line search: n steps on a quadratic, and H -> A⁻¹."""
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    a, b, x_star, _ = quadratic(proof, 100.0)
    x = x_star + torch.randn(DIM, dtype=f64, device=dev)
    e0, eye = (x - x_star).norm(), torch.eye(DIM, dtype=f64, device=dev)
    h, g, trace = eye.clone(), a @ x - b, [1.0]
    for _ in range(DIM):
        d = -h @ g
        s = (-(g @ d) / (d @ a @ d)) * d  # exact minimizer along d
        x = x + s
        g_new = a @ x - b
        y, g = g_new - g, g_new
        rho = 1.0 / (y @ s)
        h = (eye - rho * torch.outer(s, y)) @ h @ (eye - rho * torch.outer(y, s))
        h = h + rho * torch.outer(s, s)
        trace.append(((x - x_star).norm() / e0).item())
    proof.below(
        "bfgs_n_steps",
        f"BFGS (exact line search): error after n = {DIM} steps / starting error",
        trace[-1],
        1e-10,
    )
    proof.close(
        "bfgs_inverse_hessian",
        "BFGS: max |H_n - A⁻¹| after n steps (it learned the curvature)",
        (h - torch.linalg.inv(a)).abs().max(),
        0.0,
        1e-8,
    )
    return trace


def torch_optimizers(proof: Proof) -> dict:
    """L-BFGS, SGD with momentum and Adam from torch.optim on the κ = 100 quadratic."""
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    a, b, x_star, _ = quadratic(proof, 100.0)
    x0 = x_star + torch.randn(DIM, dtype=f64, device=dev)  # a random start this time
    e0 = (x0 - x_star).norm()

    def objective(x):
        return 0.5 * x @ a @ x - b @ x

    def closure_for(x, opt):
        def closure():
            opt.zero_grad()
            loss = objective(x)
            loss.backward()
            return loss

        return closure

    def lbfgs_error(iterations: int) -> float:
        """Relative error after one LBFGS.step() allowed `iterations` iterations."""
        x = x0.clone().requires_grad_(True)
        opt = torch.optim.LBFGS(
            [x],
            lr=1,
            max_iter=iterations,
            history_size=2 * DIM,  # keeps every pair here: full BFGS memory
            line_search_fn="strong_wolfe",
            tolerance_grad=1e-14,  # tolerances out of the way: run all iterations
            tolerance_change=1e-16,
        )
        opt.step(closure_for(x, opt))
        return ((x.detach() - x_star).norm() / e0).item()

    def momentum_trace(max_steps: int) -> list[float]:
        # Heavy-ball parameters tuned for κ = 100, μ = 1 (Polyak).
        sqrt_k = math.sqrt(100.0)
        x = x0.clone().requires_grad_(True)
        opt = torch.optim.SGD(
            [x], lr=4 / (sqrt_k + 1) ** 2, momentum=((sqrt_k - 1) / (sqrt_k + 1)) ** 2
        )
        trace = []
        for _ in range(max_steps):
            trace.append(((x.detach() - x_star).norm() / e0).item())
            if trace[-1] <= TOL:
                break
            opt.step(closure_for(x, opt))
        return trace

    lbfgs = {k: lbfgs_error(k) for k in (1, 2, 5, 10, 20, LBFGS_ITERATIONS)}
    momentum = momentum_trace(2000)
    gd_count, gd_trace = gd_steps(a, b, x_star, x0, lr=1.0 / 100.0)
    proof.below(
        "lbfgs_error",
        f"torch.optim.LBFGS: error / starting error after {LBFGS_ITERATIONS} iterations "
        f"(GD: {gd_trace[LBFGS_ITERATIONS]:.2f})",
        lbfgs[LBFGS_ITERATIONS],
        TOL,
    )
    proof.above(
        "gd_error_same_budget",
        f"GD: error / starting error after the same {LBFGS_ITERATIONS} steps",
        gd_trace[LBFGS_ITERATIONS],
        0.1,
    )
    proof.below(
        "momentum_steps",
        f"SGD with heavy-ball momentum: steps to reduce the error by 1e6 (GD: {gd_count})",
        len(momentum) - 1,
        gd_count / 4,
    )

    # Adam's first step: m̂ = g and v̂ = g², so each coordinate moves by lr·g/|g| = ±lr,
    # here on curvatures 1 to 1000 where the gradient coordinates differ by 1000×.
    curvature = torch.logspace(0, 3, DIM, dtype=f64, device=dev)
    x = torch.ones(DIM, dtype=f64, device=dev, requires_grad=True)
    adam = torch.optim.Adam([x], lr=0.01)
    (0.5 * (curvature * x * x).sum()).backward()
    grad = x.grad.clone()
    adam.step()
    moved = (x.detach() - 1.0).abs()
    proof.close(
        "adam_grad_spread",
        "largest / smallest |gradient coordinate| before Adam's first step",
        grad.abs().max() / grad.abs().min(),
        1000.0,
        1e-9,
        rel=True,
    )
    proof.close(
        "adam_first_step_is_lr",
        "Adam's first step (lr = 0.01): max over coordinates of | |Δx_i| - lr |",
        (moved - 0.01).abs().max(),
        0.0,
        1e-6,
    )
    return {"L-BFGS": lbfgs, "momentum": momentum, "GD": gd_trace}


def run(proof: Proof) -> None:
    newton_and_gd(proof)
    proof.reseed(1)
    bfgs = bfgs_exact(proof)
    proof.reseed(2)
    optim_traces = torch_optimizers(proof)

    shown = [0, 1, 2, 5, 10, 20, 30, 50, 100, 200, 500, 1000, 1375]

    def at(trace, k):  # a run that stopped keeps its last error
        return trace[min(k, len(trace) - 1)]

    lbfgs = optim_traces["L-BFGS"]
    lbfgs_line = [1.0] + [lbfgs[min(k, LBFGS_ITERATIONS)] for k in shown[1:]]

    proof.plot(
        "Error / starting error vs iteration, κ = 100 quadratic, n = 10 (floored at 1e-16)",
        "iteration",
        "relative error",
        shown,
        {
            "Newton": [1.0] + [1e-16] * (len(shown) - 1),
            "BFGS exact": [max(at(bfgs, k), 1e-16) for k in shown],
            f"L-BFGS (stops at {LBFGS_ITERATIONS})": [max(v, 1e-16) for v in lbfgs_line],
            "momentum (stops at 1e-6)": [at(optim_traces["momentum"], k) for k in shown],
            "GD": [at(optim_traces["GD"], k) for k in shown],
        },
        log_y=True,
    )
    n_params = 25.6e6  # ResNet-50
    proof.table(
        "Cost per step for n parameters (m = L-BFGS history)",
        ["method", "memory", "work per step", "n = 25.6M (ResNet-50), float32"],
        [
            ["GD / SGD", "O(n)", "one gradient", f"{4 * n_params / 1e6:.0f} MB"],
            ["Adam", "O(n) (2 extra buffers)", "one gradient", f"{12 * n_params / 1e6:.0f} MB"],
            ["L-BFGS (m = 10)", "O(mn)", "gradient + O(mn)", f"{4 * 21 * n_params / 1e9:.1f} GB"],
            ["Newton", "O(n²) Hessian", "O(n³) solve", f"{4 * n_params**2 / 1e15:.1f} PB"],
        ],
    )


if __name__ == "__main__":
    main(run, __doc__)
