"""Review state in one SQLite file: card schedules, the review log, settings.

- ``card_state``: one row per card id that was ever reviewed, suspended or reset:
  the fsrs Card fields (UTC ISO times), review and lapse counts, suspended and
  leech flags. A missing row, or ``state`` NULL, is a new card.
- ``review_log``: append-only, one row per grade: card id, rating, UTC time,
  duration in ms, the whole card row before and after (JSON), the due time set,
  and a cram flag. Enough to re-run fsrs's ``Optimizer`` and ``reschedule_card``.
  Undo deletes the last row of a card and restores its ``before`` exactly.
- ``card_events``: suspend, unsuspend and reset, with their time; a reset marks
  where a card's history for the optimizer starts again.
- ``settings``: desired retention, rollover hour, daily limits, fitted parameters.
- ``plan``: one row per interview plan set (date, topics, tags); the open one is
  the latest not cleared, and it is in force until its day has passed.

Every write is one ``BEGIN IMMEDIATE`` transaction (WAL mode, a busy timeout), so
a grade is durable before the next card shows and two drills can share a file.
The schema is versioned with ``PRAGMA user_version`` and grows only by appending
named migrations, each applied in one transaction together with its record.
A file that is not ours, or is damaged, raises StoreError naming it; it is never
written to, overwritten or deleted.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

from fsrs import Rating, State

from quizcnn.paths import database_path

APPLICATION_ID = 0x71636E6E  # "qcnn": marks the file as ours in the SQLite header
BUSY_TIMEOUT_MS = 15_000  # another drill's commit takes milliseconds; wait, do not fail


class StoreError(Exception):
    """The review database cannot be used; the message is one line naming the file."""


class Migration(NamedTuple):
    name: str
    statements: tuple[str, ...]


# Append only: never edit or reorder a migration that has shipped. Version N of a
# file means the first N migrations have been applied.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "create_card_state_and_review_log",
        (
            """CREATE TABLE schema_migrations (
                version INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at TEXT NOT NULL)""",
            """CREATE TABLE card_state (
                card_id TEXT PRIMARY KEY,
                state INTEGER,
                step INTEGER,
                stability REAL,
                difficulty REAL,
                due TEXT,
                last_review TEXT,
                reps INTEGER NOT NULL DEFAULT 0,
                lapses INTEGER NOT NULL DEFAULT 0,
                suspended INTEGER NOT NULL DEFAULT 0)""",
            """CREATE TABLE review_log (
                id INTEGER PRIMARY KEY,
                card_id TEXT NOT NULL,
                rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 4),
                reviewed_at TEXT NOT NULL,
                duration_ms INTEGER,
                before TEXT,
                after TEXT NOT NULL,
                due TEXT)""",
            "CREATE INDEX review_log_by_card ON review_log (card_id, id)",
            "CREATE INDEX review_log_by_time ON review_log (reviewed_at)",
        ),
    ),
    Migration(
        "add_settings_cram_leech_and_card_events",
        (
            "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "ALTER TABLE review_log ADD COLUMN cram INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE card_state ADD COLUMN leech INTEGER NOT NULL DEFAULT 0",
            """CREATE TABLE card_events (
                id INTEGER PRIMARY KEY,
                card_id TEXT NOT NULL,
                event TEXT NOT NULL,
                at TEXT NOT NULL)""",
            "CREATE INDEX card_events_by_card ON card_events (card_id, id)",
        ),
    ),
    Migration(
        "add_review_detail",
        # JSON per review: a code card's runs, the key points covered, the session
        ("ALTER TABLE review_log ADD COLUMN detail TEXT",),
    ),
    Migration(
        "add_interview_plan",
        (
            # one row per plan set; the active plan is the latest not cleared
            """CREATE TABLE plan (
                id INTEGER PRIMARY KEY,
                interview_date TEXT NOT NULL,
                topics TEXT NOT NULL DEFAULT '[]',
                tags TEXT NOT NULL DEFAULT '[]',
                created_at TEXT NOT NULL,
                cleared_at TEXT)""",
        ),
    ),
    Migration(
        "add_mock_interviews",
        (
            """CREATE TABLE interview_session (
                id INTEGER PRIMARY KEY,
                started_at TEXT NOT NULL,
                ended_at TEXT,
                minutes INTEGER NOT NULL,
                practice INTEGER NOT NULL DEFAULT 0,
                topics TEXT NOT NULL DEFAULT '[]')""",
            # one row per answered question, committed before the next question
            """CREATE TABLE interview_answer (
                id INTEGER PRIMARY KEY,
                session_id INTEGER NOT NULL REFERENCES interview_session (id),
                card_id TEXT NOT NULL,
                topic TEXT NOT NULL,
                answered_at TEXT NOT NULL,
                seconds REAL NOT NULL,
                covered TEXT NOT NULL,
                points INTEGER NOT NULL,
                rating INTEGER NOT NULL,
                review_id INTEGER)""",
            "CREATE INDEX interview_answer_by_session ON interview_answer (session_id, id)",
        ),
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


# -- times --------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    """UTC, microseconds, fixed width: such strings sort in time order."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: every time in the store is timezone-aware UTC")
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def parse_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


