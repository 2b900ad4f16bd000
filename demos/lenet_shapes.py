"""LeNet-5 shape trace and parameter counts, with the 1989 net, AlexNet and VGG-16 for scale

LeNet-5 (LeCun et al., Proc. IEEE 1998, §II.B) maps a 32x32 digit through
C1 (6 maps 28x28) -> S2 (6 x 14x14) -> C3 (16 x 10x10) -> S4 (16 x 5x5) ->
C5 (120) -> F6 (84) -> 10 outputs. Forward hooks record each layer's output
shape on a real input.

Two versions are counted:

- the modern textbook LeNet (every C3 map sees all 6 S2 maps, plain pooling,
  a Linear 84 -> 10 output): 61,706 parameters;
- the 1998 original: C3 is only partially connected (LeCun's Table I: 15 of
  the 16 maps see only 3 or 4 of the 6 S2 maps; only the last sees all 6),
  so C3 has 1,516 parameters instead of 2,416; S2 and S4 are *trainable*
  subsampling layers (sum of 2x2, times a learned coefficient, plus a learned
  bias: 2 parameters per map); the Euclidean RBF output units are fixed by
  hand. Its trainable layers C1..F6 hold exactly 60,000 parameters, and all
  its layers 340,908 connections, the figures the paper quotes.

For history, the 1989 zip-code net (LeCun et al., Neural Computation 1989)
had no pooling layer at all: 5x5 convolutions with stride 2 took 16x16 ->
8x8 -> 4x4, and each unit had its own bias: 9,760 parameters.

For scale: AlexNet (two-GPU layout, 2012) has about 61 million parameters and
VGG-16 (2014) 138 million, most of both in the fully connected layers;
ZF-Net (2013) replaced AlexNet's 11x11 stride-4 first layer by 7x7 stride 2.
Those two are built on PyTorch's "meta" device, which gives shapes and
parameter counts without allocating any weights.
"""

from __future__ import annotations

from quizcnn.proofkit import Proof, main

# LeCun et al. 1998, Table I: which S2 maps (rows) feed each C3 map (columns).
C3_INPUTS = [
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
]  # fmt: skip


def modern_lenet(nn, dev):
    return nn.Sequential(
        nn.Conv2d(1, 6, 5),  # C1: 32 -> 28
        nn.Tanh(),
        nn.AvgPool2d(2),  # S2: 28 -> 14
        nn.Conv2d(6, 16, 5),  # C3: 14 -> 10, dense
        nn.Tanh(),
        nn.AvgPool2d(2),  # S4: 10 -> 5
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120),  # C5
        nn.Tanh(),
        nn.Linear(120, 84),  # F6
        nn.Tanh(),
        nn.Linear(84, 10),
    ).to(dev)


def make_original_layers(torch):
    nn = torch.nn

    class Subsample(nn.Module):
        """S2/S4: sum of each 2x2 block, times a learned coefficient, plus a learned bias."""

        def __init__(self, maps):
            super().__init__()
            self.coef = nn.Parameter(torch.ones(maps))
            self.bias = nn.Parameter(torch.zeros(maps))

        def forward(self, x):
            summed = nn.functional.avg_pool2d(x, 2) * 4
            return torch.sigmoid(summed * self.coef[:, None, None] + self.bias[:, None, None])

    class PartialConv(nn.Module):
        """C3: a 6 -> 16 5x5 conv whose absent connections are masked to zero."""

        def __init__(self, dev):
            super().__init__()
            mask = torch.zeros(16, 6, 1, 1, device=dev)
            for out_map, inputs in enumerate(C3_INPUTS):
                mask[out_map, list(inputs)] = 1.0
            self.register_buffer("mask", mask)
            self.conv = nn.Conv2d(6, 16, 5, device=dev)

        def forward(self, x):
            return nn.functional.conv2d(x, self.conv.weight * self.mask, self.conv.bias)

        def trainable(self) -> int:  # the masked-out weights are not free parameters
            return int(self.mask.sum().item()) * 25 + 16

    return Subsample, PartialConv


def trace_shapes(torch, net, x) -> list[tuple[str, tuple]]:
    """(layer name, output shape without the batch axis) for every leaf layer."""
    shapes = []
    hooks = [
        m.register_forward_hook(
            lambda m, i, o: shapes.append((type(m).__name__, tuple(o.shape[1:])))
        )
        for m in net.modules()
        if len(list(m.children())) == 0 and not isinstance(m, torch.nn.Tanh)
    ]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    return shapes


def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def alexnet_two_gpu(nn, dev):
    """Krizhevsky et al. 2012, Fig. 2: conv2, conv4, conv5 see only their own GPU's half."""
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4, device=dev),
        nn.ReLU(),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=2, device=dev),
        nn.ReLU(),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1, device=dev),
        nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1, groups=2, device=dev),
        nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1, groups=2, device=dev),
        nn.ReLU(),
        nn.MaxPool2d(3, 2),
        nn.Flatten(),
        nn.Linear(256 * 6 * 6, 4096, device=dev),
        nn.ReLU(),
        nn.Linear(4096, 4096, device=dev),
        nn.ReLU(),
        nn.Linear(4096, 1000, device=dev),
    )


