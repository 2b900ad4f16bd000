"""The interview plan against plain FSRS, on a synthetic learner: recall on the day.

A learner reviews every day until the interview, through the drill's own code:
the queue (``build_queue`` with the daily limits), FSRS's grades and fuzz
(``apply_rating``), and, for the plan, its pace, deadline caps and last-days
order (``quizcnn.plan.InForce``, exactly what ``Drill`` calls). One session a
day at 09:00 UTC, learning steps included, every card it offers is answered.

- **The learner.** Its true memory is FSRS-6 with parameters that are not the
  scheduler's: the defaults perturbed (``LEARNER_PARAMETERS``: first memories
  25% weaker, stability growing a little slower, a steeper curve, w20 0.2).
  It recalls a card with the probability that curve gives (whole days since the
  last review, as fsrs counts), answers Again when it does not, and otherwise
  Hard/Good/Easy with fixed shares; a first sight is graded Again/Hard/Good/Easy
  with fixed shares (the fsrs-optimizer simulator's defaults). Its memory is
  then updated by fsrs with its own parameters, from the same grade.
- **The policies,** same learner, same seed: plain FSRS at the default 10 new
  cards a day; plain FSRS with a raised new limit (enough to see every card
  before the buffer, at least twice the default); and the plan (its pace within
  the default ceiling, deadline caps, target 0.95).
- **Reported:** the learner's true mean recall on the day over every card in
  scope (never seen: 0), the cards never seen, the total grades until the day
  (the review log's rows, learning steps included), the busiest day.

Scenario A: 14 days, 250 cards: the first whole topics holding 250 cards (268
in the real bank, 250 in the synthetic one, topics of 50); plain FSRS drills
those topics alone, the plan drills the whole bank with its scope set to them.
Scenario B: 60 days, every card of the real bank and of the 500-card synthetic
one.

    python bench/bench_plan.py             # A and B, real and synthetic banks
    python bench/bench_plan.py --seeds 3   # the mean of three learner seeds
    python bench/bench_plan.py --quick     # the synthetic bank alone, no speed test

Then the speed of `quizcnn plan` (the real bank, 60 days ahead, a database 30
days into a plan: forecast included) as a fresh process against the start-up
bench's baseline ``python -c "import typer, rich, yaml, fsrs"``, and the drill's
first card (``Drill.start()``) with and without the plan in force.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from fsrs import Card as FsrsCard
from fsrs import Rating, Scheduler, State
from fsrs.scheduler import DEFAULT_PARAMETERS

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from quizcnn.cards import Card  # noqa: E402
from quizcnn.plan import (  # noqa: E402
    FIRST_GRADES,
    PASS_GRADES,
    InForce,
    buffer_days,
    in_force,
    in_scope,
    new_per_day,
)
from quizcnn.schedule import apply_rating, build_queue, make_scheduler, next_day_start  # noqa: E402
from quizcnn.store import CardRow, PlanRow, QueueRow, StudySettings, iso  # noqa: E402

UTC = timezone.utc
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STEP = timedelta(seconds=20)  # one answer


def perturbed(parameters: Sequence[float]) -> tuple[float, ...]:
    """The learner's truth: FSRS-6's defaults, changed where it matters for a deadline."""
    w = list(parameters)
    for i in range(4):
        w[i] *= 0.75  # first memories weaker than the defaults assume
    w[8] *= 0.92  # stability grows a little slower after a recall
    w[20] = 0.2  # a steeper forgetting curve at short intervals
    return tuple(w)


LEARNER_PARAMETERS = perturbed(DEFAULT_PARAMETERS)


def forgetting_curve(elapsed_days: int, stability: float, decay: float) -> float:
    """FSRS-6: R = (1 + F t / S)^-decay, F = 0.9^(-1/decay) - 1 (t in whole days)."""
    factor = 0.9 ** (-1 / decay) - 1
    return (1 + factor * max(elapsed_days, 0) / stability) ** -decay


class Learner:
    """A memory that follows FSRS-6 with its own parameters."""

    def __init__(self, parameters: Sequence[float] = LEARNER_PARAMETERS, seed: int = 0):
        self.parameters = tuple(parameters)
        self.memory = Scheduler(parameters=self.parameters, enable_fuzzing=False)
        self.cards: dict[str, FsrsCard] = {}
        self.rng = random.Random(seed)

    def recall_probability(self, card_id: str, moment: datetime) -> float:
        card = self.cards.get(card_id)
        if card is None or card.stability is None or card.last_review is None:
            return 0.0
        days = (moment - card.last_review).days
        return forgetting_curve(days, card.stability, self.parameters[20])

    def _pick(self, shares: Sequence[float]) -> int:
        u, total = self.rng.random(), 0.0
        for i, share in enumerate(shares):
            total += share
            if u < total:
                return i
        return len(shares) - 1

    def answer(self, card_id: str, moment: datetime) -> Rating:
        card = self.cards.get(card_id)
        if card is None:
            rating = Rating(1 + self._pick(FIRST_GRADES))
            card = FsrsCard(card_id=len(self.cards) + 1, due=moment)
        elif self.rng.random() < self.recall_probability(card_id, moment):
            rating = Rating(2 + self._pick(PASS_GRADES))
        else:
            rating = Rating.Again
        self.cards[card_id], _ = self.memory.review_card(card, rating, review_datetime=moment)
        return rating


@dataclass
class Outcome:
    recall: float  # the learner's true mean recall on the day over the scope
    predicted: float  # what FSRS's default model predicts for the same cards
    unseen: int
    grades: int
    busiest: int  # the most grades in one day


def simulate(
    policy: str,
    cards: Sequence[Card],
    topics: Sequence[str],
    days: int,
    seed: int,
    new_limit: int = 10,
    stop_after: int | None = None,
    rows: dict[str, CardRow] | None = None,
) -> Outcome:
    """One learner from T0 until the interview ``days`` later under one policy, on the
    cards of ``topics`` (none: every card). Plain FSRS drills those topics alone; the
    plan drills the whole bank, its scope set to them. ``stop_after``: only the first
    days (``rows`` then holds the cards' states)."""
    settings = StudySettings(new_per_day=new_limit)
    learner = Learner(seed=seed)
    scheduler = make_scheduler(None, settings.desired_retention)
    interview = (T0 + timedelta(days=days)).date().isoformat()
    plan = PlanRow(1, interview, tuple(topics), (), iso(T0), None)
    scope = [c.id for c in in_scope(cards, topics, ())]
    ids = [c.id for c in cards] if policy == "plan" else scope
    rows = {} if rows is None else rows
    grades = busiest = 0
    for k in range(days if stop_after is None else stop_after):
        now = T0 + timedelta(days=k)
        day_end = next_day_start(now, settings.rollover_hour, UTC)
        force: InForce | None = None
        if policy == "plan":
            force = in_force(plan, cards, settings, now, UTC)
        new_today = reviews_today = today = 0
        while True:
            queue_rows = [
                QueueRow(r.card_id, r.state, r.due, r.last_review, r.stability, False, r.difficulty)
                for r in rows.values()
            ]
            review_left = settings.reviews_per_day - reviews_today - new_today
            extra = {}
            if force is not None:
                new_left = force.new_allowance(queue_rows, lambda n=new_today: n)
                extra = force.queue_options(queue_rows, day_end)
            else:
                new_left = settings.new_per_day - new_today
            queue = build_queue(
                ids,
                queue_rows,
                now,
                day_end,
                new_allowance=new_left,
                review_allowance=review_left,
                **extra,
            )
            batch = [*queue.learning, *queue.reviews, *queue.new] or queue.learn_ahead
            if not batch:
                break
            for card_id in batch:
                before = rows.get(card_id)
                rating = learner.answer(card_id, now)
                after = apply_rating(scheduler, before, card_id, rating, now)
                if force is not None:
                    after = force.cap(after)
                rows[card_id] = after
                new_today += before is None
                reviews_today += before is not None and before.state == State.Review
                today += 1
                now += STEP
        grades += today
        busiest = max(busiest, today)
    end = next_day_start(T0 + timedelta(days=days), settings.rollover_hour, UTC)
    true = [learner.recall_probability(c, end) for c in scope]
    model = []
    for card_id in scope:
        row = rows.get(card_id)
        if row is None or row.last_review is None:
            model.append(0.0)
        else:
            days_on = (end - datetime.fromisoformat(row.last_review)).days
            model.append(forgetting_curve(days_on, row.stability, DEFAULT_PARAMETERS[20]))
    return Outcome(
        recall=sum(true) / len(true),
        predicted=sum(model) / len(model),
        unseen=sum(1 for c in scope if c not in rows),
        grades=grades,
        busiest=busiest,
    )


def synthetic_bank(n: int) -> list[Card]:
    return [
        Card(
            id=f"syn-{k:04d}",
            topic=f"topic{k // 50:02d}",
            kind="recall",
            question=f"Question {k}?",
            answer="An answer.",
            explanation="An explanation.",
        )
        for k in range(n)
    ]


def real_bank() -> list[Card]:
    from quizcnn.bank import load_bank

    return list(load_bank([], include_builtin=True).cards)


def first_topics(cards: Sequence[Card], at_least: int) -> list[str]:
    """Whole topics in bank order, until they hold at least this many cards."""
    chosen: list[str] = []
    for count, card in enumerate(cards):
        if card.topic not in chosen:
            if count >= at_least:
                break
            chosen.append(card.topic)
    return chosen


def scenario(name: str, cards: Sequence[Card], topics: Sequence[str], days: int, seeds: int):
    scope = in_scope(cards, topics, ())
    buffer = buffer_days(days)
    raised = max(20, new_per_day(len(scope), days, buffer))
    policies = [
        ("FSRS, 10 new/day", "fsrs", 10),
        (f"FSRS, {raised} new/day", "fsrs", raised),
        ("plan", "plan", 10),
    ]
    print(f"\n{name}: {len(scope)} cards in scope, interview in {days} days")
    print(
        f"  {'policy':<20} {'true recall':>11} {'FSRS predicts':>13} {'unseen':>7} "
        f"{'grades':>7} {'x FSRS':>7} {'busiest day':>11} {'seconds':>8}"
    )
    results = {}
    for label, policy, limit in policies:
        started = time.perf_counter()
        runs = [simulate(policy, cards, topics, days, s, limit) for s in range(seeds)]
        took = time.perf_counter() - started
        mean = Outcome(
            *(sum(getattr(r, f) for r in runs) / seeds for f in Outcome.__dataclass_fields__)
        )
        results[label] = mean
        base = results[policies[0][0]].grades
        print(
            f"  {label:<20} {mean.recall:>11.3f} {mean.predicted:>13.3f} {mean.unseen:>7.0f} "
            f"{mean.grades:>7.0f} {mean.grades / base:>7.2f} {mean.busiest:>11.0f} {took:>8.1f}"
        )
    return results


def speed(rounds: int) -> None:
    """`quizcnn plan` on the real bank, 60 days ahead, over a database 30 days into the
    plan (the forecast simulation included), against the start-up bench's baseline
    ``python -c "import typer, rich, yaml, fsrs"``, both fresh processes; then the
    drill's first card (Drill.start) with and without the plan, in one process."""
    import os
    import statistics
    import subprocess
    import tempfile

    from quizcnn.drill import Drill
    from quizcnn.store import open_store

    cards = real_bank()
    rows: dict[str, CardRow] = {}
    simulate("plan", cards, [], 90, 0, stop_after=30, rows=rows)
    now = T0 + timedelta(days=30)
    with tempfile.TemporaryDirectory() as home:
        db = Path(home) / "quizcnn.db"
        with open_store(db) as store:
            for row in rows.values():
                store.record_review(row.card_id, 3, now - timedelta(days=1), 1, lambda _, r=row: r)
            store.set_plan((now + timedelta(days=60)).date().isoformat(), [], [], now)
            started = sum(1 for r in rows.values() if r.state is not None)
            print(f"\nspeed: {len(cards)} cards ({started} seen), interview in 60 days")
            from quizcnn.plan import report

            settings = store.settings()
            report(store.active_plan("2000-01-01"), cards, store.cards(), settings, now, UTC)
            took = []
            for _ in range(rounds):
                t = time.perf_counter()
                report(store.active_plan("2000-01-01"), cards, store.cards(), settings, now, UTC)
                took.append(time.perf_counter() - t)
            print(f"  plan.report in one process (two forecasts): {statistics.median(took):.3f} s")

            def first_card(with_plan: bool) -> float:
                if not with_plan:
                    store.clear_plan(now)
                times = []
                for _ in range(rounds):
                    t = time.perf_counter()
                    Drill(store, cards, clock=lambda: now, tz=UTC, bank_cards=cards).start()
                    times.append(time.perf_counter() - t)
                return statistics.median(times)

            planned = first_card(True)
            plain = first_card(False)
            print(
                f"  Drill.start(): {1000 * planned:.1f} ms with the plan, {1000 * plain:.1f} ms "
                f"without ({planned / plain:.2f}x)"
            )
            store.set_plan((now + timedelta(days=60)).date().isoformat(), [], [], now)
        env = {**os.environ, "QUIZCNN_HOME": home, "QUIZCNN_NOW": iso(now), "TZ": "UTC"}
        script = Path(sys.executable).with_name("quizcnn")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "quizcnn.cli"]
        subprocess.run([*command, "plan"], env=env, capture_output=True, check=True)  # cache
        baseline_cmd = [sys.executable, "-c", "import typer, rich, yaml, fsrs"]
        plan_times, base_times = [], []
        for _ in range(rounds):
            for target, into in ((command + ["plan"], plan_times), (baseline_cmd, base_times)):
                t = time.perf_counter()
                subprocess.run(target, env=env, capture_output=True, check=True)
                into.append(time.perf_counter() - t)
        plan_s, base_s = statistics.median(plan_times), statistics.median(base_times)
        print(
            f"  `quizcnn plan` (a fresh process, drawn in full): {plan_s:.3f} s; baseline "
            f"{base_s:.3f} s; ratio {plan_s / base_s:.2f}x (median of {rounds})"
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1, help="learner seeds to average")
    parser.add_argument("--quick", action="store_true", help="only the synthetic bank")
    parser.add_argument("-r", "--rounds", type=int, default=7, help="rounds of the speed test")
    args = parser.parse_args(argv)
    print(
        "learner: FSRS-6 defaults perturbed (w0-w3 x0.75, w8 x0.92, w20 0.2); "
        f"{args.seeds} seed(s); target 0.95, ceiling 30, buffer 3 days"
    )
    synthetic = synthetic_bank(500)
    banks = [("synthetic", synthetic)]
    if not args.quick:
        banks.insert(0, ("real bank", real_bank()))
    for bank_name, cards in banks:
        scenario(f"A ({bank_name})", cards, first_topics(cards, 250), 14, args.seeds)
        scenario(f"B ({bank_name})", cards, [], 60, args.seeds)
    print(
        "\nA asks: plan recall >= 0.90 with 0 unseen; B asks: plan recall >= 0.97 with at "
        "most 1.25x the grades of FSRS at 10 new/day"
    )
    if not args.quick:
        speed(args.rounds)


if __name__ == "__main__":
    main()
