"""Scheduling: fsrs's own intervals, study days, daily limits, queue order, leeches,
and the optimizer's inputs. A fixed clock throughout; fuzz off where intervals are
compared with fsrs's."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from fsrs import Card as FsrsCard
from fsrs import Rating, Scheduler, State
from fsrs.scheduler import DEFAULT_PARAMETERS

from quizcnn.bank import Card
from quizcnn.drill import CardShown, Drill, Finished, Graded, NothingDue, Notice, Options, Phase
from quizcnn.schedule import (
    History,
    apply_rating,
    becomes_leech,
    build_queue,
    clock_from_env,
    count_fit_reviews,
    day_start,
    day_starts,
    log_loss,
    make_scheduler,
    next_day_start,
    optimizer_histories,
    preview,
    retrievability,
    to_fsrs,
)
from quizcnn.store import CardRow, QueueRow, iso, open_store

UTC = timezone.utc
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday, 10:00 UTC


def cards(n: int, prefix: str = "c") -> list[Card]:
    return [
        Card(
            id=f"{prefix}{k:03d}",
            topic="t",
            kind="recall",
            question=f"Q{k}?",
            answer="A",
            explanation="E",
        )  # fmt: skip
        for k in range(n)
    ]


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "quizcnn.db") as s:
        yield s


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def session(store, deck, clock, **options) -> Drill:
    return Drill(store, deck, Options(**options), clock=clock, tz=UTC, fuzz=False)


def grade_one(drill: Drill, rating: int) -> list:
    """Reveal the current card and grade it."""
    drill.press("")
    return drill.press(str(rating))


# -- fsrs's own intervals ---------------------------------------------------------------


@pytest.mark.parametrize("retention", [0.9, 0.8])
def test_a_sequence_of_grades_schedules_exactly_as_fsrs(store, retention):
    """Each review in its own drill, at the moment the card falls due; every stored
    field and each due date equals fsrs's own Scheduler fed the same grades and times."""
    store.save_settings(desired_retention=retention)
    deck = cards(1)
    grades = [3, 3, 3, 1, 3, 3, 4, 2, 1, 1, 3, 4, 3]
    reference = Scheduler(desired_retention=retention, enable_fuzzing=False)
    expected = FsrsCard(card_id=1, due=T0)
    clock = Clock(T0)
    intervals = []
    for rating in grades:
        drill = session(store, deck, clock)
        (shown,) = drill.start()
        assert isinstance(shown, CardShown) and shown.shown.card.id == "c000"
        # the interval under each grade is fsrs's
        for r in range(1, 5):
            alt, _ = reference.review_card(expected, Rating(r), review_datetime=clock.now)
            assert shown.shown.previews[r] == alt.due - clock.now
        events = grade_one(drill, rating)
        expected, _ = reference.review_card(expected, Rating(rating), review_datetime=clock.now)
        row = store.card("c000")
        assert (row.state, row.step) == (int(expected.state), expected.step)
        assert row.stability == expected.stability and row.difficulty == expected.difficulty
        assert row.due == iso(expected.due) and row.last_review == iso(clock.now)
        assert events[0] == Graded(
            deck[0], rating, expected.due, expected.due - clock.now, False, row.lapses, False
        )
        intervals.append(expected.due - clock.now)
        clock.now = expected.due
    # the walk went through learning, review and relearning with day-long intervals
    assert max(intervals) >= timedelta(days=10)
    assert store.review_count() == len(grades)


def test_fitted_parameters_from_settings_are_used(store):
    params = list(DEFAULT_PARAMETERS)
    params[2] = 5.0  # initial stability after Good
    store.save_settings(parameters=params)
    drill = session(store, cards(1), Clock(T0))
    drill.start()
    grade_one(drill, 4)
    expected, _ = Scheduler(parameters=params, enable_fuzzing=False).review_card(
        FsrsCard(card_id=1, due=T0), Rating.Easy, review_datetime=T0
    )
    assert store.card("c000").due == iso(expected.due)


def test_with_fuzz_the_interval_shown_is_the_interval_set(store):
    deck = cards(30)
    clock = Clock(T0)
    long_ago = T0 - timedelta(days=40)
    for card in deck:
        store.record_review(card.id, 3, long_ago, 1, lambda b, c=card: _review_row(c.id, long_ago))
    drill = Drill(store, deck, Options(), clock=clock, tz=UTC)  # fuzz on: the default
    assert drill.scheduler.enable_fuzzing
    set_intervals = []
    events = drill.start()
    while drill.phase is Phase.ASK:
        shown = events[-1].shown
        events = grade_one(drill, 3)
        graded = events[0]
        assert graded.interval == shown.previews[3]
        set_intervals.append(graded.interval)
    assert len(set_intervals) == 30
    assert len(set(set_intervals)) > 1  # fuzz spreads equal cards over several days


