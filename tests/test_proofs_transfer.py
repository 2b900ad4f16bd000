"""The transfer-topic proofs and generators: key numbers against values computed here.

Each proof's claims are re-derived independently: softmax, KL and its gradient in
numpy, the high-temperature expansion, int8 rounding in numpy (ties to even), the
pruning counts from Python's round, ULMFiT's rates by repeated division, and a FLOP
count from PyTorch's own counter. The generators are checked against torch where it
has the real thing (torch.quantize_per_tensor, softmax, torch.nn.utils.prune on a real
layer, parameter groups of torch.optim.SGD).
"""

from __future__ import annotations

import math
import random
import re

import numpy as np
import pytest

from quizcnn.generators import draw

torch = pytest.importorskip("torch")
import torch.nn.utils.prune as prune  # noqa: E402

PROOFS = ["distillation", "int8_quantization", "magnitude_pruning", "fine_tuning"]
GENERATORS = [
    "int8_quantize",
    "distillation_soft_target",
    "pruning_weights_left",
    "ulmfit_layer_lr",
]
TEACHER = np.array([8.0, 5.0, 4.0, 1.0, 0.0, -1.0, -2.0, -3.0, -4.0, -6.0])


@pytest.fixture(scope="module")
def results(proof_result):
    return {name: proof_result(name) for name in PROOFS}


def _table(result, starts: str):
    for table in result.tables:
        if table.title.startswith(starts):
            return table.rows
    raise KeyError(starts)


def _softmax(z: np.ndarray, t: float = 1.0) -> np.ndarray:
    e = np.exp((z - z.max(axis=-1, keepdims=True)) / t)
    return e / e.sum(axis=-1, keepdims=True)


def test_every_transfer_proof_holds(results):
    for name, result in results.items():
        assert result.passed, (name, result.error, [c.key for c in result.claims if not c.passed])


# -- distillation ------------------------------------------------------------------------


def test_soft_target_table_matches_numpy_softmax(results):
    rows = _table(results["distillation"], "softmax(z/T)")
    assert [row[0] for row in rows] == [1, 2, 5, 10, 20, 100]
    for t, top, p1, p9, log_ratio, entropy in rows:
        p = _softmax(TEACHER, t)
        assert float(top) == pytest.approx(p.max(), abs=1e-4)
        assert float(p1) == pytest.approx(p[1], abs=1e-4)
        assert float(p9) == pytest.approx(p[9], rel=1e-2)
        assert float(log_ratio) == pytest.approx(11.0, abs=1e-4)
        assert float(entropy) == pytest.approx(-(p * np.log(p)).sum(), abs=1e-4)
    # the limit: uniform, entropy log K
    assert float(rows[-1][5]) < math.log(10) < float(rows[-1][5]) + 0.01
    r = results["distillation"]
    assert r.claim("t1_top_prob").measured == pytest.approx(_softmax(TEACHER).max(), abs=1e-12)


def test_soft_loss_gradient_by_finite_differences():
    """∂ KL(p_t^T ‖ p_s^T)/∂z_s = (p_s − p_t)/T, checked by central differences in numpy."""
    rng = np.random.default_rng(0)
    z_t, z_s, t = 3 * rng.standard_normal(6), 3 * rng.standard_normal(6), 4.0

    def kl(zs):
        p_t, p_s = _softmax(z_t, t), _softmax(zs, t)
        return float((p_t * (np.log(p_t) - np.log(p_s))).sum())

    h = 1e-6
    numeric = np.array([(kl(z_s + h * e) - kl(z_s - h * e)) / (2 * h) for e in np.eye(6)])
    closed = (_softmax(z_s, t) - _softmax(z_t, t)) / t
    assert numeric == pytest.approx(closed, abs=1e-8)


def test_t_squared_table_follows_the_jacobian(results):
    """For a small δ, ∇ ≈ J(z/T)δ/T² with J = diag(p) − ppᵀ: T²‖∇‖ tends to ‖(δ − δ̄)‖/K."""
    rows = _table(results["distillation"], "‖∂ soft loss")
    norms = {row[0]: float(row[1]) for row in rows}
    assert [row[0] for row in rows] == [1, 2, 4, 8, 16, 32]
    for a, b in ((4, 8), (8, 16), (16, 32)):
        assert norms[a] / norms[b] == pytest.approx(4.0, rel=0.12)
    scaled = [float(row[2]) for row in rows]
    assert max(scaled) / min(scaled) < 1.3
    r = results["distillation"]
    assert r.claim("grad_ratio_t8_t16").measured == pytest.approx(norms[8] / norms[16], rel=1e-3)
    assert r.claim("unscaled_grad_collapses").measured == pytest.approx(
        norms[1] / norms[32], rel=1e-3
    )


