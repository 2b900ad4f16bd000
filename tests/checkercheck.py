"""Run a checker on a piece of code in this process: what the checker tests share.

The drill and `quizcnn solve` run checkers in a limited child process (tested in
test_runner.py); the checkers' own tests call the same ``checkkit.execute`` here,
so dozens of right and wrong solutions cost no process start each.
"""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

from quizcnn import checkkit
from quizcnn.bank import load_bank
from quizcnn.paths import checkers_dir

_counter = itertools.count()
_BANK = None


def bank():
    global _BANK
    if _BANK is None:
        _BANK = load_bank()
    return _BANK


def card(card_id: str):
    return bank().by_id[card_id]


def _module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_code(card_id: str, code: str, tmp_path: Path) -> checkkit.CheckReport:
    """The report of the card's checker on ``code`` (written to a file, as a user's is)."""
    the_card = card(card_id)
    path = tmp_path / f"attempt_{next(_counter)}.py"
    path.write_text(code, encoding="utf-8")
    checker = _module(f"checker_{the_card.checker}", checkers_dir() / f"{the_card.checker}.py")
    return checkkit.execute(
        the_card.id,
        the_card.checker,
        checker,
        path,
        lambda: _module(f"attempt_{path.stem}", path),
    )


def assert_passes(report: checkkit.CheckReport) -> None:
    failure = report.first_failure
    assert report.passed, report.error or f"{failure.name}: got {failure.got}; {failure.hint}"


def assert_fails_first_at(
    report: checkkit.CheckReport, case_name: str, hint_contains: str = ""
) -> None:
    """The report fails, its first failing case is ``case_name`` (and names the mistake)."""
    assert not report.passed
    failure = report.first_failure
    assert failure is not None, report.error
    assert failure.name == case_name, (failure.name, failure.got)
    assert hint_contains.lower() in failure.hint.lower(), failure.hint
