"""Non-maximum suppression: greedy NMS, its threshold, per-class NMS and Soft-NMS

A small reference implementation (torchvision does not load here), checked on
five hand-placed boxes whose overlaps are worked out by hand:

    idx  box              score   overlaps
    0    (1, 1, 11, 11)    0.75   IoU 81/119 = 0.681 with box 1, 45/155 = 0.290 with box 4
    1    (0, 0, 10, 10)    0.90   IoU 40/160 = 0.25 with box 4
    2    (20, 20, 30, 30)  0.80
    3    (21, 19, 31, 29)  0.60   IoU 81/119 with box 2
    4    (6, 0, 16, 10)    0.70   a second object beside box 1

- Greedy NMS: sort by score, keep the best box, drop every remaining box whose
  IoU with it exceeds the threshold, repeat. At 0.5 it keeps [1, 2, 4].
- Skip the sort and the result is wrong: box 0 (score 0.75) is kept and the
  better box 1 (0.90) that covers the same object is suppressed.
- The threshold trades duplicates for misses: at 0.2 the neighbour box 4 is
  suppressed (a missed object); at 0.7 the duplicates 0 and 3 survive (false
  positives).
- Per-class NMS never suppresses across classes; the offset trick (shift each
  class's boxes far apart, run NMS once) gives the same result.
- Soft-NMS (Bodla et al. 2017) rescales scores instead of deleting boxes:
  linear s·(1 - IoU) when IoU > Nt, or Gaussian s·exp(-IoU²/σ), with the
  defaults of the authors' code (lib/nms/cpu_nms.pyx): Nt = 0.3, σ = 0.5, and
  boxes whose score falls below 0.001 dropped. The authors' code tests
  IoU > Nt; the rule is the same for every IoU except exactly Nt. The decayed
  scores match those formulas step by step.
"""

import math

from quizcnn.proofkit import Proof, main

# Exact claims hold to ~1e-15 in float64; MPS has no float64, so allow float32 error there.
TIGHT_F64, TIGHT_F32 = 1e-12, 1e-5

BOXES = [
    (1.0, 1.0, 11.0, 11.0),
    (0.0, 0.0, 10.0, 10.0),
    (20.0, 20.0, 30.0, 30.0),
    (21.0, 19.0, 31.0, 29.0),
    (6.0, 0.0, 16.0, 10.0),
]
SCORES = [0.75, 0.90, 0.80, 0.60, 0.70]


