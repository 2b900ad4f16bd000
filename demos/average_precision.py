"""Average precision: matching, the precision/recall curve, VOC and COCO interpolation

A small reference implementation checked against values worked out by hand
(IoUs in torch on the chosen device; the bookkeeping is plain Python/numpy).

- Matching: detections of one class are taken in decreasing score order; each
  is a true positive if some not-yet-matched ground truth overlaps it with
  IoU ≥ the threshold (it takes the best such one: pycocotools' rule),
  otherwise a false positive. So a second box on an already-found object
  counts as a false positive, and each ground truth is matched at most once.
  (The VOC devkit differs in one detail: it takes the best-overlapping ground
  truth, matched or not, and a match to a taken one is a false positive. The
  lists here give the same flags under both rules.)
- A ranked list T F T F F T with 4 ground-truth objects (one never found) has
  precision 1, 2/3, 1/2 at recall 1/4, 2/4, 3/4. Its AP is
  * all-point (VOC 2010 onwards): 1/4·(1 + 2/3 + 1/2) = 0.5417,
  * 11-point (VOC 2007): (3·1 + 3·2/3 + 2·1/2) / 11 = 6/11 = 0.5455,
  * 101-point (COCO): (26·1 + 25·2/3 + 25·1/2) / 101 = 0.5462.
  Interpolation takes, at each recall level r, the best precision at any
  recall ≥ r.
- COCO's AP averages this over 10 IoU thresholds 0.50, 0.55, …, 0.95: three
  detections with IoU 0.923, 0.724 and 0.5625 give AP 1 at thresholds 0.50
  and 0.55, 67/101 at 0.60-0.70, 34/101 at 0.75-0.90 and 0 at 0.95, mean
  539/1010 = 0.5337, although AP50 is a perfect 1.
"""

import numpy as np

from quizcnn.proofkit import Proof, main


def iou_matrix(proof, a, b):
    """IoU between box lists a and b, computed with torch on the proof's device."""
    torch = proof.torch
    a = torch.tensor(a, dtype=proof.float64, device=proof.device).reshape(-1, 4)
    b = torch.tensor(b, dtype=proof.float64, device=proof.device).reshape(-1, 4)
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return (inter / (area_a[:, None] + area_b[None, :] - inter)).cpu().numpy()


def match(proof, detections, ground_truth, threshold):
    """detections: list of (image, score, box); ground_truth: {image: [boxes]}.
    Returns the TP/FP flags in decreasing score order (COCO rule: IoU ≥ threshold)."""
    order = sorted(range(len(detections)), key=lambda i: -detections[i][1])
    used = {img: [False] * len(boxes) for img, boxes in ground_truth.items()}
    flags = []
    for i in order:
        img, _, box = detections[i]
        gts = ground_truth.get(img, [])
        best, best_iou = -1, threshold
        if gts:
            ious = iou_matrix(proof, [box], gts)[0]
            for g, o in enumerate(ious):
                if not used[img][g] and o >= best_iou:  # an unmatched GT, best overlap
                    best, best_iou = g, o
        if best >= 0:
            used[img][best] = True
            flags.append(True)
        else:
            flags.append(False)
    return flags


def pr_curve(flags, n_gt):
    tp = np.cumsum(flags)
    fp = np.cumsum(~np.asarray(flags))
    return tp / n_gt, tp / (tp + fp)


def ap_all_points(recall, precision):
    """VOC 2010+: area under the interpolated (monotone) precision/recall curve."""
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    for i in range(len(p) - 2, -1, -1):
        p[i] = max(p[i], p[i + 1])
    steps = np.nonzero(r[1:] != r[:-1])[0]
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def ap_sampled(recall, precision, levels):
    """Mean interpolated precision at the given recall levels (11 for VOC 2007, 101 for COCO)."""
    return float(
        np.mean([precision[recall >= t].max() if (recall >= t).any() else 0.0 for t in levels])
    )


def ap_coco_style(recall, precision):
    """pycocotools' accumulate(): monotone precision, searchsorted at linspace(0, 1, 101)."""
    p = precision.copy()
    for i in range(len(p) - 1, 0, -1):
        p[i - 1] = max(p[i - 1], p[i])
    thresholds = np.linspace(0.0, 1.0, 101)
    idx = np.searchsorted(recall, thresholds, side="left")
    return float(np.mean([p[i] if i < len(p) else 0.0 for i in idx]))


ELEVEN = np.linspace(0.0, 1.0, 11)
HUNDRED_ONE = np.linspace(0.0, 1.0, 101)


def run(proof: Proof) -> None:
    ranked_list(proof)
    matching_rules(proof)
    coco_thresholds(proof)


