"""The drill session: a state machine the CLI drives with lines of input.

It knows nothing about terminals. ``Drill.start()`` and ``Drill.press(line)``
return events (a card to show, an answer revealed, a grade saved, ...) that the
CLI draws; ``Drill.stop()`` ends the session with a summary. Each grade is
committed to the store before the next card is chosen, so quitting, Ctrl-C or a
killed process loses nothing already graded.

Keys, one line each (Enter after the key; a piped script works the same way):

- asking: recall cards take a typed attempt, or just Enter to reveal; choice cards
  a letter (auto-graded: right = Good, wrong = Again); numeric cards a number,
  checked against the value and tolerance (or a generator's fresh draw);
- a recall card's key points, after the reveal: point numbers tick or untick, ``a``
  ticks all, Enter shows the grades with the one the share covered suggests;
- a code card: ``o`` opens the user's file in their editor and checks it when the
  editor exits (again and again), Enter shows the reference solution;
- revealed: 1-4 grade (Again, Hard, Good, Easy), Enter takes the auto grade,
  ``e`` shows the explanation, ``p`` runs the card's proof;
- always: ``u`` undoes the last grade of this session, ``q`` quits.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone, tzinfo
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple

from fsrs import Rating, State

from quizcnn import grading
from quizcnn.bank import Card, Kind
from quizcnn.grading import RATING_NAMES, Expected, Message, Verdict
from quizcnn.schedule import (
    RATINGS,
    STATE_NAMES,
    Queue,
    apply_rating,
    build_queue,
    count_due_before,
    cram_queue,
    daily_allowances,
    day_start,
    day_starts,
    make_scheduler,
    next_day_start,
    next_due,
    preview,
)
from quizcnn.store import CardRow, Review, Store, StoreError, parse_time


class Phase(Enum):
    ASK = "ask"
    REVEALED = "revealed"
    TICK = "tick"  # a recall card's key points: tick what the answer covered, then grade
    EMPTY = "empty"  # the queue ran out: Enter or q ends, u still undoes the last grade
    DONE = "done"


class Options(NamedTuple):
    topics: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    new: int | None = None  # new cards this session instead of what is left of today's limit
    limit: int | None = None  # reviews + new cards this session instead of today's remainder
    cram: bool = False  # practice ahead: logged as cram, schedules untouched


_NOT_ANSWERED = Verdict(None, None, None)


@dataclass
class Shown:
    """A card on screen, with what this showing drew (``expected``) and what the
    answer earned (``verdict``); the intervals each grade sets appear at the reveal."""

    card: Card
    label: str  # new, learning, review, relearning or cram
    before: CardRow | None
    started: float  # monotonic seconds
    expected: Expected
    verdict: Verdict = _NOT_ANSWERED
    # rating -> the interval it would set, worked out when first read (at the reveal):
    # showing the first card needs no FSRS. Empty when cramming.
    preview_intervals: Callable[[], dict[Rating, timedelta]] = field(
        default=dict, repr=False, compare=False
    )
    _previews: dict[Rating, timedelta] | None = field(default=None, repr=False, compare=False)
    ticked: set[int] = field(default_factory=set)  # a recall card's key points covered
    runs: int = 0  # a code card: how many times the checker ran on the user's file
    report: Any = None  # a code card: the last CheckReport

    @property
    def previews(self) -> dict[Rating, timedelta]:
        if self._previews is None:
            self._previews = self.preview_intervals()
        return self._previews

    # What the screens read, from the expected answer and the verdict.
    question = property(lambda self: self.expected.question)
    value = property(lambda self: self.expected.value)
    tolerance = property(lambda self: self.expected.tolerance)
    unit = property(lambda self: self.expected.unit)
    working = property(lambda self: self.expected.working)
    attempt = property(lambda self: self.verdict.attempt)
    correct = property(lambda self: self.verdict.correct)
    suggested = property(lambda self: self.verdict.suggested)

    @property
    def choice_letters(self) -> str:
        return grading.choice_letters(self.card)


# -- events ----------------------------------------------------------------------


class CardShown(NamedTuple):
    shown: Shown
    counts: tuple[int, int, int]  # learning, review, new cards left (this one included)
    cram: bool


class Revealed(NamedTuple):
    shown: Shown


class ExplanationShown(NamedTuple):
    card: Card


class PointsChecklist(NamedTuple):
    """A recall card's key points, ticked where the answer covered them."""

    shown: Shown


