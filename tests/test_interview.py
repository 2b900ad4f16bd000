"""The mock interview (fixed clock and seed): chains followed deeper or left, the timer
ending a session, points pre-ticked from terms, grades from coverage, interview
reviews in the log, --practice changing no schedule, bad input, a whole interview in
a real terminal, and the key-point checklist of the daily drill."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import sys
from datetime import datetime, timezone
from pathlib import Path

import pexpect
import pytest
from fsrs import Rating
from typer.testing import CliRunner

from quizcnn.bank import BankError, load_bank
from quizcnn.cli import app
from quizcnn.drill import Drill, PointsChecklist, PointsConfirmed, Revealed
from quizcnn.grading import rating_for_coverage
from quizcnn.interview import Checklist, Finished, Interview, Question, Saved
from quizcnn.schedule import make_scheduler
from quizcnn.store import open_store

BANK = Path(__file__).parent / "fixtures" / "interviewbank"
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
runner = CliRunner()


class Clock:
    """Monotonic seconds that only move when a test says so."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def bank():
    return load_bank([BANK], include_builtin=False)


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "quizcnn.db") as s:
        yield s


def interview(store, bank, monotonic=None, **options):
    return Interview(
        store,
        bank,
        clock=lambda: NOW,
        monotonic=monotonic or Clock(),
        rng=random.Random(0),
        scheduler_for=lambda: make_scheduler(fuzz=False),
        **options,
    )


def asked_id(events) -> str:
    (question,) = [e for e in events if isinstance(e, Question)]
    return question.asked.card.id


def test_a_good_answer_goes_deeper_a_weak_one_moves_on(store, bank):
    session = interview(store, bank, topics=["alpha", "beta"])
    assert asked_id(session.start()) == "a1"
    (checklist,) = session.press("per channel, then gamma and beta")  # both points' terms
    assert isinstance(checklist, Checklist) and checklist.asked.ticked == {0, 1}
    events = session.press("")
    assert isinstance(events[0], Saved) and events[0].deeper
    assert asked_id(events) == "a2"  # deeper: the follow-up
    session.press("no idea")
    events = session.press("")
    assert not events[0].deeper and asked_id(events) == "b1"  # weak: the next topic


def test_the_timer_ends_the_session_after_the_current_question(store, bank):
    clock = Clock()
    session = interview(store, bank, monotonic=clock, minutes=1, topics=["alpha", "beta"])
    session.start()
    clock.t += 61  # the minute is over while the question is on screen
    session.press("per channel with gamma")
    events = session.press("")
    assert isinstance(events[0], Saved) and isinstance(events[-1], Finished)
    assert events[-1].report.stopped == "time" and session.done
    assert events[0].answer.seconds == pytest.approx(61)


def test_ticks_toggle_and_all_and_out_of_range(store, bank):
    session = interview(store, bank, topics=["alpha"])
    session.start()
    session.press("")  # said nothing: nothing pre-ticked
    (bad,) = session.press("3")
    assert "'3' is no point here: type numbers 1-2" in bad.text
    (checklist,) = session.press("2")
    assert checklist.asked.ticked == {1}
    (checklist,) = session.press("2")
    assert checklist.asked.ticked == set()
    (checklist,) = session.press("a")
    assert checklist.asked.ticked == {0, 1}


def test_grades_follow_the_share_of_points_covered():
    assert rating_for_coverage(4, 4) == Rating.Good
    assert rating_for_coverage(2, 4) == Rating.Hard
    assert rating_for_coverage(1, 3) == Rating.Again
    assert rating_for_coverage(0, 2) == Rating.Again


