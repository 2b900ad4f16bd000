"""Where things live: the shipped bank and proofs, the user's data directory."""

from __future__ import annotations

import os
import sys
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
BIBLIOGRAPHY_FILE = "bibliography.yaml"  # beside the topic files of a bank folder


def _shipped(name: str) -> Path:
    # Installed from a wheel the folder sits inside the package; in a source
    # checkout (editable install, tests) it sits beside the package.
    inside = _PACKAGE / name
    return inside if inside.is_dir() else _PACKAGE.parent / name


def questions_dir() -> Path:
    return _shipped("questions")


def demos_dir() -> Path:
    return _shipped("demos")


def data_home() -> Path:
    """QUIZCNN_HOME, else the platform's user data directory."""
    override = os.environ.get("QUIZCNN_HOME")
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "quizcnn"


def cache_home() -> Path:
    """Files that can be rebuilt at any time: QUIZCNN_HOME/cache, else the platform's
    user cache directory (kept apart from the data so a cache wipe loses nothing)."""
    override = os.environ.get("QUIZCNN_HOME")
    if override:
        return Path(override).expanduser() / "cache"
    if sys.platform == "win32":
        return data_home() / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "quizcnn"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "quizcnn"


def database_path() -> Path:
    return data_home() / "quizcnn.db"


def user_bank_dirs() -> list[Path]:
    """QUIZCNN_BANK: extra topic folders, separated like PATH."""
    raw = os.environ.get("QUIZCNN_BANK", "")
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip()]


def topic_files(directory: Path) -> list[Path]:
    """The topic files of a bank folder: every YAML file but the bibliography."""
    files = [*directory.glob("*.yaml"), *directory.glob("*.yml")]
    return sorted(p for p in files if p.name != BIBLIOGRAPHY_FILE)


def checkers_dir() -> Path:
    """Code-card checkers: demos/checkers/<name>.py, found by name like proofs."""
    return demos_dir() / "checkers"


def attempts_dir() -> Path:
    """The user's own attempt at each code card, one file per card, kept between reviews."""
    return data_home() / "attempts"
