"""Knowledge distillation: soft targets, the T² factor, KLDivLoss and the logit-matching limit

What Hinton, Vinyals & Dean (2015) distillation does to the numbers, measured:

- Soft targets softmax(z/T) flatten as the temperature T grows: the entropy rises
  towards log K and the top probability falls towards 1/K, while the ORDER and the
  log-ratios (z_i − z_j)/T of the wrong classes survive: that is the "dark
  knowledge" the student learns from.
- The gradient of the soft loss KL(p_T^teacher ‖ p_T^student) with respect to the
  student's logits is (p_s − p_t)/T per sample (Hinton §2, Eq. 2), checked against
  autograd. For a student close to the teacher it shrinks like 1/T²: halving the
  gradient twice per doubling of T. Multiplying the soft loss by T² (Hinton §2)
  restores its scale, so the soft/hard balance of α·T²·KL + (1 − α)·CE does not
  move when T is tuned.
- nn.KLDivLoss wants LOG-probabilities as its input (the student) and
  probabilities as its target (the teacher); reduction='batchmean' is the
  mathematical KL averaged over samples, reduction='mean' divides by K too, and
  feeding probabilities instead of log-probabilities gives a wrong number without
  any error. KL and the soft cross-entropy differ by the teacher's entropy, a
  constant, so their gradients are identical.
- At high T, with zero-mean logits, the soft-loss gradient tends to
  (z_s − z_t)/(K·T²) (Hinton §2.1, Eq. 4): distillation becomes matching the
  logits with a squared error. Without zero-mean logits the per-sample means must
  be removed first, since softmax ignores a constant shift.
"""

import math
import warnings

from quizcnn.proofkit import Proof, main

K = 10
# One teacher's logits, used for the soft-target table (the tests recompute it).
TEACHER = [8.0, 5.0, 4.0, 1.0, 0.0, -1.0, -2.0, -3.0, -4.0, -6.0]
TEMPERATURES = [1, 2, 5, 10, 20, 100]


def run(proof: Proof) -> None:
    soft_targets(proof)
    soft_loss_gradient(proof)
    kldivloss_semantics(proof)
    logit_matching_limit(proof)
    combined_loss(proof)


def exact(proof: Proof, tol: float) -> float:
    """A tolerance for an identity: tol in float64, looser in float32 (MPS has no float64)."""
    return tol if proof.float64 == proof.torch.float64 else max(tol, 1e-5)


def kl_soft(torch, z_s, z_t, temperature: float):
    """KL(softmax(z_t/T) ‖ softmax(z_s/T)), summed over classes, averaged over samples."""
    F = torch.nn.functional
    log_p_s = F.log_softmax(z_s / temperature, dim=1)
    p_t = F.softmax(z_t / temperature, dim=1)
    return F.kl_div(log_p_s, p_t, reduction="batchmean")