# -- rows ---------------------------------------------------------------------------


class CardRow(NamedTuple):
    """A card's stored state. ``state`` None means new (never reviewed, or reset)."""

    card_id: str
    state: State | None = None  # fsrs State; None: new
    step: int | None = None
    stability: float | None = None
    difficulty: float | None = None
    due: str | None = None  # ISO UTC
    last_review: str | None = None  # ISO UTC
    reps: int = 0
    lapses: int = 0
    suspended: bool = False
    leech: bool = False

    @property
    def is_new(self) -> bool:
        return self.state is None

    def to_json(self) -> str:
        data = self._asdict()
        del data["card_id"]
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, card_id: str, text: str) -> CardRow:
        data = json.loads(text)
        data["suspended"] = bool(data.get("suspended", False))
        data["leech"] = bool(data.get("leech", False))
        if data.get("state") is not None:
            data["state"] = State(data["state"])
        return cls(card_id=card_id, **data)


ROW_COLUMNS = CardRow._fields
_ROW_SELECT = f"SELECT {', '.join(ROW_COLUMNS)} FROM card_state"


def _row(values: Sequence[Any]) -> CardRow:
    row = CardRow(*values)
    state = None if row.state is None else State(row.state)
    return row._replace(state=state, suspended=bool(row.suspended), leech=bool(row.leech))


class QueueRow(NamedTuple):
    """What the queue needs of a card's state, without the review log."""

    card_id: str
    state: State | None
    due: str | None
    last_review: str | None
    stability: float | None
    suspended: bool
    difficulty: float | None = None  # an interview plan's deadline caps need it


class MinuteCount(NamedTuple):
    minute: str  # UTC 'YYYY-MM-DDTHH:MM'
    reviews: int


class ReviewStateGrade(NamedTuple):
    """A non-cram grade of a card that was in the review state (for true retention)."""

    card_id: str
    rating: Rating
    reviewed_at: str
    due_before: str | None
    last_review_before: str | None


class CardAgain(NamedTuple):
    card_id: str
    grades: int  # non-cram grades
    again: int  # of which Again


class InterviewAnswer(NamedTuple):
    """One question answered in a mock interview."""

    session_id: int
    card_id: str
    topic: str
    answered_at: str  # ISO UTC
    seconds: float  # from the question shown to the answer's Enter
    covered: tuple[int, ...]  # indexes of the key points covered
    points: int  # how many key points the card has
    rating: Rating


class InterviewSession(NamedTuple):
    id: int
    started_at: str
    ended_at: str | None  # None: interrupted before its report (its answers are kept)
    minutes: int
    practice: bool
    topics: tuple[str, ...]
    answers: int
    covered: int  # key points covered over all answers
    points: int  # key points asked over all answers


class AppliedMigration(NamedTuple):
    version: int
    name: str


