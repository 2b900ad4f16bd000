"""Cross-entropy vs MSE for classification: why CE's gradient does not vanish

A sigmoid or softmax output saturates: when the model is confidently wrong, the
probability p is near 0 for the true class and the derivative of the
squashing function, p(1 - p), is tiny. Squared error keeps that factor in its
gradient, d(½(p - y)²)/dz = (p - y) p (1 - p), so a confidently wrong model
barely moves. Cross-entropy's log cancels it exactly: d(BCE)/dz = p - y, a
gradient as large as the error itself. The same holds for softmax: the gradient
of the mean cross-entropy with respect to the logits is (p - onehot(y)) / N.

This proof measures both gradients with autograd against their closed forms,
checks the softmax-CE gradient in float64, shows what happens when
probabilities are fed to CrossEntropyLoss (a second softmax; log-probabilities,
by contrast, give the same loss as the logits), and trains one
small classifier twice from the same confidently wrong start: once with
cross-entropy, once with MSE on the softmax probabilities, same learning rate.
"""

import math

from quizcnn.proofkit import Proof, main

TARGET_ACCURACY = 0.95
LR = 1.0  # the same learning rate for both losses
WRONG_SCALE = 1.5  # how sure the wrong start is: ~99% on a wrong class
WRONG_LOGIT = -8.0  # sigmoid(-8) ≈ 3.4e-4: the model is sure of the wrong answer


def sigmoid_gradients(proof: Proof) -> None:
    """d/dz of ½(σ(z) - y)² and of BCE(σ(z), y), by autograd and in closed form."""
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    y = torch.tensor([1.0], dtype=f64, device=dev)

    z = torch.tensor([WRONG_LOGIT], dtype=f64, device=dev, requires_grad=True)
    p = torch.sigmoid(z)
    (0.5 * (p - y) ** 2).sum().backward()
    mse_grad = z.grad.item()

    z2 = torch.tensor([WRONG_LOGIT], dtype=f64, device=dev, requires_grad=True)
    F.binary_cross_entropy_with_logits(z2, y).backward()
    bce_grad = z2.grad.item()

    p0 = 1.0 / (1.0 + math.exp(-WRONG_LOGIT))
    proof.close(
        "mse_grad_closed_form",
        "autograd d(½(p-y)²)/dz equals (p-y)·p·(1-p) at z = -8, y = 1",
        mse_grad,
        (p0 - 1.0) * p0 * (1.0 - p0),
        1e-12,
    )
    proof.below(
        "mse_grad_vanishes",
        "|d(MSE)/dz| when confidently wrong (z = -8, y = 1)",
        abs(mse_grad),
        1e-3,
    )
    proof.close(
        "bce_grad_closed_form",
        "autograd d(BCE)/dz equals p - y at z = -8, y = 1",
        bce_grad,
        p0 - 1.0,
        1e-12,
    )
    proof.close(
        "bce_grad_near_minus_one",
        "d(BCE)/dz when confidently wrong stays near -1",
        bce_grad,
        -1.0,
        1e-3,
    )
    proof.above(
        "bce_over_mse_gradient",
        "|BCE gradient| / |MSE gradient| at z = -8 (= 1 / (p(1-p)))",
        abs(bce_grad) / abs(mse_grad),
        1000.0,
    )

    # The whole curve, for y = 1: MSE's gradient dies at both ends, BCE's only when right.
    zs = torch.arange(-8, 9, 2, dtype=f64, device=dev)
    ps = torch.sigmoid(zs)
    mse_curve = ((ps - 1) * ps * (1 - ps)).abs().tolist()
    bce_curve = (ps - 1).abs().tolist()
    labels = [int(v) for v in zs.tolist()]
    proof.table(
        "Gradient magnitude w.r.t. the logit z, true label y = 1",
        ["z", "p = σ(z)", "|d MSE/dz|", "|d BCE/dz|"],
        [
            [z_, f"{p_:.4g}", f"{m:.3g}", f"{b:.3g}"]
            for z_, p_, m, b in zip(labels, ps.tolist(), mse_curve, bce_curve, strict=True)
        ],
    )
    proof.plot(
        "|dLoss/dz| for y = 1: MSE vanishes when confidently wrong (z < 0), BCE does not",
        "logit z",
        "|gradient|",
        labels,
        {"MSE": mse_curve, "BCE": bce_curve},
        log_y=True,
    )


