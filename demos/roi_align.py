"""RoI Pool vs RoI Align: quantization misaligns the pooled features, bilinear sampling does not

Both layers turn a box on a stride-16 feature map into a fixed grid of bins.
RoI Pool (Fast R-CNN) rounds the box to feature-map cells and then splits it
into bins with floor/ceil, so every bin covers whole cells; RoI Align (Mask
R-CNN, He et al. 2017, §3) keeps the box and bins continuous and reads each
bin at regularly spaced points by bilinear interpolation, then averages.

The feature map here is a linear ramp F(x, y) = x + 10·y (pixel index i,j at
coordinate (j, i), the legacy convention of torchvision's roi_pool and of
roi_align(aligned=False)). Bilinear interpolation is exact on a linear
function, so:

- RoI Align returns exactly F at each bin centre: for the box (36.8, 57.6,
  145.6, 139.2) in image pixels, i.e. (2.3, 3.6, 9.1, 8.7) on the map, and a
  2x2 output: 52.75, 56.15, 78.25, 81.65. The version built on
  torch.nn.functional.grid_sample agrees with a by-hand bilinear one.
- RoI Pool rounds the box to (2, 4, 9, 9) and bins it as columns {2..5},
  {6..9} and rows {4, 5, 6}, {7, 8, 9}: max-pooling the ramp gives 65, 69,
  95, 99, and even average-pooling those cells gives 53.5, 57.5, 83.5, 87.5,
  because the cells' centres sit up to 0.575 cells (9.2 image pixels) away
  from the true bin centres.
- Shift the box by 1.6 image pixels: RoI Align's output moves by exactly
  0.1 (it is continuous in the box), RoI Pool's does not move at all.
- aligned=True (half-pixel offset) shifts every sample by -0.5 cell, so the
  output changes by -0.5·(1 + 10) = -5.5 on this ramp.
- Over random boxes the quantization error in image pixels roughly doubles
  from stride 16 to stride 32, which is why Mask R-CNN's gain from RoI Align
  is larger on stride-32 features (Table 2d).
- With an FPN (Lin et al. 2017) the RoI is first assigned a level,
  k = ⌊4 + log2(√(wh)/224)⌋ clamped to P2-P5: 224² goes to P4, 112² to P3,
  448² to P5, 32² to P2. Each P_k comes from a top-down pathway (2x nearest
  upsampling) added element-wise to a 1x1 lateral conv of the backbone map,
  then a 3x3 conv; so P3 depends on C5, which it does not without the
  top-down pathway.
"""

import math

from quizcnn.proofkit import Proof, main

H = W = 16
STRIDE = 16
BOX = (36.8, 57.6, 145.6, 139.2)  # image pixels: x1, y1, x2, y2


def ramp(torch, dtype, device, h=H, w=W, ax=1.0, ay=10.0):
    ys = torch.arange(h, dtype=dtype, device=device)[:, None]
    xs = torch.arange(w, dtype=dtype, device=device)[None, :]
    return (ax * xs + ay * ys)[None, None]  # (1, 1, H, W)


def bin_sample_points(box, scale, out, sr, aligned):
    """Sample coordinates (ys, xs) in feature-map units, sr x sr per bin (torchvision's rule)."""
    offset = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = (c * scale - offset for c in box)
    roi_w, roi_h = x2 - x1, y2 - y1
    if not aligned:  # the legacy kernel forces malformed boxes to at least 1x1
        roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
    bin_w, bin_h = roi_w / out, roi_h / out
    ys = [y1 + p * bin_h + (k + 0.5) * bin_h / sr for p in range(out) for k in range(sr)]
    xs = [x1 + p * bin_w + (k + 0.5) * bin_w / sr for p in range(out) for k in range(sr)]
    return ys, xs


def bilinear(fmap, y, x):
    """torchvision's roi_align bilinear_interpolate for one channel (a list of rows), by hand."""
    h, w = len(fmap), len(fmap[0])
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return 0.0
    y, x = max(y, 0.0), max(x, 0.0)
    y0, x0 = int(y), int(x)
    if y0 >= h - 1:
        y0 = y1 = h - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= w - 1:
        x0 = x1 = w - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    ly, lx = y - y0, x - x0
    hy, hx = 1 - ly, 1 - lx
    f = fmap
    return hy * hx * f[y0][x0] + hy * lx * f[y0][x1] + ly * hx * f[y1][x0] + ly * lx * f[y1][x1]


