"""questions/COVERAGE.md: every seed question maps to cards that exist in the bank, and
the tables of "Beyond the seed notes" map each newer area's interview questions to
cards of that topic, naming at least 80% of its cards."""

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


# -- "Beyond the seed notes": one table per newer area, mapping its interview questions to cards

BEYOND_HEADING = "## Beyond the seed notes"
AREA_HEADING = re.compile(r"^### ([a-z0-9_]+): \S")
AREAS = (
    "optimizers",
    "norm_family",
    "detection",
    "segmentation",
    "regularizers",
    "vision_attention",
    "numerics",
    "transfer",
)
CODE_AREA = "code"  # the code cards of every code* topic, in one table
AREA_COLUMNS = 4  # number | question | cards of this topic | related cards elsewhere
MIN_SHARE = 0.8  # of a topic's cards that its table must name


@dataclass(frozen=True)
class AreaRow:
    area: str
    number: str
    question: str
    answers: tuple[str, ...]  # cards of the area's own topic (code cards for the code table)
    related: tuple[str, ...]  # cards of other topics


def parse_beyond(text: str) -> dict[str, list[AreaRow]]:
    """Map each area of the second part to the rows of its table."""
    tables: dict[str, list[AreaRow]] = {}
    inside = False
    area = None
    for line in text.splitlines():
        if line.startswith("## "):
            inside = line.strip() == BEYOND_HEADING
            area = None
            continue
        if not inside:
            continue
        heading = AREA_HEADING.match(line)
        if heading:
            area = heading.group(1)
            assert area not in tables, f"area {area} has two tables"
            tables[area] = []
        elif line.startswith("#"):
            area = None
        elif area and line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            assert len(cells) == AREA_COLUMNS, (
                f"{area}: row does not have {AREA_COLUMNS} cells: {line}"
            )
            if cells[0] == "#" or set(cells[0]) <= set("-:"):
                continue  # header and separator lines
            tables[area].append(
                AreaRow(
                    area=area,
                    number=cells[0],
                    question=cells[1],
                    answers=tuple(CARD_ID.findall(cells[2])),
                    related=tuple(CARD_ID.findall(cells[3])),
                )
            )
    return tables


def misplaced_ids(tables: dict[str, list[AreaRow]], cards: dict[str, object]) -> list[str]:
    """Every id of the area tables that is no card of the bank, or sits in the wrong
    column: an answer of a topic's table must be a card of that topic (of the code
    table, a code card), a related card one of another topic."""
    problems = []
    for area, rows in tables.items():
        for row in rows:
            where = f"{area} #{row.number}"
            for card_id in (*row.answers, *row.related):
                if card_id not in cards:
                    problems.append(f"{where}: {card_id} is no card of the bank")
            for card_id in row.answers:
                card = cards.get(card_id)
                if card is None:
                    continue
                if area == CODE_AREA and str(card.kind) != "implement":
                    problems.append(f"{where}: {card_id} is a {card.kind} card, not a code card")
                elif area != CODE_AREA and card.topic != area:
                    problems.append(f"{where}: {card_id} is a card of {card.topic}, not {area}")
            for card_id in row.related:
                card = cards.get(card_id)
                if card is None:
                    continue
                if area == CODE_AREA and str(card.kind) == "implement":
                    problems.append(f"{where}: {card_id} is a code card: list it among the answers")
                elif area != CODE_AREA and card.topic == area:
                    problems.append(f"{where}: {card_id} is of {area}: list it among the answers")
    return problems


def missing_from_table(rows: list[AreaRow], topic_ids: list[str]) -> list[str]:
    """The topic's card ids that no row of its table names."""
    named = {card_id for row in rows for card_id in (*row.answers, *row.related)}
    return [card_id for card_id in topic_ids if card_id not in named]


@pytest.fixture(scope="module")
def beyond() -> dict[str, list[AreaRow]]:
    return parse_beyond(COVERAGE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def shipped():
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("QUIZCNN_BANK", raising=False)
        return load_bank()


def test_every_new_area_has_a_table_with_rows(beyond):
    for area in AREAS:
        assert area in beyond, f"no table for {area} under {BEYOND_HEADING!r}"
        assert beyond[area], f"the table of {area} is empty"
    assert CODE_AREA in beyond and beyond[CODE_AREA], "no table of code cards"


def test_the_new_areas_are_topics_of_the_bank(shipped):
    assert [a for a in AREAS if a not in shipped.topics] == []


def test_the_seed_tables_are_not_read_as_area_tables(tables, beyond):
    assert not set(tables) & set(beyond)
    assert sorted(tables) == list(SEEDS)  # the second part adds no seed table


def test_every_area_row_names_a_question_and_a_card_of_its_topic(beyond):
    for rows in beyond.values():
        for row in rows:
            assert row.question, f"{row.area} #{row.number} has no question"
            assert row.answers, f"{row.area} #{row.number} names no card of its topic"


def test_area_row_numbers_are_unique(beyond):
    for area, rows in beyond.items():
        numbers = [row.number for row in rows]
        assert len(numbers) == len(set(numbers)), f"{area} repeats a row number"


def test_every_area_id_exists_in_its_column(beyond, shipped):
    assert misplaced_ids(beyond, shipped.by_id) == []


def test_each_area_table_names_most_of_its_topic(beyond, shipped):
    short = {}
    for area in AREAS:
        ids = [card.id for card in shipped.topics[area].cards]
        missing = missing_from_table(beyond[area], ids)
        if len(ids) - len(missing) < MIN_SHARE * len(ids):
            short[area] = f"{len(ids) - len(missing)}/{len(ids)} named; missing {missing}"
    assert short == {}, f"tables naming under {MIN_SHARE:.0%} of their topic: {short}"


def test_area_checks_catch_bogus_misplaced_and_missing_ids():
    text = (
        "## 000: x\n\n| # | q | cards | wrong |\n|---|---|---|---|\n| 1 | q | `a-1` | |\n\n"
        f"{BEYOND_HEADING}\n\n### topic_a: Topic A\n\n"
        "| # | q | cards | related |\n|---|---|---|---|\n"
        "| 1 | What? | `a-1`, `a-typo` | `b-1` |\n"
        "| 2 | Why? | `b-1` | `a-2` |\n"
    )
    assert list(parse_coverage(text)) == ["000"]
    tables = parse_beyond(text)
    assert list(tables) == ["topic_a"]

    @dataclass
    class Fake:
        topic: str
        kind: str = "recall"

    cards = {
        "a-1": Fake("topic_a"),
        "a-2": Fake("topic_a"),
        "a-3": Fake("topic_a"),
        "b-1": Fake("b"),
    }
    assert misplaced_ids(tables, cards) == [
        "topic_a #1: a-typo is no card of the bank",
        "topic_a #2: b-1 is a card of b, not topic_a",
        "topic_a #2: a-2 is of topic_a: list it among the answers",
    ]
    assert missing_from_table(tables["topic_a"], ["a-1", "a-2", "a-3"]) == ["a-3"]
