"""Epochs, batches and shuffling in torch.utils.data.DataLoader

What one epoch is, and what shuffle and drop_last change, read off a real
DataLoader over a data set of indices:

- An epoch is one pass over every sample; a batch is the group of samples
  behind one parameter update (an iteration). Iterations per epoch are
  ceil(N / batch_size), the last batch being smaller, or floor(N / batch_size)
  with drop_last=True. ImageNet's 1,281,167 training images at batch 256 give
  5005 iterations per epoch, so ResNet's 60×10⁴ iterations are about 120 epochs.
- shuffle=False yields the same order every epoch (what evaluation wants);
  shuffle=True draws a new permutation every epoch, still covering every
  sample exactly once per epoch.
- Class imbalance on the data side: a WeightedRandomSampler with weights
  1/(class count) draws a 90:10 data set as roughly 50:50 batches.
"""

import math

from quizcnn.proofkit import Proof, main


class Indices:
    """A map-style data set whose sample i is the number i, so batches show the order."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


def run(proof: Proof) -> None:
    iterations_per_epoch(proof)
    shuffle_per_epoch(proof)
    balanced_sampling(proof)


def epoch_order(loader) -> list[int]:
    return [int(i) for batch in loader for i in batch]


def iterations_per_epoch(proof: Proof) -> None:
    from torch.utils.data import DataLoader

    loader = DataLoader(Indices(10), batch_size=4)
    sizes = [len(batch) for batch in loader]
    proof.close(
        "iterations_n10_b4",
        "N = 10, batch_size = 4: batches per epoch (ceil(10/4))",
        len(sizes),
        3,
        0,
    )
    proof.close(
        "last_batch_size", "N = 10, batch_size = 4: size of the last batch", sizes[-1], 2, 0
    )
    dropped = [len(batch) for batch in DataLoader(Indices(10), batch_size=4, drop_last=True)]
    proof.close(
        "iterations_drop_last",
        "the same with drop_last=True: batches per epoch (floor(10/4))",
        len(dropped),
        2,
        0,
    )

    imagenet = DataLoader(Indices(1_281_167), batch_size=256)  # len() reads no sample
    proof.close(
        "imagenet_iterations",
        "ImageNet-1k train (1,281,167 images), batch 256: iterations per epoch",
        len(imagenet),
        5005,
        0,
    )
    proof.close(
        "resnet_epochs",
        "ResNet's 60×10⁴ iterations at batch 256, in epochs",
        600_000 / len(imagenet),
        120,
        0.5,
    )
    rows = [
        [
            n,
            b,
            math.ceil(n / b),
            len(DataLoader(Indices(n), batch_size=b)),
            len(DataLoader(Indices(n), batch_size=b, drop_last=True)),
        ]
        for n, b in [(10, 4), (50_000, 128), (60_000, 64), (1_281_167, 256)]
    ]
    proof.table(
        "Iterations per epoch",
        ["N", "batch_size", "ceil(N/B)", "len(loader)", "drop_last=True"],
        rows,
    )


def shuffle_per_epoch(proof: Proof) -> None:
    torch = proof.torch
    from torch.utils.data import DataLoader

    n = 20
    fixed = DataLoader(Indices(n), batch_size=6, shuffle=False)
    first, second = epoch_order(fixed), epoch_order(fixed)
    proof.holds(
        "no_shuffle_same_order",
        "shuffle=False: two epochs come in the same order, 0..N−1",
        first == second == list(range(n)),
    )

    generator = torch.Generator().manual_seed(proof.seed)
    shuffled = DataLoader(Indices(n), batch_size=6, shuffle=True, generator=generator)
    epochs = [epoch_order(shuffled) for _ in range(3)]
    proof.holds(
        "shuffle_new_order",
        "shuffle=True: the three epochs come in three different orders",
        len({tuple(e) for e in epochs}) == 3,
        " | ".join(" ".join(map(str, e[:8])) + " …" for e in epochs),
    )
    proof.holds(
        "shuffle_covers_all",
        "shuffle=True: each epoch still holds every sample exactly once",
        all(sorted(e) == list(range(n)) for e in epochs),
    )
    again = DataLoader(
        Indices(n), batch_size=6, shuffle=True, generator=torch.Generator().manual_seed(proof.seed)
    )
    proof.holds(
        "shuffle_reproducible",
        "shuffle=True with the same generator seed repeats the same sequence of epochs",
        [epoch_order(again) for _ in range(3)] == epochs,
    )


def balanced_sampling(proof: Proof) -> None:
    torch = proof.torch
    from torch.utils.data import DataLoader, WeightedRandomSampler

    labels = torch.tensor([0] * 900 + [1] * 100)  # 90:10 imbalance
    counts = torch.bincount(labels).double()
    weights = (1.0 / counts)[labels]  # each sample weighted by 1/(its class count)
    generator = torch.Generator().manual_seed(proof.seed)
    sampler = WeightedRandomSampler(
        weights, num_samples=4000, replacement=True, generator=generator
    )
    drawn = torch.tensor(epoch_order(DataLoader(Indices(1000), batch_size=100, sampler=sampler)))
    minority_share = labels[drawn].double().mean()
    proof.close(
        "plain_minority_share", "minority share of the data set", labels.double().mean(), 0.1, 0
    )
    proof.close(
        "sampler_minority_share",
        "minority share of 4000 samples drawn with weights 1/count",
        minority_share,
        0.5,
        0.04,
    )


if __name__ == "__main__":
    main(run, __doc__)
