"""Segmentation networks: U-Net's shapes and skips, FCN's score fusion, and the mIoU metric

Built with real PyTorch layers, measured:

- The original U-Net (Ronneberger et al. 2015): unpadded 3x3 convs, 2x2
  max-pools, 2x2 up-convolutions (ConvTranspose2d, stride 2), skips that are
  CROPPED and CONCATENATED. A 572x572 tile gives a 388x388 map; the skips are
  cropped 64->56, 136->104, 280->200, 568->392; the net has 23 conv layers
  (the paper's count) and 31,030,658 parameters (1 input channel, 2 classes;
  the paper gives no count, this one holds for up-convolutions built as
  ConvTranspose2d(k=2, s=2) and a bias on every layer). Valid tile sizes are
  124 + 16b: then every max-pool sees an even size and the output is the
  input minus 184 (92 pixels of context lost on each side).
- Concatenation vs addition: the first decoder conv reads 2C channels after a
  concat and C after an add, so it has twice the weights (the whole U-Net:
  31.03M vs 27.90M). Concat keeps both maps and lets the next conv weigh
  them separately; a conv over the concat with weights [W, W] is exactly the
  conv of the sum, so addition is a special case.
- FCN (Long et al. 2015) fuses class SCORES, not features: the skip from
  pool4 is a 1x1 conv to 21 classes (10,773 parameters) added to the 2x
  upsampled stride-32 scores; zero-initialized, it leaves FCN-32s's
  predictions unchanged at the start of training. The 2x layer here is a
  4x4, stride-2 ConvTranspose2d without bias (7,056 parameters), the choice
  of the authors' reference Caffe models; the paper does not state it.
- mIoU from a confusion matrix: IoU_c = TP / (TP + FP + FN), averaged over
  classes. Predicting all background on a 90/10 image scores pixel accuracy
  0.9 but mIoU 0.45. Accumulating the confusion matrix over the whole set
  differs from averaging per-image IoUs. Dice = 2 IoU / (1 + IoU) for every
  mask pair, and cross-entropy with ignore_index drops the ignored pixels
  from the mean.
"""

from quizcnn.proofkit import Proof, main


def build_unet(nn, widths, merge="concat", in_ch=1, classes=2, device=None, dtype=None):
    """The U-Net of Ronneberger et al. (Fig. 1), with a choice of skip merge."""
    kw = {"device": device, "dtype": dtype}

    def double(cin, cout):
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, **kw), nn.ReLU(), nn.Conv2d(cout, cout, 3, **kw), nn.ReLU()
        )

    factor = 2 if merge == "concat" else 1
    down = nn.ModuleList([double(in_ch if i == 0 else widths[i - 1], widths[i]) for i in range(5)])
    up = nn.ModuleList(
        [nn.ConvTranspose2d(widths[i], widths[i - 1], 2, stride=2, **kw) for i in range(4, 0, -1)]
    )
    dec = nn.ModuleList([double(factor * widths[i - 1], widths[i - 1]) for i in range(4, 0, -1)])
    head = nn.Conv2d(widths[0], classes, 1, **kw)
    return nn.ModuleDict({"down": down, "up": up, "dec": dec, "head": head})


def unet_forward(torch, net, x, merge="concat"):
    """Forward pass that also reports the sizes each max-pool sees and each crop."""
    skips, pooled_sizes, crops = [], [], []
    for i, block in enumerate(net["down"]):
        x = block(x)
        if i < 4:
            skips.append(x)
            pooled_sizes.append(x.shape[-1])
            x = torch.nn.functional.max_pool2d(x, 2)
    for up, dec, skip in zip(net["up"], net["dec"], reversed(skips), strict=True):
        x = up(x)
        off = (skip.shape[-1] - x.shape[-1]) // 2
        crops.append((skip.shape[-1], x.shape[-1]))
        cropped = skip[..., off : off + x.shape[-2], off : off + x.shape[-1]]
        x = torch.cat([cropped, x], dim=1) if merge == "concat" else cropped + x
        x = dec(x)
    return net["head"](x), pooled_sizes, crops


def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def run(proof: Proof) -> None:
    unet_shapes(proof)
    concat_vs_add(proof)
    fcn_fusion(proof)
    miou(proof)


