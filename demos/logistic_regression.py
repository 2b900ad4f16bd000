"""Logistic regression: its loss, gradient with L2, Hessian, and why it is convex

Logistic regression models P(y = 1 | x) = σ(wᵀx). Maximizing the likelihood
of the labels is minimizing the mean binary cross-entropy; adding an L2 penalty
gives

    L(w) = -(1/N) Σ [y log p + (1 - y) log(1 - p)] + (λ/2)‖w‖²,  p = σ(Xw)
    ∇L   = Xᵀ(p - y)/N + λw
    ∇²L  = Xᵀ diag(p(1 - p)) X / N + λI

The Hessian is a weighted Gram matrix plus λI, so it is positive semidefinite
everywhere (positive definite with λ > 0): the loss is convex and has one
minimum, which Newton's method finds in a few steps from any start. Squared
error on the sigmoid output has no such property: its second derivative turns
negative where the model is wrong, so that loss is not convex.

Everything is in float64 and compared with autograd.
"""

from quizcnn.proofkit import Proof, main

LAMBDA = 0.1


def make_data(proof: Proof, n: int = 40, d: int = 3):
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    x = torch.randn(n, d, dtype=f64, device=dev)
    true_w = torch.tensor([2.0, -1.0, 0.5], dtype=f64, device=dev)
    y = (torch.rand(n, dtype=f64, device=dev) < torch.sigmoid(x @ true_w)).to(f64)
    return x, y


def loss_fn(proof: Proof, x, y, lam: float = LAMBDA):
    """Mean BCE on the logits Xw, plus (lam/2)‖w‖²."""
    F = proof.torch.nn.functional

    def loss(w):
        return F.binary_cross_entropy_with_logits(x @ w, y) + 0.5 * lam * (w * w).sum()

    return loss


def gradient_and_hessian(proof: Proof, x, y) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    n, d = x.shape
    w = torch.randn(d, dtype=f64, device=dev)
    loss = loss_fn(proof, x, y)
    p = torch.sigmoid(x @ w)

    by_hand = -(y * p.log() + (1 - y) * (1 - p).log()).mean() + 0.5 * LAMBDA * (w * w).sum()
    proof.close(
        "loss_is_bce_plus_l2",
        "BCEWithLogitsLoss + (λ/2)‖w‖² equals -mean[y log p + (1-y) log(1-p)] + (λ/2)‖w‖²",
        loss(w),
        by_hand.item(),
        1e-12,
    )

    w_var = w.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss(w_var), w_var)
    closed_grad = x.T @ (p - y) / n + LAMBDA * w
    proof.close(
        "gradient_closed_form",
        "max |autograd ∇L - (Xᵀ(p - y)/N + λw)|",
        (grad - closed_grad).abs().max(),
        0.0,
        1e-12,
    )

    hess = torch.autograd.functional.hessian(loss, w)
    eye = torch.eye(d, dtype=f64, device=dev)
    closed_hess = x.T @ (x * (p * (1 - p))[:, None]) / n + LAMBDA * eye
    proof.close(
        "hessian_closed_form",
        "max |autograd ∇²L - (Xᵀ diag(p(1-p)) X / N + λI)|",
        (hess - closed_hess).abs().max(),
        0.0,
        1e-12,
    )


def convexity(proof: Proof, x, y) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    d = x.shape[1]
    plain, ridge = loss_fn(proof, x, y, lam=0.0), loss_fn(proof, x, y)

    # Smallest Hessian eigenvalue over many random points, with and without L2.
    points = 4 * torch.randn(30, d, dtype=f64, device=dev)
    min_plain = min(
        torch.linalg.eigvalsh(torch.autograd.functional.hessian(plain, w)).min().item()
        for w in points
    )
    min_ridge = min(
        torch.linalg.eigvalsh(torch.autograd.functional.hessian(ridge, w)).min().item()
        for w in points
    )
    proof.above(
        "hessian_psd",
        "smallest Hessian eigenvalue of mean BCE (λ = 0) over 30 random w (≥ 0: PSD)",
        min_plain,
        -1e-12,
    )
    proof.close(
        "hessian_pd_with_l2",
        f"smallest Hessian eigenvalue with λ = {LAMBDA} equals the λ = 0 one plus λ",
        min_ridge,
        min_plain + LAMBDA,
        1e-12,
    )

    # The definition of convexity, on random segments: f(mix) <= mix of f.
    a = 4 * torch.randn(200, d, dtype=f64, device=dev)
    b = 4 * torch.randn(200, d, dtype=f64, device=dev)
    t = torch.rand(200, dtype=f64, device=dev)
    worst = max(
        (
            plain(t[i] * a[i] + (1 - t[i]) * b[i]) - (t[i] * plain(a[i]) + (1 - t[i]) * plain(b[i]))
        ).item()
        for i in range(200)
    )
    proof.below(
        "convex_on_segments",
        "max over 200 random segments of f(ta + (1-t)b) - [t f(a) + (1-t) f(b)]",
        worst,
        1e-12,
    )

    # Squared error on the probability: ½(σ(z) - 1)² has second derivative
    # -σ'(1 - σ)(1 - 3σ), negative wherever σ(z) < 1/3. Not convex.
    z = torch.tensor(-3.0, dtype=f64, device=dev)
    mse_curvature = torch.autograd.functional.hessian(
        lambda v: 0.5 * (torch.sigmoid(v) - 1) ** 2, z
    )
    s = torch.sigmoid(z)
    proof.close(
        "mse_sigmoid_curvature",
        "d²/dz² of ½(σ(z) - 1)² at z = -3 equals -σ'(1-σ)(1-3σ)",
        mse_curvature,
        (-s * (1 - s) * (1 - s) * (1 - 3 * s)).item(),
        1e-12,
    )
    proof.below(
        "mse_sigmoid_not_convex",
        "that second derivative (negative: MSE on a sigmoid is not convex)",
        mse_curvature,
        0.0,
    )


def newton_to_the_minimum(proof: Proof, x, y) -> None:
    """One minimum: Newton's method from two far-apart starts lands on the same w."""
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    d = x.shape[1]
    loss = loss_fn(proof, x, y)
    finals, grad_norms = [], []
    for start in (torch.full((d,), 5.0, dtype=f64), torch.full((d,), -5.0, dtype=f64)):
        w = start.to(dev)
        for _ in range(25):
            w_var = w.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(loss(w_var), w_var)
            h = torch.autograd.functional.hessian(loss, w)
            w = w - torch.linalg.solve(h, g)
        w_var = w.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(loss(w_var), w_var)
        finals.append(w)
        grad_norms.append(g.norm().item())
    proof.below(
        "newton_gradient_zero",
        "largest ‖∇L‖ after 25 Newton steps from w = ±5",
        max(grad_norms),
        1e-10,
    )
    proof.close(
        "unique_minimum",
        "‖w* from +5 start - w* from -5 start‖ (convex: one minimum)",
        (finals[0] - finals[1]).norm(),
        0.0,
        1e-10,
    )


def run(proof: Proof) -> None:
    x, y = make_data(proof)
    gradient_and_hessian(proof, x, y)
    proof.reseed(1)
    convexity(proof, x, y)
    newton_to_the_minimum(proof, x, y)


if __name__ == "__main__":
    main(run, __doc__)
