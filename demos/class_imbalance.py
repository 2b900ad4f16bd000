"""Class imbalance: weighted cross-entropy, pos_weight as resampling, focal loss

With 95% negatives, a model that always says "negative" is 95% accurate and
useless. Three standard remedies, each measured here:

- Class weights. CrossEntropyLoss(weight=w) multiplies each sample's loss by
  the weight of its true class and, with reduction="mean" and class-index
  targets, divides by the sum of those weights (not by N): a weighted mean.
  With class-probability targets it divides by N instead.
- Resampling. With sum reduction, BCEWithLogitsLoss(pos_weight=k) is exactly
  the loss of the data set with every positive repeated k times, so
  re-weighting and over-sampling optimize the same objective.
- Focal loss (Lin et al. 2017): FL(p_t) = -(1 - p_t)^γ log(p_t). The factor
  (1 - p_t)^γ shrinks the loss of well-classified examples, so thousands of
  easy negatives no longer drown out a few hard positives.

Finally a logistic regression trained on 950 negatives and 50 positives, with
and without pos_weight = 950/50: the weighted model gives up some accuracy
and finds most of the positives.
"""

import math

from quizcnn.proofkit import Proof, main


def weighted_ce(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    n, c = 12, 3
    logits = 2 * torch.randn(n, c, dtype=f64, device=dev)
    target = torch.randint(0, c, (n,), device=dev)
    weight = torch.tensor([1.0, 4.0, 10.0], dtype=f64, device=dev)

    per_sample = -F.log_softmax(logits, 1)[torch.arange(n, device=dev), target]
    w = weight[target]
    proof.close(
        "weighted_ce_is_weighted_mean",
        "CrossEntropyLoss(weight=w) = Σ w[y_n]·loss_n / Σ w[y_n]",
        F.cross_entropy(logits, target, weight=weight),
        ((w * per_sample).sum() / w.sum()).item(),
        1e-12,
    )
    proof.above(
        "weighted_ce_not_divided_by_n",
        "|CrossEntropyLoss(weight=w) - Σ w[y_n]·loss_n / N| (it is not divided by N)",
        (F.cross_entropy(logits, target, weight=weight) - (w * per_sample).sum() / n).abs(),
        1e-3,
    )
    # With class-probability targets the same weight goes inside the sum over classes,
    # and reduction="mean" divides by N: the weighted-mean rule is for class indices only.
    soft = torch.softmax(torch.randn(n, c, dtype=f64, device=dev), 1)
    per_sample_soft = -(weight * soft * F.log_softmax(logits, 1)).sum(1)
    proof.close(
        "weighted_ce_soft_targets_over_n",
        "with probability targets: CrossEntropyLoss(weight=w) = Σ_n Σ_c w_c y_nc (-log p_nc) / N",
        F.cross_entropy(logits, soft, weight=weight),
        per_sample_soft.mean().item(),
        1e-12,
    )


def pos_weight_is_oversampling(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    logits = torch.randn(30, dtype=f64, device=dev)
    y = (torch.rand(30, device=dev) < 0.2).to(f64)
    k = 3
    weighted = F.binary_cross_entropy_with_logits(
        logits, y, pos_weight=torch.tensor(float(k), dtype=f64, device=dev), reduction="sum"
    )
    pos = y == 1
    # Every positive k times in total: the originals plus k - 1 copies.
    logits_rep = torch.cat([logits] + [logits[pos]] * (k - 1))
    y_rep = torch.cat([y] + [y[pos]] * (k - 1))
    proof.close(
        "pos_weight_equals_repeating_positives",
        f"sum BCE with pos_weight = {k} equals sum BCE with each positive repeated {k} times",
        weighted,
        F.binary_cross_entropy_with_logits(logits_rep, y_rep, reduction="sum").item(),
        1e-10,
    )


def focal_loss(proof: Proof, p_true, gamma: float):
    """FL = -(1 - p_t)^γ log p_t, from the probability of the true class."""
    return -((1 - p_true) ** gamma) * p_true.log()


def focal(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    gamma = 2.0
    p_t = torch.tensor([0.9, 0.968], dtype=f64, device=dev)
    ce = -p_t.log()
    ratio = ce / focal_loss(proof, p_t, gamma)
    proof.close(
        "focal_factor_at_0_9",
        "CE / FL for an example classified with p_t = 0.9, γ = 2 (paper: 100×)",
        ratio[0],
        100.0,
        1e-9,
        rel=True,
    )
    proof.above(
        "focal_factor_at_0_968",
        "CE / FL at p_t ≈ 0.968, γ = 2 (paper: about 1000×)",
        ratio[1],
        950.0,
    )
    proof.close(
        "focal_gamma_zero_is_ce",
        "FL with γ = 0 equals cross-entropy at p_t = 0.9",
        focal_loss(proof, p_t[:1], 0.0),
        -math.log(0.9),
        1e-12,
    )

    # 1000 easy negatives (p_t = 0.99) and 10 hard positives (p_t = 0.3).
    easy = torch.full((1000,), 0.99, dtype=f64, device=dev)
    hard = torch.full((10,), 0.3, dtype=f64, device=dev)
    share = {}
    for name, g in (("CE", 0.0), ("focal", gamma)):
        e, h = focal_loss(proof, easy, g).sum(), focal_loss(proof, hard, g).sum()
        share[name] = (e / (e + h)).item()
    proof.above(
        "ce_easy_share",
        "share of the total CE loss from 1000 easy negatives (vs 10 hard positives)",
        share["CE"],
        0.4,
    )
    proof.below(
        "focal_easy_share",
        "share of the total focal loss (γ = 2) from the same easy negatives",
        share["focal"],
        0.001,
    )
    proof.table(
        "Loss per example: cross-entropy vs focal loss (γ = 2)",
        ["p_t", "CE", "FL", "CE / FL"],
        [
            [
                pt,
                f"{-math.log(pt):.4g}",
                f"{-((1 - pt) ** 2) * math.log(pt):.4g}",
                f"{1 / (1 - pt) ** 2:.4g}",
            ]
            for pt in (0.3, 0.5, 0.9, 0.968, 0.99)
        ],
    )


def sample(proof: Proof, n_neg: int, n_pos: int):
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    shift = torch.tensor([1.5, 1.5], dtype=f64, device=dev)
    x = torch.cat(
        [
            torch.randn(n_neg, 2, dtype=f64, device=dev),
            torch.randn(n_pos, 2, dtype=f64, device=dev) + shift,
        ]
    )
    y = torch.cat(
        [torch.zeros(n_neg, dtype=f64, device=dev), torch.ones(n_pos, dtype=f64, device=dev)]
    )
    return x, y


def train_logistic(proof: Proof, x, y, pos_weight, steps: int = 300, lr: float = 1.0):
    torch = proof.torch
    F = torch.nn.functional
    w = torch.zeros(2, dtype=x.dtype, device=x.device, requires_grad=True)
    b = torch.zeros(1, dtype=x.dtype, device=x.device, requires_grad=True)
    for _ in range(steps):
        loss = F.binary_cross_entropy_with_logits(x @ w + b, y, pos_weight=pos_weight)
        gw, gb = torch.autograd.grad(loss, [w, b])
        with torch.no_grad():
            w -= lr * gw
            b -= lr * gb
    return w.detach(), b.detach()


def imbalanced_training(proof: Proof) -> None:
    torch = proof.torch
    n_neg, n_pos = 950, 50
    x, y = sample(proof, n_neg, n_pos)
    x_test, y_test = sample(proof, n_neg, n_pos)
    proof.close(
        "always_negative_accuracy",
        "test accuracy of a model that always answers 'negative'",
        (y_test == 0).to(x.dtype).mean(),
        n_neg / (n_neg + n_pos),
        1e-12,
    )
    rows, metrics = [], {}
    for name, pw in (("unweighted", None), ("pos_weight = 19", n_neg / n_pos)):
        pos_weight = None if pw is None else torch.tensor(pw, dtype=x.dtype, device=x.device)
        w, b = train_logistic(proof, x, y, pos_weight)
        pred = (x_test @ w + b > 0).to(x.dtype)
        accuracy = (pred == y_test).to(x.dtype).mean().item()
        recall = pred[y_test == 1].mean().item()
        specificity = 1 - pred[y_test == 0].mean().item()
        metrics[name] = (accuracy, recall, (recall + specificity) / 2)
        rows.append([name, f"{accuracy:.3f}", f"{recall:.3f}", f"{metrics[name][2]:.3f}"])
    plain, weighted = metrics["unweighted"], metrics["pos_weight = 19"]
    proof.below(
        "unweighted_recall_low",
        "recall on the 5% positives without weighting (accuracy still high)",
        plain[1],
        0.5,
    )
    proof.above(
        "weighted_recall_high",
        "recall on the positives with pos_weight = 950/50",
        weighted[1],
        0.7,
    )
    proof.above(
        "weighted_balanced_accuracy_gain",
        "balanced accuracy: weighted minus unweighted",
        weighted[2] - plain[2],
        0.1,
    )
    proof.table(
        "Logistic regression on 950 negatives / 50 positives (test set)",
        ["training loss", "accuracy", "recall (positives)", "balanced accuracy"],
        rows,
    )


def run(proof: Proof) -> None:
    weighted_ce(proof)
    proof.reseed(1)
    pos_weight_is_oversampling(proof)
    focal(proof)
    proof.reseed(2)
    imbalanced_training(proof)


if __name__ == "__main__":
    main(run, __doc__)