def unet_shapes(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    nn = torch.nn
    proof.reseed(1)
    # Channel widths do not change any size: run the shapes with 1, 2, 4, 8, 16 channels.
    narrow = build_unet(nn, [1, 2, 4, 8, 16], device=dev, dtype=f64)
    with torch.no_grad():
        out, pooled, crops = unet_forward(
            torch, narrow, torch.randn(1, 1, 572, 572, device=dev, dtype=f64)
        )
    proof.close(
        "unet_572_output", "U-Net output side for a 572x572 input tile", out.shape[-1], 388, 0
    )
    proof.holds(
        "unet_crops",
        "skip crops (skip side -> upsampled side): 64->56, 136->104, 280->200, 568->392",
        crops == [(64, 56), (136, 104), (280, 200), (568, 392)],
        detail=f"{crops}",
    )
    proof.holds(
        "unet_pools_even",
        "for 572 every 2x2 max-pool sees an even side (568, 280, 136, 64)",
        pooled == [568, 280, 136, 64],
        detail=f"{pooled}",
    )
    rows = []
    lost = set()
    odd_seen = {}
    with torch.no_grad():
        for side in (188, 204, 220, 190, 196):
            out, pooled, _ = unet_forward(
                torch, narrow, torch.randn(1, 1, side, side, device=dev, dtype=f64)
            )
            odd = [s for s in pooled if s % 2]
            odd_seen[side] = bool(odd)
            if not odd:
                lost.add(side - out.shape[-1])
            rows.append(
                [
                    side,
                    (side - 124) % 16 == 0,
                    str(pooled),
                    "none" if not odd else str(odd),
                    out.shape[-1],
                ]
            )
    proof.table(
        "U-Net tile sizes: 124 + 16b keeps every max-pool input even",
        ["input", "124 + 16b?", "sides at the 4 max-pools", "odd sides", "output"],
        rows,
    )
    proof.holds(
        "unet_valid_tiles",
        "inputs 188, 204, 220 (= 124 + 16b) see only even pools, lose exactly 184 pixels; "
        "190 and 196 hit an odd-size pool",
        lost == {184}
        and not any(odd_seen[s] for s in (188, 204, 220))
        and odd_seen[190]
        and odd_seen[196],
        detail=f"lost {sorted(lost)}, odd pools {odd_seen}",
    )
    full = build_unet(nn, [64, 128, 256, 512, 1024], device="meta")
    convs = sum(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in full.modules())
    proof.close(
        "unet_conv_layers",
        "conv layers in U-Net (3x3, 2x2 up-convs and the final 1x1)",
        convs,
        23,
        0,
    )
    proof.close(
        "unet_params",
        "parameters of U-Net, 1 input channel, 2 classes",
        n_params(full),
        31_030_658,
        0,
    )


def concat_vs_add(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    nn = torch.nn
    F = torch.nn.functional
    widths = [64, 128, 256, 512, 1024]
    cat_net = build_unet(nn, widths, "concat", device="meta")
    add_net = build_unet(nn, widths, "add", device="meta")
    rows = []
    for stage, (c_cat, c_add) in enumerate(zip(cat_net["dec"], add_net["dec"], strict=True), 1):
        rows.append(
            [
                stage,
                c_add[0].in_channels,
                c_cat[0].in_channels,
                c_add[0].in_channels,
                n_params(c_cat[0]),
                n_params(c_add[0]),
            ]
        )
    proof.table(
        "U-Net decoder: first 3x3 conv after the skip merge (with bias)",
        ["stage", "C (skip = upsampled)", "in, concat", "in, add", "params, concat", "params, add"],
        rows,
    )
    first = cat_net["dec"][0][0], add_net["dec"][0][0]
    proof.close(
        "first_decoder_conv_ratio",
        "stage 1 (512 + 512 channels): weights of the conv after concat / after add",
        first[0].weight.numel() / first[1].weight.numel(),
        2.0,
        0,
    )
    proof.close(
        "unet_params_add",
        "parameters of the same U-Net with additive skips",
        n_params(add_net),
        27_897_218,
        0,
    )
    # Addition is a special case of concatenation followed by a conv.
    proof.reseed(2)
    a = torch.randn(2, 8, 10, 10, device=dev, dtype=f64)
    b = torch.randn(2, 8, 10, 10, device=dev, dtype=f64)
    w = torch.randn(6, 8, 3, 3, device=dev, dtype=f64)
    via_cat = F.conv2d(torch.cat([a, b], 1), torch.cat([w, w], 1), padding=1)
    via_add = F.conv2d(a + b, w, padding=1)
    proof.close(
        "concat_contains_add",
        "conv(concat(a, b)) with weights [W, W] vs conv(a + b) with W: max diff",
        (via_cat - via_add).abs().max(),
        0.0,
        1e-12,
    )


def fcn_fusion(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    nn = torch.nn
    F = torch.nn.functional
    proof.reseed(3)
    score_pool4 = nn.Conv2d(512, 21, 1, device=dev, dtype=f64)
    up2 = nn.ConvTranspose2d(21, 21, 4, stride=2, padding=1, bias=False, device=dev, dtype=f64)
    proof.close(
        "fcn_pool4_score_params",
        "FCN-16s skip: 1x1 conv pool4 (512) -> 21 classes, params",
        n_params(score_pool4),
        512 * 21 + 21,
        0,
    )
    proof.close(
        "fcn_up2_params",
        "FCN 2x upsampling ConvTranspose2d(21, 21, 4, stride=2), params",
        n_params(up2),
        21 * 21 * 16,
        0,
    )
    nn.init.zeros_(score_pool4.weight)
    nn.init.zeros_(score_pool4.bias)
    scores32 = torch.randn(1, 21, 8, 8, device=dev, dtype=f64)  # conv7 scores at stride 32
    pool4 = torch.randn(1, 512, 16, 16, device=dev, dtype=f64)  # pool4 features at stride 16
    with torch.no_grad():
        coarse = up2(scores32)
        fused = coarse + score_pool4(pool4)
    proof.close(
        "fcn_zero_init_unchanged",
        "zero-initialized pool4 scores: fused − upsampled FCN-32s scores, max |diff|",
        (fused - coarse).abs().max(),
        0.0,
        0.0,
    )
    proof.holds(
        "fcn_fused_stride16",
        "fused scores are at stride 16: 16x16 for a 256x256 image",
        tuple(fused.shape[-2:]) == (16, 16)
        and F.interpolate(fused, scale_factor=16).shape[-1] == 256,
        detail=f"{tuple(fused.shape)}",
    )


def confusion(torch, pred, target, classes, ignore=255):
    keep = target != ignore
    idx = target[keep] * classes + pred[keep]
    return torch.bincount(idx, minlength=classes * classes).reshape(classes, classes)


def iou_per_class(conf):
    tp = conf.diag().double()
    return tp / (conf.sum(0) + conf.sum(1) - conf.diag()).double()


def miou(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    F = torch.nn.functional
    # 1. A 10x10 image: 90 background pixels, a 2x5 object; the model predicts all background.
    target = torch.zeros(10, 10, dtype=torch.long, device=dev)
    target[4:6, 2:7] = 1
    pred = torch.zeros_like(target)
    conf = confusion(torch, pred, target, 2)
    ious = iou_per_class(conf)
    acc = conf.diag().sum().item() / conf.sum().item()
    proof.close(
        "pixel_acc_all_background", "all-background prediction: pixel accuracy", acc, 0.9, 1e-12
    )
    proof.close(
        "miou_all_background",
        "all-background prediction: mIoU (IoU 0.9 and 0)",
        ious.mean(),
        0.45,
        1e-12,
    )
    # 2. Dataset-level vs per-image: a large object found, a small one missed.
    t1 = torch.zeros(10, 10, dtype=torch.long, device=dev)
    t1[:5, :] = 1  # 50 object pixels, predicted exactly
    p1 = t1.clone()
    t2 = torch.zeros(10, 10, dtype=torch.long, device=dev)
    t2[0, :2] = 1  # 2 object pixels, missed
    p2 = torch.zeros_like(t2)
    per_image = [
        iou_per_class(confusion(torch, p, t, 2))[1].item() for p, t in ((p1, t1), (p2, t2))
    ]
    pooled = iou_per_class(confusion(torch, p1, t1, 2) + confusion(torch, p2, t2, 2))[1].item()
    proof.table(
        "Object-class IoU: per image vs accumulated over the set",
        ["image 1 (50 px, found)", "image 2 (2 px, missed)", "mean of per-image", "accumulated"],
        [
            [
                f"{per_image[0]:.4f}",
                f"{per_image[1]:.4f}",
                f"{sum(per_image) / 2:.4f}",
                f"{pooled:.4f}",
            ]
        ],
    )
    proof.close(
        "object_iou_accumulated",
        "object IoU from the accumulated confusion matrix (50/52)",
        pooled,
        50 / 52,
        1e-12,
    )
    proof.close(
        "object_iou_per_image_mean",
        "object IoU averaged over the two images",
        sum(per_image) / 2,
        0.5,
        1e-12,
    )
    # 3. Dice and IoU are monotone transforms of each other.
    proof.reseed(4)
    worst = 0.0
    for _ in range(50):
        a = torch.rand(32, 32, device=dev) < torch.rand(1, device=dev)
        b = torch.rand(32, 32, device=dev) < torch.rand(1, device=dev)
        inter, union = (a & b).sum().item(), (a | b).sum().item()
        if union == 0:
            continue
        iou = inter / union
        dice = 2 * inter / (a.sum().item() + b.sum().item())
        worst = max(worst, abs(dice - 2 * iou / (1 + iou)))
    proof.close(
        "dice_from_iou",
        "Dice − 2·IoU/(1 + IoU) over 50 random mask pairs: max |diff|",
        worst,
        0.0,
        1e-12,
    )
    # 4. Ignored pixels (VOC marks object borders 255) leave the loss.
    logits = torch.randn(1, 3, 6, 6, device=dev, dtype=f64)
    labels = torch.randint(0, 3, (1, 6, 6), device=dev)
    labels[0, :2, :] = 255
    with_ignore = F.cross_entropy(logits, labels, ignore_index=255)
    keep = labels != 255
    manual = F.cross_entropy(logits.permute(0, 2, 3, 1)[keep], labels[keep])
    proof.close(
        "ignore_index_mean",
        "CE with ignore_index=255 vs CE over the 24 kept pixels only",
        (with_ignore - manual).abs(),
        0.0,
        1e-12,
    )


if __name__ == "__main__":
    main(run, __doc__)
