"""Adam, AdamW, RMSprop and SGD momentum: torch.optim's first steps against the formulas

Each optimizer here is torch.optim's own class, fed hand-picked gradients; its
state and its parameters after one or two steps are compared with the update
rules written out by hand (Kingma & Ba 2015, Alg. 1; the PyTorch docs).

- Adam, step 1: exp_avg = (1 - β1)·g and exp_avg_sq = (1 - β2)·g², so the
  bias-corrected moments are exactly m̂ = g and v̂ = g², and the first step is
  lr·g/(|g| + eps): lr·sign(g) whatever the gradient's size (lr/2 when |g| = eps).
  Without the correction the first step would be lr·0.1/√0.001 ≈ 3.16·lr.
  Step 2 matches the formula too, and multiplying every gradient by 8 leaves
  Adam's steps unchanged (SGD's grow 8-fold).
- Adam(weight_decay=λ) adds λθ to the gradient, so the decay enters m and v and
  is normalized like any gradient; AdamW shrinks θ by (1 - lr·λ) and keeps m, v
  free of it. Each matches its own closed form, the two disagree, and
  Adam(decoupled_weight_decay=True) is AdamW. AdamW's per-step decay factor is
  1 - lr·λ (measured over 100 steps with a zero loss gradient): it scales with
  the learning rate.
- RMSprop has no bias correction: with alpha = 0.99 its first step is
  lr/√(1 - alpha) = 10·lr. eps is added after the square root: for a gradient
  equal to eps the step is 9091 times the eps-inside-the-root step, and still
  √2 times it for g = 1e-3, where √v = √eps.
- SGD: PyTorch's momentum buffer starts at the first gradient (no dampening on
  step 1); nesterov=True steps by lr·(g + μ·buf), 1.9·lr·g on step 1. With a
  constant lr the iterates equal Sutskever et al.'s classical momentum, and the
  Nesterov iterates equal their look-ahead point θ + μv. After an lr drop the two
  formulations part: torch's next step is exactly 1/10 of the step it would have
  taken, Sutskever's keeps most of its velocity, unless that velocity gets Goyal
  et al.'s correction.
- On an over-parameterized least-squares problem (its gradient written out),
  gradient descent from zero ends at the minimum-norm interpolant; Adam
  interpolates too, but elsewhere.
"""

from quizcnn.proofkit import Proof, main

LR, BETA1, BETA2, EPS = 1e-3, 0.9, 0.999, 1e-8
STEPS_DECAY = 100  # AdamW with a zero loss gradient: θ_T = (1 − lr·λ)^T exactly


def param(proof: Proof, values):
    torch = proof.torch
    return torch.nn.Parameter(torch.tensor(values, device=proof.device, dtype=proof.float64))


def tensor(proof: Proof, values):
    return proof.torch.tensor(values, device=proof.device, dtype=proof.float64)


def step_with(opt, p, grad) -> None:
    """One optimizer step with a gradient we choose (no loss needed)."""
    p.grad = grad.clone()
    opt.step()


def run(proof: Proof) -> None:
    adam_first_two_steps(proof)
    adam_l2_vs_adamw(proof)
    rmsprop_first_step(proof)
    sgd_momentum_and_nesterov(proof)
    momentum_formulations(proof)
    adam_finds_another_interpolant(proof)


