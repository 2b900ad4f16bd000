"""BN before or after the activation: what changes, and why neither is a law

Ioffe & Szegedy (2015, section 3.2) put BN on the pre-activation, z = g(BN(Wu)),
and drop the layer's bias because BN's mean subtraction cancels it. Many later
networks and notes put BN after the ReLU instead; which order trains better is
an empirical question that depends on the network. This proof measures what each
order does, on a 4-layer MLP:

- a bias in front of BN does nothing: the output is the same without it and the
  bias gets a zero gradient (float64);
- Linear -> BN -> ReLU: BN centres each pre-activation, so about half of the
  ReLUs fire (at initialization, gamma = 1, beta = 0);
- Linear -> ReLU -> BN: the next layer receives standardized inputs (mean 0,
  variance 1) and the ReLU's zeros become negative values;
- on a small classification task both orders reach high accuracy.
"""

from quizcnn.proofkit import Proof, main

DEPTH, WIDTH, IN, CLASSES = 4, 64, 16, 4
STEPS, BATCH, SAMPLES, LR = 100, 64, 512, 0.5


def make_mlp(torch, order: str, device):
    layers, width_in = [], IN
    for _ in range(DEPTH):
        layers.append(torch.nn.Linear(width_in, WIDTH, bias=order != "bn_first"))
        block = [torch.nn.BatchNorm1d(WIDTH), torch.nn.ReLU()]
        layers += block if order == "bn_first" else block[::-1]
        width_in = WIDTH
    layers.append(torch.nn.Linear(width_in, CLASSES))
    return torch.nn.Sequential(*layers).to(device)


def train(proof: Proof, order: str, x, y):
    """Plain SGD; returns the last loss and the accuracy on all samples."""
    torch = proof.torch
    proof.reseed(1)
    model = make_mlp(torch, order, proof.device)
    params = list(model.parameters())
    for _ in range(STEPS):
        idx = torch.randint(0, SAMPLES, (BATCH,), device=proof.device)
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for param, grad in zip(params, grads, strict=True):
                param -= LR * grad
    model.eval()
    with torch.no_grad():
        accuracy = (model(x).argmax(dim=1) == y).float().mean().item()
    return loss.item(), accuracy


def run(proof: Proof) -> None:
    torch = proof.torch
    dev = proof.device
    dt = proof.float64
    tight = 1e-10 if dt == torch.float64 else 1e-4

    # --- 1. a bias before BN is cancelled (float64) ----------------------------
    linear = torch.nn.Linear(10, 6, device=dev, dtype=dt)
    with torch.no_grad():
        linear.bias.uniform_(-5.0, 5.0)  # a large bias, to make the point
    bn = torch.nn.BatchNorm1d(6, device=dev, dtype=dt)
    u = torch.randn(32, 10, dtype=dt, device=dev)
    out = bn(linear(u))
    out_without_bias = bn(u @ linear.weight.T)
    (out * torch.randn_like(out)).sum().backward()
    proof.below(
        "bias_before_bn_no_effect",
        "max |BN(Wu + b) - BN(Wu)| with |b| up to 5",
        (out - out_without_bias).abs().max(),
        tight,
    )
    proof.below(
        "bias_before_bn_zero_grad",
        "gradient of the loss w.r.t. that bias: max abs",
        linear.bias.grad.abs().max(),
        tight,
    )

    # --- 2. what each order feeds forward, at initialization ----------------------
    proof.reseed(2)
    x = torch.randn(256, IN, device=dev)
    bn_first = make_mlp(torch, "bn_first", dev)
    relu_first = make_mlp(torch, "relu_first", dev)
    after_bn_relu = bn_first[:3](x)  # Linear -> BN -> ReLU
    after_relu_bn = relu_first[:3](x)  # Linear -> ReLU -> BN
    proof.close(
        "bn_first_half_active",
        "Linear -> BN -> ReLU: fraction of ReLUs that fire",
        (after_bn_relu > 0).float().mean(),
        0.5,
        0.05,
    )
    proof.below(
        "relu_first_output_mean_zero",
        "Linear -> ReLU -> BN: largest |mean| of a feature passed on",
        after_relu_bn.mean(dim=0).abs().max(),
        1e-4,
    )
    proof.above(
        "relu_first_output_has_negatives",
        "Linear -> ReLU -> BN: fraction of negative values passed on (the ReLU's zeros, shifted)",
        (after_relu_bn < 0).float().mean(),
        0.3,
    )

    # --- 3. both orders train ---------------------------------------------------
    proof.reseed(0)
    x = torch.randn(SAMPLES, IN, device=dev)
    y = (x @ torch.randn(IN, CLASSES, device=dev)).argmax(dim=1)
    rows = []
    accuracies = {}
    for order, label in (("bn_first", "Linear-BN-ReLU"), ("relu_first", "Linear-ReLU-BN")):
        last_loss, accuracy = train(proof, order, x, y)
        accuracies[order] = accuracy
        rows.append([label, last_loss, accuracy])
    proof.above(
        "bn_first_trains",
        "Linear -> BN -> ReLU: accuracy after 100 SGD steps (chance 0.25)",
        accuracies["bn_first"],
        0.85,
    )
    proof.above(
        "relu_first_trains",
        "Linear -> ReLU -> BN: accuracy after 100 SGD steps (chance 0.25)",
        accuracies["relu_first"],
        0.85,
    )
    proof.table(
        f"{DEPTH}-layer MLP, plain SGD lr {LR}, {STEPS} steps of batch {BATCH}",
        ["order", "last batch loss", "accuracy on all 512 samples"],
        rows,
    )


if __name__ == "__main__":
    main(run, __doc__)
