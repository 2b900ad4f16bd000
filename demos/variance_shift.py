"""Train/test mismatches of dropout and stochastic depth: BN's variance shift, and scaling that matches in expectation

Dropout keeps the MEAN of a unit equal in training and at test time, but not
its VARIANCE (Li et al. 2019). With drop probability p (PyTorch's meaning), keep
probability 1 − p and input mean c, variance v, the training-mode output has

    Var_train = (c² + v)/(1 − p) − c²,    Var_test = v.

A BatchNorm placed after the dropout stores Var_train in running_var and uses it
at test time on inputs whose variance is only v: its eval outputs are squeezed
by √(v / Var_train). Measured here:

- c = 1, v = 1, p = 0.5: Var_train = 3, so BN's running_var is 3 while the eval
  input variance is 1, and BN's eval output variance is 1/3 instead of 1. With
  zero-mean inputs the factor is exactly 1/(1 − p).
- A Linear layer between the dropout and the BN does not remove the shift.
- BN first, dropout after it (and no BN after the dropout): BN's statistics are
  the eval statistics, so the shift never reaches a stored variance.

Stochastic depth (Huang et al. 2016) drops whole residual branches. The paper
keeps surviving branches unscaled and multiplies branch l by its survival
probability p_l at test time; torchvision's stochastic_depth(p, mode) instead
divides survivors by 1 − p in training and is the identity at test time. Both
match the test-time block output in expectation, which the proof measures, and
a reference implementation of torchvision's function (torchvision is not
imported here) is checked case by case. With survival decaying linearly from 1
to p_L = 0.5 over L = 54 blocks, the expected number of active blocks is
(3L − 1)/4 = 40.25.
"""

from quizcnn.proofkit import Proof, main


def run(proof: Proof) -> None:
    dropout_then_bn(proof)
    bn_then_dropout(proof)
    drop_path(proof)
    expected_depth(proof)


def exact(proof: Proof, tol: float) -> float:
    """A tolerance for an identity: tol in float64; float32 rounding (MPS has no float64)."""
    return tol if proof.float64 == proof.torch.float64 else max(tol, 1e-5)


def train_variance(c: float, v: float, p: float) -> float:
    """Var(m·x/(1 − p)) with m ~ Bernoulli(1 − p), E[x] = c, Var[x] = v."""
    return (c * c + v) / (1 - p) - c * c


def feed_bn(proof: Proof, layers, c: float, v: float, batches: int = 20, batch: int = 512):
    """Train-mode passes to fill BN's running statistics; returns inputs' sampler."""
    torch, dev, f64 = proof.torch, proof.device, proof.float64

    def sample(n):
        return c + v**0.5 * torch.randn(n, 16, device=dev, dtype=f64)

    layers.train()
    with torch.no_grad():
        for _ in range(batches):
            layers(sample(batch))
    return sample


