"""`quizcnn export anki` on a synthetic 10,000-card bank, as a ratio to bare genanki.

Baseline: genanki writing the very same notes directly (fields, tags, deck
names and GUIDs prebuilt, the same note type: one model, one deck per topic,
Note + Package.write_to_file), timed in the same run. Both clocks stop at the
same event, the .apkg written (for the export, when its package writer
returns: the bench wraps it); what the export does after that (saving its state,
waiting for its render cache to be written) is printed beside, as the time
export_anki takes to return. The export does everything genanki does plus:
markdown -> HTML with escaping, content hashes, per-note modification times,
and reading the state and the render cache. Proofs are off (--no-proofs), as
their time is the proofs' own (see bench_proofs.py).

The synthetic cards repeat no text: each card's question, answer and
explanation carry its number and vary their words, in the shape of the real
bank's (markdown with inline and display math, emphasis, inline code, a list, a
fenced code block), so that nothing rendered for one card serves another.

Figures: a first export (empty state and cache), an unchanged re-export, and a
re-export after 1% of the cards were edited. Each run of the baseline and of
the three exports is interleaved with the others, so a change in the machine's
load hits all of them; each time is a median, each ratio the median of the
rounds' own ratios to that round's genanki run. The ratios are printed, not
asserted.

    python bench/bench_export.py              # 10,000 cards, median of 3
    python bench/bench_export.py -n 2000 -r 5
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import genanki

from quizcnn.bank import Bank, Card, Kind, Topic
from quizcnn.bibliography import Source, Work
from quizcnn.export import anki
from quizcnn.export.anki import (
    BACK_TEMPLATE,
    CSS,
    FRONT_TEMPLATE,
    MODEL_ID,
    _write_package,
    export_anki,
)
from quizcnn.export.fields import FIELDS, NoteContent, Proofs, note_contents
from quizcnn.proofs import available

CARDS_PER_TOPIC = 500
LAYERS = ("BatchNorm", "LayerNorm", "GroupNorm", "InstanceNorm", "RMSNorm", "WeightNorm", "SyncBN")
AXES = ("(N, H, W)", "(C, H, W)", "(H, W)", "(N, L)", "(C,)")
WORDS = ("batch", "space", "channels", "groups", "tokens", "features", "pixels", "samples")


def explanation(k: int) -> str:
    """A distinct markdown explanation per card, in the shape of the real bank's:
    a paragraph with bold, inline and display math, italics and inline code, a
    list, and a fenced code block (a realistic bank repeats no text)."""
    layer, other = LAYERS[k % 7], LAYERS[(k // 7) % 7]
    word, word2 = WORDS[k % 8], WORDS[(k // 8) % 8]
    axes = AXES[k % 5]
    m, eps = 0.05 + (k % 19) / 100, 10.0 ** -(3 + k % 5)
    return f"""\
{layer} (card {k}) normalizes each channel over **the {word} and {word2}**:
\\[ \\hat x_{{{k}}} = \\frac{{x - \\mu_c}}{{\\sqrt{{\\sigma_c^2 + {eps:g}}}}}, \\qquad y = \\gamma \\hat x + \\beta_{{{k % 97}}} \\]
so the statistics have shape \\( {axes} \\), and `running_mean_{k}` follows
\\( (1 - m)\\,r + m\\,\\mu \\) with *m = {m:.2f}* in PyTorch ({k} < {k + 1} & more).

- {other}: one sample, all of {AXES[(k + 1) % 5]} in case {k};
- GroupNorm: one sample, a group of {k % 32 + 1} {word2}.

