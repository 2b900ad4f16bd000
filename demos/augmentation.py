"""Data augmentation and input normalization, with plain torch ops

Two things done to training inputs, measured without torchvision:

- Augmentation makes new training samples whose label is unchanged: a
  horizontal flip is torch.flip on the width axis (twice gives the image back),
  and a random crop of a zero-padded image is a small translation. A tiny
  classifier is trained on images whose object only ever appears in the left
  half; the label (object in the top or bottom half) does not depend on the
  side. Tested on mirrored images, the plain model is near chance; the same
  model trained with flips added is above 85%.
- AlexNet's crops: a 256×256 image holds (256 − 224 + 1)² = 1089 distinct
  224×224 crops, 2178 with their mirror images (the paper's factor of 2048
  counts 32 offsets per axis).
- Normalize(mean, std) is (x − mean)/std per channel. With the data set's own
  per-channel statistics the result has mean 0 and std 1 in every channel;
  with other constants channel c gets mean (m_c − mean_c)/std_c instead. The
  map is affine, so a first convolution without padding can absorb it exactly
  (W' = W/std, b' = b − Σ W·mean/std): from scratch the constants only
  reparametrize the first layer, but a pretrained network expects the
  statistics it was trained with (ImageNet's 0.485/0.456/0.406 and
  0.229/0.224/0.225, RGB in [0, 1]).
- Those stds are, per torchvision's docs, the AVERAGE of per-image stds, which
  leaves out how much images differ in brightness: pooled variance = mean
  per-image variance + variance of the image means. Normalizing by the
  average per-image std therefore leaves a std above 1 (about 1.2 here; on
  ImageNet, whose pixel std is 0.27 or more, roughly 1.2 as well).
"""

from quizcnn.proofkit import Proof, main

SIZE = 8  # images are SIZE × SIZE, one channel, for the classifier


def run(proof: Proof) -> None:
    flips_and_crops(proof)
    flip_augmentation_generalizes(proof)
    normalize_by_hand(proof)


def flips_and_crops(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    proof.reseed(1)
    image = torch.rand(3, 32, 32, device=dev, dtype=f64)
    flipped = torch.flip(image, dims=[-1])  # what RandomHorizontalFlip does when it fires
    proof.holds(
        "flip_twice_is_identity",
        "flipping the width axis twice gives the image back",
        bool(torch.equal(torch.flip(flipped, dims=[-1]), image)),
    )
    proof.holds(
        "flip_mirrors_columns",
        "a flip maps column j to column W − 1 − j",
        bool(
            torch.equal(flipped[..., 0], image[..., -1])
            and torch.equal(flipped[..., 5], image[..., 26])
        ),
    )
    proof.above(
        "flip_is_new_sample",
        "mean |flipped − original| (a different input, same label)",
        (flipped - image).abs().mean(),
        0.1,
    )

    # Random crop with padding 4: pad with zeros, cut a 32×32 window at (top, left).
    padded = torch.nn.functional.pad(image, (4, 4, 4, 4))
    top, left = 1, 6
    crop = padded[:, top : top + 32, left : left + 32]
    dy, dx = 4 - top, 4 - left  # the content moves down by dy and right by dx
    shifted = torch.zeros_like(image)
    shifted[:, max(dy, 0) : 32 + min(dy, 0), max(dx, 0) : 32 + min(dx, 0)] = image[
        :, max(-dy, 0) : 32 - max(dy, 0), max(-dx, 0) : 32 - max(dx, 0)
    ]
    proof.holds(
        "crop_is_translation",
        "a 32×32 crop at (1, 6) of the 4-padded image is the image shifted by (3, −2) with zero fill",
        bool(torch.equal(crop, shifted)),
    )

    # AlexNet: 224×224 windows of a 256×256 image, counted as views (no copy).
    big = torch.zeros(256, 256, device=dev)
    windows = big.unfold(0, 224, 1).unfold(1, 224, 1)
    positions = windows.shape[0] * windows.shape[1]
    proof.close(
        "alexnet_crop_positions", "distinct 224×224 crops of a 256×256 image", positions, 33 * 33, 0
    )
    proof.close("alexnet_crops_with_flips", "crops and their mirror images", 2 * positions, 2178, 0)


def blobs(proof: Proof, n: int, side: str):
    """n noisy images; label 0 = a 2×2 blob in the top half, 1 = in the bottom half.

    The blob always lies in the left half (columns 0..3), or the right half when
    side == "right" (the mirror images). The label never depends on the side.
    """
    torch, dev = proof.torch, proof.device
    label = torch.arange(n) % 2
    row = torch.randint(0, 3, (n,)) + 4 * label  # rows 0..3 or 4..7
    col = torch.randint(0, 3, (n,))
    idx = torch.arange(SIZE)
    in_rows = ((idx >= row[:, None]) & (idx < row[:, None] + 2)).float()
    in_cols = ((idx >= col[:, None]) & (idx < col[:, None] + 2)).float()
    images = in_rows[:, :, None] * in_cols[:, None, :]
    if side == "right":
        images = torch.flip(images, dims=[-1])
    images = images + 0.3 * torch.randn(n, SIZE, SIZE)
    return images.to(dev), label.to(dev)


def train_classifier(proof: Proof, images, labels, *, augment: bool):
    """A one-hidden-layer MLP on raw pixels, full-batch gradient descent."""
    torch, dev = proof.torch, proof.device
    if augment:  # every training image also appears mirrored, with the same label
        images = torch.cat([images, torch.flip(images, dims=[-1])])
        labels = torch.cat([labels, labels])
    proof.reseed(20)  # the same initial weights with and without augmentation
    net = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(SIZE * SIZE, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 2),
    ).to(dev)
    for _ in range(200):
        net.zero_grad()
        torch.nn.functional.cross_entropy(net(images), labels).backward()
        with torch.no_grad():
            for param in net.parameters():
                param -= 0.5 * param.grad
    return net


