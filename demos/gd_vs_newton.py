"""Gradient descent vs Newton vs quasi-Newton (BFGS, L-BFGS), momentum and Adam

On a quadratic f(x) = ½ xᵀAx - bᵀx with condition number κ = λ_max/λ_min:
- Newton's step x - A⁻¹∇f lands on the minimum in one step, because it uses
  the curvature (the Hessian A). The price: n² numbers to store and an n³ solve.
- Gradient descent with step 1/L (L = λ_max) shrinks the error along the
  flattest direction by (1 - 1/κ) per step, so it needs about κ·ln(1/ε) steps:
  ten times the condition number, ten times the steps. A step above 2/L diverges.
- BFGS builds an inverse-Hessian estimate H from the pairs s = step,
  y = change in gradient; with exact line search on a quadratic it reaches the
  minimum in n steps and H equals A⁻¹.
- L-BFGS never forms H. Its two-loop recursion applies, to the gradient, the
  BFGS matrix built from the last m pairs only, starting from (sᵀy / yᵀy)·I:
  2m vectors of memory instead of n². It is the recursion torch.optim.LBFGS
  runs. With exact line searches on a quadratic it makes the conjugate-gradient
  iterates whatever m, so m = 5 pairs in n = 10 dimensions still finish in about
  n steps. torch.optim.LBFGS's default has no line search (line_search_fn=None):
  fixed steps of lr, which on this problem is far slower (still far ahead of GD).
- Momentum in PyTorch's form (SGD(momentum=β): v ← βv + g, x ← x - lr·v),
  tuned as Polyak's heavy ball, needs about √κ·ln(1/ε) steps.
- Adam divides each coordinate by its own running gradient scale: its first
  step moves every coordinate by about lr, whatever that coordinate's gradient.

The three optimizers are written out in a few lines each, following the update
rules in the PyTorch docs of SGD, Adam and LBFGS, so they can be read here (the
tests run torch.optim on the same problem and get the same iterates). Writing
them out also keeps this proof fast: the first torch.optim optimizer built in a
process imports torch._dynamo, about a second on its own.

Everything runs in float64 on 10-dimensional quadratics with a random rotation.
"""

import math

from quizcnn.proofkit import Proof, main

DIM = 10
TOL = 1e-6  # "converged": error below TOL times the starting error
LBFGS_MEMORY = 5  # pairs kept, fewer than DIM
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


def bfgs_update(h, s, y):
    """BFGS inverse-Hessian update (V H Vᵀ + ρ s sᵀ, V = I - ρ s yᵀ, ρ = 1/yᵀs), expanded.

    The new H satisfies the secant condition H y = s.
    """
    rho, hy = 1.0 / (y @ s), h @ y
    outer = s[:, None] * hy[None, :]
    return h - rho * (outer + outer.T) + (rho + rho**2 * (y @ hy)) * s[:, None] * s[None, :]


def two_loop(grad, s_pairs, y_pairs):
    """L-BFGS direction -H·grad without forming H (Nocedal & Wright, Algorithm 7.4).

    H is the BFGS matrix built from the stored pairs, oldest first, starting from
    γI with γ = sᵀy / yᵀy of the newest pair, as torch.optim.LBFGS does.
    """
    q = -grad
    alphas = []
    for s, y in zip(reversed(s_pairs), reversed(y_pairs), strict=True):
        alpha = (s @ q) / (y @ s)
        q = q - alpha * y
        alphas.append(alpha)
    gamma = (s_pairs[-1] @ y_pairs[-1]) / (y_pairs[-1] @ y_pairs[-1]) if s_pairs else 1.0
    r = gamma * q
    for s, y, alpha in zip(s_pairs, y_pairs, reversed(alphas), strict=True):
        beta = (y @ r) / (y @ s)
        r = r + (alpha - beta) * s
    return r


def lbfgs(a, b, x0, memory: int, iterations: int, line_search: bool = True, lr: float = 1.0):
    """L-BFGS on the quadratic; returns the iterates.

    line_search=True: the exact minimizer along each direction (what a line search
    approximates). line_search=False: torch.optim.LBFGS's default (line_search_fn=None),
    a fixed step lr, the first one shrunk to min(1, 1/‖g‖₁)·lr. Like torch, a pair is
    kept only if yᵀs > 1e-10 and only the last `memory` pairs are kept.
    """
    x, g = x0.clone(), a @ x0 - b
    s_pairs, y_pairs, path = [], [], [x0.clone()]
    for k in range(iterations):
        d = two_loop(g, s_pairs, y_pairs)
        if line_search:
            step = -(g @ d) / (d @ a @ d)  # exact minimizer along d (a quadratic)
        else:
            step = min(1.0, 1.0 / g.abs().sum().item()) * lr if k == 0 else lr
        x_new = x + step * d
        g_new = a @ x_new - b
        if (g_new - g) @ (x_new - x) > 1e-10:  # keep only pairs with positive curvature
            s_pairs = (s_pairs + [x_new - x])[-memory:]  # forget the oldest
            y_pairs = (y_pairs + [g_new - g])[-memory:]
        x, g = x_new, g_new
        path.append(x.clone())
    return path