def softmax_ce_gradient(proof: Proof) -> None:
    """Mean softmax cross-entropy: dL/dlogits = (softmax - onehot) / N."""
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    n, c = 8, 5
    logits = (3 * torch.randn(n, c, dtype=f64, device=dev)).requires_grad_(True)
    target = torch.randint(0, c, (n,), device=dev)
    loss = F.cross_entropy(logits, target)  # reduction="mean"
    loss.backward()
    closed = (torch.softmax(logits.detach(), 1) - F.one_hot(target, c).to(f64)) / n
    proof.close(
        "softmax_ce_grad_closed_form",
        "max |autograd dCE/dlogits - (softmax - onehot)/N| (float64)",
        (logits.grad - closed).abs().max(),
        0.0,
        1e-12,
    )
    proof.close(
        "softmax_ce_grad_rows_sum_zero",
        "max |row sum of dCE/dlogits| (adding a constant to all logits changes nothing)",
        logits.grad.sum(1).abs().max(),
        0.0,
        1e-12,
    )
    nll = F.nll_loss(F.log_softmax(logits.detach(), 1), target)
    proof.close(
        "ce_is_logsoftmax_nll",
        "CrossEntropyLoss(logits) equals NLLLoss(log_softmax(logits))",
        loss.detach(),
        nll.item(),
        1e-12,
    )
    # Log-probabilities are logits too: log_softmax(z) = z - logsumexp(z) only shifts each
    # row, and softmax ignores shifts, so passing them gives the same loss. Probabilities do not.
    proof.close(
        "ce_of_log_softmax_unchanged",
        "CrossEntropyLoss(log_softmax(logits)) equals CrossEntropyLoss(logits)",
        F.cross_entropy(F.log_softmax(logits.detach(), 1), target),
        loss.item(),
        1e-12,
    )

    # A freshly initialized classifier predicting uniformly over 10 classes: loss ln 10.
    proof.close(
        "uniform_prediction_loss",
        "CE of all-zero logits (uniform prediction) over 10 classes = ln 10",
        F.cross_entropy(torch.zeros(n, 10, dtype=f64, device=dev), target),
        math.log(10),
        1e-12,
    )

    # Feeding probabilities instead of logits applies softmax twice. Inputs in [0, 1]
    # give at most e¹ / (e¹ + (C-1)e⁰): even a perfect one-hot prediction keeps a loss.
    onehot_probs = F.one_hot(target, c).to(f64)
    double = F.cross_entropy(onehot_probs, target)
    proof.close(
        "double_softmax_loss_floor",
        f"CE on perfect one-hot probabilities, C = {c} (floor log(1 + (C-1)/e))",
        double,
        math.log(1 + (c - 1) / math.e),
        1e-12,
    )


def train_from_wrong_start(
    proof: Proof, loss_name: str, x, y, centers, max_steps: int, stop_after_target: bool
):
    """Full-batch gradient descent on a linear softmax classifier; accuracy per step.

    Runs max_steps steps, or stops 15 steps after reaching the target when asked.
    """
    torch = proof.torch
    F = torch.nn.functional
    n_classes = centers.shape[0]
    # Score class k with the centre of class k+1: every point is confidently misclassified.
    weight = (WRONG_SCALE * centers.roll(-1, 0)).clone().requires_grad_(True)
    bias = torch.zeros(n_classes, dtype=x.dtype, device=x.device, requires_grad=True)
    onehot = F.one_hot(y, n_classes).to(x.dtype)
    accuracy = []
    for _ in range(max_steps):
        logits = x @ weight.T + bias
        accuracy.append((logits.argmax(1) == y).to(x.dtype).mean().item())
        if stop_after_target and steps_to(accuracy, TARGET_ACCURACY) + 15 < len(accuracy):
            break
        if loss_name == "ce":
            loss = F.cross_entropy(logits, y)
        else:
            # Squared error summed over classes, averaged over samples (as CE is).
            loss = ((torch.softmax(logits, 1) - onehot) ** 2).sum(1).mean()
        grad_w, grad_b = torch.autograd.grad(loss, [weight, bias])
        with torch.no_grad():  # plain gradient descent, learning rate LR
            weight -= LR * grad_w
            bias -= LR * grad_b
    return accuracy


def steps_to(accuracy: list[float], target: float) -> int:
    """First step whose accuracy reaches target; len(accuracy) if never."""
    return next((i for i, a in enumerate(accuracy) if a >= target), len(accuracy))


def training_race(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    n_per_class, n_classes, max_steps = 100, 3, 600
    angles = torch.arange(n_classes, dtype=f64, device=dev) * (2 * math.pi / n_classes)
    centers = 2.0 * torch.stack([angles.cos(), angles.sin()], 1)
    y = torch.arange(n_classes, device=dev).repeat_interleave(n_per_class)
    x = centers[y] + 0.5 * torch.randn(len(y), 2, dtype=f64, device=dev)

    start_logits = x @ (WRONG_SCALE * centers.roll(-1, 0)).T
    proof.below(
        "start_accuracy",
        "accuracy at the confidently wrong start",
        (start_logits.argmax(1) == y).to(f64).mean(),
        0.02,
    )
    proof.above(
        "start_confidence",
        "mean max softmax probability at the start (confident)",
        torch.softmax(start_logits, 1).max(1).values.mean(),
        0.98,
    )

    acc_mse = train_from_wrong_start(proof, "mse", x, y, centers, max_steps, True)
    # Cross-entropy runs as many steps as MSE did, so both curves cover the same steps.
    acc_ce = train_from_wrong_start(proof, "ce", x, y, centers, len(acc_mse), False)
    ce_steps, mse_steps = steps_to(acc_ce, TARGET_ACCURACY), steps_to(acc_mse, TARGET_ACCURACY)
    proof.below(
        "ce_steps_to_target",
        f"gradient steps for cross-entropy to reach {TARGET_ACCURACY:.0%} accuracy",
        ce_steps,
        20,
    )
    proof.below(
        "mse_steps_to_target",
        f"gradient steps for MSE to reach {TARGET_ACCURACY:.0%} (slow, but it gets there)",
        mse_steps,
        max_steps,
    )
    proof.above(
        "mse_over_ce_steps",
        "steps needed by MSE / steps needed by cross-entropy (same lr = 1)",
        mse_steps / max(ce_steps, 1),
        10.0,
    )
    shown = list(range(0, len(acc_mse), 5))
    proof.plot(
        "Accuracy per gradient step from a confidently wrong start",
        "step",
        "accuracy",
        shown,
        {"cross-entropy": [acc_ce[i] for i in shown], "MSE": [acc_mse[i] for i in shown]},
    )


def run(proof: Proof) -> None:
    sigmoid_gradients(proof)
    proof.reseed(1)
    softmax_ce_gradient(proof)
    proof.reseed(2)
    training_race(proof)


if __name__ == "__main__":
    main(run, __doc__)
