"""The regularizers proofs and generators: key numbers against values computed here.

Each proof's claims are re-derived independently: closed forms in pure Python, a
scalar re-run of gradient descent, numerical integration of the Beta density, a
numpy re-draw of CutMix boxes. The generators are checked against torch where it
has the real thing (CrossEntropyLoss's smoothed targets and its gradient, Dropout's
training-mode variance) and against sums written out here otherwise.
"""

from __future__ import annotations

import math
import random
import re
from fractions import Fraction

import numpy as np
import pytest

from quizcnn.generators import draw

torch = pytest.importorskip("torch")

PROOFS = ["label_smoothing", "mixup_cutmix", "variance_shift"]
GENERATORS = [
    "label_smoothed_target",
    "label_smoothing_logit_gap",
    "cutmix_lambda",
    "stochastic_depth_expected_depth",
    "dropout_bn_variance",
]


@pytest.fixture(scope="module")
def results(proof_result):
    return {name: proof_result(name) for name in PROOFS}


def _table(result, starts: str):
    for table in result.tables:
        if table.title.startswith(starts):
            return table.rows
    raise KeyError(starts)


# -- label smoothing -------------------------------------------------------------------


def _smoothed_optimal_gap(k: int, eps: float) -> float:
    """Minimize the smoothed loss over the gap g by bisection on its derivative.

    With the other K − 1 logits equal, p_y = 1/(1 + (K − 1)e^(−g)) and the loss is
    −q_y·log p_y − (1 − q_y)·log((1 − p_y)/(K − 1)); dL/dg = p_y − q_y, increasing in g.
    """
    q_y = 1 - eps + eps / k
    lo, hi = -50.0, 50.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if 1 / (1 + (k - 1) * math.exp(-mid)) < q_y:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def test_pytorch_target_values(results):
    r = results["label_smoothing"]
    assert r.claim("target_true_class").measured == pytest.approx(0.91, abs=1e-12)
    assert r.claim("target_other_class").measured == pytest.approx(0.01, abs=1e-12)
    assert r.claim("matches_hand_formula").measured < 1e-12
    for k, eps, true, _, other, _ in _table(r, "The target CrossEntropyLoss"):
        assert float(true) == pytest.approx(1 - eps + eps / k, abs=1e-6)
        assert float(other) == pytest.approx(eps / k, abs=1e-6)
        assert float(other) != pytest.approx(eps / (k - 1), abs=1e-7)


def test_gap_matches_an_independent_minimization(results):
    r = results["label_smoothing"]
    assert _smoothed_optimal_gap(10, 0.1) == pytest.approx(math.log(91), abs=1e-12)
    assert r.claim("gap_converges").measured == pytest.approx(
        _smoothed_optimal_gap(10, 0.1), abs=1e-6
    )
    assert r.claim("gap_converges_eps02").measured == pytest.approx(
        _smoothed_optimal_gap(10, 0.2), abs=1e-6
    )
    assert r.claim("gap_converges_eps005").measured == pytest.approx(
        _smoothed_optimal_gap(10, 0.05), abs=1e-6
    )
    rows = {row[0]: row for row in _table(r, "Gradient descent on one sample")}
    assert float(rows[0.05][3]) == pytest.approx(_smoothed_optimal_gap(10, 0.05), abs=1e-4)


def test_unsmoothed_gap_rerun_as_a_scalar_recurrence(results):
    """Without smoothing only the gap matters: g ← g + lr·K·p_other, p_other = 1/(e^g + K − 1)."""
    k, lr, g, marks = 10, 2.0, 0.0, {}
    for step in range(1, 3001):
        g += lr * k / (math.exp(g) + k - 1)
        if step in (30, 300, 3000):
            marks[step] = g
    row = {row[0]: row for row in _table(results["label_smoothing"], "Gradient descent")}[0.0]
    assert [float(v) for v in row[1:4]] == pytest.approx(
        [marks[30], marks[300], marks[3000]], abs=1e-3
    )
    # growing by about ln 10 per tenfold steps
    assert marks[3000] - marks[300] == pytest.approx(math.log(10), abs=0.05)


