"""Mixup and CutMix: one loss on mixed labels, Beta(α, α) mixing weights, and CutMix's exact λ

What the two recipes compute, measured:

- Mixup (Zhang et al. 2018) trains on x̃ = λ·x_a + (1 − λ)·x_b with the label
  λ·y_a + (1 − λ)·y_b, λ ~ Beta(α, α). Because cross-entropy is linear in its
  target, λ·CE(z, y_a) + (1 − λ)·CE(z, y_b) (the official code's form) equals
  CE(z, λ·onehot(y_a) + (1 − λ)·onehot(y_b)) exactly, gradients included, and the
  same holds with label smoothing on top.
- Beta(α, α) has mean 0.5 for every α and variance 1/(4(2α + 1)). A small α
  (0.2) piles the draws near 0 and 1, so most mixed images are close to one of
  the two originals; α = 1 is uniform.
- CutMix (Yun et al. 2019) pastes a box of x_b into x_a. The box side is
  int(W·√(1 − λ)), its centre uniform over the image, then clipped to the borders;
  the official code then resets λ to 1 − (box area)/(W·H), the exact fraction of
  pixels still from x_a. Without that reset, clipped boxes would get labels that
  claim more of x_b than the image shows.
- Every CutMix pixel comes from exactly one image; every mixup pixel is a blend.
"""

from quizcnn.proofkit import Proof, main

K = 10


def run(proof: Proof) -> None:
    mixed_label_loss(proof)
    beta_weights(proof)
    cutmix_boxes(proof)
    pixels(proof)


def exact(proof: Proof, tol: float) -> float:
    """A tolerance for an identity: tol in float64; float32 rounding (MPS has no float64)."""
    return tol if proof.float64 == proof.torch.float64 else max(tol, 1e-5)


