"""One bank card -> the fields, tags and deck of its Anki note (shared by .apkg and text).

The field list is frozen: Anki matches an imported note type to the one already
in a collection by its field and template names, and a change would make every
re-import create a second note type ("quizcnn+") instead of updating notes.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass

from quizcnn.bank import Card, Kind, Topic
from quizcnn.export.html import attr, escape, inline_html, markdown_html, source_html
from quizcnn.grading import correct_letter, expected

NOTETYPE_NAME = "quizcnn"
FIELDS = ("Front", "Back", "Explanation", "Proof", "Sources", "Id")  # frozen: never change
ROOT_DECK = "quizcnn"
ROOT_TAG = "quizcnn"
GUID_NAMESPACE = "quizcnn"


@dataclass(frozen=True)
class NoteContent:
    card_id: str
    deck: str
    fields: tuple[str, ...]  # in FIELDS order, HTML
    tags: tuple[str, ...]


def guid(card_id: str) -> str:
    """genanki.guid_for("quizcnn", id): the card id alone decides the note."""
    import genanki

    return genanki.guid_for(GUID_NAMESPACE, card_id)


def deck_name(topic: Topic) -> str:
    # "::" nests decks in Anki; a title must not add levels of its own.
    title = " ".join(topic.title.replace("::", ":").split()) or topic.name
    return f"{ROOT_DECK}::{title}"


def deck_id(topic_name: str) -> int:
    """A stable id in genanki's recommended range [2**30, 2**31), from the topic name."""
    digest = hashlib.sha256(f"quizcnn-deck:{topic_name}".encode()).digest()
    return (1 << 30) | (int.from_bytes(digest[:4], "big") & ((1 << 30) - 1))


def tag(*parts: str) -> str:
    """A hierarchical tag: parts joined by '::', no spaces anywhere."""
    return "::".join("_".join(p.split()) for p in parts if p.strip())


def tags_for(card: Card) -> tuple[str, ...]:
    """quizcnn::<topic> and quizcnn::tag::<tag> for each of the card's tags."""
    found = [tag(ROOT_TAG, card.topic), *(tag(ROOT_TAG, "tag", t) for t in card.tags)]
    return tuple(dict.fromkeys(found))


def note_content(card: Card, topic: Topic, proof_html: str) -> NoteContent:
    fields = (
        front_html(card),
        back_html(card),
        markdown_html(card.explanation),
        proof_html,
        sources_html(card),
        escape(card.id),
    )
    return NoteContent(card.id, deck_name(topic), fields, tags_for(card))


def front_html(card: Card) -> str:
    parts = [f'<div class="qz-question">{inline_html(card.question)}</div>']
    if card.kind is Kind.CHOICE:
        options = "".join(f"<li>{inline_html(c)}</li>" for c in card.choices)
        parts.append(f'<ol class="qz-choices" type="a">{options}</ol>')
    elif card.kind is Kind.NUMERIC and card.generator:
        parts.append(
            '<div class="qz-hint">Recall the formula. (In quizcnn this card draws fresh '
            "numbers at every review; the back works one example.)</div>"
        )
    elif card.kind is Kind.NUMERIC:
        unit = f" in {escape(card.unit)}" if card.unit else ""
        tolerance = card.tolerance or 0.0
        within = f", within ± {_number(tolerance)}" if tolerance else " (exact)"
        parts.append(f'<div class="qz-hint">Answer with a number{unit}{within}.</div>')
    return "".join(parts)


def back_html(card: Card) -> str:
    parts = []
    if card.kind is Kind.CHOICE and card.correct is not None:
        letter = correct_letter(card)
        label = f"{letter}) " if letter else ""
        parts.append(f'<div class="qz-correct">{label}{inline_html(card.correct)}</div>')
    elif card.kind is Kind.NUMERIC and card.generator is None and card.value is not None:
        unit = f" {escape(card.unit)}" if card.unit else ""
        tolerance = card.tolerance or 0.0
        within = f" (± {_number(tolerance)})" if tolerance else " (exact)"
        parts.append(
            f'<div class="qz-correct">{_number(card.value)}{unit} '
            f'<span class="qz-muted">{within.strip()}</span></div>'
        )
    parts.append(f'<div class="qz-answer">{inline_html(card.answer)}</div>')
    if card.kind is Kind.NUMERIC and card.generator:
        parts.append(worked_example_html(card))
    return "".join(parts)


def worked_example_html(card: Card) -> str:
    """One drawn instance, seeded by the card id: the same example at every export."""
    drawn = expected(card, random.Random(f"quizcnn-export:{card.id}"))
    unit = f" {escape(drawn.unit)}" if drawn.unit else ""
    return (
        '<div class="qz-example"><div class="qz-label">Worked example</div>'
        f"<div>{escape(drawn.question)}</div>"
        f'<div class="qz-correct">{_number(drawn.value)}{unit}</div>'
        f'<div class="qz-muted">{escape(drawn.working)}</div></div>'
    )


def citation_html(source) -> str:
    """A registered citation linked to its page (a book's chapter page); plain text as written."""
    if source.url:
        return f'<a href="{attr(source.url)}">{escape(source.text)}</a>'
    return source_html(source.text)


def sources_html(card: Card) -> str:
    if not card.sources:
        return ""
    items = "".join(f"<li>{citation_html(s)}</li>" for s in card.sources)
    return f'<ul class="qz-sources">{items}</ul>'


def proof_reference_html(card: Card, titles: Mapping[str, str]) -> str:
    """Without --with-proofs: which proof backs the card and how to run it."""
    if not card.proof:
        return ""
    title = titles.get(card.proof, "")
    title_html = f" - {escape(title)}" if title else ""
    return (
        f'<div class="qz-proof-head"><code>{escape(card.proof)}</code>{title_html}</div>'
        f'<div class="qz-muted">Run it: <code>quizcnn explain {escape(card.id)} --run</code></div>'
    )


def _number(value: float) -> str:
    """Every digit the author wrote: 1234567 stays 1234567, 0.0001 stays 0.0001."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return escape(f"{value:.12g}")
