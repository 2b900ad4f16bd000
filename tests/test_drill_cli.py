"""The review commands through the CLI (CliRunner): drill options, suspend,
unsuspend, reset, optimize, settings, and `check` reporting ids the bank lost."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from drillbank import run_on_drillbank

from quizcnn.schedule import MIN_OPTIMIZER_REVIEWS, apply_rating, make_scheduler
from quizcnn.store import open_store

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def home(fixed_clock_home):
    return fixed_clock_home


run = run_on_drillbank


def lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


def card_row(home: Path, card_id: str):
    with open_store(home / "quizcnn.db") as store:
        return store.card(card_id)


def shown_cards(output: str) -> list[str]:
    return [
        line.split("·")[0].strip("╰─ ")
        for line in output.splitlines()
        if "learning" in line and "╯" in line
    ]


# -- drill options ---------------------------------------------------------------------


def test_drill_topic_and_tag_select_cards(home):
    result = run("drill", "--topic", "dn", "--tag", "layernorm", input="\n3\n")
    assert result.exit_code == 0, result.output
    assert "dx-ln-axes" in result.output and "dx-bn-axes" not in result.output


def test_drill_unknown_topic_and_empty_tag_are_one_line_errors(home):
    result = run("drill", "--topic", "dnrom")
    assert result.exit_code == 2 and len(lines(result.output)) == 1
    assert "no topic, alias or card id named 'dnrom'" in result.output and "dnorm" in result.output
    result = run("drill", "--tag", "no-such-tag")
    assert result.exit_code == 2 and len(lines(result.output)) == 1
    assert "no-such-tag" in result.output


def test_a_bad_quizcnn_now_is_a_clear_line(home, monkeypatch):
    monkeypatch.setenv("QUIZCNN_NOW", "yesterday")
    result = run("drill")
    assert result.exit_code == 2 and "QUIZCNN_NOW is not an ISO time" in result.output


def test_drill_new_limits_the_new_cards(home):
    result = run("drill", "--new", "2", input="\n4\n" * 5)
    assert result.exit_code == 0, result.output
    assert shown_cards(result.output) == ["dx-bn-axes", "dx-bn-params"]
    assert "All done for now." in result.output


# -- suspend / unsuspend --------------------------------------------------------------


def test_suspend_keeps_cards_out_of_drills_until_unsuspended(home):
    result = run("suspend", "dx-bn-axes")
    assert result.exit_code == 0, result.output
    assert "suspended 1 card(s): dx-bn-axes" in result.output
    assert "nothing to do: already suspended" in run("suspend", "dx-bn-axes").output
    drilled = run("drill", "--new", "1", input="\n4\n")
    assert shown_cards(drilled.output) == ["dx-bn-params"]
    result = run("unsuspend", "dx-bn-axes")
    assert "unsuspended 1 card(s): dx-bn-axes" in result.output
    assert card_row(home, "dx-bn-axes").suspended is False
    drilled = run("drill", "--new", "1", input="\n4\n")
    assert shown_cards(drilled.output) == ["dx-bn-axes"]


def test_suspend_a_whole_topic_by_alias_and_unknown_ids_fail(home):
    result = run("suspend", "dn")
    assert "suspended 3 card(s): dx-bn-axes, dx-bn-params, dx-ln-axes" in result.output
    result = run("suspend", "dx-bn-axis")
    assert result.exit_code == 2 and len(lines(result.output)) == 1
    assert "did you mean dx-bn-axes" in result.output


def test_a_card_removed_from_the_bank_can_still_be_unsuspended(home):
    with open_store(home / "quizcnn.db") as store:
        store.set_suspended(["old-card"], True, NOW)
    result = run("unsuspend", "old-card")
    assert result.exit_code == 0, result.output
    assert "unsuspended 1 card(s): old-card" in result.output


# -- reset ---------------------------------------------------------------------------------


def _graded_two(home):
    result = run("drill", "--new", "2", input="\n4\n\n1\n")
    assert result.exit_code == 0, result.output
    assert card_row(home, "dx-bn-axes").state == 2


def test_reset_asks_first_and_no_keeps_everything(home):
    _graded_two(home)
    before = card_row(home, "dx-bn-axes")
    result = run("reset", "dx-bn-axes", input="n\n")
    assert result.exit_code == 1
    assert "Reset 1 card(s) to new? The review history is kept" in result.output
    assert "nothing was reset" in result.output
    assert card_row(home, "dx-bn-axes") == before


def test_reset_yes_makes_the_card_new_and_keeps_the_log(home):
    _graded_two(home)
    result = run("reset", "dx-bn-axes", input="y\n")
    assert result.exit_code == 0, result.output
    assert "reset 1 card(s): dx-bn-axes" in result.output
    assert card_row(home, "dx-bn-axes") is None
    with open_store(home / "quizcnn.db") as store:
        assert store.review_count() == 2
    # a new card again: it comes back as new
    drilled = run("drill", "--new", "1", input="q\n")
    assert "dnorm · recall · new" in drilled.output


def test_reset_all_with_yes_for_scripts(home):
    _graded_two(home)
    result = run("reset", "--all", "--yes")
    assert result.exit_code == 0, result.output
    assert "reset 2 card(s): dx-bn-axes, dx-bn-params" in result.output
    assert "nothing to reset" in run("reset", "--all", "--yes").output
    assert run("reset").exit_code == 2
    assert run("reset", "dx-bn-axes", "--all").exit_code == 2


def test_a_card_only_ever_suspended_is_new_and_nothing_to_reset(home):
    assert run("suspend", "dx-bn-axes").exit_code == 0
    assert run("unsuspend", "dx-bn-axes").exit_code == 0
    for args in (["--all"], ["dx-bn-axes"]):
        result = run("reset", *args)  # no --yes: it must not even ask
        assert result.exit_code == 0, result.output
        assert lines(result.output) == ["nothing to reset: these cards are already new"]


# -- optimize --------------------------------------------------------------------------------


def test_optimize_refuses_a_small_log_with_one_line(home):
    _graded_two(home)
    result = run("optimize")
    assert result.exit_code == 1
    assert len(lines(result.output)) == 1
    assert (
        f"too few reviews to fit FSRS reliably: 0 of the {MIN_OPTIMIZER_REVIEWS}" in result.output
    )
    with open_store(home / "quizcnn.db") as store:
        assert store.settings().parameters is None


def _long_history(home: Path, cards: int = 90, reviews: int = 11) -> None:
    """A plausible log: each card reviewed when due, mostly Good, some Again."""
    scheduler = make_scheduler(fuzz=False)
    start = NOW - timedelta(days=700)
    conn_rows = []
    for k in range(cards):
        row, at = None, start + timedelta(hours=k)
        for n in range(reviews):
            rating = 1 if (k + n) % 7 == 0 else 3
            after = apply_rating(scheduler, row, f"h{k}", rating, at)
            conn_rows.append((f"h{k}", rating, at.isoformat(timespec="microseconds"),
                              row.to_json() if row else None, after.to_json(), after.due))  # fmt: skip
            row = after
            at = datetime.fromisoformat(after.due) + timedelta(hours=6)
    with open_store(home / "quizcnn.db"):
        pass
    conn = sqlite3.connect(home / "quizcnn.db")
    conn.executemany(
        "INSERT INTO review_log (card_id, rating, reviewed_at, duration_ms, before, after, due) "
        "VALUES (?, ?, ?, 1000, ?, ?, ?)",
        conn_rows,
    )
    conn.commit()
    conn.close()


OPTIMIZER_EXTRAS = all(importlib.util.find_spec(n) for n in ("torch", "pandas", "tqdm"))


def test_optimize_without_the_optimizer_extras_says_what_to_install(home, monkeypatch):
    """A user who installed quizcnn without its dependencies' extras (say, by hand)."""
    import quizcnn.schedule as schedule

    monkeypatch.setattr(schedule, "missing_optimizer_packages", lambda: ["pandas", "tqdm"])
    _long_history(home)
    result = run("optimize")
    assert result.exit_code == 1 and len(lines(result.output)) == 1
    assert "pip install 'fsrs[optimizer]'" in result.output and "pandas, tqdm" in result.output
    with open_store(home / "quizcnn.db") as store:
        assert store.settings().parameters is None


