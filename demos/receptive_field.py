"""Receptive field: measured with gradients, and why stacked 3x3 convs beat one big kernel

The receptive field (RF) of a unit is the patch of the input that can change it.
Here it is MEASURED, not assumed: back-propagate from one output pixel and see
which input pixels receive a nonzero gradient. With all-ones kernels no
contribution can cancel, so the nonzero patch is exactly the receptive field.

The recurrence behind every number below: a layer with kernel k, dilation d,
placed after layers whose strides multiply to J ("jump"), widens the field by
(k - 1) * d * J:

    r_0 = 1,    r_l = r_{l-1} + (k_l - 1) * d_l * (s_1 * ... * s_{l-1})

Shown here:
- one 3x3 conv sees 3x3; two stacked see 5x5; three see 7x7, the same as one
  5x5 or 7x7 kernel (VGG's argument), with fewer weights: 2*9C^2 = 18C^2 < 25C^2
  and 27C^2 < 49C^2, and with a ReLU after each conv, more nonlinearity;
- strides and pooling multiply the growth of every later layer;
- a dilated 3x3 spans 5x5 but touches only 9 pixels of it;
- the field is not uniform: after ten 3x3 convs most of the gradient sits in
  the middle of the 21x21 field (the "effective" receptive field).
"""

from quizcnn.proofkit import Proof, main


def run(proof: Proof) -> None:
    torch = proof.torch
    nn = torch.nn
    dev = proof.device
    dt = proof.float64

    def ones_conv(k, stride=1, dilation=1):
        conv = nn.Conv2d(
            1, 1, k, stride=stride, dilation=dilation, bias=False, device=dev, dtype=dt
        )
        nn.init.ones_(conv.weight)  # positive weights: no contribution cancels
        return conv

    def input_gradient(layers, side=41):
        """Gradient of the centre output pixel with respect to the whole input."""
        net = nn.Sequential(*layers)
        x = torch.zeros(1, 1, side, side, device=dev, dtype=dt, requires_grad=True)
        out = net(x)
        out[0, 0, out.shape[-2] // 2, out.shape[-1] // 2].backward()
        return x.grad[0, 0]

    def field(layers) -> int:
        """Side of the smallest box holding every input pixel with a nonzero gradient."""
        grad = input_gradient(layers)
        rows = grad.abs().sum(dim=1).nonzero().flatten()
        return int(rows.max() - rows.min() + 1)

    # --- 1. stacked 3x3 vs one big kernel ---------------------------------------
    rf = {
        "one_3x3": field([ones_conv(3)]),
        "two_3x3": field([ones_conv(3), ones_conv(3)]),
        "three_3x3": field([ones_conv(3), ones_conv(3), ones_conv(3)]),
        "one_5x5": field([ones_conv(5)]),
        "one_7x7": field([ones_conv(7)]),
    }
    for name, expected in [
        ("one_3x3", 3),
        ("two_3x3", 5),
        ("three_3x3", 7),
        ("one_5x5", 5),
        ("one_7x7", 7),
    ]:
        proof.close(
            f"rf_{name}", f"receptive field of {name.replace('_', ' ')}", rf[name], expected, 0
        )

    c = 64  # channels in and out, no bias: the weights VGG counts

    def weights(*kernels):
        return sum(nn.Conv2d(c, c, k, bias=False).weight.numel() for k in kernels)

    two, five = weights(3, 3), weights(5)
    three, seven = weights(3, 3, 3), weights(7)
    proof.close("params_two_3x3", f"two 3x3 convs, C={c}: 2*9*C^2", two, 2 * 9 * c * c, 0)
    proof.close("params_one_5x5", f"one 5x5 conv, C={c}: 25*C^2", five, 25 * c * c, 0)
    proof.close("params_three_3x3", f"three 3x3 convs, C={c}: 27*C^2", three, 27 * c * c, 0)
    proof.close("params_one_7x7", f"one 7x7 conv, C={c}: 49*C^2", seven, 49 * c * c, 0)
    proof.close(
        "seven_vs_three_ratio", "7x7 / three 3x3 parameters (49/27)", seven / three, 49 / 27, 1e-12
    )
    proof.table(
        f"Same receptive field, fewer weights (C = {c})",
        ["layers", "receptive field", "weights", "ReLUs"],
        [
            ["two 3x3", rf["two_3x3"], two, 2],
            ["one 5x5", rf["one_5x5"], five, 1],
            ["three 3x3", rf["three_3x3"], three, 3],
            ["one 7x7", rf["one_7x7"], seven, 1],
        ],
    )

    # --- 2. strides and pooling multiply later growth -------------------------------
    # conv3 -> avg-pool 2/2 -> conv3 -> conv3 (dilation 2):
    # r = 1 + 2*1 = 3; + 1*1 = 4; then jump 2: + 2*2 = 8; + 2*2*2 = 16.
    # (An average pool has the same geometry as a max pool; max would send the
    # gradient to one argmax only and hide the rest of its window.)
    stack = [ones_conv(3), nn.AvgPool2d(2, 2), ones_conv(3), ones_conv(3, dilation=2)]
    proof.close("rf_strided_stack", "conv3, pool2/2, conv3, conv3 dilation 2", field(stack), 16, 0)
    vgg_two_blocks = [ones_conv(3), ones_conv(3), nn.AvgPool2d(2, 2)]
    vgg_two_blocks += [ones_conv(3), ones_conv(3), nn.AvgPool2d(2, 2)]
    proof.close(
        "rf_vgg_two_blocks",
        "two VGG blocks, each 3x3, 3x3, pool 2/2",
        field(vgg_two_blocks),
        16,
        0,
    )
    stride_first = [ones_conv(3, stride=2), ones_conv(3), ones_conv(3)]
    stride_last = [ones_conv(3), ones_conv(3), ones_conv(3, stride=2)]
    proof.close(
        "rf_stride_first", "3x3 stride 2, then two 3x3: 3 + 2*2 + 2*2", field(stride_first), 11, 0
    )
    proof.close("rf_stride_last", "two 3x3, then 3x3 stride 2: plain 7", field(stride_last), 7, 0)

    # --- 3. dilation: a wide field with holes --------------------------------------
    dilated = input_gradient([ones_conv(3, dilation=2)])
    proof.close(
        "rf_dilated_3x3",
        "extent of a 3x3 conv with dilation 2",
        field([ones_conv(3, dilation=2)]),
        5,
        0,
    )
    proof.close(
        "dilated_pixels_touched",
        "input pixels a dilated 3x3 actually reads",
        (dilated != 0).sum(),
        9,
        0,
    )

    # --- 4. the effective receptive field is concentrated in the middle --------------
    ten = input_gradient([ones_conv(3) for _ in range(10)])
    rows = ten.abs().sum(dim=1).nonzero().flatten()
    top, size = int(rows.min()), int(rows.max() - rows.min() + 1)
    proof.close("rf_ten_3x3", "receptive field of ten 3x3 convs", size, 21, 0)
    centre = ten[top + 5 : top + 16, top + 5 : top + 16]  # the middle 11x11 of 21x21
    share = centre.sum() / ten.sum()
    proof.above(
        "effective_rf_centre_share",
        "share of the gradient in the middle 11x11 (27% of the area)",
        share,
        0.8,
    )
    profile = ten[top + size // 2, top : top + size]
    proof.plot(
        "Gradient across the 21-pixel field of ten stacked 3x3 convs",
        "input column",
        "gradient / max",
        list(range(-(size // 2), size // 2 + 1)),
        {"gradient": (profile / profile.max()).tolist()},
    )


if __name__ == "__main__":
    main(run, __doc__)
