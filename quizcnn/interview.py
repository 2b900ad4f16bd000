"""The mock interview: a timed session that opens topics and follows their chains.

Like the drill, a state machine fed one line at a time that knows nothing about
terminals. It picks 3 to 5 topics (the user's, or the weakest by FSRS's
predicted recall now), asks each topic's opener, and follows the card's
``follow_ups``: deeper after a good answer (at least half the key points), on to
the next topic after a weak one, as an interviewer does. After each answer the
key points appear as a checklist, pre-ticked from the typed words; the user ticks
the rest, and the answer is saved at once (with its review, unless practising).
When the time is up the current question is finished, then the report.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import NamedTuple

from fsrs import Rating

from quizcnn import grading
from quizcnn.cards import Bank, Card, Kind
from quizcnn.grading import rating_for_coverage
from quizcnn.store import InterviewAnswer, Store, iso

MIN_TOPICS, MAX_TOPICS = 3, 5
ASKABLE = (Kind.RECALL, Kind.CHOICE, Kind.NUMERIC)  # a code card needs the editor: not here


class InterviewError(ValueError):
    """An interview that cannot start: bad minutes, an unknown topic, no opener."""


class Phase(Enum):
    ANSWER = "answer"  # the question is on screen, the clock runs
    TICK = "tick"  # the model answer and the checklist are shown
    DONE = "done"


@dataclass
class Asked:
    """A question on screen."""

    card: Card
    topic: str
    depth: int  # 0 for the opener, 1 for its follow-up, ...
    number: int  # 1, 2, ... in the session
    started: float  # monotonic
    expected: grading.Expected
    attempt: str = ""
    seconds: float = 0.0
    ticked: set[int] = field(default_factory=set)

    @property
    def points(self) -> list[str]:
        """The checklist: a recall card's key points, else its one answer."""
        if self.card.points:
            return [p.text for p in self.card.points]
        return [self.card.answer]


class Question(NamedTuple):
    asked: Asked
    session_left_s: float  # seconds left in the session when the question appeared


class Checklist(NamedTuple):
    asked: Asked


class Saved(NamedTuple):
    answer: InterviewAnswer
    deeper: bool  # the next question digs into this card; else the next topic


class Invalid(NamedTuple):
    text: str


class TopicReport(NamedTuple):
    topic: str
    answers: list[tuple[Card, InterviewAnswer]]

    @property
    def covered(self) -> int:
        return sum(len(a.covered) for _, a in self.answers)

    @property
    def points(self) -> int:
        return sum(a.points for _, a in self.answers)


class Report(NamedTuple):
    session_id: int
    minutes: int
    practice: bool
    topics: list[TopicReport]
    to_drill: list[str]  # card ids answered with points missed
    stopped: str  # "time", "done" (every chain asked), "quit"

    def to_dict(self) -> dict:
        return {
            "session": self.session_id,
            "minutes": self.minutes,
            "practice": self.practice,
            "stopped": self.stopped,
            "topics": [
                {
                    "topic": t.topic,
                    "covered": t.covered,
                    "points": t.points,
                    "answers": [
                        {
                            "card": card.id,
                            "seconds": round(a.seconds, 1),
                            "covered": len(a.covered),
                            "points": a.points,
                            "missed": [
                                text
                                for i, text in enumerate(_point_texts(card))
                                if i not in a.covered
                            ],
                        }
                        for card, a in t.answers
                    ],
                }
                for t in self.topics
            ],
            "to_drill": self.to_drill,
        }


class Finished(NamedTuple):
    report: Report


Event = Question | Checklist | Saved | Invalid | Finished


def _point_texts(card: Card) -> list[str]:
    return [p.text for p in card.points] if card.points else [card.answer]


def openers(cards: Sequence[Card]) -> list[Card]:
    """The cards that start a chain: they have follow-ups and no card follows to them."""
    followed = {f for c in cards for f in c.follow_ups}
    return [c for c in cards if c.follow_ups and c.id not in followed and c.kind in ASKABLE]


