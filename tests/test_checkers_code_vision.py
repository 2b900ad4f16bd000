"""The code_vision cards (box IoU, NMS, receptive field, attention and three training-loop
bug hunts): each card's solution passes its checker, its starter fails, and realistic
wrong solutions fail at the expected first case with the hint that names the mistake.
The checkers' own torch references are checked here against hand-worked values."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
import torch
from checkercheck import assert_fails_first_at, assert_passes, card, check_code

from quizcnn.paths import checkers_dir


def checker(name: str):
    spec = importlib.util.spec_from_file_location(
        f"vision_checker_{name}", checkers_dir() / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CARDS = [
    "impl-vis-box-iou",
    "impl-vis-nms",
    "impl-vis-receptive-field",
    "impl-vis-attention",
    "bug-nms-unsorted",
    "bug-loop-eval-mode",
    "bug-loop-zero-grad",
    "bug-loop-step-before-backward",
]
FIRST_CASE = {
    "impl-vis-box-iou": "one box, hand-worked overlaps (N=1)",
    "impl-vis-nms": "two clusters and a neighbour, threshold 0.5",
    "impl-vis-receptive-field": "a single 3x3 conv",
    "impl-vis-attention": "a single sequence, L=S=5, d=8",
}


@pytest.mark.parametrize("card_id", CARDS)
def test_the_solution_passes(card_id, tmp_path):
    assert_passes(check_code(card_id, card(card_id).solution, tmp_path))


@pytest.mark.parametrize("card_id", sorted(FIRST_CASE))
def test_the_starter_fails_at_the_first_case(card_id, tmp_path):
    report = check_code(card_id, card(card_id).starter, tmp_path)
    assert_fails_first_at(report, FIRST_CASE[card_id])
    assert "NotImplementedError" in report.first_failure.got


@pytest.mark.parametrize("card_id", CARDS)
def test_every_case_of_the_solution_is_reported(card_id, tmp_path):
    report = check_code(card_id, card(card_id).solution, tmp_path)
    assert 5 <= len(report.cases) <= 10, len(report.cases)
    assert len({c.name for c in report.cases}) == len(report.cases)  # names are unique


# -- box_iou ---------------------------------------------------------------------------

IOU = "impl-vis-box-iou"
IOU_TEMPLATE = """\
import numpy as np


def box_iou(boxes1, boxes2):
    a = np.asarray(boxes1, dtype=np.float64)
    b = np.asarray(boxes2, dtype=np.float64)
    area_a = (a[:, 2] - a[:, 0] PLUS) * (a[:, 3] - a[:, 1] PLUS)
    area_b = (b[:, 2] - b[:, 0] PLUS) * (b[:, 3] - b[:, 1] PLUS)
    wh = np.minimum(a[:, None, 2:], b[None, :, 2:]) - np.maximum(a[:, None, :2], b[None, :, :2]) PLUS
    wh = CLAMP
    inter = INTER
    union = UNION
    return DIVIDE
"""
IOU_RIGHT = {
    "PLUS": "",
    "CLAMP": "np.maximum(wh, 0)",
    "INTER": "wh[..., 0] * wh[..., 1]",
    "UNION": "area_a[:, None] + area_b[None, :] - inter",
    "DIVIDE": "np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)",
}


def iou_code(**changes) -> str:
    code = IOU_TEMPLATE
    for key, value in {**IOU_RIGHT, **changes}.items():
        code = code.replace(key, value)
    return code


def test_the_box_iou_template_is_right_when_unchanged(tmp_path):
    assert_passes(check_code(IOU, iou_code(), tmp_path))


def test_box_iou_plus_one_convention_fails_with_its_hint(tmp_path):
    report = check_code(IOU, iou_code(PLUS="+ 1"), tmp_path)
    assert_fails_first_at(report, "one box, hand-worked overlaps (N=1)", "+1 pixel convention")


def test_box_iou_without_the_clamp_fails_on_disjoint_boxes(tmp_path):
    report = check_code(IOU, iou_code(CLAMP="wh"), tmp_path)
    assert_fails_first_at(report, "disjoint boxes (IoU 0)", "without the clamp")


def test_box_iou_clamping_the_product_fails_on_disjoint_boxes(tmp_path):
    report = check_code(
        IOU, iou_code(CLAMP="wh", INTER="np.maximum(wh[..., 0] * wh[..., 1], 0)"), tmp_path
    )
    assert_fails_first_at(report, "disjoint boxes (IoU 0)", "not their product")


def test_box_iou_union_without_subtraction_fails_with_its_hint(tmp_path):
    report = check_code(IOU, iou_code(UNION="area_a[:, None] + area_b[None, :]"), tmp_path)
    assert_fails_first_at(report, "one box, hand-worked overlaps (N=1)", "counted twice")


def test_box_iou_nan_on_zero_area_boxes_fails_with_its_hint(tmp_path):
    report = check_code(IOU, iou_code(DIVIDE="inter / union"), tmp_path)
    assert_fails_first_at(report, "zero-area boxes (IoU 0, no nan)", "union 0")


def test_a_double_loop_box_iou_passes(tmp_path):
    code = """\
