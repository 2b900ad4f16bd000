"""The optimizer proofs' key numbers match values computed here, and the topic's
generators agree with torch.optim and torch.optim.lr_scheduler on every draw."""

from __future__ import annotations

import functools
import math
import random
import re

import numpy as np
import pytest

from quizcnn.generators import draw

PROOFS = ["adam_steps", "lr_schedules", "grad_accumulation"]
LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-8


@pytest.fixture(scope="module")
def results(proof_result):
    return {name: proof_result(name) for name in PROOFS}


def table(result, title_start: str):
    for t in result.tables:
        if t.title.startswith(title_start):
            return t
    raise AssertionError(f"{result.name} has no table starting {title_start!r}")


# -- adam_steps -----------------------------------------------------------------------


def test_adam_first_step_numbers(results):
    r = results["adam_steps"]
    # Without §3's correction: lr·(1 − β1)g / (√(1 − β2)|g|) = lr·0.1/√0.001.
    assert r.claim("adam_uncorrected_step1").measured == pytest.approx(0.1 / math.sqrt(0.001))
    # |g| = eps: lr·eps/(eps + eps) = lr/2.
    assert r.claim("adam_step1_at_eps").measured == pytest.approx(0.5, abs=1e-9)
    rows = table(r, "torch.optim.Adam").rows
    for g1, step1, uncorrected, _, _ in rows:
        g = float(g1)
        assert float(step1) == pytest.approx(g / (abs(g) + EPS), abs=1e-6)
        m, v = (1 - B1) * g, (1 - B2) * g * g
        assert float(uncorrected) == pytest.approx(m / (math.sqrt(v) + EPS), abs=1e-4)


def test_adam_second_step_recomputed_in_numpy(results):
    rows = table(results["adam_steps"], "torch.optim.Adam").rows
    g1 = np.array([float(row[0]) for row in rows])
    g2 = np.array([float(row[3]) for row in rows])
    m = B1 * (1 - B1) * g1 + (1 - B1) * g2
    v = B2 * (1 - B2) * g1**2 + (1 - B2) * g2**2
    step2 = (m / (1 - B1**2)) / (np.sqrt(v / (1 - B2**2)) + EPS)
    measured = np.array([float(row[4]) for row in rows])
    np.testing.assert_allclose(measured, step2, atol=2e-6)
    # For g1 = 1000, g2 = -1000 the moments nearly cancel: m̂2 = (0.9·1000 − 1000)/1.9.
    assert measured[0] == pytest.approx((0.9 * 1000 - 1000) / 1.9 / 1000, abs=1e-5)


def test_l2_and_adamw_closed_forms_in_numpy(results):
    rows = {
        row[0]: [float(x) for x in row[1:]]
        for row in table(results["adam_steps"], "One weight").rows
    }
    theta0, g = np.array(rows["θ0"]), np.array(rows["g"])
    lr, lam = 0.01, 0.1

    def adam(theta, decoupled):
        m = v = np.zeros_like(theta)
        for t in (1, 2):
            grad = g if decoupled else g + lam * theta
            if decoupled:
                theta = theta * (1 - lr * lam)
            m = B1 * m + (1 - B1) * grad
            v = B2 * v + (1 - B2) * grad**2
            theta = theta - lr * (m / (1 - B1**t)) / (np.sqrt(v / (1 - B2**t)) + EPS)
        return theta

    np.testing.assert_allclose(rows["Adam(weight_decay)"], adam(theta0, False), atol=1e-6)
    np.testing.assert_allclose(rows["AdamW"], adam(theta0, True), atol=1e-6)
    # The last weight: g + λθ flips the sign of g, so Adam+L2 moves it up by ≈ 2·lr.
    assert rows["Adam(weight_decay)"][3] == pytest.approx(theta0[3] + 2 * lr, abs=1e-5)


