"""The drill session as a state machine: keys in, events out, every grade saved
before the next card; undo, cram, bank changes, the summary."""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from quizcnn.bank import load_bank
from quizcnn.drill import (
    CardShown,
    Drill,
    ExplanationShown,
    Finished,
    Graded,
    Invalid,
    NothingDue,
    Notice,
    Options,
    Phase,
    ProofRequested,
    Revealed,
    Undone,
)
from quizcnn.generators import draw
from quizcnn.grading import parse_number
from quizcnn.store import open_store

FIXTURE_BANK = Path(__file__).parent / "fixtures" / "drillbank"
UTC = timezone.utc
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def bank():
    return load_bank([FIXTURE_BANK], include_builtin=False)


@pytest.fixture
def db(tmp_path):
    return tmp_path / "quizcnn.db"


@pytest.fixture
def store(db):
    with open_store(db) as s:
        yield s


def rows(db: Path) -> dict[str, list]:
    conn = sqlite3.connect(db)
    try:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            for table in ("card_state", "review_log", "card_events", "settings")
        }
    finally:
        conn.close()


def drill_on(store, cards, now=T0, **options) -> Drill:
    return Drill(store, cards, Options(**options), clock=lambda: now, tz=UTC, rng=random.Random(5))


def only(bank, *ids):
    return [bank.by_id[i] for i in ids]


def shown_of(events) -> CardShown:
    return next(e for e in reversed(events) if isinstance(e, CardShown))


# -- recall cards -----------------------------------------------------------------------


def test_recall_enter_reveals_then_a_grade_is_saved_before_the_next_card(bank, store):
    drill = drill_on(store, only(bank, "dx-bn-axes", "dx-ln-axes"))
    (first,) = drill.start()
    assert first.shown.card.id == "dx-bn-axes" and first.counts == (0, 0, 2)
    assert drill.phase is Phase.ASK
    assert [k for k, _ in drill.valid_keys()] == ["type", "Enter", "u", "q"]
    (revealed,) = drill.press("")
    assert isinstance(revealed, Revealed) and revealed.shown.attempt is None
    assert drill.phase is Phase.REVEALED
    assert [k for k, _ in drill.valid_keys()] == ["1", "2", "3", "4", "e", "p", "u", "q"]
    events = drill.press("3")
    graded, nxt = events
    assert isinstance(graded, Graded) and graded.rating == 3
    assert graded.interval == timedelta(minutes=10)  # fsrs's second learning step
    assert store.review_count() == 1  # committed before the next card is on screen
    assert nxt.shown.card.id == "dx-ln-axes"


def test_a_typed_attempt_is_kept_beside_the_answer(bank, store):
    drill = drill_on(store, only(bank, "dx-bn-axes"))
    drill.start()
    (revealed,) = drill.press("  over N, H and W  ")
    assert revealed.shown.attempt == "over N, H and W"
    assert revealed.shown.correct is None and revealed.shown.suggested is None
    # a recall card has no auto grade: Enter alone asks for a grade
    (invalid,) = drill.press("")
    assert isinstance(invalid, Invalid) and "grade with 1-4" in invalid.text


def test_e_shows_the_explanation_and_p_asks_for_the_proof(bank, store):
    drill = drill_on(store, only(bank, "dx-bn-axes", "dx-ln-axes"))
    drill.start()
    drill.press("")
    assert drill.press("e") == [ExplanationShown(bank.by_id["dx-bn-axes"])]
    assert drill.press("p") == [ProofRequested(bank.by_id["dx-bn-axes"], "bn_vs_ln")]
    assert drill.phase is Phase.REVEALED and store.review_count() == 0
    drill.press("4")
    drill.press("")  # dx-ln-axes cites no proof
    (notice,) = drill.press("p")
    assert isinstance(notice, Notice) and "no proof" in notice.text


def test_a_key_that_means_nothing_re_prompts_with_the_valid_keys(bank, store):
    drill = drill_on(store, only(bank, "dx-bn-axes"))
    drill.start()
    drill.press("")
    (invalid,) = drill.press("x")
    assert isinstance(invalid, Invalid)
    assert "'x' means nothing here" in invalid.text
    assert ("3", "Good") in invalid.keys and ("e", "explanation") in invalid.keys
    assert drill.phase is Phase.REVEALED and store.review_count() == 0
    assert isinstance(drill.press("9")[0], Invalid)


# -- choice cards ------------------------------------------------------------------------


def test_choice_right_letter_suggests_good_and_enter_takes_it(bank, store):
    drill = drill_on(store, only(bank, "dx-bn-params"))
    drill.start()
    assert drill.valid_keys()[0] == ("a-c", "choose")
    (revealed,) = drill.press("B")
    assert revealed.shown.correct is True and revealed.shown.suggested == 3
    assert revealed.shown.attempt == "b) 128"
    assert ("Enter", "Good") in drill.valid_keys()
    graded = drill.press("")[0]
    assert graded.rating == 3


