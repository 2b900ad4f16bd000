"""The gradient and initialization proofs hold on CPU, and their key numbers match theory.

Each expected value below is computed here from the formulas (sigma'(0) = 1/4,
the ReLU gain n std^2 / 2, Kaiming's sqrt(2 / fan_in), PyTorch's default bound
1/sqrt(fan_in), ...), independently of the proofs' own expected values.
"""

import math

import pytest

GRADIENT_PROOFS = ["vanishing_gradients", "init_scale", "zero_init_symmetry", "default_init"]


@pytest.fixture(scope="module")
def results(proof_result):
    return {name: proof_result(name) for name in GRADIENT_PROOFS}


def measured(result, key):
    return result.claim(key).measured


def relu_std_from_rms(rms: float) -> float:
    """std of relu(z) for a symmetric Gaussian z with E[relu(z)^2] = rms^2."""
    return rms * math.sqrt(1 - 1 / math.pi)


# --- vanishing_gradients ----------------------------------------------------


def test_sigmoid_and_tanh_derivative_peaks(results):
    r = results["vanishing_gradients"]
    s0 = 1 / (1 + math.exp(0.0))
    assert measured(r, "sigmoid_max_derivative") == pytest.approx(s0 * (1 - s0), abs=1e-12)
    assert measured(r, "sigmoid_max_derivative") == pytest.approx(0.25, abs=1e-12)
    assert measured(r, "tanh_max_derivative") == pytest.approx(1.0, abs=1e-12)
    assert abs(measured(r, "sigmoid_argmax_at_zero")) < 1e-9
    # On |x| >= 5 the largest sigma' is at x = +-5: e^-5 / (1 + e^-5)^2.
    at_five = math.exp(-5) / (1 + math.exp(-5)) ** 2
    assert measured(r, "sigmoid_saturates") == pytest.approx(at_five, rel=1e-3)


def test_sigmoid_gradient_vanishes_at_least_as_the_bound_says(results):
    r = results["vanishing_gradients"]
    # Default nn.Linear(128, 128) weights have spectral norm ~ 2 sqrt(n) std = 2 / sqrt(3);
    # 19 sigmoid layers then shrink the gradient by at most (0.25 * 1.2)^19 ~ 1e-10.
    bound = (0.25 * 1.2) ** 19
    assert measured(r, "sigmoid_first_over_last") < 10 * bound
    assert measured(r, "sigmoid_xavier_first_over_last") < 1e-6
    assert measured(r, "sigmoid_layer_bound") <= 1.0


def test_relu_kaiming_is_level_and_large_init_explodes_as_predicted(results):
    r = results["vanishing_gradients"]
    assert measured(r, "relu_kaiming_spread") < 10
    # ReLU backward factor per layer: sqrt(n std^2 / 2) = sqrt(128 * 0.4^2 / 2) = 3.2; 19 layers.
    predicted = math.sqrt(128 * 0.4**2 / 2) ** 19
    ratio = measured(r, "big_init_signal_first_over_last")
    assert predicted / 10 < ratio < predicted * 10
    assert measured(r, "big_init_vs_kaiming_first_layer") > 1e6
    assert measured(r, "residual_sigmoid_signal") > 1e-2


def test_clipping_numbers(results):
    r = results["vanishing_gradients"]
    assert measured(r, "clip_norm_before") > 1e6
    assert measured(r, "clip_norm_after") == pytest.approx(1.0, abs=1e-6)
    assert measured(r, "clip_norm_keeps_direction") == pytest.approx(1.0, abs=1e-9)
    assert measured(r, "clip_value_bounds_entries") == pytest.approx(1.0, abs=1e-9)
    assert measured(r, "clip_value_turns_direction") < 0.99


def test_vanishing_plot_is_per_layer_on_log_scale(results):
    (series,) = results["vanishing_gradients"].series
    assert series.log_y
    assert series.x == list(range(1, 21))
    sigmoid, relu = series.lines["sigmoid"], series.lines["relu + kaiming"]
    assert sigmoid[0] / sigmoid[-1] < 1e-6
    assert max(relu) / min(relu) < 10


# --- init_scale ---------------------------------------------------------------

N = 512


@pytest.mark.parametrize(
    ("key", "std", "rel"),
    [
        ("std01_ratio", 0.1, 0.05),
        ("lecun_halves", 1 / math.sqrt(N), 0.05),
        ("kaiming_ratio", math.sqrt(2 / N), 0.05),
        ("inverted_factor_ratio", math.sqrt(N / 2), 0.1),
        ("halved_factor_ratio", math.sqrt(1 / (2 * N)), 0.1),
    ],
)
def test_relu_per_layer_ratio_is_n_std2_over_2(results, key, std, rel):
    assert measured(results["init_scale"], key) == pytest.approx(N * std**2 / 2, rel=rel)


