"""ResNet-50 by hand: 25,557,032 parameters and about 4.1 billion multiply-adds

A ResNet-50 built from torch.nn layers only (no torchvision) has exactly the
parameter count torchvision's resnet50 reports, 25,557,032 (the "25.6M" of the
literature), and the proof checks it against a closed-form sum computed stage
by stage: stem, four stages of bottleneck blocks (3, 4, 6, 3 blocks, widths 64,
128, 256, 512, expansion 4) and the 2048 -> 1000 classifier.

It also shows, with the same building blocks:

- bottleneck vs basic block: a 256-64-256 bottleneck (1x1, 3x3, 1x1) has about
  the same weights as a basic 64-d block of two 3x3 convs (He et al. Fig. 5),
  which is how ResNet-50/101/152 get deep without getting expensive;
- shortcuts: the identity shortcut has no parameters but only works when the
  shapes match; when a stage halves the size and widens the channels, the
  projection shortcut (1x1 conv, stride 2, option B) or a zero-padded strided
  identity (option A) makes the shapes match; a projection on every bottleneck
  would almost double its size, which is why identity shortcuts matter there;
- multiply-adds (MACs), counted with forward hooks at 224x224: about 4.1e9 for
  torchvision's layout (stride 2 on the 3x3 conv, "ResNet v1.5") and about
  3.9e9 for the paper's layout (stride 2 on the first 1x1), the number the
  paper's Table 1 calls "3.8 x 10^9 FLOPs": the paper counts multiply-adds,
  and a FLOP count that counts the multiply and the add separately is twice
  as large;
- ResNet-152 is deeper than VGG-16 yet needs fewer multiply-adds.

The full-size networks are built on PyTorch's "meta" device: tensors there have
shapes but no storage, so parameters can be counted and hooks can see every
layer's output shape without allocating or computing anything. The small
blocks run on the chosen device with real numbers.
"""

from __future__ import annotations

from quizcnn.proofkit import Proof, main

STAGE_WIDTHS = (64, 128, 256, 512)
EXPANSION = 4
CLASSES = 1000
DEPTHS = {  # blocks per stage (He et al. Table 1)
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
    "resnet101": ("bottleneck", (3, 4, 23, 3)),
    "resnet152": ("bottleneck", (3, 8, 36, 3)),
}


def conv_bn(nn, cin, cout, k, stride, dev):
    return [
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False, device=dev),
        nn.BatchNorm2d(cout, device=dev),
    ]


def make_blocks(torch):
    nn = torch.nn

    class Bottleneck(nn.Module):
        """1x1 reduce -> 3x3 -> 1x1 expand (x4), plus a shortcut."""

        def __init__(self, cin, width, stride, dev, stride_in_3x3=True, projection=None):
            super().__init__()
            cout = width * EXPANSION
            s1, s3 = (1, stride) if stride_in_3x3 else (stride, 1)
            self.body = nn.Sequential(
                *conv_bn(nn, cin, width, 1, s1, dev),
                nn.ReLU(),
                *conv_bn(nn, width, width, 3, s3, dev),
                nn.ReLU(),
                *conv_bn(nn, width, cout, 1, 1, dev),
            )
            if projection is None:  # option B: project only where the shape changes
                projection = stride != 1 or cin != cout
            self.shortcut = (
                nn.Sequential(*conv_bn(nn, cin, cout, 1, stride, dev))
                if projection
                else nn.Identity()
            )

        def forward(self, x):
            return torch.relu(self.body(x) + self.shortcut(x))

    class Basic(nn.Module):
        """Two 3x3 convs, plus a shortcut (ResNet-18/34)."""

        def __init__(self, cin, width, stride, dev, **_):
            super().__init__()
            self.body = nn.Sequential(
                *conv_bn(nn, cin, width, 3, stride, dev),
                nn.ReLU(),
                *conv_bn(nn, width, width, 3, 1, dev),
            )
            projection = stride != 1 or cin != width
            self.shortcut = (
                nn.Sequential(*conv_bn(nn, cin, width, 1, stride, dev))
                if projection
                else nn.Identity()
            )

        def forward(self, x):
            return torch.relu(self.body(x) + self.shortcut(x))

    return Bottleneck, Basic


