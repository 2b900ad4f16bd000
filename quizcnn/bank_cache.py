"""A validated bank, cached as JSON so that a daily `quizcnn drill` skips YAML parsing.

Parsing and validating the ~250 built-in cards takes ~30 ms, a sixth of the
drill's start; reading them back from JSON takes ~3 ms. The cache is keyed by
every input of validation: the topic files' names, sizes and modification
times, the proof names, the validator's own source files and the strict flag.
Any change, or an unreadable cache, means a full load (which is also what
`quizcnn check` always does). Only a bank that validated is cached; JSON, not
pickle, so a cache file never runs code.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path

from quizcnn import __version__
from quizcnn.atomic import write_atomic
from quizcnn.bank import Bank, BankIssue, Card, Kind, Point, Topic, bank_dirs, load_bank
from quizcnn.bibliography import Source
from quizcnn.paths import cache_home
from quizcnn.proofs import checker_names, proof_names

CACHE_FORMAT = 2  # 2: sources are citations
GENERATOR_FILES = tuple(
    f"generators/{p.name}" for p in sorted((Path(__file__).parent / "generators").glob("*.py"))
)
_VALIDATOR_FILES = (
    "bank.py",
    "bank_check.py",
    "bibliography.py",
    "bank_cache.py",
    *GENERATOR_FILES,
)
_TUPLE_FIELDS = {f.name for f in fields(Card) if str(f.type).startswith("tuple")}


def cache_path() -> Path:
    return cache_home() / "bank.json"


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


def _stat_entry(path: Path) -> list:
    try:
        st = path.stat()
    except OSError:
        return [str(path), None]
    return [str(path), st.st_mtime_ns, st.st_size]


def _fingerprint(directories: Sequence[Path], strict: bool) -> list:
    here = Path(__file__).resolve().parent
    parts: list = [
        CACHE_FORMAT,
        __version__,
        strict,
        sorted(proof_names()),
        sorted(checker_names()),
    ]
    parts += [_stat_entry(here / name) for name in _VALIDATOR_FILES]
    for directory in directories:
        directory = Path(directory).resolve()
        files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
        parts.append([str(directory), [_stat_entry(f) for f in files]])
    return parts  # compared whole (hashing it would cost more than it saves)


def _read(key: list) -> Bank | None:
    try:
        data = json.loads(cache_path().read_text(encoding="utf-8"))
        if data.get("key") != key:
            return None
        return _bank_from_json(data["bank"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing, stale or damaged: a full load replaces it


def _write(key: list, bank: Bank) -> None:
    path = cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # atomic: a concurrent reader sees old or new, never half
        write_atomic(path, json.dumps({"key": key, "bank": _bank_to_json(bank)}))
    except OSError:
        pass  # a read-only or full disk costs speed, never the drill


def _bank_to_json(bank: Bank) -> dict:
    def jsonable(obj) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(obj).items()}

    return {
        "topics": [{**jsonable(t), "cards": [c.id for c in t.cards]} for t in bank.topics.values()],
        "cards": [jsonable(c) for c in bank.cards],
        "warnings": [jsonable(w) for w in bank.warnings],
    }


def _bank_from_json(data: dict) -> Bank:
    paths: dict[str, Path] = {}
    cards = [_card_from_json(c, paths) for c in data["cards"]]
    by_id = {c.id: c for c in cards}
    topics = {}
    for t in data["topics"]:
        topics[t["name"]] = Topic(
            name=t["name"],
            title=t["title"],
            aliases=tuple(t["aliases"]),
            cards=tuple(by_id[i] for i in t["cards"]),
            path=Path(t["path"]),
        )
    warnings = [BankIssue(**{**w, "path": Path(w["path"])}) for w in data["warnings"]]
    return Bank(topics, cards, warnings)


def _card_from_json(raw: dict, paths: dict[str, Path]) -> Card:
    for key in _TUPLE_FIELDS:
        raw[key] = tuple(raw[key])
    path = raw["path"]
    raw["path"] = paths.get(path) or paths.setdefault(path, Path(path))  # one Path per file
    raw["kind"] = Kind(raw["kind"])
    raw["sources"] = tuple(Source(**s) for s in raw["sources"])
    raw["points"] = tuple(Point(p["text"], tuple(p["terms"])) for p in raw["points"])
    return Card(**raw)
