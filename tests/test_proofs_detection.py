"""The detection proofs hold on CPU, and their key numbers match values computed here.

Every expected number is recomputed in this file, in pure Python (fractions where the
value is rational) or numpy, independently of the proofs' own reference code: box
overlaps by formula and by counting unit cells, NMS and Soft-NMS by a separate loop,
AP from exact fractions, RoI Pool cells by integer arithmetic. The numeric cards of
the detection topic must accept exactly these numbers, and the three generators are
checked against the same independent computations.
"""

from __future__ import annotations

import math
import random
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import yaml

from quizcnn.generators import draw

DETECTION_PROOFS = ["iou_giou", "nms", "average_precision", "roi_align"]
BANK = Path(__file__).resolve().parent.parent / "questions" / "detection.yaml"


@pytest.fixture(scope="module")
def results(proof_result):
    return {name: proof_result(name) for name in DETECTION_PROOFS}


@pytest.fixture(scope="module")
def cards():
    return {c["id"]: c for c in yaml.safe_load(BANK.read_text(encoding="utf-8"))["cards"]}


def table(result, title_start):
    for t in result.tables:
        if t.title.startswith(title_start):
            return t
    raise KeyError(title_start)


# -- independent box arithmetic ---------------------------------------------------


def iou_frac(a, b):
    """Exact IoU and GIoU of two boxes with integer coordinates."""
    a, b = [Fraction(v) for v in a], [Fraction(v) for v in b]
    iw = max(min(a[2], b[2]) - max(a[0], b[0]), 0)
    ih = max(min(a[3], b[3]) - max(a[1], b[1]), 0)
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    c = (max(a[2], b[2]) - min(a[0], b[0])) * (max(a[3], b[3]) - min(a[1], b[1]))
    return inter / union, inter / union - (c - union) / c


def iou_by_cells(a, b, size=32):
    """IoU of integer boxes by counting the unit cells each covers (no formula)."""
    grid_a = np.zeros((size, size), bool)
    grid_b = np.zeros((size, size), bool)
    grid_a[a[1] : a[3], a[0] : a[2]] = True
    grid_b[b[1] : b[3], b[0] : b[2]] = True
    inter, union = (grid_a & grid_b).sum(), (grid_a | grid_b).sum()
    ys, xs = np.nonzero(grid_a | grid_b)
    c = (xs.max() - xs.min() + 1) * (ys.max() - ys.min() + 1)
    return inter / union, inter / union - (c - union) / c


def giou_float(a, b):
    iw = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0)
    ih = max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    c = (max(a[2], b[2]) - min(a[0], b[0])) * (max(a[3], b[3]) - min(a[1], b[1]))
    return inter / union, inter / union - (c - union) / c


# -- iou_giou ---------------------------------------------------------------------


def test_hand_placed_overlaps(results):
    r = results["iou_giou"]
    iou, giou = iou_frac((0, 0, 4, 4), (2, 2, 6, 6))
    assert iou == Fraction(1, 7)
    assert r.claim("iou_overlap_hand").measured == pytest.approx(float(iou), abs=1e-15)
    assert r.claim("giou_overlap_hand").measured == pytest.approx(float(giou), abs=1e-15)
    assert giou < 0  # overlapping, yet negative
    assert r.claim("giou_disjoint_hand").measured == pytest.approx(
        float(iou_frac((0, 0, 2, 2), (4, 0, 6, 2))[1]), abs=1e-15
    )
    assert r.claim("giou_far_apart_near_minus_one").measured == pytest.approx(
        float(iou_frac((0, 0, 2, 2), (100, 0, 102, 2))[1]), abs=1e-15
    )
    nested = iou_frac((0, 0, 10, 10), (2, 2, 6, 6))
    assert nested[0] == nested[1] == Fraction(16, 100)
    rows = {row[0]: row for row in table(r, "IoU and GIoU of hand-placed").rows}
    for name, row in rows.items():
        exact = iou_frac(row[1], row[2])
        assert row[3] == pytest.approx(float(exact[0]), abs=1e-6), name
        assert row[4] == pytest.approx(float(exact[1]), abs=1e-6), name