```python
y{k} = (x - x.mean({axes}, keepdim=True)) / (x.var(dim={k % 4}, keepdim=True) + {eps:g}) ** 0.5
```
"""


SOURCES = (
    Work(
        "ioffe2015-batchnorm",
        "paper",
        "Ioffe & Szegedy",
        "Batch Normalization",
        2015,
        arxiv="1502.03167",
    ).cite("§3"),
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
        question=(
            f"Question {k}: over which axes does {LAYERS[k % 7]}2d normalize the "
            f"{WORDS[k % 8]}, and is {k} < {k + 2}?"
        ),
        answer=(
            f"Answer {k}: per channel over {AXES[k % 5]}; \\( \\mu_{{{k}}} \\) has shape "
            f"({k % 512 + 1},), *not* **{WORDS[(k + 3) % 8]}**."
        ),
        explanation=explanation(k),
        proof=proofs[k % len(proofs)],
        sources=SOURCES,
        tags=("normalization", f"group-{k % 7}"),
    )
    if k % 3 == 1:
        return Card(kind=Kind.CHOICE, choices=("64", "128", "256"), correct="128", **common)
    if k % 3 == 2:
        return Card(kind=Kind.NUMERIC, value=0.1 * k, tolerance=0.01, unit="px", **common)
    return Card(kind=Kind.RECALL, **common)


def edited(bank: Bank, every: int = 100) -> Bank:
    """The same bank with one card in ``every`` given a new answer."""
    cards = [
        dataclasses.replace(c, answer=c.answer + " (edited)") if k % every == 0 else c
        for k, c in enumerate(bank.cards)
    ]
    by_topic: dict[str, list[Card]] = {}
    for card in cards:
        by_topic.setdefault(card.topic, []).append(card)
    topics = {
        name: topic._replace(cards=tuple(by_topic[name])) for name, topic in bank.topics.items()
    }
    return Bank(topics, cards)


WRITTEN: list[float] = []  # when each export's .apkg was in place


def _clocked_write_package(*args) -> None:
    _write_package(*args)
    WRITTEN.append(time.perf_counter())


anki._write_package = _clocked_write_package  # the export's own, clocked when it returns


def export_once(bank: Bank, folder: Path, state: Path, now: int) -> tuple[float, float]:
    """Seconds until the .apkg is written (the baseline's event) and until
    export_anki returns (the state saved and the render cache written too)."""
    WRITTEN.clear()
    started = time.perf_counter()
    export_anki(bank, folder / "export.apkg", state_path=state, now=now)
    returned = time.perf_counter()
    return WRITTEN[0] - started, returned - started


def genanki_once(bank: Bank, prebuilt: list[NoteContent], folder: Path) -> float:
    """Seconds for genanki alone to write the same notes, their content prebuilt,
    until the .apkg is written."""
    started = time.perf_counter()
    model = genanki.Model(
        MODEL_ID,
        "quizcnn",
        fields=[{"name": f} for f in FIELDS],
        templates=[{"name": "quizcnn", "qfmt": FRONT_TEMPLATE, "afmt": BACK_TEMPLATE}],
        css=CSS,
    )
    decks: dict[str, genanki.Deck] = {}
    for position, (card, content) in enumerate(zip(bank.cards, prebuilt, strict=True)):
        deck = decks.setdefault(card.topic, genanki.Deck(len(decks) + 1, content.deck))
        deck.add_note(
            genanki.Note(
                model=model,
                fields=list(content.fields),
                tags=list(content.tags),
                guid=content.guid,
                due=position,
            )
        )
    genanki.Package(list(decks.values())).write_to_file(
        str(folder / "genanki.apkg"), timestamp=1_700_000_000
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--cards", type=int, default=10_000)
    parser.add_argument("-r", "--repeat", type=int, default=3, help="runs of each (median)")
    args = parser.parse_args()
    bank = synthetic_bank(args.cards)
    changed_bank = edited(bank)
    titles = {name: info.title for name, info in available().items()}
    prebuilt = list(note_contents(bank.cards, bank.topics, Proofs(titles=titles)))
    runs: dict[str, list] = {"genanki": [], "first": [], "again": [], "edited": []}
    with tempfile.TemporaryDirectory(prefix="bench-export-") as scratch:
        folder = Path(scratch)
        genanki_once(bank, prebuilt, folder)  # warm imports and caches for both sides
        export_once(bank, folder, folder / "warm.json", 1_699_000_000)
        for r in range(args.repeat):
            state = folder / f"state-{r}.json"  # its render cache lies beside it
            runs["genanki"].append(genanki_once(bank, prebuilt, folder))
            runs["first"].append(export_once(bank, folder, state, 1_700_000_000))
            runs["again"].append(export_once(bank, folder, state, 1_700_003_600))
            runs["edited"].append(export_once(changed_bank, folder, state, 1_700_007_200))
        size = (folder / "export.apkg").stat().st_size
    baseline = statistics.median(runs["genanki"])
    print(f"{args.cards} cards in {len(bank.topics)} topics, no proofs, median of {args.repeat}")
    print(f"  {'genanki alone, same notes':<34}{baseline:7.2f} s   1.00x")
    rows = [
        ("quizcnn export, first", "first"),
        ("quizcnn export, unchanged again", "again"),
        (f"quizcnn export, {len(bank.cards) // 100} cards edited", "edited"),
    ]
    for label, name in rows:
        written = statistics.median(t[0] for t in runs[name])
        returned = statistics.median(t[1] for t in runs[name])
        # each export against the genanki run of its own round (a drift in the
        # machine's speed moves both alike): the median of those ratios
        paired = statistics.median(
            t[0] / g for t, g in zip(runs[name], runs["genanki"], strict=True)
        )
        returned_paired = statistics.median(
            t[1] / g for t, g in zip(runs[name], runs["genanki"], strict=True)
        )
        print(
            f"  {label:<34}{written:7.2f} s   {paired:.2f}x"
            f"   (returns after {returned:.2f} s, {returned_paired:.2f}x)"
        )
    print(f"  package size {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
