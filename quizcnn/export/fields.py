"""Bank cards -> the whole content of their Anki notes (shared by .apkg and text).

One call, ``note_contents(cards, topics, proofs, cache)``, gives each card's
``NoteContent``: every field in FIELDS order, the tags, the deck, the GUID, the
proof part (the rendered proof's HTML with its fingerprint and media, or the
reference to the proof when exporting without proofs) and the digest that
decides "changed". Nothing goes back and forth: the .apkg writer stamps and
writes what it gets (anki.py), the text export writes it as rows (tsv.py).

A note has two halves. The card's own fields (Front, Back, Explanation,
Sources, Id), tags, deck and GUID depend on the card and its topic alone: they
are what costs (markdown to HTML), so they are what the render cache keeps
(cache.py), keyed by ``source_key``, and what forked workers render for a
large export (workers.py). The Proof field comes from ``Proofs``: each proof
result is rendered once per export, however many cards cite it, and a
reference is a line of HTML; it is never taken from the cache, so it always
shows the result given now. The cache keeps the note's digest too, with the
``ident`` of the proof part it was made with: another proof part (a new
result) means the note is hashed again, though its card is not rendered again.

The field list is frozen: Anki matches an imported note type to the one already
in a collection by its field and template names, and a change would make every
re-import create a second note type ("quizcnn+") instead of updating notes.
"""

from __future__ import annotations

import hashlib
import random
import sys
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from quizcnn.bank import Card, Kind, Topic
from quizcnn.export.cache import (
    BACK,
    CARD_ID,
    DIGEST,
    EXPLANATION,
    FRONT,
    GUID,
    ID,
    KEY,
    PROOF_IDENT,
    SOURCES,
    TAGS,
    RenderCache,
)
from quizcnn.export.html import attr, escape, inline_html, markdown_html, source_html
from quizcnn.export.state import content_hash
from quizcnn.export.workers import MAX_CHUNKS, Forked, worker_count
from quizcnn.grading import correct_letter, expected

NOTETYPE_NAME = "quizcnn"
FIELDS = ("Front", "Back", "Explanation", "Proof", "Sources", "Id")  # frozen: never change
PROOF_INDEX = FIELDS.index("Proof")
ROOT_DECK = "quizcnn"
ROOT_TAG = "quizcnn"
GUID_NAMESPACE = "quizcnn"
# The render cache's name for the HTML this module and html.py produce: bump it
# whenever a card's rendered fields would come out differently. (The cache's
# key also hashes the source files of the code that renders, see renderer_key,
# so a forgotten bump goes unnoticed only where that code is not read from .py
# files.)
RENDER_VERSION = 1
# From this many cards to render, forked workers share the rendering (a card
# costs ~40 µs, a fork ~2 ms, receiving a card's record ~4 µs).
POOL_MIN_CARDS = 1000


def renderer_key() -> str:
    """RENDER_VERSION and the source of the code that renders a card's half (this
    module, html.py, grading.py for the choice letters): the render cache's mark."""
    from quizcnn import grading
    from quizcnn.export import html

    digest = hashlib.sha256(f"quizcnn-render:{RENDER_VERSION}".encode())
    for module in (sys.modules[__name__], html, grading):
        try:
            digest.update(Path(module.__file__ or "").read_bytes())
        except OSError:  # no source to read (a frozen or zipped install): the version decides
            digest.update(b"-")
    return digest.hexdigest()


@dataclass(slots=True)
class ProofPart:
    """What a note's Proof field holds: a rendered proof result, or a reference."""

    html: str
    fingerprint: str  # what change detection hashes in place of ``html`` (round-off hidden)
    media: Mapping[str, bytes] = field(default_factory=dict)  # file name -> PNG bytes
    ident: str = ""  # names this part for the render cache: same ident, same fingerprint


NO_PROOF = ProofPart("", "")


@dataclass(slots=True)
class NoteContent:
    """Everything one note holds; what the .apkg and the text export write."""

    card_id: str
    guid: str
    deck: str
    fields: tuple[str, ...]  # in FIELDS order, HTML
    tags: tuple[str, ...]
    proof: ProofPart
    known_digest: str | None = None  # note_hash(self), when it was made with the rest

    @property
    def digest(self) -> str:
        """What decides "changed" (see note_hash)."""
        return self.known_digest or note_hash(self)


