"""The loss and optimization proofs hold on CPU; their key numbers match values computed here.

Each proof runs once (module fixture). Besides requiring every claim to pass, the
tests recompute the headline numbers from closed forms, independently of the
proof's own expected values, and check that the numeric cards of the ce_vs_mse,
losses and optimization topics accept exactly those numbers.
"""

import importlib.util
import math
from pathlib import Path

import pytest
import yaml

LOSS_PROOFS = [
    "ce_vs_mse",
    "loss_gradients",
    "multilabel_vs_multiclass",
    "logistic_regression",
    "class_imbalance",
    "gd_vs_newton",
]
QUESTIONS = Path(__file__).resolve().parent.parent / "questions"
DEMOS = QUESTIONS.parent / "demos"


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


@pytest.fixture(scope="module")
def results(proof_result):
    return {name: proof_result(name) for name in LOSS_PROOFS}


def test_sigmoid_gradients_match_closed_forms(results):
    r = results["ce_vs_mse"]
    p = sigmoid(-8.0)
    assert r.claim("mse_grad_closed_form").measured == pytest.approx(
        (p - 1) * p * (1 - p), abs=1e-15
    )
    assert r.claim("bce_grad_closed_form").measured == pytest.approx(p - 1, abs=1e-15)
    # 1 / (p(1-p)) = e^z + 2 + e^-z: the factor MSE loses when confidently wrong.
    ratio = r.claim("bce_over_mse_gradient").measured
    assert ratio == pytest.approx(math.exp(8) + 2 + math.exp(-8), rel=1e-9)


def test_cross_entropy_reference_values(results):
    r = results["ce_vs_mse"]
    assert r.claim("uniform_prediction_loss").measured == pytest.approx(math.log(10), abs=1e-12)
    five_class_floor = -math.log(math.e / (math.e + 4))
    assert r.claim("double_softmax_loss_floor").measured == pytest.approx(
        five_class_floor, abs=1e-12
    )
    assert r.claim("softmax_ce_grad_closed_form").measured < 1e-12
    # log_softmax only shifts each row of logits, which softmax ignores.
    same = r.claim("ce_of_log_softmax_unchanged")
    assert same.measured == pytest.approx(r.claim("ce_is_logsoftmax_nll").measured, abs=1e-12)


def test_cross_entropy_wins_the_training_race(results):
    r = results["ce_vs_mse"]
    ce_steps = r.claim("ce_steps_to_target").measured
    mse_steps = r.claim("mse_steps_to_target").measured
    assert ce_steps < mse_steps / 10
    assert r.claim("start_accuracy").measured < 0.05
    race = next(s for s in r.series if "Accuracy" in s.title)
    assert race.lines["MSE"][0] == race.lines["cross-entropy"][0]  # the same start


def test_regression_loss_gradients(results):
    r = results["loss_gradients"]
    assert r.claim("outlier_grad_l2").measured == pytest.approx(2 * 100.0)
    assert r.claim("outlier_grad_l1").measured == 1.0
    assert r.claim("l1_grad_at_zero").measured == 0.0
    assert r.claim("huber_grad_capped_at_delta").measured == pytest.approx(2.0)
    assert r.claim("huber_is_delta_times_smooth_l1").measured < 1e-12


def test_least_squares_outlier_shift_closed_form(results):
    r = results["loss_gradients"]
    xs = [i / 19 for i in range(20)]
    mean = sum(xs) / 20
    sxx = sum((x - mean) ** 2 for x in xs)
    shift = 20.0 * (xs[-1] - mean) / sxx  # = 20 * 0.5 / (665 / 361)
    assert shift == pytest.approx(20 * 0.5 * 361 / 665)
    assert r.claim("l2_slope_shift_closed_form").measured == pytest.approx(shift, abs=1e-9)
    assert r.claim("l2_line_tilted_more").measured > 10


def test_l1_penalty_is_sparse_and_l2_is_not(results):
    r = results["loss_gradients"]
    assert r.claim("l1_penalty_zeros").measured >= 10
    assert r.claim("l2_penalty_no_zeros").measured == 0


def test_multilabel_heads(results):
    r = results["multilabel_vs_multiclass"]
    assert r.claim("softmax_max_labels").measured <= 1
    assert r.claim("softmax_exact_match_multilabel").measured == 0.0
    assert r.claim("sigmoid_exact_match_multilabel").measured > 0.6
    # log(1 + e^200) = 200 to float precision; BCELoss clamps log at -100.
    assert r.claim("bce_with_logits_stable").measured == pytest.approx(200.0, abs=1e-3)
    assert r.claim("sigmoid_then_bce_clamped").measured == pytest.approx(100.0, abs=1e-3)
    assert r.claim("sigmoid_jacobian_diagonal").measured == 0.0


