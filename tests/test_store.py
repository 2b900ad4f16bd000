"""The review database: schema and migrations, refusing foreign or damaged files,
grades and undo, suspend/reset, settings."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from quizcnn import store as store_module
from quizcnn.store import (
    APPLICATION_ID,
    MIGRATIONS,
    SCHEMA_VERSION,
    CardRow,
    Migration,
    StoreError,
    open_store,
)

FIXTURE_BANK = Path(__file__).parent / "fixtures" / "drillbank"
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)

# Version 1 of the schema exactly as it first shipped (a frozen copy: if someone edits
# migration 1 in store.py instead of appending a new one, the migration test fails).
SCHEMA_V1 = [
    "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
    "applied_at TEXT NOT NULL)",
    "CREATE TABLE card_state (card_id TEXT PRIMARY KEY, state INTEGER, step INTEGER, "
    "stability REAL, difficulty REAL, due TEXT, last_review TEXT, reps INTEGER NOT NULL "
    "DEFAULT 0, lapses INTEGER NOT NULL DEFAULT 0, suspended INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE review_log (id INTEGER PRIMARY KEY, card_id TEXT NOT NULL, rating INTEGER "
    "NOT NULL CHECK (rating BETWEEN 1 AND 4), reviewed_at TEXT NOT NULL, duration_ms INTEGER, "
    "before TEXT, after TEXT NOT NULL, due TEXT)",
    "CREATE INDEX review_log_by_card ON review_log (card_id, id)",
    "CREATE INDEX review_log_by_time ON review_log (reviewed_at)",
]


def all_rows(path: Path) -> dict[str, list]:
    conn = sqlite3.connect(path)
    try:
        return {
            "card_state": conn.execute("SELECT * FROM card_state ORDER BY card_id").fetchall(),
            "review_log": conn.execute("SELECT * FROM review_log ORDER BY id").fetchall(),
        }
    finally:
        conn.close()


def next_row(before: CardRow | None, card_id: str = "a", days: int = 3) -> CardRow:
    row = before or CardRow(card_id)
    due = (T0 + timedelta(days=days)).isoformat(timespec="microseconds")
    return row._replace(
        state=2,
        stability=5.0,
        difficulty=4.0,
        due=due,
        last_review=T0.isoformat(),
        reps=row.reps + 1,
    )


@pytest.fixture
def db(tmp_path):
    return tmp_path / "home" / "quizcnn.db"


# -- schema ---------------------------------------------------------------------------


def test_a_new_database_is_ours_in_wal_mode_at_the_latest_version(db):
    with open_store(db) as store:
        assert store.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
        assert store.applied_migrations() == [(i + 1, m.name) for i, m in enumerate(MIGRATIONS)]
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"review_log_by_card", "review_log_by_time"} <= names


def test_an_old_version_file_is_migrated_and_keeps_its_reviews(db):
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    for statement in SCHEMA_V1:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO schema_migrations VALUES (1, 'create_card_state_and_review_log', '2025-01-01')"
    )
    row = CardRow("old-card", 2, None, 7.5, 5.0, "2026-03-05T10:00:00.000000+00:00",
                  "2026-02-26T10:00:00.000000+00:00", 3, 1, 0)  # fmt: skip
    conn.execute("INSERT INTO card_state VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row[:10])
    conn.execute(
        "INSERT INTO review_log (card_id, rating, reviewed_at, duration_ms, before, after, due) "
        "VALUES ('old-card', 3, '2026-02-26T10:00:00.000000+00:00', 4200, NULL, ?, ?)",
        ('{"state": 2}', row.due),
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()

    with open_store(db) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert [name for _, name in store.applied_migrations()] == [m.name for m in MIGRATIONS]
        kept = store.card("old-card")
        assert kept == row._replace(suspended=False, leech=False)
        (review,) = store.reviews()
        assert (review.card_id, review.rating, review.duration_ms, review.cram) == (
            "old-card",
            3,
            4200,
            False,
        )
        store.save_settings(new_per_day=4)  # a table migration 2 added
        assert store.settings().new_per_day == 4


def test_a_failing_migration_leaves_the_file_at_its_old_version(db, monkeypatch):
    with open_store(db):
        pass
    broken = Migration("add_broken_things", ("CREATE TABLE half_done (x)", "NOT SQL AT ALL"))
    monkeypatch.setattr(store_module, "MIGRATIONS", (*MIGRATIONS, broken))
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", len(MIGRATIONS) + 1)
    with pytest.raises(StoreError):
        open_store(db)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "half_done" not in tables  # the whole migration rolled back, its record too
    assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(MIGRATIONS)


def test_a_file_from_a_newer_quizcnn_is_refused_untouched(db):
    with open_store(db):
        pass
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    with pytest.raises(StoreError, match="newer quizcnn"):
        open_store(db)
    assert db.read_bytes() == before


# -- foreign and damaged files: one clear line, the file untouched ------------------------


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is my diary, not a database\n" * 200)


def _foreign_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO photos (name) VALUES ('cat.jpg')")
    conn.commit()
    conn.close()


def _damaged_quizcnn(path: Path) -> None:
    with open_store(path) as store:
        for k in range(300):  # enough rows to span several pages
            store.record_review(f"card-{k}", 3, T0, 1000, lambda b, k=k: next_row(b, f"card-{k}"))
    data = bytearray(path.read_bytes())
    page = 4096
    data[page : len(data)] = os.urandom(len(data) - page)  # keep the header, wreck the rest
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("make", [_garbage, _foreign_sqlite, _damaged_quizcnn])
def test_a_foreign_or_damaged_file_gets_one_clear_line_and_is_never_touched(tmp_path, make):
    home = tmp_path / "home"
    home.mkdir()
    db = home / "quizcnn.db"
    make(db)
    before = db.read_bytes()
    env = {
        **os.environ,
        "QUIZCNN_HOME": str(home),
        "TZ": "UTC",
        "QUIZCNN_NOW": "2026-03-02T10:00:00Z",
    }
    env.pop("QUIZCNN_BANK", None)
    command = [sys.executable, "-m", "quizcnn.cli", "--no-builtin", "--bank", str(FIXTURE_BANK)]
    result = subprocess.run(
        [*command, "drill"], input="q\n", capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert str(db) in lines[0] and "untouched" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert db.read_bytes() == before
    # nothing written beside it (no -wal, -shm or copy); cache/ holds the parsed bank
    assert sorted(p.name for p in home.iterdir() if p.name != "cache") == ["quizcnn.db"]
    # stats refuses the same way
    result = subprocess.run(
        [*command, "stats"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode != 0 and str(db) in result.stderr
    assert db.read_bytes() == before


def test_a_directory_where_the_database_should_be_is_a_clear_error(db):
    db.mkdir(parents=True)
    with pytest.raises(StoreError, match="not a file"):
        open_store(db)


# -- grades and undo ----------------------------------------------------------------------


def test_a_grade_stores_the_row_and_a_log_entry_with_before_and_after(db):
    with open_store(db) as store:
        first = store.record_review("a", 3, T0, 1234, next_row)
        assert first.before is None and first.after == store.card("a")
        second = store.record_review("a", 1, T0 + timedelta(days=3), 99, next_row)
        assert second.before == first.after
        log = store.reviews()
        assert [(r.card_id, r.rating, r.duration_ms) for r in log] == [("a", 3, 1234), ("a", 1, 99)]
        assert log[0].reviewed_at == "2026-03-02T10:00:00.000000+00:00"
        assert log[1].due == second.after.due


def test_undo_restores_every_row_exactly(db):
    with open_store(db) as store:
        store.record_review("a", 3, T0, 10, next_row)
        store.set_suspended(["b"], True, T0)
    snapshot = all_rows(db)
    with open_store(db) as store:
        review = store.record_review(
            "a", 1, T0 + timedelta(days=3), 20, lambda b: next_row(b, days=9)
        )
        new_card = store.record_review("c", 4, T0, 30, lambda b: next_row(b, "c"))
        assert all_rows(db) != snapshot
        assert store.undo_review(new_card.id) is None  # c was new: its row goes away
        assert store.undo_review(review.id) == review.before
    assert all_rows(db) == snapshot


def test_a_cram_grade_is_logged_but_leaves_the_schedule(db):
    with open_store(db) as store:
        store.record_review("a", 3, T0, 10, next_row)
        row = store.card("a")
        cram = store.record_review("a", 1, T0 + timedelta(hours=1), 10, next_row, cram=True)
        assert store.card("a") == row
        assert cram.cram and cram.before == cram.after == row
        assert [r.cram for r in store.reviews()] == [False, True]
        store.undo_review(cram.id)
        assert store.card("a") == row and store.review_count() == 1


def test_undo_refuses_when_the_card_was_graded_again_since(db):
    with open_store(db) as store:
        first = store.record_review("a", 3, T0, 10, next_row)
        store.record_review("a", 3, T0 + timedelta(days=3), 10, next_row)
        with pytest.raises(StoreError, match="graded again since"):
            store.undo_review(first.id)
        assert store.review_count() == 2


def test_today_counts_new_cards_and_reviews_since_the_day_start(db):
    with open_store(db) as store:
        store.record_review("a", 3, T0 - timedelta(days=2), 10, next_row)  # new, not today
        store.record_review("a", 3, T0, 10, next_row)  # a review today
        store.record_review("b", 3, T0, 10, lambda b: next_row(b, "b"))  # new today
        store.record_review("c", 3, T0, 10, lambda b: next_row(b, "c"), cram=True)  # cram
        counts = store.today_counts(T0 - timedelta(hours=6))
        assert (counts.new, counts.reviews, counts.total) == (1, 1, 2)


# -- control --------------------------------------------------------------------------------


def test_suspend_unsuspend_and_reset_keep_the_history(db):
    with open_store(db) as store:
        store.record_review("a", 3, T0, 10, next_row)
        assert store.set_suspended(["a", "new-one"], True, T0) == ["a", "new-one"]
        assert store.set_suspended(["a"], True, T0) == []  # already suspended
        assert store.card("a").suspended and store.card("new-one").state is None
        assert store.set_suspended(["a"], False, T0) == ["a"]
        assert store.reset(["a", "never-seen"], T0 + timedelta(minutes=5)) == ["a"]
        assert store.card("a") is None  # new again
        assert store.review_count() == 1  # history kept
        assert store.last_resets() == {"a": "2026-03-02T10:05:00.000000+00:00"}


def test_reset_keeps_a_suspension(db):
    with open_store(db) as store:
        store.record_review("a", 3, T0, 10, next_row)
        store.set_suspended(["a"], True, T0)
        store.reset(["a"], T0)
        assert store.card("a") == CardRow("a", suspended=True)


def test_settings_have_anki_like_defaults_and_persist(db):
    with open_store(db) as store:
        s = store.settings()
        assert (s.desired_retention, s.rollover_hour, s.new_per_day, s.reviews_per_day) == (
            0.9,
            4,
            10,
            200,
        )
        assert s.parameters is None
        store.save_settings(desired_retention=0.85, parameters=[0.5] * 21)
    with open_store(db) as store:
        assert store.settings().desired_retention == 0.85
        assert store.settings().parameters == [0.5] * 21


def test_two_connections_write_without_locking_errors(db):
    with open_store(db) as one, open_store(db) as two:
        for k in range(20):
            one.record_review(f"x{k}", 3, T0, 1, lambda b, k=k: next_row(b, f"x{k}"))
            two.record_review(f"y{k}", 3, T0, 1, lambda b, k=k: next_row(b, f"y{k}"))
        assert one.review_count() == two.review_count() == 40
        assert one.integrity() == "ok"


def _open_when_released(path: str, barrier) -> str:
    barrier.wait()
    try:
        with open_store(Path(path)) as store:
            return f"ok {store.schema_version}"
    except Exception as exc:  # reported to the parent, which lists them
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.slow
def test_first_runs_racing_on_a_fresh_file_all_open_it(tmp_path):
    """Processes that create the database at the same moment: each one sees either an
    empty file or a finished quizcnn schema, never a half-made one (seen in CI as 'not a
    quizcnn review database' when the identity was read in three snapshots)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    workers = 6
    for attempt in range(15):
        path = tmp_path / f"race{attempt}.db"
        barrier = context.Manager().Barrier(workers)
        with context.Pool(workers) as pool:
            outcomes = pool.starmap(_open_when_released, [(str(path), barrier)] * workers)
        assert outcomes == [f"ok {store_module.SCHEMA_VERSION}"] * workers, outcomes


def test_a_first_release_database_migrates_to_plan_interview_and_review_detail(db):
    """The first release's schema (migrations 1 and 2) with reviews, settings and a reset:
    opened now, it gains the review detail, plan and interview tables and keeps every row."""
    from quizcnn.store import apply_migration

    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN")
    apply_migration(conn, 0)
    apply_migration(conn, 1)
    conn.execute("COMMIT")
    for k in range(3):
        conn.execute(
            "INSERT INTO review_log (card_id, rating, reviewed_at, duration_ms, before, after, "
            "due, cram) VALUES (?, ?, ?, 1000, NULL, '{\"state\": 1}', ?, ?)",
            (
                f"card-{k}",
                k + 1,
                f"2026-02-2{k}T10:00:00.000000+00:00",
                "2026-03-01T10:00:00.000000+00:00",
                k == 2,
            ),
        )
    conn.execute("INSERT INTO settings VALUES ('new_per_day', '7')")
    conn.execute(
        "INSERT INTO card_events (card_id, event, at) VALUES ('card-0', 'reset', '2026-02-25')"
    )
    conn.close()
    with open_store(db) as store:
        assert store.schema_version == len(MIGRATIONS) >= 5
        reviews = store.reviews()
        assert [(r.card_id, int(r.rating), r.cram, r.detail) for r in reviews] == [
            ("card-0", 1, False, None),
            ("card-1", 2, False, None),
            ("card-2", 3, True, None),
        ]
        assert store.settings().new_per_day == 7
        assert store.last_resets() == {"card-0": "2026-02-25"}
        tables = {
            r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        assert {"plan", "interview_session", "interview_answer"} <= tables
