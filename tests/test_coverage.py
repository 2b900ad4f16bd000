"""questions/COVERAGE.md: every seed question maps to cards that exist in the bank."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from quizcnn.bank import load_bank

COVERAGE = Path(__file__).resolve().parent.parent / "questions" / "COVERAGE.md"
SEEDS = ("000", "001", "002", "003", "004")
SEED_HEADING = re.compile(r"^## (\d{3})\b")
CARD_ID = re.compile(r"`([a-z0-9][a-z0-9-]*)`")
COLUMNS = 4  # number | seed question | cards that answer it | seed wrong here -> correcting card


@dataclass(frozen=True)
class Row:
    seed: str
    number: str
    question: str
    answers: tuple[str, ...]
    corrections: tuple[str, ...]
    flagged: bool  # the seed is marked wrong on this row


def parse_coverage(text: str) -> dict[str, list[Row]]:
    """Map each seed number to the rows of its table."""
    tables: dict[str, list[Row]] = {}
    seed = None
    for line in text.splitlines():
        heading = SEED_HEADING.match(line)
        if heading:
            seed = heading.group(1)
            tables[seed] = []
        elif line.startswith("#"):
            seed = None  # any other heading ends the table
        elif seed and line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            assert len(cells) == COLUMNS, f"seed {seed}: row does not have {COLUMNS} cells: {line}"
            if cells[0] == "#" or set(cells[0]) <= set("-:"):
                continue  # header and separator lines
            tables[seed].append(
                Row(
                    seed=seed,
                    number=cells[0],
                    question=cells[1],
                    answers=tuple(CARD_ID.findall(cells[2])),
                    corrections=tuple(CARD_ID.findall(cells[3])),
                    flagged="⚠" in cells[3],
                )
            )
    return tables


def unknown_ids(tables: dict[str, list[Row]], bank_ids: set[str]) -> list[str]:
    """Every id named in the tables that the bank does not have, as 'seed #n: id'."""
    return [
        f"{row.seed} #{row.number}: {card_id}"
        for rows in tables.values()
        for row in rows
        for card_id in (*row.answers, *row.corrections)
        if card_id not in bank_ids
    ]


@pytest.fixture(scope="module")
def tables() -> dict[str, list[Row]]:
    return parse_coverage(COVERAGE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def bank_ids() -> set[str]:
    # only the shipped bank: a user's QUIZCNN_BANK folders must not make ids appear
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("QUIZCNN_BANK", raising=False)
        return {card.id for card in load_bank().cards}


def test_every_seed_file_has_a_table_with_rows(tables):
    assert sorted(tables) == list(SEEDS)
    for seed in SEEDS:
        assert tables[seed], f"seed {seed} has an empty table"


def test_every_row_names_a_question_and_at_least_one_card(tables):
    for rows in tables.values():
        for row in rows:
            assert row.question, f"seed {row.seed} #{row.number} has no question"
            assert row.answers, f"seed {row.seed} #{row.number} names no card"


def test_row_numbers_are_unique_per_seed(tables):
    for seed, rows in tables.items():
        numbers = [row.number for row in rows]
        assert len(numbers) == len(set(numbers)), f"seed {seed} repeats a row number"


def test_every_card_id_in_the_table_exists_in_the_bank(tables, bank_ids):
    assert unknown_ids(tables, bank_ids) == []


def test_flagged_rows_name_a_correcting_card_that_also_answers(tables):
    for rows in tables.values():
        for row in rows:
            assert row.flagged == bool(row.corrections), (
                f"seed {row.seed} #{row.number}: a ⚠ needs a correcting card and vice versa"
            )
            assert set(row.corrections) <= set(row.answers), (
                f"seed {row.seed} #{row.number}: list the correcting cards among the answers too"
            )


def test_a_bogus_id_is_reported():
    # the checker itself must see ids: a misspelt one in a valid-looking table is caught
    text = (
        "## 000: x\n\n"
        "| # | q | cards | wrong |\n|---|---|---|---|\n"
        "| 1 | What is BN? | `bn-what-it-computes`, `bn-what-it-compute` | |\n"
    )
    assert unknown_ids(parse_coverage(text), {"bn-what-it-computes"}) == [
        "000 #1: bn-what-it-compute"
    ]