def note_hash(content: NoteContent) -> str:
    """Every field (the Proof field by its fingerprint), then the tags; the same
    digest as every earlier release, so an upgrade marks no note as changed."""
    return _note_digest(content.fields, content.tags, content.proof.fingerprint)


def _note_digest(fields: Sequence[str], tags: Sequence[str], proof_fingerprint: str) -> str:
    hashed = list(fields)
    hashed[PROOF_INDEX] = proof_fingerprint
    return content_hash([*hashed, "\x1e", *tags])


class Proofs:
    """The Proof field of each card: its proof's result rendered once per export, or
    (without results, or for a proof that has none) which proof it is and how to run it."""

    def __init__(
        self,
        results: Mapping[str, object] | None = None,
        titles: Mapping[str, str] | None = None,
    ):
        self.results = results or {}
        self.titles = titles or {}
        self._rendered: dict[str, ProofPart] = {}
        self._heads: dict[str, tuple[str, str]] = {}  # name -> (reference HTML up to the id, ident)

    @property
    def media(self) -> dict[str, bytes]:
        """The charts of every result given out so far (those the cards cite)."""
        return {name: png for part in self._rendered.values() for name, png in part.media.items()}

    def part(self, card: Card) -> ProofPart:
        name = card.proof
        if not name:
            return NO_PROOF
        rendered = self._rendered.get(name)
        if rendered is None and name in self.results:
            from quizcnn.export.proof_html import proof_result_html

            html = proof_result_html(self.results[name])  # type: ignore[arg-type]
            ident = "result:" + hashlib.sha256(html.fingerprint.encode()).hexdigest()
            rendered = ProofPart(html.html, html.fingerprint, html.media, ident)
            self._rendered[name] = rendered
        if rendered is not None:
            return rendered
        head = self._heads.get(name)
        if head is None:
            title = self.titles.get(name, "")
            head = self._heads[name] = (_reference_head(name, title), f"reference:{name}:{title}")
        reference = f"{head[0]}{escape(card.id)} --run</code></div>"
        return ProofPart(reference, reference, {}, head[1])


def note_contents(
    cards: Sequence[Card],
    topics: Mapping[str, Topic],
    proofs: Proofs,
    cache: RenderCache | None = None,
    *,
    defer: Container[str] = (),
) -> NoteContents:
    """Each card's whole note, in the order given: the one call of both exports.

    ``cache`` (a RenderCache) supplies the halves whose source it holds, and the
    digests of the notes whose proof part it holds too; what is rendered or
    hashed now goes into it. A large batch is rendered with forked workers; then
    the cards whose ids are in ``defer`` (new notes, whose modification time
    does not depend on their content) are rendered while the caller consumes
    the others, in order. See NoteContents."""
    return NoteContents(cards, topics, proofs, cache, defer)