def _review_row(card_id: str, last: datetime, due: datetime | None = None, stability=20.0):
    return CardRow(card_id, 2, None, stability, 5.0, iso(due or last + timedelta(days=20)),
                   iso(last), 1, 0)  # fmt: skip


def test_fuzz_leaves_the_global_random_generator_alone():
    random.seed(1234)
    expected = [random.random() for _ in range(3)]
    random.seed(1234)
    scheduler = make_scheduler()
    row = _review_row("x", T0 - timedelta(days=30))
    preview(scheduler, row, "x", T0)
    assert [random.random() for _ in range(3)] == expected


def test_retrievability_is_fsrs_forgetting_curve():
    scheduler = Scheduler()
    for days, stability in [(0, 3.0), (1, 3.0), (10, 3.0), (45, 120.0)]:
        card = FsrsCard(card_id=1, state=State.Review, stability=stability, difficulty=5.0,
                        due=T0, last_review=T0 - timedelta(days=days, hours=5))  # fmt: skip
        ours = retrievability(stability, card.last_review, T0, DEFAULT_PARAMETERS)
        assert ours == pytest.approx(scheduler.get_card_retrievability(card, T0), abs=1e-12)
    # R = 0.9 exactly when the elapsed days equal the stability (FSRS's definition of S)
    assert retrievability(10.0, T0 - timedelta(days=10), T0, DEFAULT_PARAMETERS) == pytest.approx(
        0.9
    )


def test_a_new_row_becomes_fsrs_fresh_learning_card():
    card = to_fsrs(None, T0, key=7)
    assert (card.state, card.step, card.stability, card.due) == (State.Learning, 0, None, T0)


# -- study days -------------------------------------------------------------------------


def test_the_study_day_rolls_over_at_4am_local_time():
    assert day_start(datetime(2026, 3, 2, 3, 59, tzinfo=UTC), 4, UTC) == datetime(
        2026, 3, 1, 4, tzinfo=UTC
    )
    assert day_start(datetime(2026, 3, 2, 4, 0, tzinfo=UTC), 4, UTC) == datetime(
        2026, 3, 2, 4, tzinfo=UTC
    )
    assert next_day_start(T0, 4, UTC) == datetime(2026, 3, 3, 4, tzinfo=UTC)
    tokyo = ZoneInfo("Asia/Tokyo")  # UTC+9: 10:00 UTC is 19:00 there
    assert day_start(T0, 4, tokyo) == datetime(2026, 3, 1, 19, tzinfo=UTC)
    assert day_start(T0, 0, UTC) == datetime(2026, 3, 2, tzinfo=UTC)


def test_study_days_follow_local_4am_across_a_dst_change():
    new_york = ZoneInfo("America/New_York")  # clocks go forward on 2026-03-08
    starts = day_starts(datetime(2026, 3, 7, 12, tzinfo=UTC), 3, 4, new_york)
    assert [s.astimezone(new_york).hour for s in starts] == [4, 4, 4]
    assert starts[1] - starts[0] == timedelta(hours=23)


def test_clock_from_env_is_fixed_when_quizcnn_now_is_set():
    clock = clock_from_env({"QUIZCNN_NOW": "2026-03-02T10:00:00Z"})
    assert clock() == clock() == T0
    naive = clock_from_env({"QUIZCNN_NOW": "2026-03-02T10:00:00"})
    assert naive() == T0  # no zone: UTC
    live = clock_from_env({})
    assert abs(live() - datetime.now(UTC)) < timedelta(seconds=5)


# -- the queue ------------------------------------------------------------------------------


def _rows(*rows: CardRow) -> list[QueueRow]:
    return [
        QueueRow(r.card_id, r.state, r.due, r.last_review, r.stability, r.suspended) for r in rows
    ]


