"""`quizcnn stats`: card states, the 12-week heatmap, the 30-day forecast, true
retention (young/mature), weakest topics and the streak, on a hand-built log."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from drillbank import run_on_drillbank

from quizcnn.bank import Card
from quizcnn.stats import HEATMAP_WEEKS, compute
from quizcnn.store import CardRow, iso, open_store

UTC = timezone.utc
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # Monday 10:00 UTC; the study day began 04:00


def card(card_id: str, topic: str = "a") -> Card:
    return Card(id=card_id, topic=topic, kind="recall", question="Q?", answer="A", explanation="E")


def review_row(card_id: str, last: datetime, interval_days: float, state: int = 2) -> CardRow:
    due = last + timedelta(days=interval_days)
    return CardRow(card_id, state, None, 10.0, 5.0, iso(due), iso(last), 3, 0)


def put(store, card_id: str, rating: int, at: datetime, before: CardRow | None, after: CardRow,
        cram: bool = False) -> None:  # fmt: skip
    """A review whose before-state is ``before`` (set as the card's row first)."""
    if before is not None:
        store.record_review(card_id, 3, at - timedelta(days=400), 1, lambda _: before)
        store.conn.execute(
            "DELETE FROM review_log WHERE id = (SELECT max(id) FROM review_log)"
        )  # only the row was wanted, not that setup review
    store.record_review(card_id, rating, at, 1, lambda _: after, cram=cram)


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "quizcnn.db") as s:
        yield s


def test_true_retention_counts_first_review_of_the_day_of_review_cards(store):
    mature_before = review_row("m", NOW - timedelta(days=30), 30)
    young_before = review_row("y", NOW - timedelta(days=5), 5)
    older_before = review_row("o", NOW - timedelta(days=13), 3)
    after = review_row("x", NOW, 10)
    put(store, "m", 3, NOW, mature_before, after._replace(card_id="m"))  # mature pass
    store.record_review("m", 1, NOW + timedelta(hours=1), 1, lambda b: b)  # same day: ignored
    put(store, "y", 1, NOW, young_before, after._replace(card_id="y"))  # young fail
    put(store, "o", 4, NOW - timedelta(days=10), older_before, after._replace(card_id="o"))
    put(store, "l", 1, NOW, review_row("l", NOW, 0.01, state=1), after._replace(card_id="l"))
    put(store, "c", 1, NOW, young_before._replace(card_id="c"), after, cram=True)  # cram
    stats = compute(store, [card(i) for i in "myolc"], NOW, tz=UTC)
    week, month = stats.retention["last_7_days"], stats.retention["last_30_days"]
    assert (week["young"].passed, week["young"].total) == (0, 1)
    assert (week["mature"].passed, week["mature"].total) == (1, 1)
    assert (month["young"].passed, month["young"].total) == (1, 2)
    assert month["all"].rate == pytest.approx(2 / 3)
    assert stats.retention["all_time"]["mature"].rate == 1.0


def test_states_leeches_and_cards_no_longer_in_the_bank(store):
    t = NOW - timedelta(days=1)
    store.record_review("learn", 3, t, 1, lambda _: review_row("learn", t, 0.01, state=1))
    store.record_review("rev", 3, t, 1, lambda _: review_row("rev", t, 4))
    store.record_review("relearn", 1, t, 1, lambda _: review_row("relearn", t, 0.01, state=3))
    leech = review_row("leech", t, 0.01, state=3)._replace(lapses=8, leech=True, suspended=True)
    store.record_review("leech", 1, t, 1, lambda _: leech)
    store.record_review("gone", 3, t, 1, lambda _: review_row("gone", t, 4))
    deck = [card(i) for i in ("new1", "new2", "learn", "rev", "relearn", "leech")]
    stats = compute(store, deck, NOW, tz=UTC)
    assert stats.states == {"new": 2, "learning": 1, "review": 1, "relearning": 1, "suspended": 1}
    assert stats.leeches == ["leech"]
    assert stats.removed == 1


