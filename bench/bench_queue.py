"""Building today's drill queue with 10,000 cards and 1,000,000 review rows.

A synthetic database: 10,000 bank cards (2,000 never seen, 1,000 learning or
relearning, 7,000 in review with due dates spread over +-60 days) and a review log
of 1,000,000 rows over the past two years, 150 of them today. Timed, median of
several rounds, each on a fresh connection:

- the queue: the cards' states + today's counts for the limits + ordering
  (learning, reviews by retrievability, new in bank order) - what the drill does
  before every card;
- ``Drill.start()``: the same plus settings and the first card with the interval
  each grade would set;
- as a baseline in the same run: ``SELECT * FROM card_state`` fetched raw.

    python bench/bench_queue.py                  # 10,000 cards, 1,000,000 reviews
    python bench/bench_queue.py -c 2000 -n 200000
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from quizcnn.bank import Card
from quizcnn.drill import Drill, Options
from quizcnn.schedule import build_queue, day_start, next_day_start
from quizcnn.store import CardRow, Store, iso, open_store

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=timezone.utc)


def synthetic_cards(n: int) -> list[Card]:
    return [
        Card(
            id=f"card-{k:05d}",
            topic=f"topic{k // 500:02d}",
            kind="recall",
            question=f"Question {k}?",
            answer="An answer.",
            explanation="An explanation.",
        )
        for k in range(n)
    ]


def fill(store: Store, cards: list[Card], n_reviews: int, rng: random.Random) -> None:
    """Card states and a long review log, written in one transaction."""
    rows = []
    for k, card in enumerate(cards):
        if k % 5 == 0:
            continue  # new: no row
        if k % 10 == 1:
            state, due = rng.choice([1, 3]), NOW + timedelta(minutes=rng.uniform(-30, 30))
            last = due - timedelta(minutes=10)
        else:
            state, due = 2, NOW + timedelta(days=rng.uniform(-60, 60))
            last = due - timedelta(days=rng.uniform(1, 90))
        rows.append(
            CardRow(
                card.id,
                state,
                0 if state != 2 else None,
                rng.uniform(0.5, 200),
                rng.uniform(1, 10),
                iso(due),
                iso(last),
                rng.randint(1, 40),
                rng.randint(0, 5),
            )
        )
    ids = [c.id for c in cards]
    start = NOW - timedelta(days=730)
    conn = store.conn
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO card_state (card_id, state, step, stability, difficulty, due, last_review, "
        "reps, lapses, suspended, leech) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(*r[:9], 0, 0) for r in rows],
    )
    after = rows[0].to_json()
    before = rows[1].to_json()
    today = n_reviews - 150  # the last 150 rows fall today
    span = (NOW - start).total_seconds()
    conn.executemany(
        "INSERT INTO review_log (card_id, rating, reviewed_at, duration_ms, before, after, due, "
        "cram) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
        (
            (
                ids[rng.randrange(len(ids))],
                rng.choice((1, 3, 3, 3, 4)),
                iso(
                    NOW - timedelta(minutes=rng.uniform(1, 600))
                    if i >= today
                    else start + timedelta(seconds=span * i / n_reviews)
                ),
                rng.randint(2000, 20000),
                before,
                after,
                iso(NOW),
            )
            for i in range(n_reviews)
        ),
    )
    conn.execute("COMMIT")


def time_it(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--cards", type=int, default=10_000)
    parser.add_argument("-n", "--reviews", type=int, default=1_000_000)
    parser.add_argument("-r", "--rounds", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(7)
    cards = synthetic_cards(args.cards)
    ids = [c.id for c in cards]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "quizcnn.db"
        t = time.perf_counter()
        with open_store(path) as store:
            fill(store, cards, args.reviews, rng)
        print(
            f"built {args.cards:,} cards and {args.reviews:,} reviews in {time.perf_counter() - t:.1f} s"
        )

        def baseline() -> None:
            with Store(path) as s:
                s.conn.execute("SELECT * FROM card_state").fetchall()

        def queue() -> None:
            with Store(path) as s:
                settings = s.settings()
                today = s.today_counts(day_start(NOW, settings.rollover_hour))
                q = build_queue(
                    ids,
                    s.queue_rows(),
                    NOW,
                    next_day_start(NOW, settings.rollover_hour),
                    new_allowance=settings.new_per_day - today.new,
                    review_allowance=settings.reviews_per_day - today.reviews - today.new,
                    parameters=settings.parameters,
                )
                assert q.ids, "the synthetic day has due cards"

        def drill_start() -> None:
            with Store(path) as s:
                Drill(s, cards, Options(), clock=lambda: NOW).start()

        base = time_it(baseline, args.rounds)
        q = time_it(queue, args.rounds)
        d = time_it(drill_start, args.rounds)
    print(f"baseline: open + SELECT * FROM card_state   {1000 * base:7.1f} ms")
    print(
        f"queue (states, today's counts, order)       {1000 * q:7.1f} ms  = {q / base:.2f}x baseline, {q / 0.1:.2f}x the 100 ms target"
    )
    print(
        f"Drill.start() (queue + first card + grades) {1000 * d:7.1f} ms  = {d / base:.2f}x baseline, {d / 0.1:.2f}x the 100 ms target"
    )


if __name__ == "__main__":
    main()