def test_kldivloss_reductions(results):
    rows = {row[0]: float(row[1]) for row in _table(results["distillation"], "nn.KLDivLoss")}
    hand = rows["hand KL, mean over samples"]
    assert rows["KLDivLoss(log_softmax(z_s/T), p_t), batchmean"] == pytest.approx(hand, abs=1e-6)
    assert rows["KLDivLoss(log_softmax(z_s/T), p_t), mean"] == pytest.approx(hand / 10, abs=1e-6)
    assert rows["KLDivLoss(softmax(z_s/T), p_t), batchmean (wrong input)"] < 0 < hand
    assert rows["soft cross-entropy −Σ p_t log p_s"] > hand
    r = results["distillation"]
    assert r.claim("mean_divides_by_k").measured == pytest.approx(10.0, abs=1e-9)
    # an independent check of the factor with torch on other shapes
    log_p = torch.log_softmax(torch.randn(7, 33, dtype=torch.float64), dim=1)
    q = torch.softmax(torch.randn(7, 33, dtype=torch.float64), dim=1)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mean = torch.nn.functional.kl_div(log_p, q, reduction="mean")
    batchmean = torch.nn.functional.kl_div(log_p, q, reduction="batchmean")
    assert (batchmean / mean).item() == pytest.approx(33.0)


def test_high_temperature_limit_by_expansion(results):
    """Hinton Eq. 3-4: the relative error of (z_s − z_t)/(K T²) shrinks like 1/T."""
    rows = _table(results["distillation"], "High-temperature limit")
    errors = {row[0]: float(row[1]) for row in rows}
    assert errors[1] > errors[10] > errors[100] > errors[1000]
    assert errors[100] / errors[1000] == pytest.approx(10, rel=0.1)
    t2kl, mse = float(rows[-1][2]), float(rows[-1][3])
    assert t2kl == pytest.approx(mse, rel=0.01)
    # the same limit for logits drawn here
    rng = np.random.default_rng(1)
    z_s, z_t = rng.standard_normal(10), rng.standard_normal(10)
    z_s, z_t = z_s - z_s.mean(), z_t - z_t.mean()
    t = 1000.0
    grad = (_softmax(z_s, t) - _softmax(z_t, t)) / t
    assert grad == pytest.approx((z_s - z_t) / (10 * t * t), rel=0.01, abs=1e-12)


def test_combined_loss_balance(results):
    rows = _table(results["distillation"], "α·[T²]·KL")
    scaled = {row[0]: float(row[2]) for row in rows if row[1] == "yes"}
    unscaled = {row[0]: float(row[2]) for row in rows if row[1] == "no"}
    for t in (2.0, 4.0, 8.0):
        # the two columns differ exactly by the factor T²
        assert scaled[t] / unscaled[t] == pytest.approx(t * t, rel=1e-3)
    assert max(scaled.values()) / min(scaled.values()) < 1.2


# -- int8 quantization ---------------------------------------------------------------------


def _symmetric(x: np.ndarray, scale: float) -> np.ndarray:
    return np.clip(np.round(x / scale), -127, 127)  # numpy rounds half to even too


def test_symmetric_table_obeys_the_bounds(results):
    rows = {row[0]: row[1] for row in _table(results["int8_quantization"], "Symmetric per-tensor")}
    max_abs, scale = float(rows["max |x|"]), float(rows["scale = max|x|/127"])
    assert scale == pytest.approx(max_abs / 127, rel=1e-4)
    assert float(rows["max |x − x̂|"]) <= float(rows["scale/2"]) * (1 + 1e-4)
    assert float(rows["scale²/12"]) == pytest.approx(scale**2 / 12, rel=1e-3)
    assert rows["storage: float32 bytes vs int8 bytes"] == "80,000 vs 20,000"


def test_uniform_rounding_noise_by_numpy():
    rng = np.random.default_rng(2)
    x = rng.standard_normal(200_000)
    scale = np.abs(x).max() / 127
    err = x - _symmetric(x, scale) * scale
    assert np.abs(err).max() <= scale / 2
    assert (err**2).mean() == pytest.approx(scale**2 / 12, rel=0.02)


