"""FSRS scheduling (the `fsrs` package), study days, daily limits and queue order.

- The scheduler is fsrs's own with FSRS-6 default parameters (or the user's fitted
  ones), desired retention 0.9 by default, fuzz on, fsrs's learning steps.
- The study day starts at a rollover hour (4 am local time by default), as in Anki.
- Queue: due learning/relearning cards first (earliest due first), then due
  reviews with the lowest retrievability first, then new cards in bank order up to
  the new limit; reviews and new cards together stay under the review limit.
  Learning cards are never held back by a limit: they are in the middle of steps.
- Leeches: at 8 lapses (then every 4 more, as in Anki) a card is tagged and suspended.

Fuzz is seeded per card and review count, so the interval shown under a grade
before answering is exactly the one the grade then sets.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime, time, timedelta, timezone, tzinfo
from typing import Any, NamedTuple

from fsrs import Card as FsrsCard
from fsrs import Rating, Scheduler, State
from fsrs.scheduler import DEFAULT_PARAMETERS

from quizcnn.store import CardRow, QueueRow, StudySettings, TodayCounts, iso, parse_time

RATINGS = (Rating.Again, Rating.Hard, Rating.Good, Rating.Easy)
STATE_NAMES = {
    None: "new",
    State.Learning: "learning",
    State.Review: "review",
    State.Relearning: "relearning",
}
LEECH_LAPSES = 8  # Anki's default leech threshold
LEARN_AHEAD = timedelta(minutes=20)  # Anki's default: learning cards may come early at the end
MATURE_DAYS = 21  # Anki: a review card with an interval of 21 days or more is mature
NOW_ENV = "QUIZCNN_NOW"


# -- clock ------------------------------------------------------------------------


def parse_now(text: str) -> datetime:
    """An ISO time; without a zone it is taken as UTC."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def clock_from_env(environ: Mapping[str, str] = os.environ) -> Callable[[], datetime]:
    """The current UTC time, or the fixed time in QUIZCNN_NOW (for tests and demos:
    with it set, time stands still, so schedules are reproducible)."""
    fixed = environ.get(NOW_ENV)
    if fixed:
        moment = parse_now(fixed)
        return lambda: moment
    return lambda: datetime.now(timezone.utc)


# -- the scheduler ----------------------------------------------------------------


def make_scheduler(
    parameters: Sequence[float] | None = None,
    desired_retention: float = 0.9,
    fuzz: bool = True,
) -> Scheduler:
    return Scheduler(
        parameters=tuple(parameters) if parameters else DEFAULT_PARAMETERS,
        desired_retention=desired_retention,
        enable_fuzzing=fuzz,
    )


def to_fsrs(row: CardRow | None, now: datetime, key: int = 0) -> FsrsCard:
    """An fsrs Card for a stored row; a new card is fsrs's fresh Learning card.
    (card_id is always given: fsrs's default sleeps 1 ms to make a unique one.)"""
    if row is None or row.state is None:
        return FsrsCard(card_id=key, state=State.Learning, step=0, due=now)
    return FsrsCard(
        card_id=key,
        state=State(row.state),
        step=row.step,
        stability=row.stability,
        difficulty=row.difficulty,
        due=parse_time(row.due),
        last_review=parse_time(row.last_review),
    )


def _fuzz_seed(card_id: str, reps: int) -> str:
    return f"{card_id}#{reps}"


def review_fsrs(
    scheduler: Scheduler, card: FsrsCard, rating: Rating, now: datetime, seed: str
) -> FsrsCard:
    """fsrs's review_card with its fuzz drawn from a generator seeded by ``seed``.
    fsrs draws fuzz from the random module's global generator, so it is seeded for
    this one call and then restored, leaving everyone else's random numbers alone."""
    saved = random.getstate()
    random.seed(seed)
    try:
        reviewed, _ = scheduler.review_card(card, Rating(rating), review_datetime=now)
    finally:
        random.setstate(saved)
    return reviewed


def is_lapse(before: CardRow | None, rating: Rating) -> bool:
    return before is not None and before.state == State.Review and rating == Rating.Again