def soft_targets(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    z = torch.tensor(TEACHER, device=dev, dtype=f64)
    rows, entropies = [], []
    for t in TEMPERATURES:
        p = torch.softmax(z / t, dim=0)
        entropy = -(p * p.log()).sum().item()
        entropies.append(entropy)
        rows.append(
            [
                t,
                f"{p.max().item():.4f}",
                f"{p[1].item():.4f}",
                f"{p[9].item():.2e}",
                f"{(p[1] / p[9]).log().item() * t:.4f}",
                f"{entropy:.4f}",
            ]
        )
    proof.table(
        f"softmax(z/T) for the teacher logits z = {TEACHER} (K = 10)",
        ["T", "top prob", "p(class 1)", "p(class 9)", "T·log(p1/p9)", "entropy (nats)"],
        rows,
    )
    proof.holds(
        "entropy_rises_with_t",
        "the entropy of softmax(z/T) rises at every step T = 1, 2, 5, 10, 20, 100",
        all(a < b for a, b in zip(entropies, entropies[1:], strict=False)),
        " < ".join(f"{e:.3f}" for e in entropies),
    )
    p100 = torch.softmax(z / 100, dim=0)
    proof.close(
        "high_t_near_uniform",
        "top probability of softmax(z/100): close to the uniform 1/K = 0.1",
        p100.max(),
        1 / K,
        0.01,
    )
    p1 = torch.softmax(z, dim=0)
    proof.close(
        "t1_top_prob",
        "top probability at T = 1 (the hard-looking target the teacher outputs)",
        p1.max(),
        1 / (1 + sum(math.exp(v - TEACHER[0]) for v in TEACHER[1:])),
        1e-12,
    )
    # The wrong classes keep their ranking and their logit gaps at every T.
    ratio = (torch.softmax(z / 20, dim=0)[1] / torch.softmax(z / 20, dim=0)[9]).log() * 20
    proof.close(
        "log_ratio_preserved",
        "T·log(p_1/p_9) at T = 20 equals the logit gap z_1 − z_9 = 11",
        ratio,
        TEACHER[1] - TEACHER[9],
        exact(proof, 1e-10),
    )


def soft_loss_gradient(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    proof.reseed(1)
    batch = 32
    z_t = 3 * torch.randn(batch, K, device=dev, dtype=f64)
    z_s = (3 * torch.randn(batch, K, device=dev, dtype=f64)).requires_grad_(True)
    temperature = 4.0
    kl_soft(torch, z_s, z_t, temperature).backward()
    p_s = torch.softmax(z_s.detach() / temperature, dim=1)
    p_t = torch.softmax(z_t / temperature, dim=1)
    closed = (p_s - p_t) / (temperature * batch)
    proof.close(
        "grad_closed_form",
        "∂ KL_batchmean / ∂z_s vs (p_s − p_t)/(T·N), T = 4, N = 32: max difference",
        (z_s.grad - closed).abs().max(),
        0.0,
        exact(proof, 1e-15),
    )

    # A student close to the teacher: the gradient shrinks as 1/T².
    delta = 0.3 * torch.randn(batch, K, device=dev, dtype=f64)
    rows, norms = [], {}
    for t in (1, 2, 4, 8, 16, 32):
        zs = (z_t + delta).clone().requires_grad_(True)
        kl_soft(torch, zs, z_t, t).backward()
        norms[t] = zs.grad.norm().item()
        rows.append([t, f"{norms[t]:.3e}", f"{t * t * norms[t]:.4e}"])
    proof.table(
        "‖∂ soft loss/∂z_s‖ for a student 0.3·N(0, 1) away from the teacher",
        ["T", "‖gradient‖", "T² · ‖gradient‖"],
        rows,
    )
    proof.close(
        "grad_ratio_t8_t16",
        "‖∇(T = 8)‖ / ‖∇(T = 16)‖ (1/T² scaling predicts 4)",
        norms[8] / norms[16],
        4.0,
        0.05,
        rel=True,
    )
    proof.close(
        "t2_restores_scale",
        "T²‖∇‖ at T = 32 over T²‖∇‖ at T = 8: the T² factor keeps the scale (≈ 1)",
        (32**2 * norms[32]) / (8**2 * norms[8]),
        1.0,
        0.05,
    )
    proof.above(
        "unscaled_grad_collapses",
        "without T², ‖∇(T = 1)‖ / ‖∇(T = 32)‖: the soft term would all but vanish",
        norms[1] / norms[32],
        100.0,
    )


def kldivloss_semantics(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    proof.reseed(2)
    batch, temperature = 16, 3.0
    z_t = 3 * torch.randn(batch, K, device=dev, dtype=f64)
    z_s = 3 * torch.randn(batch, K, device=dev, dtype=f64)
    log_p_s = F.log_softmax(z_s / temperature, dim=1)
    p_t = F.softmax(z_t / temperature, dim=1)
    hand = (p_t * (p_t.log() - log_p_s)).sum(dim=1).mean()
    batchmean = torch.nn.KLDivLoss(reduction="batchmean")(log_p_s, p_t)
    with warnings.catch_warnings():  # 'mean' warns that it is not the KL: that is the point
        warnings.simplefilter("ignore")
        mean = torch.nn.KLDivLoss(reduction="mean")(log_p_s, p_t)
    wrong = torch.nn.KLDivLoss(reduction="batchmean")(log_p_s.exp(), p_t)
    proof.close(
        "batchmean_is_kl",
        "KLDivLoss(reduction='batchmean')(log_softmax(z_s/T), softmax(z_t/T)) vs "
        "mean over samples of Σ p_t·log(p_t/p_s): |difference|",
        (batchmean - hand).abs(),
        0.0,
        exact(proof, 1e-14),
    )
    proof.close(
        "mean_divides_by_k",
        "KLDivLoss batchmean / KLDivLoss mean (reduction='mean' also divides by K = 10)",
        batchmean / mean,
        K,
        exact(proof, 1e-10),
    )
    proof.above(
        "probabilities_as_input_wrong",
        "|KLDivLoss(probabilities, p_t) − true KL|: a wrong value, and no error raised",
        (wrong - hand).abs(),
        0.5,
    )
    # KL and soft cross-entropy: same gradient, values differ by the teacher entropy.
    zs1 = z_s.clone().requires_grad_(True)
    zs2 = z_s.clone().requires_grad_(True)
    kl = kl_soft(torch, zs1, z_t, temperature)
    ce = -(p_t * F.log_softmax(zs2 / temperature, dim=1)).sum(dim=1).mean()
    (kl_grad,) = torch.autograd.grad(kl, zs1)
    (ce_grad,) = torch.autograd.grad(ce, zs2)
    entropy = -(p_t * p_t.log()).sum(dim=1).mean()
    proof.close(
        "kl_equals_ce_minus_entropy",
        "soft cross-entropy − KL vs the teacher's mean entropy: |difference|",
        (ce - kl - entropy).abs(),
        0.0,
        exact(proof, 1e-13),
    )
    proof.close(
        "kl_and_ce_same_gradient",
        "∂KL/∂z_s vs ∂(soft cross-entropy)/∂z_s: max difference",
        (kl_grad - ce_grad).abs().max(),
        0.0,
        exact(proof, 1e-15),
    )
    proof.table(
        "nn.KLDivLoss on the same student and teacher (N = 16, K = 10, T = 3)",
        ["call", "value"],
        [
            ["hand KL, mean over samples", f"{hand.item():.6f}"],
            ["KLDivLoss(log_softmax(z_s/T), p_t), batchmean", f"{batchmean.item():.6f}"],
            ["KLDivLoss(log_softmax(z_s/T), p_t), mean", f"{mean.item():.6f}"],
            ["KLDivLoss(softmax(z_s/T), p_t), batchmean (wrong input)", f"{wrong.item():.6f}"],
            ["soft cross-entropy −Σ p_t log p_s", f"{ce.item():.6f}"],
        ],
    )


def logit_matching_limit(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    proof.reseed(3)
    z_t = 3 * torch.randn(1, K, device=dev, dtype=f64)
    z_s = 3 * torch.randn(1, K, device=dev, dtype=f64)
    z_t, z_s = z_t - z_t.mean(), z_s - z_s.mean()  # zero-mean logits, as in Eq. 4
    rows, errors, loss_errors = [], {}, {}
    for t in (1, 10, 100, 1000):
        zs = z_s.clone().requires_grad_(True)
        loss = kl_soft(torch, zs, z_t, t)
        loss.backward()
        limit = (z_s - z_t) / (K * t * t)
        errors[t] = ((zs.grad - limit).norm() / limit.norm()).item()
        mse = ((z_s - z_t) ** 2).sum() / (2 * K)
        loss_errors[t] = abs(t * t * loss.item() - mse.item()) / mse.item()
        rows.append([t, f"{errors[t]:.2e}", f"{t * t * loss.item():.5f}", f"{mse.item():.5f}"])
    proof.table(
        "High-temperature limit, zero-mean logits (one sample, K = 10)",
        ["T", "rel. error of ∇ vs (z_s − z_t)/(K·T²)", "T²·KL", "‖z_s − z_t‖²/(2K)"],
        rows,
    )
    proof.below(
        "grad_tends_to_logit_difference",
        "relative error of ∂KL/∂z_s against (z_s − z_t)/(K·T²) at T = 1000",
        errors[1000],
        0.01,
    )
    proof.above(
        "not_at_t1",
        "the same relative error at T = 1: the limit is a high-temperature one",
        errors[1],
        0.3,
    )
    proof.below(
        "t2_kl_tends_to_mse",
        "T²·KL at T = 1000 vs ‖z_s − z_t‖²/(2K): relative error",
        loss_errors[1000],
        0.01,
    )
    # With a shift in the student's logits, the naive formula is off; centring fixes it.
    shifted = (z_s + 5.0).clone().requires_grad_(True)
    t = 1000
    kl_soft(torch, shifted, z_t, t).backward()
    naive = (shifted.detach() - z_t) / (K * t * t)
    centred = ((shifted.detach() - shifted.detach().mean()) - z_t) / (K * t * t)
    proof.above(
        "shift_breaks_naive_formula",
        "student logits shifted by +5: relative error of the uncentred (z_s − z_t)/(K·T²)",
        (shifted.grad - naive).norm() / naive.norm(),
        0.3,
    )
    proof.below(
        "centred_formula_holds",
        "the same, after removing each sample's mean logit: relative error",
        (shifted.grad - centred).norm() / centred.norm(),
        0.01,
    )


def combined_loss(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    proof.reseed(4)
    batch, alpha = 32, 0.9
    z_t = 3 * torch.randn(batch, K, device=dev, dtype=f64)
    y = torch.randint(0, K, (batch,), device=dev)
    z_s0 = 3 * torch.randn(batch, K, device=dev, dtype=f64)
    rows, shares = [], {}
    for t in (2.0, 4.0, 8.0):
        for scaled in (True, False):
            z_s = z_s0.clone().requires_grad_(True)
            factor = t * t if scaled else 1.0
            soft = alpha * factor * kl_soft(torch, z_s, z_t, t)
            hard = (1 - alpha) * F.cross_entropy(z_s, y)
            (g_soft,) = torch.autograd.grad(soft, z_s, retain_graph=True)
            (g_hard,) = torch.autograd.grad(hard, z_s)
            shares[t, scaled] = (g_soft.norm() / g_hard.norm()).item()
            rows.append([t, "yes" if scaled else "no", f"{shares[t, scaled]:.3f}"])
    proof.table(
        "α·[T²]·KL + (1 − α)·CE with α = 0.9: soft-gradient norm / hard-gradient norm",
        ["T", "× T²", "‖∇ soft‖ / ‖∇ hard‖"],
        rows,
    )
    proof.below(
        "scaled_share_stable",
        "with T²: soft/hard gradient ratio at T = 8 over the ratio at T = 2, |log|",
        abs(math.log(shares[8.0, True] / shares[2.0, True])),
        math.log(2),
    )
    proof.above(
        "unscaled_share_collapses",
        "without T²: soft/hard ratio at T = 2 over the ratio at T = 8",
        shares[2.0, False] / shares[8.0, False],
        8.0,
    )
    # The full loss against its closed-form gradient.
    t = 4.0
    z_s = z_s0.clone().requires_grad_(True)
    loss = alpha * t * t * kl_soft(torch, z_s, z_t, t) + (1 - alpha) * F.cross_entropy(z_s, y)
    loss.backward()
    p_s_t = torch.softmax(z_s0 / t, dim=1)
    p_t_t = torch.softmax(z_t / t, dim=1)
    onehot = F.one_hot(y, K).to(f64)
    closed = (
        alpha * t * (p_s_t - p_t_t) + (1 - alpha) * (torch.softmax(z_s0, dim=1) - onehot)
    ) / batch
    proof.close(
        "combined_grad_closed_form",
        "∂[α·T²·KL + (1 − α)·CE]/∂z_s vs (α·T·(p_s^T − p_t^T) + (1 − α)·(p_s − y))/N: max diff",
        (z_s.grad - closed).abs().max(),
        0.0,
        exact(proof, 1e-15),
    )


if __name__ == "__main__":
    main(run, __doc__)