def pairwise_iou(torch, a, b):
    """IoU matrix between boxes a (N, 4) and b (M, 4), (x1, y1, x2, y2)."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def greedy_nms(torch, boxes, scores, threshold, sort=True):
    """Indices kept, in the order they were kept. Suppresses IoU > threshold
    (torchvision.ops.nms's convention). sort=False shows the classic bug."""
    order = torch.argsort(scores, descending=True) if sort else torch.arange(len(scores))
    iou = pairwise_iou(torch, boxes, boxes)
    suppressed = [False] * len(scores)
    keep = []
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        for j in order.tolist():
            if not suppressed[j] and j != i and j not in keep and iou[i, j] > threshold:
                suppressed[j] = True
    return keep


def per_class_nms(torch, boxes, scores, classes, threshold):
    keep = []
    for c in sorted(set(classes.tolist())):
        idx = torch.nonzero(classes == c).flatten()
        keep += [idx[k].item() for k in greedy_nms(torch, boxes[idx], scores[idx], threshold)]
    return sorted(keep, key=lambda k: -scores[k].item())


def offset_trick_nms(torch, boxes, scores, classes, threshold):
    """What torchvision.ops.batched_nms does: move each class to its own region."""
    offset = classes.to(boxes.dtype)[:, None] * (boxes.max() + 1)
    return greedy_nms(torch, boxes + offset, scores, threshold)


def soft_nms(torch, boxes, scores, method, nt=0.3, sigma=0.5, floor=0.001):
    """Soft-NMS: returns {index: final score} in selection order. Defaults and the
    strict IoU > Nt test follow the authors' cpu_soft_nms (Bodla et al. 2017)."""
    iou = pairwise_iou(torch, boxes, boxes)
    s = scores.clone()
    remaining = list(range(len(scores)))
    final = {}
    while remaining:
        m = max(remaining, key=lambda k: s[k].item())
        final[m] = s[m].item()
        remaining.remove(m)
        for j in remaining:
            o = iou[m, j]
            if method == "linear":
                weight = (1 - o) if o > nt else 1.0
            else:
                weight = torch.exp(-(o * o) / sigma)
            s[j] = s[j] * weight
        remaining = [j for j in remaining if s[j] >= floor]
    return final


def run(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    tight = TIGHT_F64 if f64 == torch.float64 else TIGHT_F32
    boxes = torch.tensor(BOXES, dtype=f64, device=dev)
    scores = torch.tensor(SCORES, dtype=f64, device=dev)
    iou = pairwise_iou(torch, boxes, boxes)

    proof.close("iou_0_1", "IoU(box 0, box 1) = 9·9 / (100 + 100 - 81)", iou[0, 1], 81 / 119, tight)
    proof.close(
        "iou_1_4", "IoU(box 1, box 4) = 4·10 / (100 + 100 - 40)", iou[1, 4], 40 / 160, tight
    )

    keep = greedy_nms(torch, boxes, scores, 0.5)
    proof.holds(
        "nms_keeps_expected", "greedy NMS at IoU 0.5 keeps [1, 2, 4]", keep == [1, 2, 4], str(keep)
    )
    unsorted = greedy_nms(torch, boxes, scores, 0.5, sort=False)
    proof.holds(
        "unsorted_nms_wrong",
        "without sorting by score: box 0 (0.75) is kept and the better box 1 (0.90) is suppressed",
        0 in unsorted and 1 not in unsorted and unsorted != keep,
        str(unsorted),
    )
    rows = []
    kept_at = {}
    for t in (0.2, 0.3, 0.5, 0.7):
        kept_at[t] = greedy_nms(torch, boxes, scores, t)
        rows.append([t, kept_at[t], len(kept_at[t])])
    rows.append(["0.5, unsorted", unsorted, len(unsorted)])
    proof.table("Greedy NMS on the five boxes", ["IoU threshold", "kept (in order)", "count"], rows)
    proof.holds(
        "low_threshold_drops_neighbour",
        "threshold 0.2: the neighbouring object (box 4, IoU 0.25 with box 1) is suppressed: a miss",
        kept_at[0.2] == [1, 2],
        str(kept_at[0.2]),
    )
    proof.holds(
        "high_threshold_keeps_duplicates",
        "threshold 0.7: duplicates 0 and 3 (IoU 0.681 < 0.7) survive: false positives",
        kept_at[0.7] == [1, 2, 0, 4, 3],
        str(kept_at[0.7]),
    )

    # Per class: box 4 is a different class from box 1, so even at 0.2 it stays.
    classes = torch.tensor([0, 0, 1, 1, 2], device=dev)
    agnostic = greedy_nms(torch, boxes, scores, 0.2)
    by_class = per_class_nms(torch, boxes, scores, classes, 0.2)
    proof.holds(
        "per_class_keeps_other_class",
        "threshold 0.2, box 4 of another class: class-agnostic NMS drops it, per-class NMS keeps it",
        4 not in agnostic and by_class == [1, 2, 4],
        f"agnostic {agnostic}, per class {by_class}",
    )
    proof.holds(
        "offset_trick_equals_per_class",
        "offsetting boxes by class_id·(max coordinate + 1), then one NMS = per-class NMS",
        offset_trick_nms(torch, boxes, scores, classes, 0.2) == by_class,
    )

    # Soft-NMS, both decays, against the formulas applied by hand.
    linear = soft_nms(torch, boxes, scores, "linear", nt=0.3)
    gauss = soft_nms(torch, boxes, scores, "gaussian", sigma=0.5)
    o01, o23, o04 = 81 / 119, 81 / 119, 45 / 155
    proof.close(
        "soft_linear_box0",
        "linear Soft-NMS (Nt 0.3): box 0 after box 1 is picked = 0.75·(1 - 81/119)",
        linear[0],
        0.75 * (1 - o01),
        tight,
    )
    proof.close(
        "soft_linear_box3",
        "linear Soft-NMS: box 3 after box 2 is picked = 0.60·(1 - 81/119)",
        linear[3],
        0.60 * (1 - o23),
        tight,
    )
    proof.close(
        "soft_linear_below_nt_untouched",
        "linear Soft-NMS: box 4 (IoU 0.25 < Nt with box 1) keeps its score 0.70",
        linear[4],
        0.70,
        tight,
    )
    proof.close(
        "soft_gauss_box4",
        "Gaussian Soft-NMS (σ 0.5): box 4 = 0.70·exp(-0.25²/0.5)",
        gauss[4],
        0.70 * math.exp(-(0.25**2) / 0.5),
        tight,
    )
    proof.close(
        "soft_gauss_box0",
        "Gaussian: box 0 decays twice, by box 1 then box 4: 0.75·exp(-(0.681² + 0.290²)/0.5)",
        gauss[0],
        0.75 * math.exp(-(o01**2) / 0.5) * math.exp(-(o04**2) / 0.5),
        tight,
    )
    proof.holds(
        "soft_nms_keeps_every_box",
        "Soft-NMS removes no box here (all scores stay above 0.001); only their order changes",
        len(linear) == 5 and len(gauss) == 5,
    )
    proof.table(
        "Soft-NMS: final scores in selection order",
        ["method", "order", "scores"],
        [
            ["greedy NMS 0.3", greedy_nms(torch, boxes, scores, 0.3), "others deleted"],
            ["linear, Nt 0.3", list(linear), [round(v, 4) for v in linear.values()]],
            ["Gaussian, σ 0.5", list(gauss), [round(v, 4) for v in gauss.values()]],
        ],
    )


if __name__ == "__main__":
    main(run, __doc__)