def becomes_leech(lapses: int, threshold: int = LEECH_LAPSES) -> bool:
    """Anki: at the threshold, then every half threshold after it."""
    return lapses >= threshold and (lapses - threshold) % max(threshold // 2, 1) == 0


def apply_rating(
    scheduler: Scheduler, before: CardRow | None, card_id: str, rating: Rating, now: datetime
) -> CardRow:
    """The card's next stored row after a grade."""
    row = before or CardRow(card_id)
    card = review_fsrs(scheduler, to_fsrs(before, now), rating, now, _fuzz_seed(card_id, row.reps))
    lapses = row.lapses + (1 if is_lapse(before, rating) else 0)
    leech = is_lapse(before, rating) and becomes_leech(lapses)
    return row._replace(
        state=State(card.state),
        step=card.step,
        stability=card.stability,
        difficulty=card.difficulty,
        due=iso(card.due),
        last_review=iso(card.last_review),
        reps=row.reps + 1,
        lapses=lapses,
        leech=row.leech or leech,
        suspended=row.suspended or leech,
    )


def preview(
    scheduler: Scheduler, before: CardRow | None, card_id: str, now: datetime
) -> dict[int, timedelta]:
    """The interval each of the four grades would set now (what the grade buttons show)."""
    return {
        rating: parse_time(apply_rating(scheduler, before, card_id, rating, now).due) - now
        for rating in RATINGS
    }


def retrievability(
    stability: float, last_review: datetime, now: datetime, parameters: Sequence[float]
) -> float:
    """fsrs's forgetting curve, R = (1 + F t / S)^(-w20) with whole elapsed days, as in
    Scheduler.get_card_retrievability, without building a Card per row."""
    decay = -parameters[20]
    factor = 0.9 ** (1 / decay) - 1
    days = max(0, (now - last_review).days)
    return (1 + factor * days / stability) ** decay


# -- study days -------------------------------------------------------------------


def day_start(now: datetime, rollover_hour: int = 4, tz: tzinfo | None = None) -> datetime:
    """The UTC instant the current study day began: the latest local rollover hour
    at or before now. ``tz`` None means the machine's local time zone."""
    local = now.astimezone(tz)
    day = (local - timedelta(hours=rollover_hour)).date()
    return _local_instant(day, rollover_hour, tz)


def next_day_start(now: datetime, rollover_hour: int = 4, tz: tzinfo | None = None) -> datetime:
    start = day_start(now, rollover_hour, tz).astimezone(tz)
    return _local_instant(start.date() + timedelta(days=1), rollover_hour, tz)


def day_starts(
    now: datetime, days: int, rollover_hour: int = 4, tz: tzinfo | None = None
) -> list[datetime]:
    """Starts of ``days`` consecutive study days from today's (DST-safe: by local date)."""
    first = day_start(now, rollover_hour, tz).astimezone(tz).date()
    return [_local_instant(first + timedelta(days=k), rollover_hour, tz) for k in range(days)]


def _local_instant(day, hour: int, tz: tzinfo | None) -> datetime:
    naive = datetime.combine(day, time(hour))
    local = naive.replace(tzinfo=tz) if tz is not None else naive.astimezone()
    return local.astimezone(timezone.utc)


# -- daily limits -----------------------------------------------------------------


def daily_allowances(
    settings: StudySettings,
    today: Callable[[], TodayCounts],
    *,
    new: int | None,
    limit: int | None,
    session_new: int,
    session_counted: int,
) -> tuple[int, int]:
    """How many new cards, and reviews plus new cards, the queue may still hold.

    A session's ``--new``/``--limit`` count against this session's own grades;
    without them the day's ``new_per_day``/``reviews_per_day`` count against every
    non-cram grade since the day began (``today`` reads them, only when needed).
    """
    counts = None if new is not None and limit is not None else today()
    new_left = new - session_new if new is not None else settings.new_per_day - counts.new
    if limit is not None:
        review_left = limit - session_counted
    else:
        review_left = settings.reviews_per_day - counts.reviews - counts.new
    return new_left, review_left


# -- the queue --------------------------------------------------------------------


class Queue(NamedTuple):
    """Card ids to show, in order, by part."""

    learning: list[str]
    reviews: list[str]
    new: list[str]
    learn_ahead: list[str]  # learning cards due within LEARN_AHEAD, shown when all else is done

    @property
    def ids(self) -> list[str]:
        return [*self.learning, *self.reviews, *self.new, *self.learn_ahead]


def build_queue(
    bank_ids: Sequence[str],
    rows: Iterable[QueueRow],
    now: datetime,
    day_end: datetime,
    *,
    new_allowance: int,
    review_allowance: int,
    parameters: Sequence[float] | None = None,
    learn_ahead: timedelta = LEARN_AHEAD,
    new_pool: Sequence[str] | None = None,
    due_anyway: Collection[str] = (),
    review_order: Callable[[QueueRow, float], Any] | None = None,
) -> Queue:
    """Today's queue from the cards' states alone (never the review log).

    ``bank_ids`` are the selected cards in bank order; ``rows`` are the store's
    ``queue_rows()`` and may name cards outside the selection (removed or filtered out): they are
    skipped. Review-state cards due before ``day_end`` (the next rollover) are due
    today; learning cards are due at their exact time.

    An interview plan adjusts three things: ``new_pool`` (new cards come only from
    these, in this order), ``due_anyway`` (review cards due today although their
    stored due is later: the plan's deadline) and ``review_order`` (a sort key from
    the row and its retrievability now, lowest first, instead of that retrievability).
    """
    parameters = parameters or DEFAULT_PARAMETERS
    selected = set(bank_ids)
    now_text, end_text = iso(now), iso(day_end)
    ahead_text = iso(now + learn_ahead)
    learning: list[tuple[str, str]] = []
    ahead: list[tuple[str, str]] = []
    reviews: list[tuple[float, str, str]] = []
    known: set[str] = set()
    for row in rows:
        if row.card_id not in selected:
            continue
        if row.state is not None or row.suspended:
            known.add(row.card_id)  # scheduled or suspended: not new
        if row.suspended or row.state is None:
            continue
        # ISO UTC strings of one fixed width compare in time order
        if row.state == State.Review:
            if row.due < end_text or row.card_id in due_anyway:
                last = parse_time(row.last_review)
                r = retrievability(row.stability, last, now, parameters) if last else 0.0
                key = review_order(row, r) if review_order is not None else r
                reviews.append((key, row.due, row.card_id))
        elif row.due <= now_text:
            learning.append((row.due, row.card_id))
        elif row.due <= ahead_text:
            ahead.append((row.due, row.card_id))
    learning.sort()
    ahead.sort()
    reviews.sort()
    review_ids = [card_id for _, _, card_id in reviews][: max(review_allowance, 0)]
    new_slots = max(0, min(new_allowance, review_allowance - len(review_ids)))
    new_ids = []
    if new_slots:
        for card_id in bank_ids if new_pool is None else new_pool:
            if card_id not in known and card_id in selected:
                new_ids.append(card_id)
                if len(new_ids) == new_slots:
                    break
    return Queue(
        [card_id for _, card_id in learning],
        review_ids,
        new_ids,
        [card_id for _, card_id in ahead],
    )


def cram_queue(bank_ids: Sequence[str], rows: Iterable[QueueRow]) -> list[str]:
    """Practice ahead: every selected card not suspended, soonest due first, then new
    cards in bank order."""
    selected = set(bank_ids)
    scheduled: list[tuple[str, str]] = []
    excluded: set[str] = set()
    for row in rows:
        if row.card_id not in selected:
            continue
        if row.suspended:
            excluded.add(row.card_id)
        elif row.state is not None:
            scheduled.append((row.due, row.card_id))
            excluded.add(row.card_id)
    scheduled.sort()
    return [card_id for _, card_id in scheduled] + [c for c in bank_ids if c not in excluded]


def next_due(bank_ids: Sequence[str], rows: Iterable[QueueRow]) -> datetime | None:
    """When the earliest scheduled, unsuspended selected card falls due."""
    selected = set(bank_ids)
    dues = [row.due for row in rows if _scheduled(row, selected) and row.due]
    return parse_time(min(dues)) if dues else None


def count_due_before(
    bank_ids: Sequence[str],
    rows: Iterable[QueueRow],
    moment: datetime,
    since: datetime | None = None,
) -> int:
    """Scheduled, unsuspended selected cards due before a moment (and at or after
    `since`, if given; overdue cards count when it is not)."""
    selected = set(bank_ids)
    limit = iso(moment)
    start = iso(since) if since is not None else ""
    return sum(1 for row in rows if _scheduled(row, selected) and start <= row.due < limit)


def _scheduled(row: QueueRow, selected: set[str]) -> bool:
    """A selected card with a schedule that is not suspended."""
    return row.card_id in selected and row.state is not None and not row.suspended


# -- optimizer ----------------------------------------------------------------------

MIN_OPTIMIZER_REVIEWS = 512  # fsrs's Optimizer returns the defaults below one mini-batch


class History(NamedTuple):
    """One card's non-cram grades since its last reset, oldest first."""

    key: int
    grades: list[tuple[datetime, Rating]]


def count_fit_reviews(histories: Iterable[History]) -> int:
    """The reviews fsrs's Optimizer learns from: those on a later day than the card's
    previous review (same-day reviews carry no long-term memory signal)."""
    total = 0
    for history in histories:
        last = None
        for moment, _ in history.grades[:64]:  # the Optimizer reads 64 per card at most
            if last is not None and (moment - last).days > 0:
                total += 1
            last = moment
    return total


def log_loss(histories: Iterable[History], parameters: Sequence[float]) -> float:
    """Mean binary cross-entropy of fsrs's predicted recall on the reviews the Optimizer
    fits (Again = forgotten), replaying each card's grades without fuzz. The same loss
    as the Optimizer's own evaluation, in plain floats."""
    scheduler = make_scheduler(parameters, fuzz=False)
    eps = 1e-12
    total, count = 0.0, 0
    for history in histories:
        card = None
        for moment, rating in history.grades[:64]:
            if card is None:
                card = FsrsCard(card_id=history.key, due=moment)
            if card.last_review and (moment - card.last_review).days > 0:
                p = min(max(scheduler.get_card_retrievability(card, moment), eps), 1 - eps)
                recalled = rating != Rating.Again
                total -= math.log(p) if recalled else math.log(1 - p)
                count += 1
            card, _ = scheduler.review_card(card, Rating(rating), review_datetime=moment)
    return total / count if count else float("nan")


OPTIMIZER_PACKAGES = ("torch", "pandas", "tqdm")  # what fsrs[optimizer] installs beside fsrs


def missing_optimizer_packages() -> list[str]:
    """Packages fsrs's Optimizer imports that are not installed (found without importing)."""
    from importlib.util import find_spec

    return [name for name in OPTIMIZER_PACKAGES if find_spec(name) is None]


def fit_parameters(histories: Sequence[History]) -> list[float]:
    """fsrs's Optimizer on the histories (imports torch: only `quizcnn optimize` calls it)."""
    from fsrs import ReviewLog
    from fsrs.optimizer import Optimizer

    logs = [
        ReviewLog(card_id=h.key, rating=Rating(r), review_datetime=t, review_duration=None)
        for h in histories
        for t, r in h.grades
    ]
    return [float(x) for x in Optimizer(logs).compute_optimal_parameters()]


def optimizer_histories(reviews: Iterable, last_resets: Mapping[str, str]) -> list[History]:
    """Per card, its non-cram grades after its latest reset, oldest first; cards get
    stable integer keys (fsrs wants ints) in order of their first review."""
    grades: dict[str, list[tuple[datetime, Rating]]] = {}
    for review in reviews:
        if review.cram:
            continue
        reset_at = last_resets.get(review.card_id)
        if reset_at is not None and review.reviewed_at <= reset_at:
            continue
        grades.setdefault(review.card_id, []).append(
            (parse_time(review.reviewed_at), Rating(review.rating))
        )
    return [History(key, sorted(g)) for key, g in enumerate(grades.values(), start=1)]


class OptimizeRefused(Exception):
    """The log is too small to fit, or the optimizer's packages are missing."""


class OptimizeOutcome(NamedTuple):
    """What `quizcnn optimize` found: each candidate's log loss on the user's own
    history, which set now schedules, and whether a new fit was saved."""

    reviews: int  # the reviews the fit learned from
    losses: dict[str, float]  # "defaults", "current" (if any), "fitted" -> log loss
    chosen: str  # "fitted", "current" or "defaults"
    saved: bool
    parameters: list[float]  # the set that schedules from now on


def optimize(store, now: datetime, fitting=None) -> OptimizeOutcome:
    """Fit FSRS to the log and keep the fit only if it predicts the user's own recall
    better (lower log loss) than both FSRS-6's defaults and the current fit.
    ``fitting(reviews)`` may return a context manager wrapped around the slow fit."""
    from contextlib import nullcontext

    from quizcnn import schedule  # look up fit/missing at call time (tests replace them)

    histories = optimizer_histories(store.reviews(include_cram=False), store.last_resets())
    usable = count_fit_reviews(histories)
    if usable < MIN_OPTIMIZER_REVIEWS:
        raise OptimizeRefused(
            f"too few reviews to fit FSRS reliably: {usable} of the "
            f"{MIN_OPTIMIZER_REVIEWS} needed (reviews on a later day than the card's "
            "previous one); keep drilling and try again"
        )
    missing = schedule.missing_optimizer_packages()
    if missing:
        raise OptimizeRefused(
            f"quizcnn optimize needs fsrs's optimizer extras, missing here: "
            f"{', '.join(missing)}; install them with: pip install 'fsrs[optimizer]'"
        )
    current = store.settings().parameters
    with fitting(usable) if fitting else nullcontext():
        fitted = schedule.fit_parameters(histories)
    candidates = {"defaults": list(DEFAULT_PARAMETERS)}
    if current:
        candidates["current"] = list(current)
    candidates["fitted"] = fitted
    losses = {name: log_loss(histories, params) for name, params in candidates.items()}
    best_before = min(v for k, v in losses.items() if k != "fitted")
    if losses["fitted"] < best_before:
        store.save_settings(parameters=fitted, optimized_at=iso(now))
        return OptimizeOutcome(usable, losses, "fitted", True, fitted)
    chosen = "current" if current else "defaults"
    return OptimizeOutcome(usable, losses, chosen, False, candidates[chosen])