def test_adamw_decay_factor_and_the_cards_number(results):
    r = results["adam_steps"]
    assert r.claim("adamw_factor_lr_1e-3").measured == pytest.approx(1 - 1e-5, abs=1e-12)
    assert r.claim("adamw_factor_lr_2e-3").measured == pytest.approx(1 - 2e-5, abs=1e-12)
    # optim-adamw-decay-number: 10,000 steps at lr 1e-3, weight_decay 0.01.
    after = (1 - 1e-5) ** 10_000
    assert after == pytest.approx(math.exp(-0.1), rel=1e-5)
    assert after == pytest.approx(0.905, abs=5e-4)


def test_rmsprop_numbers(results):
    r = results["adam_steps"]
    alpha, lr = 0.99, 0.01
    assert r.claim("rmsprop_first_step_10_lr").measured == pytest.approx(1 / math.sqrt(1 - alpha))
    assert r.claim("rmsprop_centered_step1").measured == pytest.approx(
        1 / (math.sqrt((1 - alpha) - (1 - alpha) ** 2) + EPS)
    )
    g = EPS
    outside = lr * g / (math.sqrt((1 - alpha) * g * g) + EPS)
    inside = lr * g / math.sqrt((1 - alpha) * g * g + EPS)
    assert r.claim("rmsprop_eps_placement_matters").measured == pytest.approx(
        outside / inside, rel=1e-9
    )
    g = 1e-3  # v = 0.01·g² = 1e-8 = eps: the two orders still differ by √2
    outside = lr * g / (math.sqrt((1 - alpha) * g * g) + EPS)
    inside = lr * g / math.sqrt((1 - alpha) * g * g + EPS)
    assert r.claim("rmsprop_eps_placement_at_1e-3").measured == pytest.approx(
        outside / inside, rel=1e-9
    )
    assert outside / inside == pytest.approx(math.sqrt(2), rel=2e-4)


def test_sgd_momentum_table(results):
    r = results["adam_steps"]
    lr, mu, tau, g1, g2 = 0.1, 0.9, 0.9, 1.0, 0.5
    rows = {row[0]: (float(row[1]), float(row[2])) for row in table(r, "SGD(lr=0.1").rows}
    assert rows["momentum"] == pytest.approx((lr * g1, lr * (mu * g1 + g2)))
    assert rows["nesterov"] == pytest.approx((lr * (1 + mu) * g1, lr * (g2 + mu * (mu * g1 + g2))))
    assert rows["momentum, dampening 0.9"] == pytest.approx(
        (lr * g1, lr * (mu * g1 + (1 - tau) * g2))
    )
    assert r.claim("nesterov_step1").measured == pytest.approx(1.9)


def test_lr_drop_shrinks_torch_step_at_once(results):
    r = results["adam_steps"]
    rows = {row[0].split(":")[0]: row for row in table(r, "Step length").rows}
    torch_before, torch_after = float(rows["torch"][1]), float(rows["torch"][2])
    sutskever_after = float(rows["Sutskever"][2])
    # torch rescales the whole velocity by the new lr; Sutskever's keeps μ·v at the old lr.
    assert torch_after < 0.2 * torch_before
    assert sutskever_after > 3 * torch_after
    # Up to step 14 the paths are the same, so torch's step 15 is the no-drop step × 0.1.
    assert rows["torch"][3] == rows["Sutskever"][3]  # constant lr: identical iterates
    assert torch_after == pytest.approx(0.1 * float(rows["torch"][3]), abs=1e-5)
    assert r.claim("torch_step_shrinks_10x_at_once").measured == pytest.approx(0.1, abs=1e-12)
    assert r.claim("sutskever_step_keeps_old_velocity").measured == pytest.approx(
        sutskever_after / float(rows["Sutskever"][3]), rel=1e-3
    )


def test_min_norm_solution(results):
    r = results["adam_steps"]
    assert r.claim("gd_finds_min_norm").measured < 1e-8
    assert r.claim("adam_elsewhere").measured > 0.1
    assert r.claim("adam_larger_norm").measured > 1.0