def test_each_answer_is_a_review_with_its_points_and_the_session_is_saved(store, bank):
    session = interview(store, bank, topics=["alpha"])
    session.start()
    session.press("per channel")
    session.press("")  # 1 of 2: Hard, deeper
    session.press("running")
    session.press("2")
    session.press("")
    session.press("128")  # a3, numeric: right
    events = session.press("")
    assert isinstance(events[-1], Finished) and events[-1].report.stopped == "done"
    reviews = store.reviews()
    assert [(r.card_id, int(r.rating)) for r in reviews] == [("a1", 2), ("a2", 3), ("a3", 3)]
    assert reviews[0].detail == {"interview": session.session_id, "points": 2, "covered": [0]}
    assert store.card("a1").state is not None  # scheduled by the interview
    (past,) = store.interview_sessions()
    assert (past.answers, past.covered, past.points, past.ended_at) == (3, 4, 5, past.ended_at)
    assert past.ended_at is not None
    report = events[-1].report.to_dict()
    assert report["topics"][0]["answers"][0]["missed"] == ["scales by gamma and shifts by beta"]
    assert report["to_drill"] == ["a1"]


def test_practice_changes_no_schedule_but_keeps_the_answers(store, bank):
    session = interview(store, bank, topics=["alpha"], practice=True)
    session.start()
    session.press("per channel, gamma")
    session.press("")
    assert store.reviews() == [] and store.card("a1") is None
    assert store.interview_answers(session.session_id)[0].card_id == "a1"


def test_an_interrupted_session_keeps_every_answer_given(store, bank):
    session = interview(store, bank, topics=["alpha"])
    session.start()
    session.press("per channel")
    session.press("")
    # the process dies here: nothing more is called; the answer is already committed
    conn = sqlite3.connect(store.path)
    assert conn.execute("SELECT card_id FROM interview_answer").fetchall() == [("a1",)]
    assert conn.execute("SELECT ended_at FROM interview_session").fetchone() == (None,)
    conn.close()


def test_weakest_topics_first_when_none_are_chosen(store, bank):
    ranked = interview(store, bank, weakest=lambda ts: sorted(ts, reverse=True))
    assert ranked.topics[0] == "gamma" and 3 <= len(ranked.topics) <= 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--topic", "nope"], "no topic named 'nope'"),
        (["--minutes", "0"], "--minutes must be at least 1, not 0"),
        (["--topic", "plain"], "topic 'plain' has no opener"),
    ],
)
def test_bad_input_is_one_clear_line(args, message, isolated_home):
    result = runner.invoke(app, ["--no-builtin", "--bank", str(BANK), "interview", *args])
    assert result.exit_code == 2 and message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_history_lists_past_sessions_with_scores(isolated_home, monkeypatch):
    monkeypatch.setenv("QUIZCNN_NOW", "2026-03-02T10:00:00Z")
    args = ["--no-builtin", "--bank", str(BANK), "interview"]
    done = runner.invoke(
        app, [*args, "--topic", "beta", "--json"], input="identity gradient\n\nb\n\n"
    )
    assert done.exit_code == 0, done.output
    history = runner.invoke(app, [*args, "--history", "--json"])
    (session,) = json.loads(history.stdout)
    # b1 with both points' terms, then b2 (a choice) answered right: 3 of 3 points
    assert (session["answers"], session["covered"], session["points"]) == (2, 3, 3)


def test_a_whole_interview_in_a_real_terminal(tmp_path):
    env = {**os.environ, "QUIZCNN_HOME": str(tmp_path / "home"), "TERM": "dumb", "TZ": "UTC"}
    env["QUIZCNN_NOW"] = "2026-03-02T10:00:00Z"
    command = [sys.executable, "-m", "quizcnn.cli", "--no-builtin", "--bank", str(BANK)]
    command += ["interview", "--topic", "alpha", "--topic", "gamma", "--minutes", "5"]
    child = pexpect.spawn(
        command[0], command[1:], env=env, encoding="utf-8", dimensions=(40, 100), timeout=30
    )
    child.expect("Q1 · alpha · opener")
    child.expect("left in the session")
    child.sendline("per channel, then gamma")
    child.expect("model answer")
    child.expect("Enter when done")
    child.sendline("")
    child.expect("digging deeper")
    child.expect("Q2 · alpha · follow-up 1")
    child.sendline("I do not know")
    child.sendline("")
    child.expect("next topic")
    child.expect("Q3 · gamma · opener")
    child.sendline("nothing, it is the identity; scaling in training")
    child.sendline("")
    child.expect("Q4 · gamma · follow-up 1")
    child.sendline("2")
    child.sendline("")
    child.expect("interview report")
    child.expect("say next time")
    child.expect("score")
    child.expect(pexpect.EOF)
    conn = sqlite3.connect(tmp_path / "home" / "quizcnn.db")
    assert [r[0] for r in conn.execute("SELECT card_id FROM interview_answer")] == [
        "a1",
        "a2",
        "g1",
        "g2",
    ]
    conn.close()