def test_quantization_claims(results):
    r = results["int8_quantization"]
    assert r.claim("max_maps_to_127").measured == 127
    assert 0.99 < r.claim("error_bound_is_tight").measured <= 1 + 1e-5
    assert r.claim("quantize_per_tensor_codes").measured == 0
    # ties to even, as numpy and Python round
    assert np.round([0.5, 1.5, 2.5, -0.5, -2.5]).tolist() == [0.0, 2.0, 2.0, -0.0, -2.0]
    assert [round(v) for v in (0.5, 1.5, 2.5)] == [0, 2, 2]


def test_per_channel_table(results):
    rows = _table(results["int8_quantization"], "Weight (16, 256)")
    channels = [row for row in rows if isinstance(row[0], int)]
    per_tensor = [float(row[2]) for row in channels]
    per_channel = [float(row[4]) for row in channels]
    # one shared scale: the relative error falls as the channel's range grows
    assert per_tensor == sorted(per_tensor, reverse=True)
    # own scales: every channel gets about the same relative error
    assert max(per_channel) / min(per_channel) < 2
    mean_row = next(row for row in rows if row[0] == "mean")
    ratio = float(mean_row[2]) / float(mean_row[4])
    assert r_claim(results, "per_channel_beats_per_tensor") == pytest.approx(ratio, rel=0.01)


def r_claim(results, key):
    return results["int8_quantization"].claim(key).measured


def test_outlier_error_scales_with_square_of_scale(results):
    rows = {row[0]: row for row in _table(results["int8_quantization"], "One outlier")}
    clean, dirty = rows["no outlier"], rows["one value = 100"]
    assert float(dirty[1]) == pytest.approx(100 / 127, rel=1e-4)
    scale_ratio = float(dirty[1]) / float(clean[1])
    mse_ratio = float(dirty[2]) / float(clean[2])
    assert mse_ratio == pytest.approx(scale_ratio**2, rel=0.05)
    # P(|x| < scale/2) for N(0, 1) at scale 100/127: the share that rounds to 0
    share = math.erf((100 / 127 / 2) / math.sqrt(2))
    assert float(dirty[3]) == pytest.approx(share, abs=0.01)


def test_affine_parameters(results):
    rows = {row[0]: row for row in _table(results["int8_quantization"], "Asymmetric (affine)")}
    affine = rows["affine uint8"]
    scale, zero_point = float(affine[1]), int(affine[2])
    # data in [−1, 5.2): S = range/255 and Z = round(−min/S) ≈ 1/S
    assert scale == pytest.approx(6.2 / 255, rel=1e-3)
    assert zero_point == round(1 / scale) == 41
    sym = rows["symmetric int8"]
    assert float(sym[1]) == pytest.approx(5.2 / 127, rel=1e-3)
    assert float(sym[4]) / float(affine[4]) == pytest.approx((float(sym[1]) / scale) ** 2, rel=0.1)


def test_straight_through_count(results):
    detail = results["int8_quantization"].claim("ste_passes_inside_range").detail
    passed = int(re.match(r"(\d+) of 601", detail).group(1))
    x = np.linspace(-3, 3, 601)
    assert passed == int((np.abs(np.round(x / (2 / 127))) <= 127).sum())


# -- pruning -------------------------------------------------------------------------------


def test_pruning_counts(results):
    r = results["magnitude_pruning"]
    assert r.claim("half_zeroed").measured == 2048 // 2
    assert r.claim("state_dict_doubles").measured == 2 * 64 * 32 + 32
    rows = _table(r, "prune.l1_unstructured(amount=0.5) called")
    left, expected = 2048, []
    for _ in range(3):
        left -= round(0.5 * left)
        expected.append(left)
    assert [row[1] for row in rows] == expected
    assert r.claim("rounding_half_to_even").measured == 35 - round(17.5) == 17
    assert r.claim("mask_survives_retraining").measured == round(0.8 * 512) + round(0.8 * 32)


