"""The bibliography: sources cite {ref: KEY, at: LOCATOR}, each work is registered once,
and a book's section links to the page of the chapter its number names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from quizcnn.bank import load_bank
from quizcnn.bibliography import Work, parse_works
from quizcnn.cli import app
from quizcnn.paths import BIBLIOGRAPHY_FILE, questions_dir

runner = CliRunner()
DL_BOOK = "goodfellow2016-dlbook"
# the chapter (or section's chapter) numbers a locator names: "§7.8, §7.11" -> 7, 7
CHAPTER_NUMBERS = re.compile(r"(?:§|Ch\. )(\d+)")

BIBLIOGRAPHY = """\
format_version: 1
good2020-paper:
  authors: Doe & Roe
  year: 2020
  title: A Good Paper
  arxiv: "2001.00001"
good-book:
  kind: book
  authors: Doe
  year: 2021
  title: A Good Book
  chapters:
    1: https://example.org/book/one.html
    2: https://example.org/book/two.html
"""


def topic(*sources: str) -> str:
    """A topic file with one card whose sources are the given YAML items."""
    items = "".join(f"      - {s}\n" for s in sources)
    return (
        "format_version: 1\n"
        "topic: cites\n"
        "title: Citations (test)\n"
        "cards:\n"
        "  - id: cx-one\n"
        "    kind: recall\n"
        "    question: Q?\n"
        "    answer: A.\n"
        "    explanation: E.\n"
        "    points: [one, two]\n"  # what strict requires of a recall card besides sources
        "    proof: bn_vs_ln\n"
        "    sources:\n" + items
    )


def bank(tmp_path: Path, topic_text: str, bibliography: str | None = BIBLIOGRAPHY) -> Path:
    folder = tmp_path / "bank"
    folder.mkdir()
    (folder / "cites.yaml").write_text(topic_text, encoding="utf-8")
    if bibliography is not None:
        (folder / BIBLIOGRAPHY_FILE).write_text(bibliography, encoding="utf-8")
    return folder


def check(folder: Path, *options: str):
    return runner.invoke(app, ["--no-builtin", "--bank", str(folder), "check", *options])


def position(path: Path, needle: str, nth: int = 0) -> tuple[int, int]:
    """1-based line and column of the nth occurrence of needle in the file."""
    text = path.read_text(encoding="utf-8")
    index = -1
    for _ in range(nth + 1):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def problem_lines(result) -> list[str]:
    return [line for line in result.output.splitlines() if ".yaml:" in line]


def shipped_works() -> dict[str, Work]:
    text = (questions_dir() / BIBLIOGRAPHY_FILE).read_text(encoding="utf-8")
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        works, problems = parse_works(root, lambda n: loader.construct_object(n, deep=True))
    finally:
        loader.dispose()
    assert problems == []
    return works


# --- (a), (b): a citation's key and locator are checked, with positions -------------


def test_an_unknown_key_is_a_positioned_error(tmp_path):
    folder = bank(tmp_path, topic("{ref: good2020-paper, at: §3}", "{ref: good2020-papr, at: §3}"))
    result = check(folder)
    assert result.exit_code == 1
    line, col = position(folder / "cites.yaml", "good2020-papr")
    assert problem_lines(result) == [
        f"{folder / 'cites.yaml'}:{line}:{col}: cx-one: unknown bibliography key "
        "'good2020-papr'; did you mean 'good2020-paper'?"
    ]
    assert "Traceback" not in result.output


def test_a_malformed_locator_is_a_positioned_error(tmp_path):
    folder = bank(tmp_path, topic("{ref: good2020-paper, at: section 3}"))
    result = check(folder)
    assert result.exit_code == 1
    line, col = position(folder / "cites.yaml", "section 3")
    [problem] = problem_lines(result)
    assert problem.startswith(
        f"{folder / 'cites.yaml'}:{line}:{col}: cx-one: locator 'section 3' has no expected form"
    )


@pytest.mark.parametrize(
    "locator",
    [
        "§3.2",
        "§3, Alg. 1 and §3.2",
        "Eqs. 3-5",
        "Table 2",
        "Fig. 3a",
        "pp. 3-5",
        "Appendix A",
        "Abstract and §1",
        "§2.2, Eq. 10 and Eq. 14",
    ],
)
def test_the_locator_forms_cards_use_are_accepted(tmp_path, locator):
    quoted = f'"{locator}"' if "," in locator else locator
    result = check(bank(tmp_path, topic(f"{{ref: good2020-paper, at: {quoted}}}")), "--strict")
    assert result.exit_code == 0, result.output


def test_a_book_is_cited_by_a_chapter_it_lists(tmp_path):
    folder = bank(
        tmp_path,
        topic(
            "{ref: good-book, at: §1.2}",
            "{ref: good-book, at: p. 12}",
            "{ref: good-book, at: §9.1}",
        ),
    )
    result = check(folder)
    cites = folder / "cites.yaml"
    assert problem_lines(result) == [
        f"{cites}:{':'.join(map(str, position(cites, 'p. 12')))}: cx-one: a citation of the "
        "book 'good-book' must start with its section (§N.M) or chapter (Ch. N)",
        f"{cites}:{':'.join(map(str, position(cites, '§9.1')))}: cx-one: the book 'good-book' "
        "lists no chapter 9 in its chapters table",
    ]


# --- (c): a book's section links to its chapter's page ----------------------------


def test_a_book_section_links_to_its_chapters_page():
    book = shipped_works()[DL_BOOK]
    assert book.link("§7.8") == "https://www.deeplearningbook.org/contents/regularization.html"
    assert book.link("§7.11") == "https://www.deeplearningbook.org/contents/regularization.html"
    assert book.link("§6.2.2.2") == "https://www.deeplearningbook.org/contents/mlp.html"
    assert book.link("Ch. 9") == "https://www.deeplearningbook.org/contents/convnets.html"


def test_the_cards_that_once_linked_the_wrong_chapter_now_link_the_right_one():
    cards = {c.id: c for c in load_bank().cards}

    def links(card_id: str) -> dict[str, str | None]:
        return {s.locator: s.url for s in cards[card_id].sources if s.key == DL_BOOK}

    contents = "https://www.deeplearningbook.org/contents/"
    assert links("train-diagnose-curves")["§7.8"] == contents + "regularization.html"
    assert links("train-improve-accuracy")["§7.11"] == contents + "regularization.html"
    assert links("train-improve-accuracy")["§11.3"] == contents + "guidelines.html"
    assert links("loss-logistic-regression")["§6.2.2.2"] == contents + "mlp.html"


def test_every_shipped_book_citation_links_to_the_chapter_its_numbers_name():
    works = shipped_works()
    books = {key: work for key, work in works.items() if work.kind == "book"}
    assert DL_BOOK in books
    seen = 0
    for card in load_bank().cards:
        for source in card.sources:
            if source.key not in books:
                continue
            seen += 1
            book = books[source.key]
            numbers = [int(n) for n in CHAPTER_NUMBERS.findall(source.locator)]
            assert numbers, f"{card.id}: {source.text} names no section or chapter"
            # every section the citation names lies in the chapter its link opens
            pages = {book.chapters[n] for n in numbers}
            assert pages == {source.url}, f"{card.id}: {source.locator} -> {source.url}"
            assert source.text.endswith(", " + source.locator)
    assert seen >= 40  # the DL book alone is cited some fifty times


# --- (d): plain-text sources are fine in a user bank, reported by --strict ----------


def test_plain_text_sources_load_without_strict_and_are_reported_with_it(tmp_path):
    # a user's bank needs no bibliography: plain-text sources are valid without --strict
    folder = bank(tmp_path, topic("Doe & Roe 2020, A Good Paper, §3"), bibliography=None)
    loose = check(folder)
    assert loose.exit_code == 0, loose.output
    cards = load_bank([folder], include_builtin=False).cards
    assert [(s.text, s.key, s.url) for s in cards[0].sources] == [
        ("Doe & Roe 2020, A Good Paper, §3", None, None)
    ]
    strict = check(folder, "--strict")
    assert strict.exit_code == 1
    line, col = position(folder / "cites.yaml", "Doe & Roe 2020")
    assert problem_lines(strict) == [
        f"{folder / 'cites.yaml'}:{line}:{col}: cx-one: source is not registered: cite "
        "{ref: KEY, at: LOCATOR} with a key of bibliography.yaml"
    ]


def test_a_citation_renders_the_work_and_its_locator(tmp_path):
    folder = bank(tmp_path, topic("{ref: good2020-paper, at: §3.2}", "{ref: good-book, at: §2.1}"))
    [paper, book] = load_bank([folder], include_builtin=False).cards[0].sources
    assert paper.text == "Doe & Roe 2020, A Good Paper (arXiv:2001.00001), §3.2"
    assert paper.url == "https://arxiv.org/abs/2001.00001"
    assert book.url == "https://example.org/book/two.html"


# --- (e): malformed works are positioned errors ------------------------------------


BROKEN = """\
format_version: 1
good2020-paper:
  authors: Doe & Roe
  year: 2020
  title: A Good Paper
  arxiv: "2001.00001"
