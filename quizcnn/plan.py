"""The interview date: pacing, deadline caps, predicted recall on the day, the forecast.

A plan is a date (a local study day) and a scope (topics and tags; empty: every
card). While it is in force, that is until its day has passed:

- **Pacing.** The day's new-card limit is what introduces every unseen card in
  scope before a buffer of a few days ahead of the date, within a daily ceiling;
  new cards come only from the scope. When the ceiling cannot cover the scope,
  the report says how many cards stay unseen, which ceiling would fit and which
  topics to drop.
- **Deadline caps.** After FSRS schedules an in-scope card, if its next review
  falls on or after the interview day and its predicted recall on the day is
  below the target, the review is pulled in: to a day before the interview from
  which a Good review leaves the card at or above the target. A card scheduled
  before the plan began (or by an earlier one) is capped the same way, from its
  last review, when the queue is built. Nothing else changes: the same FSRS
  parameters, grades and review log; after the date FSRS schedules as before.
- **Last days.** From the buffer on, the queue puts in-scope reviews first,
  lowest predicted recall on the day first.

*Predicted recall on the day* is FSRS's forgetting curve, as
``Scheduler.get_card_retrievability`` computes it (whole days), at the end of the
interview's study day: a review on study day k leaves ``T - k`` days to the day
``T``. A new card counts as 0.

The drill's path (``InForce``: allowances, caps, queue options) is plain Python
and math; numpy is imported only by the forecast (``report``), a vectorized
Monte Carlo of FSRS-6 over every card in scope, with and without the plan.
"""

from __future__ import annotations

import math
import random
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from fsrs import Rating, State
from fsrs.scheduler import DEFAULT_PARAMETERS

from quizcnn.cards import Bank, Card, UnknownName
from quizcnn.schedule import day_start, day_starts
from quizcnn.store import CardRow, PlanRow, QueueRow, Store, StudySettings, iso, parse_time
from quizcnn.suggest import suggest

BUFFER_DAYS = 3  # the last days before the interview take no new cards, only reviews
MAX_DAYS = 365  # a plan looks at most a year ahead
FORECAST_SAMPLES = 24  # Monte Carlo runs per card in the forecast
FORECAST_SEED = 0
WEAKEST = 3
# Grades of a simulated learner (the fsrs-optimizer simulator's defaults): the first
# sight of a new card (Again, Hard, Good, Easy), and a review recalled (Hard, Good, Easy).
FIRST_GRADES = (0.24, 0.094, 0.495, 0.171)
PASS_GRADES = (0.224, 0.631, 0.145)
STABILITY_MIN = 0.001
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


class PlanError(ValueError):
    """Bad input to `quizcnn plan`: one line saying what and what to do; nothing changed."""


# -- FSRS-6's curve and the stability after a recall (fsrs 6's formulas) ------------------


def recall(days: float, stability: float, w: Sequence[float]) -> float:
    """R = (1 + F t / S)^-w20 with F = 0.9^(-1/w20) - 1: fsrs's forgetting curve."""
    decay = w[20]
    factor = 0.9 ** (-1 / decay) - 1
    return (1 + factor * max(days, 0) / stability) ** -decay


def stability_after_recall(
    difficulty: float, stability: float, r: float, w: Sequence[float], rating: int = 3
) -> float:
    """fsrs's next stability after a Hard/Good/Easy review at retrievability r."""
    hard = w[15] if rating == Rating.Hard else 1.0
    easy = w[16] if rating == Rating.Easy else 1.0
    grow = math.exp(w[8]) * (11 - difficulty) * stability ** -w[9] * (math.exp((1 - r) * w[10]) - 1)
    return max(stability * (1 + grow * hard * easy), STABILITY_MIN)


# -- the calendar -------------------------------------------------------------------------


def study_day(moment: datetime, rollover_hour: int, tz: tzinfo | None = None) -> date:
    """The local date of the study day a moment falls in (the day starts at the rollover)."""
    return day_start(moment, rollover_hour, tz).astimezone(tz).date()