def test_heatmap_bins_reviews_by_study_day_with_the_4am_rollover(store):
    times = [
        NOW,  # Monday
        NOW.replace(hour=3),  # Monday 03:00 is still Sunday's study day
        NOW - timedelta(days=1),  # Sunday
        NOW - timedelta(days=7 * HEATMAP_WEEKS),  # too old for the map
    ]
    for k, at in enumerate(times):
        store.record_review(f"h{k}", 3, at, 1, lambda _, k=k, at=at: review_row(f"h{k}", at, 3))
    stats = compute(store, [], NOW, tz=UTC)
    heat = dict(stats.heatmap)
    assert len(stats.heatmap) == 7 * HEATMAP_WEEKS
    assert stats.heatmap[-1][0] == NOW.date()
    assert heat[NOW.date()] == 1 and heat[NOW.date() - timedelta(days=1)] == 2
    assert sum(heat.values()) == 3 and stats.reviews_total == 4 and stats.reviews_today == 1


def test_forecast_puts_each_card_on_its_due_day_and_overdue_on_today(store):
    last = NOW - timedelta(days=10)
    dues = {"late": -3, "today": 0.5, "in3": 3, "in29": 29, "in40": 40}
    for card_id, days in dues.items():
        row = CardRow(card_id, 2, None, 9.0, 5.0, iso(NOW + timedelta(days=days)), iso(last), 1, 0)
        store.record_review(card_id, 3, last, 1, lambda _, row=row: row)
    store.set_suspended(["in3"], True, NOW)
    stats = compute(store, [card(i) for i in dues], NOW, tz=UTC)
    counts = [n for _, n in stats.forecast]
    assert len(counts) == 30
    assert counts[0] == 2  # overdue + due later today
    assert counts[3] == 0  # suspended
    assert counts[29] == 1 and sum(counts) == 3  # in40 is beyond the window


def test_weakest_topics_by_again_rate(store):
    ratings = {"a": [1, 1, 1, 3, 3], "b": [1, 3, 3, 3, 3], "c": [1, 1], "d": [3] * 6}
    deck = []
    for topic, grades in ratings.items():
        deck.append(card(f"{topic}-card", topic))
        for k, rating in enumerate(grades):
            at = NOW - timedelta(days=20 - k)
            store.record_review(f"{topic}-card", rating, at, 1,
                                lambda _, t=topic, at=at: review_row(f"{t}-card", at, 1))  # fmt: skip
    weakest = compute(store, deck, NOW, tz=UTC).weakest
    assert [(t.topic, t.reviews, t.again) for t in weakest] == [("a", 5, 3), ("b", 5, 1)]
    assert weakest[0].rate == pytest.approx(0.6)  # c: too few reviews; d: no Again


@pytest.mark.parametrize(
    ("days_with_reviews", "streak"),
    [([0, 1, 2, 4], 3), ([1, 2, 3], 3), ([2, 3], 0), ([], 0)],
)
def test_streak_counts_consecutive_study_days_to_today_or_yesterday(
    store, days_with_reviews, streak
):
    for k, days in enumerate(days_with_reviews):
        at = NOW - timedelta(days=days)
        store.record_review(f"s{k}", 3, at, 1, lambda _, k=k, at=at: review_row(f"s{k}", at, 1))
    assert compute(store, [], NOW, tz=UTC).streak == streak


# -- the command -------------------------------------------------------------------------


run = run_on_drillbank


def test_stats_command_draws_every_section_and_json_has_the_numbers(fixed_clock_home):
    drilled = run("drill", input="\n4\n\n1\nq\n")
    assert drilled.exit_code == 0, drilled.output
    result = run("stats")
    assert result.exit_code == 0, result.output
    for text in ("cards", "reviews per day", "due forecast", "true retention", "streak: 1 day"):
        assert text in result.output
    assert "less · ░ ▒ ▓ █ more" in result.output
    data = json.loads(run("stats", "--json").output)
    assert data["states"] == {"new": 3, "learning": 1, "review": 1, "relearning": 0, "suspended": 0}
    assert data["reviews"] == {"total": 2, "today": 2}
    assert data["heatmap"][-1] == {"day": "2026-03-02", "reviews": 2}
    assert data["forecast"][0] == {"day": "2026-03-02", "due": 1}  # Again: due in a minute
    assert sum(day["due"] for day in data["forecast"]) == 2
    assert data["streak_days"] == 1
    assert data["true_retention"]["all_time"]["all"] == {"passed": 0, "total": 0, "rate": None}