def test_structured_pruning_counts_against_the_flop_counter(results):
    from torch.utils.flop_counter import FlopCounterMode

    rows = {row[0]: row for row in _table(results["magnitude_pruning"], "Structured pruning")}
    for name, filters in (("dense", 16), ("slim Conv2d(8, 12, 3)", 12)):
        conv = torch.nn.Conv2d(8, filters, 3, padding=1)
        with FlopCounterMode(display=False) as counter:
            conv(torch.randn(1, 8, 12, 12))
        assert rows[name][3] == counter.get_total_flops() // 2  # FLOPs = 2 × MACs
        assert rows[name][2] == sum(p.numel() for p in conv.parameters())


def test_dense_matmul_costs_the_same_whatever_the_zeros(results):
    from torch.utils.flop_counter import FlopCounterMode

    dense = torch.randn(256, 512)
    sparse_valued = dense * (torch.rand(256, 512) > 0.9)
    x = torch.randn(512, 64)
    counts = []
    for w in (dense, sparse_valued):
        with FlopCounterMode(display=False) as counter:
            w @ x
        counts.append(counter.get_total_flops())
    assert counts[0] == counts[1] == 2 * 256 * 512 * 64
    rows = _table(results["magnitude_pruning"], "A 90%-sparse")
    assert rows[0][2] == f"{counts[0]:,}"
    assert int(rows[2][1].replace(",", "")) == pytest.approx(0.1 * 256 * 512 * 64, rel=1e-3)


def test_structured_claims(results):
    r = results["magnitude_pruning"]
    assert r.claim("whole_filters_zeroed").measured == round(0.25 * 16)
    assert r.claim("slim_macs_share").measured == 12 / 16
    rows = _table(r, "Small regression net")
    by_method = {row[0]: row for row in rows}
    assert by_method["magnitude"][4] == by_method["random"][4] == "436 of 544"
    assert float(by_method["magnitude"][3]) < float(by_method["random"][3])


# -- fine-tuning ---------------------------------------------------------------------------


def test_ulmfit_rates_by_repeated_division(results):
    rows = _table(results["fine_tuning"], "ULMFiT discriminative")
    lr, expected = 0.01, []
    for _ in range(4):
        expected.append(lr)
        lr /= 2.6
    expected.reverse()
    assert [float(row[1]) for row in rows] == pytest.approx(expected, rel=1e-4)
    assert [float(row[2]) for row in rows] == pytest.approx(expected, rel=1e-4)
    assert float(rows[0][3]) == pytest.approx(2.6**3, rel=1e-3)


def test_gradual_unfreezing_parameter_counts(results):
    rows = _table(results["fine_tuning"], "Gradual unfreezing")
    sizes = [8 * 16 + 16, 16 * 16 + 16, 16 * 16 + 16, 16 * 4 + 4]  # Linear layers, input first
    expected = [sum(sizes[-stage:]) for stage in range(1, 5)]
    assert [row[2] for row in rows] == expected == [68, 340, 612, 756]
    assert [row[1] for row in rows] == ["...T", "..TT", ".TTT", "TTTT"]


def test_fine_tuning_claims(results):
    r = results["fine_tuning"]
    assert r.claim("group_lr_body").measured == pytest.approx(1e-3, rel=1e-9)
    assert r.claim("group_lr_default").measured == pytest.approx(1e-2, rel=1e-9)
    assert r.claim("none_grad_stays").measured == 0.0
    assert r.claim("zeroed_grad_still_moves").measured > 1e-3
    # one train-mode forward moves running_mean to momentum · batch mean (mean ≈ 3 here)
    assert r.claim("bn_stats_move_despite_frozen").measured == pytest.approx(0.1 * 3, abs=0.1)
    rows = _table(r, "100 fine-tuning steps")
    ft, lpft = rows
    assert float(ft[1]) / float(lpft[1]) == pytest.approx(
        r.claim("random_head_distorts_features").measured, rel=1e-3
    )


def test_sgd_skips_none_but_steps_zero_gradients():
    """The optimizer behaviour the fine_tuning proof relies on, on a bare tensor."""
    for set_to_none, moves in ((True, False), (False, True)):
        w = torch.ones(3, requires_grad=True)
        opt = torch.optim.SGD([w], lr=0.1, momentum=0.9, weight_decay=0.1)
        w.sum().backward()
        opt.step()
        opt.zero_grad(set_to_none=set_to_none)
        before = w.detach().clone()
        opt.step()
        assert bool((w.detach() != before).any()) is moves


# -- generators ----------------------------------------------------------------------------


def _draws(name: str, n: int = 200, seed: int = 11):
    rng = random.Random(seed)
    return [draw(name, rng) for _ in range(n)]


