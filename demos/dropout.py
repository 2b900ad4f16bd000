"""Dropout: p is the probability of zeroing, and the scaling happens in training

What nn.Dropout(p) actually does, measured:

- p is the probability that an element is ZEROED (not kept): Dropout(0.3)
  zeroes about 30% of the elements and Dropout(0.9) about 90%. (The 2014
  paper's p and TensorFlow 1's keep_prob are the probability of keeping.)
- PyTorch uses inverted dropout: in training the survivors are multiplied by
  1/(1 − p), so every survivor of a tensor of ones equals 1/(1 − p) and the
  expected activation is unchanged; the gradient flows only through the
  survivors, with the same factor.
- In eval mode Dropout is the identity: no mask and no scaling at test time.
  The paper's original recipe instead keeps training outputs unscaled and
  multiplies by the keep probability at test time; both match the expected
  training-time activation.
- A network with dropout gives a different output at every train-mode call
  and the same output at every eval-mode call; for a linear network the
  average over many masks is the eval output (the ensemble view).
"""

from quizcnn.proofkit import Proof, main


def run(proof: Proof) -> None:
    p_means_zeroing(proof)
    inverted_scaling(proof)
    eval_is_identity(proof)
    dropout_in_a_network(proof)


def p_means_zeroing(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    proof.reseed(1)
    ones = torch.ones(200_000, device=dev, dtype=f64)
    rows = []
    for p in (0.1, 0.3, 0.5, 0.9):
        out = torch.nn.Dropout(p)(ones)  # a fresh module is in training mode
        zero_fraction = (out == 0).double().mean().item()
        rows.append([p, f"{zero_fraction:.4f}", f"{out.mean().item():.4f}", f"{1 / (1 - p):.4f}"])
        if p in (0.3, 0.9):
            proof.close(
                f"zero_fraction_p{int(p * 10)}",
                f"nn.Dropout(p={p}) in training: fraction of elements zeroed",
                zero_fraction,
                p,
                0.005,
            )
    proof.table(
        "nn.Dropout(p) on 200,000 ones, training mode",
        ["p", "fraction zeroed", "mean output", "1/(1 − p)"],
        rows,
    )


def inverted_scaling(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    proof.reseed(2)
    p = 0.3
    ones = torch.ones(200_000, device=dev, dtype=f64)
    out = torch.nn.functional.dropout(ones, p=p, training=True)
    survivors = out[out != 0]
    proof.close(
        "survivor_value",
        "every survivor of Dropout(0.3) applied to ones: largest |value − 1/(1 − p)|",
        (survivors - 1 / (1 - p)).abs().max(),
        0.0,
        1e-6,
    )
    x = torch.rand(200_000, device=dev, dtype=f64) * 2  # mean 1
    out = torch.nn.functional.dropout(x, p=p, training=True)
    proof.close(
        "mean_preserved",
        "Dropout(0.3) in training: mean output / mean input (inverted dropout keeps it at 1)",
        out.mean() / x.mean(),
        1.0,
        0.01,
    )
    # The gradient is the same mask, with the same 1/(1 − p) factor.
    x = x[:1000].clone().requires_grad_(True)
    out = torch.nn.functional.dropout(x, p=p, training=True)
    out.sum().backward()
    mask = (out != 0).to(f64)
    proof.close(
        "gradient_is_scaled_mask",
        "∂ sum(dropout(x)) / ∂x equals mask/(1 − p): max difference",
        (x.grad - mask / (1 - p)).abs().max(),
        0.0,
        1e-6,
    )
    # The 2014 recipe: no scaling in training, multiply by the keep probability at test.
    keep = (torch.rand(2000, 1000, device=dev, dtype=f64) >= p).to(f64)
    unscaled_train_mean = (keep * x.detach()).mean(dim=0)
    proof.close(
        "classic_test_scaling",
        "without inverted scaling, mean training output ≈ (1 − p)·x: mean relative error",
        ((unscaled_train_mean - (1 - p) * x.detach()).abs() / ((1 - p) * x.detach())).mean(),
        0.0,
        0.03,
    )


def eval_is_identity(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    proof.reseed(3)
    x = torch.randn(10_000, device=dev, dtype=f64)
    drop = torch.nn.Dropout(0.5).eval()
    proof.holds(
        "eval_identity",
        "nn.Dropout(0.5) in eval mode returns its input unchanged",
        bool(torch.equal(drop(x), x)),
    )
    proof.holds(
        "functional_training_false",
        "F.dropout(x, 0.5, training=False) returns its input unchanged",
        bool(torch.equal(torch.nn.functional.dropout(x, 0.5, training=False), x)),
    )


def dropout_in_a_network(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    proof.reseed(4)
    net = torch.nn.Sequential(
        torch.nn.Linear(16, 64),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.5),
        torch.nn.Linear(64, 1),
    ).to(dev, f64)
    x = torch.randn(8, 16, device=dev, dtype=f64)
    with torch.no_grad():
        net.train()
        a, b = net(x), net(x)
        net.eval()
        c, d = net(x), net(x)
        no_dropout = net[3](net[1](net[0](x)))
    proof.above(
        "train_calls_differ",
        "train mode: max difference between two calls on the same input",
        (a - b).abs().max(),
        1e-3,
    )
    proof.holds(
        "eval_calls_equal",
        "eval mode: two calls on the same input give identical outputs",
        bool(torch.equal(c, d)),
    )
    proof.close(
        "eval_equals_no_dropout",
        "eval-mode output vs the same network with Dropout removed: max difference",
        (c - no_dropout).abs().max(),
        0.0,
        1e-9,
    )

    # Ensemble view: a dropout layer followed by a linear layer, averaged over many masks.
    linear = torch.nn.Sequential(torch.nn.Dropout(0.5), torch.nn.Linear(64, 1)).to(dev, f64)
    h = torch.rand(4, 64, device=dev, dtype=f64)
    with torch.no_grad():
        linear.train()
        mask_average = torch.stack([linear(h) for _ in range(4000)]).mean(dim=0)
        linear.eval()
        eval_out = linear(h)
    proof.close(
        "mask_average_is_eval",
        "Dropout→Linear: average of 4000 train-mode outputs vs the eval output, max difference",
        (mask_average - eval_out).abs().max(),
        0.0,
        0.05,
    )


if __name__ == "__main__":
    main(run, __doc__)