# -- lr_schedules ---------------------------------------------------------------------


def test_cosine_table_against_the_formula(results):
    for t, measured, _ in table(results["lr_schedules"], "CosineAnnealingLR").rows:
        expected = 1e-3 + 0.5 * (0.1 - 1e-3) * (1 + math.cos(math.pi * t / 100))
        assert float(measured) == pytest.approx(expected, abs=1e-6)


def test_one_cycle_endpoints(results):
    r = results["lr_schedules"]
    max_lr, div, final_div = 1.0, 25.0, 1e4
    assert r.claim("onecycle_first_lr").measured == pytest.approx(max_lr / div)
    assert r.claim("onecycle_last_lr").measured == pytest.approx(max_lr / div / final_div)
    assert r.claim("onecycle_momentum_at_peak").measured == pytest.approx(0.85)
    assert r.claim("onecycle_peak_at_29").passed  # 0.3·100 − 1


def test_goyal_reference_learning_rates(results):
    rows = table(results["lr_schedules"], "Goyal").rows
    for kn, k, lr, _ in rows:
        assert k == kn // 256
        assert float(lr) == pytest.approx(0.1 * kn / 256)
    assert float(next(row[2] for row in rows if row[0] == 8192)) == pytest.approx(3.2)


def test_warmup_and_restarts(results):
    r = results["lr_schedules"]
    # Gradual warmup from 0.1 to 32·0.1 = 3.2.
    assert r.claim("warmup_starts_at_small_lr").measured == pytest.approx(0.1)
    assert r.claim("warmup_reaches_target").measured == pytest.approx(32 * 0.1)
    # SGDR with T_0 = 10, T_mult = 2: periods 10, 20, 40, so restarts at 10, 30, 70.
    periods = [10 * 2**i for i in range(3)]
    assert list(np.cumsum(periods)) == [10, 30, 70]
    assert r.claim("warm_restart_epochs").passed
    assert r.claim("wrong_order_skips_first_lr").measured == pytest.approx(0.1 * 0.5)


def test_linear_scaling_ratios(results):
    r = results["lr_schedules"]
    k = 8
    assert r.claim("unscaled_moves_k_times_less").expected == pytest.approx(1 / k)
    assert abs(r.claim("unscaled_moves_k_times_less").measured - 1 / k) < 0.02
    assert abs(r.claim("sqrt_rule_moves_sqrt_k_less").measured - 1 / math.sqrt(k)) < 0.05
    assert r.claim("linear_rule_matches_k_small_steps").measured < 0.1


def test_layerwise_trust_ratio_table(results):
    r = results["lr_schedules"]
    rows = table(r, "One gradient of an MLP").rows
    for _, w_norm, g_norm, ratio, sgd, lars, lamb in rows:
        w_norm, g_norm = float(w_norm), float(g_norm)
        assert float(ratio) == pytest.approx(w_norm / g_norm, rel=2e-3)
        assert float(sgd) == pytest.approx(1e-3 * g_norm / w_norm, rel=2e-2)  # one global lr
        assert float(lars) == pytest.approx(1e-3) and float(lamb) == pytest.approx(1e-3)
    # optim-lars-trust-ratio: η‖w‖/(‖∇L‖ + β‖w‖) with η = 1e-3, ‖w‖ = 5, ‖∇L‖ = 0.1, β = 5e-4.
    assert r.claim("lars_local_lr_example").measured == pytest.approx(1e-3 * 5 / (0.1 + 5e-4 * 5))


# -- grad_accumulation ----------------------------------------------------------------


def test_forgetting_the_division(results):
    r = results["grad_accumulation"]
    n, micro = 32, 8
    assert r.claim("forgot_divide_is_k_times").measured == pytest.approx(n / micro)
    assert r.claim("grad_adds_up").measured == 2 + 5
    assert r.claim("accumulation_equals_big_batch").measured < 1e-14


