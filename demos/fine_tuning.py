"""Fine-tuning mechanics: freezing, parameter groups, discriminative learning rates, LP-FT

What the usual fine-tuning knobs do in PyTorch, measured on small networks:

- requires_grad_(False) on the pretrained body: autograd computes no gradient for
  it (grad stays None, and backward stops at the first trainable layer), and
  torch.optim skips parameters whose grad is None, so momentum and weight decay
  leave them untouched even if they are in the optimizer.
- Leaving the body out of the optimizer but trainable: its gradients are still
  computed, and they ACCUMULATE, because optimizer.zero_grad() only clears the
  optimizer's own parameters; the weights do not move.
- A trap: freeze after some training with the gradients zeroed in place
  (zero_grad(set_to_none=False)) and the "frozen" parameters hold a zero tensor,
  not None: SGD with momentum and weight decay keeps moving them.
- requires_grad_(False) on a BatchNorm does not stop its running statistics: in
  train mode every forward still updates them (only eval mode stops that).
- Parameter groups: SGD([{"params": body, "lr": 1e-3}, {"params": head}], lr=1e-2)
  steps each group with its own learning rate, the keyword default filling in.
  ULMFiT's discriminative fine-tuning (Howard & Ruder 2018, §3.2) sets
  η^(l−1) = η^l/2.6 layer by layer; gradual unfreezing (§3.3) trains the top layer
  first and unfreezes one more layer per stage.
- Linear probing then fine-tuning (LP-FT, Kumar et al. 2022): fine-tuning a
  pretrained body under a randomly initialized head changes its features far more
  than fine-tuning after the head has been fitted, for a worse fit in the same
  number of steps.
"""

import copy

from quizcnn.proofkit import Proof, main

ULMFIT_FACTOR = 2.6


def run(proof: Proof) -> None:
    freezing(proof)
    stale_zero_gradients(proof)
    batchnorm_statistics(proof)
    parameter_groups(proof)
    discriminative_and_gradual(proof)
    linear_probe_then_fine_tune(proof)


def exact(proof: Proof, tol: float) -> float:
    """A tolerance for an identity: tol in float64, looser in float32 (MPS has no float64)."""
    return tol if proof.float64 == proof.torch.float64 else max(tol, 1e-2)


def mlp(proof: Proof, widths=(8, 16, 16, 4)):
    torch = proof.torch
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:], strict=False)):
        layers.append(torch.nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers).to(proof.device, proof.float64)


def snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def unchanged(module, before) -> bool:
    return all(
        bool((p.detach() == b).all()) for p, b in zip(module.parameters(), before, strict=True)
    )


