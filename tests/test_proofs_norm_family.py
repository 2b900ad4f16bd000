"""The norm_family proofs' key numbers, and its generators, against values computed here.

Every expected number below is worked out in this file (closed forms, plain Python
or numpy), never read back from the proof's code; the generators are rebuilt from
the text of the question they draw and checked against real torch layers.
"""

from __future__ import annotations

import math
import random
import re

import numpy as np
import pytest

from quizcnn.generators import draw
from quizcnn.generators.norm_family import folded_bias, folded_weight, gn_values_per_group


@pytest.fixture(scope="module")
def axes(proof_result):
    return proof_result("norm_family_axes")


@pytest.fixture(scope="module")
def folding(proof_result):
    return proof_result("bn_folding")


# -- norm_family_axes --------------------------------------------------------------


def test_values_sharing_one_statistic_match_the_axes(axes):
    """The proof nudges x[0,0,0,0] of a (3, 8, 5, 5) tensor; each layer's count is the
    size of the set that one mean is taken over."""
    n, c, h, w, groups = 3, 8, 5, 5, 2
    expected = {
        "batchnorm2d_group_size": n * h * w,  # one channel, all samples and positions
        "layernorm_group_size": c * h * w,  # one sample
        "instancenorm2d_group_size": h * w,  # one sample, one channel
        "groupnorm_group_size": (c // groups) * h * w,  # one sample, 4 channels
        "rmsnorm_group_size": w,  # the last axis only
    }
    for key, value in expected.items():
        assert axes.claim(key).measured == value, key
    rows = {row[0]: row[1] for row in axes.tables[0].rows}
    assert rows["GroupNorm(2, 8)"] == 100 and rows["InstanceNorm2d(8)"] == 25


def test_groupnorm_extremes_and_number_of_means(axes):
    assert axes.claim("gn_g1_is_layernorm").measured < 1e-12
    assert axes.claim("gn_gc_is_instancenorm").measured < 1e-12
    # GroupNorm(32, 64) on (8, 64, 56, 56): one mean per (sample, group)
    assert axes.claim("gn_number_of_means").measured == 8 * 32
    assert axes.claim("gn_batch_size_independent").measured == 0.0
    assert axes.claim("bn_batch_size_dependent").measured > 0.05


def test_rmsnorm_and_layernorm_of_a_worked_example(axes):
    v = np.array([1.0, 2.0, 3.0, 4.0])
    rms = np.sqrt(np.mean(v**2))  # sqrt(30 / 4)
    ln = (v - v.mean()) / v.std()  # numpy's std is the biased one, as LayerNorm uses
    assert axes.claim("rmsnorm_example_first").measured == pytest.approx(v[0] / rms, abs=1e-9)
    assert axes.claim("rmsnorm_example_first").measured == pytest.approx(0.3651, abs=1e-4)
    assert axes.claim("layernorm_example_first").measured == pytest.approx(ln[0], abs=1e-9)
    # zero-mean rows: mean(x^2) is the variance, so the two layers coincide
    assert axes.claim("rmsnorm_equals_ln_at_zero_mean").measured < 1e-12
    assert axes.claim("rmsnorm_differs_from_ln").measured > 0.5


def test_rmsnorm_keeps_scale_invariance_only(axes):
    assert axes.claim("rmsnorm_scale_invariant").measured < 1e-10
    assert axes.claim("layernorm_shift_invariant").measured < 1e-12
    # x + 1.5 on rows of mean ~2: RMSNorm's output moves by a sizeable fraction of 1
    assert axes.claim("rmsnorm_not_shift_invariant").measured > 0.05


def test_rmsnorm_eps_default_is_machine_epsilon(axes):
    assert axes.claim("rmsnorm_eps_default_none").passed
    assert axes.claim("rmsnorm_eps_none_is_finfo").measured < 1e-12
    # inputs of rms ~ 2e-3 have mean(x^2) ~ 4e-6: an eps of 1e-5 would change them a lot
    assert axes.claim("rmsnorm_eps_none_is_not_1e5").measured > 0.1
    assert axes.claim("rmsnorm_eps_none_float32").measured < 1e-5
    assert np.finfo(np.float32).eps == pytest.approx(1.1920929e-07)
    # float16 inputs also get float32's eps: agreement to half-precision rounding of
    # outputs of order 1, while float16's own eps (2^-10) would change them by order 1
    assert np.finfo(np.float16).eps == pytest.approx(2.0**-10)
    assert axes.claim("rmsnorm_eps_none_float16").measured < 8 * 2.0**-11
    assert axes.claim("rmsnorm_eps_none_float16_not_own_eps").measured > 0.5


def test_parameter_counts_match_closed_forms(axes):
    expected = {
        "nn.BatchNorm2d(256)": (2 * 256, 2 * 256 + 1),
        "nn.GroupNorm(32, 256)": (2 * 256, 0),
        "nn.InstanceNorm2d(256)": (0, 0),
        "nn.InstanceNorm2d(256, affine=True)": (2 * 256, 0),
        "nn.LayerNorm(4096)": (2 * 4096, 0),
        "nn.LayerNorm(4096, bias=False)": (4096, 0),
        "nn.RMSNorm(4096)": (4096, 0),
    }
    rows = {row[0]: (row[1], row[3]) for row in axes.tables[1].rows}
    assert rows == expected
    assert axes.claim("rmsnorm_params").measured == 4096
    assert axes.claim("in_params_default").measured == 0


def test_instancenorm_defaults_and_weight_standardization(axes):
    assert axes.claim("in_eval_equals_train").measured == 0.0
    assert axes.claim("in_tracked_eval_differs").measured > 0.05
    assert axes.claim("ws_filter_mean_zero").measured < 1e-12
    assert axes.claim("ws_filter_var_one").measured < 1e-12
    assert axes.claim("ws_invariant_to_filter_affine").measured < 1e-10


# -- bn_folding --------------------------------------------------------------------


def test_folded_example_matches_the_formula(folding):
    gamma, beta, mean, var_plus_eps, w = 3.0, 1.0, 2.0, 9.0, 0.5
    s = gamma / math.sqrt(var_plus_eps)
    assert folding.claim("example_folded_bias").measured == pytest.approx(
        s * (0.0 - mean) + beta, abs=1e-9
    )
    assert folding.claim("example_folded_bias").measured == pytest.approx(-1.0, abs=1e-9)
    assert folding.claim("example_folded_weight").measured == pytest.approx(s * w, abs=1e-9)


def test_folding_is_exact_in_eval_only(folding):
    assert folding.claim("folded_equals_eval").measured < 1e-12
    assert folding.claim("by_hand_equals_fuse_conv_bn_eval").measured < 1e-12
    assert folding.claim("folded_differs_from_train").measured > 0.05
    assert folding.claim("train_forward_moves_running_mean").measured > 1e-3
    assert folding.claim("fuse_refuses_training_mode").passed
    assert folding.claim("pre_conv_fold_interior_exact").measured < 1e-12
    assert folding.claim("pre_conv_fold_border_wrong").measured > 0.05


def test_parameter_and_buffer_counts(folding):
    c_in, c_out, k = 64, 128, 3
    rows = {row[0]: (row[1], row[2]) for row in folding.tables[0].rows}
    assert rows["Conv2d(64, 128, 3, bias=False) + BatchNorm2d(128)"] == (
        c_out * c_in * k * k + 2 * c_out,
        2 * c_out + 1,
    )
    assert rows["folded: Conv2d(64, 128, 3, bias=True)"] == (c_out * c_in * k * k + c_out, 0)
    assert rows["FrozenBatchNorm2d(256)"] == (0, 4 * 256)
    assert rows["nn.SyncBatchNorm(256)"] == rows["nn.BatchNorm2d(256)"] == (512, 513)
    assert folding.claim("frozen_no_parameters").measured == 0


def test_frozen_and_sync_batchnorm(folding):
    assert folding.claim("frozen_equals_bn_eval").measured < 1e-12
    assert folding.claim("frozen_stats_never_move").measured == 0.0
    assert folding.claim("frozen_ignores_batchmates").measured == 0.0
    assert folding.claim("eval_freeze_undone_by_train").measured > 0.05
    assert folding.claim("sync_stats_equal_full_batch").measured < 1e-12
    assert folding.claim("per_device_bn_differs").measured > 0.5
    assert folding.claim("convert_sync_bn_layers").measured == 2


def test_summed_moments_give_the_full_batch_variance():
    """The identity SyncBN relies on, checked here in numpy on uneven device batches."""
    rng = np.random.default_rng(0)
    devices = [rng.normal(loc, 1.0, size) for loc, size in ((2.0, 50), (-1.0, 30), (0.5, 7))]
    count = sum(d.size for d in devices)
    mean = sum(d.sum() for d in devices) / count
    var = sum((d**2).sum() for d in devices) / count - mean**2
    whole = np.concatenate(devices)
    assert mean == pytest.approx(whole.mean(), abs=1e-12)
    assert var == pytest.approx(whole.var(), abs=1e-10)


# -- generators --------------------------------------------------------------------

torch = pytest.importorskip("torch")

NUMBER = r"(-?\d+(?:\.\d+)?)"
FOLD_RE = re.compile(
    rf"weight {NUMBER} at some tap and (?:bias {NUMBER}|no bias).*?gamma = {NUMBER}, "
    rf"beta = {NUMBER}, running_mean = {NUMBER}, running_var = {NUMBER}, eps = 1e-5"
)
GN_RE = re.compile(
    r"nn\.GroupNorm\((\d+), (\d+)\) is applied to a tensor of shape \((\d+), \d+, (\d+), (\d+)\)"
)


def _draws(name: str, count: int, seed: int = 99):
    rng = random.Random(seed)
    return [draw(name, rng) for _ in range(count)]


def test_fold_bn_channel_matches_fuse_conv_bn_eval():
    asked = set()
    for drawn in _draws("fold_bn_channel", 60):
        match = FOLD_RE.search(drawn.question)
        assert match, drawn.question
        w, b, gamma, beta, mean, var = (float(g) if g is not None else None for g in match.groups())
        conv = torch.nn.Conv2d(1, 1, 1, bias=b is not None).double().eval()
        bn = torch.nn.BatchNorm2d(1).double().eval()
        with torch.no_grad():
            conv.weight.fill_(w)
            if b is not None:
                conv.bias.fill_(b)
            bn.weight.fill_(gamma)
            bn.bias.fill_(beta)
            bn.running_mean.fill_(mean)
            bn.running_var.fill_(var)
        fused = torch.nn.utils.fuse_conv_bn_eval(conv, bn)
        if "channel's bias" in drawn.question:
            expected = fused.bias.item()
            asked.add("bias")
        else:
            expected = fused.weight.item()
            asked.add("weight")
        assert drawn.value == pytest.approx(expected, abs=1e-9), drawn.question
        assert drawn.tolerance == 0.01
        # the printed running_var + eps is a perfect square, so the numbers are doable by hand
        assert math.sqrt(var + 1e-5) == pytest.approx(round(math.sqrt(var + 1e-5), 2), abs=1e-6)
    assert asked == {"bias", "weight"}


def test_fold_formulas_on_a_hand_case():
    # gamma = 2, sqrt(var + eps) = 4: s = 0.5
    assert folded_weight(0.8, 2.0, 16.0 - 1e-5) == pytest.approx(0.4)
    assert folded_bias(0.2, 2.0, -0.1, 1.0, 16.0 - 1e-5) == pytest.approx(0.5 * (0.2 - 1.0) - 0.1)


def test_gn_group_values_match_torch_groupnorm():
    kinds = set()
    for drawn in _draws("gn_group_values", 60):
        match = GN_RE.search(drawn.question)
        assert match, drawn.question
        g, c, n, h, w = (int(v) for v in match.groups())
        # torch's own GroupNorm kernel on the question's exact shape (meta: shapes only)
        x = torch.empty(n, c, h, w, device="meta")
        _, mean, _ = torch.ops.aten.native_group_norm(x, None, None, n, c, h * w, g, 1e-5)
        assert mean.shape == (n, g)
        assert drawn.value == x.numel() / mean.numel(), drawn.question
        assert drawn.value == gn_values_per_group(c, h, w, g)
        assert drawn.tolerance == 0
        kinds.add("LN" if g == 1 else "IN" if g == c else "GN")
    assert kinds == {"LN", "IN", "GN"}


def test_gn_group_values_by_nudging_one_input():
    """The count as the proof measures it: outputs that move when one input moves."""
    for drawn in _draws("gn_group_values", 6, seed=5):
        g, c, _, h, w = (int(v) for v in GN_RE.search(drawn.question).groups())
        layer = torch.nn.GroupNorm(g, c).double()
        x = torch.randn(1, c, h, w, dtype=torch.float64)  # GroupNorm never mixes samples
        with torch.no_grad():
            base = layer(x)
            moved_by = []
            for nudge in (1.0, 3.0):  # two nudges: an output can sit where one cancels out
                bumped = x.clone()
                bumped[0, 0, 0, 0] += nudge
                moved_by.append((layer(bumped) - base).abs() > 1e-9)
            moved = int((moved_by[0] | moved_by[1]).sum())
        assert moved == drawn.value, drawn.question


def test_norm_generators_are_deterministic_and_vary():
    for name in ("fold_bn_channel", "gn_group_values"):
        assert draw(name, random.Random(3)) == draw(name, random.Random(3))
        questions = {draw(name, random.Random(seed)).question for seed in range(30)}
        assert len(questions) > 10, name
        assert draw(name, random.Random(0)).working