def roi_align_by_hand(fmap, box, scale, out=2, sr=2, aligned=False):
    grid = fmap[0, 0].tolist()
    ys, xs = bin_sample_points(box, scale, out, sr, aligned)
    result = []
    for py in range(out):
        row = []
        for px in range(out):
            vals = [
                bilinear(grid, ys[py * sr + a], xs[px * sr + b])
                for a in range(sr)
                for b in range(sr)
            ]
            row.append(sum(vals) / len(vals))
        result.append(row)
    return result


def roi_align_grid_sample(torch, fmap, box, scale, out=2, sr=2, aligned=False):
    """RoI Align from torch.nn.functional.grid_sample: sample, then average each sr x sr block.
    align_corners=True maps -1 and +1 to the centres of the first and last pixel, which is
    the legacy 'pixel i at coordinate i' convention."""
    h, w = fmap.shape[-2:]
    ys, xs = bin_sample_points(box, scale, out, sr, aligned)
    gy = torch.tensor(ys, dtype=fmap.dtype, device=fmap.device) * 2 / (h - 1) - 1
    gx = torch.tensor(xs, dtype=fmap.dtype, device=fmap.device) * 2 / (w - 1) - 1
    grid = torch.stack(torch.meshgrid(gx, gy, indexing="xy"), dim=-1)[
        None
    ]  # (1, out·sr, out·sr, 2)
    samples = torch.nn.functional.grid_sample(
        fmap, grid, mode="bilinear", padding_mode="zeros", align_corners=True
    )
    return torch.nn.functional.avg_pool2d(samples, sr)[0, 0]


def _round(v):
    return int(math.floor(v + 0.5))  # C's round() for the positive coordinates used here


def roi_pool(torch, fmap, box, scale, out=2, reduce="max"):
    """torchvision's roi_pool kernel: round the box, floor/ceil the bins, max (or mean) of cells."""
    h, w = fmap.shape[-2:]
    x1, y1, x2, y2 = (_round(c * scale) for c in box)
    roi_w, roi_h = max(x2 - x1 + 1, 1), max(y2 - y1 + 1, 1)
    bin_w, bin_h = roi_w / out, roi_h / out
    result = torch.zeros(out, out, dtype=fmap.dtype, device=fmap.device)
    cells = []
    for py in range(out):
        hs = min(max(math.floor(py * bin_h) + y1, 0), h)
        he = min(max(math.ceil((py + 1) * bin_h) + y1, 0), h)
        for px in range(out):
            ws = min(max(math.floor(px * bin_w) + x1, 0), w)
            we = min(max(math.ceil((px + 1) * bin_w) + x1, 0), w)
            region = fmap[0, 0, hs:he, ws:we]
            result[py, px] = region.max() if reduce == "max" else region.mean()
            cells.append(((hs, he), (ws, we)))
    return result, cells