class Interview:
    """One mock interview over a bank."""

    def __init__(
        self,
        store: Store,
        bank: Bank,
        *,
        minutes: int = 30,
        topics: Sequence[str] = (),
        practice: bool = False,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        scheduler_for: Callable[[], object] | None = None,
        weakest: Callable[[list[str]], list[str]] | None = None,
        plan=None,  # an interview plan in force: its deadline caps the reviews too
    ) -> None:
        if minutes < 1:
            raise InterviewError(f"--minutes must be at least 1, not {minutes}")
        self.store, self.bank = store, bank
        self.minutes, self.practice = minutes, practice
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.monotonic = monotonic
        self.rng = rng or random.Random()
        self.scheduler_for = scheduler_for
        self.plan = plan
        self.topics = self._choose_topics(list(topics), weakest)
        self.phase = Phase.ANSWER
        self.current: Asked | None = None
        self.answers: list[tuple[Card, InterviewAnswer]] = []
        self.asked_ids: set[str] = set()
        self.topic_index = 0
        self.session_id = 0
        self.deadline = 0.0
        self.finished: Report | None = None

    # -- topics ---------------------------------------------------------------------

    def _choose_topics(self, wanted: list[str], weakest) -> list[str]:
        with_openers = [t for t in self.bank.topics if openers(self.bank.topics[t].cards)]
        if wanted:
            chosen = []
            for name in wanted:
                topic = self.bank.topic_of(name)
                if topic is None:
                    from quizcnn.suggest import did_you_mean

                    hint = did_you_mean(name, [*self.bank.topics, *self.bank.aliases])
                    raise InterviewError(f"no topic named {name!r}{hint}")
                if topic.name not in with_openers:
                    raise InterviewError(
                        f"topic {topic.name!r} has no opener (no card with follow-ups starts a "
                        "chain); choose another topic"
                    )
                if topic.name not in chosen:
                    chosen.append(topic.name)
            return chosen[:MAX_TOPICS]
        if not with_openers:
            raise InterviewError("no topic of these banks has an opener: give cards follow_ups")
        ranked = weakest(with_openers) if weakest else list(with_openers)
        count = min(len(ranked), self.rng.randint(MIN_TOPICS, MAX_TOPICS))
        return ranked[:count]

    # -- driving ----------------------------------------------------------------------

    def start(self) -> list[Event]:
        self.session_id = self.store.start_interview(
            self.clock(), self.minutes, self.practice, self.topics
        )
        self.deadline = self.monotonic() + 60 * self.minutes
        return self._next_topic()

    @property
    def done(self) -> bool:
        return self.phase is Phase.DONE

    def time_left(self) -> float:
        return max(0.0, self.deadline - self.monotonic())

    def press(self, line: str) -> list[Event]:
        if self.phase is Phase.DONE:
            return []
        if self.phase is Phase.ANSWER:
            return self._answered(line)
        return self._tick(line.strip().lower())

    def stop(self, reason: str = "quit") -> Finished:
        """End now (q, Ctrl-C, end of input): every answer given is already saved."""
        if self.finished is None:
            if self.session_id:
                self.store.end_interview(self.session_id, self.clock())
            self.finished = self._report(reason)
        self.phase = Phase.DONE
        return Finished(self.finished)

    # -- one question -------------------------------------------------------------------

    def _ask(self, card: Card, topic: str, depth: int) -> list[Event]:
        self.asked_ids.add(card.id)
        asked = Asked(
            card,
            topic,
            depth,
            len(self.answers) + 1,
            self.monotonic(),
            grading.expected(card, self.rng),
        )
        self.current = asked
        self.phase = Phase.ANSWER
        return [Question(asked, self.time_left())]

    def _answered(self, line: str) -> list[Event]:
        asked = self.current
        assert asked is not None
        asked.seconds = self.monotonic() - asked.started
        asked.attempt = line.strip()
        if asked.card.kind is Kind.RECALL:
            asked.ticked = set(grading.points_said(asked.card, asked.attempt))
        else:  # a choice or number is checked: right covers its one point
            verdict = grading.verdict(asked.card, asked.expected, asked.attempt)
            asked.ticked = {0} if verdict.correct else set()
        self.phase = Phase.TICK
        return [Checklist(asked)]

    def _tick(self, key: str) -> list[Event]:
        asked = self.current
        assert asked is not None
        total = len(asked.points)
        if key == "q":
            return [self.stop("quit")]
        if key == "":
            return self._save(asked)
        if key == "a":
            asked.ticked = set(range(total))
            return [Checklist(asked)]
        numbers = key.replace(",", " ").split()
        picked = []
        for word in numbers:
            if not word.isdigit() or not 1 <= int(word) <= total:
                return [
                    Invalid(
                        grading.Message(
                            "{word!r} is no point here: type numbers 1-{total}, a for all, "
                            "Enter when done",
                            word=word,
                            total=total,
                        )
                    )
                ]
            picked.append(int(word) - 1)
        for index in picked:
            asked.ticked ^= {index}  # typing a number again unticks it
        return [Checklist(asked)]

    def _save(self, asked: Asked) -> list[Event]:
        total = len(asked.points)
        rating = rating_for_coverage(len(asked.ticked), total)
        answer = InterviewAnswer(
            self.session_id,
            asked.card.id,
            asked.topic,
            iso(self.clock()),
            asked.seconds,
            tuple(sorted(asked.ticked)),
            total,
            rating,
        )
        schedule = None if self.practice else self._schedule(asked.card, rating)
        self.store.record_interview_answer(answer, schedule)
        self.answers.append((asked.card, answer))
        deeper = 2 * len(asked.ticked) >= total
        events: list[Event] = [Saved(answer, deeper)]
        if self.time_left() <= 0:
            return events + [self.stop("time")]
        nxt = self._follow_up(asked.card) if deeper else None
        if nxt is not None:
            return events + self._ask(nxt, asked.topic, asked.depth + 1)
        self.topic_index += 1
        return events + self._next_topic()

    def _schedule(self, card: Card, rating: Rating):
        from quizcnn.schedule import apply_rating

        scheduler = self.scheduler_for()
        now = self.clock()

        def next_row(before):
            row = apply_rating(scheduler, before, card.id, rating, now)
            return row if self.plan is None else self.plan.cap(row)

        return next_row

    # -- choosing the next question --------------------------------------------------

    def _follow_up(self, card: Card) -> Card | None:
        for card_id in card.follow_ups:
            nxt = self.bank.by_id.get(card_id)
            if nxt is not None and nxt.id not in self.asked_ids and nxt.kind in ASKABLE:
                return nxt
        return None

    def _next_topic(self) -> list[Event]:
        while self.topic_index < len(self.topics):
            topic = self.topics[self.topic_index]
            fresh = [
                c for c in openers(self.bank.topics[topic].cards) if c.id not in self.asked_ids
            ]
            if fresh:
                return self._ask(self.rng.choice(fresh), topic, 0)
            self.topic_index += 1
        return [self.stop("done")]

    # -- the report ----------------------------------------------------------------------

    def _report(self, reason: str) -> Report:
        by_topic: dict[str, list[tuple[Card, InterviewAnswer]]] = {t: [] for t in self.topics}
        for card, answer in self.answers:
            by_topic.setdefault(answer.topic, []).append((card, answer))
        to_drill = [card.id for card, a in self.answers if len(a.covered) < a.points]
        return Report(
            self.session_id,
            self.minutes,
            self.practice,
            [TopicReport(t, answers) for t, answers in by_topic.items() if answers],
            to_drill,
            reason,
        )


def rank_by_recall(bank: Bank, store: Store, now: datetime, parameters) -> Callable:
    """A ranking of topics, weakest first: the mean of FSRS's predicted recall now over
    a topic's cards (a card never reviewed counts as 0)."""
    from fsrs.scheduler import DEFAULT_PARAMETERS

    from quizcnn.schedule import retrievability
    from quizcnn.store import parse_time

    rows = store.cards()
    params = parameters or DEFAULT_PARAMETERS

    def recall(card: Card) -> float:
        row = rows.get(card.id)
        if row is None or row.state is None or not row.last_review or not row.stability:
            return 0.0
        return retrievability(row.stability, parse_time(row.last_review), now, params)

    def rank(topics: list[str]) -> list[str]:
        means = {
            t: sum(map(recall, bank.topics[t].cards)) / len(bank.topics[t].cards) for t in topics
        }
        return sorted(topics, key=lambda t: (means[t], t))

    return rank