def test_giou_gradient_at_the_disjoint_start(results):
    """d(1 - GIoU)/dx for pred (0,0,2,2), target (4,0,6,2): GIoU = U/C - 1 with
    U = 4 + (x2 - x1)(y2 - y1) and C = (6 - x1)(y2 - y1), so dL/dx1 = 8/144, dL/dx2 = -1/6."""
    r = results["iou_giou"]
    rows = {row[0]: row for row in table(r, "Gradient descent from a disjoint start").rows}
    assert rows["1 - IoU"][1] == [0.0, 0.0, 0.0, 0.0]
    assert rows["1 - GIoU"][1] == pytest.approx([8 / 144, 0.0, -1 / 6, 0.0], abs=1e-4)
    # The same numbers by central differences on a float GIoU written here.
    start, target, h = [0.0, 0.0, 2.0, 2.0], (4.0, 0.0, 6.0, 2.0), 1e-6
    grad = []
    for i in range(4):
        up, down = list(start), list(start)
        up[i] += h
        down[i] -= h
        grad.append(-(giou_float(up, target)[1] - giou_float(down, target)[1]) / (2 * h))
    assert grad == pytest.approx([8 / 144, 0.0, -1 / 6, 0.0], abs=1e-6)
    assert r.claim("giou_loss_grad_nonzero_disjoint").measured == pytest.approx(
        math.hypot(8 / 144, 1 / 6), rel=1e-9
    )
    assert r.claim("iou_loss_grad_zero_disjoint").measured == 0.0


def test_giou_descent_matches_a_finite_difference_descent(results):
    """300 steps of lr 0.5 on 1 - GIoU with numerical gradients. Up to the first overlap the
    loss is smooth and both runs agree step for step; later the path crosses the kinks of
    min/max, where subgradient conventions differ, so only the outcome is compared."""
    pred, target, h = [0.0, 0.0, 2.0, 2.0], (4.0, 0.0, 6.0, 2.0), 1e-7
    first, widest = None, 0.0
    for step in range(300):
        iou = giou_float(pred, target)[0]
        if first is None and iou > 0:
            first = step
        widest = max(widest, pred[2] - pred[0])
        grad = []
        for i in range(4):
            up, down = list(pred), list(pred)
            up[i] += h
            down[i] -= h
            grad.append(-(giou_float(up, target)[1] - giou_float(down, target)[1]) / (2 * h))
        pred = [p - 0.5 * g for p, g in zip(pred, grad, strict=True)]
    r = results["iou_giou"]
    row = {row[0]: row for row in table(r, "Gradient descent from a disjoint start").rows}[
        "1 - GIoU"
    ]
    assert row[2] == first == 26
    assert row[3] > 5 and widest > 5  # both widen the box to span the target first
    # ... and then shrink it back towards the target's width 2 (the card's "1.8").
    assert row[5] == pytest.approx(r.claim("giou_box_shrinks_back").measured, abs=1e-3)
    assert row[5] < 2.5 and pred[2] - pred[0] < 2.5
    assert r.claim("giou_loss_reaches_overlap").measured > 0.7
    assert giou_float(pred, target)[0] > 0.7


def test_anchor_numbers(results):
    r = results["iou_giou"]
    assert r.claim("anchor_count").measured == 50 * 38 * 9
    assert r.claim("log_width_value").measured == pytest.approx(math.log(2), abs=1e-15)
    # Best IoU of the 32x320 box over all anchors, recomputed with numpy.
    cy, cx = np.meshgrid((np.arange(38) + 0.5) * 16, (np.arange(50) + 0.5) * 16, indexing="ij")
    best = 0.0
    for s in (128, 256, 512):
        for ratio in (0.5, 1.0, 2.0):
            w, h = s / math.sqrt(ratio), s * math.sqrt(ratio)
            x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
            iw = np.clip(np.minimum(x2, 632) - np.maximum(x1, 600), 0, None)
            ih = np.clip(np.minimum(y2, 420) - np.maximum(y1, 100), 0, None)
            inter = iw * ih
            best = max(best, (inter / (w * h + 32 * 320 - inter)).max())
    assert r.claim("thin_box_no_anchor_above_07").measured == pytest.approx(best, abs=1e-12)
    assert best < 0.7
    positives = table(r, "RPN anchor labels").rows[0][0]
    assert positives >= 2  # at least the best anchor of each ground truth