def adam_first_two_steps(proof: Proof) -> None:
    torch = proof.torch
    g1 = tensor(proof, [1000.0, 1.0, -0.01, EPS])  # the last gradient equals eps
    g2 = tensor(proof, [-1000.0, 3.0, -0.01, EPS])
    p = param(proof, [0.5, -1.0, 2.0, 0.0])
    theta0 = p.detach().clone()
    opt = torch.optim.Adam([p], lr=LR, betas=(BETA1, BETA2), eps=EPS)
    step_with(opt, p, g1)
    state = opt.state[p]
    m1, v1 = state["exp_avg"].clone(), state["exp_avg_sq"].clone()
    theta1 = p.detach().clone()

    proof.close(
        "adam_m1",
        "Adam after step 1: exp_avg vs (1 − β1)·g, max relative error",
        ((m1 - (1 - BETA1) * g1).abs() / ((1 - BETA1) * g1).abs()).max(),
        0.0,
        1e-12,
    )
    proof.close(
        "adam_v1",
        "Adam after step 1: exp_avg_sq vs (1 − β2)·g², max relative error",
        ((v1 - (1 - BETA2) * g1**2).abs() / ((1 - BETA2) * g1**2)).max(),
        0.0,
        1e-12,
    )
    m_hat, v_hat = m1 / (1 - BETA1), v1 / (1 - BETA2)
    proof.close(
        "adam_bias_corrected_step1",
        "step 1: bias-corrected m̂ = g and v̂ = g² (largest relative error of the two)",
        max(((m_hat - g1) / g1).abs().max(), ((v_hat - g1**2) / g1**2).abs().max()),
        0.0,
        1e-12,
    )
    step1 = theta0 - theta1
    proof.close(
        "adam_step1_formula",
        "Adam's first step vs lr·g/(|g| + eps): max absolute difference",
        (step1 - LR * g1 / (g1.abs() + EPS)).abs().max(),
        0.0,
        1e-15,
    )
    big = g1.abs() >= 0.01
    proof.close(
        "adam_step1_is_lr",
        "first step of the coordinates with |g| from 0.01 to 1000: max | |Δθ|/lr − 1 |",
        (step1[big].abs() / LR - 1).abs().max(),
        0.0,
        1e-5,
    )
    proof.close(
        "adam_step1_at_eps",
        "first step of the coordinate whose gradient equals eps, in units of lr",
        step1[3] / LR,
        0.5,
        1e-9,
    )
    uncorrected = LR * m1 / (v1.sqrt() + EPS)  # what Alg. 1 would do without §3's correction
    proof.close(
        "adam_uncorrected_step1",
        "step 1 without bias correction, lr·m/(√v + eps), in units of lr (g = 1)",
        uncorrected[1] / LR,
        (1 - BETA1) / (1 - BETA2) ** 0.5,
        1e-5,
    )

    step_with(opt, p, g2)
    m2 = BETA1 * m1 + (1 - BETA1) * g2
    v2 = BETA2 * v1 + (1 - BETA2) * g2**2
    expected2 = theta1 - LR * (m2 / (1 - BETA1**2)) / ((v2 / (1 - BETA2**2)).sqrt() + EPS)
    proof.close(
        "adam_step2_formula",
        "θ after step 2 vs θ1 − lr·m̂2/(√v̂2 + eps) written out: max absolute difference",
        (p.detach() - expected2).abs().max(),
        0.0,
        1e-15,
    )
    proof.holds("adam_step_count", "Adam's state counts 2 steps", float(state["step"]) == 2.0)
    step2 = theta1 - p.detach()
    proof.table(
        "torch.optim.Adam(lr=1e-3), steps in units of lr",
        ["g1", "step 1 / lr", "step 1 without bias correction / lr", "g2", "step 2 / lr"],
        [
            [
                f"{g1[i].item():g}",
                f"{step1[i].item() / LR:.6f}",
                f"{uncorrected[i].item() / LR:.4f}",
                f"{g2[i].item():g}",
                f"{step2[i].item() / LR:.6f}",
            ]
            for i in range(4)
        ],
    )

    # Scale invariance: the same gradients times 8 (a forgotten 1/8 in accumulation).
    thetas = {}
    for name, cls, opts in (
        ("adam", torch.optim.Adam, {"lr": LR}),
        ("sgd", torch.optim.SGD, {"lr": LR}),
    ):
        for scale in (1.0, 8.0):
            q = param(proof, [0.5, -1.0, 2.0, 0.0])
            o = cls([q], **opts)
            for g in (g1, g2, g1):
                step_with(o, q, scale * g)
            thetas[name, scale] = q.detach() - tensor(proof, [0.5, -1.0, 2.0, 0.0])
    proof.close(
        "adam_scale_invariant",
        "Adam, 3 steps, gradients ×8 vs ×1, coordinates with |g| ≥ 0.01: max |Δθ difference| / lr",
        ((thetas["adam", 8.0] - thetas["adam", 1.0])[big].abs().max() / LR),
        0.0,
        1e-5,
    )
    proof.above(
        "adam_scale_matters_near_eps",
        "the same for the coordinate with g = eps (8·eps is no longer ≈ eps): |difference| / lr",
        (thetas["adam", 8.0] - thetas["adam", 1.0])[3].abs() / LR,
        0.5,
    )
    proof.close(
        "sgd_scales_with_gradient",
        "SGD, 3 steps, gradients ×8 vs ×1: ratio of the displacements",
        (thetas["sgd", 8.0][big] / thetas["sgd", 1.0][big]).mean(),
        8.0,
        1e-9,
    )


