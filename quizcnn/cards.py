"""Cards, topics and the bank, and the schema a topic file follows.

The model alone: ``quizcnn.bank`` loads it from YAML (through
``quizcnn.bank_check``) or from the bank cache.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple

from quizcnn.suggest import suggest

FORMAT_VERSION = 1


class Kind(str, Enum):
    """A card's kind: what the user gives and how it is graded (see quizcnn.grading)."""

    RECALL = "recall"  # say the answer, grade yourself against it and its key points
    CHOICE = "choice"  # pick an option
    NUMERIC = "numeric"  # type a number, checked within a tolerance
    IMPLEMENT = "implement"  # write the code; a checker runs it against torch

    def __str__(self) -> str:
        return self.value


KINDS = tuple(k.value for k in Kind)
# The keys only one kind may carry.
KIND_KEYS = {
    Kind.CHOICE: ("choices", "correct"),
    Kind.NUMERIC: ("value", "tolerance", "unit", "generator"),
    Kind.RECALL: ("points",),
    Kind.IMPLEMENT: ("task", "starter", "checker", "solution"),
}
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
TOPIC_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

TOPIC_KEYS = {"format_version", "topic", "title", "aliases", "cards"}
# in the order a card is written (and shown by `explain --json`)
CARD_KEY_ORDER = (
    "id",
    "kind",
    "question",
    "answer",
    "explanation",
    "choices",
    "correct",
    "value",
    "tolerance",
    "unit",
    "generator",
    "task",
    "starter",
    "checker",
    "solution",
    "points",
    "follow_ups",
    "proof",
    "sources",
    "tags",
)
CARD_KEYS = set(CARD_KEY_ORDER)
REQUIRED_CARD_KEYS = ("id", "kind", "question", "answer", "explanation")


MIN_POINTS, MAX_POINTS = 2, 5


class Source(NamedTuple):
    """One source of a card: a registered citation (key and locator) or plain text.
    A citation is made by ``bibliography.Work.cite``; the bibliography itself is never
    loaded by a drill.
    (A NamedTuple, not a dataclass: the bank cache builds ~1,600 of them per start.)"""

    text: str  # the full citation as shown: authors, year, title, locator
    key: str | None = None
    locator: str = ""
    url: str | None = None

    def __str__(self) -> str:
        return self.text

    @classmethod
    def plain(cls, text: str) -> Source:
        return cls(text=text)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "ref": self.key, "at": self.locator or None, "url": self.url}


class Point(NamedTuple):
    """A key point a complete answer contains, and the terms that show it was said.
    (A NamedTuple, not a dataclass: the bank cache builds ~1,400 of them per start.)"""

    text: str
    terms: tuple[str, ...] = ()

    def said_in(self, attempt: str) -> bool:
        """Whether any of the terms appears in the attempt (case- and space-insensitive)."""
        said = " ".join(attempt.casefold().split())
        return any(" ".join(t.casefold().split()) in said for t in self.terms)


@dataclass(frozen=True)
class Card:
    id: str
    topic: str
    kind: Kind
    question: str
    answer: str
    explanation: str
    choices: tuple[str, ...] = ()
    correct: str | None = None
    value: float | None = None
    tolerance: float | None = None
    unit: str | None = None
    generator: str | None = None
    proof: str | None = None
    task: str | None = None  # implement: what to write, with the signature and allowed libraries
    starter: str | None = None  # implement: the file the user starts from
    checker: str | None = None  # implement: a checker's name in demos/checkers/
    solution: str | None = None  # implement: the reference solution, shown after the attempt
    points: tuple[Point, ...] = ()
    follow_ups: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    tags: tuple[str, ...] = ()
    path: Path = field(default=Path("."), compare=False)
    line: int = field(default=0, compare=False)
    # the language the text is in, and (when localized) the English card it comes from
    lang: str = field(default="en", compare=False)
    english: Card | None = field(default=None, compare=False, repr=False)

    @property
    def untranslated(self) -> bool:
        """Localized, but shown in English: its translation is missing or stale."""
        return self.english is not None and self.lang == "en"

    @property
    def with_english(self) -> bool:
        """Translated, to be shown with its English under it (--lang zh+en)."""
        return self.english is not None and self.lang.endswith("+en")

    def to_dict(self) -> dict[str, Any]:
        """The card as JSON: its keys in the bank's order, with its topic after the id."""
        out: dict[str, Any] = {"id": self.id, "topic": self.topic}
        for key in CARD_KEY_ORDER[1:]:
            value = getattr(self, key)
            if key == "sources":
                value = [s.to_dict() for s in value]
            elif key == "points":
                value = [{"text": p.text, "terms": list(p.terms)} for p in value]
            out[key] = list(value) if isinstance(value, tuple) else value
        return out

    def summary_dict(self) -> dict[str, Any]:
        """What a listing shows of a card."""
        return {
            "id": self.id,
            "kind": self.kind,
            "proof": self.proof,
            "tags": list(self.tags),
            "question": self.question,
        }