def buffer_days(span: int) -> int:
    """The buffer for a plan ``span`` days long: 3 days, shorter for a short plan."""
    return min(BUFFER_DAYS, max(0, (span - 1) // 3))


@dataclass(frozen=True)
class Deadline:
    """A plan seen from one moment: its days, target, ceiling and FSRS parameters."""

    plan: PlanRow
    today: date
    day: date  # the interview's study day
    starts: tuple[datetime, ...]  # starts of the study days from today to the day after
    buffer: int
    target: float
    ceiling: int
    parameters: tuple[float, ...]

    @property
    def days_left(self) -> int:
        return (self.day - self.today).days

    @property
    def deadline(self) -> datetime:
        """The interview day begins: a capped review is placed before this."""
        return self.starts[self.days_left]

    @property
    def end(self) -> datetime:
        """The interview day ends: recall on the day is predicted at this moment."""
        return self.starts[self.days_left + 1]

    @property
    def last_days(self) -> bool:
        """Inside the buffer (or on the last day before): reviews by recall on the day."""
        return self.days_left <= max(self.buffer, 1)

    def gap(self, last_review: datetime) -> int:
        """Whole days from a review to the end of the interview day (fsrs's elapsed days)."""
        return (self.end - last_review).days

    def recall_on_day(self, stability: float | None, last_review: datetime | None) -> float:
        if stability is None or last_review is None:
            return 0.0
        return recall(self.gap(last_review), stability, self.parameters)

    def new_allowance(self, unseen: int, introduced_today: int) -> int:
        """New cards still allowed today: the day's pace (fixed at the day's start) within
        the ceiling, less those already introduced today."""
        pace = new_per_day(unseen + introduced_today, self.days_left, self.buffer)
        return max(0, min(pace, self.ceiling) - introduced_today)


def deadline_for(
    plan: PlanRow, settings: StudySettings, now: datetime, tz: tzinfo | None = None
) -> Deadline:
    rollover = settings.rollover_hour
    today = study_day(now, rollover, tz)
    day = date.fromisoformat(plan.interview_date)
    days_left = (day - today).days
    created = study_day(parse_time(plan.created_at), rollover, tz)
    return Deadline(
        plan=plan,
        today=today,
        day=day,
        starts=tuple(day_starts(now, max(days_left, 0) + 2, rollover, tz)),
        buffer=buffer_days((day - created).days),
        target=settings.plan_recall_target,
        ceiling=settings.plan_new_ceiling,
        parameters=tuple(settings.parameters or DEFAULT_PARAMETERS),
    )


# -- pacing -------------------------------------------------------------------------------


def new_per_day(unseen: int, days_left: int, buffer: int) -> int:
    """New cards a day that introduce ``unseen`` cards on the study days from today to
    the last one before the buffer (all of them today, once inside the buffer)."""
    if unseen <= 0:
        return 0
    return math.ceil(unseen / max(days_left - buffer, 1))


# -- deadline caps ------------------------------------------------------------------------


def cap_window(
    stability: float, difficulty: float, gap: int, target: float, w: Sequence[float]
) -> tuple[int, int] | None:
    """The days after a review on which the next one may be placed: before the interview
    day (1 .. gap-1), from the earliest day on which a Good review leaves the predicted
    recall on the day at or above ``target``. None: no day is left before the interview.
    (That recall grows with the day, so the earliest one is found by bisection.)"""
    if gap < 2:
        return None

    def enough(d: int) -> bool:
        after = stability_after_recall(difficulty, stability, recall(d, stability, w), w)
        return recall(gap - d, after, w) >= target

    low, high = 1, gap - 1
    if not enough(high):
        return high, high  # even the last day cannot reach the target: the best there is
    while low < high:
        mid = (low + high) // 2
        if enough(mid):
            high = mid
        else:
            low = mid + 1
    return low, gap - 1


def cap_windows(stability, difficulty, gap, target: float, w: Sequence[float]):
    """cap_window over arrays (each gap at least 2): the windows' first and last days."""
    import numpy as np

    w = np.asarray(w, dtype=float)
    factor = 0.9 ** (-1 / w[20]) - 1
    s, d, g = (np.asarray(a, dtype=float)[:, None] for a in (stability, difficulty, gap))
    steps = np.arange(1, int(g.max()))[None, :]
    r = (1 + factor * steps / s) ** -w[20]
    grow = np.exp(w[8]) * (11 - d) * s ** -w[9] * (np.exp((1 - r) * w[10]) - 1)
    after = np.maximum(s * (1 + grow), STABILITY_MIN)
    left = np.maximum(g - steps, 0)  # days from the review to the day's end
    ok = (steps <= g - 1) & ((1 + factor * left / after) ** -w[20] >= target)
    high = g[:, 0] - 1
    low = np.where(ok.any(axis=1), ok.argmax(axis=1) + 1, high)
    return low, high


def pick_day(low: int, high: int, u: float) -> int:
    """One day of a cap window for a uniform draw u in [0, 1): spread over the window's
    later half, so the last reviews neither pile onto one day nor come too early."""
    start = low + (high - low) // 2
    return start + min(int(u * (high - start + 1)), high - start)


def _draw(seed: str) -> float:
    return random.Random(seed).random()


def capped_due(
    deadline: Deadline,
    stability: float,
    difficulty: float | None,
    last_review: datetime,
    seed: str,
) -> datetime | None:
    """Where a review card's next review goes under the plan, or None when FSRS's own
    due stands (recall on the day already at the target, or no day left to use)."""
    gap = deadline.gap(last_review)
    if recall(gap, stability, deadline.parameters) >= deadline.target:
        return None
    window = cap_window(stability, difficulty or 5.0, gap, deadline.target, deadline.parameters)
    if window is None:
        return None
    d = pick_day(*window, _draw(seed))
    due = last_review + timedelta(days=d)
    while due >= deadline.deadline and d > 1:  # a zone change can shift a day's start
        d -= 1
        due = last_review + timedelta(days=d)
    return due if due < deadline.deadline else None


def cap_row(deadline: Deadline, row: CardRow) -> CardRow:
    """FSRS's next row for an in-scope card, its due pulled in before the interview day
    when FSRS would leave its predicted recall on the day below the target."""
    if row.state != State.Review or row.due is None or row.stability is None:
        return row
    due, last = parse_time(row.due), parse_time(row.last_review)
    if last is None or due < deadline.deadline or last >= deadline.deadline:
        return row
    seed = f"{row.card_id}#{row.reps}#plan"  # like fuzz: the preview is the grade's due
    capped = capped_due(deadline, row.stability, row.difficulty, last, seed)
    return row if capped is None else row._replace(due=iso(capped))


# -- the plan in a drill ------------------------------------------------------------------


def in_scope(cards: Iterable[Card], topics: Sequence[str], tags: Sequence[str]) -> list[Card]:
    """The plan's cards in bank order (topics by name: one the bank lost matches none)."""
    wanted_topics, wanted_tags = set(topics), set(tags)
    return [
        c
        for c in cards
        if (not wanted_topics or c.topic in wanted_topics)
        and (not wanted_tags or wanted_tags.intersection(c.tags))
    ]


@dataclass(frozen=True)
class InForce:
    """What a drill needs of the plan in force: its deadline and its cards."""

    deadline: Deadline
    scope: tuple[str, ...]  # in bank order
    scope_set: frozenset[str] = field(repr=False)
    # (card id, last review) -> its capped due or None: the queue asks after every grade
    _capped: dict[tuple[str, str], datetime | None] = field(
        default_factory=dict, repr=False, compare=False
    )

    def unseen(self, rows: Iterable[QueueRow]) -> int:
        known = {r.card_id for r in rows if r.state is not None or r.suspended}
        return sum(1 for card_id in self.scope if card_id not in known)

    def new_allowance(self, rows: Iterable[QueueRow], introduced_today: Callable[[], int]) -> int:
        return self.deadline.new_allowance(self.unseen(rows), introduced_today())

    def cap(self, row: CardRow) -> CardRow:
        if row.card_id not in self.scope_set or self.deadline.days_left < 1:
            return row
        return cap_row(self.deadline, row)

    def due_anyway(self, rows: Iterable[QueueRow], day_end: datetime) -> set[str]:
        """In-scope review cards due today by the deadline although their stored due is
        later: scheduled before this plan, their capped day has come."""
        deadline = self.deadline
        found: set[str] = set()
        if deadline.days_left < 1:
            return found
        begins = iso(deadline.deadline)
        for row in rows:
            if (
                row.state != State.Review
                or row.suspended
                or row.card_id not in self.scope_set
                or row.stability is None
                or row.due < begins
            ):
                continue
            if row.last_review is None:
                continue
            key = (row.card_id, row.last_review)
            if key not in self._capped:
                seed = f"{row.card_id}#{row.last_review}#plan"
                last = parse_time(row.last_review)
                self._capped[key] = capped_due(deadline, row.stability, row.difficulty, last, seed)
            capped = self._capped[key]
            if capped is not None and capped < day_end:
                found.add(row.card_id)
        return found

    def review_order(self) -> Callable[[QueueRow, float], Any] | None:
        """In the last days: in-scope reviews first, lowest predicted recall on the day
        first; the others after them by retrievability now."""
        if not self.deadline.last_days:
            return None
        deadline, scope = self.deadline, self.scope_set

        def key(row: QueueRow, r_now: float) -> tuple[int, float]:
            if row.card_id in scope:
                return (0, deadline.recall_on_day(row.stability, parse_time(row.last_review)))
            return (1, r_now)

        return key

    def queue_options(
        self, rows: Sequence[QueueRow], day_end: datetime, paced: bool = True
    ) -> dict[str, Any]:
        """build_queue's plan keywords: new cards from the scope (when the plan paces
        them: not with a session's own --new), the deadline's dues, the last days' order."""
        options: dict[str, Any] = {
            "due_anyway": self.due_anyway(rows, day_end),
            "review_order": self.review_order(),
        }
        if paced:
            options["new_pool"] = self.scope
        return options


def in_force(
    plan: PlanRow,
    cards: Iterable[Card],
    settings: StudySettings,
    now: datetime,
    tz: tzinfo | None = None,
) -> InForce:
    scope = tuple(c.id for c in in_scope(cards, plan.topics, plan.tags))
    return InForce(deadline_for(plan, settings, now, tz), scope, frozenset(scope))


def active_in_force(store, cards, settings: StudySettings, now: datetime, tz=None):
    """The plan in force today over these cards, or None (one small query)."""
    from quizcnn.schedule import day_start

    today = day_start(now, settings.rollover_hour, tz).astimezone(tz).date()
    found = store.active_plan(today.isoformat())
    return None if found is None else in_force(found, cards, settings, now, tz)


# -- the forecast: FSRS-6 vectorized over cards x samples ---------------------------------


@dataclass
class Forecast:
    """One policy simulated from today to the interview day."""

    reviews: list[float]  # per day before the interview: mean review-state cards shown
    new: list[int]  # per day: new cards introduced
    grades: float  # mean grades in all (learning steps included)
    recall: list[float]  # per card (scope order): mean predicted recall on the day
    unseen: int  # cards still new on the day


def simulate(
    cards: Sequence[Card],
    rows: Mapping[str, CardRow],
    deadline: Deadline,
    desired_retention: float,
    *,
    pace: Callable[[int, int], int],
    caps: bool,
    samples: int = FORECAST_SAMPLES,
    seed: int = FORECAST_SEED,
) -> Forecast:
    """Every card in scope through each study day until the interview, ``samples`` times.

    The learner is FSRS's own model: a review is recalled with the predicted
    probability, recalled grades are Hard/Good/Easy in PASS_GRADES' shares, a first
    sight is graded by FIRST_GRADES; learning and relearning steps are passed the same
    day (graded Good). ``pace(unseen, days_left)`` is the day's new cards; ``caps``
    applies the deadline caps. Fuzz and the daily review limit are left out.
    """
    import numpy as np

    w = np.asarray(deadline.parameters, dtype=float)
    decay, factor = w[20], 0.9 ** (-1 / w[20]) - 1
    days = deadline.days_left
    n, m = len(cards), samples
    rng = np.random.default_rng(seed)

    def curve(t, s):
        return (1 + factor * np.maximum(t, 0) / s) ** -decay

    def init_d(g):
        return np.clip(w[4] - np.exp(w[5] * (g - 1)) + 1, 1, 10)

    def next_d(d, g):
        target = w[4] - np.exp(w[5] * 3) + 1
        moved = d + (10 - d) * (-w[6] * (g - 3)) / 9
        return np.clip(w[7] * target + (1 - w[7]) * moved, 1, 10)

    def short_s(s, g):
        grow = np.exp(w[17] * (g - 3 + w[18])) * s ** -w[19]
        grow = np.where(g >= 2, np.maximum(grow, 1.0), grow)
        return np.maximum(s * grow, STABILITY_MIN)

    def recall_s(d, s, r, g):
        bonus = np.where(g == 2, w[15], 1.0) * np.where(g == 4, w[16], 1.0)
        grow = np.exp(w[8]) * (11 - d) * s ** -w[9] * (np.exp((1 - r) * w[10]) - 1)
        return np.maximum(s * (1 + grow * bonus), STABILITY_MIN)

    def forget_s(d, s, r):
        long = w[11] * d ** -w[12] * ((s + 1) ** w[13] - 1) * np.exp((1 - r) * w[14])
        return np.maximum(np.minimum(long, s / np.exp(w[17] * w[18])), STABILITY_MIN)

    ivl_scale = (desired_retention ** (-1 / decay) - 1) / factor

    def interval(s):
        return np.clip(np.round(s * ivl_scale), 1, 36500)

    # lanes: card i, sample j at index i * m + j
    stab = np.ones(n * m)
    diff = np.full(n * m, 5.0)
    last = np.zeros(n * m)
    due = np.zeros(n * m)
    seen = np.zeros(n * m, dtype=bool)
    learning = np.zeros(n * m, dtype=bool)
    unseen_order = []
    starts = list(deadline.starts)
    for i, card in enumerate(cards):
        row = rows.get(card.id)
        lanes = slice(i * m, (i + 1) * m)
        if row is None or row.state is None or row.stability is None:
            unseen_order.append(i)
            continue
        seen[lanes] = True
        stab[lanes] = row.stability
        diff[lanes] = row.difficulty or 5.0
        last_review = parse_time(row.last_review)
        last[lanes] = days - deadline.gap(last_review) if last_review else 0
        due_day = bisect_right(starts, parse_time(row.due)) - 1 if row.due else 0
        due[lanes] = max(due_day, 0)
        learning[lanes] = row.state != State.Review

    def capped(lanes):
        """Deadline caps (cap_window and pick_day, vectorized) for the lanes whose last
        review is ``last``: those due on or after the day and below the target on it."""
        if not caps:
            return
        gap = days - last
        idx = np.flatnonzero(
            lanes & (due >= days) & (gap >= 2) & (curve(gap, stab) < deadline.target)
        )
        if idx.size == 0:
            return
        low, high = cap_windows(stab[idx], diff[idx], gap[idx], deadline.target, w)
        start = low + (high - low) // 2
        u = rng.random(idx.size)
        due[idx] = (
            last[idx] + start + np.minimum((u * (high - start + 1)).astype(int), high - start)
        )

    capped(seen & ~learning)  # scheduled before the plan: capped from their last review

    reviews, new_per, grades = [], [], np.zeros(m)
    cursor = 0
    pass_cum = np.cumsum(PASS_GRADES)
    first_cum = np.cumsum(FIRST_GRADES)
    for k in range(days):
        # review-state cards due today (and learning cards at the start)
        if k == 0:
            early = learning & seen
            stab[early] = short_s(stab[early], 3)
            diff[early] = next_d(diff[early], 3)
            last[early] = 0
            due[early] = interval(stab[early])
            grades += early.reshape(n, m).sum(axis=0)
        else:
            early = np.zeros(n * m, dtype=bool)
        todo = seen & (due <= k) & ~early
        idx = np.flatnonzero(todo)
        if idx.size:
            s, d = stab[idx], diff[idx]
            r = curve(k - last[idx], s)
            u = rng.random(idx.size)
            ok = u < r
            g = np.where(ok, 2 + np.searchsorted(pass_cum, rng.random(idx.size)), 1)
            g = np.minimum(g, 4)
            new_s = np.where(ok, recall_s(d, s, r, g), forget_s(d, s, r))
            new_d = next_d(d, g)
            # a lapse relearns the same day: one more step, passed with Good
            new_s = np.where(ok, new_s, short_s(new_s, 3))
            new_d = np.where(ok, new_d, next_d(new_d, 3))
            stab[idx], diff[idx], last[idx] = new_s, new_d, k
            due[idx] = k + interval(new_s)
            per_sample = np.bincount(idx % m, minlength=m) + np.bincount(idx[~ok] % m, minlength=m)
            grades += per_sample
        reviews.append(float(todo.sum() + early.sum()) / m)
        capped(todo | early)
        # new cards, in scope order
        count = min(pace(len(unseen_order) - cursor, days - k), len(unseen_order) - cursor)
        new_per.append(count)
        if count > 0:
            chosen = unseen_order[cursor : cursor + count]
            cursor += count
            lanes = (np.asarray(chosen)[:, None] * m + np.arange(m)[None, :]).ravel()
            g = 1 + np.searchsorted(first_cum, rng.random(lanes.size))
            g = np.minimum(g, 4)
            s = w[g - 1].astype(float)
            d = init_d(g)
            steps = np.select([g == 4, g == 3], [0, 1], 2)  # same-day steps to graduate
            for step in (1, 2):
                more = steps >= step
                s = np.where(more, short_s(s, 3), s)
                d = np.where(more, next_d(d, 3), d)
            stab[lanes], diff[lanes], last[lanes] = s, d, k
            seen[lanes] = True
            due[lanes] = k + interval(s)
            grades += np.bincount(lanes % m, weights=1 + steps, minlength=m)
            just = np.zeros(n * m, dtype=bool)
            just[lanes] = True
            capped(just)
    on_day = np.where(seen, curve(days - last, stab), 0.0).reshape(n, m).mean(axis=1)
    return Forecast(
        reviews=reviews,
        new=new_per,
        grades=float(grades.mean()),
        recall=[float(x) for x in on_day],
        unseen=len(unseen_order) - cursor,
    )


# -- the report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicRecall:
    topic: str
    cards: int
    unseen: int  # still new on the day with the plan
    with_plan: float
    without_plan: float
    now: float  # if no more reviews came

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "cards": self.cards,
            "unseen_on_the_day": self.unseen,
            "with_plan": self.with_plan,
            "without_plan": self.without_plan,
            "if_you_stopped_now": self.now,
        }


@dataclass
class PlanReport:
    interview_date: date
    today: date
    days_left: int
    buffer: int
    topics: tuple[str, ...]
    tags: tuple[str, ...]
    cards: dict[str, int]  # new, learning, review (in scope, not suspended), suspended
    target: float
    ceiling: int
    new_per_day_needed: int  # what introduces every card before the buffer, from today
    new_per_day: int  # within the ceiling
    last_new_day: date
    unseen_on_the_day: int  # with the plan (0 unless the ceiling cannot cover the scope)
    ceiling_to_fit: int | None  # when it cannot: the ceiling that would
    drop_topics: list[tuple[str, int]]  # or these topics (their new cards) out of the scope
    forecast: list[tuple[date, float, int]]  # day, reviews, new cards (with the plan)
    grades: float  # all grades until the day with the plan (learning steps included)
    grades_without: float
    recall_with_plan: float
    recall_without_plan: float
    recall_now: float
    unseen_without_plan: int
    per_topic: list[TopicRecall]
    weakest: list[str]
    overloaded: list[tuple[date, float]]  # days the forecast exceeds reviews_per_day
    reviews_per_day: int
    without_plan_method: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "interview_date": self.interview_date.isoformat(),
            "today": self.today.isoformat(),
            "days_left": self.days_left,
            "buffer_days": self.buffer,
            "scope": {"topics": list(self.topics), "tags": list(self.tags)},
            "cards": self.cards,
            "target": self.target,
            "pacing": {
                "new_per_day_needed": self.new_per_day_needed,
                "new_per_day": self.new_per_day,
                "ceiling": self.ceiling,
                "last_new_day": self.last_new_day.isoformat(),
                "unseen_on_the_day": self.unseen_on_the_day,
                "ceiling_to_fit": self.ceiling_to_fit,
                "drop_topics": [{"topic": t, "new": n} for t, n in self.drop_topics],
            },
            "forecast": [
                {"day": d.isoformat(), "reviews": round(r, 1), "new": n}
                for d, r, n in self.forecast
            ],
            "overloaded_days": [
                {"day": d.isoformat(), "reviews": round(r, 1)} for d, r in self.overloaded
            ],
            "recall_on_the_day": {
                "with_plan": self.recall_with_plan,
                "without_plan": self.recall_without_plan,
                "if_you_stopped_now": self.recall_now,
                "unseen_without_plan": self.unseen_without_plan,
                "without_plan_method": self.without_plan_method,
            },
            "grades": {
                "with_plan": round(self.grades, 1),
                "without_plan": round(self.grades_without, 1),
            },
            "per_topic": [t.to_dict() for t in self.per_topic],
            "weakest_topics": self.weakest,
        }