def adam_l2_closed_form(theta, g, lam, lr, steps):
    """Adam on g + λθ (weight_decay as an L2 penalty), written out."""
    m = v = 0 * theta
    for t in range(1, steps + 1):
        grad = g + lam * theta
        m = BETA1 * m + (1 - BETA1) * grad
        v = BETA2 * v + (1 - BETA2) * grad**2
        theta = theta - lr * (m / (1 - BETA1**t)) / ((v / (1 - BETA2**t)).sqrt() + EPS)
    return theta


def adamw_closed_form(theta, g, lam, lr, steps):
    """AdamW: shrink θ by (1 − lr·λ), then the Adam step on g alone."""
    m = v = 0 * theta
    for t in range(1, steps + 1):
        theta = theta * (1 - lr * lam)
        m = BETA1 * m + (1 - BETA1) * g
        v = BETA2 * v + (1 - BETA2) * g**2
        theta = theta - lr * (m / (1 - BETA1**t)) / ((v / (1 - BETA2**t)).sqrt() + EPS)
    return theta


def adam_l2_vs_adamw(proof: Proof) -> None:
    torch = proof.torch
    lr, lam = 0.01, 0.1
    theta0 = tensor(proof, [1.0, -2.0, 0.5, -3.0])
    g = tensor(proof, [0.1, 0.0, -0.3, 0.05])  # the loss gradient, held fixed
    runs = {}
    for name, cls, opts in (
        ("l2", torch.optim.Adam, {}),
        ("adamw", torch.optim.AdamW, {}),
        ("decoupled", torch.optim.Adam, {"decoupled_weight_decay": True}),
    ):
        p = torch.nn.Parameter(theta0.clone())
        opt = cls([p], lr=lr, weight_decay=lam, **opts)
        step_with(opt, p, g)
        runs[name, "m1"] = opt.state[p]["exp_avg"].clone()
        runs[name, 1] = p.detach().clone()
        step_with(opt, p, g)
        runs[name, 2] = p.detach().clone()

    proof.close(
        "adam_l2_closed_form",
        "Adam(weight_decay=0.1), 2 steps, vs Adam on g + λθ written out: max difference",
        (runs["l2", 2] - adam_l2_closed_form(theta0, g, lam, lr, 2)).abs().max(),
        0.0,
        1e-15,
    )
    proof.close(
        "adamw_closed_form",
        "AdamW(weight_decay=0.1), 2 steps, vs θ(1 − lr·λ) − Adam step on g: max difference",
        (runs["adamw", 2] - adamw_closed_form(theta0, g, lam, lr, 2)).abs().max(),
        0.0,
        1e-15,
    )
    proof.close(
        "l2_decay_enters_moments",
        "Adam(weight_decay): exp_avg after step 1 vs (1 − β1)(g + λθ0), max difference",
        (runs["l2", "m1"] - (1 - BETA1) * (g + lam * theta0)).abs().max(),
        0.0,
        1e-15,
    )
    proof.close(
        "adamw_moments_free_of_decay",
        "AdamW: exp_avg after step 1 vs (1 − β1)·g, max difference",
        (runs["adamw", "m1"] - (1 - BETA1) * g).abs().max(),
        0.0,
        1e-15,
    )
    proof.above(
        "l2_and_adamw_differ",
        "Adam(weight_decay) vs AdamW after 2 steps: max parameter difference",
        (runs["l2", 2] - runs["adamw", 2]).abs().max(),
        1e-3,
    )
    proof.close(
        "l2_zero_gradient_moves_lr",
        "weight with zero loss gradient (θ = −2): Adam+L2's first step, in units of lr",
        (runs["l2", 1][1] - theta0[1]).abs() / lr,
        1.0,
        1e-6,
    )
    proof.close(
        "adamw_zero_gradient_moves_lr_lambda_theta",
        "the same weight under AdamW: first step / (lr·λ·|θ|)",
        (runs["adamw", 1][1] - theta0[1]).abs() / (lr * lam * 2.0),
        1.0,
        1e-9,
    )
    proof.holds(
        "decoupled_flag_is_adamw",
        "Adam(decoupled_weight_decay=True) gives exactly AdamW's parameters",
        bool(torch.equal(runs["decoupled", 2], runs["adamw", 2])),
    )
    proof.table(
        "One weight per column: θ0, loss gradient g, and θ after 2 steps (lr 0.01, λ 0.1)",
        ["", *[f"w{i}" for i in range(4)]],
        [
            ["θ0", *[f"{x:g}" for x in theta0.tolist()]],
            ["g", *[f"{x:g}" for x in g.tolist()]],
            ["g + λθ0", *[f"{x:g}" for x in (g + lam * theta0).tolist()]],
            ["Adam(weight_decay)", *[f"{x:.6f}" for x in runs["l2", 2].tolist()]],
            ["AdamW", *[f"{x:.6f}" for x in runs["adamw", 2].tolist()]],
        ],
    )

    # AdamW's decay alone (zero loss gradient): the per-step factor is 1 − lr·λ.
    factors = {}
    for lr_ in (1e-3, 2e-3):
        p = param(proof, [1.0])
        opt = torch.optim.AdamW([p], lr=lr_, weight_decay=0.01)
        for _ in range(STEPS_DECAY):
            step_with(opt, p, 0 * p.detach())
        factors[lr_] = p.detach()[0].item() ** (1 / STEPS_DECAY)
    proof.close(
        "adamw_factor_lr_1e-3",
        f"AdamW(lr=1e-3, weight_decay=0.01), no loss gradient: per-step factor over {STEPS_DECAY} steps",
        factors[1e-3],
        1 - 1e-3 * 0.01,
        1e-12,
    )
    proof.close(
        "adamw_factor_lr_2e-3",
        "the same with lr = 2e-3: per-step factor (doubling lr doubles the decay)",
        factors[2e-3],
        1 - 2e-3 * 0.01,
        1e-12,
    )