def test_loss_floor_is_the_entropy_of_the_smoothed_target(results):
    q = np.array([0.91] + [0.01] * 9)
    entropy = float(-(q * np.log(q)).sum())
    assert entropy == pytest.approx(0.5003, abs=1e-4)
    r = results["label_smoothing"]
    assert r.claim("min_loss_is_entropy").measured == pytest.approx(entropy, abs=1e-9)
    assert r.claim("confidence_capped").measured == pytest.approx(0.91, abs=1e-9)


def test_smoothed_teacher_is_capped_and_flat(results):
    rows = {row[0]: row for row in _table(results["label_smoothing"], "Linear teacher")}
    cap = 1 - 0.1 + 0.1 / 4  # four classes
    assert float(rows[0.1][1]) < cap < float(rows[0.0][1])
    plain, smooth = float(rows[0.0][4]), float(rows[0.1][4])
    assert plain > 5 * smooth > 0


# -- mixup and CutMix ------------------------------------------------------------------


def _beta_tail(alpha: float, edge: float = 0.1, n: int = 200_000) -> float:
    """P(λ < edge or λ > 1 − edge) for λ ~ Beta(α, α), by x = t^(1/α) (no singularity)."""
    t = np.linspace(0.0, edge**alpha, n)
    integrand = (1 - t ** (1 / alpha)) ** (alpha - 1) / alpha
    lower = float(np.sum((integrand[1:] + integrand[:-1]) / 2 * np.diff(t)))
    beta = math.exp(2 * math.lgamma(alpha) - math.lgamma(2 * alpha))
    return 2 * lower / beta


def test_beta_table_matches_closed_forms(results):
    r = results["mixup_cutmix"]
    rows = {row[0]: row for row in _table(r, "λ ~ Beta")}
    for alpha, row in rows.items():
        assert float(row[1]) == pytest.approx(0.5, abs=0.005)
        assert float(row[2]) == pytest.approx(1 / (4 * (2 * alpha + 1)), abs=0.003)
        assert float(row[4]) == pytest.approx(_beta_tail(alpha), abs=0.005)
    assert _beta_tail(1.0) == pytest.approx(0.2, abs=1e-6)
    assert _beta_tail(2.0) == pytest.approx(2 * (3 * 0.01 - 2 * 0.001), abs=1e-6)
    assert float(rows[1.0][5]) == pytest.approx(0.75, abs=0.005)  # E[max(U, 1 − U)]
    assert r.claim("small_alpha_near_ends").measured == pytest.approx(_beta_tail(0.2), abs=0.005)