# -- nms --------------------------------------------------------------------------

BOXES = [(1, 1, 11, 11), (0, 0, 10, 10), (20, 20, 30, 30), (21, 19, 31, 29), (6, 0, 16, 10)]
SCORES = [0.75, 0.90, 0.80, 0.60, 0.70]


def nms_here(threshold, order=None):
    order = sorted(range(5), key=lambda i: -SCORES[i]) if order is None else order
    keep, dead = [], set()
    for i in order:
        if i in dead:
            continue
        keep.append(i)
        dead |= {j for j in order if j not in keep and iou_frac(BOXES[i], BOXES[j])[0] > threshold}
    return keep


def soft_here(gaussian):
    s, left, out = dict(enumerate(SCORES)), set(range(5)), {}
    while left:
        m = max(left, key=lambda k: s[k])
        out[m] = s[m]
        left.remove(m)
        for j in left:
            o = float(iou_frac(BOXES[m], BOXES[j])[0])
            if gaussian:
                s[j] *= math.exp(-o * o / 0.5)
            elif o > 0.3:  # the authors' cpu_soft_nms tests ov > Nt
                s[j] *= 1 - o
    return out


def test_nms_keeps_the_hand_worked_indices(results):
    r = results["nms"]
    assert iou_frac(BOXES[0], BOXES[1])[0] == Fraction(81, 119)
    assert r.claim("iou_0_1").measured == pytest.approx(81 / 119, abs=1e-15)
    assert r.claim("iou_1_4").measured == pytest.approx(0.25, abs=1e-15)
    rows = {row[0]: row[1] for row in table(r, "Greedy NMS on the five boxes").rows}
    for t in (0.2, 0.3, 0.5, 0.7):
        assert rows[t] == nms_here(t), t
    assert rows[0.5] == [1, 2, 4]
    assert rows["0.5, unsorted"] == nms_here(0.5, order=list(range(5))) == [0, 2, 4]


def test_soft_nms_scores(results):
    r = results["nms"]
    linear, gauss = soft_here(False), soft_here(True)
    assert r.claim("soft_linear_box0").measured == pytest.approx(linear[0], abs=1e-12)
    assert r.claim("soft_linear_box3").measured == pytest.approx(linear[3], abs=1e-12)
    assert r.claim("soft_gauss_box4").measured == pytest.approx(gauss[4], abs=1e-12)
    assert r.claim("soft_gauss_box0").measured == pytest.approx(gauss[0], abs=1e-12)
    rows = {row[0]: row for row in table(r, "Soft-NMS").rows}
    assert rows["linear, Nt 0.3"][1] == list(linear)
    assert rows["Gaussian, σ 0.5"][1] == list(gauss)
    assert rows["Gaussian, σ 0.5"][2] == [round(v, 4) for v in gauss.values()]


def test_per_class_nms(results):
    r = results["nms"]
    # Box 4 alone in its class survives whatever the threshold; boxes 0/1 and 2/3 pair up.
    assert r.claim("per_class_keeps_other_class").passed
    assert 4 not in nms_here(0.2)


# -- average_precision ------------------------------------------------------------


def ap_exact(flags, n_gt, levels=None):
    tp, prec, rec = 0, [], []
    for n, f in enumerate(flags, 1):
        tp += f
        prec.append(Fraction(tp, n))
        rec.append(Fraction(tp, n_gt))

    def interp(r):
        vals = [p for p, q in zip(prec, rec, strict=True) if q >= r]
        return max(vals) if vals else Fraction(0)

    if levels is None:  # all-point: sum over recall steps
        total, last = Fraction(0), Fraction(0)
        for q in sorted(set(rec)):
            total += (q - last) * interp(q)
            last = q
        return total
    return sum(interp(r) for r in levels) / len(levels)