def box_iou(boxes1, boxes2):
    out = []
    for ax1, ay1, ax2, ay2 in boxes1:
        row = []
        for bx1, by1, bx2, by2 in boxes2:
            w = max(0.0, min(ax2, bx2) - max(ax1, bx1))
            h = max(0.0, min(ay2, by2) - max(ay1, by1))
            union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - w * h
            row.append(w * h / union if union > 0 else 0.0)
        out.append(row)
    import numpy as np
    return np.array(out, dtype=float).reshape(len(boxes1), len(boxes2))
"""
    assert_passes(check_code(IOU, code, tmp_path))


def test_the_box_iou_reference_matches_hand_worked_values():
    ref = checker("box_iou").reference
    square = torch.tensor([[0.0, 0, 4, 4]], dtype=torch.float64)
    others = torch.tensor(
        [
            [2, 2, 6, 6],  # a 2x2 overlap: 4 / (16 + 16 - 4)
            [1, 1, 3, 3],  # inside: 4 / 16
            [0, 0, 4, 4],  # identical
            [4, 0, 8, 4],  # touching edge
            [6, 6, 9, 9],  # disjoint in x and y
            [4, 4, 4, 4],  # a zero-area point on the corner
        ],
        dtype=torch.float64,
    )
    got = ref(torch, square, others)[0].tolist()
    assert got == pytest.approx([1 / 7, 0.25, 1.0, 0.0, 0.0, 0.0], abs=1e-15)
    point = torch.tensor([[3.0, 3, 3, 3]], dtype=torch.float64)
    assert ref(torch, point, point).item() == 0.0  # union 0: defined as 0, not nan
    assert ref(torch, square, torch.zeros(0, 4, dtype=torch.float64)).shape == (1, 0)


# -- nms -------------------------------------------------------------------------------

NMS = "impl-vis-nms"
NMS_TEMPLATE = """\
import numpy as np


def iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def nms(boxes, scores, iou_threshold):
    scores = np.asarray(scores)
    order = ORDER
    keep = []
    for pos, i in enumerate(order):
        rivals = RIVALS
        if all(iou(boxes[i], boxes[j]) COMPARE iou_threshold for j in rivals):
            keep.append(i)
    return keep