@pytest.mark.parametrize("name", GENERATORS)
def test_generator_is_deterministic_and_varies(name):
    assert draw(name, random.Random(5)) == draw(name, random.Random(5))
    questions = {draw(name, random.Random(seed)).question for seed in range(30)}
    assert len(questions) > 5
    drawn = draw(name, random.Random(0))
    assert drawn.tolerance >= 0 and drawn.working and "?" in drawn.question


def test_int8_generator_matches_torch_quantize_per_tensor():
    import warnings

    kinds = set()
    for drawn in _draws("int8_quantize", n=300):
        max_abs = float(re.search(r"max\|x\| = ([\d.]+)", drawn.question).group(1))
        x = float(re.search(r"x = (-?[\d.]+) (?:get|come)", drawn.question).group(1))
        scale = max_abs / 127
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            q = torch.quantize_per_tensor(torch.tensor([x]), scale, 0, torch.qint8)
        code = int(q.int_repr().item())
        code = max(-127, min(127, code))  # qint8 also has −128; the card clamps at −127
        fake = torch.fake_quantize_per_tensor_affine(torch.tensor([x]), scale, 0, -127, 127)
        if "Which int8 code" in drawn.question:
            kinds.add("code")
            assert drawn.value == code, drawn.question
            assert drawn.tolerance == 0
        else:
            kinds.add("value")
            assert drawn.value == pytest.approx(fake.item(), abs=1e-6), drawn.question
            assert drawn.value == pytest.approx(code * scale, abs=1e-12)
        if abs(x) <= max_abs:
            assert abs(x - code * scale) <= scale / 2 + 1e-12
    assert kinds == {"code", "value"}


def test_soft_target_generator_matches_torch_softmax():
    for drawn in _draws("distillation_soft_target"):
        logits = [
            float(v) for v in re.search(r"z = \[([^\]]*)\]", drawn.question).group(1).split(",")
        ]
        t = float(re.search(r"T = (\d+)", drawn.question).group(1))
        which = int(re.search(r"class (\d+)", drawn.question).group(1))
        p = torch.softmax(torch.tensor(logits, dtype=torch.float64) / t, dim=0)
        assert drawn.value == pytest.approx(p[which].item(), abs=1e-12), drawn.question
        assert drawn.tolerance < 0.002


def test_pruning_generator_matches_real_pruning():
    torch.manual_seed(0)
    checked = 0
    for drawn in _draws("pruning_weights_left", n=60):
        layer_text = re.search(r"on (nn\.\w+\(.*?\))\.", drawn.question).group(1)
        layer = eval(layer_text, {"nn": torch.nn})  # our own generated text, in a test
        amount = float(re.search(r"amount=([\d.]+)", drawn.question).group(1))
        calls = {"once": 1, "twice": 2, "three times": 3}[
            re.search(r"\) (once|twice|three times) on", drawn.question).group(1)
        ]
        for _ in range(calls):
            prune.l1_unstructured(layer, name="weight", amount=amount)
        assert int((layer.weight != 0).sum()) == drawn.value, drawn.question
        assert drawn.tolerance == calls and drawn.unit == "weights"
        naive = layer.weight.numel() * max(0.0, 1 - calls * amount)
        if calls > 1:
            assert abs(naive - drawn.value) > drawn.tolerance  # the slip is graded wrong
        checked += 1
    assert checked == 60


def test_ulmfit_generator_matches_parameter_groups():
    for drawn in _draws("ulmfit_layer_lr", n=50):
        top = float(re.search(r"η = ([\de.-]+)\.", drawn.question).group(1))
        depth = int(re.search(r"the layer (\d+) layer", drawn.question).group(1))
        layers = [torch.nn.Linear(2, 2) for _ in range(depth + 1)]
        lrs, lr = [], top
        for _ in layers:
            lrs.append(lr)
            lr /= 2.6
        opt = torch.optim.SGD(
            [{"params": m.parameters(), "lr": r} for m, r in zip(layers, lrs, strict=True)], lr=top
        )
        assert opt.param_groups[-1]["lr"] == pytest.approx(drawn.value, rel=1e-12)
        assert drawn.tolerance == pytest.approx(0.01 * drawn.value)


def test_generators_are_registered():
    from quizcnn.generators import GENERATORS as ALL

    assert set(GENERATORS) <= set(ALL)
