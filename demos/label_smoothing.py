"""Label smoothing: the targets PyTorch uses, the finite logit gap, and the lost "dark knowledge"

What nn.CrossEntropyLoss(label_smoothing=ε) does with K classes, measured:

- The loss equals (1 − ε)·(−log p_y) + ε·mean_k(−log p_k), which is cross-entropy
  against the soft target q = (1 − ε)·onehot(y) + ε/K (Szegedy et al. 2016, §7).
  The true class gets 1 − ε + ε/K (0.91 for K = 10, ε = 0.1), NOT 1 − ε, and every
  other class ε/K: the uniform share goes to all K classes, the true one included.
  The target is read back from autograd, since ∂L/∂z = softmax(z) − q.
- Probability (soft) targets are smoothed too: t becomes (1 − ε)·t + ε/K.
- Gradient descent on one sample's logits: with smoothing the gap between the
  true logit and every other logit converges to log((1 − ε + ε/K)/(ε/K)), log 91 ≈ 4.51
  for K = 10, ε = 0.1, and the loss to the entropy of q (0.50, not 0). Without
  smoothing the gap keeps growing (about log t) and the loss creeps to 0.
- A linear classifier that can fit every training sample: without smoothing, its
  wrong-class probabilities on class-0 samples still rank a similar class far above
  a dissimilar one; with smoothing they are pushed towards equal, so a student
  distilled from it learns less about class resemblance (Müller et al. 2019, §4).
"""

import math

from quizcnn.proofkit import Proof, main

K, EPS = 10, 0.1


def run(proof: Proof) -> None:
    torch_semantics(proof)
    logit_gap(proof)
    wrong_class_information(proof)


def exact(proof: Proof, tol: float) -> float:
    """A tolerance for an identity: tol in float64; float32 rounding (MPS has no float64)."""
    return tol if proof.float64 == proof.torch.float64 else max(tol, 1e-5)


def smoothed(torch, y, k: int, eps: float, dtype, device):
    """The soft target (1 − ε)·onehot(y) + ε/K."""
    onehot = torch.nn.functional.one_hot(y, k).to(dtype=dtype, device=device)
    return (1 - eps) * onehot + eps / k


