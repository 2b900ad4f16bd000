"""The bibliography: every work the bank cites, once, and citations that point into it.

A card cites ``{ref: KEY, at: LOCATOR}``: a key of ``bibliography.yaml`` and
where in the work (a section, equation, table, figure, page). The entry holds
the authors, year, title and link once, so a card cannot misspell them, and a
book's entry maps its chapters to their pages, so ``§7.8`` of the Deep Learning
book links to chapter 7's page by construction rather than by an author's care.
Plain-text sources stay valid (a user's own bank needs no bibliography); only
``check --strict`` on a bank requires every source to be registered.

This module is pure: it reads YAML node trees handed to it and returns the
problems it finds with their nodes, and the bank checker positions them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from quizcnn.cards import Source

if TYPE_CHECKING:  # the node types; YAML itself is imported only when a file is parsed
    import yaml

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
ARXIV_RE = re.compile(r"^\d{4}\.\d{4,5}$|^[a-z-]+(\.[A-Z]{2})?/\d{7}$")
WORK_KINDS = ("paper", "book", "docs")
WORK_KEYS = {"kind", "authors", "year", "title", "venue", "arxiv", "url", "chapters"}

# One locator part: a section, algorithm, equation, table, figure, page, appendix or chapter.
_PART = (
    r"(§\d+(\.\d+)*"
    r"|Ch\. \d+"
    r"|Alg\. \d+(\.\d+)*"
    r"|Eqs?\. \(?\d+(\.\d+)?\)?([–-]\(?\d+(\.\d+)?\)?)?"
    r"|Tables? \d+(\.\d+)?[a-z]?([–-]\d+(\.\d+)?[a-z]?)?"
    r"|Figs?\. \d+(\.\d+)?[a-z]?([–-]\d+(\.\d+)?[a-z]?)?"
    r"|pp?\. \d+([–-]\d+)?"
    r"|Appendix [A-Z](\.\d+)*"
    r"|Def\. \d+(\.\d+)*"
    r"|Thm\. \d+(\.\d+)*"
    r"|Prop\. \d+(\.\d+)*"
    r"|Lemma \d+(\.\d+)*"
    r"|Abstract"
    r"|Intro)"
)
LOCATOR_PATTERN = rf"^{_PART}(( and |, ){_PART})*$"


def locator_re() -> re.Pattern:
    """The locator grammar, compiled when a bank is checked (not when a cached one loads)."""
    global _LOCATOR_RE
    if _LOCATOR_RE is None:
        _LOCATOR_RE = re.compile(LOCATOR_PATTERN)
    return _LOCATOR_RE


_LOCATOR_RE: re.Pattern | None = None
LOCATOR_FORMS = (
    "§3.2, Ch. 7, Alg. 1, Eq. 4, Table 2, Fig. 3a, p. 12, Appendix A, joined by ', ' or ' and '"
)
_CHAPTER_RE = re.compile(r"^(?:§|Ch\. )(\d+)")


@dataclass(frozen=True)
class Work:
    key: str
    kind: str  # paper, book or docs
    authors: str
    title: str
    year: int | None = None
    venue: str | None = None
    arxiv: str | None = None
    url: str | None = None
    chapters: dict[int, str] = field(default_factory=dict)

    def cite(self, locator: str = "") -> Source:
        """This work cited at ``locator``, as a card's source."""
        text = self.label() + (f", {locator}" if locator else "")
        return Source(text=text, key=self.key, locator=locator, url=self.link(locator))

    def link(self, locator: str = "") -> str | None:
        """Where the cited place can be read: a book's chapter page, else the work's page."""
        if self.kind == "book" and locator:
            match = _CHAPTER_RE.match(locator)
            if match and int(match.group(1)) in self.chapters:
                return self.chapters[int(match.group(1))]
        if self.arxiv:
            return f"https://arxiv.org/abs/{self.arxiv}"
        return self.url

    def label(self) -> str:
        """Authors year, title (venue) - the citation without its locator."""
        year = f" {self.year}" if self.year else ""
        venue = f", {self.venue}" if self.venue else ""
        arxiv = f" (arXiv:{self.arxiv})" if self.arxiv else ""
        return f"{self.authors}{year}, {self.title}{venue}{arxiv}"


def chapter_of(locator: str) -> int | None:
    match = _CHAPTER_RE.match(locator)
    return int(match.group(1)) if match else None


def locator_problem(work: Work, locator: str) -> str | None:
    """Why a locator does not fit its work, or None when it does."""
    if locator and not locator_re().match(locator):
        return f"locator {locator!r} has no expected form (use {LOCATOR_FORMS})"
    if work.kind == "book":
        chapter = chapter_of(locator)
        if chapter is None:
            return f"a citation of the book {work.key!r} must start with its section (§N.M) or chapter (Ch. N)"
        if chapter not in work.chapters:
            return f"the book {work.key!r} lists no chapter {chapter} in its chapters table"
        named = {int(n) for n in re.findall(r"(?:§|Ch\. )(\d+)", locator)}
        others = {n for n in named if work.chapters.get(n) != work.chapters[chapter]}
        if others:
            return (
                f"a citation of the book {work.key!r} links one chapter's page: cite chapter "
                f"{min(others)} in a source of its own"
            )
    return None