def _box(size: int, lam: float, cx: int, cy: int):
    cut = int(size * math.sqrt(1 - lam))
    lo = lambda v: min(max(v - cut // 2, 0), size)  # noqa: E731
    hi = lambda v: min(max(v + cut // 2, 0), size)  # noqa: E731
    return lo(cx), lo(cy), hi(cx), hi(cy)


def test_cutmix_table_boxes_and_lambdas(results):
    rows = _table(results["mixup_cutmix"], "CutMix on 32×32")
    assert len(rows) == 4
    for lam, centre, box, share_b, lam_exact in rows:
        cx, cy = (int(v) for v in re.findall(r"\d+", centre))
        x1, y1, x2, y2 = _box(32, lam, cx, cy)
        assert box == str((x1, y1, x2, y2))
        mask = np.zeros((32, 32))
        mask[x1:x2, y1:y2] = 1
        assert float(share_b) == pytest.approx(mask.mean(), abs=1e-4)
        assert float(lam_exact) == pytest.approx(1 - mask.mean(), abs=1e-4)
    r = results["mixup_cutmix"]
    assert r.claim("corner_box_clipped").measured == 1 - 64 / 1024


def test_cutmix_mean_pasted_fraction_by_numpy(results):
    rng = np.random.default_rng(7)
    n, size = 200_000, 224
    lam = rng.random(n)
    cut = np.floor(size * np.sqrt(1 - lam)).astype(int)
    cx, cy = rng.integers(0, size, n), rng.integers(0, size, n)
    w = np.clip(cx + cut // 2, 0, size) - np.clip(cx - cut // 2, 0, size)
    h = np.clip(cy + cut // 2, 0, size) - np.clip(cy - cut // 2, 0, size)
    pasted = w * h / size**2
    r = results["mixup_cutmix"]
    assert r.claim("clipping_shrinks_boxes").measured == pytest.approx(pasted.mean(), abs=0.004)
    moved = (np.abs(1 - pasted - lam) > 0.05).mean()
    assert r.claim("lambda_reset_matters").measured == pytest.approx(moved, abs=0.01)


def test_mixed_label_identities_are_exact(results):
    r = results["mixup_cutmix"]
    for key in ("mixup_loss_linear", "mixup_grad_linear", "mixup_with_label_smoothing"):
        assert r.claim(key).measured < 1e-12
    assert r.claim("cutmix_pixels_unblended").measured == 1.0
    assert r.claim("mixup_pixels_blended").measured == 0.0


# -- variance shift and stochastic depth -----------------------------------------------


def test_dropout_variance_formula_against_numpy():
    rng = np.random.default_rng(3)
    x = 1.0 + rng.standard_normal(2_000_000)
    keep = rng.random(x.size) >= 0.5
    dropped = np.where(keep, x / 0.5, 0.0)
    assert dropped.mean() == pytest.approx(1.0, abs=0.01)
    assert dropped.var() == pytest.approx((1 + 1) / 0.5 - 1, rel=0.01)


def test_variance_shift_table(results):
    r = results["variance_shift"]
    rows = _table(r, "Dropout(p) → BatchNorm1d")
    assert len(rows) == 4
    for c, v, p, predicted, train_in, running, eval_in, out_train, out_eval, ratio in rows:
        var_train = (c * c + v) / (1 - p) - c * c
        assert float(predicted) == pytest.approx(var_train, abs=1e-4)
        assert float(train_in) == pytest.approx(var_train, rel=0.03)
        assert float(running) == pytest.approx(var_train, rel=0.03)
        assert float(eval_in) == pytest.approx(v, rel=0.03)
        assert float(out_train) == pytest.approx(1.0, abs=0.02)
        assert float(out_eval) == pytest.approx(v / var_train, rel=0.03)
        assert float(ratio) == pytest.approx(v / var_train, abs=1e-4)
    assert r.claim("eval_output_variance_shrunk").measured == pytest.approx(1 / 3, rel=0.03)
    assert r.claim("zero_mean_factor").measured == pytest.approx(1 / (1 - 0.2), rel=0.03)
    assert r.claim("bn_first_no_shift").measured == pytest.approx(1.0, rel=0.03)


def test_expected_depth_sums(results):
    r = results["variance_shift"]
    for blocks, p_last, formula, simulated in _table(r, "Stochastic depth, linear decay"):
        p = Fraction(str(p_last))
        total = sum(1 - Fraction(block, blocks) * (1 - p) for block in range(1, blocks + 1))
        assert float(formula) == pytest.approx(float(total), abs=0.005)
        if p == Fraction(1, 2):
            assert total == Fraction(3 * blocks - 1, 4)
        assert float(simulated) == pytest.approx(float(total), abs=0.02 * math.sqrt(blocks) + 0.1)
    assert r.claim("expected_depth_54").measured == pytest.approx(40.25, abs=0.2)


def test_drop_path_scaling_and_rate(results):
    r = results["variance_shift"]
    assert 1 / (1 - 0.2) == 1.25
    assert r.claim("row_survivor_scale").measured < 1e-12
    assert r.claim("row_drop_rate").measured == pytest.approx(0.2, abs=0.01)
    for key in ("row_all_or_nothing", "batch_mode_whole_batch", "eval_identity"):
        assert r.claim(key).passed
    assert r.claim("inverted_matches_identity_test").measured < 0.01
    assert r.claim("original_matches_scaled_test").measured < 0.01


# -- generators ------------------------------------------------------------------------


def _draws(name: str, n: int = 60, seed: int = 11):
    rng = random.Random(seed)
    return [draw(name, rng) for _ in range(n)]


@pytest.mark.parametrize("name", GENERATORS)
def test_generator_is_deterministic_and_varies(name):
    assert draw(name, random.Random(5)) == draw(name, random.Random(5))
    questions = {draw(name, random.Random(seed)).question for seed in range(30)}
    assert len(questions) > 5
    drawn = draw(name, random.Random(0))
    assert drawn.tolerance > 0 and drawn.working and "?" in drawn.question


def _torch_targets(k: int, eps: float) -> tuple[float, float]:
    """CrossEntropyLoss(label_smoothing=eps)'s target, read from its gradient at z = 0."""
    z = torch.zeros(1, k, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.cross_entropy(
        z, torch.zeros(1, dtype=torch.long), label_smoothing=eps
    ).backward()
    q = 1 / k - z.grad[0]
    return q[0].item(), q[1].item()


def test_label_smoothed_target_matches_torch():
    for drawn in _draws("label_smoothed_target"):
        eps = float(re.search(r"label_smoothing=([\d.]+)", drawn.question).group(1))
        k = int(re.search(r"on a (\d+)-class", drawn.question).group(1))
        true, other = _torch_targets(k, eps)
        expected = true if "the true class" in drawn.question else other
        assert drawn.value == pytest.approx(expected, abs=1e-12), drawn.question
        # the tolerance separates the right answer from the usual slips
        slips = [1 - eps] if "the true class" in drawn.question else [eps / (k - 1)]
        for slip in slips:
            assert abs(slip - drawn.value) > drawn.tolerance


def test_logit_gap_is_a_stationary_point_of_torch_loss():
    for drawn in _draws("label_smoothing_logit_gap"):
        eps = float(re.search(r"ε = ([\d.]+)", drawn.question).group(1))
        k = int(re.search(r"A (\d+)-class", drawn.question).group(1))
        z = torch.zeros(1, k, dtype=torch.float64)
        z[0, 0] = drawn.value
        z.requires_grad_(True)
        target = torch.zeros(1, dtype=torch.long)
        torch.nn.functional.cross_entropy(z, target, label_smoothing=eps).backward()
        assert z.grad.abs().max().item() < 1e-12, drawn.question
        # a larger gap is pushed back: the true logit's gradient turns positive
        z2 = z.detach().clone()
        z2[0, 0] += 0.1
        z2.requires_grad_(True)
        torch.nn.functional.cross_entropy(z2, target, label_smoothing=eps).backward()
        assert z2.grad[0, 0].item() > 0


CUTMIX_RE = re.compile(
    r"CutMix on (\d+)x\1 images draws λ = ([\d.]+)\. .*?= (\d+), centred at \(x, y\) = \((\d+), (\d+)\)"
)


def test_cutmix_lambda_matches_a_pasted_tensor():
    clipped = 0
    for drawn in _draws("cutmix_lambda", n=120):
        size, lam, cut, cx, cy = CUTMIX_RE.search(drawn.question).groups()
        size, lam, cut, cx, cy = int(size), float(lam), int(cut), int(cx), int(cy)
        assert cut == math.floor(size * math.sqrt(1 - lam))
        a, b = torch.zeros(1, 3, size, size), torch.ones(1, 3, size, size)
        rows = torch.arange(size)
        inside_x = (rows >= cx - cut // 2) & (rows < cx + cut // 2)
        inside_y = (rows >= cy - cut // 2) & (rows < cy + cut // 2)
        mask = (inside_x[:, None] & inside_y[None, :]).float()
        mixed = a * (1 - mask) + b * mask
        assert drawn.value == pytest.approx(1 - mixed.mean().item(), abs=1e-6), drawn.question
        clipped += abs(drawn.value - lam) > 0.01
    assert clipped > 20  # the draws include boxes clipped at the border


def test_expected_depth_generator_by_summation():
    for drawn in _draws("stochastic_depth_expected_depth"):
        blocks = int(re.search(r"L = (\d+)", drawn.question).group(1))
        p_last = float(re.search(r"p_L = ([\d.]+)", drawn.question).group(1))
        total = sum(1 - block / blocks * (1 - p_last) for block in range(1, blocks + 1))
        assert drawn.value == pytest.approx(total, abs=1e-9), drawn.question
        assert drawn.unit == "blocks"


def test_dropout_bn_variance_matches_torch_dropout():
    torch.manual_seed(0)
    for drawn in _draws("dropout_bn_variance", n=8):
        c, v = (
            float(s)
            for s in re.search(r"mean (\d+\.\d+) and variance (\d+\.\d+)", drawn.question).groups()
        )
        p = float(re.search(r"Dropout\(p=([\d.]+)\)", drawn.question).group(1))
        x = c + math.sqrt(v) * torch.randn(1_000_000, dtype=torch.float64)
        out = torch.nn.functional.dropout(x, p=p, training=True)
        assert out.var().item() == pytest.approx(drawn.value, rel=0.02), drawn.question
        assert drawn.value == pytest.approx((c * c + v) / (1 - p) - c * c, abs=1e-12)
