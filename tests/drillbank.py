"""The small drill fixture bank, and the CLI run on it alone (--no-builtin)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from quizcnn.cli import app

DRILL_BANK = Path(__file__).parent / "fixtures" / "drillbank"
_runner = CliRunner()


def run_on_drillbank(*args: str, input: str | None = None):
    return _runner.invoke(app, ["--no-builtin", "--bank", str(DRILL_BANK), *args], input=input)