def momentum_path(a, b, x0, lr: float, beta: float, steps: int):
    """torch.optim.SGD(lr, momentum=beta) as documented: v ← βv + g, x ← x - lr·v."""
    x, v, path = x0.clone(), None, [x0.clone()]
    for _ in range(steps):
        g = a @ x - b
        v = g if v is None else beta * v + g  # the first step starts v at g
        x = x - lr * v
        path.append(x.clone())
    return path


def adam_path(grad_fn, x0, lr: float, steps: int, betas=(0.9, 0.999), eps: float = 1e-8):
    """torch.optim.Adam as documented (Kingma & Ba, Algorithm 1), no weight decay."""
    x, path = x0.clone(), [x0.clone()]
    m, v = x0.new_zeros(x0.shape), x0.new_zeros(x0.shape)
    for t in range(1, steps + 1):
        g = grad_fn(x)
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
        x = x - lr * m_hat / (v_hat.sqrt() + eps)
        path.append(x.clone())
    return path


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
    e0 = (x - x_star).norm()
    h, g, trace = torch.eye(DIM, dtype=f64, device=dev), a @ x - b, [1.0]
    for _ in range(DIM):
        d = -h @ g
        s = (-(g @ d) / (d @ a @ d)) * d  # exact minimizer along d
        x = x + s
        g_new = a @ x - b
        h = bfgs_update(h, s, g_new - g)
        g = g_new
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