class Topic(NamedTuple):
    name: str
    title: str
    aliases: tuple[str, ...]
    cards: tuple[Card, ...]
    path: Path

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.name,
            "title": self.title,
            "aliases": list(self.aliases),
            "cards": len(self.cards),
        }


class BankIssue(NamedTuple):
    """One problem in a bank file, printed as ``path:line:col: card-id: message``."""

    path: Path
    line: int
    column: int
    card_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.card_id}: {self.message}"


class BankError(Exception):
    """The bank has problems; ``issues`` lists every one of them in file order."""

    def __init__(self, issues: Sequence[BankIssue]):
        self.issues = list(issues)
        super().__init__(f"{len(self.issues)} problem(s) in the question bank")


class UnknownName(LookupError):
    """A topic, alias or card id that the bank does not have."""

    def __init__(self, name: str, suggestions: Sequence[str]):
        self.name = name
        self.suggestions = list(suggestions)
        hint = f"; did you mean {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"no topic, alias or card id named {name!r}{hint}")


@dataclass
class Bank:
    topics: dict[str, Topic]
    cards: list[Card]  # bank order: topic files in order, cards in file order
    warnings: list[BankIssue] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.by_id = {card.id: card for card in self.cards}
        # a name is looked up lowercased (an overlay's alias may be written "CNN 架构")
        self.aliases = {a.lower(): t.name for t in self.topics.values() for a in t.aliases}

    def topic_of(self, name: str) -> Topic | None:
        """A topic by its name or one of its aliases (case-insensitive)."""
        key = name.lower()
        return self.topics.get(key) or self.topics.get(self.aliases.get(key, ""))

    def find(self, name: str) -> list[Card]:
        """The cards a user means by a topic, an alias or a card id."""
        topic = self.topic_of(name)
        if topic is not None:
            return list(topic.cards)
        card = self.by_id.get(name.lower())
        if card is not None:
            return [card]
        raise UnknownName(name, self.suggest(name))

    def suggest(self, name: str, n: int = 3) -> list[str]:
        return suggest(name, [*self.topics, *self.aliases, *self.by_id], n)

    def tag_counts(self, topic: str | None = None) -> dict[str, int]:
        """Each tag with its number of cards (in one topic if given), most used first."""
        counts: dict[str, int] = {}
        for card in self.select([topic] if topic else []):
            for tag in card.tags:
                counts[tag] = counts.get(tag, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def select(self, topics: Iterable[str] = (), tags: Iterable[str] = ()) -> list[Card]:
        """Cards of the given topics (names or aliases) and tags, in bank order."""
        wanted_topics = set()
        for name in topics:
            topic = self.topic_of(name)
            if topic is None:
                raise UnknownName(name, suggest(name, [*self.topics, *self.aliases]))
            wanted_topics.add(topic.name)
        wanted_tags = set(tags)
        return [
            c
            for c in self.cards
            if (not wanted_topics or c.topic in wanted_topics)
            and (not wanted_tags or wanted_tags.intersection(c.tags))
        ]
