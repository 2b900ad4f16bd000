"""IoU and GIoU: the overlap measures, IoU's dead gradient, and anchors labelled by IoU

Boxes are (x1, y1, x2, y2) with continuous coordinates, area (x2 - x1)(y2 - y1).

- IoU = |A ∩ B| / |A ∪ B|, checked on hand-placed boxes: (0,0,4,4) and (2,2,6,6)
  overlap in a 2x2 square, so IoU = 4 / 28 = 1/7.
- GIoU (Rezatofighi et al. 2019) subtracts the share of the smallest enclosing
  box C that neither box covers: GIoU = IoU - |C \\ (A ∪ B)| / |C|. It lies in
  [-1, 1], equals IoU when C is the union, is negative for disjoint boxes and
  tends to -1 as they move apart; it can be negative for overlapping boxes too.
- As a loss, 1 - IoU is flat (gradient exactly 0) whenever the boxes do not
  overlap, because the clamped intersection is 0 there: gradient descent cannot
  move the box at all. 1 - GIoU has a non-zero gradient that pulls the
  prediction towards the target; a few steps make it overlap. On the way the
  GIoU-trained box first widens (to about 3x the target's width) and then
  shrinks back onto the target: measured here, not a claim of the paper.
- IoU is scale-invariant, coordinate losses are not: the same L1 corner error
  gives different IoUs, and scaling a pair of boxes by 10 multiplies the L1
  distance by 10 while IoU and GIoU stay the same.
- Anchors (Faster R-CNN, Ren et al. 2015): 3 scales x 3 aspect ratios = 9 per
  position, W·H·9 on a W x H map; each keeps the area of its scale. Boxes are
  regressed as tx = (x - xa)/wa, ty = (y - ya)/ha, tw = log(w/wa), th = log(h/ha):
  the encoding round-trips exactly, is unchanged when the image is rescaled,
  and in log space twice and half the anchor's width are ±log 2. Anchors are
  labelled by IoU: positive above 0.7 (or the best anchor of a ground truth),
  negative below 0.3, ignored in between; a thin box that no anchor covers to
  0.7 still gets one positive from the best-anchor rule.
"""

from quizcnn.proofkit import Proof, main

# Exact claims hold to ~1e-15 in float64; MPS has no float64, so allow float32 error there.
TIGHT_F64, TIGHT_F32 = 1e-12, 1e-5

STEPS = 300
LR = 0.5


def areas(torch, boxes):
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def iou_and_giou(torch, a, b):
    """IoU and GIoU of two boxes (or two aligned batches), differentiable by autograd."""
    lt = torch.maximum(a[..., :2], b[..., :2])
    rb = torch.minimum(a[..., 2:], b[..., 2:])
    wh = (rb - lt).clamp(min=0)  # no overlap: width or height clamps to 0
    inter = wh[..., 0] * wh[..., 1]
    union = areas(torch, a) + areas(torch, b) - inter
    iou = inter / union
    c_lt = torch.minimum(a[..., :2], b[..., :2])
    c_rb = torch.maximum(a[..., 2:], b[..., 2:])
    c_area = (c_rb - c_lt).prod(dim=-1)  # the smallest axis-aligned box holding both
    giou = iou - (c_area - union) / c_area
    return iou, giou


def run(proof: Proof) -> None:
    hand_placed(proof)
    losses_on_disjoint_boxes(proof)
    bounds_on_random_boxes(proof)
    scale_and_coordinate_losses(proof)
    anchors(proof)


