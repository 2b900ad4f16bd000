"""Log-sum-exp and gradient checkpointing: stable numbers, and memory traded for compute

Two things that keep training inside the machine's limits, measured.

Log-sum-exp. exp overflows fp32 above ln(3.40e38) = 88.72 and fp16 above
ln(65504) = 11.09, so log(sum(exp(x))) for x = (1000, 1000) is inf and a naive
softmax of logits near 1000 is NaN (inf / inf). Subtracting the maximum first,
LSE(x) = m + log(sum(exp(x - m))), is exact in exact arithmetic and never
overflows: torch.logsumexp returns 1000 + ln 2, and -1000 + ln 2 where the
naive form underflows to -inf. Its gradient is the softmax, and
max(x) <= LSE(x) <= max(x) + ln(n).

Gradient checkpointing (Chen et al. 2016). Backward needs the activations of
the forward pass; storing them all for a chain of n layers costs n + 1 of them.
torch.utils.checkpoint keeps only each segment's input and recomputes the
segment's activations during backward. With k segments of n/k layers (the last
one run normally, as checkpoint_sequential does) the forward stores k + n/k
activations, 2*sqrt(n) at k = sqrt(n): 8 instead of 17 for n = 16. The price is
recomputing the first k - 1 segments, n(k - 1)/k extra layer forwards (less
than one extra forward pass), and the gradients are bitwise the same.
Activations are counted with torch.autograd.graph.saved_tensors_hooks.
"""

import math

from quizcnn.proofkit import Proof, main


def run(proof: Proof) -> None:
    logsumexp_overflow(proof)
    softmax_overflow(proof)
    exp_thresholds(proof)
    logsumexp_gradient(proof)
    checkpointing(proof)