def test_choice_wrong_letter_suggests_again_and_a_number_overrides(bank, store):
    drill = drill_on(store, only(bank, "dx-bn-params"))
    drill.start()
    (revealed,) = drill.press("a")
    assert revealed.shown.correct is False and revealed.shown.suggested == 1
    graded = drill.press("2")[0]  # a slip: the user overrides the auto grade
    assert graded.rating == 2


def test_choice_letter_outside_the_choices_re_prompts(bank, store):
    drill = drill_on(store, only(bank, "dx-bn-params"))
    drill.start()
    (invalid,) = drill.press("d")
    assert isinstance(invalid, Invalid) and "a to c" in invalid.text
    assert drill.phase is Phase.ASK


# -- numeric cards -------------------------------------------------------------------------


def test_numeric_is_checked_against_value_and_tolerance(bank, store):
    deck = only(bank, "dx-same-padding")
    drill = drill_on(store, deck)
    drill.start()
    assert drill.valid_keys()[0] == ("type", "a number")
    (revealed,) = drill.press("32.0")
    assert revealed.shown.correct is True and revealed.shown.suggested == 3
    wrong = drill_on(store, deck)
    wrong.start()
    (revealed,) = wrong.press("30")
    assert revealed.shown.correct is False and revealed.shown.suggested == 1
    words = drill_on(store, deck)
    words.start()
    (invalid,) = words.press("thirty-two")
    assert isinstance(invalid, Invalid) and "not a number" in invalid.text
    assert words.phase is Phase.ASK


def test_a_generator_card_draws_fresh_numbers_and_checks_against_the_draw(bank, store):
    drill = drill_on(store, only(bank, "dx-gen-params"))
    (event,) = drill.start()
    expected = draw("conv_params", random.Random(5))  # the drill's rng, same seed
    assert event.shown.question == expected.question
    assert event.shown.question != bank.by_id["dx-gen-params"].question
    assert (event.shown.value, event.shown.working) == (expected.value, expected.working)
    (revealed,) = drill.press(f"{int(expected.value):,}")  # 1,234 with a comma is fine
    assert revealed.shown.correct is True
    # after an undo the same draw comes back, not a new one
    drill.press("")
    (undone, again) = drill.press("u")
    assert isinstance(undone, Undone) and again.shown.question == expected.question


def test_parse_number_accepts_what_people_type():
    assert parse_number("1,024") == 1024
    assert parse_number(" 1_000 ") == 1000
    assert parse_number("1e6") == 1e6
    assert parse_number("-0.5") == -0.5
    assert parse_number("25%") == 25
    assert parse_number("nan") is None and parse_number("abc") is None


# -- undo ------------------------------------------------------------------------------------


def test_undo_restores_state_and_log_rows_exactly_and_shows_the_card_again(bank, store, db):
    drill = drill_on(store, only(bank, "dx-bn-axes", "dx-ln-axes"))
    drill.start()
    drill.press("")
    drill.press("4")  # dx-bn-axes: new -> review
    snapshot = rows(db)
    drill.press("")
    drill.press("1")  # dx-ln-axes: Again
    assert rows(db) != snapshot
    undone, shown = drill.press("u")
    assert undone == Undone(bank.by_id["dx-ln-axes"], 1)
    assert shown.shown.card.id == "dx-ln-axes" and drill.phase is Phase.ASK
    assert rows(db) == snapshot
    undone, shown = drill.press("u")  # and the one before it
    assert shown.shown.card.id == "dx-bn-axes"
    assert rows(db)["card_state"] == [] and rows(db)["review_log"] == []
    (notice,) = drill.press("u")
    assert isinstance(notice, Notice) and "nothing to undo" in notice.text


def test_the_last_grade_can_be_undone_after_the_queue_ran_out(bank, store, db):
    drill = drill_on(store, only(bank, "dx-bn-axes"))
    drill.start()
    drill.press("")
    drill.press("4")
    assert drill.phase is Phase.EMPTY and store.review_count() == 1
    undone, shown = drill.press("u")
    assert shown.shown.card.id == "dx-bn-axes" and drill.phase is Phase.ASK
    assert rows(db)["review_log"] == [] and rows(db)["card_state"] == []
    drill.press("")
    drill.press("3")  # re-graded: Good, a learning step
    assert store.card("dx-bn-axes").state == 1


def test_undo_works_from_the_answer_side_too(bank, store):
    drill = drill_on(store, only(bank, "dx-bn-axes", "dx-ln-axes"))
    drill.start()
    drill.press("")
    drill.press("3")
    drill.press("")  # the second card is revealed
    undone, shown = drill.press("u")
    assert shown.shown.card.id == "dx-bn-axes" and store.review_count() == 0


# -- cram, nothing due --------------------------------------------------------------------------