def test_ap_of_the_ranked_list(results):
    r = results["average_precision"]
    flags = [1, 0, 1, 0, 0, 1]
    eleven = [Fraction(i, 10) for i in range(11)]
    hundred = [Fraction(i, 100) for i in range(101)]
    assert ap_exact(flags, 4) == Fraction(13, 24)
    assert ap_exact(flags, 4, eleven) == Fraction(6, 11)
    assert r.claim("ap_all_point").measured == pytest.approx(13 / 24, abs=1e-15)
    assert r.claim("ap_11_point").measured == pytest.approx(6 / 11, abs=1e-15)
    assert r.claim("ap_101_point").measured == pytest.approx(
        float(ap_exact(flags, 4, hundred)), abs=1e-15
    )
    assert r.claim("coco_code_matches_101").measured == pytest.approx(
        float(ap_exact(flags, 4, hundred)), abs=1e-15
    )
    assert r.claim("matched_ap").measured == pytest.approx(
        float(ap_exact([1, 0, 1, 0, 1], 3)), abs=1e-15
    )


def voc_flags(dets, gts, threshold):
    """VOC devkit rule: each detection (by score) takes its best-overlapping ground truth,
    matched or not; a taken one, or an overlap not above the threshold, is a false positive."""
    taken, flags = set(), []
    for img, _, box in sorted(dets, key=lambda d: -d[1]):
        ious = [iou_frac(box, g)[0] for g in gts.get(img, [])]
        best = max(range(len(ious)), key=ious.__getitem__) if ious else None
        ok = best is not None and ious[best] > threshold and (img, best) not in taken
        if ok:
            taken.add((img, best))
        flags.append(ok)
    return flags


def test_matching_rules_agree_on_the_proof_lists(results):
    """The proof matches COCO-style (best unmatched ground truth); on its list the VOC
    devkit's rule gives the same flags, as its docstring says."""
    gt = {"img1": [(0, 0, 10, 10), (20, 0, 30, 10)], "img2": [(0, 0, 10, 10)]}
    dets = [
        ("img1", 0.95, (0, 0, 10, 10)),
        ("img1", 0.90, (1, 0, 11, 10)),
        ("img2", 0.80, (0, 0, 10, 9)),
        ("img1", 0.70, (40, 0, 50, 10)),
        ("img1", 0.60, (21, 0, 31, 10)),
    ]
    assert voc_flags(dets, gt, 0.5) == [True, False, True, False, True]
    assert results["average_precision"].claim("duplicate_is_false_positive").passed


def test_coco_ap_over_thresholds(results):
    r = results["average_precision"]
    hundred = [Fraction(i, 100) for i in range(101)]
    ious = [(10 - d) / (10 + d) for d in (0.4, 1.6, 2.8)]
    per_t = []
    for k in range(10):
        t = 0.5 + 0.05 * k
        flags = [int(o >= t - 1e-12) for o in ious]
        per_t.append(ap_exact(flags, 3, hundred))
    mean = sum(per_t) / 10
    assert mean == Fraction(539, 1010)
    assert r.claim("coco_ap_mean").measured == pytest.approx(float(mean), abs=1e-15)
    rows = table(r, "COCO-style AP").rows
    assert [row[2] for row in rows] == [round(float(a), 6) for a in per_t]
    assert [row[1] for row in rows] == [3, 3, 2, 2, 2, 1, 1, 1, 1, 0]


# -- roi_align --------------------------------------------------------------------