def test_queue_order_learning_then_reviews_by_retrievability_then_new_in_bank_order():
    ids = [f"c{k}" for k in range(10)]
    end = next_day_start(T0, 4, UTC)
    rows = _rows(
        _review_row("c1", T0 - timedelta(days=30), T0 - timedelta(days=1), stability=40.0),
        _review_row("c2", T0 - timedelta(days=30), T0 - timedelta(days=2), stability=5.0),
        _review_row("c3", T0 - timedelta(days=3), T0 + timedelta(hours=5), stability=3.0),
        _review_row("c4", T0 - timedelta(days=3), T0 + timedelta(days=2), stability=3.0),
        CardRow("c5", 1, 1, 1.0, 5.0, iso(T0 - timedelta(minutes=2)), iso(T0)),
        CardRow("c6", 3, 0, 1.0, 5.0, iso(T0 - timedelta(minutes=9)), iso(T0)),
        CardRow("c7", 1, 0, 1.0, 5.0, iso(T0 + timedelta(minutes=15)), iso(T0)),
        CardRow("c8", None, suspended=True),
        _review_row("gone", T0 - timedelta(days=30), T0 - timedelta(days=9), stability=1.0),
    )
    queue = build_queue(ids, rows, T0, end, new_allowance=10, review_allowance=200)
    assert queue.learning == ["c6", "c5"]  # due learning/relearning, earliest first
    # due today (c3 later today, before the 4 am rollover), lowest retrievability first
    r = {
        cid: retrievability(s, datetime.fromisoformat(last), T0, DEFAULT_PARAMETERS)
        for cid, _, _, last, s, *_ in rows
        if cid in ("c1", "c2", "c3")
    }
    assert queue.reviews == sorted(r, key=r.get) == ["c2", "c3", "c1"]
    assert queue.new == ["c0", "c9"]  # bank order; suspended c8 and scheduled cards excluded
    assert queue.learn_ahead == ["c7"]  # due within 20 minutes: shown only at the very end
    assert queue.ids == ["c6", "c5", "c2", "c3", "c1", "c0", "c9", "c7"]
    assert "gone" not in queue.ids and "c4" not in queue.ids


def test_learning_cards_are_never_held_back_by_the_limits():
    rows = _rows(
        CardRow("a", 1, 1, 1.0, 5.0, iso(T0 - timedelta(minutes=1)), iso(T0)),
        _review_row("b", T0 - timedelta(days=9), T0 - timedelta(days=1)),
    )
    queue = build_queue(["a", "b", "c"], rows, T0, T0 + timedelta(hours=18),
                        new_allowance=0, review_allowance=0)  # fmt: skip
    assert queue.ids == ["a"]


def test_new_cards_share_the_review_limit():
    ids = [f"r{k}" for k in range(8)] + [f"n{k}" for k in range(5)]
    rows = _rows(*(_review_row(f"r{k}", T0 - timedelta(days=9), T0) for k in range(8)))
    end = next_day_start(T0, 4, UTC)
    queue = build_queue(ids, rows, T0, end, new_allowance=10, review_allowance=10)
    assert len(queue.reviews) == 8 and queue.new == ["n0", "n1"]
    queue = build_queue(ids, rows, T0, end, new_allowance=10, review_allowance=5)
    assert len(queue.reviews) == 5 and queue.new == []


def _drain(drill: Drill, rating: int = 4) -> list[str]:
    """Grade every card the session shows; return the ids in order."""
    shown = []
    events = drill.start()
    while drill.phase is Phase.ASK:
        current = next(e for e in reversed(events) if isinstance(e, CardShown))
        shown.append(current.shown.card.id)
        events = grade_one(drill, rating)
    return shown


def test_daily_new_limit_is_ten_by_default_and_resets_the_next_day(store):
    deck = cards(25)
    clock = Clock(T0)
    first = _drain(session(store, deck, clock))
    assert first == [c.id for c in deck[:10]]  # bank order
    again = session(store, deck, clock)
    events = again.start()
    assert isinstance(events[0], NothingDue) and events[0].at_start and again.done
    assert _drain(session(store, deck, clock, new=3)) == ["c010", "c011", "c012"]  # --new
    clock.now = T0 + timedelta(days=1)  # the next study day: 10 more (reviews not due yet)
    assert _drain(session(store, deck, clock)) == [c.id for c in deck[13:23]]


def test_new_cards_seen_earlier_today_count_against_the_limit(store):
    store.save_settings(new_per_day=5)
    deck = cards(10)
    clock = Clock(T0)
    drill = session(store, deck, clock)
    drill.start()
    grade_one(drill, 4)
    grade_one(drill, 4)
    drill.stop()
    assert _drain(session(store, deck, clock)) == ["c002", "c003", "c004"]


def test_daily_review_limit_and_session_limit(store):
    store.save_settings(reviews_per_day=4)
    deck = cards(9)
    for card in deck[:6]:
        store.record_review(card.id, 3, T0 - timedelta(days=20), 1,
                            lambda b, c=card: _review_row(c.id, T0 - timedelta(days=20), T0))  # fmt: skip
    clock = Clock(T0)
    shown = _drain(session(store, deck, clock))
    assert len(shown) == 4 and all(i in [c.id for c in deck[:6]] for i in shown)
    # the daily limit is used up; --limit asks for more this session, new cards included
    more = _drain(session(store, deck, clock, limit=4))
    assert sorted(more[:2]) == sorted(set(c.id for c in deck[:6]) - set(shown))
    assert more[2:] == ["c006", "c007"]