def test_logistic_regression_curvature(results):
    r = results["logistic_regression"]
    s = sigmoid(-3.0)
    curvature = -s * (1 - s) * (1 - s) * (1 - 3 * s)
    assert curvature < 0
    assert r.claim("mse_sigmoid_curvature").measured == pytest.approx(curvature, abs=1e-12)
    assert r.claim("hessian_psd").measured >= -1e-12
    assert r.claim("gradient_closed_form").measured < 1e-12
    assert r.claim("unique_minimum").measured < 1e-10


def test_class_imbalance_numbers(results):
    r = results["class_imbalance"]
    assert r.claim("focal_factor_at_0_9").measured == pytest.approx(1 / 0.1**2, rel=1e-9)
    assert r.claim("focal_factor_at_0_968").measured == pytest.approx(1 / 0.032**2, rel=1e-9)
    easy = 1000 * -math.log(0.99)
    hard = 10 * -math.log(0.3)
    assert r.claim("ce_easy_share").measured == pytest.approx(easy / (easy + hard), rel=1e-9)
    focal_easy = easy * 0.01**2
    focal_hard = hard * 0.7**2
    share = focal_easy / (focal_easy + focal_hard)
    assert r.claim("focal_easy_share").measured == pytest.approx(share, rel=1e-9)
    assert r.claim("always_negative_accuracy").measured == pytest.approx(950 / 1000)
    assert r.claim("weighted_recall_high").measured > r.claim("unweighted_recall_low").measured


def test_weighted_cross_entropy_denominators():
    # Uniform logits over C classes: every -log p is ln C. Class-index targets average
    # with weights w[y_n]/Σw[y_n], so the loss is ln C; uniform probability targets put
    # Σ_c w_c/C inside each sample's loss and divide by N, giving mean(w)·ln C.
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    weight = torch.tensor([1.0, 4.0, 10.0], dtype=torch.float64)
    logits = torch.zeros(5, 3, dtype=torch.float64)
    index_target = torch.tensor([0, 2, 2, 1, 0])
    soft_target = torch.full((5, 3), 1 / 3, dtype=torch.float64)
    assert F.cross_entropy(logits, index_target, weight=weight).item() == pytest.approx(
        math.log(3), abs=1e-12
    )
    assert F.cross_entropy(logits, soft_target, weight=weight).item() == pytest.approx(
        (1 + 4 + 10) / 3 * math.log(3), abs=1e-12
    )


def test_gradient_descent_step_counts(results):
    r = results["gd_vs_newton"]
    for kappa in (10, 100):
        steps = math.ceil(math.log(1e-6) / math.log(1 - 1 / kappa))
        assert r.claim(f"gd_steps_kappa_{kappa}").measured == steps
    assert r.claim("gd_steps_kappa_100").measured == 1375
    assert r.claim("lr_above_2_over_L_diverges").measured == pytest.approx(1.1**50, rel=1e-6)
    assert r.claim("newton_one_step").measured < 1e-10
    assert r.claim("bfgs_n_steps").measured < 1e-10
    assert r.claim("lbfgs_two_loop_is_bfgs").measured < 1e-12
    assert r.claim("lbfgs_n_steps").measured < 1e-6 < r.claim("lbfgs_fixed_step_error").measured
    assert r.claim("momentum_steps").measured < 1375 / 4
    assert r.claim("adam_first_step_is_lr").measured < 1e-6