def test_unequal_micro_batch_weights(results):
    r = results["grad_accumulation"]
    n, k, sizes = 32, 4, [10, 10, 10, 2]
    # With loss_j / k, sample i of micro-batch j gets weight 1/(k·n_j) instead of 1/N.
    assert r.claim("unequal_last_sample_weight").measured == pytest.approx(n / (k * sizes[-1]))
    assert r.claim("unequal_other_sample_weight").measured == pytest.approx(n / (k * sizes[0]))
    assert sum(size * (1 / (k * size)) for size in sizes) == pytest.approx(1.0)  # still sums to 1
    assert r.claim("unequal_weight_by_size").measured < 1e-14


def test_batchnorm_running_mean_recurrence(results):
    rows = {
        row[0]: float(row[1]) for row in table(results["grad_accumulation"], "BatchNorm1d").rows
    }
    means = [rows[f"micro-batch {j} mean"] for j in range(1, 5)]
    # Equal micro-batches: their means average to the big batch's mean...
    assert np.mean(means) == pytest.approx(rows["batch of 32 mean"], abs=1e-11)
    # ...but BN updates its running mean once per forward pass: new = 0.9·old + 0.1·batch.
    running = 0.0
    for m in means:
        running = 0.9 * running + 0.1 * m
    assert rows["running_mean after the 4 micro-batches"] == pytest.approx(running, abs=1e-11)
    assert rows["running_mean after the batch of 32"] == pytest.approx(
        0.1 * rows["batch of 32 mean"], abs=1e-11
    )
    r = results["grad_accumulation"]
    assert abs(r.claim("bn_running_mean_recurrence").measured) < 1e-12
    assert abs(r.claim("bn_running_mean_one_update").measured) < 1e-12
    assert results["grad_accumulation"].claim("bn_train_breaks_equality").measured > 1e-2


# -- generators -----------------------------------------------------------------------

torch = pytest.importorskip("torch")

ADAM_RE = re.compile(
    r"θ = (-?\d+(?:\.\d+)?) is trained with torch\.optim\.(Adam|AdamW)\((.*?)\)\. Its first (?:two )?"
    r"(?:loss )?gradients? (?:is|are) g1 = (-?\d+(?:\.\d+)?)(?: and g2 = (-?\d+(?:\.\d+)?))?"
)
COSINE_RE = re.compile(
    r"lr = ([\d.e-]+) is wrapped in CosineAnnealingLR\(optimizer, (.*?)\), and .* epoch (\d+) use"
)
WARMUP_RE = re.compile(
    r"lr = ([\d.e-]+) is scheduled by SequentialLR\(optimizer, \[LinearLR\(optimizer, (.*?)\), "
    r"CosineAnnealingLR\(optimizer, (.*?)\)\], milestones=\[(\d+)\]\).* step (\d+) use"
)
SCALING_RE = re.compile(r"lr ([\d.]+) for batch size (\d+)\. .* batch size (\d+) use\?")
WARMUP_ITER_RE = re.compile(
    r"batch (\d+) \(reference.*over (\d+) epochs of (\d+) iterations\. .* iteration (\d+) use"
)


def _kwargs(text: str) -> dict:
    return eval(f"dict({text})")  # our own generated text, in a test


def _draws(name: str, count: int = 120, seed: int = 99):
    rng = random.Random(seed)
    return [draw(name, rng) for _ in range(count)]


@pytest.mark.parametrize("name", ["adam_update", "cosine_lr", "linear_scaling_lr"])
def test_generator_is_deterministic_and_varies(name):
    assert draw(name, random.Random(5)) == draw(name, random.Random(5))
    assert len({draw(name, random.Random(seed)).question for seed in range(30)}) > 10
    drawn = draw(name, random.Random(0))
    assert drawn.question.endswith("?") and drawn.working and drawn.tolerance > 0