def mixed_label_loss(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    proof.reseed(1)
    n = 32
    z = torch.randn(n, K, device=dev, dtype=f64, requires_grad=True)
    y_a = torch.randint(0, K, (n,), device=dev)
    y_b = y_a[torch.randperm(n, device=dev)]  # a shuffled copy of the same batch, as in Fig. 1a
    lam = 0.3
    two_terms = lam * F.cross_entropy(z, y_a) + (1 - lam) * F.cross_entropy(z, y_b)
    (g_two,) = torch.autograd.grad(two_terms, z)
    target = lam * F.one_hot(y_a, K).to(f64) + (1 - lam) * F.one_hot(y_b, K).to(f64)
    one_term = F.cross_entropy(z, target)
    (g_one,) = torch.autograd.grad(one_term, z)
    proof.close(
        "mixup_loss_linear",
        "λ·CE(z, y_a) + (1 − λ)·CE(z, y_b) vs CE(z, λ·onehot(y_a) + (1 − λ)·onehot(y_b)): |difference|",
        (two_terms - one_term).abs(),
        0.0,
        exact(proof, 1e-12),
    )
    proof.close(
        "mixup_grad_linear",
        "the two forms' gradients with respect to the logits: max |difference|",
        (g_two - g_one).abs().max(),
        0.0,
        exact(proof, 1e-12),
    )
    eps = 0.1
    smoothed_two = lam * F.cross_entropy(z, y_a, label_smoothing=eps) + (1 - lam) * F.cross_entropy(
        z, y_b, label_smoothing=eps
    )
    proof.close(
        "mixup_with_label_smoothing",
        "with label_smoothing=0.1 as well: two-term loss vs CE on (1 − ε)·mixed target + ε/K",
        (smoothed_two - F.cross_entropy(z, (1 - eps) * target + eps / K)).abs(),
        0.0,
        exact(proof, 1e-12),
    )


def beta_weights(proof: Proof) -> None:
    torch = proof.torch
    proof.reseed(2)
    draws = 200_000
    rows, stats = [], {}
    for alpha in (0.2, 1.0, 2.0):
        lam = torch.distributions.Beta(torch.tensor(alpha), torch.tensor(alpha)).sample((draws,))
        lam = lam.double()
        near_end = (torch.minimum(lam, 1 - lam) < 0.1).double().mean().item()
        dominant = torch.maximum(lam, 1 - lam).mean().item()
        stats[alpha] = (lam.mean().item(), lam.var().item(), near_end)
        rows.append(
            [
                alpha,
                f"{lam.mean().item():.4f}",
                f"{lam.var().item():.4f}",
                f"{1 / (4 * (2 * alpha + 1)):.4f}",
                f"{near_end:.3f}",
                f"{dominant:.3f}",
            ]
        )
    proof.table(
        f"λ ~ Beta(α, α), {draws:,} draws",
        ["α", "mean", "variance", "1/(4(2α+1))", "P(λ < 0.1 or λ > 0.9)", "mean max(λ, 1 − λ)"],
        rows,
    )
    proof.close("beta_mean_small_alpha", "α = 0.2: mean of λ", stats[0.2][0], 0.5, 0.005)
    proof.close("beta_mean_alpha2", "α = 2: mean of λ", stats[2.0][0], 0.5, 0.005)
    proof.close(
        "beta_variance",
        "α = 0.2: variance of λ vs 1/(4(2α + 1)) = 0.1786",
        stats[0.2][1],
        1 / 5.6,
        0.003,
    )
    proof.close(
        "beta_one_is_uniform",
        "α = 1: P(λ < 0.1 or λ > 0.9) (uniform: 0.2)",
        stats[1.0][2],
        0.2,
        0.005,
    )
    proof.above(
        "small_alpha_near_ends",
        "α = 0.2: P(λ < 0.1 or λ > 0.9), most draws near one of the two images",
        stats[0.2][2],
        0.5,
    )


def rand_bbox(torch, size: int, lam, cx, cy):
    """The official CutMix box: side int(W·√(1 − λ)), centre (cx, cy), clipped to the image."""
    cut = (size * torch.sqrt(1 - lam)).floor().long()
    x1 = (cx - cut // 2).clamp(0, size)
    x2 = (cx + cut // 2).clamp(0, size)
    y1 = (cy - cut // 2).clamp(0, size)
    y2 = (cy + cut // 2).clamp(0, size)
    return x1, y1, x2, y2


def cutmix(torch, x_a, x_b, lam: float, cx: int, cy: int):
    size = x_a.shape[-1]
    t = torch.tensor
    x1, y1, x2, y2 = (
        int(v) for v in rand_bbox(torch, size, t(lam, dtype=torch.float64), t(cx), t(cy))
    )
    mixed = x_a.clone()
    mixed[..., x1:x2, y1:y2] = x_b[..., x1:x2, y1:y2]
    lam_exact = 1 - (x2 - x1) * (y2 - y1) / (size * size)
    return mixed, lam_exact, (x1, y1, x2, y2)


def cutmix_boxes(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    size = 32
    a = torch.zeros(1, 3, size, size, device=dev, dtype=f64)  # image A is all 0, image B all 1:
    b = torch.ones(1, 3, size, size, device=dev, dtype=f64)  # the mean of the mix is B's share
    rows = []
    for lam, cx, cy in ((0.75, 16, 16), (0.75, 0, 0), (0.75, 30, 10), (0.36, 5, 28)):
        mixed, lam_exact, box = cutmix(torch, a, b, lam, cx, cy)
        share_b = mixed.mean().item()
        rows.append([lam, f"({cx}, {cy})", str(box), f"{share_b:.4f}", f"{lam_exact:.4f}"])
        if (cx, cy) == (16, 16):
            proof.close(
                "centred_box_keeps_lambda",
                "32×32, λ = 0.75, centre (16, 16): exact λ after pasting (a 16×16 box, unclipped)",
                lam_exact,
                0.75,
                1e-12,
            )
        if (cx, cy) == (0, 0):
            proof.close(
                "corner_box_clipped",
                "32×32, λ = 0.75, centre (0, 0): box clipped to 8×8, exact λ = 1 − 64/1024",
                lam_exact,
                0.9375,
                1e-12,
            )
            proof.close(
                "pasted_share_is_one_minus_lambda",
                "corner case: fraction of pixels from image B equals 1 − exact λ",
                share_b,
                1 - lam_exact,
                1e-12,
            )
    proof.table(
        "CutMix on 32×32 images: A all zeros, B all ones",
        [
            "λ drawn",
            "centre",
            "box (x1, y1, x2, y2)",
            "share of B pixels",
            "exact λ = 1 − area/(W·H)",
        ],
        rows,
    )

    # Over many draws (λ ~ Beta(1, 1), uniform centres on 224×224), clipping shrinks the boxes.
    proof.reseed(3)
    n, size = 100_000, 224
    lam = torch.rand(n, dtype=torch.float64)
    cx, cy = torch.randint(0, size, (n,)), torch.randint(0, size, (n,))
    x1, y1, x2, y2 = rand_bbox(torch, size, lam, cx, cy)
    pasted = ((x2 - x1) * (y2 - y1)).double() / size**2
    proof.below(
        "clipping_shrinks_boxes",
        "224×224, λ ~ U(0, 1): mean pasted fraction (the drawn 1 − λ averages 0.5)",
        pasted.mean(),
        0.45,
    )
    proof.above(
        "lambda_reset_matters",
        "share of draws whose exact λ differs from the drawn λ by more than 0.05",
        ((1 - pasted - lam).abs() > 0.05).double().mean(),
        0.3,
    )


def pixels(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    proof.reseed(4)
    a = torch.rand(1, 3, 32, 32, device=dev, dtype=f64)
    b = torch.rand(1, 3, 32, 32, device=dev, dtype=f64)
    mixed, _, _ = cutmix(torch, a, b, 0.5, 12, 20)
    from_one = ((mixed == a) | (mixed == b)).double().mean()
    proof.close(
        "cutmix_pixels_unblended",
        "CutMix (λ = 0.5): fraction of pixels equal to A's or B's pixel",
        from_one,
        1.0,
        0.0,
    )
    blend = 0.5 * a + 0.5 * b
    proof.close(
        "mixup_pixels_blended",
        "mixup (λ = 0.5): fraction of pixels equal to A's or B's pixel",
        ((blend == a) | (blend == b)).double().mean(),
        0.0,
        0.0,
    )


if __name__ == "__main__":
    main(run, __doc__)