def rmsprop_first_step(proof: Proof) -> None:
    torch = proof.torch
    lr, alpha = 0.01, 0.99
    g = tensor(proof, [1000.0, 1.0, -3.0, EPS, 1e-3])
    p = param(proof, [0.0, 0.0, 0.0, 0.0, 0.0])
    opt = torch.optim.RMSprop([p], lr=lr)  # alpha 0.99 and eps 1e-8 are the defaults
    step_with(opt, p, g)
    step = -p.detach()
    proof.close(
        "rmsprop_square_avg",
        "RMSprop after step 1: square_avg vs (1 − alpha)·g², max relative error",
        ((opt.state[p]["square_avg"] - (1 - alpha) * g**2) / ((1 - alpha) * g**2)).abs().max(),
        0.0,
        1e-12,
    )
    proof.close(
        "rmsprop_eps_outside_sqrt",
        "RMSprop step 1 vs lr·g/(√v + eps) (eps after the root): max difference",
        (step - lr * g / (((1 - alpha) * g**2).sqrt() + EPS)).abs().max(),
        0.0,
        1e-15,
    )
    proof.close(
        "rmsprop_first_step_10_lr",
        "RMSprop's first step for |g| ≥ 1, in units of lr (1/√(1 − alpha) = 10)",
        (step[:3].abs() / lr).mean(),
        10.0,
        1e-6,
    )
    inside = lr * g / ((1 - alpha) * g**2 + EPS).sqrt()  # eps inside the root, TF's order
    proof.above(
        "rmsprop_eps_placement_matters",
        "gradient = eps: PyTorch's step / the step with eps inside the square root",
        step[3] / inside[3],
        1000.0,
    )
    # g = 1e-3: v = 0.01·g² = 1e-8 = eps, so √v = 1e-4 = √eps and the two orders still differ.
    proof.close(
        "rmsprop_eps_placement_at_1e-3",
        "gradient = 1e-3 (√v = √eps = 1e-4): PyTorch's step / the step with eps inside the root",
        step[4] / inside[4],
        2**0.5 / (1 + 1e-4),
        1e-9,
    )
    q = param(proof, [0.0])
    centered = torch.optim.RMSprop([q], lr=lr, centered=True)
    step_with(centered, q, tensor(proof, [1.0]))
    proof.close(
        "rmsprop_centered_step1",
        "centered=True, g = 1: first step / lr, vs 1/(√(0.01 − 0.0001) + eps)",
        -q.detach()[0] / lr,
        1 / ((0.01 - 0.0001) ** 0.5 + EPS),
        1e-9,
    )