def test_a_session_stops_at_its_limit_with_a_summary(store):
    deck = cards(6)
    drill = session(store, deck, Clock(T0), limit=2)
    drill.start()
    grade_one(drill, 4)
    events = grade_one(drill, 4)
    assert isinstance(events[-1], Notice) and "limit of 2 card(s)" in events[-1].text
    (finished,) = drill.press("q")
    assert isinstance(finished, Finished) and finished.summary.stopped == "limit"
    assert store.review_count() == 2


# -- leeches -------------------------------------------------------------------------------


def test_becomes_leech_at_8_lapses_then_every_4():
    assert [n for n in range(1, 21) if becomes_leech(n)] == [8, 12, 16, 20]


def test_the_eighth_lapse_tags_the_card_leech_and_suspends_it(store):
    deck = cards(1)
    clock = Clock(T0)
    drill = session(store, deck, clock)
    drill.start()
    grade_one(drill, 4)  # new -> review
    lapses_seen = []
    for lapse in range(1, 9):
        clock.now = datetime.fromisoformat(store.card("c000").due)
        drill = session(store, deck, clock)
        drill.start()
        graded = grade_one(drill, 1)[0]  # Again on a review card: a lapse
        lapses_seen.append(store.card("c000").lapses)
        assert graded.leech == (lapse == 8)
        if lapse < 8:
            clock.now = datetime.fromisoformat(store.card("c000").due)
            drill = session(store, deck, clock)
            drill.start()
            grade_one(drill, 3)  # relearning -> review
    assert lapses_seen == list(range(1, 9))
    row = store.card("c000")
    assert row.leech and row.suspended and row.state == 3
    clock.now += timedelta(days=30)
    events = session(store, deck, clock).start()
    assert isinstance(events[0], NothingDue) and events[0].next_due is None  # suspended


def test_apply_rating_counts_reps_and_lapses():
    scheduler = make_scheduler(fuzz=False)
    row = apply_rating(scheduler, None, "x", 3, T0)
    assert (row.reps, row.lapses, row.state) == (1, 0, 1)
    review = _review_row("x", T0 - timedelta(days=20), T0)
    lapsed = apply_rating(scheduler, review, "x", 1, T0)
    assert (lapsed.reps, lapsed.lapses, lapsed.state) == (2, 1, 3)
    assert apply_rating(scheduler, lapsed, "x", 1, T0).lapses == 1  # relearning Again: no lapse


# -- optimizer inputs -------------------------------------------------------------------------


def test_log_loss_is_the_cross_entropy_of_fsrs_predicted_recall():
    # one card: Good at t0, then Good 3 days later (predicted R from S = w2), then Again
    # 10 days after that; a same-day review in between is not scored
    t0 = T0
    history = History(1, [(t0, 3), (t0 + timedelta(hours=2), 3), (t0 + timedelta(days=3), 3),
                          (t0 + timedelta(days=13), 1)])  # fmt: skip
    scheduler = Scheduler(enable_fuzzing=False)
    card = FsrsCard(card_id=1, due=t0)
    terms = []
    for moment, rating in history.grades:
        if card.last_review and (moment - card.last_review).days > 0:
            p = scheduler.get_card_retrievability(card, moment)
            terms.append(-math.log(p) if rating > 1 else -math.log(1 - p))
        card, _ = scheduler.review_card(card, Rating(rating), review_datetime=moment)
    assert len(terms) == 2
    assert log_loss([history], DEFAULT_PARAMETERS) == pytest.approx(sum(terms) / 2, rel=1e-12)
    assert count_fit_reviews([history]) == 2


def test_optimizer_histories_skip_cram_and_start_after_a_reset(store):
    clock_times = [T0 + timedelta(days=d) for d in range(4)]
    for k, moment in enumerate(clock_times):
        store.record_review("a", 3, moment, 1, lambda b, m=moment: _review_row("a", m))
        store.record_review(
            "b", 1 if k % 2 else 3, moment, 1, lambda b, m=moment: _review_row("b", m)
        )
    store.record_review("a", 3, T0 + timedelta(days=5), 1, lambda b: b, cram=True)
    store.reset(["b"], T0 + timedelta(days=1, hours=1))
    histories = optimizer_histories(store.reviews(include_cram=False), store.last_resets())
    by_len = sorted(len(h.grades) for h in histories)
    assert by_len == [2, 4]  # b keeps only its 2 grades after the reset; a's cram is left out
    assert sorted(h.key for h in histories) == [1, 2]
