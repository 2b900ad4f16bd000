"""The question bank: where its topic files live, and loading them into cards.

The model (Card, Topic, Bank, Kind...) lives in ``quizcnn.cards`` and is
re-exported here. ``load_bank`` reads and validates the YAML topic files
through ``quizcnn.bank_check``, imported only then: a drill served from the
bank cache never imports YAML.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from quizcnn.cards import (
    CARD_KEY_ORDER,
    CARD_KEYS,
    FORMAT_VERSION,
    KIND_KEYS,
    KINDS,
    MAX_POINTS,
    MIN_POINTS,
    REQUIRED_CARD_KEYS,
    SLUG_RE,
    TOPIC_KEYS,
    TOPIC_RE,
    Bank,
    BankError,
    BankIssue,
    Card,
    Kind,
    Point,
    Topic,
    UnknownName,
)
from quizcnn.paths import questions_dir, topic_files, user_bank_dirs

__all__ = [
    "CARD_KEYS",
    "CARD_KEY_ORDER",
    "FORMAT_VERSION",
    "KINDS",
    "KIND_KEYS",
    "MAX_POINTS",
    "MIN_POINTS",
    "REQUIRED_CARD_KEYS",
    "SLUG_RE",
    "TOPIC_KEYS",
    "TOPIC_RE",
    "Bank",
    "BankError",
    "BankIssue",
    "Card",
    "Kind",
    "Point",
    "Topic",
    "UnknownName",
    "bank_dirs",
    "load_bank",
    "topic_files",
]


def bank_dirs(extra: Sequence[Path] = (), include_builtin: bool = True) -> list[Path]:
    """The built-in bank, then QUIZCNN_BANK folders, then --bank folders."""
    dirs = [questions_dir()] if include_builtin else []
    for d in [*user_bank_dirs(), *extra]:
        if d not in dirs:
            dirs.append(d)
    return dirs


def load_bank(
    extra: Sequence[Path] = (),
    *,
    include_builtin: bool = True,
    strict: bool = False,
    demos: Path | None = None,
) -> Bank:
    """Read and validate every topic file; raise BankError listing all problems."""
    from quizcnn.bank_check import BankChecker  # YAML is parsed only here
    from quizcnn.proofs import checker_names, proof_names

    checker = BankChecker(proof_names(demos), strict, checker_names())
    directories = [Path(d) for d in bank_dirs(extra, include_builtin)]
    for directory in directories:  # every bank's works first: any bank may cite them
        checker.load_bibliography(directory)
    for directory in directories:
        checker.load_dir(directory)
    checker.check_across_topics()
    if checker.issues:
        raise BankError(sorted(checker.issues, key=lambda i: (str(i.path), i.line, i.column)))
    cards = [c for t in checker.topics for c in t.cards]
    return Bank({t.name: t for t in checker.topics}, cards, checker.warnings)


def load_translations(
    bank: Bank,
    lang: str,
    extra: Sequence[Path] = (),
    *,
    include_builtin: bool = True,
    strict: bool = False,
) -> tuple[dict, list[BankIssue], list[BankIssue]]:
    """The bank's overlays in ``lang`` (topic name -> Overlay), the errors (unknown cards
    or fields, choice counts; with ``strict`` also stale and missing translations) and
    the warnings (stale and missing translations without ``strict``)."""
    from quizcnn.bank_check import OverlayChecker

    checker = OverlayChecker(bank, lang, strict)
    for directory in bank_dirs(extra, include_builtin):
        checker.load_language(Path(directory))
    for topic in bank.topics.values():
        if topic.name not in checker.overlays:
            checker.path = topic.path
            message = f"topic {topic.name!r} has no {lang} translation ({lang}/{topic.name}.yaml)"
            checker.problem(None, "-", message)
    return checker.overlays, checker.issues, checker.warnings


def localized(bank: Bank, overlays: dict, lang: str) -> Bank:
    """The bank as a reader of ``lang`` sees it: translated titles, cards and aliases
    (a missing or stale translation falls back to the English card, marked)."""

    from quizcnn.i18n import localize

    topics: dict[str, Topic] = {}
    for name, topic in bank.topics.items():
        overlay = overlays.get(name)
        translations = overlay.translations if overlay else {}
        cards = tuple(localize(c, translations.get(c.id), lang) for c in topic.cards)
        topics[name] = topic._replace(
            title=(overlay.title if overlay and overlay.title else topic.title),
            aliases=topic.aliases + (overlay.aliases if overlay else ()),
            cards=cards,
        )
    cards = [c for t in topics.values() for c in t.cards]
    return Bank(topics, cards, bank.warnings)