def sgd_momentum_and_nesterov(proof: Proof) -> None:
    torch = proof.torch
    lr, mu, tau = 0.1, 0.9, 0.9
    g1, g2 = tensor(proof, [1.0, -2.0]), tensor(proof, [0.5, 1.0])
    rows = []

    def two_steps(**opts):
        p = param(proof, [0.0, 0.0])
        opt = torch.optim.SGD([p], lr=lr, momentum=mu, **opts)
        step_with(opt, p, g1)
        buf1, theta1 = opt.state[p]["momentum_buffer"].clone(), p.detach().clone()
        step_with(opt, p, g2)
        return buf1, theta1, opt.state[p]["momentum_buffer"].clone(), p.detach().clone()

    buf1, th1, buf2, th2 = two_steps()
    proof.close(
        "momentum_buffer_starts_at_g",
        "SGD(momentum=0.9) step 1: momentum_buffer vs g1, and step vs lr·g1 (max difference)",
        max((buf1 - g1).abs().max(), (th1 + lr * g1).abs().max()),
        0.0,
        1e-15,
    )
    proof.close(
        "momentum_step2",
        "step 2: buffer μ·g1 + g2, θ2 = θ1 − lr·buffer (max difference)",
        max((buf2 - (mu * g1 + g2)).abs().max(), (th2 - (th1 - lr * (mu * g1 + g2))).abs().max()),
        0.0,
        1e-15,
    )
    rows.append(["momentum", f"{-th1[0].item():.4f}", f"{(th1 - th2)[0].item():.4f}"])

    _, th1, buf2, th2 = two_steps(nesterov=True)
    proof.close(
        "nesterov_step1",
        "nesterov=True, step 1 / (lr·g1): g + μ·buf = (1 + μ)·g",
        (-th1 / (lr * g1)).mean(),
        1 + mu,
        1e-12,
    )
    proof.close(
        "nesterov_step2",
        "nesterov step 2 vs θ1 − lr·(g2 + μ·(μ·g1 + g2)): max difference",
        (th2 - (th1 - lr * (g2 + mu * (mu * g1 + g2)))).abs().max(),
        0.0,
        1e-15,
    )
    rows.append(["nesterov", f"{-th1[0].item():.4f}", f"{(th1 - th2)[0].item():.4f}"])

    buf1, th1, buf2, th2 = two_steps(dampening=tau)
    proof.close(
        "dampening_skips_step1",
        "dampening=0.9: buffer after step 1 vs g1 (not (1 − τ)·g1): max difference",
        (buf1 - g1).abs().max(),
        0.0,
        1e-15,
    )
    proof.close(
        "dampening_step2",
        "dampening=0.9, step 2: buffer vs μ·g1 + (1 − τ)·g2, max difference",
        (buf2 - (mu * g1 + (1 - tau) * g2)).abs().max(),
        0.0,
        1e-15,
    )
    rows.append(
        ["momentum, dampening 0.9", f"{-th1[0].item():.4f}", f"{(th1 - th2)[0].item():.4f}"]
    )
    try:
        torch.optim.SGD([param(proof, [0.0])], lr=lr, momentum=mu, nesterov=True, dampening=tau)
        refused = False
    except ValueError:
        refused = True
    proof.holds(
        "nesterov_refuses_dampening",
        "SGD(nesterov=True, dampening=0.9) raises ValueError",
        refused,
    )
    proof.table(
        "SGD(lr=0.1, momentum=0.9), g1 = 1 then g2 = 0.5 (first coordinate)",
        ["variant", "step 1", "step 2"],
        rows,
    )