def test_nothing_due_says_when_the_next_card_is(bank, store):
    deck = only(bank, "dx-bn-axes")
    drill = drill_on(store, deck)
    drill.start()
    drill.press("")
    events = drill.press("4")  # Easy: several days
    due = datetime.fromisoformat(store.card("dx-bn-axes").due)
    assert events == [
        Graded(deck[0], 4, due, due - T0, False, 0, False),
        NothingDue(due, False, False),
    ]
    assert drill.phase is Phase.EMPTY and not drill.done  # open: the grade can still be undone
    assert drill.valid_keys() == [("Enter", "finish"), ("u", "undo"), ("q", "quit")]
    assert isinstance(drill.press("x")[0], Invalid)
    (finished,) = drill.press("")
    assert isinstance(finished, Finished) and finished.summary.stopped == "done" and drill.done
    later = drill_on(store, deck, now=T0 + timedelta(hours=1))
    assert later.start() == [NothingDue(due, True, False)]
    assert later.done


def test_cram_practises_ahead_logs_cram_and_leaves_schedules_alone(bank, store, db):
    deck = only(bank, "dx-bn-axes", "dx-ln-axes", "dx-bn-params")
    drill = drill_on(store, deck)
    drill.start()
    drill.press("")
    drill.press("4")  # dx-bn-axes scheduled days ahead
    drill.stop()
    states = rows(db)["card_state"]
    cram = drill_on(store, deck, now=T0 + timedelta(hours=2), cram=True)
    first = cram.start()[0]
    assert first.cram and first.shown.card.id == "dx-bn-axes"  # soonest due first, then new
    assert first.shown.previews == {}
    seen = [first.shown.card.id]
    for _ in range(3):
        cram.press("")
        events = cram.press("1")
        assert events[0].cram and events[0].due is None
        if isinstance(events[-1], CardShown):
            seen.append(events[-1].shown.card.id)
    assert seen == ["dx-bn-axes", "dx-ln-axes", "dx-bn-params"]
    assert events[-1] == NothingDue(datetime.fromisoformat(states[0][5]), False, True)
    (finished,) = cram.press("q")
    assert finished.summary.cram and finished.summary.reviewed == 3
    assert rows(db)["card_state"] == states  # schedules untouched
    log = store.reviews()
    assert [r.cram for r in log] == [False, True, True, True]


# -- bank changes ------------------------------------------------------------------------------


def test_a_card_removed_from_the_bank_keeps_its_history_and_is_skipped(bank, store):
    deck = only(bank, "dx-bn-axes", "dx-ln-axes")
    drill = drill_on(store, deck)
    drill.start()
    drill.press("")
    drill.press("1")  # dx-bn-axes: Again, due in a minute
    later = T0 + timedelta(minutes=30)
    smaller = drill_on(store, only(bank, "dx-ln-axes"), now=later)  # dx-bn-axes was deleted
    assert shown_of(smaller.start()).shown.card.id == "dx-ln-axes"
    assert store.card("dx-bn-axes") is not None and store.review_count() == 1


def test_an_edited_card_keeps_its_schedule(bank, store):
    from dataclasses import replace

    original = bank.by_id["dx-bn-axes"]
    drill = drill_on(store, [original])
    drill.start()
    drill.press("")
    drill.press("1")
    edited = replace(original, question="Reworded: which axes does BatchNorm2d average over?")
    later = drill_on(store, [edited], now=T0 + timedelta(minutes=5))
    (event,) = later.start()
    assert event.shown.label == "learning"  # not new: the id carries the schedule
    assert event.shown.question.startswith("Reworded")


# -- ending -----------------------------------------------------------------------------------


def test_quit_ends_with_a_summary_of_the_session(bank, store):
    deck = only(bank, "dx-bn-axes", "dx-ln-axes", "dx-bn-params")
    times = iter(range(0, 1000, 30))  # each call to the monotonic clock: 30 s later
    drill = Drill(store, deck, Options(), clock=lambda: T0, tz=UTC,
                  monotonic=lambda: float(next(times)))  # fmt: skip
    drill.start()
    drill.press("")
    drill.press("1")
    drill.press("")
    drill.press("4")
    (finished,) = drill.press("q")
    summary = finished.summary
    assert (summary.reviewed, summary.again, summary.new_seen) == (2, 1, 2)
    assert summary.again_rate == 0.5
    assert summary.minutes > 0
    # Again: due in a minute (later today, and within the week); Easy: due in days
    easy_due = datetime.fromisoformat(store.card("dx-ln-axes").due)
    tomorrow = datetime(2026, 3, 3, 4, tzinfo=UTC), datetime(2026, 3, 4, 4, tzinfo=UTC)
    week_end = datetime(2026, 3, 10, 4, tzinfo=UTC)
    assert easy_due >= tomorrow[0]
    assert summary.due_later_today == 1
    assert summary.due_tomorrow == (tomorrow[0] <= easy_due < tomorrow[1])
    assert summary.due_week == 1 + (easy_due < week_end)
    assert summary.stopped == "quit" and drill.done
    assert drill.press("3") == []  # nothing happens after the end
    # durations were measured per card on the monotonic clock
    assert [r.duration_ms for r in store.reviews()] == [30000, 30000]