def hand_placed(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    tight = TIGHT_F64 if f64 == torch.float64 else TIGHT_F32

    def box(*xy):
        return torch.tensor(xy, dtype=f64, device=dev)

    cases = [
        ("overlap 2x2", box(0, 0, 4, 4), box(2, 2, 6, 6)),
        ("B inside A", box(0, 0, 10, 10), box(2, 2, 6, 6)),
        ("touching edges", box(0, 0, 2, 2), box(2, 0, 4, 2)),
        ("gap of 2", box(0, 0, 2, 2), box(4, 0, 6, 2)),
        ("gap of 98", box(0, 0, 2, 2), box(100, 0, 102, 2)),
        ("identical", box(1, 1, 3, 5), box(1, 1, 3, 5)),
    ]
    values = {}
    rows = []
    for name, a, b in cases:
        iou, giou = iou_and_giou(torch, a, b)
        values[name] = (iou.item(), giou.item())
        rows.append([name, a.tolist(), b.tolist(), round(iou.item(), 6), round(giou.item(), 6)])
    proof.table("IoU and GIoU of hand-placed boxes", ["case", "A", "B", "IoU", "GIoU"], rows)

    proof.close(
        "iou_overlap_hand",
        "IoU of (0,0,4,4) and (2,2,6,6): intersection 4, union 16 + 16 - 4 = 28, so 1/7",
        values["overlap 2x2"][0],
        1 / 7,
        tight,
    )
    proof.close(
        "giou_overlap_hand",
        "GIoU of the same pair: C = (0,0,6,6), area 36: 1/7 - (36 - 28)/36 (negative, yet they overlap)",
        values["overlap 2x2"][1],
        1 / 7 - 8 / 36,
        tight,
    )
    proof.close(
        "giou_equals_iou_when_nested",
        "B inside A: C is A itself, so GIoU = IoU = 16/100",
        values["B inside A"][1],
        0.16,
        tight,
    )
    proof.close(
        "giou_disjoint_hand",
        "GIoU of (0,0,2,2) and (4,0,6,2): IoU 0, C = 6x2 = 12, union 8: 0 - 4/12 = -1/3",
        values["gap of 2"][1],
        -1 / 3,
        tight,
    )
    proof.close(
        "giou_far_apart_near_minus_one",
        "boxes 98 apart: GIoU = -(204 - 8)/204, close to the bound -1",
        values["gap of 98"][1],
        -196 / 204,
        tight,
    )
    proof.holds(
        "iou_zero_for_touching_and_disjoint",
        "IoU is exactly 0 for touching boxes and for boxes 2 or 98 apart (it cannot tell them apart)",
        values["touching edges"][0] == 0
        and values["gap of 2"][0] == 0
        and values["gap of 98"][0] == 0,
    )
    proof.holds(
        "identical_boxes_one",
        "identical boxes: IoU = GIoU = 1",
        values["identical"] == (1.0, 1.0),
    )


def losses_on_disjoint_boxes(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    target = torch.tensor([4.0, 0.0, 6.0, 2.0], dtype=f64, device=dev)
    start = torch.tensor([0.0, 0.0, 2.0, 2.0], dtype=f64, device=dev)

    grads = {}
    for name in ("iou", "giou"):
        pred = start.clone().requires_grad_(True)
        iou, giou = iou_and_giou(torch, pred, target)
        loss = 1 - (iou if name == "iou" else giou)
        loss.backward()
        grads[name] = pred.grad.clone()
    proof.close(
        "iou_loss_grad_zero_disjoint",
        "1 - IoU for disjoint boxes: norm of the gradient w.r.t. the 4 coordinates",
        grads["iou"].norm(),
        0.0,
        0.0,
    )
    proof.above(
        "giou_loss_grad_nonzero_disjoint",
        "1 - GIoU for the same boxes: norm of the gradient",
        grads["giou"].norm(),
        0.01,
    )
    # Descending the GIoU loss pulls the near edge (x2) towards the target, but it
    # also pushes the far edge (x1) away: with U/C to maximize, a bigger box helps.
    proof.holds(
        "giou_grad_signs",
        "1 - GIoU: dL/dx2 < 0 (right edge moves to the target) and dL/dx1 > 0 (box also widens)",
        grads["giou"][2] < 0 and grads["giou"][0] > 0,
        f"gradient {grads['giou'].tolist()}",
    )

    finals, first_overlap, widest = {}, None, 0.0
    for name in ("iou", "giou"):
        pred = start.clone().requires_grad_(True)
        for step in range(STEPS):  # plain gradient descent, written out
            iou, giou = iou_and_giou(torch, pred, target)
            if name == "giou":
                if first_overlap is None and iou.item() > 0:
                    first_overlap = step
                widest = max(widest, (pred[2] - pred[0]).item())
            (1 - (iou if name == "iou" else giou)).backward()
            with torch.no_grad():
                pred -= LR * pred.grad
            pred.grad = None
        with torch.no_grad():
            finals[name] = (pred.detach().clone(), iou_and_giou(torch, pred, target)[0].item())
    final_width = (finals["giou"][0][2] - finals["giou"][0][0]).item()
    proof.close(
        "iou_loss_does_not_move",
        f"{STEPS} SGD steps (lr 0.5) on 1 - IoU from a disjoint start: max |coordinate change|",
        (finals["iou"][0] - start).abs().max(),
        0.0,
        0.0,
    )
    proof.above(
        "giou_loss_reaches_overlap",
        f"{STEPS} SGD steps (lr 0.5) on 1 - GIoU from the same start: IoU with the target afterwards",
        finals["giou"][1],
        0.7,
    )
    proof.table(
        "Gradient descent from a disjoint start, target (4,0,6,2), prediction (0,0,2,2)",
        [
            "loss",
            "gradient at start",
            "first step with IoU > 0",
            "widest box (width)",
            "final IoU",
            "final width",
        ],
        [
            [
                "1 - IoU",
                [round(v, 4) for v in grads["iou"].tolist()],
                "never",
                2.0,
                finals["iou"][1],
                round((finals["iou"][0][2] - finals["iou"][0][0]).item(), 3),
            ],
            [
                "1 - GIoU",
                [round(v, 4) for v in grads["giou"].tolist()],
                first_overlap,
                round(widest, 3),
                round(finals["giou"][1], 4),
                round(final_width, 3),
            ],
        ],
    )
    proof.above(
        "giou_widens_box_first",
        "on the way, the GIoU-trained box (width 2 at start, target width 2) widens beyond",
        widest,
        5.0,
    )
    proof.below(
        "giou_box_shrinks_back",
        f"after {STEPS} steps it has shrunk back towards the target's width 2: final width",
        final_width,
        2.5,
    )


def bounds_on_random_boxes(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    tight = TIGHT_F64 if f64 == torch.float64 else TIGHT_F32
    proof.reseed(1)
    n = 20_000
    xy = torch.rand(n, 2, 2, dtype=f64, device=dev) * 100
    wh = torch.rand(n, 2, 2, dtype=f64, device=dev) * 30 + 0.5
    a = torch.cat([xy[:, 0], xy[:, 0] + wh[:, 0]], dim=1)
    b = torch.cat([xy[:, 1], xy[:, 1] + wh[:, 1]], dim=1)
    iou, giou = iou_and_giou(torch, a, b)
    proof.below(
        "giou_lower_bound_of_iou",
        "20,000 random box pairs: max(GIoU - IoU) (GIoU never exceeds IoU)",
        (giou - iou).max(),
        tight,
    )
    proof.holds(
        "giou_in_range",
        "20,000 random pairs: -1 < GIoU ≤ 1 and 0 ≤ IoU ≤ 1",
        bool((giou > -1).all() and (giou <= 1).all() and (iou >= 0).all() and (iou <= 1).all()),
        f"GIoU in [{giou.min().item():.4f}, {giou.max().item():.4f}]",
    )
    disjoint = iou == 0
    proof.holds(
        "giou_negative_when_disjoint",
        "every disjoint random pair has GIoU < 0",
        bool((giou[disjoint] < 0).all()) and int(disjoint.sum()) > 100,
        f"{int(disjoint.sum())} disjoint pairs",
    )


def scale_and_coordinate_losses(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    tight = TIGHT_F64 if f64 == torch.float64 else TIGHT_F32
    gt = torch.tensor([0.0, 0.0, 10.0, 10.0], dtype=f64, device=dev)
    shifted = torch.tensor([2.0, 0.0, 12.0, 10.0], dtype=f64, device=dev)
    shrunk = torch.tensor([0.0, 0.0, 10.0, 6.0], dtype=f64, device=dev)
    l1 = [(p - gt).abs().sum().item() for p in (shifted, shrunk)]
    ious = [iou_and_giou(torch, p, gt)[0].item() for p in (shifted, shrunk)]
    proof.holds(
        "same_l1_different_iou",
        "two predictions with the same L1 corner error (4) have IoU 80/120 and 60/100",
        l1 == [4.0, 4.0] and abs(ious[0] - 2 / 3) < tight and abs(ious[1] - 0.6) < tight,
        f"L1 {l1}, IoU {ious}",
    )
    iou1, giou1 = iou_and_giou(torch, shifted, gt)
    iou10, giou10 = iou_and_giou(torch, 10 * shifted, 10 * gt)
    proof.close(
        "iou_scale_invariant",
        "scaling both boxes by 10: |IoU change| + |GIoU change|",
        (iou10 - iou1).abs() + (giou10 - giou1).abs(),
        0.0,
        tight,
    )
    proof.close(
        "l1_not_scale_invariant",
        "scaling both boxes by 10: L1 distance ratio (the loss grows with object size)",
        (10 * shifted - 10 * gt).abs().sum() / (shifted - gt).abs().sum(),
        10.0,
        tight,
    )


def make_anchors(torch, fh, fw, stride, scales, ratios, dtype, device):
    """Faster R-CNN style: at each cell centre, one anchor per (scale, ratio) with area
    scale² and aspect h/w = ratio. Returns (fh·fw·k, 4) boxes."""
    shapes = []
    for s in scales:
        for r in ratios:
            w, h = s / r**0.5, s * r**0.5
            shapes.append((-w / 2, -h / 2, w / 2, h / 2))
    base = torch.tensor(shapes, dtype=dtype, device=device)  # (k, 4), centred at 0
    cy = (torch.arange(fh, dtype=dtype, device=device) + 0.5) * stride
    cx = (torch.arange(fw, dtype=dtype, device=device) + 0.5) * stride
    yy, xx = torch.meshgrid(cy, cx, indexing="ij")
    centres = torch.stack([xx, yy, xx, yy], dim=-1).reshape(-1, 1, 4)
    return (centres + base[None]).reshape(-1, 4)


def encode(torch, boxes, anchors):
    """(tx, ty, tw, th) of boxes relative to anchors (Faster R-CNN Eq. 2)."""
    wa, ha = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    xa, ya = anchors[:, 0] + wa / 2, anchors[:, 1] + ha / 2
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    x, y = boxes[:, 0] + w / 2, boxes[:, 1] + h / 2
    return torch.stack([(x - xa) / wa, (y - ya) / ha, torch.log(w / wa), torch.log(h / ha)], dim=1)


def decode(torch, t, anchors):
    wa, ha = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    xa, ya = anchors[:, 0] + wa / 2, anchors[:, 1] + ha / 2
    x, y = xa + t[:, 0] * wa, ya + t[:, 1] * ha
    w, h = wa * torch.exp(t[:, 2]), ha * torch.exp(t[:, 3])
    return torch.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], dim=1)


def label_anchors(torch, anchors, gts, pos=0.7, neg=0.3):
    """RPN labels: 1 positive, 0 negative, -1 ignored (Faster R-CNN §3.1.2)."""
    iou = torch.stack([iou_and_giou(torch, anchors, g.expand_as(anchors))[0] for g in gts], dim=1)
    best = iou.max(dim=1).values
    labels = torch.full((len(anchors),), -1, dtype=torch.long, device=anchors.device)
    labels[best < neg] = 0
    labels[best > pos] = 1
    labels[iou.argmax(dim=0)] = 1  # each ground truth's best anchor is positive, whatever its IoU
    return labels, iou


def anchors(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    tight = TIGHT_F64 if f64 == torch.float64 else TIGHT_F32
    fh, fw, stride = 38, 50, 16  # a 600x800 image at stride 16
    scales, ratios = (128, 256, 512), (0.5, 1.0, 2.0)
    boxes = make_anchors(torch, fh, fw, stride, scales, ratios, f64, dev)
    proof.close(
        "anchor_count",
        "anchors on a 50x38 map with 3 scales x 3 ratios: W·H·9",
        len(boxes),
        fw * fh * 9,
        0,
    )
    first = boxes[:9]
    a, aspect = areas(torch, first), (first[:, 3] - first[:, 1]) / (first[:, 2] - first[:, 0])
    want_area = torch.tensor([s * s for s in scales for _ in ratios], dtype=f64, device=dev)
    want_aspect = torch.tensor([r for _ in scales for r in ratios], dtype=f64, device=dev)
    proof.below(
        "anchor_shapes",
        "the 9 anchors of one position: max relative error of area (128², 256², 512²) and of h/w (1/2, 1, 2)",
        torch.maximum((a / want_area - 1).abs().max(), (aspect / want_aspect - 1).abs().max()),
        tight,
    )

    proof.reseed(2)
    n = 1000
    anchor_set = boxes[torch.randint(0, len(boxes), (n,), device=dev)]
    centre = torch.rand(n, 2, dtype=f64, device=dev) * 600
    size = torch.rand(n, 2, dtype=f64, device=dev) * 300 + 10
    gt = torch.cat([centre - size / 2, centre + size / 2], dim=1)
    t = encode(torch, gt, anchor_set)
    proof.below(
        "encode_decode_round_trip",
        "decode(encode(box, anchor), anchor) vs box, 1000 random pairs: max |error| (pixels)",
        (decode(torch, t, anchor_set) - gt).abs().max(),
        1e-9 if f64 == torch.float64 else 1e-2,
    )
    proof.below(
        "encoding_scale_invariant",
        "the image (boxes and anchors) scaled by 2.5: max |change of (tx, ty, tw, th)|",
        (encode(torch, 2.5 * gt, 2.5 * anchor_set) - t).abs().max(),
        tight * 100,
    )
    anchor = torch.tensor([[0.0, 0.0, 100.0, 100.0]], dtype=f64, device=dev)
    wide = torch.tensor([[-50.0, 0.0, 150.0, 100.0]], dtype=f64, device=dev)
    narrow = torch.tensor([[25.0, 0.0, 75.0, 100.0]], dtype=f64, device=dev)
    tw_wide, tw_narrow = encode(torch, wide, anchor)[0, 2], encode(torch, narrow, anchor)[0, 2]
    proof.close(
        "log_width_symmetric",
        "tw for a box twice as wide as the anchor plus tw for one half as wide (log space: +log 2 - log 2)",
        tw_wide + tw_narrow,
        0.0,
        tight,
    )
    proof.close(
        "log_width_value",
        "tw for twice the anchor's width = log 2",
        tw_wide,
        0.6931471805599453,
        tight,
    )

    # Labelling: one ordinary ground truth and one thin one that no anchor fits.
    gts = torch.tensor(
        [[200.0, 150.0, 456.0, 406.0], [600.0, 100.0, 632.0, 420.0]], dtype=f64, device=dev
    )
    labels, iou = label_anchors(torch, boxes, gts)
    best_thin = iou[:, 1].max()
    proof.below(
        "thin_box_no_anchor_above_07",
        "a 32x320 ground truth: best IoU with any of the 17,100 anchors (below the 0.7 threshold)",
        best_thin,
        0.7,
    )
    proof.holds(
        "best_anchor_rule_gives_positive",
        "that thin box still gets a positive anchor, by the 'highest IoU for this ground truth' rule",
        bool(labels[iou[:, 1].argmax()] == 1) and int((iou[:, 1] > 0.7).sum()) == 0,
        f"best IoU {best_thin.item():.3f}",
    )
    counts = [int((labels == v).sum()) for v in (1, 0, -1)]
    proof.table(
        "RPN anchor labels for two ground truths (IoU > 0.7 positive, < 0.3 negative)",
        ["positive", "negative", "ignored", "best IoU, 256x256 box", "best IoU, 32x320 box"],
        [counts + [round(iou[:, 0].max().item(), 4), round(best_thin.item(), 4)]],
    )


if __name__ == "__main__":
    main(run, __doc__)