def logsumexp_overflow(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    big = torch.tensor([1000.0, 1000.0], device=dev)  # fp32
    naive = torch.log(torch.exp(big).sum())
    proof.holds(
        "naive_lse_inf",
        "fp32 log(sum(exp(x))) for x = (1000, 1000) is inf",
        math.isinf(naive.item()),
    )
    proof.close(
        "torch_lse_big",
        "fp32 torch.logsumexp((1000, 1000)) vs 1000 + ln 2",
        torch.logsumexp(big, dim=0),
        1000 + math.log(2),
        1e-4,
    )
    small = -big
    naive_small = torch.log(torch.exp(small).sum())
    proof.holds(
        "naive_lse_minus_inf",
        "fp32 log(sum(exp(x))) for x = (-1000, -1000) is -inf (exp underflows to 0)",
        naive_small.item() == -math.inf,
    )
    proof.close(
        "torch_lse_small",
        "fp32 torch.logsumexp((-1000, -1000)) vs -1000 + ln 2",
        torch.logsumexp(small, dim=0),
        -1000 + math.log(2),
        1e-4,
    )
    proof.reseed(1)
    x = torch.randn(50, 10, device=dev, dtype=f64) * 30
    m = x.max(dim=1, keepdim=True).values
    by_hand = (m + torch.log(torch.exp(x - m).sum(dim=1, keepdim=True))).squeeze(1)
    proof.close(
        "shifted_formula_matches",
        "m + log(sum(exp(x - m))) by hand vs torch.logsumexp on 50 rows (float64): max difference",
        (by_hand - torch.logsumexp(x, dim=1)).abs().max(),
        0.0,
        1e-12,
    )
    lse = torch.logsumexp(x, dim=1)
    proof.holds(
        "lse_bounds",
        "max(x) <= logsumexp(x) <= max(x) + ln(10) on every row",
        bool((lse >= m.squeeze(1)).all() and (lse <= m.squeeze(1) + math.log(10) + 1e-12).all()),
    )


def softmax_overflow(proof: Proof) -> None:
    torch, dev = proof.torch, proof.device
    z = torch.tensor([1000.0, 999.0, 998.0], device=dev)
    naive = torch.exp(z) / torch.exp(z).sum()
    proof.holds(
        "naive_softmax_nan",
        "fp32 exp(z)/sum(exp(z)) for z = (1000, 999, 998) is all NaN",
        bool(torch.isnan(naive).all()),
    )
    stable = torch.softmax(z, dim=0)
    proof.close(
        "torch_softmax_shifted",
        "torch.softmax(z) vs softmax(z - 998) computed naively: max difference",
        (stable - torch.softmax(z - 998, dim=0)).abs().max(),
        0.0,
        1e-7,
    )
    z16 = torch.tensor([12.0, 0.0], dtype=torch.float16, device=dev)
    naive16 = torch.exp(z16) / torch.exp(z16).sum()
    proof.holds(
        "fp16_naive_softmax_nan_at_12",
        "float16 naive softmax of logits (12, 0): exp(12) = inf, so NaN; torch.softmax is finite",
        bool(torch.isnan(naive16[0])) and bool(torch.isfinite(torch.softmax(z16, dim=0)).all()),
    )


def exp_thresholds(proof: Proof) -> None:
    torch, dev = proof.torch, proof.device
    fp32_max = torch.finfo(torch.float32).max
    proof.close(
        "fp32_exp_threshold",
        "ln(torch.finfo(float32).max): the largest x with finite exp(x)",
        math.log(fp32_max),
        88.7228,
        1e-4,
    )
    e32 = torch.exp(torch.tensor([88.72, 88.73], device=dev))
    proof.holds(
        "fp32_exp_88",
        "fp32 exp(88.72) is finite and exp(88.73) is inf",
        math.isfinite(e32[0].item()) and math.isinf(e32[1].item()),
    )
    proof.close(
        "fp16_exp_threshold", "ln(65504), fp16's threshold", math.log(65504.0), 11.0898, 1e-4
    )
    e16 = torch.exp(torch.tensor([11.0, 11.125], dtype=torch.float16, device=dev))
    proof.holds(
        "fp16_exp_11",
        "float16 exp(11.0) is finite and exp(11.125) is inf",
        math.isfinite(e16[0].item()) and math.isinf(e16[1].item()),
    )
    proof.table(
        "Where exp overflows",
        ["dtype", "max", "ln(max)", "exp just below", "exp just above"],
        [
            ["float32", fp32_max, math.log(fp32_max), e32[0].item(), e32[1].item()],
            ["float16", 65504.0, math.log(65504.0), e16[0].item(), e16[1].item()],
        ],
    )


def logsumexp_gradient(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    proof.reseed(2)
    x = (torch.randn(4, 7, device=dev, dtype=f64) * 5).requires_grad_(True)
    torch.logsumexp(x, dim=1).sum().backward()
    proof.close(
        "lse_gradient_is_softmax",
        "autograd gradient of logsumexp vs softmax(x) (float64): max difference",
        (x.grad - torch.softmax(x.detach(), dim=1)).abs().max(),
        0.0,
        1e-12,
    )


# -- checkpointing -----------------------------------------------------------------


class Counter:
    """Which activations are saved for backward, and how many are alive at once.

    A pack hook sees every tensor autograd stores for the backward pass. Parameters
    are stored too (a matmul keeps its weight) but cost no extra memory, so they are
    skipped; the rest are counted by storage, since one layer's output is the next
    layer's input and both nodes keep the same tensor. Each stored tensor goes into
    a holder whose deletion, when autograd frees it after use, is counted as well.
    """

    def __init__(self, params):
        self.params = {p.untyped_storage().data_ptr() for p in params}
        self.alive: dict[int, int] = {}
        self.peak = 0

    def stored(self) -> int:
        return sum(1 for n in self.alive.values() if n > 0)

    def pack(self, tensor):
        ptr = tensor.untyped_storage().data_ptr()
        if ptr in self.params:
            return tensor
        return _Holder(self, tensor, ptr)

    @staticmethod
    def unpack(packed):
        return packed.tensor if isinstance(packed, _Holder) else packed


class _Holder:
    def __init__(self, counter: Counter, tensor, ptr: int):
        self.counter, self.tensor, self.ptr = counter, tensor, ptr
        counter.alive[ptr] = counter.alive.get(ptr, 0) + 1
        counter.peak = max(counter.peak, counter.stored())

    def __del__(self):
        self.counter.alive[self.ptr] -= 1


def make_chain(proof: Proof, n: int, width: int = 8):
    torch = proof.torch

    class Layer(torch.nn.Module):
        calls = 0

        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(width, width)

        def forward(self, x):
            Layer.calls += 1
            return torch.tanh(self.linear(x))

    proof.reseed(3)
    return torch.nn.Sequential(*[Layer() for _ in range(n)]).to(proof.device, proof.float64), Layer


def run_chain(proof: Proof, n: int, segments: int):
    """Forward and backward of an n-layer chain; segments = 0 means no checkpointing."""
    torch = proof.torch
    from torch.utils.checkpoint import checkpoint

    # torch.utils.checkpoint.checkpoint is wrapped by torch._disable_dynamo, whose
    # first call imports torch._dynamo (about 1.5 s on one core, half this proof's
    # budget); __wrapped__ is the same function without that wrapper. The reentrant
    # variant is used because the other one also recomputes through a dynamo-disabled
    # helper; tests/test_proofs_numerics.py checks use_reentrant=False gives the same.
    checkpoint = getattr(checkpoint, "__wrapped__", checkpoint)
    model, layer_cls = make_chain(proof, n)
    proof.reseed(4)
    x = torch.randn(4, 8, device=proof.device, dtype=proof.float64, requires_grad=True)
    counter = Counter(model.parameters())
    layer_cls.calls = 0
    with torch.autograd.graph.saved_tensors_hooks(counter.pack, counter.unpack):
        if segments == 0:
            out = model(x)
        else:  # what checkpoint_sequential does: checkpoint all segments but the last
            size = n // segments
            h = x
            for s in range(segments - 1):
                h = checkpoint(model[s * size : (s + 1) * size], h, use_reentrant=True)
            out = model[(segments - 1) * size :](h)
        after_forward = counter.stored()
        out.sum().backward()
    grads = [p.grad.clone() for p in model.parameters()] + [x.grad.clone()]
    return {
        "stored": after_forward,
        "peak": counter.peak,
        "left": counter.stored(),
        "calls": layer_cls.calls,
        "grads": grads,
    }


def checkpointing(proof: Proof) -> None:
    n, k = 16, 4
    plain, ckpt = run_chain(proof, n, 0), run_chain(proof, n, k)
    diff = max(
        (a - b).abs().max().item() for a, b in zip(plain["grads"], ckpt["grads"], strict=True)
    )
    proof.close(
        "checkpoint_same_gradients",
        f"n = {n} layers, {k} checkpointed segments vs none: max |gradient difference|",
        diff,
        0.0,
        0.0,
    )
    proof.close(
        "plain_stores_all",
        f"no checkpointing: activations stored for backward ({n} layers)",
        plain["stored"],
        n + 1,
        0.0,
    )
    proof.close(
        "checkpoint_stores_k_plus_n_over_k",
        f"{k} segments: activations stored after the forward pass (k + n/k)",
        ckpt["stored"],
        k + n // k,
        0.0,
    )
    proof.below(
        "checkpoint_peak",
        f"{k} segments: most activations held at once, backward included (at most k + n/k)",
        ckpt["peak"],
        k + n // k + 0.5,
    )
    proof.close(
        "all_freed",
        "activations still held after backward, both runs",
        plain["left"] + ckpt["left"],
        0.0,
        0.0,
    )
    proof.close(
        "recompute_cost",
        f"layer forward calls with {k} segments: n + n(k - 1)/k",
        ckpt["calls"],
        n + n * (k - 1) // k,
        0.0,
    )
    proof.below(
        "less_than_one_extra_forward",
        "extra layer forwards / n (recomputing is at most one more forward pass)",
        (ckpt["calls"] - plain["calls"]) / n,
        1.0,
    )
    rows = []
    for depth in (4, 16, 64):
        root = math.isqrt(depth)
        base = plain if depth == n else run_chain(proof, depth, 0)
        seg = ckpt if depth == n else run_chain(proof, depth, root)
        rows.append(
            [
                depth,
                root,
                base["stored"],
                seg["stored"],
                2 * root,
                seg["peak"],
                seg["calls"] - depth,
            ]
        )
    proof.table(
        "Activations stored for backward: a chain of n layers, sqrt(n) checkpointed segments",
        ["n", "segments", "plain", "checkpointed", "2*sqrt(n)", "peak", "extra layer forwards"],
        rows,
    )
    proof.holds(
        "sqrt_n_law",
        "for n = 4, 16, 64 with sqrt(n) segments the forward stores exactly 2*sqrt(n) activations",
        all(row[3] == row[4] for row in rows),
    )


if __name__ == "__main__":
    main(run, __doc__)