# -- the drill's checklist --------------------------------------------------------------


def test_the_drill_pre_ticks_points_and_suggests_from_coverage(store, bank):
    drill = Drill(store, [bank.by_id["a1"]], clock=lambda: NOW, fuzz=False)
    drill.start()
    revealed, checklist = drill.press("each channel")
    assert isinstance(revealed, Revealed) and isinstance(checklist, PointsChecklist)
    assert checklist.shown.ticked == {0}
    (confirmed,) = drill.press("")
    assert isinstance(confirmed, PointsConfirmed) and confirmed.shown.suggested == Rating.Hard
    drill.press("")  # Enter takes the suggested Hard
    (review,) = store.reviews()
    assert int(review.rating) == 2 and review.detail == {"points": 2, "covered": [0]}


def test_the_drill_checklist_takes_numbers_and_all_and_refuses_others(store, bank):
    drill = Drill(store, [bank.by_id["a1"]], clock=lambda: NOW, fuzz=False)
    drill.start()
    drill.press("")
    (bad,) = drill.press("7")
    assert "tick points 1-2 by number" in bad.text
    (checklist,) = drill.press("12")
    assert checklist.shown.ticked == {0, 1}
    (confirmed,) = drill.press("")
    assert confirmed.shown.suggested == Rating.Good


# -- check --strict on chains and points --------------------------------------------------


def test_strict_reports_missing_points_unknown_follow_ups_and_cycles(tmp_path):
    (tmp_path / "loops.yaml").write_text(
        "format_version: 1\ntopic: loops\ntitle: T\ncards:\n"
        "  - id: l1\n    kind: recall\n    question: Q?\n    answer: A.\n    explanation: E.\n"
        "    follow_ups: [l2, ghost]\n    sources: [S]\n"
        "  - id: l2\n    kind: recall\n    question: Q?\n    answer: A.\n    explanation: E.\n"
        "    points: [one, two]\n    follow_ups: [l1]\n    sources: [S]\n",
        encoding="utf-8",
    )
    with pytest.raises(BankError) as caught:
        load_bank([tmp_path], include_builtin=False, strict=True)
    messages = [str(i).split("loops.yaml:", 1)[1] for i in caught.value.issues]
    assert (
        "5:5: l1: a recall card needs points: the 2 to 5 key points a complete answer contains"
        in messages
    )
    assert "5:1: l1: follow-up 'ghost' is no card of the bank" in messages
    assert "5:1: l1: follow-ups form a cycle: l1 -> l2 -> l1" in messages
    with pytest.raises(BankError):  # ids and cycles are checked without --strict too
        load_bank([tmp_path], include_builtin=False)


def test_an_interview_plan_caps_the_interviews_reviews_too(store, bank):
    """With a plan in force, each interview review goes through its deadline cap."""

    class Plan:
        def __init__(self):
            self.capped = []

        def cap(self, row):
            self.capped.append(row.card_id)
            return row._replace(due="2026-03-03T10:00:00.000000+00:00")

    plan = Plan()
    session = interview(store, bank, topics=["alpha"], plan=plan)
    session.start()
    session.press("per channel, gamma")
    session.press("")
    assert plan.capped == ["a1"]
    assert store.card("a1").due == "2026-03-03T10:00:00.000000+00:00"
