"""Translation equivariance: exact for convolution, broken by stride, only approximate invariance

Equivariant: shift the input, and the output shifts the same way,
conv(shift(x)) = shift(conv(x)). Invariant: shift the input, and the output
does not change at all. A convolution applies the same weights at every
position, so it is equivariant, exactly, as long as nothing depends on where
the image ends (circular padding, or content that stays away from the border).

Downsampling breaks this. A stride-2 conv or a 2x2 max-pool keeps every second
position, so a 1-pixel shift of the input is not any shift of the output; only
shifts by a multiple of the stride come through cleanly. Max pooling gives
invariance only to shifts that keep the maximum inside the same window, and a
CNN ending in global pooling is invariant only to shifts by multiples of its
total stride. That is why CNNs are approximately, not exactly, shift invariant,
and why data augmentation with shifts still helps.
"""

from quizcnn.proofkit import Proof, main


def run(proof: Proof) -> None:
    torch = proof.torch
    nn = torch.nn
    dev = proof.device
    dt = proof.float64
    tight = 1e-10 if dt == torch.float64 else 1e-4

    def shift(t, dy, dx):
        return torch.roll(t, shifts=(dy, dx), dims=(-2, -1))

    def rel(a, b):
        return float((a - b).norm() / b.norm())

    x = torch.randn(2, 3, 16, 16, device=dev, dtype=dt)

    # --- 1. convolution commutes with a shift -------------------------------------
    conv = nn.Conv2d(3, 8, 3, padding=1, padding_mode="circular", device=dev, dtype=dt)
    with torch.no_grad():
        gap = (conv(shift(x, 2, 3)) - shift(conv(x), 2, 3)).abs().max()
    proof.below(
        "conv_equivariant", "max |conv(shift x) - shift(conv x)|, circular padding", gap, tight
    )

    # zero padding: exact while the content stays away from the border
    obj = torch.zeros(1, 3, 16, 16, device=dev, dtype=dt)
    obj[:, :, 4:9, 3:8] = torch.randn(1, 3, 5, 5, device=dev, dtype=dt)
    zero_pad = nn.Conv2d(3, 8, 3, padding=1, device=dev, dtype=dt)
    with torch.no_grad():
        gap = (zero_pad(shift(obj, 3, 4)) - shift(zero_pad(obj), 3, 4)).abs().max()
    proof.below(
        "zero_padding_equivariant",
        "same with zero padding, for an object moved inside the image",
        gap,
        tight,
    )

    # --- 2. stride breaks it ------------------------------------------------------
    strided = nn.Conv2d(3, 8, 3, stride=2, padding=1, padding_mode="circular", device=dev, dtype=dt)
    with torch.no_grad():
        base = strided(x)
        by_one = strided(shift(x, 0, 1))
        by_two = strided(shift(x, 0, 2))
    # no output shift at all explains a 1-pixel input shift
    best = min(rel(by_one, shift(base, 0, s)) for s in range(base.shape[-1]))
    proof.above(
        "stride_breaks_equivariance",
        "stride 2, input shifted 1 px: smallest relative gap over all output shifts",
        best,
        0.1,
    )
    proof.below(
        "stride_multiple_ok",
        "stride 2, input shifted 2 px: max |out - output shifted 1 px|",
        (by_two - shift(base, 0, 1)).abs().max(),
        tight,
    )

    # --- 3. max pooling: invariant only while the max stays in its window -----------
    pool = nn.MaxPool2d(2, 2)
    unchanged_one = unchanged_two = 0
    positions = [(r, c) for r in range(8) for c in range(8)]
    for r, c in positions:
        dot = torch.zeros(1, 1, 8, 8, device=dev, dtype=dt)
        dot[0, 0, r, c] = 1.0
        pooled = pool(dot)
        unchanged_one += bool(torch.equal(pool(shift(dot, 0, 1)), pooled))
        unchanged_two += bool(torch.equal(pool(shift(dot, 0, 2)), pooled))
    proof.close(
        "maxpool_invariant_share_1px",
        "share of dot positions whose 2x2 max-pool output ignores a 1-px shift",
        unchanged_one / len(positions),
        0.5,
        0,
    )
    proof.close(
        "maxpool_invariant_share_2px",
        "the same for a 2-px shift (the dot always changes window)",
        unchanged_two / len(positions),
        0.0,
        0,
    )

    # --- 4. a small CNN with global pooling: invariant only to multiples of its stride --
    proof.reseed(1)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, padding_mode="circular"),
        nn.ReLU(),
        nn.MaxPool2d(2, 2),
        nn.Conv2d(8, 8, 3, padding=1, padding_mode="circular"),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),  # global average pooling
        nn.Flatten(),
    ).to(device=dev, dtype=dt)
    with torch.no_grad():
        out = net(x)
        shifts = list(range(5))
        changes = [rel(net(shift(x, 0, s)), out) for s in shifts]
    proof.above("cnn_not_invariant_1px", "CNN output relative change, 1-px shift", changes[1], 1e-3)
    proof.below(
        "cnn_invariant_2px",
        "CNN output relative change, 2-px shift (= total stride)",
        changes[2],
        tight,
    )
    proof.plot(
        "Relative change of a CNN's pooled output when the input shifts",
        "shift (pixels)",
        "relative change",
        shifts,
        {"relative change": changes},
    )


if __name__ == "__main__":
    main(run, __doc__)
