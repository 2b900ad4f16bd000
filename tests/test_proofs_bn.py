"""The normalization proofs hold on CPU, and their key numbers match values computed here."""

import math

import numpy as np
import pytest

BN_PROOFS = ["bn_vs_ln", "bn_large_lr", "bn_placement", "bn_deep_gradients"]


@pytest.fixture(scope="module")
def results(proof_result):
    return {name: proof_result(name) for name in BN_PROOFS}


def test_parameter_counts_match_closed_forms(results):
    r = results["bn_vs_ln"]
    channels, height, width = 64, 8, 8
    assert r.claim("bn_learnable_params").measured == 2 * channels
    assert r.claim("ln_learnable_params").measured == 2 * channels * height * width


def test_running_statistics_follow_pytorch_convention(results):
    r = results["bn_vs_ln"]
    assert r.claim("momentum_default").measured == 0.1
    # The proof's batch is (8, 4, 5, 5): 200 values per channel.
    n = 8 * 5 * 5
    assert r.claim("running_var_is_n_over_n_minus_1").measured == pytest.approx(
        n / (n - 1), abs=1e-9
    )
    assert r.claim("num_batches_tracked").measured == 2
    assert r.claim("running_mean_update").measured < 1e-12


def test_running_stats_table_obeys_the_update_rule(results):
    """Recompute running_mean and running_var from the table's own batch numbers."""
    rows = {row[0]: row[1] for row in results["bn_vs_ln"].tables[0].rows}
    batch_mean = rows["batch 1 mean[0]"]
    biased, unbiased = rows["batch 1 var[0] biased"], rows["batch 1 var[0] unbiased"]
    assert rows["running_mean[0] after batch 1"] == pytest.approx(0.9 * 0.0 + 0.1 * batch_mean)
    assert rows["running_var[0] after batch 1"] == pytest.approx(0.9 * 1.0 + 0.1 * unbiased)
    assert unbiased / biased == pytest.approx(200 / 199)


def test_normalization_axes_and_batch_dependence(results):
    r = results["bn_vs_ln"]
    eps, tiny = 1e-5, 1e-12
    assert abs(r.claim("bn_channel_mean_zero").measured) < tiny
    assert abs(r.claim("ln_sample_mean_zero").measured) < tiny
    # The variance is var / (var + eps): within eps of 1 for the proof's channel scales (>= 0.5).
    assert 1 - eps / 0.25 <= r.claim("bn_channel_var_one").measured <= 1
    assert r.claim("ln_ignores_batchmates").measured == 0.0
    assert r.claim("gn_ignores_batchmates").measured == 0.0
    assert r.claim("bn_depends_on_batchmates").measured > 0.01
    assert r.claim("batch_of_one_refused").passed


def test_numpy_backward_matches_autograd(results):
    r = results["bn_vs_ln"]
    for part in ("forward", "dx", "dgamma", "dbeta"):
        assert r.claim(f"numpy_{part}_matches_autograd").measured < 1e-8
    assert r.claim("dx_sums_to_zero").measured < 1e-12


def test_skewness_of_exponential_survives_bn(results):
    # An exponential distribution has skewness 2; a sample of 4096 values lands near it.
    skew = results["bn_vs_ln"].claim("bn_output_not_gaussian").measured
    assert 1.0 < skew < 3.0


def test_scale_invariance_gradient_is_one_over_a(results):
    r = results["bn_large_lr"]
    a = 10.0
    assert r.claim("grad_scales_inverse").measured == pytest.approx(1 / a, rel=1e-6)
    assert r.claim("bn_scale_invariant").measured < 1e-12


def test_large_learning_rate_table(results):
    rows = results["bn_large_lr"].tables[0].rows
    by_key = {(row[0], row[1]): row for row in rows}
    plain_large, bn_large = by_key[(2.0, "no BN")], by_key[(2.0, "BN")]
    assert not math.isfinite(plain_large[4]) or plain_large[4] > 1e3  # largest loss
    assert bn_large[5] > 0.8  # accuracy
    # Chance level on 4 balanced-ish classes is about 0.25; every BN run beats it.
    assert all(row[5] > 0.25 for row in rows if row[1] == "BN")


def test_bias_before_bn_is_dead(results):
    r = results["bn_placement"]
    assert r.claim("bias_before_bn_no_effect").measured < 1e-12
    assert r.claim("bias_before_bn_zero_grad").measured < 1e-12
    # A symmetric pre-activation centred at 0 is positive half of the time.
    assert r.claim("bn_first_half_active").measured == pytest.approx(0.5, abs=0.05)


def test_deep_bn_gradients_grow_geometrically(results):
    r = results["bn_deep_gradients"]
    series = r.series[0]
    with_bn = np.array(series.lines["Linear-BN-ReLU"])
    without_bn = np.array(series.lines["Linear-ReLU"])
    assert len(with_bn) == 30
    # Fit log-norm against depth: with BN the slope towards the input is clearly positive.
    slope = np.polyfit(np.arange(30), np.log(with_bn[::-1]), 1)[0]
    assert math.exp(slope) > 1.1
    assert r.claim("bn_first_over_last").measured == pytest.approx(with_bn[0] / with_bn[-1])
    assert without_bn.max() / without_bn.min() < 10


def _relu_bn_rate(batch: int) -> float:
    """Yang et al. 2019 (arXiv:1902.08129), ReLU-batchnorm theorem, written out here."""
    c = -1.0 / (batch - 1)
    kernel_c = (math.sqrt(1 - c**2) + (math.pi - math.acos(c)) * c) / math.pi
    slope_c = (math.pi - math.acos(c)) / math.pi
    b = batch
    return (b - 1) * (slope_c + b - 1) / ((b - 3) * (b - 1) * (1 - kernel_c)) - 1 / (b - 3)


def test_deep_bn_growth_matches_mean_field_rate(results):
    # The rate falls towards pi / (pi - 1) for large batches (the theorem's limit).
    assert _relu_bn_rate(10**6) == pytest.approx(math.pi / (math.pi - 1), rel=1e-4)
    assert _relu_bn_rate(64) > _relu_bn_rate(10**6)
    claim = results["bn_deep_gradients"].claim("bn_growth_matches_mean_field")
    assert claim.expected == pytest.approx(math.sqrt(_relu_bn_rate(64)), rel=1e-12)
    assert abs(claim.measured - math.sqrt(_relu_bn_rate(64))) < 0.05