class PlanRow(NamedTuple):
    """An interview plan as stored: the day (YYYY-MM-DD, a local date) and its scope."""

    id: int
    interview_date: str
    topics: tuple[str, ...]  # topic names; empty: every topic
    tags: tuple[str, ...]  # empty: any tag
    created_at: str  # ISO UTC
    cleared_at: str | None  # ISO UTC; None: not cleared (it still ends after its day)


_PLAN_SELECT = "SELECT id, interview_date, topics, tags, created_at, cleared_at FROM plan"
_LATEST = "ORDER BY id DESC LIMIT 1"


def _plan(values: Sequence[Any]) -> PlanRow:
    plan_id, day, topics, tags, created, cleared = values
    return PlanRow(
        plan_id, day, tuple(json.loads(topics)), tuple(json.loads(tags)), created, cleared
    )


class Review(NamedTuple):
    """One row of the review log."""

    id: int
    card_id: str
    rating: Rating
    reviewed_at: str
    duration_ms: int | None
    before: CardRow | None  # None: the card had no row (new)
    after: CardRow
    due: str | None
    cram: bool
    detail: dict[str, Any] | None = None  # runs of a code card, points covered, ...


class TodayCounts(NamedTuple):
    """Non-cram grades since the study day began, for the daily limits."""

    new: int  # cards first seen today (their before state was new)
    reviews: int  # grades of cards that were in the review state
    total: int


@dataclass
class StudySettings:
    desired_retention: float = 0.9
    rollover_hour: int = 4  # the study day starts at 4 am local time, as in Anki
    new_per_day: int = 10
    reviews_per_day: int = 200
    parameters: list[float] | None = None  # fitted by `quizcnn optimize`; None: FSRS-6 defaults
    optimized_at: str | None = None
    plan_recall_target: float = 0.95  # an interview plan: predicted recall on the day it aims for
    plan_new_ceiling: int = 30  # an interview plan: at most this many new cards a day
    lang: str = "en"  # en, zh, or zh+en (Chinese with the English under it)
    extra: dict[str, Any] = field(default_factory=dict)


# -- opening ------------------------------------------------------------------------


def open_store(path: Path | None = None) -> Store:
    """Open (creating if needed) and migrate the review database."""
    return Store(path or database_path())


def open_existing(path: Path | None = None) -> Store | None:
    """Open the database only if the file exists (for read-only reports such as check)."""
    path = path or database_path()
    return Store(path) if path.exists() else None