"""
NMS_RIGHT = {
    "ORDER": 'np.argsort(-scores, kind="stable")',
    "RIVALS": "keep",
    "COMPARE": "<=",
}


def nms_code(**changes) -> str:
    code = NMS_TEMPLATE
    for key, value in {**NMS_RIGHT, **changes}.items():
        code = code.replace(key, value)
    return code


def test_the_nms_template_is_right_when_unchanged(tmp_path):
    assert_passes(check_code(NMS, nms_code(), tmp_path))  # a list of numpy ints is accepted


def test_nms_without_the_sort_fails_with_its_hint(tmp_path):
    report = check_code(NMS, nms_code(ORDER="range(len(scores))"), tmp_path)
    assert_fails_first_at(report, "two clusters and a neighbour, threshold 0.5", "decreasing score")


def test_nms_suppressing_at_equality_fails_at_the_threshold_case(tmp_path):
    report = check_code(NMS, nms_code(COMPARE="<"), tmp_path)
    assert_fails_first_at(report, "IoU exactly at the threshold (0.25) is kept", "strictly")


def test_nms_against_every_earlier_box_fails_on_the_chain(tmp_path):
    report = check_code(NMS, nms_code(RIVALS="order[:pos]"), tmp_path)
    assert_fails_first_at(report, "chain: a suppressed box suppresses nothing", "already KEPT")


def test_nms_with_reversed_ties_fails_on_tied_scores(tmp_path):
    report = check_code(NMS, nms_code(ORDER="np.argsort(scores, kind='stable')[::-1]"), tmp_path)
    assert_fails_first_at(report, "tied scores: lower index first", "lower index first")


def test_the_nms_reference_matches_hand_worked_results():
    ref = checker("nms").reference
    boxes = torch.tensor(
        [[1, 1, 11, 11], [0, 0, 10, 10], [20, 20, 30, 30], [21, 19, 31, 29], [6, 0, 16, 10]],
        dtype=torch.float64,
    )
    scores = torch.tensor([0.75, 0.9, 0.8, 0.6, 0.7], dtype=torch.float64)
    assert ref(torch, boxes, scores, 0.5) == [1, 2, 4]  # as worked out in demos/nms.py
    assert ref(torch, boxes, scores, 0.2) == [1, 2]  # box 4 (IoU 0.25 with box 1) goes
    assert ref(torch, boxes, scores, 0.7) == [1, 2, 0, 4, 3]
    assert ref(torch, boxes, scores, 0.5, order="index") == [0, 2, 4]
    pair = torch.tensor([[0, 0, 10, 10], [6, 0, 16, 10]], dtype=torch.float64)  # IoU 40/160
    two = torch.tensor([0.9, 0.8], dtype=torch.float64)
    assert ref(torch, pair, two, 0.25) == [0, 1]  # equal to the threshold: kept
    assert ref(torch, pair, two, 0.25, at_threshold=True) == [0]
    chain = torch.tensor([[0, 0, 10, 10], [4, 0, 14, 10], [8, 0, 18, 10]], dtype=torch.float64)
    three = torch.tensor([0.9, 0.8, 0.7], dtype=torch.float64)
    assert ref(torch, chain, three, 0.3) == [0, 2]
    assert ref(torch, chain, three, 0.3, against="all") == [0]
    tied = torch.tensor([0.5, 0.5], dtype=torch.float64)
    same = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 10]], dtype=torch.float64)
    assert ref(torch, same, tied, 0.5) == [0]  # ties: lower index first
    assert ref(torch, same, tied, 1.0) == [0, 1]  # IoU 1 is not > 1


# -- receptive field -------------------------------------------------------------------

RF = "impl-vis-receptive-field"
RF_TEMPLATE = """\
def receptive_field(layers):
    field, jump = 1, 1
    for kernel, stride, dilation in layers:
        BEFORE
        field += GROWTH
        AFTER
    return field