def dropout_then_bn(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    nn = torch.nn
    rows = []
    for c, v, p in ((1.0, 1.0, 0.5), (0.0, 1.0, 0.2), (0.0, 1.0, 0.5), (2.0, 0.5, 0.1)):
        proof.reseed(1)
        drop = nn.Dropout(p)
        bn = nn.BatchNorm1d(16, affine=False, momentum=None).to(dev, f64)  # cumulative average
        net = nn.Sequential(drop, bn)
        sample = feed_bn(proof, net, c, v)
        with torch.no_grad():
            x = sample(10_000)
            train_in = drop.train()(x).var(dim=0).mean().item()
            net.train()
            train_out = net(x).var(dim=0).mean().item()
            net.eval()
            eval_in = drop(x).var(dim=0).mean().item()
            eval_out = net(x).var(dim=0).mean().item()
        running = bn.running_var.mean().item()
        predicted = train_variance(c, v, p)
        rows.append(
            [
                c,
                v,
                p,
                f"{predicted:.4f}",
                f"{train_in:.4f}",
                f"{running:.4f}",
                f"{eval_in:.4f}",
                f"{train_out:.4f}",
                f"{eval_out:.4f}",
                f"{v / predicted:.4f}",
            ]
        )
        if (c, v, p) == (1.0, 1.0, 0.5):
            proof.close(
                "train_variance",
                "Dropout(0.5) on x with mean 1, variance 1, training mode: output variance ((c² + v)/(1 − p) − c² = 3)",
                train_in,
                3.0,
                0.03,
                rel=True,
            )
            proof.close(
                "running_var_is_train_variance",
                "Dropout(0.5) → BatchNorm1d: BN's running_var after training passes (= 3)",
                running,
                3.0,
                0.03,
                rel=True,
            )
            proof.close(
                "eval_input_variance",
                "same net in eval mode: variance reaching BN (= v = 1)",
                eval_in,
                1.0,
                0.03,
                rel=True,
            )
            proof.close(
                "train_output_variance",
                "BN output variance in training mode (batch statistics: 1)",
                train_out,
                1.0,
                0.02,
                rel=True,
            )
            proof.close(
                "eval_output_variance_shrunk",
                "BN output variance in eval mode (v / Var_train = 1/3, not 1)",
                eval_out,
                1 / 3,
                0.03,
                rel=True,
            )
        if (c, v, p) == (0.0, 1.0, 0.2):
            proof.close(
                "zero_mean_factor",
                "zero-mean input, Dropout(0.2): running_var / eval input variance (1/(1 − p) = 1.25)",
                running / eval_in,
                1.25,
                0.03,
                rel=True,
            )
    proof.table(
        "Dropout(p) → BatchNorm1d(affine=False): variances per feature (averaged over 16 features)",
        [
            "c",
            "v",
            "p",
            "(c²+v)/(1−p) − c²",
            "train var in",
            "BN running_var",
            "eval var in",
            "BN out, train",
            "BN out, eval",
            "v / Var_train",
        ],
        rows,
    )

    # A Linear layer between dropout and BN: the weighted sum inherits the shift.
    proof.reseed(2)
    linear = nn.Linear(16, 16).to(dev, f64)
    bn = nn.BatchNorm1d(16, affine=False, momentum=None).to(dev, f64)
    net = nn.Sequential(nn.Dropout(0.5), linear, bn)
    sample = feed_bn(proof, net, 1.0, 1.0)
    net.eval()
    with torch.no_grad():
        eval_var = linear(sample(10_000)).var(dim=0)
    proof.close(
        "shift_survives_linear",
        "Dropout(0.5) → Linear → BN: running_var / eval variance at BN's input, mean over channels (3)",
        (bn.running_var / eval_var).mean(),
        3.0,
        0.05,
        rel=True,
    )


def bn_then_dropout(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    nn = torch.nn
    proof.reseed(3)
    bn = nn.BatchNorm1d(16, affine=False, momentum=None).to(dev, f64)
    net = nn.Sequential(bn, nn.Dropout(0.5))
    sample = feed_bn(proof, net, 1.0, 1.0)
    net.eval()
    with torch.no_grad():
        out = bn(sample(10_000))
    proof.close(
        "bn_first_no_shift",
        "BatchNorm1d → Dropout(0.5), eval mode: BN output variance (its statistics match eval inputs: 1)",
        out.var(dim=0).mean(),
        1.0,
        0.03,
        rel=True,
    )


def stochastic_depth(torch, x, p: float, mode: str, training: bool = True):
    """torchvision.ops.stochastic_depth, written out: p is the probability of DROPPING."""
    if not training or p == 0.0:
        return x
    survival = 1.0 - p
    size = [x.shape[0]] + [1] * (x.ndim - 1) if mode == "row" else [1] * x.ndim
    noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
    if survival > 0.0:
        noise.div_(survival)
    return x * noise


def drop_path(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    proof.reseed(4)
    p = 0.2
    branch = torch.randn(20_000, 8, device=dev, dtype=f64)  # f(x) for 20,000 samples
    out = stochastic_depth(torch, branch, p, "row")
    kept = (out != 0).all(dim=1)
    dropped = (out == 0).all(dim=1)
    proof.holds(
        "row_all_or_nothing",
        "mode='row': every sample's branch is either all zero or all kept",
        bool((kept | dropped).all()),
    )
    proof.close(
        "row_survivor_scale",
        "mode='row', p = 0.2: a surviving branch is multiplied by 1/(1 − p) = 1.25 (max |out/f − 1.25|)",
        (out[kept] / branch[kept] - 1.25).abs().max(),
        0.0,
        exact(proof, 1e-12),
    )
    proof.close(
        "row_drop_rate",
        "mode='row', p = 0.2: fraction of samples dropped",
        dropped.double().mean(),
        p,
        0.01,
    )
    whole = torch.stack([stochastic_depth(torch, branch[:4], p, "batch") for _ in range(200)])
    per_call = (whole != 0).flatten(1)
    proof.holds(
        "batch_mode_whole_batch",
        "mode='batch': each call keeps or drops the branch for the whole mini-batch",
        bool((per_call.all(dim=1) | (~per_call).all(dim=1)).all()),
    )
    proof.holds(
        "eval_identity",
        "training=False: stochastic_depth returns its input unchanged",
        bool(torch.equal(stochastic_depth(torch, branch, p, "row", training=False), branch)),
    )

    # One residual block y = x + f(x), many draws: both conventions match the test output on average.
    x = torch.randn(8, device=dev, dtype=f64)
    f = torch.tanh(x) + 0.5
    draws = 200_000
    b = (torch.rand(draws, 1, device=dev, dtype=f64) < 1 - p).to(f64)
    inverted = (x + b * f / (1 - p)).mean(dim=0)  # torchvision: scale in training
    original = (x + b * f).mean(dim=0)  # Huang et al.: no scaling in training
    proof.close(
        "inverted_matches_identity_test",
        "drop-path (÷(1 − p) in training): mean training output vs test output x + f(x), max |difference|",
        (inverted - (x + f)).abs().max(),
        0.0,
        0.01,
    )
    proof.close(
        "original_matches_scaled_test",
        "original recipe (no scaling in training): mean training output vs test output x + (1 − p)·f(x)",
        (original - (x + (1 - p) * f)).abs().max(),
        0.0,
        0.01,
    )


def expected_depth(proof: Proof) -> None:
    torch = proof.torch
    proof.reseed(5)
    rows = []
    for blocks, p_last in ((54, 0.5), (18, 0.5), (54, 0.8), (600, 0.5)):
        index = torch.arange(1, blocks + 1, dtype=torch.float64)
        survival = 1 - index / blocks * (1 - p_last)  # p_l = 1 − (l/L)(1 − p_L)
        active = (torch.rand(4000, blocks, dtype=torch.float64) < survival).sum(dim=1).double()
        rows.append([blocks, p_last, f"{survival.sum().item():.2f}", f"{active.mean().item():.2f}"])
        if (blocks, p_last) == (54, 0.5):
            proof.close(
                "expected_depth_54",
                "L = 54 blocks (ResNet-110), p_L = 0.5: mean number of active blocks over 4000 draws ((3L − 1)/4)",
                active.mean(),
                (3 * blocks - 1) / 4,
                0.2,
            )
    proof.table(
        "Stochastic depth, linear decay: expected vs simulated number of active residual blocks",
        ["L blocks", "p_L", "Σ p_l", "simulated mean"],
        rows,
    )


if __name__ == "__main__":
    main(run, __doc__)