class Store:
    def __init__(self, path: Path):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise StoreError(f"{self.path}: the review database path is not a file")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot create its folder: {exc.strerror}") from None
        try:
            self.conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the review database: {exc}") from None
        try:
            self._check_identity()
            self._configure()
            self._migrate()
        except BaseException:
            self.conn.close()
            raise

    # -- identity and schema ---------------------------------------------------------

    def _check_identity(self) -> None:
        """Read-only checks before anything is written to the file."""
        try:
            # one statement, so one snapshot: read apart, a first run creating the
            # schema in between looked like "tables but no application id" (not ours)
            app_id, version, objects = self.conn.execute(
                "SELECT a.application_id, v.user_version, (SELECT count(*) FROM sqlite_master) "
                "FROM pragma_application_id() AS a, pragma_user_version() AS v"
            ).fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(self._damaged(exc)) from None
        fresh = app_id == 0 and version == 0 and objects == 0
        if app_id != APPLICATION_ID and not fresh:
            raise StoreError(
                f"{self.path}: is not a quizcnn review database (another program's SQLite "
                "file); it was left untouched. Move it aside or set QUIZCNN_HOME elsewhere"
            )
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: was written by a newer quizcnn (schema {version}, this one "
                f"knows up to {SCHEMA_VERSION}); upgrade quizcnn. The file was left untouched"
            )

    def _damaged(self, exc: Exception) -> str:
        return (
            f"{self.path}: is not a quizcnn review database or is damaged ({exc}); it was "
            "left untouched. Move it aside to start afresh, or restore it from a backup"
        )

    def _configure(self) -> None:
        try:
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._enable_wal()
            # FULL: a committed grade survives a power cut too, not only a crash
            self.conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.DatabaseError as exc:
            raise StoreError(self._error_text(exc)) from None

    def _enable_wal(self) -> None:
        """Switch to WAL once. Switching needs an exclusive lock that SQLite does not wait
        for, so two first runs at once retry here instead of failing."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                mode = self.conn.execute("PRAGMA journal_mode").fetchone()[0]
                if str(mode).lower() != "wal":
                    mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
                continue
            if str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: cannot switch the database to WAL mode ({mode})")
            return

    def _migrate(self) -> None:
        while True:
            with self._write() as conn:
                # read inside the write lock: another process may have migrated meanwhile
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version >= SCHEMA_VERSION:
                    return
                apply_migration(conn, version)

    @property
    def schema_version(self) -> int:
        return self._read(lambda c: c.execute("PRAGMA user_version").fetchone()[0])

    def applied_migrations(self) -> list[AppliedMigration]:
        rows = self._read(
            lambda c: c.execute(
                "SELECT version, name FROM schema_migrations ORDER BY version"
            ).fetchall()
        )
        return [AppliedMigration(*r) for r in rows]

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ----------------------------------------------------------------

    def _error_text(self, exc: sqlite3.Error) -> str:
        text = str(exc)
        if _is_busy(exc):
            return (
                f"{self.path}: the review database is locked by another program (waited up "
                f"to {BUSY_TIMEOUT_MS // 1000} s); try again"
            )
        if isinstance(exc, sqlite3.OperationalError) and "malformed" not in text:
            return f"{self.path}: {text}"
        return self._damaged(exc)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken up front so it never deadlocks on upgrade."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(self._error_text(exc)) from None
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise StoreError(self._error_text(exc)) from None
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            with suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")

    def _read(self, query: Callable[[sqlite3.Connection], Any]) -> Any:
        try:
            return query(self.conn)
        except sqlite3.Error as exc:
            raise StoreError(self._error_text(exc)) from None

    # -- card states -----------------------------------------------------------------

    def card(self, card_id: str) -> CardRow | None:
        found = self._read(
            lambda c: c.execute(f"{_ROW_SELECT} WHERE card_id = ?", (card_id,)).fetchone()
        )
        return _row(found) if found else None

    def cards(self) -> dict[str, CardRow]:
        """Every stored card row by id (including ids the bank no longer has)."""
        rows = self._read(lambda c: c.execute(_ROW_SELECT).fetchall())
        return {values[0]: _row(values) for values in rows}

    def queue_rows(self) -> list[QueueRow]:
        """Every scheduled or suspended card: all the queue needs, without the review log."""
        rows = self._read(
            lambda c: c.execute(
                "SELECT card_id, state, due, last_review, stability, suspended, difficulty "
                "FROM card_state"
            ).fetchall()
        )
        return [
            QueueRow(i, None if st is None else State(st), due, last, stab, bool(susp), diff)
            for i, st, due, last, stab, susp, diff in rows
        ]

    def card_ids(self) -> set[str]:
        return {
            r[0]
            for r in self._read(lambda c: c.execute("SELECT card_id FROM card_state").fetchall())
        }

    def started_ids(self) -> set[str]:
        """Ids that are no longer new (scheduled, reviewed or a leech): what reset can undo."""
        rows = self._read(
            lambda c: c.execute(
                "SELECT card_id FROM card_state WHERE state IS NOT NULL OR reps > 0 OR leech"
            ).fetchall()
        )
        return {r[0] for r in rows}

    def reviewed_ids(self) -> set[str]:
        """Ids with at least one review in the log."""
        rows = self._read(lambda c: c.execute("SELECT DISTINCT card_id FROM review_log").fetchall())
        return {r[0] for r in rows}

    def _put(self, conn: sqlite3.Connection, row: CardRow) -> None:
        values = row._asdict()
        values["suspended"] = int(row.suspended)
        values["leech"] = int(row.leech)
        conn.execute(
            f"INSERT OR REPLACE INTO card_state ({', '.join(ROW_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(ROW_COLUMNS))})",
            [values[name] for name in ROW_COLUMNS],
        )

    # -- reviews ---------------------------------------------------------------------

    def record_review(
        self,
        card_id: str,
        rating: int,
        reviewed_at: datetime,
        duration_ms: int | None,
        schedule: Callable[[CardRow | None], CardRow],
        cram: bool = False,
        detail: dict[str, Any] | None = None,
    ) -> Review:
        """Grade a card in one transaction: read its current row (another drill may have
        just graded it), let ``schedule`` compute the next row, store it and the log row.
        A cram grade is logged but leaves the card's row as it was."""
        with self._write() as conn:
            return self._review(
                conn, card_id, rating, reviewed_at, duration_ms, schedule, cram, detail
            )

    def _review(self, conn, card_id, rating, reviewed_at, duration_ms, schedule, cram, detail):
        found = conn.execute(f"{_ROW_SELECT} WHERE card_id = ?", (card_id,)).fetchone()
        before = _row(found) if found else None
        after = (before or CardRow(card_id)) if cram else schedule(before)
        if not cram:
            self._put(conn, after)
        cursor = conn.execute(
            "INSERT INTO review_log (card_id, rating, reviewed_at, duration_ms, before, "
            "after, due, cram, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                card_id,
                int(rating),
                iso(reviewed_at),
                duration_ms,
                before.to_json() if before else None,
                after.to_json(),
                after.due,
                int(cram),
                json.dumps(detail, sort_keys=True) if detail else None,
            ),
        )
        return Review(
            cursor.lastrowid,
            card_id,
            Rating(rating),
            iso(reviewed_at),
            duration_ms,
            before,
            after,
            after.due,
            cram,
            detail or None,
        )

    # -- mock interviews -------------------------------------------------------------

    def start_interview(
        self, at: datetime, minutes: int, practice: bool, topics: Sequence[str]
    ) -> int:
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO interview_session (started_at, minutes, practice, topics) "
                "VALUES (?, ?, ?, ?)",
                (iso(at), minutes, int(practice), json.dumps(list(topics))),
            )
            return int(cursor.lastrowid)

    def record_interview_answer(
        self,
        answer: InterviewAnswer,
        schedule: Callable[[CardRow | None], CardRow] | None,
    ) -> Review | None:
        """One answered question in one transaction: the answer and (unless the session is
        practice, ``schedule`` None) the review it counts as, with the points covered."""
        with self._write() as conn:
            review = None
            if schedule is not None:
                detail = {
                    "interview": answer.session_id,
                    "points": answer.points,
                    "covered": list(answer.covered),
                }
                duration = int(answer.seconds * 1000)
                review = self._review(
                    conn,
                    answer.card_id,
                    answer.rating,
                    parse_time(answer.answered_at),
                    duration,
                    schedule,
                    False,
                    detail,
                )
            conn.execute(
                "INSERT INTO interview_answer (session_id, card_id, topic, answered_at, seconds, "
                "covered, points, rating, review_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    answer.session_id,
                    answer.card_id,
                    answer.topic,
                    answer.answered_at,
                    answer.seconds,
                    json.dumps(list(answer.covered)),
                    answer.points,
                    int(answer.rating),
                    review.id if review else None,
                ),
            )
        return review

    def end_interview(self, session_id: int, at: datetime) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE interview_session SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
                (iso(at), session_id),
            )

    def interview_answers(self, session_id: int) -> list[InterviewAnswer]:
        rows = self._read(
            lambda c: c.execute(
                "SELECT session_id, card_id, topic, answered_at, seconds, covered, points, rating "
                "FROM interview_answer WHERE session_id = ? ORDER BY id",
                (session_id,),
            ).fetchall()
        )
        return [
            InterviewAnswer(sid, cid, topic, at, secs, tuple(json.loads(cov)), pts, Rating(r))
            for sid, cid, topic, at, secs, cov, pts, r in rows
        ]

    def interview_sessions(self) -> list[InterviewSession]:
        """Every mock interview, newest first, with its answers' totals."""
        rows = self._read(
            lambda c: c.execute(
                "SELECT s.id, s.started_at, s.ended_at, s.minutes, s.practice, s.topics, "
                "count(a.id), coalesce(sum(json_array_length(a.covered)), 0), "
                "coalesce(sum(a.points), 0) FROM interview_session s "
                "LEFT JOIN interview_answer a ON a.session_id = s.id "
                "GROUP BY s.id ORDER BY s.id DESC"
            ).fetchall()
        )
        return [
            InterviewSession(i, start, end, m, bool(pr), tuple(json.loads(t)), n, cov, pts)
            for i, start, end, m, pr, t, n, cov, pts in rows
        ]

    def undo_review(self, review_id: int) -> CardRow | None:
        """Delete a review and put the card's row back exactly as it was before it.
        Refuses (StoreError) if the card was graded again since, e.g. by another drill."""
        with self._write() as conn:
            found = conn.execute(
                "SELECT card_id, before, cram FROM review_log WHERE id = ?", (review_id,)
            ).fetchone()
            if found is None:
                raise StoreError(
                    f"{self.path}: review {review_id} is not in the log (already undone?)"
                )
            card_id, before_json, cram = found
            latest = conn.execute(
                "SELECT max(id) FROM review_log WHERE card_id = ?", (card_id,)
            ).fetchone()[0]
            if latest != review_id:
                raise StoreError(
                    f"cannot undo: {card_id} was graded again since (in another drill?)"
                )
            conn.execute("DELETE FROM review_log WHERE id = ?", (review_id,))
            before = CardRow.from_json(card_id, before_json) if before_json else None
            if not cram:
                if before is None:
                    conn.execute("DELETE FROM card_state WHERE card_id = ?", (card_id,))
                else:
                    self._put(conn, before)
        return before

    def reviews(self, *, include_cram: bool = True, since: datetime | None = None) -> list[Review]:
        """The log in order (oldest first)."""
        where, args = [], []
        if not include_cram:
            where.append("cram = 0")
        if since is not None:
            where.append("reviewed_at >= ?")
            args.append(iso(since))
        sql = (
            "SELECT id, card_id, rating, reviewed_at, duration_ms, before, after, due, cram, "
            "detail FROM review_log"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY id"
        )
        rows = self._read(lambda c: c.execute(sql, args).fetchall())
        return [
            Review(
                rid,
                cid,
                Rating(rating),
                at,
                ms,
                CardRow.from_json(cid, before) if before else None,
                CardRow.from_json(cid, after),
                due,
                bool(cram),
                json.loads(detail) if detail else None,
            )
            for rid, cid, rating, at, ms, before, after, due, cram, detail in rows
        ]

    def review_count(self) -> int:
        return self._read(lambda c: c.execute("SELECT count(*) FROM review_log").fetchone()[0])

    def today_counts(self, day_start: datetime) -> TodayCounts:
        """Uses the time index: only today's rows are read, however long the log."""
        new, reviews, total = self._read(
            lambda c: c.execute(
                "SELECT coalesce(sum(before IS NULL OR json_extract(before, '$.state') IS NULL), 0), "
                f"coalesce(sum(json_extract(before, '$.state') = {State.Review.value}), 0), "
                "count(*) "
                "FROM review_log WHERE reviewed_at >= ? AND cram = 0",
                (iso(day_start),),
            ).fetchone()
        )
        return TodayCounts(int(new), int(reviews), int(total))

    def reviews_per_day_rows(self, since: datetime) -> list[str]:
        """reviewed_at of every review since a time (stats bin them by local day)."""
        rows = self._read(
            lambda c: c.execute(
                "SELECT reviewed_at FROM review_log WHERE reviewed_at >= ? ORDER BY reviewed_at",
                (iso(since),),
            ).fetchall()
        )
        return [r[0] for r in rows]

    def reviews_per_minute(self) -> list[MinuteCount]:
        """Reviews per UTC minute over the whole log, cram included."""
        rows = self._read(
            lambda c: c.execute(
                "SELECT substr(reviewed_at, 1, 16), count(*) FROM review_log GROUP BY 1"
            ).fetchall()
        )
        return [MinuteCount(*r) for r in rows]

    def review_state_grades(self) -> list[ReviewStateGrade]:
        """Every non-cram grade of a card that was in the review state, oldest first."""
        rows = self._read(
            lambda c: c.execute(
                "SELECT card_id, rating, reviewed_at, json_extract(before, '$.due'), "
                "json_extract(before, '$.last_review') FROM review_log "
                f"WHERE cram = 0 AND json_extract(before, '$.state') = {State.Review.value} "
                "ORDER BY id"
            ).fetchall()
        )
        return [ReviewStateGrade(c, Rating(r), at, due, last) for c, r, at, due, last in rows]

    def again_by_card(self) -> list[CardAgain]:
        """Per card, its non-cram grades and how many of them were Again."""
        rows = self._read(
            lambda c: c.execute(
                f"SELECT card_id, count(*), sum(rating = {Rating.Again.value}) FROM review_log "
                "WHERE cram = 0 GROUP BY card_id"
            ).fetchall()
        )
        return [CardAgain(*r) for r in rows]

    # -- control: suspend, reset -------------------------------------------------------

    def _event(self, conn: sqlite3.Connection, card_id: str, event: str, at: datetime) -> None:
        conn.execute(
            "INSERT INTO card_events (card_id, event, at) VALUES (?, ?, ?)",
            (card_id, event, iso(at)),
        )

    def set_suspended(self, card_ids: Iterable[str], suspended: bool, at: datetime) -> list[str]:
        """Suspend or unsuspend; returns the ids whose flag changed. Unsuspending also
        clears the leech tag's suspension, but the tag stays until the card is reset."""
        changed = []
        with self._write() as conn:
            for card_id in card_ids:
                found = conn.execute(f"{_ROW_SELECT} WHERE card_id = ?", (card_id,)).fetchone()
                row = _row(found) if found else CardRow(card_id)
                if row.suspended == suspended:
                    continue
                self._put(conn, row._replace(suspended=suspended))
                self._event(conn, card_id, "suspend" if suspended else "unsuspend", at)
                changed.append(card_id)
        return changed

    def reset(self, card_ids: Iterable[str], at: datetime) -> list[str]:
        """Make cards new again (schedule, counts and leech tag cleared; a suspension stays).
        The review log is kept; the reset is recorded so the optimizer starts after it."""
        done = []
        with self._write() as conn:
            for card_id in card_ids:
                found = conn.execute(f"{_ROW_SELECT} WHERE card_id = ?", (card_id,)).fetchone()
                if found is None:
                    continue
                row = _row(found)
                if row.state is None and not row.leech and row.reps == 0:
                    continue  # already new: nothing to reset
                if row.suspended:
                    self._put(conn, CardRow(card_id, suspended=True))
                else:
                    conn.execute("DELETE FROM card_state WHERE card_id = ?", (card_id,))
                self._event(conn, card_id, "reset", at)
                done.append(card_id)
        return done

    def last_resets(self) -> dict[str, str]:
        """Per card, the time of its latest reset."""
        rows = self._read(
            lambda c: c.execute(
                "SELECT card_id, max(at) FROM card_events WHERE event = 'reset' GROUP BY card_id"
            ).fetchall()
        )
        return dict(rows)

    # -- settings ----------------------------------------------------------------------

    def settings(self) -> StudySettings:
        rows = dict(self._read(lambda c: c.execute("SELECT key, value FROM settings").fetchall()))
        result = StudySettings()
        for key, text in rows.items():
            value = json.loads(text)
            if hasattr(result, key) and key != "extra":
                setattr(result, key, value)
            else:
                result.extra[key] = value
        return result

    def save_settings(
        self,
        *,
        desired_retention: float | None = None,
        rollover_hour: int | None = None,
        new_per_day: int | None = None,
        reviews_per_day: int | None = None,
        parameters: list[float] | None = None,
        optimized_at: str | None = None,
        plan_recall_target: float | None = None,
        plan_new_ceiling: int | None = None,
        lang: str | None = None,
    ) -> None:
        """Store the settings given (None: leave as stored), in one transaction."""
        values = {
            "desired_retention": desired_retention,
            "rollover_hour": rollover_hour,
            "new_per_day": new_per_day,
            "reviews_per_day": reviews_per_day,
            "parameters": parameters,
            "optimized_at": optimized_at,
            "plan_recall_target": plan_recall_target,
            "plan_new_ceiling": plan_new_ceiling,
            "lang": lang,
        }
        with self._write() as conn:
            self._put_settings(conn, values)

    def _put_settings(self, conn: sqlite3.Connection, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if value is None:
                continue
            conn.execute(
                "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)",
                (key, json.dumps(value)),
            )

    # -- the interview plan --------------------------------------------------------------

    def set_plan(
        self,
        interview_date: str,
        topics: Sequence[str],
        tags: Sequence[str],
        at: datetime,
        plan_new_ceiling: int | None = None,
    ) -> PlanRow:
        """Start a plan (any plan still open is cleared at the same moment), with a new
        daily ceiling if given, in one transaction. ``interview_date`` is YYYY-MM-DD."""
        with self._write() as conn:
            conn.execute("UPDATE plan SET cleared_at = ? WHERE cleared_at IS NULL", (iso(at),))
            cursor = conn.execute(
                "INSERT INTO plan (interview_date, topics, tags, created_at) VALUES (?, ?, ?, ?)",
                (interview_date, json.dumps(list(topics)), json.dumps(list(tags)), iso(at)),
            )
            self._put_settings(conn, {"plan_new_ceiling": plan_new_ceiling})
            plan_id = int(cursor.lastrowid)
        return PlanRow(plan_id, interview_date, tuple(topics), tuple(tags), iso(at), None)

    def clear_plan(self, at: datetime) -> PlanRow | None:
        """End the open plan, if any (its row is kept, marked cleared); the plan ended."""
        with self._write() as conn:
            found = conn.execute(f"{_PLAN_SELECT} WHERE cleared_at IS NULL {_LATEST}").fetchone()
            if found is None:
                return None
            conn.execute("UPDATE plan SET cleared_at = ? WHERE cleared_at IS NULL", (iso(at),))
        return _plan(found)._replace(cleared_at=iso(at))

    def latest_plan(self) -> PlanRow | None:
        """The latest plan not cleared, whether or not its date has passed."""
        found = self._read(
            lambda c: c.execute(f"{_PLAN_SELECT} WHERE cleared_at IS NULL {_LATEST}").fetchone()
        )
        return _plan(found) if found else None

    def active_plan(self, today: str) -> PlanRow | None:
        """The plan in force on the study day ``today`` (YYYY-MM-DD): not cleared, and its
        interview day not yet past. One small indexed read: the drill asks it at start."""
        found = self._read(
            lambda c: c.execute(
                f"{_PLAN_SELECT} WHERE cleared_at IS NULL AND interview_date >= ? {_LATEST}",
                (today,),
            ).fetchone()
        )
        return _plan(found) if found else None

    def new_cards_today(self, day_start: datetime, card_ids: Iterable[str]) -> int:
        """How many of these cards were first seen since the study day began (non-cram)."""
        return self._read(
            lambda c: c.execute(
                "SELECT count(DISTINCT card_id) FROM review_log WHERE reviewed_at >= ? "
                "AND cram = 0 AND (before IS NULL OR json_extract(before, '$.state') IS NULL) "
                "AND card_id IN (SELECT value FROM json_each(?))",
                (iso(day_start), json.dumps(list(card_ids))),
            ).fetchone()[0]
        )

    # -- checks ------------------------------------------------------------------------

    def integrity(self) -> str:
        return self._read(lambda c: c.execute("PRAGMA integrity_check").fetchone()[0])


def _is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc)
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def apply_migration(conn: sqlite3.Connection, version: int) -> None:
    """Apply migration number ``version + 1`` inside the caller's transaction, with its
    record and the new user_version, so it lands whole or not at all."""
    migration = MIGRATIONS[version]
    if version == 0:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    for statement in migration.statements:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
        (version + 1, migration.name, iso(datetime.now(timezone.utc))),
    )
    conn.execute(f"PRAGMA user_version = {version + 1}")
