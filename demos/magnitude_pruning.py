"""Magnitude pruning: what torch.nn.utils.prune does, and why sparsity is not speed

Pruning as PyTorch implements it, and the prune-then-retrain recipe of Han et al.
(2015), measured:

- prune.l1_unstructured(module, "weight", amount=0.5) zeroes exactly half of the
  weights, and exactly the smallest |w|. It does not delete anything: the module
  gains a parameter weight_orig (the untouched values) and a buffer weight_mask,
  and `weight` becomes a plain attribute recomputed as weight_orig * weight_mask
  by a forward pre-hook before every call. The gradient reaching weight_orig is 0
  at pruned positions, so training keeps them pruned; while pruned, the
  state_dict holds about twice the weights. prune.remove makes the zeros
  permanent and restores a plain `weight` parameter.
- A float amount is a share of the weights that are STILL unpruned, rounded with
  Python's round() (halves to even): pruning 0.5 twice leaves 25%, not 0%.
- prune.global_unstructured ranks all layers together, so layers with small
  weights lose more of them.
- prune.ln_structured(..., n=2, dim=0) zeroes whole output filters (those with the
  smallest L2 norm). Such filters can be cut out: a conv with fewer filters gives
  the same outputs for the kept channels with fewer parameters and multiply-adds.
- An unstructured 90%-sparse matrix is still a dense matrix to a dense kernel:
  the product costs the same M·K·N multiply-adds, of which only 10% involve a
  nonzero weight (a sparse kernel gets the same result from those alone).
- Han et al.'s recipe on a small regression net: pruning 80% of the weights by
  magnitude raises the loss a hundredfold, retraining the survivors with the mask
  fixed brings most of it back, and after retraining the magnitude-pruned net is
  clearly better than a randomly pruned one (right after pruning, both are bad).
"""

from quizcnn.proofkit import Proof, main


def _prune():
    """torch.nn.utils.prune is a submodule that `import torch` does not load."""
    import torch.nn.utils.prune as prune

    return prune


def exact(proof: Proof, tol: float) -> float:
    """A tolerance for an identity: tol in float64, looser in float32 (MPS has no float64)."""
    return tol if proof.float64 == proof.torch.float64 else max(tol, 1e-4)


def run(proof: Proof) -> None:
    unstructured(proof)
    iterative_amounts(proof)
    structured(proof)
    dense_cost(proof)
    prune_and_retrain(proof)


