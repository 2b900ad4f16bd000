"""Fixtures every test file shares."""

from __future__ import annotations

import time
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch) -> Path:
    """Each test has its own data home and no user banks: no test reads or writes the
    developer's real review database, export state or cache."""
    monkeypatch.setenv("QUIZCNN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("QUIZCNN_BANK", raising=False)
    return tmp_path / "home"


@pytest.fixture
def fixed_clock_home(isolated_home, monkeypatch):
    """The CLI's clock stopped at 2026-03-02 10:00 UTC, with local time UTC (the 4 am
    day boundary then falls at 04:00 UTC)."""
    monkeypatch.setenv("QUIZCNN_NOW", "2026-03-02T10:00:00Z")
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield isolated_home
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(scope="session")
def proof_result():
    """``proof_result(name)``: the proof's CPU result, run once per test session
    however many test files read its claims."""
    from quizcnn.proofs import run_proof

    results: dict = {}

    def get(name: str):
        if name not in results:
            results[name] = run_proof(name, device="cpu")
        return results[name]

    return get
