"""Generators of the detection topic: box IoU/GIoU, anchor counts, FPN level of an RoI.

The formulas, written once here (pure Python, no torch):

- IoU(A, B) = |A ∩ B| / |A ∪ B| for boxes (x1, y1, x2, y2), area (x2 - x1)(y2 - y1);
  GIoU = IoU - |C \\ (A ∪ B)| / |C| with C the smallest box enclosing both
  (Rezatofighi et al. 2019, §3).
- Anchors: one set of k = scales x ratios anchors per feature-map position, so a
  W x H map has W·H·k anchors (Faster R-CNN, Ren et al. 2015, §3.1.1); with a
  pyramid, the sum over levels of (image/stride)^2 · A.
- FPN level: k = ⌊k0 + log2(√(wh)/224)⌋ with k0 = 4 (Lin et al. 2017, §4.2, Eq. 1),
  clamped to the levels that exist (P2-P5 for the Fast R-CNN head).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from quizcnn.generators.drawn import Drawn

Box = tuple[float, float, float, float]

# -- the formulas -----------------------------------------------------------------


def box_area(b: Box) -> float:
    return max(b[2] - b[0], 0) * max(b[3] - b[1], 0)


def box_intersection(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(w, 0) * max(h, 0)


def box_iou(a: Box, b: Box) -> float:
    inter = box_intersection(a, b)
    return inter / (box_area(a) + box_area(b) - inter)


def enclosing_area(a: Box, b: Box) -> float:
    return (max(a[2], b[2]) - min(a[0], b[0])) * (max(a[3], b[3]) - min(a[1], b[1]))


def box_giou(a: Box, b: Box) -> float:
    inter = box_intersection(a, b)
    union = box_area(a) + box_area(b) - inter
    c = enclosing_area(a, b)
    return inter / union - (c - union) / c


def anchor_total(sizes: list[tuple[int, int]], per_position: int) -> int:
    """Σ over feature maps of H·W·k: every position of every map gets k anchors."""
    return sum(h * w * per_position for h, w in sizes)


def fpn_level(w: int, h: int, k0: int = 4, k_min: int = 2, k_max: int = 5) -> int:
    """⌊k0 + log2(√(wh)/224)⌋, clamped to [k_min, k_max], in exact integer arithmetic:
    k0 + m where m is the largest integer with w·h ≥ 224²·4^m."""
    area, canonical = w * h, 224 * 224
    m = 0
    if area >= canonical:
        while area >= canonical * 4 ** (m + 1):
            m += 1
    else:
        while area * 4 ** (-m) < canonical:  # area < 224²·4^m, with m ≤ 0
            m -= 1
    return min(max(k0 + m, k_min), k_max)


# -- the generators ---------------------------------------------------------------


def _draw_box(rng: random.Random, limit: int = 16) -> Box:
    x1, y1 = rng.randint(0, limit - 2), rng.randint(0, limit - 2)
    return (
        x1,
        y1,
        rng.randint(x1 + 1, min(x1 + 10, limit)),
        rng.randint(y1 + 1, min(y1 + 10, limit)),
    )


def _box_iou(rng: random.Random) -> Drawn:
    ask_giou = rng.random() < 0.35
    while True:
        a, b = _draw_box(rng), _draw_box(rng)
        inter = box_intersection(a, b)
        if a == b:
            continue
        if ask_giou or inter > 0:  # IoU questions use overlapping boxes; GIoU ones either
            break
    union = box_area(a) + box_area(b) - inter
    iou = inter / union
    fmt = lambda b: f"({b[0]}, {b[1]}, {b[2]}, {b[3]})"  # noqa: E731
    working = (
        f"areas {box_area(a):g} and {box_area(b):g}; intersection {inter:g}; "
        f"union {box_area(a):g} + {box_area(b):g} - {inter:g} = {union:g}; IoU = {inter:g}/{union:g} = {iou:.4f}"
    )
    if ask_giou:
        c = enclosing_area(a, b)
        value = box_giou(a, b)
        working += f"; enclosing box area {c:g}; GIoU = {iou:.4f} - ({c:g} - {union:g})/{c:g} = {value:.4f}"
        what = "GIoU"
    else:
        value = iou
        what = "IoU"
    question = (
        f"Boxes are (x1, y1, x2, y2); two decimals are enough. "
        f"What is the {what} of A = {fmt(a)} and B = {fmt(b)}?"
    )
    return Drawn(question, value, 0.006, None, working)


def _anchor_count(rng: random.Random) -> Drawn:
    if rng.random() < 0.5:
        stride = 16
        width, height = rng.choice([(800, 608), (1024, 576), (640, 480), (1008, 608), (1200, 800)])
        fw, fh = width // stride, height // stride
        scales, ratios = rng.choice([(3, 3), (3, 3), (5, 3), (2, 3), (4, 2)])
        k = scales * ratios
        value = anchor_total([(fh, fw)], k)
        question = (
            f"An RPN slides over the {fw}x{fh} stride-{stride} feature map of a {width}x{height} image, "
            f"with {scales} anchor scales and {ratios} aspect ratios at every position. "
            "How many anchors does it place in total?"
        )
        working = f"k = {scales}·{ratios} = {k} per position; W·H·k = {fw}·{fh}·{k} = {value:,}"
        return Drawn(question, float(value), 0.0, "anchors", working)
    side = rng.choice([512, 640, 768, 896, 1024])
    name, levels, per_position = rng.choice(
        [("RetinaNet-style", range(3, 8), 9), ("FPN RPN-style", range(2, 7), 3)]
    )
    sizes = [(side // 2**lv, side // 2**lv) for lv in levels]
    value = anchor_total(sizes, per_position)
    first, last = levels[0], levels[-1]
    question = (
        f"A {name} detector on a {side}x{side} image predicts from pyramid levels P{first}-P{last} "
        f"(P_l has stride 2^l) with {per_position} anchors per position. How many anchors in total?"
    )
    terms = " + ".join(f"{h}²" for h, _ in sizes)
    working = (
        f"map sides {', '.join(str(h) for h, _ in sizes)}; "
        f"({terms})·{per_position} = {sum(h * w for h, w in sizes):,}·{per_position} = {value:,}"
    )
    return Drawn(question, float(value), 0.0, "anchors", working)


def _fpn_level(rng: random.Random) -> Drawn:
    w = rng.choice(
        [16, 24, 32, 48, 64, 80, 96, 112, 128, 150, 180, 224, 256, 300, 400, 448, 512, 640]
    )
    h = rng.choice([16, 32, 40, 56, 64, 90, 100, 112, 128, 160, 200, 224, 256, 320, 448, 600])
    k = fpn_level(w, h)
    root = math.sqrt(w * h)
    raw = 4 + math.log2(root / 224)
    question = (
        f"Faster R-CNN with an FPN (k0 = 4, levels P2-P5) pools a {w}x{h} RoI (input pixels) "
        "from pyramid level P_k. What is k?"
    )
    working = f"k = ⌊4 + log2(√({w}·{h})/224)⌋ = ⌊4 + log2({root:.1f}/224)⌋ = ⌊{raw:.3f}⌋ = {math.floor(raw)}"
    if k != math.floor(raw):
        working += f", clamped to the levels P2-P5: {k}"
    return Drawn(question, float(k), 0.0, None, working)


GENERATORS: dict[str, Callable[[random.Random], Drawn]] = {
    "box_iou": _box_iou,
    "anchor_count": _anchor_count,
    "fpn_level": _fpn_level,
}
