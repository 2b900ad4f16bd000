"""Grading, per card kind: what the right answer is, and the verdict on what was typed.

Pure functions of a card, a random generator and a line of text: no store, no
clock, no terminal. The drill, the mock interview and the Anki export all ask
here, so a choice letter, a tolerance or a generator's draw means the same
thing everywhere. A new card kind adds one case to ``expected`` and ``verdict``.
"""

from __future__ import annotations

import math
import random
import unicodedata
from typing import NamedTuple

from fsrs import Rating

from quizcnn.bank import Card, Kind

CHOICE_LETTERS = "abcdefghij"
# The one table of rating names, for every screen, log and report.
RATING_NAMES = {
    Rating.Again: "Again",
    Rating.Hard: "Hard",
    Rating.Good: "Good",
    Rating.Easy: "Easy",
}


def choice_letters(card: Card) -> str:
    """The letters of a choice card's options, in order: 'abcd' for four."""
    return CHOICE_LETTERS[: len(card.choices)]


def correct_letter(card: Card) -> str | None:
    """The letter of a choice card's correct option."""
    if card.correct is None or card.correct not in card.choices:
        return None
    return CHOICE_LETTERS[card.choices.index(card.correct)]


class Message(str):
    """A sentence for the user, in English, that also keeps its template and values so
    the screens can say it in another language (the gettext catalog holds templates)."""

    template: str
    values: dict

    def __new__(cls, template: str, **values):
        text = super().__new__(cls, template.format(**values))
        text.template, text.values = template, values
        return text


class Expected(NamedTuple):
    """The right answer for one showing of a card (a generator draws it afresh)."""

    question: str
    value: float | None = None  # numeric
    tolerance: float | None = None
    unit: str | None = None
    working: str | None = None  # a generator's worked answer
    letter: str | None = None  # choice: the correct option's letter


class Verdict(NamedTuple):
    """What a typed line means for a card."""

    attempt: str | None  # the attempt as shown beside the answer; None: revealed blank
    correct: bool | None  # None: nothing to check (a recall card, or nothing typed)
    suggested: Rating | None  # the rating a checked answer earns (Good right, Again wrong)
    error: str | None = None  # the line is no answer of this kind: why, and ask again
    covered: tuple[int, ...] = ()  # recall: indexes of the points the attempt's terms show


def expected(card: Card, rng: random.Random) -> Expected:
    """The fixed value, a generator's draw, or the correct choice."""
    match card.kind:
        case Kind.NUMERIC if card.generator:
            from quizcnn.generators import draw

            drawn = draw(card.generator, rng)
            return Expected(drawn.question, drawn.value, drawn.tolerance, drawn.unit, drawn.working)
        case Kind.NUMERIC:
            return Expected(card.question, card.value, card.tolerance, card.unit)
        case Kind.CHOICE:
            return Expected(card.question, letter=correct_letter(card))
        case Kind.RECALL | Kind.IMPLEMENT:
            return Expected(card.question)


def verdict(card: Card, right: Expected, typed: str) -> Verdict:
    """Correct or not, the suggested rating, and what to show; ``error`` when the
    line cannot be an answer of this card's kind (the question stays on screen)."""
    key = typed.strip()
    if not key:
        return Verdict(None, None, None)
    match card.kind:
        case Kind.CHOICE:
            return _choice_verdict(card, key)
        case Kind.NUMERIC:
            return _numeric_verdict(right, key)
        case Kind.RECALL:
            return Verdict(key, None, None, covered=points_said(card, key))
        case Kind.IMPLEMENT:
            return Verdict(
                None, None, None, error="o opens your file in your editor; Enter shows the solution"
            )


def check_verdict(passed: bool, runs: int, summary: str) -> Verdict:
    """A code card after its runs: passing on the first run is Good, after more runs
    Hard, still failing Again."""
    if not passed:
        return Verdict(summary, False, Rating.Again)
    return Verdict(summary, True, Rating.Good if runs == 1 else Rating.Hard)


def _choice_verdict(card: Card, key: str) -> Verdict:
    letters = choice_letters(card)
    letter = normalize_input(key).lower()
    if len(letter) != 1 or letter not in letters:
        return Verdict(
            None,
            None,
            None,
            error=Message(
                "pick a letter from {first} to {last}", first=letters[0], last=letters[-1]
            ),
        )
    picked = card.choices[letters.index(letter)]
    right = picked == card.correct
    return Verdict(f"{letter}) {picked}", right, Rating.Good if right else Rating.Again)


def _numeric_verdict(right: Expected, key: str) -> Verdict:
    number = parse_number(key)
    if number is None:
        return Verdict(None, None, None, error=Message("{key!r} is not a number", key=key))
    tolerance = right.tolerance or 0.0
    ok = abs(number - (right.value or 0.0)) <= tolerance + 1e-9 * max(1.0, abs(number))
    return Verdict(key, ok, Rating.Good if ok else Rating.Again)


def points_said(card: Card, attempt: str) -> tuple[int, ...]:
    """The key points whose terms appear in a typed attempt."""
    return tuple(i for i, point in enumerate(card.points) if point.said_in(attempt))


def rating_for_coverage(covered: int, total: int) -> Rating:
    """All points: Good; at least half: Hard; fewer: Again."""
    if total <= 0 or covered >= total:
        return Rating.Good
    return Rating.Hard if 2 * covered >= total else Rating.Again


def normalize_input(text: str) -> str:
    """Full-width letters and digits (Ａ, ０.２５) as their ASCII forms (NFKC)."""
    return unicodedata.normalize("NFKC", text)


def parse_number(text: str) -> float | None:
    """A typed number: 1024, 1,024, 1_024, 1e6, -0.5, 25% (as 25). None if not a number."""
    cleaned = normalize_input(text).strip()
    cleaned = cleaned.replace(",", "").replace("_", "").replace(" ", "").rstrip("%")
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