"""


def rf_code(before="pass", growth="(kernel - 1) * dilation * jump", after="jump *= stride") -> str:
    return RF_TEMPLATE.replace("BEFORE", before).replace("GROWTH", growth).replace("AFTER", after)


def test_the_receptive_field_template_is_right_when_unchanged(tmp_path):
    assert_passes(check_code(RF, rf_code(), tmp_path))


def test_receptive_field_with_the_current_stride_fails_on_the_stem(tmp_path):
    report = check_code(RF, rf_code(before="jump *= stride", after="pass"), tmp_path)
    assert_fails_first_at(report, "strided stem: 7/2 conv, 3/2 pool, two 3x3", "BEFORE it")


def test_receptive_field_ignoring_dilation_fails_on_the_dilated_stack(tmp_path):
    report = check_code(RF, rf_code(growth="(kernel - 1) * jump"), tmp_path)
    assert_fails_first_at(report, "dilated 3x3s (dilation 1, 2, 4)", "d·(k − 1) + 1")


def test_receptive_field_with_a_k_times_d_kernel_fails_with_its_hint(tmp_path):
    report = check_code(RF, rf_code(growth="(kernel * dilation - 1) * jump"), tmp_path)
    assert_fails_first_at(report, "dilated 3x3s (dilation 1, 2, 4)", "not k·d")


def test_receptive_field_ignoring_strides_fails_on_the_stem(tmp_path):
    report = check_code(RF, rf_code(growth="(kernel - 1) * dilation"), tmp_path)
    assert_fails_first_at(report, "strided stem: 7/2 conv, 3/2 pool, two 3x3", "earlier strides")


STACKS = {
    (): 1,
    ((3, 1, 1),): 3,
    ((3, 1, 1),) * 3: 7,
    ((7, 2, 1), (3, 2, 1), (3, 1, 1), (3, 1, 1)): 27,  # 1 + 6 + 2·2 + 2·4 + 2·4
    ((3, 1, 1), (3, 1, 2), (3, 1, 4)): 15,  # 1 + 2 + 4 + 8
    ((3, 1, 1), (3, 1, 1), (3, 2, 1)): 7,  # the last stride does not count
    ((3, 2, 1), (3, 1, 2), (5, 2, 1), (3, 1, 3)): 43,  # 1 + 2 + 8 + 8 + 24
    ((2, 2, 1), (2, 2, 1), (3, 1, 1)): 12,  # 1 + 1 + 2 + 8
    ((1, 1, 1), (1, 2, 1)): 1,
}


@pytest.mark.parametrize("layers", sorted(STACKS, key=len))
def test_the_measured_receptive_field_is_the_formula_and_the_hand_value(layers):
    rf = checker("receptive_field")
    assert rf.measured(torch, list(layers)) == rf.formula(list(layers)) == STACKS[layers]


def test_measured_equals_formula_on_random_stacks():
    rf = checker("receptive_field")
    rng = np.random.default_rng(7)
    for _ in range(25):
        layers = [
            (
                int(rng.choice([1, 2, 3, 5, 7])),
                int(rng.choice([1, 2, 3])),
                int(rng.choice([1, 2, 3])),
            )
            for _ in range(int(rng.integers(1, 6)))
        ]
        assert rf.measured(torch, layers) == rf.formula(layers), layers


# -- attention -------------------------------------------------------------------------

ATT = "impl-vis-attention"
ATT_TEMPLATE = """\
import math

import torch


def attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) SCALE
    if mask is not None:
        scores = MASKED
    return SOFTMAX @ v