class NoteContents(Sequence[NoteContent]):
    """The notes of a batch of cards, in order.

    Everything is ready once this is made, except, for a large batch, the notes
    of deferred cards: those are rendered by forked workers (workers.py), chunk
    by chunk in card order, and ``self[i]`` waits for its chunk (or renders it,
    if no worker has taken it yet). Once every note is known, the cache starts
    being written. ``close()`` (or ``with``) reaps the workers; asking for every
    note does it too."""

    def __init__(
        self,
        cards: Sequence[Card],
        topics: Mapping[str, Topic],
        proofs: Proofs,
        cache: RenderCache | None,
        defer: Container[str],
    ):
        self.cards = list(cards)
        decks = {name: deck_name(topic) for name, topic in topics.items()}
        self._decks = [decks[card.topic] for card in self.cards]
        self._parts = [proofs.part(card) for card in self.cards]
        # cards share their citations and tags: each rendered once an export
        self._sources: dict[tuple, str] = {}
        self._tags: dict[tuple, tuple[str, ...]] = {}
        self._cache = cache
        self._contents: list[NoteContent | None] = [None] * len(self.cards)
        self._forked: Forked | None = None
        self._chunk_of: dict[int, int] = {}  # card index -> the workers' chunk it is in
        self._pending = 0  # cards the workers have not sent yet
        missing = [i for i in range(len(self.cards)) if not self._reuse(i)]
        workers = worker_count(len(missing), POOL_MIN_CARDS)
        if workers:
            # Chunks in card order, those of deferred cards last: the parent asks
            # for the others now (doing what no worker has taken yet), and for the
            # deferred ones as it writes.
            later = [i for i in missing if self.cards[i].id in defer]
            now = [i for i in missing if self.cards[i].id not in defer]
            chunks = _chunks(now) + _chunks(later)
            try:
                self._forked = Forked(self._render_chunk, chunks, workers)
            except OSError:  # no fork to be had (limits): all of it here
                pass
            else:
                self._chunk_of = {i: k for k, chunk in enumerate(chunks) for i in chunk}
                self._pending = len(self._chunk_of)
                missing = now
        for i in missing:
            if self._forked is None:
                self._take(i, self._render(i))
            else:
                self[i]
        if not self._pending:
            self._complete()

    def _complete(self) -> None:
        """Every note is known: the workers can go, and the cache can be written
        (in the background, while the caller writes the notes)."""
        self.close()
        if self._cache is not None:
            self._cache.save_in_background()

    def _reuse(self, i: int) -> bool:
        """Note ``i`` from the cache, if it holds the card's half (not hashed again
        unless the proof part is another). A card the cache has no record of needs
        no key here: it is made with the rendering (by a worker, for a large batch)."""
        card, part, cache = self.cards[i], self._parts[i], self._cache
        if cache is None or card.generator is not None or card.id not in cache:
            return False  # (a drawn example has no key: its generator's code is not in it)
        record = cache.get(card.id, source_key(card, self._decks[i]))
        if record is None:
            return False
        if record[PROOF_IDENT] == part.ident:
            self._contents[i] = self._note(i, record)
            return True
        record = record.copy()
        record[PROOF_IDENT], record[DIGEST] = part.ident, ""
        content = self._contents[i] = self._note(i, record)
        record[DIGEST] = content.known_digest = note_hash(content)
        cache.put(card.id, record)
        return True

    def _render(self, i: int) -> list[str]:
        """Card ``i``'s record, rendered now."""
        card, part, deck = self.cards[i], self._parts[i], self._decks[i]
        cacheable = self._cache is not None and card.generator is None  # a drawn example: no key
        key = source_key(card, deck) if cacheable else ""
        front, back, explanation = (
            front_html(card),
            back_html(card),
            markdown_html(card.explanation),
        )
        sources = self._sources.get(card.sources)
        if sources is None:
            sources = self._sources[card.sources] = sources_html(card)
        tags = self._tags.get((card.topic, card.tags))
        if tags is None:
            tags = self._tags[card.topic, card.tags] = tags_for(card)
        id_html = escape(card.id)
        fields = (front, back, explanation, part.html, sources, id_html)
        digest = _note_digest(fields, tags, part.fingerprint) if self._cache is not None else ""
        record = [card.id, key, guid(card.id), deck, " ".join(tags), front, back, explanation]
        record += [sources, id_html, part.ident, digest]
        return record

    def _render_chunk(self, chunk: Sequence[int]) -> list[list[str]]:
        """A chunk's records (in a worker, they go back pickled: cheaper, all told,
        than any other spelling; the cache writer encodes them in the background)."""
        return [self._render(i) for i in chunk]

    def _take(self, i: int, record: list[str]) -> None:
        """A record rendered now: into the cache (unless a drawn example's), and the note."""
        if record[KEY]:
            self._cache.put(record[CARD_ID], record)
        self._contents[i] = self._note(i, record)

    def _note(self, i: int, record: list[str]) -> NoteContent:
        part = self._parts[i]
        fields = (record[FRONT], record[BACK], record[EXPLANATION], part.html, record[SOURCES])
        tags = tuple(record[TAGS].split(" ")) if record[TAGS] else ()
        return NoteContent(
            record[CARD_ID],
            record[GUID],
            self._decks[i],
            (*fields, record[ID]),
            tags,
            part,
            record[DIGEST] or None,
        )

    def deferred(self, i: int) -> bool:
        """Whether note ``i`` is still being rendered (asking for it waits)."""
        return self._contents[i] is None

    def __len__(self) -> int:
        return len(self._contents)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        content = self._contents[i]
        if content is None:
            k = self._chunk_of[i]
            forked = self._forked
            for j, rendered in zip(forked.chunks[k], forked.result(k), strict=True):  # type: ignore[union-attr]
                self._take(j, rendered)
            self._pending -= len(forked.chunks[k])  # type: ignore[union-attr]
            if not self._pending:
                self._complete()
            content = self._contents[i]
        return content

    def close(self) -> None:
        if self._forked is not None:
            self._forked.close()
            self._forked = None

    def __enter__(self) -> NoteContents:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _chunks(items: list[int], size: int = 100) -> list[list[int]]:
    """Runs of ``size`` items (~4 ms of rendering): small enough for the work to
    split evenly, large enough for a message to carry much more than its cost."""
    size = max(size, -(-len(items) // (MAX_CHUNKS // 2)))
    return [items[k : k + size] for k in range(0, len(items), size)]


def _more_source(card: Card) -> str:
    """What the fronts and backs of code cards, key points and other languages add."""
    plain = card.task is None and card.starter is None and card.solution is None
    if plain and not card.points and not card.with_english:
        return f"(None, None, None, [], {card.lang!r}, None)"  # the repr below, for most cards
    english = (card.english.question, card.english.answer) if card.with_english else None
    return repr(
        (card.task, card.starter, card.solution, [p.text for p in card.points], card.lang)
        + (english,)
    ).replace("\x00", "\\x00")


def source_key(card: Card, deck: str) -> str:
    """A digest of everything a card's half depends on: change any of it and the
    half is rendered again. (Not the proof: the half does not hold it.) The texts
    are joined with NUL after the reprs of the single values and the counts of the
    lists; should a text hold a NUL of its own, the whole card is spelled as a
    repr instead."""
    choices, tags, sources = card.choices, card.tags, card.sources
    text = "\x00".join(
        (
            card.id,
            card.topic,
            deck,
            card.kind,
            card.question,
            card.answer,
            card.explanation,
            f"{card.correct!r} {card.value!r} {card.tolerance!r} {card.unit!r} "
            f"{card.generator!r} {len(choices)} {len(tags)} {len(sources)}",
            *choices,
            *tags,
            *[f"{s.text}\x00{s.url}" for s in sources],
            _more_source(card),
        )
    )
    if text.count("\x00") != 8 + len(choices) + len(tags) + 2 * len(sources):
        text = repr(
            (card.id, card.topic, deck, card.kind.value, card.question, card.answer)
            + (card.explanation, card.correct, card.value, card.tolerance, card.unit)
            + (card.generator, choices, tags, [(s.text, s.url) for s in sources])
            + (_more_source(card),)
        )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# genanki's alphabet for GUIDs (genanki.util.BASE91_TABLE), in order, and every
# pair of its digits (two digits a step: half the divisions).
_BASE91 = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&()*+,-./:;<=>?@[]^_`{|}~"
)
_BASE91_PAIRS = [a + b for a in _BASE91 for b in _BASE91]


def guid(card_id: str) -> str:
    """genanki.guid_for("quizcnn", id), computed the same way without its per-byte
    loops: the first 8 bytes of the SHA-256 of "quizcnn__<id>", in base 91, most
    significant digit first. The card id alone decides the note."""
    value = int.from_bytes(
        hashlib.sha256(f"{GUID_NAMESPACE}__{card_id}".encode()).digest()[:8], "big"
    )
    pairs = []
    while value >= 91:  # (a pair left most significant is >= 91: no leading zero digit)
        value, pair = divmod(value, 91 * 91)
        pairs.append(_BASE91_PAIRS[pair])
    head = _BASE91[value] if value else ""
    return head + "".join(reversed(pairs))


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
    return "::".join(["_".join(p.split()) for p in parts if p.strip()])


def tags_for(card: Card) -> tuple[str, ...]:
    """quizcnn::<topic> and quizcnn::tag::<tag> for each of the card's tags."""
    found = [tag(ROOT_TAG, card.topic), *[tag(ROOT_TAG, "tag", t) for t in card.tags]]
    return tuple(dict.fromkeys(found))


def front_html(card: Card) -> str:
    question = f'<div class="qz-question">{inline_html(card.question)}</div>'
    if card.with_english:  # --lang zh+en: the English under it, dimmer
        question += f'<div class="qz-muted">{inline_html(card.english.question)}</div>'
    if card.kind is Kind.IMPLEMENT:
        return (
            f"{question}{markdown_html(card.task or '')}"
            f'<div class="qz-label">Starter</div>{_code_html(card.starter or "")}'
        )
    if card.kind is Kind.CHOICE:
        options = "".join([f"<li>{inline_html(c)}</li>" for c in card.choices])
        return f'{question}<ol class="qz-choices" type="a">{options}</ol>'
    if card.kind is Kind.NUMERIC and card.generator:
        return (
            f'{question}<div class="qz-hint">Recall the formula. (In quizcnn this card draws '
            "fresh numbers at every review; the back works one example.)</div>"
        )
    if card.kind is Kind.NUMERIC:
        unit = f" in {escape(card.unit)}" if card.unit else ""
        tolerance = card.tolerance or 0.0
        within = f", within ± {_number(tolerance)}" if tolerance else " (exact)"
        return f'{question}<div class="qz-hint">Answer with a number{unit}{within}.</div>'
    return question


def back_html(card: Card) -> str:
    parts = []
    if card.kind is Kind.CHOICE and card.correct is not None:
        letter = correct_letter(card)
        label = f"{letter}) " if letter else ""
        parts.append(f'<div class="qz-correct">{label}{inline_html(card.correct)}</div>')
    elif card.kind is Kind.NUMERIC and card.generator is None and card.value is not None:
        unit = f" {escape(card.unit)}" if card.unit else ""
        tolerance = card.tolerance or 0.0
        within = f"(± {_number(tolerance)})" if tolerance else "(exact)"
        parts.append(
            f'<div class="qz-correct">{_number(card.value)}{unit} '
            f'<span class="qz-muted">{within}</span></div>'
        )
    if card.kind is Kind.IMPLEMENT:
        parts.append(
            f'<div class="qz-label">Reference solution</div>{_code_html(card.solution or "")}'
        )
    parts.append(f'<div class="qz-answer">{inline_html(card.answer)}</div>')
    if card.with_english:
        parts.append(f'<div class="qz-muted">{inline_html(card.english.answer)}</div>')
    if card.points:  # the key points, as a checklist to tick against what you said
        items = "".join(f"<li>☐ {inline_html(p.text)}</li>" for p in card.points)
        parts.append(f'<div class="qz-label">Key points</div><ul class="qz-points">{items}</ul>')
    if card.kind is Kind.IMPLEMENT:
        command = f"quizcnn solve {card.id} FILE"
        parts.append(
            f'<div class="qz-hint">Check your own file: <code>{escape(command)}</code></div>'
        )
    if card.kind is Kind.NUMERIC and card.generator:
        parts.append(worked_example_html(card))
    return "".join(parts)


def _code_html(code: str) -> str:
    """Python source as an escaped code block."""
    return markdown_html(f"```python\n{code.rstrip()}\n```")


def worked_example_html(card: Card) -> str:
    """One drawn instance, seeded by the card id: the same example at every export."""
    drawn = expected(card, random.Random(f"quizcnn-export:{card.id}"))
    unit = f" {escape(drawn.unit)}" if drawn.unit else ""
    return (
        '<div class="qz-example"><div class="qz-label">Worked example</div>'
        f"<div>{escape(drawn.question)}</div>"
        f'<div class="qz-correct">{_number(drawn.value)}{unit}</div>'
        f'<div class="qz-muted">{escape(drawn.working or "")}</div></div>'
    )


def citation_html(source) -> str:
    """A registered citation linked to its page (a book's chapter page); plain text as written."""
    if source.url:
        return f'<a href="{attr(source.url)}">{escape(source.text)}</a>'
    return source_html(source.text)


def sources_html(card: Card) -> str:
    if not card.sources:
        return ""
    items = "".join([f"<li>{citation_html(s)}</li>" for s in card.sources])
    return f'<ul class="qz-sources">{items}</ul>'


def _reference_head(proof: str, title: str) -> str:
    """Without --with-proofs, the Proof field names the proof (with its title) and
    says how to run it; this is that HTML up to the card's id (Proofs.part)."""
    title_html = f" - {escape(title)}" if title else ""
    return (
        f'<div class="qz-proof-head"><code>{escape(proof)}</code>{title_html}</div>'
        '<div class="qz-muted">Run it: <code>quizcnn explain '
    )


def _number(value: float) -> str:
    """Every digit the author wrote: 1234567 stays 1234567, 0.0001 stays 0.0001.
    (Digits, a point, e, a sign, inf or nan: nothing to escape.)"""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.12g}"
