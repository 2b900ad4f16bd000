"""The `quizcnn` console script.

The bare ``quizcnn drill``, the command a user runs every day (and ``make drill``),
starts the drill directly: it has no options to parse, and typer would be a
quarter of its start. Every other command line, ``drill`` with any option
included, goes through typer in ``quizcnn.cli``, so help, errors and options
stay typer's. Both paths call the same ``drill_screen.run_drill`` with the same
defaults (tests/test_entry.py holds them equal).
"""

from __future__ import annotations

import gc
import sys

BARE_DRILL = ["drill"]


def main() -> None:
    """Run the command in sys.argv, then exit at once with its exit code."""
    from quizcnn.cli_context import exit_now, guarded

    exit_now(guarded(lambda: dispatch(sys.argv)))


def dispatch(argv: list[str]) -> None:
    if argv[1:] == BARE_DRILL:
        gc.disable()  # until the first card is up: drill_screen._collect_from_now_on
        from quizcnn.cli_context import GlobalOptions
        from quizcnn.drill_screen import DrillRequest, run_drill

        run_drill(GlobalOptions(), DrillRequest())
        return
    from quizcnn.cli import app_for

    app_for(argv)()