def vgg16(nn, dev):
    layers, cin = [], 3
    for cout, convs in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
        for _ in range(convs):
            layers += [nn.Conv2d(cin, cout, 3, padding=1, device=dev), nn.ReLU()]
            cin = cout
        layers.append(nn.MaxPool2d(2))
    layers += [nn.Flatten(), nn.Linear(512 * 7 * 7, 4096, device=dev), nn.ReLU()]
    layers += [nn.Linear(4096, 4096, device=dev), nn.ReLU(), nn.Linear(4096, 1000, device=dev)]
    return nn.Sequential(*layers)


def fc_share(nn, net) -> float:
    fc = sum(count(m) for m in net.modules() if isinstance(m, nn.Linear))
    return fc / count(net)


def run(proof: Proof) -> None:
    torch = proof.torch
    nn = torch.nn
    dev = proof.device
    x = torch.randn(1, 1, 32, 32, device=dev)

    # --- 1. the modern LeNet-5: shapes and parameters ----------------------
    lenet = modern_lenet(nn, dev)
    shapes = trace_shapes(torch, lenet, x)
    proof.table(
        "LeNet-5 shape trace (batch axis dropped)",
        ["layer", "output shape"],
        [[name, " x ".join(map(str, shape))] for name, shape in shapes],
    )
    sizes = [s[-1] for _, s in shapes if len(s) == 3] + [s[0] for _, s in shapes if len(s) == 1]
    proof.holds(
        "lenet_spatial_trace",
        "spatial sizes 28 -> 14 -> 10 -> 5 (convs unpadded, 2x2 pooling)",
        sizes[:4] == [28, 14, 10, 5],
        f"measured {sizes[:4]}",
    )
    proof.holds(
        "lenet_dense_trace",
        "flattened 16*5*5 = 400 -> 120 -> 84 -> 10",
        sizes[4:] == [400, 120, 84, 10],
        f"measured {sizes[4:]}",
    )
    per_layer = [count(m) for m in lenet if count(m)]
    proof.close(
        "lenet_modern_params", "parameters of the modern (dense) LeNet-5", count(lenet), 61_706, 0
    )
    proof.table(
        "Modern LeNet-5 parameters per layer",
        ["C1", "C3", "C5", "F6", "output"],
        [per_layer],
    )

    # --- 2. the 1998 original: partial C3, trainable subsampling -----------
    Subsample, PartialConv = make_original_layers(torch)
    c1 = nn.Conv2d(1, 6, 5, device=dev)
    s2, c3, s4 = Subsample(6).to(dev), PartialConv(dev), Subsample(16).to(dev)
    c5, f6 = nn.Conv2d(16, 120, 5, device=dev), nn.Linear(120, 84, device=dev)
    trainable = {
        "C1": count(c1),
        "S2": count(s2),
        "C3": c3.trainable(),
        "S4": count(s4),
        "C5": count(c5),
        "F6": count(f6),
    }
    # Connections: every output unit links to its inputs plus one bias;
    # the RBF output layer links each of 10 units to the 84 F6 units.
    connections = {
        "C1": 28 * 28 * trainable["C1"],
        "S2": 14 * 14 * 6 * (4 + 1),
        "C3": 10 * 10 * trainable["C3"],
        "S4": 5 * 5 * 16 * (4 + 1),
        "C5": trainable["C5"],
        "F6": trainable["F6"],
        "RBF output": 10 * 84,
    }
    proof.close(
        "c3_partial_params",
        "trainable parameters of the partially connected C3",
        trainable["C3"],
        1_516,
        0,
    )
    proof.close(
        "c3_dense_params", "parameters C3 would have if fully connected", count(c3.conv), 2_416, 0
    )
    proof.close(
        "subsampling_params",
        "trainable parameters of S2 (coefficient + bias per map)",
        trainable["S2"],
        12,
        0,
    )
    proof.close(
        "lenet1998_trainable",
        "trainable parameters of C1..F6 in the 1998 LeNet-5",
        sum(trainable.values()),
        60_000,
        0,
    )
    proof.close(
        "lenet1998_connections",
        "connections of the 1998 LeNet-5, output layer included",
        sum(connections.values()),
        340_908,
        0,
    )

    with torch.no_grad():
        s2_out = s2(torch.tanh(c1(x)))
        base = c3(s2_out)
        poked = s2_out.clone()
        poked[:, 3] += 1.0  # S2 map 3 feeds 10 of the 16 C3 maps (not map 0)
        changed = (c3(poked) - base).abs().amax(dim=(0, 2, 3)) > 0
        after = c5(s4(torch.tanh(base)))
    expected_changed = [3 in inputs for inputs in C3_INPUTS]
    proof.holds(
        "c3_map0_ignores_s2_map3",
        "changing S2 map 3 changes exactly the C3 maps that Table I connects to it",
        changed.tolist() == expected_changed,
        f"{int(changed.sum())} of 16 C3 maps changed",
    )
    proof.holds(
        "c5_is_1x1",
        "C5 (a 5x5 conv on the 5x5 S4 maps) outputs 120 maps of size 1x1",
        tuple(after.shape[1:]) == (120, 1, 1),
    )
    proof.table(
        "LeNet-5 (1998): trainable parameters and connections",
        ["layer", "trainable", "connections"],
        [[k, trainable.get(k, 0), v] for k, v in connections.items()],
    )

    # --- 3. the 1989 zip-code net: strided convs, no pooling ---------------
    h1 = nn.Conv2d(1, 12, 5, stride=2, padding=2, bias=False, device=dev)
    h1_bias = torch.zeros(12, 8, 8, device=dev)  # one bias per unit
    h2 = nn.Conv2d(12, 12, 5, stride=2, padding=2, bias=False, device=dev)
    h2_bias = torch.zeros(12, 4, 4, device=dev)
    h2_links = 8  # each H2 map sees 8 of the 12 H1 maps
    h3, out = nn.Linear(12 * 4 * 4, 30, device=dev), nn.Linear(30, 10, device=dev)
    with torch.no_grad():
        a1 = h1(torch.randn(1, 1, 16, 16, device=dev)) + h1_bias
        a2 = h2(a1) + h2_bias
    params_1989 = (
        h1.weight.numel()
        + h1_bias.numel()
        + 12 * h2_links * 25
        + h2_bias.numel()
        + count(h3)
        + count(out)
    )
    proof.holds(
        "net1989_shapes",
        "1989 net: 16x16 -> 12 maps 8x8 -> 12 maps 4x4 with stride-2 5x5 convs",
        tuple(a1.shape[1:]) == (12, 8, 8) and tuple(a2.shape[1:]) == (12, 4, 4),
    )
    proof.close("net1989_params", "free parameters of the 1989 zip-code net", params_1989, 9_760, 0)

    # --- 4. for scale: AlexNet and VGG-16 -----------------------------------
    meta = torch.device("meta")
    alexnet, vgg = alexnet_two_gpu(nn, meta), vgg16(nn, meta)
    features = alexnet_two_gpu(nn, dev)[:13]  # the conv part, with real weights
    with torch.no_grad():
        alex_map = features(torch.zeros(1, 3, 227, 227, device=dev))
        alex_conv1_224 = features[0](torch.zeros(1, 3, 224, 224, device=dev))
        zf_conv1 = nn.Conv2d(3, 96, 7, stride=2, padding=1, device=dev)  # ZF-Net's first layer
        zf_map = zf_conv1(torch.zeros(1, 3, 224, 224, device=dev))
    proof.holds(
        "alexnet_227_to_6x6",
        "AlexNet's conv stack maps a 227x227 crop to 256 x 6 x 6 (11x11/4 conv: 227 -> 55)",
        tuple(alex_map.shape[1:]) == (256, 6, 6),
    )
    proof.holds(
        "alexnet_224_gives_54",
        "on the paper's stated 224x224 input, an unpadded 11x11/4 conv gives 54x54, not 55x55",
        tuple(alex_conv1_224.shape[2:]) == (54, 54),
    )
    proof.holds(
        "zfnet_conv1_110",
        "ZF-Net's 7x7 stride-2 first layer maps 224x224 to 96 x 110 x 110 (4x the positions of 55x55)",
        tuple(zf_map.shape[1:]) == (96, 110, 110),
    )
    proof.close(
        "zfnet_conv1_params",
        "parameters of ZF-Net's first layer (96 filters 7x7x3 + biases)",
        count(zf_conv1),
        96 * 3 * 49 + 96,
        0,
    )
    proof.close(
        "alexnet_params", "parameters of AlexNet (two-GPU grouping)", count(alexnet), 60_965_224, 0
    )
    proof.close("vgg16_params", "parameters of VGG-16", count(vgg), 138_357_544, 0)
    proof.above(
        "alexnet_fc_share",
        "share of AlexNet's parameters in its 3 FC layers",
        fc_share(nn, alexnet),
        0.9,
    )
    proof.above(
        "vgg16_fc_share", "share of VGG-16's parameters in its 3 FC layers", fc_share(nn, vgg), 0.85
    )
    proof.table(
        "Parameters of classic nets",
        ["net", "parameters", "in FC layers"],
        [
            [
                "LeNet-5 (1998, trainable)",
                sum(trainable.values()),
                f"{(trainable['C5'] + trainable['F6']) / 60_000:.0%}",
            ],
            ["LeNet-5 (modern)", count(lenet), f"{fc_share(nn, lenet):.0%}"],
            ["AlexNet", count(alexnet), f"{fc_share(nn, alexnet):.0%}"],
            ["VGG-16", count(vgg), f"{fc_share(nn, vgg):.0%}"],
        ],
    )


if __name__ == "__main__":
    main(run, __doc__)