def test_adam_update_matches_torch_optim():
    kinds = set()
    for drawn in _draws("adam_update"):
        match = ADAM_RE.search(drawn.question)
        assert match, drawn.question
        theta0, cls, args, g1, g2 = match.groups()
        kinds.add((cls, "weight_decay" in args, g2 is not None))
        p = torch.nn.Parameter(torch.tensor([float(theta0)], dtype=torch.float64))
        opt = getattr(torch.optim, cls)([p], **_kwargs(args))
        for g in [g1] + ([g2] if g2 else []):
            p.grad = torch.tensor([float(g)], dtype=torch.float64)
            opt.step()
        assert drawn.value == pytest.approx(p.item(), abs=1e-12), drawn.question
        assert drawn.tolerance < 0.5 * abs(float(theta0) - p.item()) + 1e-12  # the step matters
    assert kinds == {("Adam", False, True), ("AdamW", True, False), ("Adam", True, False)}


def test_adam_update_l2_sign_flip_case():
    # θ = −2, Adam(lr=0.01, weight_decay=0.5), g = 0.2: g + λθ = −0.8 < 0, so θ goes UP.
    from quizcnn.generators.optimizers import adam_theta

    assert adam_theta(-2.0, [0.2], 0.01, weight_decay=0.5) == pytest.approx(-2.0 + 0.01, abs=1e-9)
    assert adam_theta(-2.0, [0.2], 0.01, weight_decay=0.5, decoupled=True) == pytest.approx(
        -2.0 * (1 - 0.005) - 0.01, abs=1e-9
    )


def _scheduled_lr(base: float, make, steps: int) -> float:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base)
    scheduler = make(opt)
    for _ in range(steps):
        opt.step()
        scheduler.step()
    return opt.param_groups[0]["lr"]


def _warmup_then_cosine(opt, linear: dict, cosine: dict, milestone: int):
    sched = torch.optim.lr_scheduler
    return sched.SequentialLR(
        opt,
        [sched.LinearLR(opt, **linear), sched.CosineAnnealingLR(opt, **cosine)],
        milestones=[milestone],
    )


def test_cosine_lr_matches_torch_schedulers():
    sched, seen = torch.optim.lr_scheduler, set()
    for drawn in _draws("cosine_lr"):
        if match := COSINE_RE.search(drawn.question):
            base, args, t = float(match[1]), _kwargs(match[2]), int(match[3])
            lr = _scheduled_lr(base, functools.partial(sched.CosineAnnealingLR, **args), t)
            seen.add("cosine")
        else:
            match = WARMUP_RE.search(drawn.question)
            assert match, drawn.question
            base, linear, cosine, w, t = match.groups()

            make = functools.partial(
                _warmup_then_cosine,
                linear=_kwargs(linear),
                cosine=_kwargs(cosine),
                milestone=int(w),
            )
            lr = _scheduled_lr(float(base), make, int(t))
            seen.add("warmup")
        assert drawn.value == pytest.approx(lr, abs=1e-12), drawn.question
        assert abs(drawn.value - lr) <= drawn.tolerance
    assert seen == {"cosine", "warmup"}


def test_linear_scaling_lr_matches_rule_and_linearlr():
    seen = set()
    for drawn in _draws("linear_scaling_lr"):
        if match := SCALING_RE.search(drawn.question):
            lr0, b0, b = float(match[1]), int(match[2]), int(match[3])
            assert drawn.value == pytest.approx(lr0 * (b / b0))
            seen.add("rule")
        else:
            match = WARMUP_ITER_RE.search(drawn.question)
            assert match, drawn.question
            batch, epochs, per_epoch, i = (int(x) for x in match.groups())
            k = batch // 256
            total = epochs * per_epoch
            make = functools.partial(
                torch.optim.lr_scheduler.LinearLR, start_factor=1 / k, total_iters=total
            )
            lr = _scheduled_lr(0.1 * k, make, i)
            assert drawn.value == pytest.approx(lr, rel=1e-6), drawn.question
            assert 0.1 <= drawn.value <= 0.1 * k
            seen.add("warmup")
    assert seen == {"rule", "warmup"}