def ranked_list(proof: Proof) -> None:
    flags = [True, False, True, False, False, True]
    recall, precision = pr_curve(flags, n_gt=4)
    proof.table(
        "A ranked list with 4 ground-truth objects",
        ["rank", "TP?", "precision", "recall"],
        [
            [i + 1, "T" if f else "F", round(p, 4), r]
            for i, (f, p, r) in enumerate(zip(flags, precision, recall, strict=True))
        ],
    )
    all_point = ap_all_points(recall, precision)
    eleven = ap_sampled(recall, precision, ELEVEN)
    hundred = ap_sampled(recall, precision, HUNDRED_ONE)
    proof.close(
        "ap_all_point",
        "all-point AP (VOC 2010+): (1 + 2/3 + 1/2) / 4",
        all_point,
        (1 + 2 / 3 + 0.5) / 4,
        1e-12,
    )
    proof.close(
        "ap_11_point", "11-point AP (VOC 2007): (3·1 + 3·2/3 + 2·1/2) / 11", eleven, 6 / 11, 1e-12
    )
    proof.close(
        "ap_101_point",
        "101-point AP (COCO): (26·1 + 25·2/3 + 25·1/2) / 101",
        hundred,
        (26 + 50 / 3 + 12.5) / 101,
        1e-12,
    )
    proof.close(
        "coco_code_matches_101",
        "pycocotools-style searchsorted on linspace(0, 1, 101) gives the same 101-point AP",
        ap_coco_style(recall, precision),
        hundred,
        1e-12,
    )
    # Interpolation matters when precision rises again: T F F T T with 3 objects.
    flags2 = [True, False, False, True, True]
    r2, p2 = pr_curve(flags2, n_gt=3)
    raw = float(np.sum(np.diff(np.concatenate([[0.0], r2])) * p2))  # Σ ΔR·P, no envelope
    proof.close(
        "interpolation_lifts_dip",
        "T F F T T, 3 objects: interpolated all-point AP (1 + 0.6 + 0.6)/3 vs raw Σ ΔR·P",
        ap_all_points(r2, p2) - raw,
        (1 + 0.6 + 0.6) / 3 - (1 + 0.5 + 0.6) / 3,
        1e-12,
    )
    proof.table(
        "AP of the list T F T F F T (4 objects) by interpolation rule",
        ["rule", "AP"],
        [
            ["all-point (VOC 2010-2012)", round(all_point, 6)],
            ["11-point (VOC 2007)", round(eleven, 6)],
            ["101-point (COCO)", round(hundred, 6)],
        ],
    )


def matching_rules(proof: Proof) -> None:
    gt = {"img1": [(0, 0, 10, 10), (20, 0, 30, 10)], "img2": [(0, 0, 10, 10)]}
    dets = [
        ("img1", 0.95, (0, 0, 10, 10)),  # exact: TP
        ("img1", 0.90, (1, 0, 11, 10)),  # second box on the same object (IoU 0.82): FP
        ("img2", 0.80, (0, 0, 10, 9)),  # IoU 0.9: TP
        ("img1", 0.70, (40, 0, 50, 10)),  # background: FP
        ("img1", 0.60, (21, 0, 31, 10)),  # the second object: TP
    ]
    flags = match(proof, dets, gt, 0.5)
    proof.holds(
        "duplicate_is_false_positive",
        "a second detection of an already matched object is a false positive: flags T F T F T",
        flags == [True, False, True, False, True],
        str(flags),
    )
    recall, precision = pr_curve(flags, n_gt=3)
    proof.close(
        "matched_recall_final", "final recall: 3 matched / 3 ground truths", recall[-1], 1.0, 1e-12
    )
    proof.close(
        "matched_ap",
        "all-point AP of T F T F T with 3 objects: (1 + 2/3 + 3/5) / 3",
        ap_all_points(recall, precision),
        (1 + 2 / 3 + 0.6) / 3,
        1e-12,
    )
    # Counting every box that overlaps a GT as correct would let duplicates inflate recall.
    naive_tp = sum(iou_matrix(proof, [d[2]], gt[d[0]])[0].max() >= 0.5 for d in dets)
    proof.holds(
        "naive_counting_overcounts",
        "counting every overlapping box as correct: 4 'hits' for 3 objects (recall 4/3 is impossible)",
        naive_tp == 4,
        f"{naive_tp} hits",
    )


def coco_thresholds(proof: Proof) -> None:
    # One image, three 10x10 objects; each detection is its object shifted right by d,
    # so IoU = (10 - d) / (10 + d): 0.923, 0.724, 0.5625.
    shifts = [0.4, 1.6, 2.8]
    gt = {"img": [(100.0 * k, 0.0, 100.0 * k + 10, 10.0) for k in range(3)]}
    dets = [
        ("img", 0.9 - 0.1 * k, (100.0 * k + d, 0.0, 100.0 * k + d + 10, 10.0))
        for k, d in enumerate(shifts)
    ]
    ious = [(10 - d) / (10 + d) for d in shifts]
    thresholds = np.round(np.arange(0.5, 0.951, 0.05), 2)
    per_threshold = []
    for t in thresholds:
        recall, precision = pr_curve(match(proof, dets, gt, t), n_gt=3)
        per_threshold.append(ap_coco_style(recall, precision))
    expected = [1.0] * 2 + [67 / 101] * 3 + [34 / 101] * 4 + [0.0]
    proof.close(
        "coco_ap_per_threshold",
        "largest |AP(t) - hand value| over the 10 thresholds (1, 1, 67/101 ×3, 34/101 ×4, 0)",
        max(abs(a - e) for a, e in zip(per_threshold, expected, strict=True)),
        0.0,
        1e-12,
    )
    proof.close(
        "coco_ap_mean",
        "COCO AP = mean over IoU 0.50:0.05:0.95 = 539/1010",
        float(np.mean(per_threshold)),
        539 / 1010,
        1e-12,
    )
    proof.close(
        "coco_ap50_perfect",
        "AP at IoU 0.50 (the VOC criterion) for the same detections",
        per_threshold[0],
        1.0,
        1e-12,
    )
    proof.table(
        "COCO-style AP of three detections with IoU " + ", ".join(f"{o:.4f}" for o in ious),
        ["IoU threshold", "true positives", "AP (101-point)"],
        [
            [float(t), sum(o >= t for o in ious), round(a, 6)]
            for t, a in zip(thresholds, per_threshold, strict=True)
        ],
    )


if __name__ == "__main__":
    main(run, __doc__)