def load_demo(name: str):
    spec = importlib.util.spec_from_file_location(name, DEMOS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quadratic_problem():
    """A κ = 100 quadratic in float64 from the proof's own generator, and a start."""
    torch = pytest.importorskip("torch")
    from quizcnn.proofkit import Proof

    proof = Proof("gd_vs_newton")
    demo = load_demo("gd_vs_newton")
    a, b, x_star, _ = demo.quadratic(proof, 100.0)
    x0 = x_star + torch.randn(demo.DIM, dtype=torch.float64)
    return torch, demo, a, b, x0


def torch_optim_path(torch, a, b, x0, make_optimizer, steps: int):
    """Iterates of a torch.optim optimizer on ½xᵀAx - bᵀx, one step() at a time."""
    x = x0.clone().requires_grad_(True)
    opt = make_optimizer([x])

    def closure():
        opt.zero_grad()
        loss = 0.5 * x @ a @ x - b @ x
        loss.backward()
        return loss

    path = [x0.clone()]
    for _ in range(steps):
        opt.step(closure)
        path.append(x.detach().clone())
    return path


def max_gap(path, other) -> float:
    return max((p - q).abs().max().item() for p, q in zip(path, other, strict=True))


def test_hand_written_lbfgs_is_torch_optim_lbfgs(quadratic_problem):
    # The proof writes L-BFGS out; torch.optim.LBFGS with its default (no line search,
    # fixed step lr) and the same history must produce the same iterates.
    torch, demo, a, b, x0 = quadratic_problem
    torch_path = torch_optim_path(
        torch,
        a,
        b,
        x0,
        lambda params: torch.optim.LBFGS(
            params, lr=1, max_iter=1, history_size=5, tolerance_grad=0, tolerance_change=0
        ),
        steps=30,
    )
    mine = demo.lbfgs(a, b, x0, memory=5, iterations=30, line_search=False)
    assert max_gap(torch_path, mine) < 1e-10


def test_hand_written_momentum_and_adam_are_torch_optim(quadratic_problem):
    torch, demo, a, b, x0 = quadratic_problem
    sgd = torch_optim_path(
        torch, a, b, x0, lambda p: torch.optim.SGD(p, lr=0.03, momentum=0.67), steps=40
    )
    assert max_gap(sgd, demo.momentum_path(a, b, x0, lr=0.03, beta=0.67, steps=40)) < 1e-12
    adam = torch_optim_path(torch, a, b, x0, lambda p: torch.optim.Adam(p, lr=0.01), steps=40)
    mine = demo.adam_path(lambda x: a @ x - b, x0, lr=0.01, steps=40)
    assert max_gap(adam, mine) < 1e-12
    # First step of Adam: m̂ = g, v̂ = g², so |Δx| = lr·|g|/(|g| + 1e-8) in every coordinate.
    g = (a @ x0 - b).abs()
    expected = (0.01 * g / (g + 1e-8)).tolist()
    assert (adam[1] - x0).abs().tolist() == pytest.approx(expected, abs=1e-15)


def numeric_cards() -> dict[str, dict]:
    cards = {}
    for topic in ("ce_vs_mse", "losses", "optimization"):
        data = yaml.safe_load((QUESTIONS / f"{topic}.yaml").read_text(encoding="utf-8"))
        cards.update({c["id"]: c for c in data["cards"] if c["kind"] == "numeric"})
    return cards


@pytest.mark.parametrize(
    ("card_id", "truth"),
    [
        ("ce-gradient-ratio-numeric", math.exp(8) + 2 + math.exp(-8)),
        ("ce-double-softmax-floor", math.log(1 + 4 / math.e)),
        ("ce-uniform-init-loss", math.log(10)),
        ("loss-outlier-constant-fit", (10 * 1.0 + 40) / 11),
        ("loss-huber-grad-cap", 2.0),
        ("loss-smooth-l1-grad-numeric", 0.25 / 0.5),
        ("loss-bce-with-logits-stability", 100.0),
        ("loss-pos-weight-numeric", 300 / 100),
        ("loss-focal-numeric", 1 / (1 - 0.9) ** 2),
        ("loss-accuracy-paradox", 950 / 1000),
        ("opt-newton-quadratic-steps", 1),
        ("opt-gd-condition-number", math.ceil(math.log(1e-6) / math.log(1 - 1 / 100))),
        ("opt-gd-condition-number", round(100 * math.log(1e6))),  # the κ·ln(1/ε) rule
        ("opt-hessian-memory", 4 * 25.6e6**2 / 1e15),
    ],
)
def test_numeric_cards_accept_the_true_value(card_id, truth):
    card = numeric_cards()[card_id]
    assert abs(truth - card["value"]) <= card["tolerance"], (card_id, truth, card["value"])


def test_every_card_in_these_topics_cites_an_existing_proof():
    demos = QUESTIONS.parent / "demos"
    for topic in ("ce_vs_mse", "losses", "optimization"):
        data = yaml.safe_load((QUESTIONS / f"{topic}.yaml").read_text(encoding="utf-8"))
        for card in data["cards"]:
            assert (demos / f"{card['proof']}.py").is_file(), card["id"]