def report(
    plan: PlanRow,
    cards: Sequence[Card],
    rows: Mapping[str, CardRow],
    settings: StudySettings,
    now: datetime,
    tz: tzinfo | None = None,
) -> PlanReport:
    """Everything `quizcnn plan` shows, from the cards' states (never the review log)."""
    deadline = deadline_for(plan, settings, now, tz)
    scoped = in_scope(cards, plan.topics, plan.tags)
    counts = {"new": 0, "learning": 0, "review": 0, "suspended": 0}
    active: list[Card] = []
    for card in scoped:
        row = rows.get(card.id)
        if row is not None and row.suspended:
            counts["suspended"] += 1
            continue
        active.append(card)
        state = row.state if row else None
        counts["new" if state is None else "review" if state == State.Review else "learning"] += 1
    days, buffer = deadline.days_left, deadline.buffer
    needed = new_per_day(counts["new"], days, buffer)

    def plan_pace(unseen: int, left: int) -> int:
        return min(new_per_day(unseen, left, buffer), deadline.ceiling)

    def plain_pace(unseen: int, left: int) -> int:
        return settings.new_per_day

    retention = settings.desired_retention
    with_plan = simulate(active, rows, deadline, retention, pace=plan_pace, caps=True)
    without = simulate(active, rows, deadline, retention, pace=plain_pace, caps=False)
    now_recall = []
    for card in active:
        row = rows.get(card.id)
        now_recall.append(
            deadline.recall_on_day(row.stability, parse_time(row.last_review))
            if row is not None and row.state is not None
            else 0.0
        )

    per_topic: dict[str, list[int]] = {}
    for i, card in enumerate(active):
        per_topic.setdefault(card.topic, []).append(i)
    unseen_with = set(_unseen_indices(active, rows, with_plan.new))
    topics = [
        TopicRecall(
            topic,
            len(idx),
            sum(1 for i in idx if i in unseen_with),
            _mean(with_plan.recall[i] for i in idx),
            _mean(without.recall[i] for i in idx),
            _mean(now_recall[i] for i in idx),
        )
        for topic, idx in per_topic.items()
    ]
    weakest = [t.topic for t in sorted(topics, key=lambda t: (t.with_plan, t.topic))[:WEAKEST]]
    drop: list[tuple[str, int]] = []
    fit = None
    if with_plan.unseen:
        fit = needed if needed <= 1000 else None
        new_by_topic: dict[str, int] = {}
        for card in active:
            row = rows.get(card.id)
            if row is None or row.state is None:
                new_by_topic[card.topic] = new_by_topic.get(card.topic, 0) + 1
        covered = 0
        for topic, count in sorted(new_by_topic.items(), key=lambda kv: (-kv[1], kv[0])):
            if covered >= with_plan.unseen or len(drop) == len(new_by_topic) - 1:
                break
            drop.append((topic, count))
            covered += count
        if covered < with_plan.unseen:
            drop = []
    forecast = [
        (deadline.today + timedelta(days=k), r, n)
        for k, (r, n) in enumerate(zip(with_plan.reviews, with_plan.new, strict=True))
    ]
    overloaded = [(d, r + n) for d, r, n in forecast if r + n > settings.reviews_per_day]
    return PlanReport(
        interview_date=deadline.day,
        today=deadline.today,
        days_left=days,
        buffer=buffer,
        topics=plan.topics,
        tags=plan.tags,
        cards=counts,
        target=deadline.target,
        ceiling=deadline.ceiling,
        new_per_day_needed=needed,
        new_per_day=min(needed, deadline.ceiling),
        last_new_day=deadline.today + timedelta(days=max(days - buffer, 1) - 1),
        unseen_on_the_day=with_plan.unseen,
        ceiling_to_fit=fit,
        drop_topics=drop,
        forecast=forecast,
        grades=with_plan.grades,
        grades_without=without.grades,
        recall_with_plan=_mean(with_plan.recall),
        recall_without_plan=_mean(without.recall),
        recall_now=_mean(now_recall),
        unseen_without_plan=without.unseen,
        per_topic=topics,
        weakest=weakest,
        overloaded=overloaded,
        reviews_per_day=settings.reviews_per_day,
        without_plan_method=(
            f"plain FSRS on the same cards: {settings.new_per_day} new a day "
            "(new_per_day) in bank order, no buffer, no deadline caps"
        ),
    )