def test_roi_align_and_roi_pool_values(results):
    r = results["roi_align"]
    x1, y1, x2, y2 = (v / 16 for v in (36.8, 57.6, 145.6, 139.2))
    bw, bh = (x2 - x1) / 2, (y2 - y1) / 2
    exact = [
        x1 + (px + 0.5) * bw + 10 * (y1 + (py + 0.5) * bh) for py in range(2) for px in range(2)
    ]
    rows = {row[0]: row[1:] for row in table(r, "Box (36.8").rows}
    assert rows["exact F(bin centre)"] == pytest.approx(exact, abs=1e-4)
    assert rows["RoI Align (grid_sample)"] == pytest.approx(exact, abs=1e-4)
    # RoI Pool: round the box, bins of whole cells, the ramp's max is the last cell of each bin.
    qx1, qy1, qx2, qy2 = (math.floor(v + 0.5) for v in (x1, y1, x2, y2))
    assert (qx1, qy1, qx2, qy2) == (2, 4, 9, 9)
    bin_w, bin_h = (qx2 - qx1 + 1) / 2, (qy2 - qy1 + 1) / 2
    cols = [range(qx1 + math.floor(p * bin_w), qx1 + math.ceil((p + 1) * bin_w)) for p in range(2)]
    rws = [range(qy1 + math.floor(p * bin_h), qy1 + math.ceil((p + 1) * bin_h)) for p in range(2)]
    pool_max = [max(rw) * 10 + max(c) for rw in rws for c in cols]
    pool_avg = [np.mean(rw) * 10 + np.mean(c) for rw in rws for c in cols]
    assert rows["RoI Pool, max"] == pool_max == [65, 69, 95, 99]
    assert rows["RoI Pool, average"] == pytest.approx(pool_avg, abs=1e-12)
    assert r.claim("pool_avg_error").measured == pytest.approx(
        np.mean(np.abs(np.array(pool_avg) - exact)), abs=1e-10
    )
    centres_x = [x1 + (p + 0.5) * bw for p in range(2)]
    centres_y = [y1 + (p + 0.5) * bh for p in range(2)]
    offset = max(
        max(abs(np.mean(c) - cx) for c, cx in zip(cols, centres_x, strict=True)),
        max(abs(np.mean(rw) - cy) for rw, cy in zip(rws, centres_y, strict=True)),
    )
    assert r.claim("pool_max_displacement").measured == pytest.approx(offset, abs=1e-10)
    assert r.claim("pool_displacement_in_pixels").measured == pytest.approx(16 * offset, abs=1e-8)
    # aligned=True samples half a cell up and left: F drops by 0.5·1 + 0.5·10.
    assert rows["RoI Align, aligned=True"] == pytest.approx([v - 5.5 for v in exact], abs=1e-4)


def test_fpn_levels_and_stride_table(results):
    r = results["roi_align"]

    def level(w, h):
        return min(max(math.floor(4 + math.log2(math.sqrt(w * h) / 224)), 2), 5)

    assert [
        level(*s) for s in [(224, 224), (112, 112), (448, 448), (32, 32), (896, 896), (150, 90)]
    ] == [
        4,
        3,
        5,
        2,
        5,
        3,
    ]
    assert r.claim("fpn_levels").passed
    rows = {row[0]: row[2] for row in table(r, "RoI Pool's mean bin-centre offset").rows}
    assert r.claim("stride32_offset_larger").measured == pytest.approx(
        rows[32] / rows[16], rel=1e-3
    )


# -- the numeric cards accept the proofs' numbers -----------------------------------


def test_numeric_cards_match_the_proofs(results, cards):
    def accepts(card_id, number):
        card = cards[card_id]
        return abs(number - card["value"]) <= card["tolerance"]

    assert accepts(
        "det-giou-disjoint-value", results["iou_giou"].claim("giou_disjoint_hand").measured
    )
    assert accepts("det-soft-nms-gaussian-value", results["nms"].claim("soft_gauss_box4").measured)
    assert accepts(
        "det-ap-11-point-value", results["average_precision"].claim("ap_11_point").measured
    )
    # ... and rejects the values of the other two interpolation rules for the same list.
    flags = [1, 0, 1, 0, 0, 1]
    assert not accepts("det-ap-11-point-value", float(ap_exact(flags, 4)))
    hundred = [Fraction(i, 100) for i in range(101)]
    assert not accepts("det-ap-11-point-value", float(ap_exact(flags, 4, hundred)))
    assert accepts("det-ap-11-point-value", 0.545)
    # the question asks for three decimals: the other two rules' values, so rounded
    assert not accepts("det-ap-11-point-value", 0.542)
    assert not accepts("det-ap-11-point-value", 0.546)
    coco_rows = table(results["average_precision"], "COCO-style AP").rows
    assert accepts("det-coco-thresholds-count", sum(1 for row in coco_rows if row[0] <= 0.72))
    assert accepts("det-roi-pool-shift", (36.8 / 16 - round(36.8 / 16)) * 16)
    assert accepts("det-yolo-output-size", 7 * 7 * (2 * 5 + 20))