Problem = tuple["yaml.Node | None", str, str]  # node, key, message


def parse_works(root: yaml.Node | None, construct) -> tuple[dict[str, Work], list[Problem]]:
    """Every work of a bibliography node tree (a mapping of key -> entry), and the problems."""
    import yaml

    works: dict[str, Work] = {}
    problems: list[Problem] = []
    if not isinstance(root, yaml.MappingNode):
        return works, [(root, "-", "a bibliography must be a mapping of keys to works")]
    for key_node, entry in root.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if key == "format_version":
            continue
        if not isinstance(key, str) or not KEY_RE.match(key):
            problems.append((key_node, "-", f"bibliography key {key!r} must be a lowercase slug"))
            continue
        if key in works:
            problems.append((key_node, key, f"bibliography key {key!r} appears twice"))
            continue
        work, found = _parse_work(key, entry, construct)
        problems += found
        if work is not None:
            works[key] = work
    return works, problems


def _parse_work(key: str, node: yaml.Node, construct) -> tuple[Work | None, list[Problem]]:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        return None, [(node, key, "a work must be a mapping with authors, year, title and a link")]
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    nodes: dict[str, yaml.Node] = {}
    for k_node, v_node in node.value:
        k = k_node.value if isinstance(k_node, yaml.ScalarNode) else None
        if k not in WORK_KEYS:
            allowed = ", ".join(sorted(WORK_KEYS))
            problems.append((k_node, key, f"unknown key {k!r} in a work; allowed: {allowed}"))
            continue
        nodes[k] = v_node
        values[k] = _value(k, v_node, construct, key, problems)
    kind = values.get("kind") or "paper"
    if kind not in WORK_KINDS:
        problems.append(
            (nodes["kind"], key, f"kind {kind!r} is not one of {', '.join(WORK_KINDS)}")
        )
        return None, problems
    for required in ("authors", "title"):
        if not values.get(required):
            problems.append((node, key, f"missing required key {required!r}"))
    if kind != "docs" and not values.get("year"):
        problems.append((node, key, "missing required key 'year' (only a docs page may omit it)"))
    arxiv, url, chapters = values.get("arxiv"), values.get("url"), values.get("chapters") or {}
    if arxiv and not ARXIV_RE.match(arxiv):
        problems.append(
            (nodes["arxiv"], key, f"arxiv {arxiv!r} is not an arXiv id like 1502.03167")
        )
    if url and not url.startswith("https://"):
        problems.append((nodes["url"], key, f"url {url!r} must start with https://"))
    if not (arxiv or url or chapters):
        problems.append((node, key, "a work needs an arxiv id, a url or (a book) a chapters table"))
    if kind == "book" and not chapters:
        problems.append((node, key, "a book needs a chapters table: chapter number -> URL"))
    if chapters and kind != "book":
        problems.append((nodes["chapters"], key, "only a book has a chapters table"))
    if any(values.get(k) is None for k in ("authors", "title")) or problems:
        return None, problems
    work = Work(
        key=key,
        kind=kind,
        authors=values["authors"],
        title=values["title"],
        year=values.get("year"),
        venue=values.get("venue"),
        arxiv=arxiv,
        url=url,
        chapters=chapters,
    )
    return work, problems


def _value(k: str, node: yaml.Node, construct, key: str, problems: list[Problem]) -> Any:
    import yaml

    if k == "chapters":
        return _chapters(node, construct, key, problems)
    if not isinstance(node, yaml.ScalarNode):
        problems.append((node, key, f"{k} must be a scalar"))
        return None
    value = construct(node)
    if k == "year":
        if isinstance(value, bool) or not isinstance(value, int) or not 1600 <= value <= 2100:
            problems.append((node, key, f"year must be a four-digit year, not {value!r}"))
            return None
        return value
    if k == "arxiv" and isinstance(value, float):
        value = node.value  # 1502.03167 reads as a float; keep the digits as written
    if not isinstance(value, str) or not value.strip():
        problems.append((node, key, f"{k} must be a non-empty string"))
        return None
    return value.strip()


def _chapters(node: yaml.Node, construct, key: str, problems: list[Problem]) -> dict[int, str]:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        problems.append((node, key, "chapters must be a mapping of chapter numbers to URLs"))
        return {}
    table: dict[int, str] = {}
    for n_node, u_node in node.value:
        number = construct(n_node) if isinstance(n_node, yaml.ScalarNode) else None
        url = construct(u_node) if isinstance(u_node, yaml.ScalarNode) else None
        if isinstance(number, bool) or not isinstance(number, int):
            problems.append((n_node, key, f"chapter {number!r} must be a number"))
        elif not isinstance(url, str) or not url.startswith("https://"):
            problems.append((u_node, key, f"chapter {number}'s URL must start with https://"))
        else:
            table[number] = url
    return table


def cited_keys(sources: Iterator[Source]) -> set[str]:
    return {s.key for s in sources if s.key}