untitled2020-paper:
  authors: Doe
  year: 2020
  arxiv: "2001.00002"
badid2020-paper:
  authors: Doe
  year: 2020
  title: Bad arXiv id
  arxiv: "arXiv:2001.00003"
http2020-paper:
  authors: Doe
  year: 2020
  title: Plain http
  url: http://example.org/paper
nochapters-book:
  kind: book
  authors: Doe
  year: 2020
  title: A Book Without Chapters
  url: https://example.org/book
doi2020-paper:
  authors: Doe
  year: 2020
  title: An Unknown Key
  doi: 10.1000/xyz
  url: https://example.org/doi
good2020-paper:
  authors: Someone Else
  year: 2020
  title: The Same Key Again
  url: https://example.org/again
"""


def test_malformed_works_are_positioned_errors(tmp_path):
    folder = bank(tmp_path, topic("{ref: good2020-paper, at: §3}"), bibliography=BROKEN)
    result = check(folder)
    assert result.exit_code == 1
    bib = folder / BIBLIOGRAPHY_FILE

    QUOTED_ARXIV = '"arXiv:'  # a quoted scalar starts at its quote

    def at(needle: str, nth: int = 0) -> str:
        line, col = position(bib, needle, nth)
        return f"{bib}:{line}:{col}"

    assert problem_lines(result) == [
        f"{at('authors: Doe', 1)}: untitled2020-paper: missing required key 'title'",
        f"{at(QUOTED_ARXIV)}: badid2020-paper: arxiv 'arXiv:2001.00003' is not an arXiv id like "
        "1502.03167",
        f"{at('http://')}: http2020-paper: url 'http://example.org/paper' must start with https://",
        f"{at('kind: book')}: nochapters-book: a book needs a chapters table: chapter number -> URL",
        f"{at('doi:')}: doi2020-paper: unknown key 'doi' in a work; allowed: arxiv, authors, "
        "chapters, kind, title, url, venue, year",
        f"{at('good2020-paper:', 1)}: good2020-paper: bibliography key 'good2020-paper' "
        "appears twice",
    ]
    assert "Traceback" not in result.output


def test_a_work_with_problems_is_not_registered(tmp_path):
    folder = bank(tmp_path, topic("{ref: http2020-paper}"), bibliography=BROKEN)
    result = check(folder)
    assert any(
        "cx-one: unknown bibliography key 'http2020-paper'" in line
        for line in problem_lines(result)
    )


# --- (f): the shipped bibliography and the shipped cards match ---------------------


def test_every_shipped_work_is_cited_and_every_shipped_source_is_registered():
    works = shipped_works()
    cards = load_bank().cards
    unregistered = [(c.id, s.text) for c in cards for s in c.sources if s.key is None]
    assert unregistered == []
    cited = {s.key for c in cards for s in c.sources}
    assert sorted(set(works) - cited) == []
    assert cited <= set(works)


def test_one_book_citation_cannot_span_chapters_with_different_pages(tmp_path):
    """A citation links one page, so §1.2 and §2.1 of a book with a page per chapter are
    two sources; a book that is one document may name several chapters at once."""
    folder = bank(tmp_path, topic("{ref: good-book, at: §1.2 and §2.1}"))
    result = check(folder)
    assert result.exit_code == 1
    line, col = position(folder / "cites.yaml", "§1.2 and §2.1")
    assert problem_lines(result) == [
        f"{folder / 'cites.yaml'}:{line}:{col}: cx-one: a citation of the book 'good-book' links "
        "one chapter's page: cite chapter 2 in a source of its own"
    ]
    (tmp_path / "split").mkdir()
    split = bank(
        tmp_path / "split", topic("{ref: good-book, at: §1.2}", "{ref: good-book, at: §2.1}")
    )
    assert check(split).exit_code == 0
