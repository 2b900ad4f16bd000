"""1x1 convolution: a Linear layer at every pixel, cheap bottlenecks, and no free nonlinearity

A 1x1 convolution with C_in inputs and C_out outputs has a C_out x C_in weight
matrix and nothing else. At each pixel it multiplies the C_in-vector of that
pixel by the matrix: exactly what nn.Linear(C_in, C_out) does when applied to
every pixel separately. This proof measures:

- a 1x1 Conv2d and a Linear with the same weights give the same output at every
  pixel (the image is just a batch of N*H*W vectors);
- it mixes channels, never positions: change one input pixel and exactly one
  output pixel changes (in all its channels);
- the ResNet bottleneck (1x1 256->64, 3x3 64->64, 1x1 64->256) against one 3x3
  256->256 conv: parameters and multiply-adds, counted from the layers while
  they run, equal the closed forms: about 8.5x fewer;
- the misconception "a 1x1 convolution adds nonlinearity": without an
  activation after it, a 1x1 conv followed by any linear layer (another 1x1, a
  3x3) is exactly ONE linear layer with composed weights; only with a ReLU in
  between does no single linear map fit the result;
- Inception's 1x1 reduction before a 5x5 conv cuts its multiply-adds about 10x,
  and ResNet's stride-2 1x1 projection shortcut is subsampling plus a 1x1, so
  it never reads 3 of every 4 input positions (ResNet-D's 2x2 average pool
  before the 1x1 reads them all);
- a 1x1 conv works on any image size with the same C_in*C_out weights, while a
  fully connected layer over the flattened map needs C_in*H*W*C_out weights.
"""

from quizcnn.proofkit import Proof, main


def macs_of(model, x) -> int:
    """Multiply-adds per image, counted while the model runs.

    Each output value of a conv is one dot product of length (C_in/groups)*k*k,
    so a conv layer costs (output positions) x (its weight count) multiply-adds.
    Hooks read the real output shapes, so padding and stride are accounted for.
    """
    total = 0

    def count(layer, inputs, output):
        nonlocal total
        total += output.shape[-2] * output.shape[-1] * layer.weight.numel()

    convs = [m for m in model.modules() if type(m).__name__ == "Conv2d"]
    handles = [conv.register_forward_hook(count) for conv in convs]
    try:
        model(x[:1])
    finally:
        for handle in handles:
            handle.remove()
    return total