def freezing(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    proof.reseed(1)
    x = torch.randn(32, 8, device=dev, dtype=f64)
    y = torch.randint(0, 4, (32,), device=dev)

    # (a) requires_grad_(False), frozen parameters still handed to the optimizer.
    model = mlp(proof)
    body, head = model[:4], model[4]
    body.requires_grad_(False)
    features = body(x)
    proof.holds(
        "frozen_body_output_has_no_graph",
        "the frozen body's output has requires_grad False: backward stops at the head",
        not features.requires_grad and features.grad_fn is None,
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
    before_body, before_head = snapshot(body), snapshot(head)
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    proof.holds(
        "requires_grad_false_no_grad",
        "after backward: every frozen parameter's .grad is None",
        all(p.grad is None for p in body.parameters()),
    )
    proof.holds(
        "frozen_in_optimizer_unchanged",
        "3 SGD steps (momentum 0.9, weight decay 0.01) with the frozen body in the optimizer: "
        "body weights bit-for-bit unchanged, head changed",
        unchanged(body, before_body) and not unchanged(head, before_head),
    )

    # (b) trainable but left out of the optimizer.
    model = mlp(proof)
    body, head = model[:4], model[4]
    opt = torch.optim.SGD(head.parameters(), lr=0.1)
    before_body = snapshot(body)
    fresh_sum = torch.zeros_like(model[0].weight)
    for _ in range(3):
        twin = copy.deepcopy(model)  # the gradient this iteration alone would give
        twin.zero_grad(set_to_none=True)
        F.cross_entropy(twin(x), y).backward()
        fresh_sum += twin[0].weight.grad
        single = twin[0].weight.grad.norm().item()
        opt.zero_grad()  # clears the head's gradients only
        F.cross_entropy(model(x), y).backward()
        opt.step()
    accumulated = model[0].weight.grad
    proof.close(
        "excluded_grads_accumulate",
        "body left out of the optimizer: its first layer's .grad after 3 iterations vs the sum of "
        "the 3 per-iteration gradients: max difference",
        (accumulated - fresh_sum).abs().max(),
        0.0,
        exact(proof, 1e-12),
    )
    proof.holds(
        "excluded_weights_unchanged",
        "the excluded body's weights after 3 steps: unchanged (but gradients were computed)",
        unchanged(body, before_body),
        f"‖accumulated grad‖ {accumulated.norm().item():.4f} vs one iteration's {single:.4f}",
    )


def stale_zero_gradients(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    proof.reseed(2)
    x = torch.randn(32, 8, device=dev, dtype=f64)
    y = torch.randint(0, 4, (32,), device=dev)
    moved = {}
    for set_to_none in (False, True):
        proof.reseed(3)
        model = mlp(proof)
        body = model[:4]
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()  # one step of full training: momentum buffers exist now
        body.requires_grad_(False)  # freeze the body ...
        opt.zero_grad(set_to_none=set_to_none)  # ... with zero tensors or with None
        before = snapshot(body)
        for _ in range(5):
            F.cross_entropy(model(x), y).backward()
            opt.step()
            opt.zero_grad(set_to_none=set_to_none)
        moved[set_to_none] = max(
            (p.detach() - b).abs().max().item()
            for p, b in zip(body.parameters(), before, strict=True)
        )
    proof.above(
        "zeroed_grad_still_moves",
        "frozen after one step, grads zeroed in place (set_to_none=False): largest change of a "
        "'frozen' weight over 5 more SGD steps (momentum + weight decay act on the zero grad)",
        moved[False],
        1e-3,
    )
    proof.close(
        "none_grad_stays",
        "the same with set_to_none=True (the default): largest change",
        moved[True],
        0.0,
        0.0,
    )


def batchnorm_statistics(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    proof.reseed(4)
    bn = torch.nn.BatchNorm1d(6).to(dev, f64)
    bn.requires_grad_(False)
    x = 3 + 2 * torch.randn(64, 6, device=dev, dtype=f64)
    bn.train()
    bn(x)
    moved = bn.running_mean.abs().max().item()
    proof.above(
        "bn_stats_move_despite_frozen",
        "BatchNorm1d with requires_grad_(False), one train-mode forward on data of mean 3: "
        "largest running_mean entry (was 0)",
        moved,
        0.2,
    )
    before = bn.running_mean.clone()
    bn.eval()
    bn(x)
    proof.holds(
        "bn_eval_stops_stats",
        "the same layer in eval mode: running_mean unchanged by a forward",
        bool(torch.equal(before, bn.running_mean)),
    )


def parameter_groups(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    proof.reseed(5)
    model = mlp(proof)
    body, head = model[:4], model[4]
    opt = torch.optim.SGD(
        [{"params": body.parameters(), "lr": 1e-3}, {"params": head.parameters()}], lr=1e-2
    )
    x = torch.randn(32, 8, device=dev, dtype=f64)
    y = torch.randint(0, 4, (32,), device=dev)
    F.cross_entropy(model(x), y).backward()
    w_body, w_head = model[0].weight, model[4].weight
    g_body, g_head = w_body.grad.clone(), w_head.grad.clone()
    before_body, before_head = w_body.detach().clone(), w_head.detach().clone()
    opt.step()
    lr_body = ((before_body - w_body.detach()) / g_body)[g_body.abs() > 1e-8].mean()
    lr_head = ((before_head - w_head.detach()) / g_head)[g_head.abs() > 1e-8].mean()
    proof.close(
        "group_lr_body",
        "measured step / gradient for the body group given lr=1e-3",
        lr_body,
        1e-3,
        exact(proof, 1e-9),
        rel=True,
    )
    proof.close(
        "group_lr_default",
        "the same for the head group, which names no lr (the default lr=1e-2 fills in)",
        lr_head,
        1e-2,
        exact(proof, 1e-9),
        rel=True,
    )


def discriminative_and_gradual(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    proof.reseed(6)
    model = mlp(proof, widths=(8, 16, 16, 16, 4))  # four Linear layers
    layers = [m for m in model if isinstance(m, torch.nn.Linear)]
    top_lr = 0.01
    lrs = [top_lr / ULMFIT_FACTOR ** (len(layers) - 1 - i) for i in range(len(layers))]
    opt = torch.optim.SGD(
        [{"params": layer.parameters(), "lr": lr} for layer, lr in zip(layers, lrs, strict=True)],
        lr=top_lr,
    )
    x = torch.randn(32, 8, device=dev, dtype=f64)
    y = torch.randint(0, 4, (32,), device=dev)
    F.cross_entropy(model(x), y).backward()
    grads = [layer.weight.grad.clone() for layer in layers]
    before = [layer.weight.detach().clone() for layer in layers]
    opt.step()
    rows, measured = [], []
    for i, (layer, g, b) in enumerate(zip(layers, grads, before, strict=True)):
        ratio = ((b - layer.weight.detach()) / g)[g.abs() > 1e-8].mean().item()
        measured.append(ratio)
        rows.append([i + 1, f"{lrs[i]:.4e}", f"{ratio:.4e}", f"{top_lr / ratio:.3f}"])
    proof.table(
        "ULMFiT discriminative learning rates, η^(l−1) = η^l/2.6, top lr 0.01, one SGD step",
        ["layer (1 = input side)", "group lr", "measured step / gradient", "top lr / measured"],
        rows,
    )
    proof.close(
        "ulmfit_lowest_lr",
        "measured learning rate of the lowest of 4 layers: 0.01/2.6³",
        measured[0],
        top_lr / ULMFIT_FACTOR**3,
        exact(proof, 1e-9),
        rel=True,
    )
    proof.close(
        "ulmfit_ratio",
        "ratio of the learning rates of two adjacent layers",
        measured[2] / measured[1],
        ULMFIT_FACTOR,
        exact(proof, 1e-9),
        rel=True,
    )

    # Gradual unfreezing: stage s trains the top s layers; everything is in the optimizer.
    proof.reseed(7)
    model = mlp(proof, widths=(8, 16, 16, 16, 4))
    layers = [m for m in model if isinstance(m, torch.nn.Linear)]
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    stage_rows, ok = [], True
    model.requires_grad_(False)
    for stage in range(1, len(layers) + 1):
        layers[-stage].requires_grad_(True)  # unfreeze one more layer, from the top
        before = [snapshot(layer) for layer in layers]
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        moved = [not unchanged(layer, b) for layer, b in zip(layers, before, strict=True)]
        expected = [i >= len(layers) - stage for i in range(len(layers))]
        ok = ok and moved == expected
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        stage_rows.append([stage, "".join("T" if m else "." for m in moved), trainable])
    proof.table(
        "Gradual unfreezing, one step per stage (T = layer moved, . = frozen; input side first)",
        ["stage", "layers moved", "trainable parameters"],
        stage_rows,
    )
    proof.holds(
        "gradual_unfreezing_moves_top_layers",
        "at every stage exactly the top `stage` layers moved, the rest stayed bit-for-bit",
        ok,
    )


def linear_probe_then_fine_tune(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    proof.reseed(8)
    d, h, k = 16, 32, 4
    pretrained = torch.nn.Sequential(
        torch.nn.Linear(d, h), torch.nn.Tanh(), torch.nn.Linear(h, h), torch.nn.Tanh()
    ).to(dev, f64)
    x = torch.randn(200, d, device=dev, dtype=f64)
    x_val = torch.randn(500, d, device=dev, dtype=f64)
    with torch.no_grad():  # a task the pretrained features solve linearly
        readout = 3 * torch.randn(k, h, device=dev, dtype=f64)
        y = (pretrained(x) @ readout.T).argmax(1)
        phi0 = pretrained(x_val)

    def run_recipe(probe_steps: int):
        proof.reseed(9)
        body = copy.deepcopy(pretrained)
        head = torch.nn.Linear(h, k).to(dev, f64)
        body.requires_grad_(False)
        probe = torch.optim.SGD(head.parameters(), lr=0.5, momentum=0.9)
        for _ in range(probe_steps):
            probe.zero_grad()
            F.cross_entropy(head(body(x)), y).backward()
            probe.step()
        body.requires_grad_(True)
        opt = torch.optim.SGD([*body.parameters(), *head.parameters()], lr=0.005, momentum=0.9)
        for _ in range(100):
            opt.zero_grad()
            loss = F.cross_entropy(head(body(x)), y)
            loss.backward()
            opt.step()
        with torch.no_grad():
            change = ((body(x_val) - phi0).norm() / phi0.norm()).item()
            final = F.cross_entropy(head(body(x)), y).item()
        return change, final

    ft_change, ft_loss = run_recipe(0)
    lpft_change, lpft_loss = run_recipe(200)
    proof.table(
        "100 fine-tuning steps of a 'pretrained' 16-32-32 body (lr 0.005, momentum 0.9)",
        ["recipe", "relative change of the body's features", "training loss after"],
        [
            ["fine-tune with a random head (FT)", f"{ft_change:.4f}", f"{ft_loss:.4f}"],
            [
                "linear probe 200 steps, then fine-tune (LP-FT)",
                f"{lpft_change:.4f}",
                f"{lpft_loss:.4f}",
            ],
        ],
    )
    proof.above(
        "random_head_distorts_features",
        "feature change under FT with a random head / under LP-FT",
        ft_change / lpft_change,
        1.5,
    )
    proof.below(
        "lpft_fits_better",
        "training loss after LP-FT / after FT with a random head (same 100 fine-tuning steps)",
        lpft_loss / ft_loss,
        0.5,
    )


if __name__ == "__main__":
    main(run, __doc__)