def unstructured(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    prune = _prune()
    proof.reseed(1)
    layer = torch.nn.Linear(64, 32).to(dev, f64)
    original = layer.weight.detach().clone()
    prune.l1_unstructured(layer, "weight", amount=0.5)
    mask = layer.weight_mask
    proof.close(
        "half_zeroed",
        "prune.l1_unstructured(amount=0.5) on a 32×64 weight: number of zeros (of 2048)",
        (layer.weight == 0).sum(),
        1024,
        0,
    )
    pruned_max = original[mask == 0].abs().max()
    kept_min = original[mask == 1].abs().min()
    proof.holds(
        "smallest_magnitudes_pruned",
        "every pruned weight had a smaller |w| than every kept one",
        bool(pruned_max < kept_min),
        f"largest pruned |w| {pruned_max.item():.5f} < smallest kept |w| {kept_min.item():.5f}",
    )
    params = [name for name, _ in layer.named_parameters()]
    buffers = [name for name, _ in layer.named_buffers()]
    proof.holds(
        "reparametrized",
        "after pruning: parameters are bias and weight_orig, buffers weight_mask; "
        "weight is no longer a parameter",
        sorted(params) == ["bias", "weight_orig"] and buffers == ["weight_mask"],
        f"parameters {params}, buffers {buffers}",
    )
    proof.holds(
        "weight_is_orig_times_mask",
        "layer.weight equals weight_orig * weight_mask, and weight_orig still holds the originals",
        bool(torch.equal(layer.weight, layer.weight_orig * mask))
        and bool(torch.equal(layer.weight_orig.detach(), original)),
    )
    x = torch.randn(8, 64, device=dev, dtype=f64)
    layer(x).pow(2).sum().backward()
    proof.close(
        "masked_gradient_zero",
        "gradient reaching weight_orig at pruned positions: max |value|",
        layer.weight_orig.grad[mask == 0].abs().max(),
        0.0,
        0.0,
    )
    stored = sum(t.numel() for t in layer.state_dict().values())
    proof.close(
        "state_dict_doubles",
        "values in the pruned layer's state_dict (weight_orig + weight_mask + bias)",
        stored,
        2 * 2048 + 32,
        0,
    )
    prune.remove(layer, "weight")
    params = [name for name, _ in layer.named_parameters()]
    proof.holds(
        "remove_makes_permanent",
        "after prune.remove: weight is a parameter again, 1024 zeros kept, no mask, no hook",
        sorted(params) == ["bias", "weight"]
        and int((layer.weight == 0).sum()) == 1024
        and not list(layer.named_buffers())
        and not layer._forward_pre_hooks,
        f"parameters {params}",
    )
    proof.table(
        "nn.Linear(64, 32) through prune.l1_unstructured(amount=0.5) and prune.remove",
        ["stage", "parameters", "buffers", "state_dict values", "zeros in weight"],
        [
            ["before", "weight, bias", "-", 2048 + 32, 0],
            ["pruned", "weight_orig, bias", "weight_mask", 2 * 2048 + 32, 1024],
            ["after prune.remove", "weight, bias", "-", 2048 + 32, 1024],
        ],
    )


def iterative_amounts(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    prune = _prune()
    proof.reseed(2)
    layer = torch.nn.Linear(64, 32).to(dev, f64)
    rows, left = [], []
    for step in range(1, 4):
        prune.l1_unstructured(layer, "weight", amount=0.5)
        left.append(int((layer.weight != 0).sum()))
        rows.append([step, left[-1], f"{left[-1] / 2048:.4f}"])
    proof.table(
        "prune.l1_unstructured(amount=0.5) called again and again on 2048 weights",
        ["calls", "weights left", "share left"],
        rows,
    )
    proof.close(
        "amount_is_of_remaining",
        "share of weights left after two calls with amount=0.5 (0.25, not 0)",
        left[1] / 2048,
        0.25,
        0,
    )
    odd = torch.nn.Linear(5, 7).to(dev, f64)  # 35 weights: 0.5·35 = 17.5 rounds to 18
    prune.l1_unstructured(odd, "weight", amount=0.5)
    proof.close(
        "rounding_half_to_even",
        "weights left after amount=0.5 on 35 weights (round(17.5) = 18 pruned)",
        (odd.weight != 0).sum(),
        17,
        0,
    )
    # Global ranking: a layer with ten times smaller weights loses almost all of them.
    a = torch.nn.Linear(32, 32).to(dev, f64)
    b = torch.nn.Linear(32, 32).to(dev, f64)
    with torch.no_grad():
        b.weight.mul_(0.1)
    prune.global_unstructured(
        [(a, "weight"), (b, "weight")], pruning_method=prune.L1Unstructured, amount=0.5
    )
    share_a = (a.weight == 0).double().mean().item()
    share_b = (b.weight == 0).double().mean().item()
    proof.holds(
        "global_is_uneven",
        "global_unstructured(amount=0.5) over two layers, one with 10× smaller weights: "
        "the small layer loses most, the total is 50%",
        share_b > 0.85 and share_a < 0.15 and abs((share_a + share_b) / 2 - 0.5) < 1e-12,
        f"zeroed: large layer {share_a:.3f}, small layer {share_b:.3f}",
    )


def structured(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    prune = _prune()
    proof.reseed(3)
    conv = torch.nn.Conv2d(8, 16, 3, padding=1).to(dev, f64)
    norms = conv.weight.detach().flatten(1).norm(dim=1)
    prune.ln_structured(conv, "weight", amount=0.25, n=2, dim=0)
    w = conv.weight.detach()
    dead = (w.flatten(1) == 0).all(dim=1)
    proof.close(
        "whole_filters_zeroed",
        "prune.ln_structured(amount=0.25, n=2, dim=0) on Conv2d(8, 16, 3): filters all zero",
        dead.sum(),
        4,
        0,
    )
    proof.holds(
        "smallest_norm_filters",
        "the zeroed filters are the 4 with the smallest L2 norm, and no other weight is zero",
        set(torch.argsort(norms)[:4].tolist()) == set(torch.nonzero(dead).flatten().tolist())
        and bool((w[~dead] != 0).all()),
    )
    # Cut the dead filters out: a genuinely smaller conv with the same kept outputs.
    keep = torch.nonzero(~dead).flatten()
    slim = torch.nn.Conv2d(8, len(keep), 3, padding=1).to(dev, f64)
    with torch.no_grad():
        slim.weight.copy_(w[keep])
        slim.bias.copy_(conv.bias[keep])
    x = torch.randn(2, 8, 12, 12, device=dev, dtype=f64)
    with torch.no_grad():
        full_out, slim_out = conv(x), slim(x)
    proof.close(
        "slim_conv_same_outputs",
        "a Conv2d(8, 12, 3) built from the 12 kept filters vs the pruned conv's kept channels: max diff",
        (full_out[:, keep] - slim_out).abs().max(),
        0.0,
        exact(proof, 1e-12),
    )
    proof.holds(
        "dead_channels_constant",
        "each pruned filter's output channel is its bias, a constant map",
        bool(
            torch.equal(
                full_out[:, dead], conv.bias[dead].view(1, -1, 1, 1).expand_as(full_out[:, dead])
            )
        ),
    )
    macs_full = 12 * 12 * 16 * 8 * 9
    macs_slim = 12 * 12 * len(keep) * 8 * 9
    params_slim = sum(p.numel() for p in slim.parameters())
    params_full = conv.weight.numel() + conv.bias.numel()
    nonzero = int((conv.weight != 0).sum() + (conv.bias != 0).sum())  # the biases stay
    proof.table(
        "Structured pruning of Conv2d(8, 16, 3) on 12×12 inputs, then cutting the dead filters out",
        ["model", "filters", "parameters", "multiply-adds per image"],
        [
            ["dense", 16, params_full, macs_full],
            [
                "pruned (mask)",
                "16 (4 all zero)",
                f"{params_full} ({nonzero} nonzero) + {conv.weight_mask.numel()} mask",
                macs_full,
            ],
            ["slim Conv2d(8, 12, 3)", len(keep), params_slim, macs_slim],
        ],
    )
    proof.close(
        "slim_macs_share",
        "multiply-adds of the slim conv / the dense conv",
        macs_slim / macs_full,
        0.75,
        0,
    )


def dense_cost(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    proof.reseed(4)
    m, k, n = 256, 512, 64
    w = torch.randn(m, k, device=dev, dtype=f64)
    threshold = w.abs().flatten().kthvalue(int(0.9 * m * k)).values
    w_sparse_values = torch.where(w.abs() > threshold, w, torch.zeros_like(w))
    x = torch.randn(k, n, device=dev, dtype=f64)
    nnz = int((w_sparse_values != 0).sum())
    dense_macs = m * k * n  # what a dense GEMM performs, whatever the values
    useful_macs = nnz * n  # the multiply-adds with a nonzero weight
    proof.close(
        "sparsity_90",
        "share of zeros in the magnitude-pruned 256×512 matrix",
        1 - nnz / (m * k),
        0.9,
        1e-4,
    )
    proof.close(
        "useful_share",
        "multiply-adds with a nonzero weight / the M·K·N a dense matmul performs",
        useful_macs / dense_macs,
        0.1,
        1e-4,
    )
    with torch.no_grad():
        dense_result = w_sparse_values @ x
        sparse_result = torch.sparse.mm(w_sparse_values.cpu().to_sparse(), x.cpu()).to(dev)
    proof.close(
        "sparse_kernel_same_result",
        "torch.sparse.mm on the nonzeros alone vs the dense matmul: max difference",
        (dense_result - sparse_result).abs().max(),
        0.0,
        exact(proof, 1e-10),
    )
    proof.table(
        "A 90%-sparse 256×512 weight times a 512×64 input",
        ["kernel", "multiply-adds", "FLOPs (2 per multiply-add)"],
        [
            ["dense matmul (zeros included)", f"{dense_macs:,}", f"{2 * dense_macs:,}"],
            ["dense matmul of the unpruned weight", f"{dense_macs:,}", f"{2 * dense_macs:,}"],
            ["only the nonzero weights", f"{useful_macs:,}", f"{2 * useful_macs:,}"],
        ],
    )


def prune_and_retrain(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    prune = _prune()
    proof.reseed(5)
    x = torch.randn(256, 16, device=dev, dtype=f64)
    y = torch.sin(x[:, :4]).sum(1, keepdim=True) + 0.5 * x[:, 4:6].prod(1, keepdim=True)

    def make():
        proof.reseed(6)
        return torch.nn.Sequential(
            torch.nn.Linear(16, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1)
        ).to(dev, f64)

    def loss_of(net):
        return ((net(x) - y) ** 2).mean()

    def train(net, steps, lr=0.05, beta=0.9):
        """SGD with momentum, written out (what torch.optim.SGD does without dampening)."""
        params = [p for p in net.parameters() if p.requires_grad]
        velocity = [torch.zeros_like(p) for p in params]
        for _ in range(steps):
            grads = torch.autograd.grad(loss_of(net), params)
            with torch.no_grad():
                for p, v, g in zip(params, velocity, grads, strict=True):
                    v.mul_(beta).add_(g)
                    p.sub_(lr * v)
        with torch.no_grad():
            return loss_of(net).item()

    net = make()
    dense = train(net, 300)
    trained = {k: v.clone() for k, v in net.state_dict().items()}
    results = {}
    for method in ("magnitude", "random"):
        net = make()
        net.load_state_dict(trained)
        for layer in (net[0], net[2]):
            if method == "magnitude":
                prune.l1_unstructured(layer, "weight", amount=0.8)
            else:
                proof.reseed(7)
                prune.random_unstructured(layer, "weight", amount=0.8)
        with torch.no_grad():
            after = loss_of(net).item()
        retrained = train(net, 200)  # updates weight_orig; the mask keeps the zeros
        zeros = sum(int((layer.weight == 0).sum()) for layer in (net[0], net[2]))
        results[method] = (after, retrained, zeros)
    total = 16 * 32 + 32
    proof.table(
        "Small regression net (16-32-1), 80% of the weights pruned in each layer, then retrained",
        [
            "pruning",
            "loss before pruning",
            "right after pruning",
            "after 200 retraining steps",
            "zero weights",
        ],
        [
            [m, f"{dense:.4f}", f"{a:.4f}", f"{r:.4f}", f"{z} of {total}"]
            for m, (a, r, z) in results.items()
        ],
    )
    mag_after, mag_retrained, mag_zeros = results["magnitude"]
    proof.above(
        "pruning_hurts",
        "loss right after magnitude pruning 80% / loss of the trained dense net",
        mag_after / dense,
        10.0,
    )
    proof.below(
        "retraining_recovers",
        "loss after retraining the survivors / loss right after pruning",
        mag_retrained / mag_after,
        0.2,
    )
    proof.close(
        "mask_survives_retraining",
        "zero weights after retraining (80% of 544, rounded per layer: 410 + 26)",
        mag_zeros,
        round(0.8 * 512) + round(0.8 * 32),
        0,
    )
    proof.above(
        "magnitude_beats_random",
        "after retraining: loss with random pruning / loss with magnitude pruning",
        results["random"][1] / mag_retrained,
        1.5,
    )


if __name__ == "__main__":
    main(run, __doc__)