def resnet(torch, name, dev, stride_in_3x3=True):
    """Stem (7x7/2 conv + 3x3/2 max pool), four stages, global average pool, FC."""
    nn = torch.nn
    Bottleneck, Basic = make_blocks(torch)
    kind, depths = DEPTHS[name]
    block, expansion = (Bottleneck, EXPANSION) if kind == "bottleneck" else (Basic, 1)
    layers = [*conv_bn(nn, 3, 64, 7, 2, dev), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1)]
    cin = 64
    for stage, (width, blocks) in enumerate(zip(STAGE_WIDTHS, depths, strict=True)):
        for i in range(blocks):
            stride = 2 if stage > 0 and i == 0 else 1  # conv3_1, conv4_1, conv5_1 downsample
            layers.append(block(cin, width, stride, dev, stride_in_3x3=stride_in_3x3))
            cin = width * expansion
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, CLASSES, device=dev)]
    return nn.Sequential(*layers)


def vgg16(torch, dev):
    nn = torch.nn
    layers, cin = [], 3
    for cout, convs in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
        for _ in range(convs):
            layers += [nn.Conv2d(cin, cout, 3, padding=1, device=dev), nn.ReLU()]
            cin = cout
        layers.append(nn.MaxPool2d(2))
    layers += [nn.Flatten(), nn.Linear(512 * 7 * 7, 4096, device=dev), nn.ReLU()]
    layers += [nn.Linear(4096, 4096, device=dev), nn.ReLU(), nn.Linear(4096, CLASSES, device=dev)]
    return nn.Sequential(*layers)