"""
ATT_RIGHT = {
    "SCALE": "/ math.sqrt(q.shape[-1])",
    "MASKED": "scores.masked_fill(~mask, float('-inf'))",
    "SOFTMAX": "torch.softmax(scores, dim=-1)",
}


def att_code(**changes) -> str:
    code = ATT_TEMPLATE
    for key, value in {**ATT_RIGHT, **changes}.items():
        code = code.replace(key, value)
    return code


def test_the_attention_template_is_right_when_unchanged(tmp_path):
    assert_passes(check_code(ATT, att_code(), tmp_path))


def test_attention_without_the_scale_fails_with_its_hint(tmp_path):
    report = check_code(ATT, att_code(SCALE=""), tmp_path)
    assert_fails_first_at(report, "a single sequence, L=S=5, d=8", "scale the scores by 1/√d")


def test_attention_scaled_by_one_over_d_fails_with_its_hint(tmp_path):
    report = check_code(ATT, att_code(SCALE="/ q.shape[-1]"), tmp_path)
    assert_fails_first_at(report, "a single sequence, L=S=5, d=8", "not 1/d")


def test_attention_softmax_over_the_queries_fails_with_its_hint(tmp_path):
    report = check_code(ATT, att_code(SOFTMAX="torch.softmax(scores, dim=-2)"), tmp_path)
    assert_fails_first_at(report, "a single sequence, L=S=5, d=8", "softmax over the last axis")


def test_attention_with_the_mask_inverted_fails_on_the_first_mask(tmp_path):
    report = check_code(ATT, att_code(MASKED="scores.masked_fill(mask, float('-inf'))"), tmp_path)
    assert_fails_first_at(
        report, "boolean mask (L, S), broadcast over batch and heads", "mask polarity"
    )


def test_attention_masking_scores_with_zero_fails_with_its_hint(tmp_path):
    report = check_code(ATT, att_code(MASKED="scores * mask"), tmp_path)
    assert_fails_first_at(report, "boolean mask (L, S), broadcast over batch and heads", "not 0")


def test_attention_with_a_naive_softmax_overflows_on_large_logits(tmp_path):
    naive = "(torch.exp(scores) / torch.exp(scores).sum(dim=-1, keepdim=True))"
    report = check_code(ATT, att_code(SOFTMAX=naive), tmp_path)
    assert_fails_first_at(report, "scores of ±1000 (large logits)", "subtract each row's max")


def test_attention_with_a_large_negative_fill_passes(tmp_path):
    assert_passes(check_code(ATT, att_code(MASKED="scores.masked_fill(~mask, -1e9)"), tmp_path))


def test_sdpa_is_the_hand_worked_formula():
    """The checker's reference, F.scaled_dot_product_attention, on a case worked by hand:
    one query, two keys with scores 0 and ln 3 after scaling: weights 1/4 and 3/4."""
    d = 4
    q = torch.tensor([[[1.0, 0, 0, 0]]], dtype=torch.float64)
    k = torch.tensor([[[0.0, 0, 0, 0], [2 * math.log(3), 0, 0, 0]]], dtype=torch.float64)
    v = torch.tensor([[[1.0], [5.0]]], dtype=torch.float64)
    assert math.sqrt(d) == 2
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    assert out.item() == pytest.approx(0.25 * 1 + 0.75 * 5, abs=1e-12)
    mask = torch.tensor([[True, False]])  # True = attend: only the first key
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert out.item() == pytest.approx(1.0, abs=1e-12)


# -- bug hunts: NMS ------------------------------------------------------------------------

UNSORTED = "bug-nms-unsorted"


def test_the_unsorted_nms_starter_fails_with_the_sort_hint(tmp_path):
    report = check_code(UNSORTED, card(UNSORTED).starter, tmp_path)
    assert_fails_first_at(report, "two clusters and a neighbour, threshold 0.5", "decreasing score")


def test_the_unsorted_nms_fixed_with_reversed_ties_fails(tmp_path):
    code = card(UNSORTED).solution.replace(
        'np.argsort(-scores, kind="stable")', "np.argsort(scores, kind='stable')[::-1]"
    )
    assert code != card(UNSORTED).solution
    report = check_code(UNSORTED, code, tmp_path)
    assert_fails_first_at(report, "tied scores: lower index first", "lower index first")


def test_the_unsorted_nms_fixed_by_sorting_the_output_only_fails(tmp_path):
    code = card(UNSORTED).starter.replace(
        "return np.array(keep, dtype=np.int64)",
        "return np.array(sorted(keep, key=lambda j: -scores[j]), dtype=np.int64)",
    )
    report = check_code(UNSORTED, code, tmp_path)
    assert_fails_first_at(report, "two clusters and a neighbour, threshold 0.5")


# -- bug hunts: evaluate ---------------------------------------------------------------

EVAL = "bug-loop-eval-mode"


def test_the_eval_mode_starter_fails_with_the_training_mode_hint(tmp_path):
    report = check_code(EVAL, card(EVAL).starter, tmp_path)
    assert_fails_first_at(report, "MLP (BatchNorm1d, Dropout): eval-mode output", "model.eval()")


def test_no_grad_without_eval_fails_with_the_training_mode_hint(tmp_path):
    code = """\
import torch


def evaluate(model, x):
    with torch.no_grad():  # the mistake: no_grad does not switch Dropout and BatchNorm
        return model(x)