def run(proof: Proof) -> None:
    torch = proof.torch
    nn = torch.nn
    F = torch.nn.functional
    dev = proof.device
    dt = proof.float64  # exact comparisons: float64, immune to TF32 on cuda

    # --- 1. a 1x1 conv is a Linear layer applied at every pixel -------------
    c_in, c_out, h, w = 16, 8, 7, 9
    x = torch.randn(4, c_in, h, w, device=dev, dtype=dt)
    conv = nn.Conv2d(c_in, c_out, kernel_size=1, device=dev, dtype=dt)
    linear = nn.Linear(c_in, c_out, device=dev, dtype=dt)
    with torch.no_grad():
        linear.weight.copy_(conv.weight.view(c_out, c_in))  # (C_out, C_in, 1, 1) -> (C_out, C_in)
        linear.bias.copy_(conv.bias)
        by_conv = conv(x)
        # move channels last: every pixel becomes one row, Linear acts on each row
        by_linear = linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    proof.below(
        "linear_equivalence",
        "max |Conv2d 1x1 - Linear at every pixel|",
        (by_conv - by_linear).abs().max(),
        1e-5,
    )

    # --- 2. it mixes channels, not positions ----------------------------------
    x2 = x.clone()
    x2[0, 0, 3, 4] += 1.0  # one channel of one pixel
    with torch.no_grad():
        changed = (conv(x2) - by_conv).abs() > 1e-12
    changed_pixels = changed.any(dim=1).sum()  # a pixel counts once, whatever its channels
    proof.close(
        "changed_pixels",
        "output pixels changed by perturbing one input pixel",
        changed_pixels,
        1,
        0,
    )
    proof.close(
        "changed_channels",
        "output channels changed at that pixel (all mix the perturbed input channel)",
        changed[0, :, 3, 4].sum(),
        c_out,
        0,
    )

    # --- 3. bottleneck vs one 3x3 conv: params and multiply-adds ------------------
    side = 56
    # Counting needs shapes, not numbers: the layers live on the "meta" device,
    # which computes output shapes without doing the arithmetic. The ReLUs of
    # the real block are left out: they cost no multiply-adds.
    bottleneck = nn.Sequential(
        nn.Conv2d(256, 64, 1, bias=False, device="meta"),
        nn.Conv2d(64, 64, 3, padding=1, bias=False, device="meta"),
        nn.Conv2d(64, 256, 1, bias=False, device="meta"),
    )
    plain = nn.Conv2d(256, 256, 3, padding=1, bias=False, device="meta")
    feature_map = torch.empty(1, 256, side, side, device="meta")
    params_bottleneck = sum(p.numel() for p in bottleneck.parameters())
    params_plain = sum(p.numel() for p in plain.parameters())
    closed_bottleneck = 256 * 64 + 3 * 3 * 64 * 64 + 64 * 256
    closed_plain = 3 * 3 * 256 * 256
    proof.close(
        "params_bottleneck",
        "bottleneck params = 256*64 + 9*64*64 + 64*256",
        params_bottleneck,
        closed_bottleneck,
        0,
    )
    proof.close("params_plain", "3x3 256->256 params = 9*256*256", params_plain, closed_plain, 0)
    macs_bottleneck = macs_of(bottleneck, feature_map)
    macs_plain = macs_of(plain, feature_map)
    proof.close(
        "macs_bottleneck",
        f"bottleneck multiply-adds on {side}x{side} = H*W*(params)",
        macs_bottleneck,
        side * side * closed_bottleneck,
        0,
    )
    proof.close(
        "macs_plain",
        f"3x3 256->256 multiply-adds on {side}x{side} = H*W*9*256*256",
        macs_plain,
        side * side * closed_plain,
        0,
    )
    proof.above(
        "bottleneck_saving", "plain / bottleneck multiply-adds", macs_plain / macs_bottleneck, 8
    )
    proof.table(
        f"Bottleneck vs one 3x3 conv on a 256x{side}x{side} map",
        ["block", "parameters", "multiply-adds"],
        [
            ["1x1 256->64, 3x3 64->64, 1x1 64->256", params_bottleneck, int(macs_bottleneck)],
            ["3x3 256->256", params_plain, int(macs_plain)],
        ],
    )

    # Inception's 5x5 branch on a 28x28x192 map with 32 outputs, without and with
    # a 1x1 reduction to 16 channels first (GoogLeNet's inception (3a) sizes)
    inception_in = torch.empty(1, 192, 28, 28, device="meta")
    direct = nn.Conv2d(192, 32, 5, padding=2, bias=False, device="meta")
    reduced = nn.Sequential(
        nn.Conv2d(192, 16, 1, bias=False, device="meta"),
        nn.Conv2d(16, 32, 5, padding=2, bias=False, device="meta"),
    )
    proof.close(
        "inception_5x5_macs",
        "5x5 conv 192->32 on 28x28: 28*28*32*192*25 multiply-adds",
        macs_of(direct, inception_in),
        28 * 28 * 32 * 192 * 25,
        0,
    )
    proof.close(
        "inception_reduced_macs",
        "1x1 192->16 then 5x5 16->32 on 28x28 multiply-adds",
        macs_of(reduced, inception_in),
        28 * 28 * 16 * 192 + 28 * 28 * 32 * 16 * 25,
        0,
    )

    # ResNet's projection shortcut: a 1x1 conv with stride 2 halves the size and
    # changes the width; it is the same as keeping every second pixel, then a 1x1
    projection = nn.Conv2d(16, 32, 1, stride=2, bias=False, device=dev, dtype=dt)
    with torch.no_grad():
        gap_projection = (
            (projection(x) - F.conv2d(x[:, :, ::2, ::2], projection.weight)).abs().max()
        )
    proof.below(
        "stride2_projection",
        "max |1x1 stride-2 conv - (keep every 2nd pixel, then 1x1)|",
        gap_projection,
        1e-12 if dt == torch.float64 else 1e-5,
    )

    # So the stride-2 1x1 shortcut never reads 3 of every 4 input positions: their
    # gradient is exactly zero. ResNet-D (Bag of Tricks) averages each 2x2 block
    # first (AvgPool2d(2, 2), then a stride-1 1x1 conv), which reads all of them.
    def share_of_positions_read(shortcut) -> float:
        x8 = torch.randn(1, 16, 8, 8, device=dev, dtype=dt, requires_grad=True)
        shortcut(x8).sum().backward()
        return float((x8.grad.abs().sum(dim=1) != 0).double().mean())

    resnet_d = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(16, 32, 1, bias=False)).to(dev, dt)
    proof.close(
        "stride2_reads_quarter",
        "share of input positions a 1x1 stride-2 shortcut reads (nonzero gradient) on 8x8",
        share_of_positions_read(projection),
        0.25,
        0,
    )
    proof.close(
        "avgpool_shortcut_reads_all",
        "the same for ResNet-D's 2x2 average pool + 1x1 shortcut",
        share_of_positions_read(resnet_d),
        1.0,
        0,
    )

    # --- 4. no activation after a 1x1 conv: it folds into the next linear op -----
    proof.reseed(1)
    x = torch.randn(2, 16, 10, 10, device=dev, dtype=dt)
    first = nn.Conv2d(16, 32, 1, device=dev, dtype=dt)  # 1x1 expansion, no activation
    second = nn.Conv2d(32, 8, 1, device=dev, dtype=dt)
    w1, b1 = first.weight.flatten(1), first.bias
    w2, b2 = second.weight.flatten(1), second.bias
    merged = nn.Conv2d(16, 8, 1, device=dev, dtype=dt)
    with torch.no_grad():
        merged.weight.copy_((w2 @ w1).view(8, 16, 1, 1))  # W = W2 W1
        merged.bias.copy_(w2 @ b1 + b2)  # b = W2 b1 + b2
        gap_1x1 = (second(first(x)) - merged(x)).abs().max()
    proof.below(
        "two_1x1_fold_into_one",
        "max |1x1 then 1x1 (no activation) - one merged 1x1|",
        gap_1x1,
        1e-10 if dt == torch.float64 else 1e-4,
    )

    spatial = nn.Conv2d(32, 8, 3, padding=1, device=dev, dtype=dt)
    merged3 = nn.Conv2d(16, 8, 3, padding=1, device=dev, dtype=dt)
    with torch.no_grad():
        # each 3x3 tap of the second conv composes with the 1x1 weights
        merged3.weight.copy_(torch.einsum("omhw,mi->oihw", spatial.weight, w1))
        # zero padding pads the first conv's OUTPUT, bias included, so the bias
        # folds exactly only where the 3x3 window lies inside the image
        merged3.bias.copy_(spatial.bias + torch.einsum("omhw,m->o", spatial.weight, b1))
        gap_3x3 = (spatial(first(x)) - merged3(x))[:, :, 1:-1, 1:-1].abs().max()
    proof.below(
        "1x1_then_3x3_fold_into_one",
        "max |1x1 then 3x3 (no activation) - one merged 3x3| (interior pixels)",
        gap_3x3,
        1e-10 if dt == torch.float64 else 1e-4,
    )

    # With a ReLU in between, the best single linear map (least squares over all
    # pixels) leaves a large residual: the nonlinearity comes from the ReLU.
    def best_linear_residual(block) -> float:
        with torch.no_grad():
            y = block(x)
        inputs = x.permute(0, 2, 3, 1).reshape(-1, 16)
        inputs = torch.cat([inputs, torch.ones_like(inputs[:, :1])], dim=1)  # affine fit
        targets = y.permute(0, 2, 3, 1).reshape(-1, 8)
        solution = torch.linalg.lstsq(inputs.cpu(), targets.cpu()).solution
        fit = inputs.cpu() @ solution
        return float((fit - targets.cpu()).norm() / targets.cpu().norm())

    linear_residual = best_linear_residual(nn.Sequential(first, second))
    relu_residual = best_linear_residual(nn.Sequential(first, nn.ReLU(), second))
    proof.below(
        "no_relu_is_linear",
        "relative residual of the best affine fit, 1x1 -> 1x1 without ReLU",
        linear_residual,
        1e-10 if dt == torch.float64 else 1e-4,
    )
    proof.above(
        "relu_is_nonlinear",
        "relative residual of the best affine fit, 1x1 -> ReLU -> 1x1",
        relu_residual,
        0.1,
    )

    # --- 5. 1x1 conv vs a fully connected layer on the flattened map -----------
    c, side_fc = 256, 14
    fc = nn.Linear(c * side_fc * side_fc, 64, bias=False, device="meta")
    reduce = nn.Conv2d(c, 64, 1, bias=False, device=dev, dtype=dt)
    proof.close(
        "params_fc_vs_1x1",
        f"FC params on a flattened {c}x{side_fc}x{side_fc} map / 1x1 params (= H*W)",
        sum(p.numel() for p in fc.parameters()) / sum(p.numel() for p in reduce.parameters()),
        side_fc * side_fc,
        0,
    )
    shapes_ok = all(
        reduce(torch.randn(1, c, s, s, device=dev, dtype=dt)).shape == (1, 64, s, s)
        for s in (5, 14, 33)
    )
    proof.holds(
        "any_input_size",
        "the same 1x1 conv runs on 5x5, 14x14 and 33x33 maps",
        shapes_ok,
        "a Linear over the flattened map accepts only its one input size",
    )


if __name__ == "__main__":
    main(run, __doc__)
