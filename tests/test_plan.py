"""The interview plan: pacing, deadline caps, the last days' order, the plan ending,
`quizcnn plan` and its bad inputs, the forecast, and the bench learner's recall model
checked against fsrs's own get_card_retrievability. Real SQLite files, a fixed clock."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fsrs import Card as FsrsCard
from fsrs import Rating, Scheduler, State
from fsrs.scheduler import DEFAULT_PARAMETERS
from typer.testing import CliRunner

from quizcnn import plan
from quizcnn.bank import load_bank
from quizcnn.cli import app
from quizcnn.drill import Drill, Options, Phase
from quizcnn.schedule import apply_rating, make_scheduler
from quizcnn.store import CardRow, PlanRow, StudySettings, apply_migration, iso, open_store

UTC = timezone.utc
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # the fixed_clock_home clock, a Monday
BENCH = Path(__file__).resolve().parent.parent / "bench"
TOPICS = {"alpha": 30, "beta": 20, "gamma": 10}  # cards per topic in the plan bank


def write_bank(folder: Path) -> Path:
    """Three topics of recall cards; alpha's even cards are tagged core, the rest extra."""
    folder.mkdir(parents=True, exist_ok=True)
    for topic, count in TOPICS.items():
        lines = [
            "format_version: 1",
            f"topic: {topic}",
            f"title: {topic.title()} (plan fixture)",
            f"aliases: [{topic[:2]}]",
            "cards:",
        ]
        for k in range(count):
            tag = "core" if topic == "alpha" and k % 2 == 0 else "extra"
            lines += [
                f"  - id: {topic[:2]}-{k:02d}",
                "    kind: recall",
                f"    question: {topic} question {k}?",
                "    answer: An answer.",
                "    explanation: An explanation.",
                "    sources: [https://pytorch.org/docs/stable/index.html]",
                f"    tags: [{tag}]",
            ]
        (folder / f"{topic}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def bank_dir(tmp_path) -> Path:
    return write_bank(tmp_path / "bank")


@pytest.fixture
def bank(bank_dir):
    return load_bank([bank_dir], include_builtin=False)


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "quizcnn.db"


@pytest.fixture
def store(db):
    with open_store(db) as s:
        yield s


def run_cli(bank_dir: Path, *args: str):
    return CliRunner().invoke(app, ["--no-builtin", "--bank", str(bank_dir), *args])


def one_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def drill_day(store, bank, now, cards=None, grade=lambda card_id: "3", options=None):
    """One session at ``now`` through every card the drill offers; the ids shown."""
    session = Drill(
        store,
        cards if cards is not None else bank.cards,
        options or Options(),
        clock=lambda: now,
        tz=UTC,
        rng=random.Random(0),
        bank_cards=bank.cards,
    )
    shown: list[str] = []
    session.start()
    while not session.done:
        if session.phase is Phase.ASK:
            shown.append(session.current.card.id)
            session.press("")
        elif session.phase is Phase.REVEALED:
            session.press(grade(session.current.card.id))
        else:  # the queue ran out
            session.press("")
    return shown


def seed_row(store, row: CardRow) -> None:
    """Put a card's state in the store without leaving a review in the log."""
    store.record_review(row.card_id, 3, T0 - timedelta(days=400), 1, lambda _: row)
    store.conn.execute("DELETE FROM review_log WHERE id = (SELECT max(id) FROM review_log)")


def review_row(card_id: str, stability: float, days_ago: float, due_in_days: float) -> CardRow:
    last = T0 - timedelta(days=days_ago)
    return CardRow(
        card_id, State.Review, None, stability, 5.0, iso(T0 + timedelta(days=due_in_days)),
        iso(last), 3, 0,
    )  # fmt: skip


def deadline_of(store, now=T0) -> plan.Deadline:
    found = store.active_plan(plan.study_day(now, 4, UTC).isoformat())
    assert found is not None
    return plan.deadline_for(found, store.settings(), now, UTC)


# -- FSRS's forgetting curve, ours and the bench learner's, against fsrs's own -------------


@pytest.mark.parametrize("parameters", [DEFAULT_PARAMETERS, "learner"])
def test_recall_models_match_fsrs_get_card_retrievability(parameters):
    sys.path.insert(0, str(BENCH))
    try:
        import bench_plan
    finally:
        sys.path.remove(str(BENCH))
    w = bench_plan.LEARNER_PARAMETERS if parameters == "learner" else DEFAULT_PARAMETERS
    assert w != DEFAULT_PARAMETERS or parameters != "learner"
    scheduler = Scheduler(parameters=w, enable_fuzzing=False)
    rng = random.Random(3)
    for k in range(300):
        stability = rng.uniform(0.05, 400)
        last = T0 - timedelta(days=rng.uniform(0, 500), minutes=rng.uniform(0, 1440))
        card = FsrsCard(card_id=k + 1, state=State.Review, stability=stability, difficulty=5.0,
                        due=T0, last_review=last)  # fmt: skip
        expected = scheduler.get_card_retrievability(card, T0)
        days = (T0 - last).days
        assert plan.recall(days, stability, w) == pytest.approx(expected, rel=1e-12)
        assert bench_plan.forgetting_curve(days, stability, w[20]) == pytest.approx(
            expected, rel=1e-12
        )
    # the learner itself, after real reviews, reads its memory the fsrs way
    learner = bench_plan.Learner(seed=1)
    moment = T0
    for _ in range(6):
        learner.answer("c", moment)
        moment += timedelta(days=rng.randint(1, 9), hours=3)
    true_card = learner.cards["c"]
    assert learner.recall_probability("c", moment) == pytest.approx(
        learner.memory.get_card_retrievability(true_card, moment), rel=1e-12
    )


def test_stability_after_recall_is_fsrs_formula():
    scheduler = Scheduler(enable_fuzzing=False)
    for rating in (Rating.Hard, Rating.Good, Rating.Easy):
        for s, d, r in [(0.5, 2.0, 0.97), (12.0, 6.5, 0.85), (180.0, 9.0, 0.6)]:
            ours = plan.stability_after_recall(d, s, r, DEFAULT_PARAMETERS, rating)
            theirs = scheduler._next_stability(
                difficulty=d, stability=s, retrievability=r, rating=rating
            )
            assert ours == pytest.approx(theirs, rel=1e-12)


def test_the_forecasts_cap_windows_are_the_drills():
    rng = random.Random(7)
    cases = [(rng.uniform(0.3, 300), rng.uniform(1, 10), rng.randint(2, 120)) for _ in range(400)]
    low, high = plan.cap_windows(*zip(*cases, strict=True), 0.95, DEFAULT_PARAMETERS)
    for (s, d, gap), lo, hi in zip(cases, low, high, strict=True):
        assert plan.cap_window(s, d, gap, 0.95, DEFAULT_PARAMETERS) == (int(lo), int(hi))
        assert 1 <= plan.pick_day(int(lo), int(hi), rng.random()) <= gap - 1


# -- deadline caps ------------------------------------------------------------------------


def test_a_cap_pulls_the_review_in_so_a_good_review_then_reaches_the_target(store):
    store.set_plan("2026-03-30", [], [], T0)  # 28 days away
    deadline = deadline_of(store)
    scheduler = make_scheduler(fuzz=True)
    before = review_row("al-00", 20.0, 20, 0)  # due now: FSRS sends it ~2 months out
    after = apply_rating(scheduler, before, "al-00", Rating.Good, T0)
    assert iso(deadline.deadline) <= after.due
    assert deadline.recall_on_day(after.stability, T0) < deadline.target
    capped = plan.cap_row(deadline, after)
    due = datetime.fromisoformat(capped.due)
    assert T0 + timedelta(days=1) <= due < deadline.deadline
    # the capped review, passed with Good, leaves the card at the target on the day
    d = (due - T0).days
    w = deadline.parameters
    s_next = plan.stability_after_recall(
        after.difficulty, after.stability, plan.recall(d, after.stability, w), w
    )
    assert plan.recall(deadline.gap(due), s_next, w) >= deadline.target
    # everything but the due is FSRS's
    assert capped._replace(due=after.due) == after
    # a card already safe on the day keeps FSRS's due
    safe = after._replace(stability=5000.0)
    assert plan.cap_row(deadline, safe) == safe


def test_no_review_is_placed_after_the_date_below_the_target(store, bank):
    store.set_plan("2026-03-16", ["alpha"], [], T0)  # 14 days
    # alpha cards scheduled before the plan, due well after the day
    for k in range(10):
        seed_row(store, review_row(f"al-{k:02d}", 15.0 + 3 * k, 10, 40))
    rng = random.Random(11)

    def grade(card_id):  # mostly Good, some Again and Hard, a few Easy
        return rng.choices("1234", weights=(10, 8, 75, 7))[0]

    deadline = deadline_of(store)
    for k in range(14):
        drill_day(store, bank, T0 + timedelta(days=k), grade=grade)
    checked = 0
    for review in store.reviews():
        after, at = review.after, datetime.fromisoformat(review.reviewed_at)
        if review.card_id.startswith("al-") and after.state == State.Review:
            gap = deadline.gap(at)
            if after.due >= iso(deadline.deadline) and gap >= 2:
                r_day = deadline.recall_on_day(after.stability, at)
                assert r_day >= deadline.target, (review.card_id, review.reviewed_at)
            checked += 1
    assert checked > 60
    # the cards scheduled before the plan were pulled in and reviewed before the day
    reviewed = {r.card_id for r in store.reviews() if r.reviewed_at < iso(deadline.deadline)}
    assert {f"al-{k:02d}" for k in range(10)} <= reviewed
    # and on the day, every alpha card's FSRS prediction is at the target or close to it
    on_day = [
        deadline.recall_on_day(r.stability, datetime.fromisoformat(r.last_review))
        for cid, r in store.cards().items()
        if cid.startswith("al-")
    ]
    assert len(on_day) == 30 and sum(on_day) / len(on_day) >= deadline.target


def test_the_preview_under_a_grade_is_the_capped_interval_it_sets(store, bank):
    store.set_plan("2026-03-20", [], [], T0)
    seed_row(store, review_row("al-00", 8.0, 8, 0))
    session = Drill(store, [bank.by_id["al-00"]], clock=lambda: T0, tz=UTC, bank_cards=bank.cards)
    session.start()
    session.press("")
    previews = session.current.previews
    session.press("3")
    stored = store.card("al-00")
    assert datetime.fromisoformat(stored.due) - T0 == previews[Rating.Good]
    assert stored.due < iso(deadline_of(store).deadline)


# -- pacing -------------------------------------------------------------------------------


def test_pacing_introduces_every_card_in_scope_before_the_buffer(store, bank):
    store.set_plan("2026-03-16", ["alpha", "beta"], [], T0)  # 50 cards, 14 days, buffer 3
    deadline = deadline_of(store)
    assert (deadline.days_left, deadline.buffer) == (14, 3)
    for k in range(14):
        drill_day(store, bank, T0 + timedelta(days=k))
    first: dict[str, str] = {}
    for review in store.reviews():
        first.setdefault(review.card_id, review.reviewed_at[:10])
    per_day = [
        sum(1 for day in first.values() if day == (T0 + timedelta(days=k)).date().isoformat())
        for k in range(14)
    ]
    assert sum(per_day[:11]) == 50  # every card in scope seen by the 11th day (03-12)
    assert per_day[11:] == [0, 0, 0]  # the buffer: reviews only
    assert max(per_day) == plan.new_per_day(50, 14, 3) == 5  # within the pace
    seen = {r.card_id for r in store.reviews()}
    assert not any(c.startswith("ga-") for c in seen)  # nothing outside the scope
    report = plan.report(
        store.active_plan("2026-03-02"), bank.cards, store.cards(), store.settings(), T0, UTC
    )
    assert report.cards["new"] == 0


def test_when_the_ceiling_cannot_cover_the_scope_the_plan_says_so(bank_dir, fixed_clock_home):
    result = run_cli(bank_dir, "plan", "2026-03-09", "--ceiling", "4", "--json")  # 7 days
    assert result.exit_code == 0, result.output
    pacing = json.loads(result.output)["plan"]["pacing"]
    # 60 cards over 7 - 2 buffer days need 12 a day; 4 a day, the buffer's days
    # included (cards left over are still introduced there), leaves 60 - 7 x 4 unseen
    assert pacing["new_per_day_needed"] == 12 and pacing["new_per_day"] == 4
    assert pacing["unseen_on_the_day"] == 32
    assert pacing["ceiling_to_fit"] == 12
    assert sum(t["new"] for t in pacing["drop_topics"]) >= 32
    text = run_cli(bank_dir, "plan").output
    assert "leaves 32 card(s) unseen on the day" in " ".join(text.split())
    assert "--ceiling 12" in text
    with open_store(fixed_clock_home / "quizcnn.db") as store:
        shown = drill_day(store, load_bank([bank_dir], include_builtin=False), T0)
        assert len(set(shown)) == 4  # the drill keeps to the ceiling


# -- the last days ------------------------------------------------------------------------


def test_in_the_last_days_the_queue_puts_the_lowest_recall_on_the_day_first(store, bank):
    rows = [
        review_row("al-01", 2.0, 1, -0.1),  # recall now the highest, on the day the lowest
        review_row("al-02", 40.0, 35, -0.1),  # recall now the lowest in scope, on the day highest
        review_row("al-03", 10.0, 8, -0.1),
        review_row("be-01", 10.0, 20, -0.1),  # out of scope, the lowest recall now
    ]
    for row in rows:
        seed_row(store, row)
    cards = [bank.by_id[r.card_id] for r in rows]
    order_now = drill_day(store, bank, T0, cards=cards, options=Options(new=0))
    assert order_now == ["be-01", "al-02", "al-03", "al-01"]  # plain: lowest recall now first

    def fresh_store(path):
        s = open_store(path)
        for row in rows:
            seed_row(s, row)
        return s

    # 13 days into a 15-day plan: the buffer's last days
    with fresh_store(store.path.with_name("last.db")) as last:
        last.set_plan("2026-03-04", ["alpha"], [], T0 - timedelta(days=13))
        assert deadline_of(last).last_days
        order = drill_day(last, bank, T0, cards=cards, options=Options(new=0))
        d = deadline_of(last)
        on_day = {r.card_id: d.recall_on_day(r.stability, datetime.fromisoformat(r.last_review))
                  for r in rows}  # fmt: skip
        assert order == ["al-01", "al-03", "al-02", "be-01"]
        assert on_day["al-01"] < on_day["al-03"] < on_day["al-02"]
    # far from the day, a plan leaves FSRS's order alone
    with fresh_store(store.path.with_name("early.db")) as early:
        early.set_plan("2026-04-01", ["alpha"], [], T0)
        assert not deadline_of(early).last_days
        assert drill_day(early, bank, T0, cards=cards, options=Options(new=0)) == order_now


# -- the plan ends ------------------------------------------------------------------------


def test_the_plan_ends_after_its_day_and_fsrs_schedules_plainly_again(store, bank):
    store.set_plan("2026-03-09", ["alpha"], [], T0)
    seed_row(store, review_row("al-00", 4.0, 4, 0))
    plain_then = apply_rating(make_scheduler(), store.card("al-00"), "al-00", Rating.Good, T0)
    assert plain_then.due >= iso(deadline_of(store).deadline)  # FSRS: after the day
    drill_day(store, bank, T0, cards=[bank.by_id["al-00"]])
    capped = store.card("al-00")
    assert capped.due < iso(deadline_of(store).deadline)  # the plan pulled it in
    assert capped == plain_then._replace(due=capped.due)
    log_during = store.reviews()
    after_day = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    assert store.active_plan("2026-03-09") is not None
    assert store.active_plan("2026-03-10") is None  # ended by itself
    # the same card, due again after the day: its grade is FSRS's own
    seed_row(store, capped._replace(due=iso(after_day - timedelta(hours=1))))
    before = store.card("al-00")
    drill_day(store, bank, after_day, cards=[bank.by_id["al-00"]])
    plain = apply_rating(make_scheduler(), before, "al-00", Rating.Good, after_day)
    assert store.card("al-00") == plain
    # new cards: the plain daily limit (10) again, from any topic
    shown = drill_day(store, bank, after_day)
    assert len({c for c in shown if c != "al-00"}) == 10
    # history is never rewritten
    assert store.reviews()[: len(log_during)] == log_during


def test_plan_shows_that_the_plan_ended(bank_dir, fixed_clock_home, monkeypatch):
    assert run_cli(bank_dir, "plan", "2026-03-04").exit_code == 0
    monkeypatch.setenv("QUIZCNN_NOW", "2026-03-05T10:00:00Z")
    result = run_cli(bank_dir, "plan")
    assert result.exit_code == 0
    assert "your plan for 2026-03-04 ended" in result.output
    data = json.loads(run_cli(bank_dir, "plan", "--json").output)
    assert data == {"action": "none", "plan": None, "ended": {"interview_date": "2026-03-04"}}
    assert "interview plan" not in run_cli(bank_dir, "stats").output


# -- the command --------------------------------------------------------------------------


def test_plan_sets_shows_and_clears(bank_dir, fixed_clock_home):
    result = run_cli(bank_dir, "plan", "2026-03-16", "--topic", "al", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["action"] == "set"
    report = data["plan"]
    assert report["days_left"] == 14 and report["scope"]["topics"] == ["alpha"]
    assert report["cards"] == {"new": 30, "learning": 0, "review": 0, "suspended": 0}
    assert report["pacing"]["new_per_day"] == 3 and report["pacing"]["last_new_day"] == "2026-03-12"
    assert len(report["forecast"]) == 14 and sum(d["new"] for d in report["forecast"]) == 30
    recall = report["recall_on_the_day"]
    assert recall["with_plan"] > recall["without_plan"] and recall["if_you_stopped_now"] == 0
    assert [t["topic"] for t in report["per_topic"]] == ["alpha"]
    text = run_cli(bank_dir, "plan")
    assert text.exit_code == 0
    assert "14 day(s) left" in text.output and "predicted recall on the day" in text.output
    assert "█" in text.output or "▒" in text.output  # the forecast chart
    stats = run_cli(bank_dir, "stats")
    assert "interview plan: 2026-03-16 · 14 day(s) left" in stats.output
    assert json.loads(run_cli(bank_dir, "stats", "--json").output)["plan"]["days_left"] == 14
    cleared = run_cli(bank_dir, "plan", "--clear", "--json")
    assert json.loads(cleared.output) == {
        "action": "cleared",
        "plan": None,
        "cleared": {"interview_date": "2026-03-16"},
    }
    with open_store(fixed_clock_home / "quizcnn.db") as store:
        assert store.active_plan("2026-03-02") is None
        (row,) = store.conn.execute("SELECT cleared_at FROM plan").fetchall()
        assert row[0] is not None  # the row is kept, marked cleared
        # the drill is plain again: today's 10 new cards, not the plan's 3
        shown = drill_day(store, load_bank([bank_dir], include_builtin=False), T0)
        assert len(set(shown)) == 10
    assert "no interview plan" in run_cli(bank_dir, "plan", "--clear").output
    assert "interview plan" not in run_cli(bank_dir, "stats").output


def test_a_scope_filter_confines_the_plan_to_its_topics_and_tags(store, bank, bank_dir):
    store.set_plan("2026-03-16", ["alpha"], ["core"], T0)
    force = plan.in_force(store.active_plan("2026-03-02"), bank.cards, store.settings(), T0, UTC)
    assert force.scope == tuple(f"al-{k:02d}" for k in range(0, 30, 2))
    seed_row(store, review_row("be-00", 8.0, 8, 0))  # out of scope, due now
    seed_row(store, review_row("al-00", 8.0, 8, 0))  # in scope, due now
    shown = drill_day(store, bank, T0)
    new = [c for c in dict.fromkeys(shown) if c not in ("be-00", "al-00")]
    assert new and all(c in force.scope for c in new)  # new cards only from the scope
    assert len(new) == plan.new_per_day(14, 14, 3) == 2
    scheduler = make_scheduler()
    plain = apply_rating(scheduler, review_row("be-00", 8.0, 8, 0), "be-00", Rating.Good, T0)
    assert plain.due >= iso(deadline_of(store).deadline)
    assert store.card("be-00") == plain  # out of scope: FSRS's own due, after the day
    assert store.card("al-00").due < iso(deadline_of(store).deadline)  # in scope: capped
    report = plan.report(
        store.active_plan("2026-03-02"), bank.cards, store.cards(), store.settings(), T0, UTC
    )
    assert [t.topic for t in report.per_topic] == ["alpha"] and report.per_topic[0].cards == 15
    # a session's own --new still draws from the drill's own selection
    beta = [c for c in bank.cards if c.topic == "beta" and c.id != "be-00"]
    shown = drill_day(store, bank, T0, cards=beta, options=Options(new=2))
    assert len(set(shown)) == 2 and all(c.startswith("be-") for c in shown)


BAD_INPUTS = [
    (("2026-03-01",), "2026-03-01 is in the past (today is 2026-03-02)"),
    (("2026-03-02",), "2026-03-02 is today"),
    (("next-monday",), "'next-monday' is not a date: give the interview day as YYYY-MM-DD"),
    (("2026-02-30",), "'2026-02-30' is not a date"),
    (("2027-12-01",), "a plan looks at most 365 days ahead"),
    (("2026-03-20", "--topic", "alpah"), "no topic, alias or card id named 'alpah'"),
    (("2026-03-20", "--tag", "nope"), "no card has the tag 'nope'"),
    (("2026-03-20", "--ceiling", "0"), "--ceiling 0 is out of range: give 1 to 1000"),
    (("2026-03-20", "--ceiling", "1001"), "--ceiling 1001 is out of range"),
    (("2026-03-20", "--ceiling", "ten"), "--ceiling 'ten' is not a whole number"),
    (("--ceiling", "-3"), "--ceiling -3 is out of range"),
    (("--topic", "alpha"), "give the interview DATE too"),
    (("--clear", "2026-03-20"), "--clear ends the plan: give it alone"),
]


def test_each_bad_input_is_one_clear_line_and_changes_nothing(bank_dir, fixed_clock_home):
    assert run_cli(bank_dir, "plan", "2026-03-16", "--topic", "beta").exit_code == 0
    db = fixed_clock_home / "quizcnn.db"

    def snapshot():
        conn = sqlite3.connect(db)
        try:
            return [conn.execute(f"SELECT * FROM {t}").fetchall() for t in ("plan", "settings")]
        finally:
            conn.close()

    before = snapshot()
    for args, message in BAD_INPUTS:
        result = run_cli(bank_dir, "plan", *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in one_line(result), (args, result.output)
        assert "Traceback" not in result.output
        assert snapshot() == before, args


def test_a_first_release_database_takes_a_plan_and_keeps_every_review(bank_dir, fixed_clock_home):
    db = fixed_clock_home / "quizcnn.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN")
    apply_migration(conn, 0)
    apply_migration(conn, 1)  # the first release's schema
    conn.execute("COMMIT")
    after = CardRow("al-00", State.Review, None, 4.0, 5.0, "2026-03-05T10:00:00.000000+00:00",
                    "2026-03-01T10:00:00.000000+00:00", 1, 0)  # fmt: skip
    for k in range(4):
        conn.execute(
            "INSERT INTO review_log (card_id, rating, reviewed_at, duration_ms, before, after, "
            "due, cram) VALUES (?, 3, ?, 900, NULL, ?, ?, 0)",
            (f"al-0{k}", f"2026-03-01T1{k}:00:00.000000+00:00", after.to_json(), after.due),
        )
    conn.execute("INSERT INTO card_state (card_id, state, stability, difficulty, due, "
                 "last_review, reps) VALUES ('al-00', 2, 4.0, 5.0, ?, ?, 1)",
                 (after.due, after.last_review))  # fmt: skip
    conn.close()
    result = run_cli(bank_dir, "plan", "2026-03-16", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["plan"]["cards"]["review"] == 1
    with open_store(db) as store:
        assert [r.card_id for r in store.reviews()] == ["al-00", "al-01", "al-02", "al-03"]
        assert store.active_plan("2026-03-02").interview_date == "2026-03-16"
        assert store.settings().plan_recall_target == 0.95


def test_plan_settings_are_listed_and_validated(bank_dir, fixed_clock_home):
    shown = run_cli(bank_dir, "settings").output
    assert "plan_recall_target" in shown and "plan_new_ceiling" in shown
    assert run_cli(bank_dir, "settings", "plan_recall_target", "0.97").exit_code == 0
    assert run_cli(bank_dir, "settings", "plan_recall_target", "1.2").exit_code == 2
    assert run_cli(bank_dir, "plan", "2026-03-16", "--ceiling", "8").exit_code == 0
    with open_store(fixed_clock_home / "quizcnn.db") as store:
        settings = store.settings()
        assert (settings.plan_recall_target, settings.plan_new_ceiling) == (0.97, 8)


# -- the forecast -------------------------------------------------------------------------


def test_the_forecast_counts_each_policy_and_the_plan_beats_plain_fsrs(bank):
    row = PlanRow(1, "2026-03-16", (), (), iso(T0), None)
    report = plan.report(row, bank.cards, {}, StudySettings(), T0, UTC)
    assert report.days_left == len(report.forecast) == 14
    new = [n for _, _, n in report.forecast]  # 60 cards over the 11 days before the buffer
    assert sum(new[:11]) == 60 and new[11:] == [0, 0, 0] and max(new) == 6
    assert report.unseen_on_the_day == 0 and report.unseen_without_plan == 0
    assert report.recall_with_plan > report.recall_without_plan
    assert report.recall_with_plan >= 0.95 and report.recall_now == 0
    assert len(report.weakest) == 3
    assert set(report.weakest) == {t.topic for t in report.per_topic}
    again = plan.report(row, bank.cards, {}, StudySettings(), T0, UTC)
    assert again.recall_with_plan == report.recall_with_plan  # seeded: the same every run


@pytest.mark.slow
def test_a_drill_under_a_plan_does_not_load_numpy(bank_dir, tmp_path):
    script = f"""
import random, sys
from datetime import datetime, timezone
from quizcnn.bank import load_bank
from quizcnn.drill import Drill
from quizcnn.store import open_store
now = datetime(2026, 3, 2, 10, tzinfo=timezone.utc)
bank = load_bank([{str(bank_dir)!r}], include_builtin=False)
with open_store({str(tmp_path / "n.db")!r}) as store:
    store.set_plan("2026-03-16", ["alpha"], [], now)
    drill = Drill(store, bank.cards, clock=lambda: now, tz=timezone.utc, bank_cards=bank.cards)
    drill.start()
    assert drill._plan is not None
    drill.press("")
    drill.press("3")
print("numpy" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