@pytest.mark.slow
@pytest.mark.skipif(not OPTIMIZER_EXTRAS, reason="needs fsrs[optimizer]: torch, pandas, tqdm")
def test_optimize_fits_reports_log_loss_and_stores_the_parameters(home):
    _long_history(home)
    result = run("optimize")
    assert result.exit_code == 0, result.output
    assert "log loss" in result.output and "FSRS-6 defaults" in result.output
    assert "fitted now" in result.output
    with open_store(home / "quizcnn.db") as store:
        params = store.settings().parameters
    if "the new fit, saved" in result.output:
        assert params is not None and len(params) == 21
    else:
        assert params is None


# -- settings and check ----------------------------------------------------------------------


def test_settings_show_and_change_with_validation(home):
    result = run("settings")
    assert result.exit_code == 0
    assert "desired_retention" in result.output and "FSRS-6 defaults" in result.output
    assert run("settings", "new_per_day", "2").exit_code == 0
    drilled = run("drill", input="\n4\n" * 4)
    assert shown_cards(drilled.output) == ["dx-bn-axes", "dx-bn-params"]
    bad = run("settings", "desired_retention", "1.5")
    assert bad.exit_code == 2 and "between 0.7 and 0.99" in bad.output
    assert run("settings", "colour", "blue").exit_code == 2