# -- generators -------------------------------------------------------------------

BOX_RE = re.compile(r"A = \((\d+), (\d+), (\d+), (\d+)\) and B = \((\d+), (\d+), (\d+), (\d+)\)")


@pytest.mark.parametrize("seed", range(40))
def test_box_iou_generator_against_cell_counting(seed):
    drawn = draw("box_iou", random.Random(seed))
    nums = [int(v) for v in BOX_RE.search(drawn.question).groups()]
    iou, giou = iou_by_cells(nums[:4], nums[4:])
    expected = giou if "GIoU" in drawn.question else iou
    assert drawn.value == pytest.approx(expected, abs=1e-12)
    assert drawn.tolerance < 0.01
    if "GIoU" not in drawn.question:
        assert drawn.value > 0  # IoU questions use overlapping boxes


def test_anchor_count_generator_against_torch_meshgrid():
    torch = pytest.importorskip("torch")
    rng = random.Random(5)
    seen = set()
    for _ in range(60):
        drawn = draw("anchor_count", rng)
        q = drawn.question
        if q.startswith("An RPN"):
            fw, fh = map(int, re.search(r"the (\d+)x(\d+) stride-16", q).groups())
            width, height = map(int, re.search(r"of a (\d+)x(\d+) image", q).groups())
            scales, ratios = map(
                int, re.search(r"with (\d+) anchor scales and (\d+) aspect", q).groups()
            )
            # The map a stride-16 network would produce, measured with a pooling layer.
            fmap = torch.nn.functional.avg_pool2d(torch.zeros(1, 1, height, width), 16)
            assert fmap.shape[-2:] == (fh, fw)
            ys, xs = torch.meshgrid(torch.arange(fh), torch.arange(fw), indexing="ij")
            expected = ys.numel() * scales * ratios
            seen.add("rpn")
        else:
            side = int(re.search(r"on a (\d+)x\1 image", q).group(1))
            first, last = map(int, re.search(r"levels P(\d)-P(\d)", q).groups())
            per = int(re.search(r"with (\d+) anchors per position", q).group(1))
            x = torch.zeros(1, 1, side, side)
            expected = 0
            for lv in range(first, last + 1):
                expected += torch.nn.functional.avg_pool2d(x, 2**lv)[0, 0].numel() * per
            seen.add("pyramid")
        assert drawn.value == expected
    assert seen == {"rpn", "pyramid"}


def test_fpn_level_generator_against_log2():
    rng = random.Random(11)
    for _ in range(200):
        drawn = draw("fpn_level", rng)
        w, h = map(int, re.search(r"pools a (\d+)x(\d+) RoI", drawn.question).groups())
        raw = 4 + math.log2(math.sqrt(w * h) / 224)
        if abs(raw - round(raw)) > 1e-9:  # off a level boundary floats are safe
            assert drawn.value == min(max(math.floor(raw), 2), 5)
    from quizcnn.generators.detection import fpn_level

    # On the boundaries the generator's integer arithmetic must land on the right side.
    assert [fpn_level(224, 224), fpn_level(112, 112), fpn_level(448, 448), fpn_level(224, 56)] == [
        4,
        3,
        5,
        3,
    ]
    assert [fpn_level(223, 224), fpn_level(16, 16), fpn_level(2000, 2000)] == [3, 2, 5]


@pytest.mark.parametrize("name", ["box_iou", "anchor_count", "fpn_level"])
def test_detection_generators_are_deterministic_and_vary(name):
    assert draw(name, random.Random(3)) == draw(name, random.Random(3))
    questions = {draw(name, random.Random(seed)).question for seed in range(30)}
    assert len(questions) > 5
    drawn = draw(name, random.Random(0))
    assert drawn.question.endswith("?")
    assert drawn.working
