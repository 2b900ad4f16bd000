"""Pairwise IoU of two sets of (x1, y1, x2, y2) boxes

Checks ``box_iou(boxes1, boxes2)`` -> an (N, M) array of IoUs (numpy in, numpy
out) against a small torch reference written here (torchvision does not load
on these machines; ``reference`` follows ``torchvision.ops.box_iou`` except
that a pair whose union is 0 gets IoU 0 instead of 0/0 = nan). Boxes use
continuous coordinates: area (x2 − x1)·(y2 − y1), no +1.

Cases, in float64: one box against hand-worked overlaps (1/7, 1/4, 1), disjoint
boxes (0), boxes that only touch along an edge or a corner (0), nested boxes,
seeded random sets, large coordinates (~1e4), integer coordinates, zero-area
boxes (IoU 0, no nan) and an empty set on either side (shapes (N, 0) and
(0, N)). Every case also checks that the caller's arrays are unchanged.

Recognized mistakes: the +1 pixel convention (x2 − x1 + 1), the intersection's
width and height not clamped at 0, or only their product clamped (two negative
sides multiply into a positive "intersection" for disjoint boxes), the union without the intersection
subtracted (area1 + area2), and 0/0 = nan for two zero-area boxes.
"""

from __future__ import annotations

FUNCTION = "box_iou"


def reference(torch, boxes1, boxes2):
    """IoU matrix (N, M) of float64 tensors (N, 4) and (M, 4); 0 where the union is 0."""
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    top_left = torch.maximum(boxes1[:, None, :2], boxes2[None, :, :2])
    bottom_right = torch.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (bottom_right - top_left).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = area1[:, None] + area2[None, :] - inter
    return torch.where(union > 0, inter / torch.where(union > 0, union, 1.0), 0.0)


def run(check, fn) -> None:
    np, torch = check.np, check.torch
    square = [[0, 0, 4, 4]]
    cases = [
        (
            "one box, hand-worked overlaps (N=1)",
            square,
            [[2, 2, 6, 6], [1, 1, 3, 3], [0, 0, 4, 4], [0, 0, 4, 2]],
        ),
        ("disjoint boxes (IoU 0)", square, [[6, 6, 9, 9], [5, -4, 8, -1], [1, 6, 3, 8]]),
        (
            "touching edges and corners (IoU 0)",
            square,
            [[4, 0, 8, 4], [4, 4, 6, 6], [0, 4, 4, 7], [-3, -3, 0, 0]],
        ),
        (
            "nested boxes",
            [[0, 0, 10, 10], [2, 3, 5, 7]],
            [[2, 3, 5, 7], [0, 0, 10, 10], [1, 1, 9, 9]],
        ),
        ("random boxes, N=7, M=5", 7, 5),
        ("random boxes, N=1, M=9", 1, 9),
        ("large coordinates (~1e4)", 6, 4),
        (
            "integer coordinates (int64 input)",
            [[0, 0, 3, 3], [1, 0, 5, 2]],
            [[1, 1, 4, 4], [0, 0, 3, 3], [2, 1, 3, 9]],
        ),
        (
            "zero-area boxes (IoU 0, no nan)",
            [[1, 1, 1, 5], [3, 3, 3, 3], [0, 0, 4, 4]],
            [[1, 1, 1, 5], [3, 3, 3, 3], [0, 0, 4, 4]],
        ),
        ("no boxes on one side (M=0, then N=0)", [[0, 0, 2, 2], [1, 1, 3, 3]], np.zeros((0, 4))),
    ]
    for k, (name, a, b) in enumerate(cases):
        check.reseed(k)
        if isinstance(a, int):
            offset = 1e4 if "large" in name else 0.0
            a, b = _random_boxes(np, a, offset), _random_boxes(np, b, offset)
        dtype = np.int64 if name.startswith("integer") else np.float64
        a, b = np.asarray(a, dtype=dtype), np.asarray(b, dtype=dtype)
        pairs = [(a, b), (b, a)] if not len(b) else [(a, b)]  # empty: both ways round
        expected = tuple(
            reference(
                torch, torch.tensor(p, dtype=torch.float64), torch.tensor(q, dtype=torch.float64)
            ).numpy()
            for p, q in pairs
        )

        check.compare(
            name,
            lambda pairs=pairs: tuple(
                check.untouched(fn, ("boxes1", "boxes2"), pair) for pair in pairs
            ),
            expected if len(expected) > 1 else expected[0],
            inputs=f"boxes1: {_show(np, a)}; boxes2: {_show(np, b)}",
            atol=1e-9,
            rtol=1e-7,
            mistakes=_mistakes(np, a.astype(np.float64), b.astype(np.float64)),
        )


def _random_boxes(np, n, offset):
    """n boxes with corners in [offset, offset + 50)² and sides in [1, 31): many overlap."""
    corner = offset + np.random.rand(n, 2) * 50
    size = np.random.rand(n, 2) * 30 + 1
    return np.concatenate([corner, corner + size], axis=1)


def _show(np, boxes):
    if boxes.shape[0] <= 4:
        rows = ", ".join("(" + ", ".join(f"{v:g}" for v in row) + ")" for row in boxes.tolist())
        return f"{boxes.shape} {boxes.dtype} [{rows}]"
    return f"{boxes.shape} {boxes.dtype}, seeded random"


def _iou(np, a, b, plus_one=0.0, clamp=True, subtract=True, guard=True):
    def area(x):
        return (x[:, 2] - x[:, 0] + plus_one) * (x[:, 3] - x[:, 1] + plus_one)

    wh = np.minimum(a[:, None, 2:], b[None, :, 2:]) - np.maximum(a[:, None, :2], b[None, :, :2])
    wh = wh + plus_one
    if clamp is True:
        wh = np.maximum(wh, 0)
    inter = wh[..., 0] * wh[..., 1]
    if clamp == "product":
        inter = np.maximum(inter, 0)
    union = area(a)[:, None] + area(b)[None, :] - (inter if subtract else 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / union
    if guard:
        iou = np.where(union > 0, iou, 0.0)
    return iou


def _mistakes(np, a, b) -> dict:
    return {
        "the +1 pixel convention (x2 − x1 + 1) is for integer pixel indices; these boxes are "
        "continuous: width = x2 − x1, as in torchvision.ops.box_iou": _iou(np, a, b, plus_one=1.0),
        "clamp the intersection's width and height at 0: without the clamp, disjoint boxes get a "
        "negative or even a positive 'intersection'": _iou(np, a, b, clamp=False),
        "clamp the width and the height at 0 each, not their product: two negative sides "
        "multiply into a positive area for boxes apart in both x and y": _iou(
            np, a, b, clamp="product"
        ),
        "the union is area1 + area2 − intersection: without the subtraction the overlap is "
        "counted twice (identical boxes get 0.5)": _iou(np, a, b, subtract=False),
        "two zero-area boxes have union 0: return IoU 0 there instead of 0/0 = nan (the task "
        "defines it)": _iou(np, a, b, guard=False),
    }