def test_check_reports_ids_the_bank_no_longer_has(home):
    assert not (home / "quizcnn.db").exists()
    result = run("check")
    assert result.exit_code == 0 and "not in the bank" not in result.output
    assert not (home / "quizcnn.db").exists()  # check does not create a database
    with open_store(home / "quizcnn.db") as store:
        store.record_review("retired-card", 3, NOW, 1, lambda _: apply_rating(
            make_scheduler(), None, "retired-card", 3, NOW))  # fmt: skip
    result = run("check")
    assert result.exit_code == 0, result.output
    assert "1 card id(s)" in result.output and "retired-card" in result.output
    assert "history kept, skipped in drills" in result.output


def test_stats_json_is_valid_json_for_an_empty_history(home):
    result = run("stats", "--json")
    assert result.exit_code == 0
    assert json.loads(result.output)["states"]["new"] == 5


def _histories(home: Path):
    from quizcnn.schedule import optimizer_histories

    with open_store(home / "quizcnn.db") as store:
        return optimizer_histories(store.reviews(include_cram=False), store.last_resets())


def test_optimize_stores_a_fit_only_when_it_beats_the_current_parameters(home, monkeypatch):
    """The command's own logic, with fsrs's Optimizer replaced by a fixed answer (the
    real fit needs fsrs[optimizer]; see the test above)."""
    from fsrs.scheduler import DEFAULT_PARAMETERS

    import quizcnn.schedule as schedule

    _long_history(home)
    histories = _histories(home)
    default_loss = schedule.log_loss(histories, DEFAULT_PARAMETERS)
    candidates = []
    for index, factor in [(0, 2.0), (2, 0.5), (8, 1.1), (8, 0.9), (20, 0.7), (20, 1.5)]:
        params = list(DEFAULT_PARAMETERS)
        params[index] *= factor
        candidates.append((schedule.log_loss(histories, params), params))
    better_loss, better = min(candidates)
    worse_loss, worse = max(candidates)
    assert better_loss < default_loss < worse_loss
    monkeypatch.setattr(schedule, "missing_optimizer_packages", lambda: [])

    monkeypatch.setattr(schedule, "fit_parameters", lambda h: worse)
    result = run("optimize")
    assert result.exit_code == 0, result.output
    assert f"{default_loss:.4f}" in result.output and f"{worse_loss:.4f}" in result.output
    assert "kept: the previous parameters" in result.output
    with open_store(home / "quizcnn.db") as store:
        assert store.settings().parameters is None

    monkeypatch.setattr(schedule, "fit_parameters", lambda h: better)
    result = run("optimize")
    assert result.exit_code == 0, result.output
    assert f"{better_loss:.4f}" in result.output and "the new fit, saved" in result.output
    with open_store(home / "quizcnn.db") as store:
        settings = store.settings()
        assert settings.parameters == better
        assert settings.optimized_at == "2026-03-02T10:00:00.000000+00:00"
    # the fitted parameters now schedule the drills
    assert "fitted 2026-03-02" in run("settings").output
