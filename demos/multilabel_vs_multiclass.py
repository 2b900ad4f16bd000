"""Multi-label vs multi-class: independent sigmoids + BCE vs softmax + cross-entropy

Multi-class (exactly one class per image): softmax couples the logits, its
outputs sum to 1, and raising one logit lowers every other probability; the
loss is CrossEntropyLoss on raw logits. Multi-label (any number of classes per
image, e.g. "person" and "dog"): one sigmoid per class, each an independent
yes/no, and the loss is the mean binary cross-entropy over every (sample,
class) pair, BCEWithLogitsLoss on raw logits.

This proof measures both Jacobians, checks both PyTorch losses against their
formulas, shows that a softmax over two logits is the sigmoid of their
difference (binary classification needs one output, not two), shows why
BCEWithLogitsLoss is preferred to Sigmoid + BCELoss (a saturated sigmoid
loses the loss), and trains the same linear model on multi-label data with
both heads: softmax can never say "yes" to two classes at threshold 0.5,
because its outputs sum to 1.
"""

from quizcnn.proofkit import Proof, main


def jacobians(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    z = torch.randn(4, dtype=f64, device=dev)
    batch = 3 * torch.randn(64, 4, dtype=f64, device=dev)
    proof.close(
        "softmax_sums_to_one",
        "max |sum of softmax outputs - 1| over 64 random logit vectors",
        (torch.softmax(batch, 1).sum(1) - 1).abs().max(),
        0.0,
        1e-12,
    )
    sig_sums = torch.sigmoid(batch).sum(1)
    proof.above(
        "sigmoid_sums_spread",
        "spread (max - min) of the sum of 4 sigmoid outputs: no constraint ties them",
        sig_sums.max() - sig_sums.min(),
        1.0,
    )

    jac_soft = torch.autograd.functional.jacobian(lambda v: torch.softmax(v, 0), z)
    p = torch.softmax(z, 0)
    proof.close(
        "softmax_jacobian_closed_form",
        "max |d softmax_i / d z_j - p_i (δ_ij - p_j)| (outputs coupled)",
        (jac_soft - (torch.diag(p) - p[:, None] * p[None, :])).abs().max(),
        0.0,
        1e-12,
    )
    off = ~torch.eye(4, dtype=torch.bool, device=dev)
    proof.above(
        "softmax_offdiag_nonzero",
        "smallest |off-diagonal| entry of the softmax Jacobian",
        jac_soft[off].abs().min(),
        1e-6,
    )
    jac_sig = torch.autograd.functional.jacobian(torch.sigmoid, z)
    proof.close(
        "sigmoid_jacobian_diagonal",
        "largest |off-diagonal| entry of the sigmoid Jacobian (outputs independent)",
        jac_sig[off].abs().max(),
        0.0,
        0.0,
    )


def losses_by_hand(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    n, c = 6, 4
    logits = 2 * torch.randn(n, c, dtype=f64, device=dev)
    multi_hot = (torch.rand(n, c, device=dev) < 0.4).to(f64)

    p = torch.sigmoid(logits)
    bce_hand = -(multi_hot * p.log() + (1 - multi_hot) * (1 - p).log()).mean()
    proof.close(
        "bce_with_logits_by_hand",
        "BCEWithLogitsLoss = mean over all N×C of -[y log σ(z) + (1-y) log(1-σ(z))]",
        F.binary_cross_entropy_with_logits(logits, multi_hot),
        bce_hand.item(),
        1e-12,
    )
    ce_hand = -(multi_hot * F.log_softmax(logits, 1)).sum(1).mean()
    proof.close(
        "ce_soft_target_by_hand",
        "CrossEntropyLoss with a multi-hot float target = mean_n of -Σ_c y_c log softmax_c",
        F.cross_entropy(logits, multi_hot),
        ce_hand.item(),
        1e-12,
    )

    # Binary classification: two softmax logits carry one degree of freedom.
    pair = 3 * torch.randn(50, 2, dtype=f64, device=dev)
    label = torch.randint(0, 2, (50,), device=dev)
    diff = pair[:, 1] - pair[:, 0]
    proof.close(
        "binary_softmax_is_sigmoid",
        "max |softmax([z0, z1])_1 - σ(z1 - z0)|",
        (torch.softmax(pair, 1)[:, 1] - torch.sigmoid(diff)).abs().max(),
        0.0,
        1e-12,
    )
    proof.close(
        "binary_ce_is_bce",
        "CrossEntropyLoss on 2 logits = BCEWithLogitsLoss on their difference",
        F.cross_entropy(pair, label),
        F.binary_cross_entropy_with_logits(diff, label.to(f64)).item(),
        1e-12,
    )

    # float32, as in training: sigmoid(-200) underflows to 0 and BCELoss clamps log at -100.
    z = torch.tensor([-200.0], device=dev)
    one = torch.ones(1, device=dev)
    proof.close(
        "bce_with_logits_stable",
        "BCEWithLogitsLoss at z = -200, y = 1 (exact: 200)",
        F.binary_cross_entropy_with_logits(z, one),
        200.0,
        1e-3,
    )
    proof.close(
        "sigmoid_then_bce_clamped",
        "BCELoss(sigmoid(z)) at z = -200, y = 1: the log is clamped, the loss is wrong",
        F.binary_cross_entropy(torch.sigmoid(z), one),
        100.0,
        1e-3,
    )


def train(proof: Proof, x, target, head: str, steps: int = 300, lr: float = 1.0):
    """Full-batch gradient descent on a linear layer; returns the trained model's predict."""
    torch = proof.torch
    F = torch.nn.functional
    weight = torch.zeros(x.shape[1], target.shape[1], dtype=x.dtype, device=x.device)
    bias = torch.zeros(target.shape[1], dtype=x.dtype, device=x.device)
    weight.requires_grad_(True)
    bias.requires_grad_(True)
    for _ in range(steps):
        logits = x @ weight + bias
        if head == "sigmoid":
            loss = F.binary_cross_entropy_with_logits(logits, target)
        else:  # the mistake: softmax + CrossEntropyLoss on a multi-hot target
            loss = F.cross_entropy(logits, target)
        gw, gb = torch.autograd.grad(loss, [weight, bias])
        with torch.no_grad():
            weight -= lr * gw
            bias -= lr * gb

    def predict(inputs):
        logits = (inputs @ weight + bias).detach()
        return torch.sigmoid(logits) if head == "sigmoid" else torch.softmax(logits, 1)

    return predict


def multilabel_training(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    n, d, c = 600, 8, 4
    directions = torch.randn(d, c, dtype=f64, device=dev)
    x = torch.randn(n, d, dtype=f64, device=dev)
    target = (x @ directions > 0).to(f64)  # each label on or off independently
    train_x, test_x = x[:400], x[400:]
    train_y, test_y = target[:400], target[400:]
    several = test_y.sum(1) >= 2
    proof.above(
        "test_has_multilabel_samples",
        "share of test samples with two or more labels",
        several.to(f64).mean(),
        0.3,
    )

    results = {}
    for head in ("sigmoid", "softmax"):
        probs = train(proof, train_x, train_y, head)(test_x)
        predicted = (probs > 0.5).to(f64)
        exact = (predicted == test_y).all(1)
        results[head] = {
            "label_acc": (predicted == test_y).to(f64).mean().item(),
            "exact_several": exact[several].to(f64).mean().item(),
            "max_yes": predicted.sum(1).max().item(),
        }

    proof.above(
        "sigmoid_exact_match_multilabel",
        "sigmoid + BCE: exact-match accuracy on test samples with ≥ 2 labels",
        results["sigmoid"]["exact_several"],
        0.6,
    )
    proof.below(
        "softmax_max_labels",
        "softmax + CE: most labels any test sample gets at threshold 0.5 (never 2: sum is 1)",
        results["softmax"]["max_yes"],
        2.0,
    )
    proof.close(
        "softmax_exact_match_multilabel",
        "softmax + CE: exact-match accuracy on test samples with ≥ 2 labels",
        results["softmax"]["exact_several"],
        0.0,
        0.0,
    )
    proof.table(
        "Same linear model, same multi-label data, two heads (test set)",
        ["head + loss", "per-label accuracy", "exact match, ≥ 2 labels", "most labels predicted"],
        [
            [
                name,
                f"{r['label_acc']:.3f}",
                f"{r['exact_several']:.3f}",
                int(r["max_yes"]),
            ]
            for name, r in (
                ("sigmoid + BCEWithLogitsLoss", results["sigmoid"]),
                ("softmax + CrossEntropyLoss", results["softmax"]),
            )
        ],
    )


def run(proof: Proof) -> None:
    jacobians(proof)
    proof.reseed(1)
    losses_by_hand(proof)
    proof.reseed(2)
    multilabel_training(proof)


if __name__ == "__main__":
    main(run, __doc__)