def accuracy(proof: Proof, net, images, labels) -> float:
    with proof.torch.no_grad():
        return (net(images).argmax(dim=1) == labels).float().mean().item()


def flip_augmentation_generalizes(proof: Proof) -> None:
    proof.reseed(10)
    train_x, train_y = blobs(proof, 64, "left")
    left_x, left_y = blobs(proof, 1000, "left")
    right_x, right_y = blobs(proof, 1000, "right")
    rows = []
    results = {}
    for augment in (False, True):
        net = train_classifier(proof, train_x, train_y, augment=augment)
        results[augment] = (
            accuracy(proof, net, left_x, left_y),
            accuracy(proof, net, right_x, right_y),
        )
        rows.append(
            [
                "with flips" if augment else "no augmentation",
                *(f"{a:.3f}" for a in results[augment]),
            ]
        )
    proof.table(
        "Test accuracy (64 training images, blob always on the left)",
        ["training", "left test", "mirrored test"],
        rows,
    )
    proof.above(
        "plain_fits_left",
        "no augmentation: accuracy on new left-side images",
        results[False][0],
        0.9,
    )
    proof.below(
        "plain_fails_mirrored",
        "no augmentation: accuracy on mirrored test images (chance is 0.5)",
        results[False][1],
        0.7,
    )
    proof.above(
        "augmented_handles_mirrored",
        "with flip augmentation: accuracy on mirrored test images",
        results[True][1],
        0.85,
    )
    proof.above(
        "augmentation_gain",
        "mirrored-test accuracy gained by flip augmentation",
        results[True][1] - results[False][1],
        0.2,
    )