def run(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    tight = 1e-10 if f64 == torch.float64 else 1e-3
    fmap = ramp(torch, f64, dev)
    scale = 1.0 / STRIDE

    align = roi_align_grid_sample(torch, fmap, BOX, scale)
    by_hand = torch.tensor(roi_align_by_hand(fmap, BOX, scale), dtype=f64, device=dev)
    centres_x = [2.3 + 3.4 * 0.5, 2.3 + 3.4 * 1.5]
    centres_y = [3.6 + 2.55 * 0.5, 3.6 + 2.55 * 1.5]
    exact = torch.tensor(
        [[x + 10 * y for x in centres_x] for y in centres_y], dtype=f64, device=dev
    )
    pool_max, cells = roi_pool(torch, fmap, BOX, scale, reduce="max")
    pool_avg, _ = roi_pool(torch, fmap, BOX, scale, reduce="mean")

    proof.below(
        "grid_sample_matches_hand",
        "RoI Align via grid_sample vs by-hand bilinear sampling: max |difference|",
        (align - by_hand).abs().max(),
        tight,
    )
    proof.below(
        "align_exact_at_bin_centres",
        "RoI Align on the ramp vs F(bin centre) = 52.75, 56.15, 78.25, 81.65: max |error|",
        (align - exact).abs().max(),
        tight,
    )
    proof.holds(
        "pool_quantized_cells",
        "RoI Pool rounds (2.3, 3.6, 9.1, 8.7) to cells x 2..9, y 4..9 and bins them {2..5}, {6..9} × {4,5,6}, {7,8,9}",
        cells == [((4, 7), (2, 6)), ((4, 7), (6, 10)), ((7, 10), (2, 6)), ((7, 10), (6, 10))],
        str(cells),
    )
    proof.below(
        "pool_max_hand",
        "RoI Pool (max) on the ramp vs 65, 69, 95, 99 (each bin's bottom-right cell): max |difference|",
        (pool_max - torch.tensor([[65.0, 69.0], [95.0, 99.0]], dtype=f64, device=dev)).abs().max(),
        tight,
    )
    proof.close(
        "pool_avg_error",
        "RoI Pool with averaging: mean |output - exact| over the 4 bins (misalignment alone)",
        (pool_avg - exact).abs().mean(),
        (0.75 + 1.35 + 5.25 + 5.85) / 4,
        tight,
    )

    # The displacement of each bin: pool the coordinate ramps x and y themselves.
    xr, yr = ramp(torch, f64, dev, ax=1.0, ay=0.0), ramp(torch, f64, dev, ax=0.0, ay=1.0)
    dx = roi_pool(torch, xr, BOX, scale, reduce="mean")[0] - roi_align_grid_sample(
        torch, xr, BOX, scale
    )
    dy = roi_pool(torch, yr, BOX, scale, reduce="mean")[0] - roi_align_grid_sample(
        torch, yr, BOX, scale
    )
    shift = torch.maximum(dx.abs(), dy.abs()).max()
    proof.close(
        "pool_max_displacement",
        "largest offset (in cells) between a RoI Pool bin's cell centre and the true bin centre",
        shift,
        0.575,
        tight,
    )
    proof.close(
        "pool_displacement_in_pixels",
        "the same offset in image pixels at stride 16",
        shift * STRIDE,
        9.2,
        tight * STRIDE,
    )

    moved = (BOX[0] + 1.6, BOX[1], BOX[2] + 1.6, BOX[3])
    align_moved = roi_align_grid_sample(torch, fmap, moved, scale)
    pool_moved, _ = roi_pool(torch, fmap, moved, scale, reduce="max")
    proof.below(
        "align_follows_box",
        "box moved right by 1.6 px (0.1 cell): RoI Align output change minus 0.1, max |·|",
        (align_moved - align - 0.1).abs().max(),
        tight,
    )
    proof.close(
        "pool_ignores_small_shift",
        "the same move: RoI Pool output change (rounding absorbs it), max |·|",
        (pool_moved - pool_max).abs().max(),
        0.0,
        0.0,
    )
    aligned = roi_align_grid_sample(torch, fmap, BOX, scale, aligned=True)
    proof.below(
        "aligned_flag_half_cell",
        "aligned=True minus aligned=False: max |difference - (-0.5·(1 + 10))|",
        (aligned - align + 5.5).abs().max(),
        tight,
    )

    proof.table(
        "Box (36.8, 57.6, 145.6, 139.2) on a stride-16 ramp F = x + 10y, 2x2 output",
        ["layer", "bin (0,0)", "bin (0,1)", "bin (1,0)", "bin (1,1)"],
        [
            ["exact F(bin centre)"] + [round(v, 4) for v in exact.flatten().tolist()],
            ["RoI Align (grid_sample)"] + [round(v, 4) for v in align.flatten().tolist()],
            ["RoI Pool, max"] + pool_max.flatten().tolist(),
            ["RoI Pool, average"] + pool_avg.flatten().tolist(),
            ["RoI Align, aligned=True"] + [round(v, 4) for v in aligned.flatten().tolist()],
        ],
    )
    random_boxes(proof, tight)
    fpn(proof, tight)


def random_boxes(proof: Proof, tight: float) -> None:
    """Mean quantization offset over random boxes, 7x7 output, at stride 16 and 32.
    Boxes stay inside the last pixel centre of the stride-32 map, where bilinear is exact."""
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    proof.reseed(3)
    image = 512
    rows, errors, offsets = [], [], {}
    for stride in (16, 32):
        size = image // stride
        xr = ramp(torch, f64, dev, size, size, 1.0, 0.0)
        yr = ramp(torch, f64, dev, size, size, 0.0, 1.0)
        fmap = ramp(torch, f64, dev, size, size, 1.0, 10.0)
        total, count = 0.0, 0
        for _ in range(20):
            x1, y1 = (torch.rand(2) * 200).tolist()
            w, h = (torch.rand(2) * 200 + 60).tolist()
            box = (x1, y1, x1 + w, y1 + h)
            scale = 1.0 / stride
            align = roi_align_grid_sample(torch, fmap, box, scale, out=7)
            ys, xs = bin_sample_points(box, scale, 7, 1, False)  # one point per bin = its centre
            exact = torch.tensor([[x + 10 * y for x in xs] for y in ys], dtype=f64, device=dev)
            errors.append((align - exact).abs().max().item())
            dx = roi_pool(torch, xr, box, scale, out=7, reduce="mean")[0] - roi_align_grid_sample(
                torch, xr, box, scale, out=7
            )
            dy = roi_pool(torch, yr, box, scale, out=7, reduce="mean")[0] - roi_align_grid_sample(
                torch, yr, box, scale, out=7
            )
            total += ((dx**2 + dy**2).sqrt() * stride).sum().item()
            count += 49
        offsets[stride] = total / count
        rows.append([stride, f"{size}x{size}", round(offsets[stride], 3)])
    proof.table(
        "RoI Pool's mean bin-centre offset, 20 random boxes, 7x7 output, 512x512 image",
        ["stride", "feature map", "mean offset (image px)"],
        rows,
    )
    proof.below(
        "align_exact_random_boxes",
        "RoI Align, 20 random boxes, 7x7 bins: max |output - F(bin centre)|",
        max(errors),
        tight,
    )
    proof.above(
        "stride32_offset_larger",
        "RoI Pool's mean offset in image pixels: stride 32 / stride 16",
        offsets[32] / offsets[16],
        1.5,
    )


def fpn_level(w, h, k0=4, k_min=2, k_max=5):
    """FPN Eq. 1: k = floor(k0 + log2(sqrt(w h) / 224)), clamped to the levels that exist."""
    return min(max(math.floor(k0 + math.log2(math.sqrt(w * h) / 224)), k_min), k_max)


def fpn(proof: Proof, tight: float) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    nn, F = torch.nn, torch.nn.functional
    sizes = [(224, 224), (112, 112), (448, 448), (32, 32), (896, 896), (150, 90)]
    levels = [fpn_level(w, h) for w, h in sizes]
    proof.holds(
        "fpn_levels",
        "FPN level of RoIs 224², 112², 448², 32², 896², 150x90: P4, P3, P5, P2 (clamped), P5 (clamped), P3",
        levels == [4, 3, 5, 2, 5, 3],
        str(levels),
    )

    proof.reseed(4)
    d = 8
    chans = {3: 16, 4: 32, 5: 64}
    c = {
        k: torch.randn(1, ch, 2 ** (8 - k), 2 ** (8 - k), dtype=f64, device=dev)
        for k, ch in chans.items()
    }
    lateral = {k: nn.Conv2d(ch, d, 1).to(dev, f64) for k, ch in chans.items()}
    smooth = {k: nn.Conv2d(d, d, 3, padding=1).to(dev, f64) for k in chans}
    for t in c.values():
        t.requires_grad_(True)

    def build(top_down=True):
        m = {5: lateral[5](c[5])}
        for k in (4, 3):
            m[k] = lateral[k](c[k]) + (
                F.interpolate(m[k + 1], scale_factor=2, mode="nearest") if top_down else 0
            )
        return {k: smooth[k](m[k]) for k in m}, m

    p, m = build()
    proof.holds(
        "fpn_shapes",
        "P3, P4, P5 have d = 8 channels each and the spatial size of C3, C4, C5 (32², 16², 8²)",
        all(p[k].shape == (1, d, *c[k].shape[-2:]) for k in chans),
        str({k: tuple(p[k].shape) for k in p}),
    )
    up = m[5].repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    proof.below(
        "fpn_merge_is_addition",
        "M4 vs lateral 1x1(C4) + M5 repeated 2x2 (nearest upsampling): max |difference|",
        (m[4] - (lateral[4](c[4]) + up)).abs().max(),
        tight,
    )
    (g5,) = torch.autograd.grad(p[3].sum(), c[5], retain_graph=True)
    p_flat, _ = build(top_down=False)
    (g5_flat,) = torch.autograd.grad(
        p_flat[3].sum(), c[5], allow_unused=True, materialize_grads=True
    )
    proof.above(
        "p3_sees_c5",
        "with the top-down pathway: |∂ sum(P3) / ∂ C5| (semantics of the coarsest map reach P3)",
        g5.abs().sum(),
        1e-3,
    )
    proof.close(
        "p3_blind_without_top_down",
        "without it (laterals only): |∂ sum(P3) / ∂ C5|",
        g5_flat.abs().sum(),
        0.0,
        0.0,
    )


if __name__ == "__main__":
    main(run, __doc__)