def _unseen_indices(
    cards: Sequence[Card], rows: Mapping[str, CardRow], new: list[int]
) -> list[int]:
    fresh = [i for i, c in enumerate(cards) if (r := rows.get(c.id)) is None or r.state is None]
    return fresh[sum(new) :]


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


# -- the command ----------------------------------------------------------------------------


@dataclass
class PlanView:
    """What `quizcnn plan` did and shows."""

    action: str  # "set", "shown", "cleared", "none"
    report: PlanReport | None = None
    plan: PlanRow | None = None  # the plan set, shown or cleared
    ended: PlanRow | None = None  # "none": the latest plan, whose day has passed
    ceiling_saved: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action}
        out["plan"] = self.report.to_dict() if self.report else None
        if self.action == "cleared" and self.plan is not None:
            out["cleared"] = {"interview_date": self.plan.interview_date}
        if self.ended is not None:
            out["ended"] = {"interview_date": self.ended.interview_date}
        if self.ceiling_saved is not None:
            out["ceiling_saved"] = self.ceiling_saved
        return out


def parse_date(text: str, today: date) -> date:
    example = (today + timedelta(days=14)).isoformat()
    value = None
    if _DATE_RE.fullmatch(text.strip()):
        try:
            value = date.fromisoformat(text.strip())
        except ValueError:
            value = None
    if value is None:
        raise PlanError(
            f"{text!r} is not a date: give the interview day as YYYY-MM-DD, e.g. {example}"
        )
    if value == today:
        raise PlanError(
            f"{value} is today: a plan needs at least one day before the interview; "
            "give a later date"
        )
    if value < today:
        raise PlanError(
            f"{value} is in the past (today is {today}); give the interview day ahead, "
            f"e.g. {example}"
        )
    if (value - today).days > MAX_DAYS:
        raise PlanError(
            f"{value} is {(value - today).days} days away: a plan looks at most "
            f"{MAX_DAYS} days ahead; set it closer to the day"
        )
    return value