def momentum_formulations(proof: Proof) -> None:
    """torch's SGD against Sutskever et al. 2013's Eqs. on a 2-D quadratic."""
    torch = proof.torch
    a = tensor(proof, [1.0, 10.0])  # f(θ) = ½ Σ a_i θ_i², gradient a·θ
    mu, steps, drop_at = 0.9, 30, 15

    def lr_at(t, drop):
        return 0.05 * (0.1 if drop and t >= drop_at else 1.0)

    def torch_path(nesterov, drop):
        p = param(proof, [1.0, 1.0])
        opt = torch.optim.SGD([p], lr=0.05, momentum=mu, nesterov=nesterov)
        path = []
        for t in range(steps):
            opt.param_groups[0]["lr"] = lr_at(t, drop)
            step_with(opt, p, a * p.detach())
            path.append(p.detach().clone())
        return torch.stack(path)

    def sutskever_path(nesterov, drop, corrected=False):
        theta, v, path = tensor(proof, [1.0, 1.0]), tensor(proof, [0.0, 0.0]), []
        for t in range(steps):
            lr = lr_at(t, drop)
            if corrected and t > 0:
                v = v * lr / lr_at(t - 1, drop)  # Goyal et al.'s momentum correction
            look = theta + mu * v if nesterov else theta
            v = mu * v - lr * a * look  # Eqs. 1 and 3: v ← μv − ε∇f
            theta = theta + v  # Eqs. 2 and 4
            path.append(theta + mu * v if nesterov else theta)  # NAG: compare θ + μv
        return torch.stack(path)

    proof.close(
        "heavy_ball_equals_sutskever",
        "constant lr: torch SGD(momentum) vs Sutskever's classical momentum, max difference",
        (torch_path(False, False) - sutskever_path(False, False)).abs().max(),
        0.0,
        1e-12,
    )
    proof.close(
        "nesterov_is_lookahead",
        "constant lr: torch SGD(nesterov=True) vs Sutskever's NAG look-ahead θ + μv, max difference",
        (torch_path(True, False) - sutskever_path(True, False)).abs().max(),
        0.0,
        1e-12,
    )
    t_drop, s_drop = torch_path(False, True), sutskever_path(False, True)
    t_flat, s_flat = torch_path(False, False), sutskever_path(False, False)
    proof.above(
        "lr_drop_parts_them",
        "lr ×0.1 at step 15: torch vs Sutskever iterates, max difference",
        (t_drop - s_drop).abs().max(),
        1e-3,
    )
    proof.close(
        "momentum_correction_reunites",
        "the same with Sutskever's v rescaled by lr_new/lr_old at the drop: max difference",
        (t_drop - sutskever_path(False, True, corrected=True)).abs().max(),
        0.0,
        1e-12,
    )
    before = (t_drop[drop_at - 1] - t_drop[drop_at - 2]).norm()
    after_t = (t_drop[drop_at] - t_drop[drop_at - 1]).norm()
    after_s = (s_drop[drop_at] - s_drop[drop_at - 1]).norm()
    # The same step without the drop: both paths are identical up to step 14.
    kept_t = (t_flat[drop_at] - t_flat[drop_at - 1]).norm()
    kept_s = (s_flat[drop_at] - s_flat[drop_at - 1]).norm()
    proof.close(
        "torch_step_shrinks_10x_at_once",
        "torch: first step at the new lr / the same step without the drop (buffer × new lr)",
        after_t / kept_t,
        0.1,
        1e-12,
    )
    proof.above(
        "sutskever_step_keeps_old_velocity",
        "Sutskever: first step at the new lr / the same step without the drop (μv keeps the old lr)",
        after_s / kept_s,
        0.5,
    )
    proof.table(
        "Step length around the lr drop (×0.1 at step 15), SGD momentum 0.9",
        ["formulation", "step 14", "step 15 (first at the new lr)", "step 15 without the drop"],
        [
            [
                "torch: v ← μv + g, θ ← θ − lr·v",
                f"{before.item():.5f}",
                f"{after_t.item():.5f}",
                f"{kept_t.item():.5f}",
            ],
            [
                "Sutskever: v ← μv − lr·g, θ ← θ + v",
                f"{before.item():.5f}",
                f"{after_s.item():.5f}",
                f"{kept_s.item():.5f}",
            ],
        ],
    )


