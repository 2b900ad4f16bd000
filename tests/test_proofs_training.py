"""The activation, dropout, augmentation, data-loading and overfitting proofs.

Each proof runs on CPU and every claim must hold; then the key measured numbers
are checked against values computed here, independently of the proof's own
expected values.
"""

import math

import pytest

PROOFS = ["activations", "dropout", "augmentation", "dataloader_epochs", "overfitting"]


@pytest.fixture(scope="module")
def results(proof_result):
    return {name: proof_result(name) for name in PROOFS}


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_sigmoid_and_tanh_derivatives(results):
    r = results["activations"]
    assert r.claim("sigmoid_max_grad").measured == pytest.approx(sigmoid(0) * (1 - sigmoid(0)))
    assert r.claim("sigmoid_grad_at_10").measured == pytest.approx(
        sigmoid(10) * (1 - sigmoid(10)), rel=1e-9
    )
    assert r.claim("tanh_grad_at_5").measured == pytest.approx(1 - math.tanh(5) ** 2, rel=1e-9)
    assert r.claim("tanh_max_grad").measured == pytest.approx(1.0)


def test_sigmoid_chain_gradient_is_product_of_local_derivatives(results):
    value, product = 0.0, 1.0
    for _ in range(10):
        s = sigmoid(value)
        product *= s * (1 - s)
        value = s
    assert results["activations"].claim("sigmoid_chain_gradient").measured == pytest.approx(
        product, rel=1e-9
    )
    assert product < 0.25**10


def test_relu_and_elu_means_match_gaussian_integrals(results):
    # E[f(z)], z ~ N(0, 1), by a midpoint rule on [-10, 10].
    def gaussian_mean(f, n=200_000):
        h = 20.0 / n
        total = 0.0
        for i in range(n):
            z = -10.0 + (i + 0.5) * h
            total += f(z) * math.exp(-0.5 * z * z)
        return total * h / math.sqrt(2 * math.pi)

    relu_mean = gaussian_mean(lambda z: max(z, 0.0))
    elu_mean = gaussian_mean(lambda z: z if z > 0 else math.exp(z) - 1)
    r = results["activations"]
    assert r.claim("relu_mean_output").measured == pytest.approx(relu_mean, abs=0.01)
    assert r.claim("elu_mean_output").measured == pytest.approx(elu_mean, abs=0.01)
    assert r.claim("relu_zero_fraction").measured == pytest.approx(0.5, abs=0.01)


def test_hswish_swish_gap_matches_pure_python(results):
    grid = [-6 + 0.001 * i for i in range(12_001)]
    gap = max(abs(x * min(max(x + 3, 0), 6) / 6 - x * sigmoid(x)) for x in grid)
    assert results["activations"].claim("hswish_vs_swish_max_diff").measured == pytest.approx(
        gap, abs=1e-5
    )


def test_dead_relu_and_xor(results):
    r = results["activations"]
    assert r.claim("dead_relu_zero_grad").measured == 0.0
    assert r.claim("leaky_relu_gets_gradient").measured > 0.0
    # The least-squares line through XOR's four points is the constant 1/2.
    assert r.claim("xor_linear_mse").measured == pytest.approx(
        sum((t - 0.5) ** 2 for t in (0, 1, 1, 0)) / 4
    )
    assert r.claim("xor_relu_mse").measured == 0.0


def test_dropout_numbers(results):
    r = results["dropout"]
    # Binomial: the zeroed fraction of 200,000 draws is within 5 standard deviations of p.
    for key, p in (("zero_fraction_p3", 0.3), ("zero_fraction_p9", 0.9)):
        assert abs(r.claim(key).measured - p) < 5 * math.sqrt(p * (1 - p) / 200_000)
    assert r.claim("survivor_value").measured == pytest.approx(0.0, abs=1e-12)
    assert r.claim("mean_preserved").measured == pytest.approx(1.0, abs=0.01)
    assert r.claim("eval_identity").passed and r.claim("eval_calls_equal").passed
    table = r.tables[0]
    for p, _, mean, scale in table.rows:
        assert float(scale) == pytest.approx(1 / (1 - p), abs=1e-4)
        assert float(mean) == pytest.approx(1.0, abs=0.03)


def test_augmentation_numbers(results):
    r = results["augmentation"]
    assert r.claim("alexnet_crop_positions").measured == (256 - 224 + 1) ** 2
    assert r.claim("alexnet_crops_with_flips").measured == 2 * (256 - 224 + 1) ** 2
    assert r.claim("plain_fails_mirrored").measured < 0.7
    assert r.claim("augmented_handles_mirrored").measured > 0.85
    assert r.claim("normalized_mean").measured < 1e-9
    # law of total variance, and the std left by dividing by the average per-image std:
    # brightness ~ U(0.4, 0.63) has variance 0.23²/12, pixel noise has variance 0.1²
    assert abs(r.claim("total_variance").measured) < 1e-12
    expected_std = math.sqrt(1 + (0.23**2 / 12) / 0.1**2)
    assert r.claim("std_after_average_image_std").measured == pytest.approx(expected_std, abs=0.05)
    assert r.claim("std_after_average_image_std").measured > 1.1


def test_dataloader_numbers(results):
    r = results["dataloader_epochs"]
    assert r.claim("iterations_n10_b4").measured == math.ceil(10 / 4)
    assert r.claim("last_batch_size").measured == 10 - 4 * (10 // 4)
    assert r.claim("iterations_drop_last").measured == 10 // 4
    per_epoch = -(-1_281_167 // 256)
    assert r.claim("imagenet_iterations").measured == per_epoch
    assert r.claim("resnet_epochs").measured == pytest.approx(600_000 / per_epoch)
    for n, b, ceil_nb, length, dropped in r.tables[0].rows:
        assert ceil_nb == length == -(-n // b)
        assert dropped == n // b


def test_overfitting_and_weight_decay_numbers(results):
    r = results["overfitting"]
    lr, lam, steps = 1e-3, 1e-2, 100
    assert r.claim("adamw_exact_decay").measured == pytest.approx(
        1 - (1 - lr * lam) ** steps, rel=1e-9
    )
    # Adam + L2 moves a gradient-free weight by about lr per step, whatever λ is.
    assert r.claim("adam_l2_shrink").measured == pytest.approx(steps * lr, rel=0.05)
    assert r.claim("adam_l2_ignores_lambda").measured == pytest.approx(1.0, abs=0.01)
    assert r.claim("sgd_weight_decay_is_l2").measured < 1e-12
    assert r.claim("overfit_train_loss").measured < 0.1 * 0.5**2  # far below the noise variance