class PointsConfirmed(NamedTuple):
    """The ticks are in: the grades, with the one the share covered suggests."""

    shown: Shown


class EditRequested(NamedTuple):
    """Open the user's editor on their attempt file for this code card."""

    card: Card
    path: Path


class CheckRequested(NamedTuple):
    """Run the card's checker on the user's saved file, then call ``Drill.checked``."""

    card: Card
    path: Path


class Checked(NamedTuple):
    shown: Shown
    report: Any  # CheckReport
    runs: int


class ProofRequested(NamedTuple):
    card: Card
    proof: str


class Graded(NamedTuple):
    card: Card
    rating: Rating
    due: datetime | None  # None when cramming
    interval: timedelta | None
    leech: bool  # this grade made the card a leech (tagged and suspended)
    lapses: int
    cram: bool


class Undone(NamedTuple):
    card: Card
    rating: Rating


class Notice(NamedTuple):
    text: str


class Invalid(NamedTuple):
    text: str
    keys: list[tuple[str, str]]


class NothingDue(NamedTuple):
    next_due: datetime | None  # None: no scheduled card at all
    at_start: bool  # nothing was due when the drill began
    cram: bool


class Summary(NamedTuple):
    reviewed: int
    again: int
    minutes: float
    due_later_today: int  # before the next day starts (learning steps, what the limits held back)
    due_tomorrow: int  # during the next study day only
    due_week: int  # before the 8th day starts: today, tomorrow and 5 days on
    new_seen: int
    cram: bool
    stopped: str  # "done", "quit", "limit"

    @property
    def again_rate(self) -> float:
        return self.again / self.reviewed if self.reviewed else 0.0


class Finished(NamedTuple):
    summary: Summary


# Every event a session can send: the CLI matches on this union, and a type
# checker sees a case it misses.
Event = (
    CardShown
    | Revealed
    | ExplanationShown
    | PointsChecklist
    | PointsConfirmed
    | EditRequested
    | CheckRequested
    | Checked
    | ProofRequested
    | Graded
    | Undone
    | Notice
    | Invalid
    | NothingDue
    | Finished
)


class _Done(NamedTuple):
    """A grade of this session, for undo and the summary."""

    review: Review
    shown: Shown
    rating: Rating
    was_new: bool
    was_review: bool


# -- the session -----------------------------------------------------------------