"""
    report = check_code(EVAL, code, tmp_path)
    assert_fails_first_at(
        report, "MLP (BatchNorm1d, Dropout): eval-mode output", "does not switch modes"
    )


def test_eval_called_after_the_forward_pass_fails(tmp_path):
    code = """\
import torch


def evaluate(model, x):
    with torch.no_grad():
        out = model(x)
    model.eval()  # too late
    return out
"""
    report = check_code(EVAL, code, tmp_path)
    assert_fails_first_at(report, "MLP (BatchNorm1d, Dropout): eval-mode output", "training mode")


def test_eval_without_no_grad_fails_on_the_graph(tmp_path):
    code = """\
def evaluate(model, x):
    model.eval()
    return model(x)  # the mistake: a graph is built and returned
"""
    report = check_code(EVAL, code, tmp_path)
    assert_fails_first_at(report, "no autograd graph (requires_grad False)", "torch.no_grad()")


def test_train_false_with_inference_mode_passes(tmp_path):
    code = """\
import torch


def evaluate(model, x):
    was_training = model.training
    model.train(False)
    with torch.inference_mode():
        out = model(x)
    model.train(was_training)  # restoring the mode is allowed too
    return out
"""
    assert_passes(check_code(EVAL, code, tmp_path))


# -- bug hunts: the SGD loop -----------------------------------------------------------

ZERO = "bug-loop-zero-grad"
STEP = "bug-loop-step-before-backward"
LOOP = """\
import torch
from torch import nn


def train(model, data, steps, lr):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = LOSS
    BEFORE_LOOP
    for t in range(steps):
        x, y = data[t % len(data)]
        BODY
    return model