def parse_ceiling(text: str) -> int:
    """--ceiling N: new cards a day, within the plan_new_ceiling setting's range."""
    from quizcnn.settings import SETTINGS

    spec = SETTINGS["plan_new_ceiling"]
    low, high = int(spec.low), int(spec.high)
    try:
        value = int(str(text).strip())
    except ValueError:
        raise PlanError(
            f"--ceiling {text!r} is not a whole number: give {low} to {high} new cards a day"
        ) from None
    if not low <= value <= high:
        raise PlanError(f"--ceiling {value} is out of range: give {low} to {high} new cards a day")
    return value


def resolve_scope(
    bank: Bank, topics: Sequence[str], tags: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Topic names (aliases resolved) and tags, checked against the bank."""
    names: list[str] = []
    for name in topics:
        topic = bank.topic_of(name)
        if topic is None:
            raise PlanError(str(UnknownName(name, suggest(name, [*bank.topics, *bank.aliases]))))
        if topic.name not in names:
            names.append(topic.name)
    known_tags = bank.tag_counts()
    for tag in tags:
        if tag not in known_tags:
            hint = suggest(tag, list(known_tags))
            more = f"; did you mean {', '.join(hint)}?" if hint else ""
            raise PlanError(f"no card has the tag {tag!r}{more} (see `quizcnn list --tags`)")
    wanted = list(dict.fromkeys(tags))
    if not in_scope(bank.cards, names, wanted):
        raise PlanError(
            f"no card has the tag(s) {', '.join(wanted)} in the chosen topics; "
            "see `quizcnn list --tags`"
        )
    return names, wanted


def handle(
    store: Store,
    bank: Bank,
    now: datetime,
    *,
    date_text: str | None = None,
    topics: Sequence[str] = (),
    tags: Sequence[str] = (),
    ceiling: str | int | None = None,
    clear: bool = False,
    tz: tzinfo | None = None,
) -> PlanView:
    """`quizcnn plan`: set a plan (DATE), end it (clear), or show where you stand.
    Every input is checked before anything is written: a PlanError changes nothing."""
    settings = store.settings()
    today = study_day(now, settings.rollover_hour, tz)
    if clear:
        if date_text is not None or topics or tags or ceiling is not None:
            raise PlanError(
                "--clear ends the plan: give it alone, without DATE, --topic, --tag or --ceiling"
            )
        cleared = store.clear_plan(now)
        return PlanView("cleared" if cleared else "none", plan=cleared)
    if date_text is None and (topics or tags):
        raise PlanError(
            "--topic and --tag set a plan's scope: give the interview DATE too, "
            f"e.g. quizcnn plan {(today + timedelta(days=14)).isoformat()} --topic bn"
        )
    new_ceiling = parse_ceiling(str(ceiling)) if ceiling is not None else None
    if date_text is not None:
        day = parse_date(date_text, today)
        names, wanted = resolve_scope(bank, topics, tags)
        plan = store.set_plan(day.isoformat(), names, wanted, now, plan_new_ceiling=new_ceiling)
        action = "set"
    else:
        plan = store.active_plan(today.isoformat())
        if new_ceiling is not None:
            store.save_settings(plan_new_ceiling=new_ceiling)
        if plan is None:
            ended = store.latest_plan()
            return PlanView("none", ended=ended, ceiling_saved=new_ceiling)
        action = "shown"
    settings = store.settings()
    result = report(plan, bank.cards, store.cards(), settings, now, tz)
    return PlanView(action, report=result, plan=plan, ceiling_saved=new_ceiling)


def stats_line(
    store: Store,
    cards: Sequence[Card],
    now: datetime,
    settings: StudySettings,
    tz: tzinfo | None = None,
) -> dict[str, Any] | None:
    """The plan's line in `quizcnn stats`: days left, predicted recall on the day."""
    today = study_day(now, settings.rollover_hour, tz)
    plan = store.active_plan(today.isoformat())
    if plan is None:
        return None
    result = report(plan, cards, store.cards(), settings, now, tz)
    return {
        "interview_date": result.interview_date.isoformat(),
        "days_left": result.days_left,
        "cards": sum(v for k, v in result.cards.items() if k != "suspended"),
        "recall_on_the_day": result.recall_with_plan,
        "recall_if_you_stopped_now": result.recall_now,
        "target": result.target,
        "unseen_on_the_day": result.unseen_on_the_day,
    }
