"""`quizcnn export anki` on a synthetic 10,000-card bank, as a ratio to bare genanki.

Baseline: genanki writing the very same notes directly (fields already built:
one model, one deck per topic, Note + Package.write_to_file), timed in the same
run. The export does that plus everything genanki does not: markdown -> HTML
with escaping, content hashes, per-note modification times, and reading and
writing the state file. Proofs are off (--no-proofs), as their time is the
proofs' own (see bench_proofs.py).

    python bench/bench_export.py              # 10,000 cards, median of 3
    python bench/bench_export.py -n 2000 -r 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import genanki

from quizcnn.bank import Bank, Card, Kind, Topic
from quizcnn.bibliography import Source, Work
from quizcnn.export.anki import export_anki
from quizcnn.export.fields import FIELDS, guid, note_content, proof_reference_html
from quizcnn.proofs import available

CARDS_PER_TOPIC = 500
EXPLANATION = """\
BatchNorm normalizes each channel over **the batch and space**:
\\[ \\hat x = \\frac{x - \\mu_c}{\\sqrt{\\sigma_c^2 + \\epsilon}}, \\qquad y = \\gamma \\hat x + \\beta \\]
so the statistics have shape \\( (C,) \\), and `running_mean` follows
\\( (1 - m)\\,r + m\\,\\mu \\) with *m = 0.1* in PyTorch.

- LayerNorm: one sample, all of (C, H, W);
- GroupNorm: one sample, a group of channels.

```python
y = (x - x.mean((0, 2, 3), keepdim=True)) / (x.var((0, 2, 3), keepdim=True) + eps) ** 0.5
```
"""


SOURCES = (
    Source.cite(
        Work(
            "ioffe2015-batchnorm",
            "paper",
            "Ioffe & Szegedy",
            "Batch Normalization",
            2015,
            arxiv="1502.03167",
        ),
        "§3",
    ),
    Source.plain("https://pytorch.org/docs/"),
)


def synthetic_bank(n_cards: int) -> Bank:
    """n cards over topics of CARDS_PER_TOPIC, kinds mixed as in the real bank."""
    proofs = sorted(available())
    topics: dict[str, Topic] = {}
    cards: list[Card] = []
    for t in range((n_cards + CARDS_PER_TOPIC - 1) // CARDS_PER_TOPIC):
        name = f"topic{t:03d}"
        topic_cards = []
        for i in range(min(CARDS_PER_TOPIC, n_cards - t * CARDS_PER_TOPIC)):
            topic_cards.append(_card(name, t * CARDS_PER_TOPIC + i, proofs))
        topics[name] = Topic(name, f"Synthetic topic {t}", (), tuple(topic_cards), Path("."))
        cards.extend(topic_cards)
    return Bank(topics, cards)


def _card(topic: str, k: int, proofs: list[str]) -> Card:
    common = dict(
        id=f"syn-{k:05d}",
        topic=topic,
        question=f"Question {k}: over which axes does BatchNorm2d normalize, and is 1 < 2?",
        answer=f"Answer {k}: per channel over (N, H, W); \\( \\mu_c \\) has shape (C,).",
        explanation=EXPLANATION,
        proof=proofs[k % len(proofs)],
        sources=SOURCES,
        tags=("normalization", f"group-{k % 7}"),
    )
    if k % 3 == 1:
        return Card(kind=Kind.CHOICE, choices=("64", "128", "256"), correct="128", **common)
    if k % 3 == 2:
        return Card(kind=Kind.NUMERIC, value=0.1 * k, tolerance=0.01, unit="px", **common)
    return Card(kind=Kind.RECALL, **common)


def time_export(bank: Bank, folder: Path, repeat: int) -> tuple[float, float]:
    """Median seconds of a first export (every note new) and of an unchanged re-export."""
    first, again = [], []
    for r in range(repeat):
        state = folder / f"state-{r}.json"
        started = time.perf_counter()
        export_anki(bank, folder / "export.apkg", state_path=state, now=1_700_000_000)
        first.append(time.perf_counter() - started)
        started = time.perf_counter()
        export_anki(bank, folder / "export.apkg", state_path=state, now=1_700_003_600)
        again.append(time.perf_counter() - started)
    return statistics.median(first), statistics.median(again)


def time_genanki(bank: Bank, folder: Path, repeat: int) -> float:
    """Median seconds for genanki alone to write the same notes, fields prebuilt."""
    titles = {name: info.title for name, info in available().items()}
    prebuilt = [
        (card, note_content(card, bank.topics[card.topic], proof_reference_html(card, titles)))
        for card in bank.cards
    ]
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        model = genanki.Model(
            1_607_392_385,
            "quizcnn",
            fields=[{"name": f} for f in FIELDS],
            templates=[{"name": "quizcnn", "qfmt": "{{Front}}", "afmt": "{{Back}}"}],
        )
        decks: dict[str, genanki.Deck] = {}
        for position, (card, content) in enumerate(prebuilt):
            deck = decks.setdefault(card.topic, genanki.Deck(len(decks) + 1, content.deck))
            deck.add_note(
                genanki.Note(
                    model=model,
                    fields=list(content.fields),
                    tags=list(content.tags),
                    guid=guid(card.id),
                    due=position,
                )
            )
        genanki.Package(list(decks.values())).write_to_file(
            str(folder / "genanki.apkg"), timestamp=1_700_000_000
        )
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--cards", type=int, default=10_000)
    parser.add_argument("-r", "--repeat", type=int, default=3, help="runs of each (median)")
    args = parser.parse_args()
    bank = synthetic_bank(args.cards)
    with tempfile.TemporaryDirectory(prefix="bench-export-") as scratch:
        folder = Path(scratch)
        time_genanki(bank, folder, 1)  # warm imports and caches for both sides
        baseline = time_genanki(bank, folder, args.repeat)
        first, again = time_export(bank, folder, args.repeat)
        size = (folder / "export.apkg").stat().st_size
    print(f"{args.cards} cards in {len(bank.topics)} topics, no proofs, median of {args.repeat}")
    print(f"  genanki alone, same notes       {baseline:7.2f} s   1.00x")
    print(f"  quizcnn export, first           {first:7.2f} s   {first / baseline:.2f}x")
    print(f"  quizcnn export, unchanged again {again:7.2f} s   {again / baseline:.2f}x")
    print(f"  package size {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