"""


def loop_code(body, loss="nn.MSELoss()", before_loop="pass") -> str:
    lines = "\n        ".join(body)
    return LOOP.replace("BODY", lines).replace("LOSS", loss).replace("BEFORE_LOOP", before_loop)


FORWARD = "loss = loss_fn(model(x), y)"


def test_the_zero_grad_starter_fails_with_the_accumulation_hint(tmp_path):
    report = check_code(ZERO, card(ZERO).starter, tmp_path)
    assert_fails_first_at(report, "linear model, 5 steps over 3 batches", "gradients accumulate")


def test_the_step_before_backward_starter_fails_with_the_no_update_hint(tmp_path):
    report = check_code(STEP, card(STEP).starter, tmp_path)
    assert_fails_first_at(report, "linear model, 1 step", "did not move")
    later = next(c for c in report.cases if c.name == "linear model, 5 steps over 3 batches")
    assert not later.passed and "previous batch's gradient" in later.hint


def test_zero_grad_once_before_the_loop_fails_with_the_accumulation_hint(tmp_path):
    code = loop_code(
        [FORWARD, "loss.backward()", "optimizer.step()"], before_loop="optimizer.zero_grad()"
    )
    report = check_code(ZERO, code, tmp_path)
    assert_fails_first_at(report, "linear model, 5 steps over 3 batches", "gradients accumulate")


def test_zero_grad_between_backward_and_step_fails_with_the_no_update_hint(tmp_path):
    code = loop_code([FORWARD, "loss.backward()", "optimizer.zero_grad()", "optimizer.step()"])
    report = check_code(ZERO, code, tmp_path)
    assert_fails_first_at(report, "linear model, 1 step", "did not move")


def test_a_summed_loss_fails_at_the_first_step(tmp_path):
    code = loop_code(
        ["optimizer.zero_grad()", FORWARD, "loss.backward()", "optimizer.step()"],
        loss="nn.MSELoss(reduction='sum')",
    )
    report = check_code(STEP, code, tmp_path)
    assert_fails_first_at(report, "linear model, 1 step")


def test_step_moved_after_backward_but_zero_grad_left_between_fails(tmp_path):
    """A half fix of the step-before-backward starter: backward, zero_grad, step."""
    code = loop_code([FORWARD, "loss.backward()", "optimizer.zero_grad()", "optimizer.step()"])
    report = check_code(STEP, code, tmp_path)
    assert_fails_first_at(report, "linear model, 1 step", "did not move")


@pytest.mark.parametrize(
    "body",
    [
        [FORWARD, "loss.backward()", "optimizer.step()", "optimizer.zero_grad()"],
        ["model.zero_grad()", FORWARD, "loss.backward()", "optimizer.step()"],
    ],
    ids=["zero_grad after step", "model.zero_grad"],
)
def test_other_correct_orders_pass(body, tmp_path):
    assert_passes(check_code(ZERO, loop_code(body), tmp_path))
    assert_passes(check_code(STEP, loop_code(body), tmp_path))


def test_the_sgd_reference_loop_is_hand_computed_sgd():
    """One step on Linear(1, 1) with MSE: w ← w − lr·2·mean((wx + b − y)·x), by hand."""
    loop = checker("sgd_train_loop")
    model = torch.nn.Linear(1, 1).double()
    with torch.no_grad():
        model.weight.fill_(0.5)
        model.bias.fill_(-1.0)
    x = torch.tensor([[1.0], [2.0], [3.0]], dtype=torch.float64)
    y = torch.tensor([[1.0], [0.0], [2.0]], dtype=torch.float64)
    loop.reference_loop(torch, model, [(x, y)], 1, 0.1)
    r = [0.5 * 1 - 1 - 1, 0.5 * 2 - 1 - 0, 0.5 * 3 - 1 - 2]  # residuals -1.5, 0, -1.5
    grad_w = 2 * (r[0] * 1 + r[1] * 2 + r[2] * 3) / 3  # -4
    grad_b = 2 * sum(r) / 3  # -2
    assert model.weight.item() == pytest.approx(0.5 - 0.1 * grad_w, abs=1e-14)
    assert model.bias.item() == pytest.approx(-1.0 - 0.1 * grad_b, abs=1e-14)


# Found by probing the checkers with a candidate's slips (each once passed): inputs
# changed in place, an empty first set, a zero union left to 0/0, and a mask that
# assumes batch dimensions.
def _swap(card_id: str, old: str, new: str) -> str:
    text = card(card_id).solution
    assert old in text, old
    return text.replace(old, new)


PROBED = [
    (
        "impl-vis-box-iou",
        _swap(
            "impl-vis-box-iou",
            "    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])\n",
            "    given = np.asarray(boxes1)  # the caller's own array\n"
            "    given[:, 2:] -= given[:, :2]  # widths and heights, in place\n"
            "    area_a = given[:, 2] * given[:, 3]\n",
        ),
        "nested boxes",  # the first boxes1 whose corner is not at the origin
    ),
    (
        "impl-vis-box-iou",
        _swap(
            "impl-vis-box-iou",
            "    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)\n",
            "    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)\n"
            "    return np.array([[iou[i, j] for j in range(len(b))] for i in range(len(a))])\n",
        ),
        "no boxes on one side (M=0, then N=0)",
    ),
    (
        "impl-vis-nms",
        _swap(
            "impl-vis-nms",
            "np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)",
            "inter / union",
        ),
        "a box and two identical zero-area boxes (IoU 0: all kept)",
    ),
    (
        "impl-vis-attention",
        _swap(
            "impl-vis-attention",
            "    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])",
            "    q /= math.sqrt(q.shape[-1])  # in place\n    scores = q @ k.transpose(-2, -1)",
        ),
        "a single sequence, L=S=5, d=8",
    ),
    (
        "impl-vis-attention",
        _swap(
            "impl-vis-attention",
            "    if mask is not None:\n",
            "    if mask is not None:\n        if mask.dim() == 2:\n            mask = mask[None, None]\n",
        ),
        "no batch dimensions: q (4, 8), k and v (3, ·), mask (4, 3)",
    ),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 0/0 in the unguarded IoU
@pytest.mark.parametrize("card_id, text, case", PROBED, ids=[f"{c}: {w}" for c, _, w in PROBED])
def test_a_probed_slip_fails_at_its_case(card_id, text, case, tmp_path):
    report = check_code(card_id, text, tmp_path)
    assert_fails_first_at(report, case)
    if "in place" in text:
        assert "was modified in place" in report.first_failure.got