def torch_semantics(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    proof.reseed(1)
    z = 3 * torch.randn(64, K, device=dev, dtype=f64)
    y = torch.randint(0, K, (64,), device=dev)
    loss = F.cross_entropy(z, y, label_smoothing=EPS)
    logp = F.log_softmax(z, dim=1)
    nll = -logp.gather(1, y[:, None]).squeeze(1)
    uniform_part = -logp.mean(dim=1)
    hand = ((1 - EPS) * nll + EPS * uniform_part).mean()
    proof.close(
        "matches_hand_formula",
        "CrossEntropyLoss(label_smoothing=0.1) vs (1 − ε)·NLL + ε·mean_k(−log p_k): |difference|",
        (loss - hand).abs(),
        0.0,
        exact(proof, 1e-12),
    )
    soft = F.cross_entropy(z, smoothed(torch, y, K, EPS, f64, dev))
    proof.close(
        "equals_soft_target_ce",
        "same loss vs cross-entropy on the soft target (1 − ε)·onehot + ε/K: |difference|",
        (loss - soft).abs(),
        0.0,
        exact(proof, 1e-12),
    )
    t = torch.softmax(torch.randn(64, K, device=dev, dtype=f64), dim=1)
    proof.close(
        "soft_targets_smoothed_too",
        "with probability targets t, label_smoothing=ε equals CE on (1 − ε)·t + ε/K: |difference|",
        (
            F.cross_entropy(z, t, label_smoothing=EPS) - F.cross_entropy(z, (1 - EPS) * t + EPS / K)
        ).abs(),
        0.0,
        exact(proof, 1e-12),
    )

    # Read the target back from autograd: at z = 0, softmax = 1/K and dL/dz = 1/K − q.
    rows, true_k10, other_k10 = [], None, None
    for k in (2, 10, 1000):
        for eps in (0.1, 0.2):
            zero = torch.zeros(1, k, device=dev, dtype=f64, requires_grad=True)
            F.cross_entropy(
                zero, torch.zeros(1, dtype=torch.long, device=dev), label_smoothing=eps
            ).backward()
            q = 1.0 / k - zero.grad[0]
            rows.append(
                [
                    k,
                    eps,
                    f"{q[0].item():.6f}",
                    f"{1 - eps + eps / k:.6f}",
                    f"{q[1].item():.6f}",
                    f"{eps / k:.6f}",
                ]
            )
            if (k, eps) == (K, EPS):
                true_k10, other_k10 = q[0].item(), q[1].item()
    proof.table(
        "The target CrossEntropyLoss(label_smoothing=ε) trains towards, read from ∂L/∂z at z = 0",
        ["K", "ε", "true class (measured)", "1 − ε + ε/K", "each other class (measured)", "ε/K"],
        rows,
    )
    proof.close(
        "target_true_class",
        "K = 10, ε = 0.1: target of the true class (1 − ε + ε/K, not 1 − ε)",
        true_k10,
        1 - EPS + EPS / K,
        exact(proof, 1e-12),
    )
    proof.close(
        "target_other_class",
        "K = 10, ε = 0.1: target of each other class (ε/K, not ε/(K − 1))",
        other_k10,
        EPS / K,
        exact(proof, 1e-12),
    )


def logit_gap(proof: Proof) -> None:
    """Plain gradient descent on the K logits of one sample whose label is class 0."""
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    epsilons = [0.0, 0.05, 0.1, 0.2]
    target = torch.stack(
        [smoothed(torch, torch.tensor([0]), K, e, f64, dev)[0] for e in epsilons]
    )  # one row per ε
    z = torch.zeros(len(epsilons), K, device=dev, dtype=f64)
    lr, steps, marks = 2.0, 3000, (30, 300, 3000)
    gaps = {}
    for step in range(1, steps + 1):
        z -= lr * (torch.softmax(z, dim=1) - target)  # ∂CE/∂z = softmax(z) − q
        if step in marks:
            gaps[step] = (z[:, 0] - z[:, 1]).tolist()
    logp = torch.log_softmax(z, dim=1)
    final_loss = -(target * logp).sum(dim=1)
    entropy = torch.special.entr(target).sum(dim=1)  # −Σ q log q, with 0·log 0 = 0
    rows = []
    for i, e in enumerate(epsilons):
        optimum = f"{math.log((1 - e + e / K) / (e / K)):.4f}" if e > 0 else "∞ (none)"
        rows.append(
            [
                e,
                f"{gaps[30][i]:.4f}",
                f"{gaps[300][i]:.4f}",
                f"{gaps[3000][i]:.4f}",
                optimum,
                f"{final_loss[i].item():.4f}",
                f"{entropy[i].item():.4f}",
            ]
        )
    proof.table(
        "Gradient descent on one sample's logits (K = 10, lr 2): gap z_true − z_other",
        [
            "ε",
            "step 30",
            "step 300",
            "step 3000",
            "log((1−ε+ε/K)/(ε/K))",
            "final loss",
            "entropy of q",
        ],
        rows,
    )
    proof.plot(
        "Logit gap z_true − z_other under gradient descent, K = 10",
        "step",
        "gap",
        list(marks),
        {f"ε = {e}": [gaps[m][i] for m in marks] for i, e in enumerate(epsilons)},
    )
    i = epsilons.index(EPS)
    proof.close(
        "gap_converges",
        "ε = 0.1: logit gap after 3000 steps vs log((1 − ε + ε/K)/(ε/K)) = log 91",
        gaps[3000][i],
        math.log(91),
        exact(proof, 1e-6),
    )
    h = epsilons.index(0.05)
    proof.close(
        "gap_converges_eps005",
        "ε = 0.05: logit gap after 3000 steps vs log((1 − ε + ε/K)/(ε/K)) = log 191",
        gaps[3000][h],
        math.log(191),
        exact(proof, 1e-6),
    )
    j = epsilons.index(0.2)
    proof.close(
        "gap_converges_eps02",
        "ε = 0.2: logit gap after 3000 steps vs log((1 − ε + ε/K)/(ε/K)) = log 41",
        gaps[3000][j],
        math.log(41),
        exact(proof, 1e-6),
    )
    proof.above(
        "no_smoothing_gap_grows",
        "ε = 0: gap at step 3000 minus gap at step 300 (still growing, about log 10)",
        gaps[3000][0] - gaps[300][0],
        1.5,
    )
    proof.below(
        "no_smoothing_loss_to_zero",
        "ε = 0: loss after 3000 steps (tends to 0, never reached)",
        final_loss[0],
        1e-3,
    )
    proof.close(
        "min_loss_is_entropy",
        "ε = 0.1: loss at the optimum equals the entropy of q (0.5003, the floor of the training loss)",
        final_loss[i],
        entropy[i].item(),
        exact(proof, 1e-9),
    )
    proof.close(
        "confidence_capped",
        "ε = 0.1: softmax probability of the true class at the optimum (1 − ε + ε/K)",
        logp[i, 0].exp(),
        1 - EPS + EPS / K,
        exact(proof, 1e-9),
    )


def wrong_class_information(proof: Proof) -> None:
    """A 'teacher' that fits its training set: what its wrong-class probabilities say."""
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    proof.reseed(3)
    d, per_class, classes = 100, 15, 4
    centres = torch.randn(classes, d, dtype=f64)
    centres[1] = centres[0] + 0.3 * torch.randn(d, dtype=f64)  # class 1 resembles class 0
    x = torch.cat([centres[k] + torch.randn(per_class, d, dtype=f64) for k in range(classes)])
    x = (x / math.sqrt(d)).to(dev)
    y = torch.arange(classes).repeat_interleave(per_class).to(dev)
    rows, resemblance = [], {}
    for eps in (0.0, 0.1):
        q = smoothed(torch, y, classes, eps, f64, dev)
        w = torch.zeros(d, classes, device=dev, dtype=f64)
        for _ in range(600):
            w -= 4.0 * x.T @ (torch.softmax(x @ w, dim=1) - q) / len(y)
        logp = torch.log_softmax(x @ w, dim=1)[y == 0]
        similar_vs_far = (logp[:, 1] - logp[:, 3]).mean().item()
        resemblance[eps] = similar_vs_far
        rows.append(
            [
                eps,
                f"{logp[:, 0].exp().mean().item():.4f}",
                f"{logp[:, 1].exp().mean().item():.5f}",
                f"{logp[:, 3].exp().mean().item():.5f}",
                f"{similar_vs_far:.3f}",
            ]
        )
    proof.table(
        "Linear teacher on 4 classes (class 1 resembles class 0), training samples of class 0",
        [
            "ε",
            "mean p(class 0)",
            "mean p(similar class 1)",
            "mean p(dissimilar class 3)",
            "mean log p1/p3",
        ],
        rows,
    )
    proof.above(
        "plain_teacher_knows_resemblance",
        "no smoothing: mean log(p_similar/p_dissimilar) on class-0 training samples",
        resemblance[0.0],
        2.0,
    )
    proof.below(
        "smoothed_teacher_forgets_resemblance",
        "label smoothing 0.1: the same log-ratio (pushed towards 0: wrong classes look alike)",
        resemblance[0.1],
        0.5,
    )


if __name__ == "__main__":
    main(run, __doc__)
