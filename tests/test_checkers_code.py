"""The worked example's checker (bn_forward): the reference passes, the starter and the
classic mistakes fail at the first case, each with its hint."""

from __future__ import annotations

from checkercheck import assert_fails_first_at, assert_passes, card, check_code

CARD = "code-bn-forward"

RIGHT = """\
import numpy as np


def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5,
                      training=True):
    if training:
        n = x.shape[0]
        mean, var = x.mean(axis=0), x.var(axis=0)
        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var = (1 - momentum) * running_var + momentum * var * n / (n - 1)
    else:
        mean, var = running_mean, running_var
    return gamma * (x - mean) / np.sqrt(var + eps) + beta, running_mean, running_var
"""
SWAPPED = RIGHT.replace(
    "(1 - momentum) * running_mean + momentum * mean",
    "momentum * running_mean + (1 - momentum) * mean  # weights swapped",
).replace(
    "(1 - momentum) * running_var + momentum * var * n / (n - 1)",
    "momentum * running_var + (1 - momentum) * var * n / (n - 1)",
)
UNBIASED = RIGHT.replace("x.var(axis=0)", "x.var(axis=0, ddof=1)").replace(
    "momentum * var * n / (n - 1)", "momentum * var"
)
BATCH_STATS_IN_EVAL = """\
import numpy as np


def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5,
                      training=True):
    n = x.shape[0]
    mean, var = x.mean(axis=0), x.var(axis=0)  # the batch's statistics, even in eval
    if training:
        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var = (1 - momentum) * running_var + momentum * var * n / (n - 1)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta, running_mean, running_var
"""


def test_the_reference_solution_passes(tmp_path):
    assert_passes(check_code(CARD, card(CARD).solution, tmp_path))


def test_the_starter_fails(tmp_path):
    report = check_code(CARD, card(CARD).starter, tmp_path)
    assert_fails_first_at(report, "training, N=8, D=4")
    assert "NotImplementedError" in report.first_failure.got


def test_the_unbiased_variance_fails_with_its_hint(tmp_path):
    report = check_code(CARD, UNBIASED, tmp_path)
    assert_fails_first_at(report, "training, N=8, D=4", "biased variance (divide by N)")


def test_swapped_momentum_fails_with_its_hint(tmp_path):
    report = check_code(CARD, SWAPPED, tmp_path)
    assert_fails_first_at(report, "training, N=8, D=4", "momentum weights are swapped")


def test_batch_statistics_in_eval_pass_training_and_fail_eval(tmp_path):
    report = check_code(CARD, BATCH_STATS_IN_EVAL, tmp_path)
    assert_fails_first_at(report, "eval, N=8", "in eval mode, normalize with running_mean")


IN_PLACE = RIGHT.replace(
    "        running_mean = (1 - momentum) * running_mean + momentum * mean\n",
    "        running_mean *= 1 - momentum  # the caller's array, changed in place\n"
    "        running_mean += momentum * mean\n",
)
MOMENTUM_WRITTEN_IN = RIGHT.replace(
    "(1 - momentum) * running_mean + momentum * mean", "0.9 * running_mean + 0.1 * mean"
)
EPS_WRITTEN_IN = RIGHT.replace("np.sqrt(var + eps)", "np.sqrt(var + 1e-5)")


def test_the_right_base_of_the_variants_below_passes(tmp_path):
    assert_passes(check_code(CARD, RIGHT, tmp_path))


def test_updating_the_running_mean_in_place_fails(tmp_path):
    report = check_code(CARD, IN_PLACE, tmp_path)
    assert IN_PLACE != RIGHT
    assert_fails_first_at(report, "training, N=8, D=4")
    assert "running_mean was modified in place" in report.first_failure.got


def test_momentum_and_eps_written_into_the_code_fail(tmp_path):
    for text in (MOMENTUM_WRITTEN_IN, EPS_WRITTEN_IN):
        assert text != RIGHT
        report = check_code(CARD, text, tmp_path)
        assert_fails_first_at(report, "training, N=32, D=17 (odd D), momentum 0.3, eps 1e-3")