def first_order_and_lbfgs(proof: Proof) -> dict:
    """L-BFGS, heavy-ball momentum and plain GD from one random start on a κ = 100 quadratic."""
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    a, b, x_star, _ = quadratic(proof, 100.0)
    x0 = x_star + torch.randn(DIM, dtype=f64, device=dev)  # a random start this time
    e0 = (x0 - x_star).norm()

    def errors(path):
        return [((x - x_star).norm() / e0).item() for x in path]

    # The two-loop recursion is the BFGS matrix applied to a vector: build that
    # matrix explicitly from the same pairs and the same γI, and compare.
    path = lbfgs(a, b, x0, memory=DIM, iterations=4)
    s_pairs = [new - old for old, new in zip(path[:-1], path[1:], strict=True)]
    y_pairs = [a @ s for s in s_pairs]  # the gradient A x - b changes by A s
    g = torch.randn(DIM, dtype=f64, device=dev)
    gamma = (s_pairs[-1] @ y_pairs[-1]) / (y_pairs[-1] @ y_pairs[-1])
    h = gamma * torch.eye(DIM, dtype=f64, device=dev)
    for s, y in zip(s_pairs, y_pairs, strict=True):
        h = bfgs_update(h, s, y)
    proof.close(
        "lbfgs_two_loop_is_bfgs",
        "max |two-loop direction - (-H g)|, H built by 4 explicit BFGS updates of γI",
        (two_loop(g, s_pairs, y_pairs) + h @ g).abs().max(),
        0.0,
        1e-12,
    )

    # With exact line searches on a quadratic, L-BFGS makes the conjugate-gradient
    # iterates whatever m, so it ends after about n steps even with m = 5 < n.
    lbfgs_trace = errors(lbfgs(a, b, x0, LBFGS_MEMORY, LBFGS_ITERATIONS))
    fixed_trace = errors(lbfgs(a, b, x0, LBFGS_MEMORY, LBFGS_ITERATIONS, line_search=False))
    gd_count, gd_trace = gd_steps(a, b, x_star, x0, lr=1.0 / 100.0)
    proof.below(
        "lbfgs_n_steps",
        f"L-BFGS (m = {LBFGS_MEMORY}, exact line search): error after n = {DIM} iterations",
        lbfgs_trace[DIM],
        TOL,
    )
    proof.below(
        "lbfgs_m1_n_steps",
        f"the same with a single stored pair (m = 1): error after n = {DIM} iterations",
        errors(lbfgs(a, b, x0, 1, DIM))[DIM],
        TOL,  # exact in exact arithmetic; rounding erodes conjugacy (1e-10 to 1e-8 seen)
    )
    proof.below(
        "lbfgs_error",
        f"L-BFGS (m = {LBFGS_MEMORY}, exact line search): error after {LBFGS_ITERATIONS} "
        f"iterations (GD: {gd_trace[LBFGS_ITERATIONS]:.2f})",
        lbfgs_trace[LBFGS_ITERATIONS],
        TOL,
    )
    proof.above(
        "gd_error_same_budget",
        f"GD: error / starting error after the same {LBFGS_ITERATIONS} steps",
        gd_trace[LBFGS_ITERATIONS],
        0.1,
    )
    proof.below(
        "lbfgs_fixed_step_error",
        f"L-BFGS with torch.optim.LBFGS's default fixed step (lr = 1, no line search), "
        f"m = {LBFGS_MEMORY}: error after {LBFGS_ITERATIONS} iterations (slower, still << GD)",
        fixed_trace[LBFGS_ITERATIONS],
        0.01,
    )
    proof.above(
        "lbfgs_fixed_step_slower",
        "the same fixed-step run is still above the 1e-6 that line search reached",
        fixed_trace[LBFGS_ITERATIONS],
        TOL,
    )

    # Heavy ball tuned for κ = 100, μ = 1 (Polyak): lr = 4/(√L+√μ)², β = ((√κ-1)/(√κ+1))².
    sqrt_k = math.sqrt(100.0)
    momentum_trace = errors(
        momentum_path(
            a, b, x0, lr=4 / (sqrt_k + 1) ** 2, beta=((sqrt_k - 1) / (sqrt_k + 1)) ** 2, steps=400
        )
    )
    momentum_count = next(k for k, e in enumerate(momentum_trace) if e <= TOL)
    proof.below(
        "momentum_steps",
        f"SGD with heavy-ball momentum: steps to reduce the error by 1e6 (GD: {gd_count})",
        momentum_count,
        gd_count / 4,
    )

    # Adam's first step: m̂ = g and v̂ = g², so each coordinate moves by lr·g/(|g| + ε) ≈ ±lr,
    # here on curvatures 1 to 1000 where the gradient coordinates differ by 1000×.
    curvature = torch.logspace(0, 3, DIM, dtype=f64, device=dev)
    start = torch.ones(DIM, dtype=f64, device=dev)
    grad = curvature * start
    moved = (adam_path(lambda x: curvature * x, start, lr=0.01, steps=1)[1] - start).abs()
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
    return {
        "L-BFGS": lbfgs_trace,
        "L-BFGS fixed step": fixed_trace,
        "momentum": momentum_trace[: momentum_count + 1],
        "GD": gd_trace,
    }


def run(proof: Proof) -> None:
    newton_and_gd(proof)
    proof.reseed(1)
    bfgs = bfgs_exact(proof)
    proof.reseed(2)
    traces = first_order_and_lbfgs(proof)

    shown = [0, 1, 2, 5, 10, 20, 30, 50, 100, 200, 500, 1000, 1375]

    def at(trace, k):  # a run that stopped keeps its last error
        return trace[min(k, len(trace) - 1)]

    proof.plot(
        "Error / starting error vs iteration, κ = 100 quadratic, n = 10 (floored at 1e-16)",
        "iteration",
        "relative error",
        shown,
        {
            "Newton": [1.0] + [1e-16] * (len(shown) - 1),
            "BFGS exact": [max(at(bfgs, k), 1e-16) for k in shown],
            f"L-BFGS m = {LBFGS_MEMORY} (stops at {LBFGS_ITERATIONS})": [
                max(at(traces["L-BFGS"], k), 1e-16) for k in shown
            ],
            "L-BFGS, fixed step lr = 1": [at(traces["L-BFGS fixed step"], k) for k in shown],
            "momentum (stops at 1e-6)": [at(traces["momentum"], k) for k in shown],
            "GD": [at(traces["GD"], k) for k in shown],
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
            [
                "L-BFGS (m = 10)",
                "O(mn): 2m vectors",
                "gradient + O(mn)",
                f"{4 * 21 * n_params / 1e9:.1f} GB",
            ],
            ["Newton", "O(n²) Hessian", "O(n³) solve", f"{4 * n_params**2 / 1e15:.1f} PB"],
        ],
    )


if __name__ == "__main__":
    main(run, __doc__)