def test_collapse_and_explosion_match_fifty_powers(results):
    r = results["init_scale"]
    # E[x^2] at layer 50 = (n std^2 / 2)^50 for input E[x^2] = 1.
    small = relu_std_from_rms(math.sqrt((N * 0.01**2 / 2) ** 50))
    big = relu_std_from_rms(math.sqrt((N * 0.1**2 / 2) ** 50))
    assert abs(math.log10(measured(r, "std001_collapses") / small)) < 1
    assert abs(math.log10(measured(r, "std01_explodes") / big)) < 1
    assert measured(r, "kaiming_second_moment_layer50") < 1


def test_xavier_tanh_stays_healthy(results):
    r = results["init_scale"]
    assert 0.05 < measured(r, "xavier_tanh_std_layer50") < 1
    assert measured(r, "xavier_tanh_gain_stable") == pytest.approx(1.0, abs=0.02)


def test_kaiming_normal_draws_sqrt_2_over_fan(results):
    r = results["init_scale"]
    assert measured(r, "kaiming_normal_std") == pytest.approx(math.sqrt(2 / 512), rel=0.01)
    assert measured(r, "kaiming_normal_conv_std") == pytest.approx(
        math.sqrt(2 / (32 * 3 * 3)), rel=0.02
    )
    assert measured(r, "kaiming_normal_fan_out_std") == pytest.approx(math.sqrt(2 / 256), rel=0.01)
    assert measured(r, "kaiming_default_gain") == pytest.approx(math.sqrt(2 / (1 + 0**2)))


def test_init_plot_has_fifty_layers_on_log_scale(results):
    (series,) = results["init_scale"].series
    assert series.log_y
    assert len(series.x) == 50
    assert all(len(v) == 50 for v in series.lines.values())


# --- zero_init_symmetry -------------------------------------------------------


def test_zero_init_has_exactly_zero_hidden_gradients(results):
    r = results["zero_init_symmetry"]
    assert measured(r, "zero_init_hidden_grad") == 0.0
    assert measured(r, "zero_init_output_weight_grad") == 0.0
    assert measured(r, "zero_init_stays_zero") == 1.0


def test_constant_init_keeps_one_unit_random_init_fits(results):
    r = results["zero_init_symmetry"]
    assert measured(r, "constant_rows_identical") < 1e-12
    assert measured(r, "constant_rank_one") == 1.0
    assert measured(r, "constant_cannot_fit") < 0.8
    assert measured(r, "random_rows_differ") > 1e-3
    assert measured(r, "random_fits") > 0.9


# --- default_init -------------------------------------------------------------


def test_pytorch_default_is_uniform_one_over_sqrt_fan_in(results):
    r = results["default_init"]
    # kaiming_uniform_(a=sqrt 5): gain sqrt(2 / (1 + 5)) times sqrt(3 / fan_in) = 1 / sqrt(fan_in).
    assert abs(measured(r, "a_sqrt5_bound")) < 1e-12
    assert measured(r, "linear_weight_std") == pytest.approx(1 / math.sqrt(3 * 300), rel=0.02)
    assert measured(r, "conv_weight_std") == pytest.approx(1 / math.sqrt(3 * 32 * 9), rel=0.02)
    for key in ("linear_weight_max", "linear_bias_max", "conv_weight_max"):
        assert measured(r, key) <= 1.0
    assert measured(r, "default_variance_times_fan_in") == pytest.approx(1 / 3, rel=0.02)
    # One sixth of He's variance: a bias-free ReLU layer multiplies E[x^2] by n (1 / 3n) / 2.
    assert measured(r, "default_relu_ratio") == pytest.approx(1 / 6, rel=0.1)


def test_uniform_bounds_are_sqrt3_times_normal_std(results):
    r = results["default_init"]
    fan_in, fan_out = 300, 200
    assert measured(r, "xavier_uniform_std") == pytest.approx(
        math.sqrt(6 / (fan_in + fan_out)) / math.sqrt(3), rel=0.02
    )
    assert measured(r, "xavier_normal_std") == pytest.approx(
        math.sqrt(2 / (fan_in + fan_out)), rel=0.02
    )
    assert measured(r, "kaiming_uniform_std") == pytest.approx(
        math.sqrt(6 / fan_in) / math.sqrt(3), rel=0.02
    )
    assert measured(r, "kaiming_normal_std") == pytest.approx(math.sqrt(2 / fan_in), rel=0.02)
    for key in ("xavier_uniform_max", "kaiming_uniform_max"):
        assert 0.99 < measured(r, key) <= 1.0