def adam_finds_another_interpolant(proof: Proof) -> None:
    """Wilson et al. 2017's point in miniature: more unknowns than equations."""
    torch = proof.torch
    proof.reseed(7)
    n, d = 10, 40
    x = torch.randn(n, d, device=proof.device, dtype=proof.float64)
    y = torch.randn(n, device=proof.device, dtype=proof.float64)
    w_min = torch.linalg.pinv(x) @ y  # the minimum-norm solution of x w = y

    def fit(cls, steps, **opts):
        """Full-batch steps on 0.5·mean((x·w − y)²), whose gradient is xᵀ(x·w − y)/n."""
        w = torch.nn.Parameter(torch.zeros(d, device=proof.device, dtype=proof.float64))
        opt = cls([w], **opts)
        for _ in range(steps):
            step_with(opt, w, x.T @ (x @ w.detach() - y) / n)  # the gradient written out
        return w.detach()

    w_gd = fit(torch.optim.SGD, 400, lr=0.1)
    w_adam = fit(torch.optim.Adam, 600, lr=0.01)
    proof.close(
        "gd_finds_min_norm",
        "full-batch GD from 0 (10 equations, 40 unknowns): ‖w − pinv(X)·y‖",
        (w_gd - w_min).norm(),
        0.0,
        1e-8,
    )
    proof.below(
        "adam_interpolates",
        "Adam from 0: largest residual |x·w − y| on the training set",
        (x @ w_adam - y).abs().max(),
        1e-3,
    )
    proof.above(
        "adam_elsewhere",
        "Adam's solution: ‖w_adam − w_min‖ / ‖w_min‖",
        (w_adam - w_min).norm() / w_min.norm(),
        0.1,
    )
    proof.above(
        "adam_larger_norm",
        "‖w_adam‖ / ‖w_min‖ (any other interpolant has a larger norm)",
        w_adam.norm() / w_min.norm(),
        1.0,
    )


if __name__ == "__main__":
    main(run, __doc__)
