"""The numbers behind `quizcnn stats`: card states, activity, forecast, retention.

- Cards by state over the bank's cards (ids the bank no longer has are counted
  apart): new, learning, review, relearning, suspended; leeches listed.
- Reviews per study day for the last 12 weeks (cram included: it is practice).
- Due forecast for the next 30 study days (today includes what is overdue).
- True retention, as Anki computes it: only reviews of cards in the review state,
  only the first such review of a card in a study day, Again = forgotten; young
  cards have an interval under 21 days, mature ones 21 days or more.
- Weakest topics by again-rate; the current streak of study days.
- While an interview plan is in force: its days left and predicted recall on the day.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from fsrs import Rating

from quizcnn.bank import Card
from quizcnn.schedule import MATURE_DAYS, STATE_NAMES, day_starts
from quizcnn.store import Store, parse_time

HEATMAP_WEEKS = 12
FORECAST_DAYS = 30
WEAK_TOPICS = 5
WEAK_MIN_REVIEWS = 5


@dataclass(frozen=True)
class Retention:
    passed: int
    total: int

    @property
    def rate(self) -> float | None:
        return self.passed / self.total if self.total else None

    def to_dict(self) -> dict:
        return {"passed": self.passed, "total": self.total, "rate": self.rate}


@dataclass(frozen=True)
class TopicAgain:
    topic: str
    reviews: int
    again: int

    @property
    def rate(self) -> float:
        return self.again / self.reviews if self.reviews else 0.0


@dataclass
class Stats:
    today: date  # the current study day
    states: dict[str, int]
    leeches: list[str]
    removed: int  # ids with history that the bank no longer has
    reviews_total: int
    reviews_today: int
    heatmap: list[tuple[date, int]]  # the last 12 weeks, oldest first, ending today
    forecast: list[tuple[date, int]]  # the next 30 days, today first
    retention: dict[str, dict[str, Retention]]  # period -> young / mature / all
    weakest: list[TopicAgain]
    streak: int
    extra: dict = field(default_factory=dict)
    plan: dict | None = None  # the interview plan's line, while one is in force

    def to_dict(self) -> dict:
        return {
            "today": self.today.isoformat(),
            "states": self.states,
            "leeches": self.leeches,
            "removed_from_bank": self.removed,
            "reviews": {"total": self.reviews_total, "today": self.reviews_today},
            "heatmap": [{"day": d.isoformat(), "reviews": n} for d, n in self.heatmap],
            "forecast": [{"day": d.isoformat(), "due": n} for d, n in self.forecast],
            "true_retention": {
                period: {group: r.to_dict() for group, r in groups.items()}
                for period, groups in self.retention.items()
            },
            "weakest_topics": [{**asdict(t), "again_rate": t.rate} for t in self.weakest],
            "streak_days": self.streak,
            "plan": self.plan,
        }


class _Days:
    """Maps UTC times to study days (local date of the day's start), with a cache:
    many reviews fall in the same minute bucket."""

    def __init__(self, rollover_hour: int, tz: tzinfo | None):
        self.rollover = timedelta(hours=rollover_hour)
        self.tz = tz
        self.cache: dict[str, date] = {}

    def of(self, moment: datetime) -> date:
        return (moment.astimezone(self.tz) - self.rollover).date()

    def of_text(self, text: str) -> date:
        key = text[:16]  # to the minute: every zone offset is whole minutes
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = self.of(datetime.fromisoformat(key + ":00+00:00"))
        return found


def compute(
    store: Store,
    cards: Sequence[Card],
    now: datetime,
    rollover_hour: int | None = None,
    tz: tzinfo | None = None,
) -> Stats:
    settings = store.settings()
    rollover = settings.rollover_hour if rollover_hour is None else rollover_hour
    days = _Days(rollover, tz)
    today = days.of(now)
    topic_of = {card.id: card.topic for card in cards}
    rows = store.cards()

    states = dict.fromkeys(("new", "learning", "review", "relearning", "suspended"), 0)
    for card in cards:
        row = rows.get(card.id)
        if row is not None and row.suspended:
            states["suspended"] += 1
        else:
            states[STATE_NAMES[row.state if row else None]] += 1
    leeches = [card.id for card in cards if card.id in rows and rows[card.id].leech]
    removed = len((store.reviewed_ids() | set(rows)) - set(topic_of))

    per_minute = store.reviews_per_minute()
    per_day: Counter[date] = Counter()
    for bucket in per_minute:
        per_day[days.of_text(bucket.minute)] += bucket.reviews
    heat_days = HEATMAP_WEEKS * 7
    heatmap = [
        (d, per_day.get(d, 0))
        for d in (today - timedelta(days=k) for k in range(heat_days - 1, -1, -1))
    ]

    starts = day_starts(now, FORECAST_DAYS + 1, rollover, tz)
    forecast_counts = [0] * FORECAST_DAYS
    for card in cards:
        row = rows.get(card.id)
        if row is None or row.state is None or row.suspended or not row.due:
            continue
        due = parse_time(row.due)
        for k in range(FORECAST_DAYS):
            if due < starts[k + 1]:
                forecast_counts[k] += 1
                break
    forecast = [(today + timedelta(days=k), n) for k, n in enumerate(forecast_counts)]

    return Stats(
        today=today,
        states=states,
        leeches=leeches,
        removed=removed,
        reviews_total=sum(per_day.values()),
        reviews_today=per_day.get(today, 0),
        heatmap=heatmap,
        forecast=forecast,
        retention=_true_retention(store, days, today),
        weakest=_weakest_topics(store, topic_of),
        streak=_streak(per_day, today),
        plan=_plan_line(store, cards, now, settings, tz, today),
    )


def _plan_line(store: Store, cards, now: datetime, settings, tz, today: date) -> dict | None:
    """Days left and predicted recall on the day, while an interview plan is in force
    (the plan module, and numpy with it, load only then)."""
    if store.active_plan(today.isoformat()) is None:
        return None
    from quizcnn.plan import stats_line

    return stats_line(store, cards, now, settings, tz)


def _true_retention(store: Store, days: _Days, today: date) -> dict[str, dict[str, Retention]]:
    rows = store.review_state_grades()
    periods = {"last_7_days": today - timedelta(days=6), "last_30_days": today - timedelta(days=29)}
    tallies: dict[str, dict[str, list[int]]] = {
        p: {"young": [0, 0], "mature": [0, 0]} for p in (*periods, "all_time")
    }
    seen: set[tuple[str, date]] = set()
    for grade in rows:
        day = days.of_text(grade.reviewed_at)
        if (grade.card_id, day) in seen:
            continue  # only the first review of a card in a study day counts
        seen.add((grade.card_id, day))
        due, last = parse_time(grade.due_before), parse_time(grade.last_review_before)
        interval = (due - last).total_seconds() / 86400
        group = "mature" if interval >= MATURE_DAYS else "young"
        for period, first in (*periods.items(), ("all_time", None)):
            if first is None or day >= first:
                tallies[period][group][1] += 1
                tallies[period][group][0] += grade.rating != Rating.Again
    result = {}
    for period, groups in tallies.items():
        young, mature = (Retention(*groups["young"]), Retention(*groups["mature"]))
        both = Retention(young.passed + mature.passed, young.total + mature.total)
        result[period] = {"young": young, "mature": mature, "all": both}
    return result


def _weakest_topics(store: Store, topic_of: dict[str, str]) -> list[TopicAgain]:
    rows = store.again_by_card()
    reviews: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        topic = topic_of.get(row.card_id)
        if topic is not None:
            reviews[topic][0] += row.grades
            reviews[topic][1] += row.again
    ranked = [
        TopicAgain(topic, n, again)
        for topic, (n, again) in reviews.items()
        if n >= WEAK_MIN_REVIEWS and again > 0
    ]
    ranked.sort(key=lambda t: (-t.rate, -t.reviews, t.topic))
    return ranked[:WEAK_TOPICS]


def _streak(per_day: Counter, today: date) -> int:
    """Consecutive study days with reviews, ending today (or yesterday: today's
    reviews may still come)."""
    day = today if per_day.get(today) else today - timedelta(days=1)
    streak = 0
    while per_day.get(day):
        streak += 1
        day -= timedelta(days=1)
    return streak


__all__ = ["Retention", "Stats", "TopicAgain", "compute"]
