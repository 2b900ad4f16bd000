"""Greedy non-maximum suppression: which boxes are kept, in which order

Checks ``nms(boxes, scores, iou_threshold)`` -> the indices of the kept boxes,
highest score first, against a small torch reference written here
(``reference``; torchvision does not load on these machines). The reference
follows ``torchvision.ops.nms``: visit the boxes by decreasing score, keep a
box unless a box already KEPT overlaps it with IoU > iou_threshold (strictly
greater: IoU equal to the threshold is kept). Where torchvision leaves ties
unspecified, this card fixes them: equal scores are visited lower index first
(a stable sort). IoU as in the box_iou card: continuous coordinates, no +1.

Cases: two hand-made clusters with a neighbouring object, a chain in which a
suppressed box must not suppress anything, an IoU exactly equal to the
threshold (0.25, kept), tied scores, threshold 0 (any overlap suppresses,
touching boxes stay), threshold 1 (nothing is suppressed, duplicates
included), two identical zero-area boxes beside a normal one (their union is 0,
so their IoU is 0 and both stay; a 0/0 = nan must not drop one), no boxes, and
two seeded random sets of 40 boxes.

Recognized mistakes: boxes visited in index order (no sort by score),
suppressing at IoU ≥ threshold instead of >, suppressing against every earlier
box instead of only the kept ones, and ties broken higher index first
(``argsort(scores)[::-1]``).
"""

from __future__ import annotations

FUNCTION = "nms"


def pairwise_iou(torch, a, b):
    """IoU matrix (N, M) of (x1, y1, x2, y2) boxes; 0 where the union is 0."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    wh = torch.minimum(a[:, None, 2:], b[None, :, 2:]) - torch.maximum(
        a[:, None, :2], b[None, :, :2]
    )
    inter = wh.clamp(min=0).prod(dim=-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return torch.where(union > 0, inter / torch.where(union > 0, union, 1.0), 0.0)


def reference(
    torch, boxes, scores, iou_threshold, order="stable", at_threshold=False, against="kept"
):
    """Kept indices, highest score first. The keyword arguments replay classic mistakes:
    order "index" (no sort) or "reversed ties"; at_threshold=True suppresses IoU ≥ t;
    against="all" suppresses with every earlier box, kept or not."""
    n = scores.shape[0]
    if order == "index":
        visit = list(range(n))
    elif order == "reversed ties":
        visit = torch.argsort(scores, stable=True).flip(0).tolist()
    else:
        visit = torch.sort(scores, descending=True, stable=True).indices.tolist()
    iou = pairwise_iou(torch, boxes, boxes)
    keep: list[int] = []
    for pos, i in enumerate(visit):
        rivals = keep if against == "kept" else visit[:pos]
        overlaps = [iou[i, j].item() for j in rivals]
        if any(o >= iou_threshold if at_threshold else o > iou_threshold for o in overlaps):
            continue
        keep.append(i)
    return keep


def run(check, fn) -> None:
    np, torch = check.np, check.torch
    clusters = [[1, 1, 11, 11], [0, 0, 10, 10], [20, 20, 30, 30], [21, 19, 31, 29], [6, 0, 16, 10]]
    cases = [
        ("two clusters and a neighbour, threshold 0.5", clusters, [0.75, 0.9, 0.8, 0.6, 0.7], 0.5),
        (
            "chain: a suppressed box suppresses nothing",
            [[0, 0, 10, 10], [4, 0, 14, 10], [8, 0, 18, 10]],
            [0.9, 0.8, 0.7],
            0.3,
        ),
        (
            "IoU exactly at the threshold (0.25) is kept",
            [[0, 0, 10, 10], [6, 0, 16, 10], [40, 40, 50, 50]],
            [0.9, 0.8, 0.7],
            0.25,
        ),
        (
            "tied scores: lower index first",
            [[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [51, 50, 61, 60]],
            [0.5, 0.5, 0.7, 0.7],
            0.5,
        ),
        (
            "threshold 0: any overlap suppresses, touching boxes stay",
            [[0, 0, 10, 10], [9, 9, 20, 20], [10, 0, 20, 9], [30, 30, 40, 40]],
            [0.9, 0.8, 0.7, 0.6],
            0.0,
        ),
        (
            "threshold 1: nothing is suppressed, duplicates included",
            [[0, 0, 10, 10], [0, 0, 10, 10], [1, 1, 11, 11], [5, 5, 9, 9]],
            [0.6, 0.9, 0.7, 0.8],
            1.0,
        ),
        (
            "a box and two identical zero-area boxes (IoU 0: all kept)",
            [[3, 4, 8, 9], [1, 1, 1, 5], [1, 1, 1, 5]],
            [0.42, 0.9, 0.8],
            0.5,
        ),
        ("random boxes, N=40, threshold 0.5", 40, None, 0.5),
        ("random boxes, N=40, threshold 0.3", 40, None, 0.3),
        ("no boxes", np.zeros((0, 4)), [], 0.5),
    ]
    for k, (name, boxes, scores, threshold) in enumerate(cases):
        check.reseed(k)
        if isinstance(boxes, int):
            corner = np.random.rand(boxes, 2) * 60
            boxes = np.concatenate([corner, corner + np.random.rand(boxes, 2) * 25 + 5], axis=1)
            scores = np.random.permutation(boxes.shape[0]) / boxes.shape[0] + 0.01
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(scores, dtype=np.float64)
        tb, ts = torch.tensor(boxes), torch.tensor(scores)
        expected = np.asarray(reference(torch, tb, ts, threshold), dtype=np.int64)
        mistakes = {
            "visit the boxes by decreasing score: greedy NMS keeps the best box of each cluster "
            "only if it sorts first (torchvision returns the kept indices sorted by score)": (
                reference(torch, tb, ts, threshold, order="index")
            ),
            "suppress only when IoU > iou_threshold (strictly): a box whose IoU equals the "
            "threshold is kept, as torchvision.ops.nms does": (
                reference(torch, tb, ts, threshold, at_threshold=True)
            ),
            "compare each box only with the boxes already KEPT: a box that was suppressed "
            "must not suppress others": reference(torch, tb, ts, threshold, against="all"),
            "equal scores go lower index first (a stable sort of -scores, e.g. "
            "np.argsort(-scores, kind='stable')); argsort(scores)[::-1] puts the higher "
            "index first": reference(torch, tb, ts, threshold, order="reversed ties"),
        }
        check.compare(
            name,
            lambda b=boxes, s=scores, t=threshold: _indices(np, fn(b.copy(), s.copy(), t)),
            expected,
            inputs=f"boxes: {_show(boxes)}; scores: {_show(scores)}; iou_threshold={threshold:g}",
            atol=0,
            rtol=0,
            mistakes={hint: np.asarray(wrong, dtype=np.int64) for hint, wrong in mistakes.items()},
        )


def _indices(np, out):
    """The user's kept indices as a flat array (a list of numpy ints, a tensor, an array)."""
    if hasattr(out, "detach"):
        out = out.detach().cpu().numpy()
    return np.asarray(list(out) if not hasattr(out, "shape") else out)


def _show(a) -> str:
    if a.shape[0] > 5:
        return f"{a.shape} seeded random"
    return f"{a.shape} {a.tolist()}"