class Drill:
    """One session over the selected cards (in bank order).

    ``clock`` gives the current time (timezone-aware; tests fix it), ``tz`` the zone of
    the day rollover (None: the machine's), ``rng`` draws generator cards, ``fuzz``
    turns fsrs's interval fuzz on or off.
    """

    def __init__(
        self,
        store: Store,
        cards: Sequence[Card],
        options: Options | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        tz: tzinfo | None = None,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        fuzz: bool = True,
        bank_cards: Sequence[Card] | None = None,
    ) -> None:
        self.store = store
        self.cards = list(cards)
        # an interview plan's scope is drawn from the whole bank, not this selection
        self.bank_cards = self.cards if bank_cards is None else bank_cards
        self._plan: Any = None  # quizcnn.plan.InForce, read at the first queue
        self._plan_read = False
        self.options = options or Options()
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.tz = tz
        self.rng = rng or random.Random()
        self.monotonic = monotonic
        self._last_queue: Queue | None = None
        self.by_id = {card.id: card for card in self.cards}
        self.ids = [card.id for card in self.cards]
        self.settings = self.store.settings()
        self.fuzz = fuzz
        self._scheduler = None
        self.phase = Phase.ASK
        self.current: Shown | None = None
        self.history: list[_Done] = []
        self.started = self.monotonic()
        self._cram_list: list[str] | None = None
        self._end_reason = "done"
        self.finished: Summary | None = None

    @property
    def scheduler(self):
        """fsrs's scheduler, built at the first reveal: the first card needs no FSRS."""
        if self._scheduler is None:
            self._scheduler = make_scheduler(
                self.settings.parameters, self.settings.desired_retention, self.fuzz
            )
        return self._scheduler

    # -- driving -------------------------------------------------------------------

    def start(self) -> list[Event]:
        """The first card, or NothingDue and the end of the session."""
        events = self._advance()
        if self.phase is Phase.DONE and not self.history:
            rows = self.store.queue_rows()
            return [NothingDue(next_due(self.ids, rows), True, self.options.cram)]
        return events

    def press(self, line: str) -> list[Event]:
        """Handle one line of input."""
        if self.phase is Phase.DONE:
            return []
        key = line.strip()
        lower = key.lower()
        if lower == "q":
            return [self.stop("quit")]
        if lower == "u":
            return self.undo()
        if self.phase is Phase.EMPTY:
            if key == "":
                return [self.stop(self._end_reason)]
            return [Invalid(Message("{key!r} means nothing here", key=key), self.valid_keys())]
        if self.phase is Phase.ASK:
            return self._answer(key)
        if self.phase is Phase.TICK:
            return self._tick(lower)
        return self._after_reveal(lower)

    def stop(self, reason: str = "quit") -> Finished:
        """End the session (q, Ctrl-C, end of input): everything graded is already saved."""
        if self.phase is Phase.EMPTY:
            reason = self._end_reason  # the queue had run out before the user left
        if self.finished is None:
            self.finished = self._summary(reason)
        self.phase = Phase.DONE
        self.current = None
        return Finished(self.finished)

    @property
    def done(self) -> bool:
        return self.phase is Phase.DONE

    def valid_keys(self) -> list[tuple[str, str]]:
        """The keys that mean something now, as (key, meaning)."""
        if self.phase is Phase.EMPTY:
            return [("Enter", "finish"), ("u", "undo"), ("q", "quit")]
        shown = self.current
        if shown is None:
            return []
        always = [("u", "undo"), ("q", "quit")]
        if self.phase is Phase.TICK:
            total = len(shown.card.points)
            return [(f"1-{total}", "tick a point"), ("a", "all"), ("Enter", "grade"), *always]
        if self.phase is Phase.ASK:
            match shown.card.kind:
                case Kind.CHOICE:
                    letters = shown.choice_letters
                    first = [(f"{letters[0]}-{letters[-1]}", "choose"), ("Enter", "reveal")]
                case Kind.NUMERIC:
                    first = [("type", "a number"), ("Enter", "reveal")]
                case Kind.RECALL:
                    first = [("type", "your answer"), ("Enter", "reveal")]
                case Kind.IMPLEMENT:
                    again = " again" if shown.runs else ""
                    first = [("o", f"open your file and check it{again}"), ("Enter", "solution")]
            return first + always
        grades = [(str(int(r)), RATING_NAMES[r]) for r in Rating]
        if shown.suggested is not None:
            grades.append(("Enter", RATING_NAMES[shown.suggested]))
        extra = [("e", "explanation")]
        if shown.card.proof:
            extra.append(("p", "run proof"))
        return grades + extra + always

    # -- asking --------------------------------------------------------------------

    def _answer(self, key: str) -> list[Event]:
        shown = self.current
        assert shown is not None
        if shown.card.kind is Kind.IMPLEMENT:
            return self._code_key(shown, key)
        verdict = grading.verdict(shown.card, shown.expected, key)
        if verdict.error:
            return [Invalid(verdict.error, self.valid_keys())]
        shown.verdict = verdict
        if shown.card.points:
            shown.ticked = set(verdict.covered)  # pre-ticked from the attempt's terms
            self.phase = Phase.TICK
            return [Revealed(shown), PointsChecklist(shown)]
        self.phase = Phase.REVEALED
        return [Revealed(shown)]

    def _tick(self, key: str) -> list[Event]:
        """Numbers toggle points, a ticks all, Enter grades by the share covered."""
        shown = self.current
        assert shown is not None
        total = len(shown.card.points)
        if key == "":
            suggested = grading.rating_for_coverage(len(shown.ticked), total)
            shown.verdict = shown.verdict._replace(suggested=suggested)
            self.phase = Phase.REVEALED
            return [PointsConfirmed(shown)]
        if key == "a":
            shown.ticked = set(range(total))
            return [PointsChecklist(shown)]
        words = key.replace(",", " ").split()
        if len(words) == 1 and words[0].isdigit() and len(words[0]) > 1:
            words = list(words[0])  # "13" ticks points 1 and 3
        if not words or any(not w.isdigit() or not 1 <= int(w) <= total for w in words):
            return [
                Invalid(
                    Message(
                        "{key!r}: tick points 1-{total} by number, a for all, Enter to grade",
                        key=key,
                        total=total,
                    ),
                    self.valid_keys(),
                )
            ]
        for word in words:
            shown.ticked ^= {int(word) - 1}
        return [PointsChecklist(shown)]

    # -- code cards ----------------------------------------------------------------

    def _code_key(self, shown: Shown, key: str) -> list[Event]:
        if key.lower() == "o":
            from quizcnn.runner import prepare_attempt

            return [EditRequested(shown.card, prepare_attempt(shown.card))]
        if key == "":
            self.phase = Phase.REVEALED
            return [Revealed(shown)]
        return [
            Invalid(grading.verdict(shown.card, shown.expected, key).error or "", self.valid_keys())
        ]

    def edited(self) -> list[Event]:
        """The editor closed: check the saved file, unless it is still the starter."""
        from quizcnn.runner import attempt_path, unchanged_from_starter

        shown = self.current
        if shown is None or shown.card.kind is not Kind.IMPLEMENT:
            return []
        path = attempt_path(shown.card)
        if unchanged_from_starter(shown.card, path):
            return [
                Notice(Message("edit the file first: {path} still holds the starter", path=path))
            ]
        return [CheckRequested(shown.card, path)]

    def checked(self, report) -> list[Event]:
        """A check's report: counted, and it sets the suggested grade."""
        shown = self.current
        if shown is None:
            return []
        shown.runs += 1
        shown.report = report
        summary = f"{sum(c.passed for c in report.cases)}/{len(report.cases)} cases passed"
        shown.verdict = grading.check_verdict(report.passed, shown.runs, summary)
        return [Checked(shown, report, shown.runs)]

    # -- revealed ------------------------------------------------------------------

    def _after_reveal(self, key: str) -> list[Event]:
        shown = self.current
        assert shown is not None
        if key in ("1", "2", "3", "4"):
            return self._grade(Rating(int(key)))
        if key == "" and shown.suggested is not None:
            return self._grade(shown.suggested)
        if key == "e":
            return [ExplanationShown(shown.card)]
        if key == "p":
            if shown.card.proof:
                return [ProofRequested(shown.card, shown.card.proof)]
            return [Notice("this card has no proof to run")]
        text = "grade with 1-4" if key == "" else Message("{key!r} means nothing here", key=key)
        return [Invalid(text, self.valid_keys())]

    def _grade(self, rating: Rating) -> list[Event]:
        shown = self.current
        assert shown is not None
        card = shown.card
        now = self.clock()
        duration = max(0, int(round((self.monotonic() - shown.started) * 1000)))
        cram = self.options.cram
        detail = None
        if card.points:
            detail = {"points": len(card.points), "covered": sorted(shown.ticked)}
        if card.kind is Kind.IMPLEMENT:
            detail = {"runs": shown.runs, "passed": bool(shown.report and shown.report.passed)}
        review = self.store.record_review(
            card.id,
            rating,
            now,
            duration,
            lambda before: self._next_row(before, card.id, rating, now),
            cram=cram,
            detail=detail,
        )
        before = review.before
        was_new = before is None or before.state is None
        self.history.append(
            _Done(
                review, shown, rating, was_new, before is not None and before.state == State.Review
            )
        )
        due = None if cram else parse_time(review.after.due)
        leech = bool(review.after.leech and not (before and before.leech))
        events: list[Event] = [
            Graded(
                card,
                rating,
                due,
                None if due is None else due - now,
                leech,
                review.after.lapses,
                cram,
            )
        ]
        return events + self._advance()

    # -- undo ----------------------------------------------------------------------

    def undo(self) -> list[Event]:
        if not self.history:
            return [Notice("nothing to undo in this session")]
        last = self.history[-1]
        try:
            self.store.undo_review(last.review.id)
        except StoreError as exc:
            return [Notice(str(exc))]
        self.history.pop()
        self.finished = None
        self._last_queue = None
        self.current = self._show(last.shown.card, redo=last.shown)
        self.phase = Phase.ASK
        return [
            Undone(last.shown.card, last.rating),
            CardShown(self.current, self._counts(), self.options.cram),
        ]

    # -- choosing the next card ----------------------------------------------------

    def _advance(self) -> list[Event]:
        self.current = None
        self._last_queue = None
        card_id = self._next_id()
        if card_id is None:
            if not self.history:
                return [self.stop("done")]  # start() turns this into NothingDue
            # stay open: the last grade can still be undone
            self._end_reason = "limit" if self._limit_reached() else "done"
            self.phase = Phase.EMPTY
            if self._end_reason == "limit":
                limit = self.options.limit
                return [Notice(Message("this session's limit of {n} card(s) is reached", n=limit))]
            rows = self.store.queue_rows()
            return [NothingDue(next_due(self.ids, rows), False, self.options.cram)]
        self.current = self._show(self.by_id[card_id])
        self.phase = Phase.ASK
        return [CardShown(self.current, self._counts(), self.options.cram)]

    def _limit_reached(self) -> bool:
        return self.options.limit is not None and self._limited_done() >= self.options.limit

    def _limited_done(self) -> int:
        """Grades that count against a limit: reviews and new cards (cram: all)."""
        if self.options.cram:
            return len(self.history)
        return sum(1 for d in self.history if d.was_new or d.was_review)

    def _next_id(self) -> str | None:
        if self.options.cram:
            return self._next_cram_id()
        queue = self._queue()
        self._last_queue = queue
        ids = queue.ids
        return ids[0] if ids else None

    def _queue(self) -> Queue:
        now = self.clock()
        rollover = self.settings.rollover_hour
        new_allowance, review_allowance = daily_allowances(
            self.settings,
            lambda: self.store.today_counts(day_start(now, rollover, self.tz)),
            new=self.options.new,
            limit=self.options.limit,
            session_new=sum(1 for d in self.history if d.was_new),
            session_counted=self._limited_done(),
        )
        rows = self.store.queue_rows()
        day_end = next_day_start(now, rollover, self.tz)
        plan = self._plan_in_force(now)
        extra = {}
        if plan is not None:  # an interview plan: its pace, its deadline, its last days
            if self.options.new is None:
                start = day_start(now, rollover, self.tz)
                new_allowance = plan.new_allowance(
                    rows, lambda: self.store.new_cards_today(start, plan.scope)
                )
            extra = plan.queue_options(rows, day_end, paced=self.options.new is None)
        return build_queue(
            self.ids,
            rows,
            now,
            day_end,
            new_allowance=new_allowance,
            review_allowance=review_allowance,
            parameters=self.settings.parameters,
            **extra,
        )

    def _plan_in_force(self, now: datetime):
        """The interview plan in force (read once, with one small query), or None."""
        if not self._plan_read and not self.options.cram:
            self._plan_read = True
            rollover = self.settings.rollover_hour
            today = day_start(now, rollover, self.tz).astimezone(self.tz).date()
            found = self.store.active_plan(today.isoformat())
            if found is not None:
                from quizcnn.plan import in_force

                self._plan = in_force(found, self.bank_cards, self.settings, now, self.tz)
        return self._plan

    def _next_row(
        self, before: CardRow | None, card_id: str, rating: Rating, now: datetime
    ) -> CardRow:
        """FSRS's next row, with an interview plan's deadline cap on an in-scope card."""
        row = apply_rating(self.scheduler, before, card_id, rating, now)
        plan = self._plan_in_force(now)
        return row if plan is None else plan.cap(row)

    def _next_cram_id(self) -> str | None:
        if self._cram_list is None:
            self._cram_list = cram_queue(self.ids, self.store.queue_rows())
            if self.options.new is not None:
                rows = {r.card_id for r in self.store.queue_rows() if r.state is not None}
                new = [c for c in self._cram_list if c not in rows][: max(self.options.new, 0)]
                self._cram_list = [c for c in self._cram_list if c in rows or c in new]
        if self._limit_reached():
            return None
        seen = {d.shown.card.id for d in self.history}
        for card_id in self._cram_list:
            if card_id not in seen:
                return card_id
        return None

    def _counts(self) -> tuple[int, int, int]:
        if self.options.cram:
            seen = {d.shown.card.id for d in self.history}
            left = [c for c in self._cram_list or [] if c not in seen]
            return (0, len(left), 0)
        queue = self._last_queue or self._queue()
        counts = [len(queue.learning) + len(queue.learn_ahead), len(queue.reviews), len(queue.new)]
        current = self.current
        if current is not None and current.card.id not in queue.ids:  # re-shown by undo
            index = 2 if current.label == "new" else 1 if current.label == "review" else 0
            counts[index] += 1
        return (counts[0], counts[1], counts[2])

    def _show(self, card: Card, redo: Shown | None = None) -> Shown:
        """Put a card on screen: its stored state, and what the right answer is this
        time (a generator's fresh draw; the same draw again after an undo)."""
        before = self.store.card(card.id)
        label = "cram" if self.options.cram else STATE_NAMES[before.state if before else None]
        previews = self._previews_for(card, before)
        if redo is not None:
            return replace(
                redo,
                before=before,
                label=label,
                preview_intervals=previews,
                _previews=None,
                started=self.monotonic(),
                verdict=_NOT_ANSWERED,
                ticked=set(),
                runs=0,
                report=None,
            )
        expected = grading.expected(card, self.rng)
        return Shown(card, label, before, self.monotonic(), expected, preview_intervals=previews)

    def _previews_for(self, card: Card, before: CardRow | None):
        if self.options.cram:
            return dict
        now = self.clock()
        if self._plan_in_force(now) is not None:  # the interval the capped grade will set
            return lambda: {
                r: parse_time(self._next_row(before, card.id, r, now).due) - now for r in RATINGS
            }
        return lambda: preview(self.scheduler, before, card.id, now)

    # -- summary -------------------------------------------------------------------

    def _summary(self, reason: str) -> Summary:
        now = self.clock()
        rollover = self.settings.rollover_hour
        starts = day_starts(now, 9, rollover, self.tz)  # today, tomorrow, ... 8 days on
        rows = self.store.queue_rows()
        return Summary(
            reviewed=len(self.history),
            again=sum(1 for d in self.history if d.rating == Rating.Again),
            minutes=(self.monotonic() - self.started) / 60,
            due_later_today=count_due_before(self.ids, rows, starts[1]),
            due_tomorrow=count_due_before(self.ids, rows, starts[2], since=starts[1]),
            due_week=count_due_before(self.ids, rows, starts[8]),
            new_seen=sum(1 for d in self.history if d.was_new),
            cram=self.options.cram,
            stopped=reason,
        )