def count_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def count_macs(torch, net, dev, size=224) -> int:
    """Multiply-adds of every Conv2d and Linear for one image, read off forward hooks."""
    total = 0

    def conv_hook(m, _inp, out):
        nonlocal total
        per_output = (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        total += out.numel() * per_output

    def linear_hook(m, _inp, out):
        nonlocal total
        total += out.numel() * m.in_features

    handles = []
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, torch.nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    net.eval()
    with torch.no_grad():
        net(torch.zeros(1, 3, size, size, device=dev))
    for h in handles:
        h.remove()
    return total


def closed_form_bottleneck_resnet(depths) -> tuple[int, list[list]]:
    """Parameters of a bottleneck ResNet, stage by stage (conv weights + 2 per BN channel)."""

    def bn(c):
        return 2 * c

    stem = 3 * 64 * 7 * 7 + bn(64)
    rows = [["stem 7x7/2, 64", stem]]
    total, cin = stem, 64
    for width, blocks in zip(STAGE_WIDTHS, depths, strict=True):
        cout = EXPANSION * width
        body = width * 9 * width + width * cout + bn(width) * 2 + bn(cout)
        first = cin * width + body + cin * cout + bn(cout)  # + projection shortcut
        rest = cout * width + body
        stage = first + (blocks - 1) * rest
        rows.append([f"stage {width}-{width}-{cout} x{blocks}", stage])
        total += stage
        cin = cout
    fc = cin * CLASSES + CLASSES
    rows.append([f"fc {cin} -> {CLASSES}", fc])
    return total + fc, rows


def closed_form_macs(name: str, stride_in_3x3: bool = True) -> int:
    """Multiply-adds from output sizes: 112 after the stem conv, then 56, 28, 14, 7."""
    kind, depths = DEPTHS[name]
    macs = 112 * 112 * 64 * 3 * 7 * 7
    cin, size_in = 64, 56
    for width, blocks, size in zip(STAGE_WIDTHS, depths, (56, 28, 14, 7), strict=True):
        cout = EXPANSION * width if kind == "bottleneck" else width
        for i in range(blocks):
            c_in = cin if i == 0 else cout
            if kind == "bottleneck":
                reduce_size = size_in if (i == 0 and stride_in_3x3) else size
                macs += reduce_size**2 * c_in * width  # 1x1 reduce
                macs += size**2 * width * width * 9  # 3x3
                macs += size**2 * width * cout  # 1x1 expand
            else:
                macs += size**2 * (c_in * width + width * width) * 9  # two 3x3
            if i == 0 and c_in != cout:
                macs += size**2 * c_in * cout  # projection shortcut
        cin, size_in = cout, size
    return macs + cin * CLASSES


def closed_form_vgg16_macs() -> int:
    macs, cin, size = 0, 3, 224
    for cout, convs in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
        for _ in range(convs):
            macs += size**2 * cin * cout * 9
            cin = cout
        size //= 2
    return macs + 512 * 7 * 7 * 4096 + 4096 * 4096 + 4096 * CLASSES


def run(proof: Proof) -> None:
    torch = proof.torch
    dev = proof.device

    # --- ResNet-50: parameters and multiply-adds, on the real device ------
    r50 = resnet(torch, "resnet50", dev)
    measured = count_params(r50)
    closed, stage_rows = closed_form_bottleneck_resnet((3, 4, 6, 3))
    proof.close(
        "resnet50_params", "parameters of the hand-built ResNet-50", measured, 25_557_032, 0
    )
    proof.close(
        "resnet50_closed_form",
        "stage-by-stage closed-form sum of ResNet-50 parameters",
        closed,
        measured,
        0,
    )
    proof.table(
        "ResNet-50 parameters by stage", ["part", "parameters"], [*stage_rows, ["total", closed]]
    )

    macs_v15 = count_macs(torch, r50, dev)
    del r50
    macs_v1 = count_macs(torch, resnet(torch, "resnet50", dev, stride_in_3x3=False), dev)
    proof.close(
        "resnet50_macs_hooks_match_shapes",
        "ResNet-50 (torchvision layout) MACs from hooks = closed form from output sizes",
        macs_v15,
        closed_form_macs("resnet50", stride_in_3x3=True),
        0,
    )
    proof.close(
        "resnet50_paper_layout_hooks_match_shapes",
        "ResNet-50 (paper layout) MACs from hooks = closed form from output sizes",
        macs_v1,
        closed_form_macs("resnet50", stride_in_3x3=False),
        0,
    )
    proof.close(
        "resnet50_gmacs",
        "ResNet-50 (torchvision layout, stride on the 3x3) GMACs at 224x224",
        macs_v15 / 1e9,
        4.1,
        0.05,
    )
    proof.close(
        "resnet50_paper_layout_gmacs",
        "ResNet-50 with the paper's stride on the first 1x1, GMACs (paper: '3.8 x 10^9 FLOPs')",
        macs_v1 / 1e9,
        3.8,
        0.1,
    )
    proof.holds(
        "paper_flops_are_macs",
        "the paper's 3.8e9 matches multiply-adds (within 5%), not 2 x multiply-adds",
        abs(macs_v1 / 3.8e9 - 1) < 0.05 and abs(2 * macs_v1 / 3.8e9 - 1) > 0.5,
        f"MACs {macs_v1:.3e}, 2*MACs {2 * macs_v1:.3e}",
    )

    # --- the family: parameters on the meta device, MACs from shapes -------
    # "meta" tensors have shapes and no storage: building costs nothing.
    meta = torch.device("meta")
    params = {name: count_params(resnet(torch, name, meta)) for name in DEPTHS}
    params["vgg16"] = count_params(vgg16(torch, meta))
    macs = {name: closed_form_macs(name) for name in DEPTHS}
    macs["vgg16"] = closed_form_vgg16_macs()
    paper_macs = {name: closed_form_macs(name, stride_in_3x3=False) for name in DEPTHS}
    proof.table(
        "Parameters and multiply-adds at 224x224 (stride on the 3x3 / on the first 1x1)",
        ["net", "parameters", "GMACs v1.5", "GMACs paper layout"],
        [
            [
                name,
                params[name],
                f"{macs[name] / 1e9:.2f}",
                f"{paper_macs[name] / 1e9:.2f}" if name in paper_macs else "-",
            ]
            for name in params
        ],
    )
    proof.close(
        "resnet152_params",
        "parameters of the hand-built ResNet-152",
        params["resnet152"],
        60_192_808,
        0,
    )
    proof.below(
        "resnet152_cheaper_than_vgg16",
        "ResNet-152 MACs / VGG-16 MACs (9.5x VGG-16's depth, yet cheaper)",
        macs["resnet152"] / macs["vgg16"],
        1.0,
    )

    # --- blocks and shortcuts on the real device ---------------------------
    nn = torch.nn
    Bottleneck, _ = make_blocks(torch)

    def conv_weights(module) -> int:
        return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Conv2d))

    bottleneck = Bottleneck(256, 64, 1, dev)
    basic_64 = nn.Sequential(
        nn.Conv2d(64, 64, 3, padding=1, bias=False, device=dev),
        nn.ReLU(),
        nn.Conv2d(64, 64, 3, padding=1, bias=False, device=dev),
    )
    proof.close(
        "bottleneck_conv_weights",
        "conv weights of a 256-64-256 bottleneck (1x1, 3x3, 1x1)",
        conv_weights(bottleneck),
        256 * 64 + 64 * 64 * 9 + 64 * 256,
        0,
    )
    proof.close(
        "basic_block_conv_weights",
        "conv weights of a basic 64-d block (two 3x3)",
        conv_weights(basic_64),
        2 * 9 * 64 * 64,
        0,
    )
    proof.close(
        "identity_shortcut_params",
        "parameters of the identity shortcut",
        count_params(bottleneck.shortcut),
        0,
        0,
    )
    with_projection = Bottleneck(256, 64, 1, dev, projection=True)
    proof.close(
        "projection_doubles_bottleneck",
        "conv weights of the same bottleneck with a 256->256 projection shortcut / without",
        conv_weights(with_projection) / conv_weights(bottleneck),
        1 + 256 * 256 / (256 * 64 + 64 * 64 * 9 + 64 * 256),
        1e-12,
    )

    # A stage transition: 256 channels at 8x8 -> 512 channels at 4x4.
    x = torch.randn(2, 256, 8, 8, device=dev)
    down = Bottleneck(256, 128, 2, dev).eval()
    with torch.no_grad():
        body_out = down.body(x)
        out = down(x)
        try:
            _ = body_out + x
            identity_fits = True
        except RuntimeError:
            identity_fits = False
        zero_padded = torch.cat(  # option A: subsample, then pad channels with zeros
            [x[:, :, ::2, ::2], torch.zeros(2, 256, 4, 4, device=dev)], dim=1
        )
    proof.holds(
        "identity_fails_when_shape_changes",
        "adding the raw input to a block output of another shape is refused",
        not identity_fits,
        f"{tuple(x.shape)} vs {tuple(body_out.shape)}",
    )
    proof.holds(
        "projection_matches_shape",
        "a 1x1 stride-2 projection shortcut gives the block output's shape (2, 512, 4, 4)",
        tuple(down.shortcut(x).shape)
        == tuple(body_out.shape)
        == tuple(out.shape)
        == (2, 512, 4, 4),
    )
    proof.close(
        "projection_shortcut_params",
        "parameters of that projection shortcut (1x1 conv 256->512 + BN)",
        count_params(down.shortcut),
        256 * 512 + 2 * 512,
        0,
    )
    proof.holds(
        "option_a_matches_shape",
        "option A (strided identity + zero channels, no parameters) also matches the shape",
        tuple(zero_padded.shape) == tuple(body_out.shape),
    )


if __name__ == "__main__":
    main(run, __doc__)