def normalize_by_hand(proof: Proof) -> None:
    torch, dev, f64 = proof.torch, proof.device, proof.float64
    proof.reseed(30)
    # A toy RGB data set in [0, 1] whose channels have different statistics.
    channel_scale = torch.tensor([0.9, 0.6, 0.3], device=dev, dtype=f64).view(1, 3, 1, 1)
    images = torch.rand(64, 3, 16, 16, device=dev, dtype=f64) ** 2 * channel_scale
    mean = images.mean(dim=(0, 2, 3))
    std = images.std(dim=(0, 2, 3))

    def normalize(x, m, s):  # what transforms.Normalize(m, s) computes
        return (x - m.view(1, -1, 1, 1)) / s.view(1, -1, 1, 1)

    out = normalize(images, mean, std)
    proof.close(
        "normalized_mean",
        "Normalize with the data's own stats: largest |channel mean|",
        out.mean(dim=(0, 2, 3)).abs().max(),
        0.0,
        1e-9,
    )
    proof.close(
        "normalized_std",
        "Normalize with the data's own stats: largest |channel std − 1|",
        (out.std(dim=(0, 2, 3)) - 1).abs().max(),
        0.0,
        1e-9,
    )
    imagenet_mean = torch.tensor([0.485, 0.456, 0.406], device=dev, dtype=f64)
    imagenet_std = torch.tensor([0.229, 0.224, 0.225], device=dev, dtype=f64)
    other = normalize(images, imagenet_mean, imagenet_std)
    predicted = (mean - imagenet_mean) / imagenet_std
    proof.close(
        "other_constants_shift",
        "with other constants, channel mean = (m − mean)/std: largest deviation from that formula",
        (other.mean(dim=(0, 2, 3)) - predicted).abs().max(),
        0.0,
        1e-9,
    )
    proof.above(
        "other_constants_not_centred",
        "with ImageNet constants on this data: largest |channel mean|",
        other.mean(dim=(0, 2, 3)).abs().max(),
        0.3,
    )

    # Normalize is affine per channel: a first conv without padding absorbs it exactly.
    conv = torch.nn.Conv2d(3, 4, 3).to(dev, f64)
    absorbed = torch.nn.Conv2d(3, 4, 3).to(dev, f64)
    with torch.no_grad():
        absorbed.weight.copy_(conv.weight / std.view(1, 3, 1, 1))
        absorbed.bias.copy_(
            conv.bias - (conv.weight * (mean / std).view(1, 3, 1, 1)).sum(dim=(1, 2, 3))
        )
        gap = (conv(out) - absorbed(images)).abs().max()
        padded = torch.nn.Conv2d(3, 4, 3, padding=1).to(dev, f64)
        padded_absorbed = torch.nn.Conv2d(3, 4, 3, padding=1).to(dev, f64)
        padded.load_state_dict(conv.state_dict())
        padded_absorbed.load_state_dict(absorbed.state_dict())
        border_gap = (padded(out) - padded_absorbed(images)).abs().max()
    proof.close(
        "conv_absorbs_normalize",
        "conv(Normalize(x)) vs conv with W/std, b − ΣW·mean/std on raw x: max difference",
        gap,
        0.0,
        1e-9,
    )
    proof.above(
        "zero_padding_breaks_absorption",
        "the same with zero padding: max difference (at the border)",
        border_gap,
        1e-3,
    )

    # Where ImageNet's std constants come from: torchvision documents them as the
    # AVERAGE of per-image stds. That is smaller than the std of all pixels pooled
    # whenever images differ in brightness, since (law of total variance)
    # pooled variance = mean per-image variance + variance of the per-image means.
    proof.reseed(31)
    brightness = 0.4 + 0.23 * torch.rand(256, 1, 1, device=dev, dtype=f64)
    photos = brightness + 0.1 * torch.randn(256, 16, 16, device=dev, dtype=f64)
    image_means = photos.mean(dim=(1, 2))
    image_vars = photos.var(dim=(1, 2), unbiased=False)
    pooled_var = photos.var(unbiased=False)
    proof.close(
        "total_variance",
        "pooled pixel variance - (mean per-image variance + variance of per-image means)",
        pooled_var - (image_vars.mean() + image_means.var(unbiased=False)),
        0.0,
        1e-12,
    )
    average_image_std = image_vars.sqrt().mean()  # the recipe behind 0.229, 0.224, 0.225
    # expected: sqrt(1 + variance of the brightness / pixel noise variance)
    # = sqrt(1 + (0.23² / 12) / 0.1²) ≈ 1.20
    proof.close(
        "std_after_average_image_std",
        "std after Normalize with the average per-image std, images of varying brightness",
        ((photos - photos.mean()) / average_image_std).std(unbiased=False),
        (1 + 0.23**2 / 12 / 0.1**2) ** 0.5,
        0.05,
    )


if __name__ == "__main__":
    main(run, __doc__)
