"""A validated bank, cached so that a daily `quizcnn drill` skips YAML parsing.

Parsing and validating the ~540 built-in cards takes ~100 ms; reading them back
takes a few. The cache is keyed by every input of validation: the topic files'
names, sizes and modification times, the proof and checker folders (their
entries), the validator's own source files, the Python version and the strict
flag. Any change, or an unreadable cache, means a full load (which is also what
`quizcnn check` always does). Only a bank that validated is cached.

The file is ``marshal`` data of plain tuples and strings, behind a CRC-32 of
it: unlike pickle, marshal builds only the interpreter's own types and runs no
code, and it reads 1 MB of cards about three times as fast as JSON. Anything
that is not exactly the shape written here (a damaged, forged or foreign file)
is ignored and rebuilt.
"""

from __future__ import annotations

import marshal
import sys
import zlib
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

from quizcnn import __version__
from quizcnn.atomic import write_atomic
from quizcnn.bank import Bank, BankIssue, Card, Kind, Point, Topic, bank_dirs, load_bank
from quizcnn.cards import Source
from quizcnn.paths import cache_home, checkers_dir, demos_dir

CACHE_FORMAT = 3  # 3: marshal rows; 2: JSON, sources are citations
MAGIC = b"quizcnn-bank\0"
GENERATOR_FILES = tuple(
    f"generators/{p.name}" for p in sorted((Path(__file__).parent / "generators").glob("*.py"))
)
_VALIDATOR_FILES = (
    "bank.py",
    "cards.py",
    "bank_check.py",
    "bibliography.py",
    "bank_cache.py",
    *GENERATOR_FILES,
)
# A card is cached as one row, its fields in Card's order; the language fields are
# left out (a cached bank is the English one, as validated).
ROW_FIELDS = tuple(f.name for f in fields(Card) if f.name not in ("lang", "english"))
_AT = {name: i for i, name in enumerate(ROW_FIELDS)}
_KIND_AT, _PATH_AT = _AT["kind"], _AT["path"]
_SOURCES_AT, _POINTS_AT = _AT["sources"], _AT["points"]
_KINDS = {kind.value: kind for kind in Kind}


def cache_path() -> Path:
    return cache_home() / "bank.cache"


def load_bank_cached(
    extra: Sequence[Path] = (), *, include_builtin: bool = True, strict: bool = False
) -> Bank:
    """load_bank's result, from the cache when no input of validation changed."""
    key = _fingerprint(bank_dirs(extra, include_builtin), strict)
    bank = _read(key)
    if bank is None:
        bank = load_bank(extra, include_builtin=include_builtin, strict=strict)
        _write(key, bank)
    return bank


def _stat_entry(path: Path) -> tuple:
    try:
        st = path.stat()
    except OSError:
        return (str(path), None)
    return (str(path), st.st_mtime_ns, st.st_size)


def _fingerprint(directories: Sequence[Path], strict: bool) -> tuple:
    here = Path(__file__).resolve().parent
    parts: list = [CACHE_FORMAT, __version__, sys.version_info[:2], strict]
    # a folder's mtime changes when a file is added, removed or renamed in it
    parts += [_stat_entry(demos_dir()), _stat_entry(checkers_dir())]
    parts += [_stat_entry(here / name) for name in _VALIDATOR_FILES]
    for directory in directories:
        directory = Path(directory).resolve()
        files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
        parts.append((str(directory), tuple(_stat_entry(f) for f in files)))
    return tuple(parts)  # compared whole (hashing it would cost more than it saves)


def _read(key: tuple) -> Bank | None:
    try:
        data = cache_path().read_bytes()
        if not data.startswith(MAGIC):
            return None
        crc, payload = data[len(MAGIC) : len(MAGIC) + 4], data[len(MAGIC) + 4 :]
        if int.from_bytes(crc, "big") != zlib.crc32(payload):
            return None  # damaged
        stored_key, bank = marshal.loads(payload)
        if stored_key != key:
            return None
        return _bank_from_rows(bank)
    except (OSError, ValueError, EOFError, KeyError, TypeError, IndexError):
        return None  # missing, stale, damaged or of another shape: a full load replaces it


def _write(key: tuple, bank: Bank) -> None:
    path = cache_path()
    try:
        payload = marshal.dumps((key, _bank_to_rows(bank)))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_name("bank.json").unlink(missing_ok=True)  # format 2's file
        # atomic: a concurrent reader sees old or new, never half
        write_atomic(path, MAGIC + zlib.crc32(payload).to_bytes(4, "big") + payload)
    except OSError:
        pass  # a read-only or full disk costs speed, never the drill


def _bank_to_rows(bank: Bank) -> tuple:
    paths = list(dict.fromkeys(str(c.path) for c in bank.cards))
    at = {p: i for i, p in enumerate(paths)}

    def row(card: Card) -> tuple:
        values = [getattr(card, name) for name in ROW_FIELDS]
        values[_KIND_AT] = card.kind.value
        values[_PATH_AT] = at[str(card.path)]
        values[_SOURCES_AT] = tuple(tuple(s) for s in card.sources)
        values[_POINTS_AT] = tuple(tuple(p) for p in card.points)
        return tuple(values)

    topics = tuple(
        (t.name, t.title, t.aliases, tuple(c.id for c in t.cards), str(t.path))
        for t in bank.topics.values()
    )
    warnings = tuple((str(w.path), w.line, w.column, w.card_id, w.message) for w in bank.warnings)
    return tuple(paths), tuple(row(c) for c in bank.cards), topics, warnings


def _card(values: list) -> Card:
    """Card(*values), without its frozen __init__'s 25 guarded assignments (a fifth of
    reading the cache): the fields were validated when the row was written, and Card
    has no __post_init__. tests/test_bank_cache.py holds every field equal to a load."""
    card = object.__new__(Card)
    card.__dict__.update(zip(ROW_FIELDS, values, strict=True), lang="en", english=None)
    return card


def _bank_from_rows(data: tuple) -> Bank:
    paths, rows, topic_rows, warning_rows = data
    files = [Path(p) for p in paths]  # one Path per file, shared by its cards
    cards = []
    for row in rows:
        values = list(row)
        values[_KIND_AT] = _KINDS[row[_KIND_AT]]
        values[_PATH_AT] = files[row[_PATH_AT]]
        values[_SOURCES_AT] = tuple(map(Source._make, row[_SOURCES_AT]))
        values[_POINTS_AT] = tuple(map(Point._make, row[_POINTS_AT]))
        cards.append(_card(values))
    by_id = {c.id: c for c in cards}
    topics = {
        name: Topic(name, title, aliases, tuple(by_id[i] for i in ids), Path(path))
        for name, title, aliases, ids, path in topic_rows
    }
    warnings = [BankIssue(Path(w[0]), *w[1:]) for w in warning_rows]
    return Bank(topics, cards, warnings)
