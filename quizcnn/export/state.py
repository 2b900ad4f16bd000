"""When each exported note last changed, so re-imports update only what changed.

Anki updates a note on import only when the package's note is *newer* than the
one in the collection. So a note's modification time must move when, and only
when, its content moves: an unchanged note keeps its old time (and never
overwrites edits made in Anki since), a changed one gets a time after every
earlier export. This file keeps, per card id, a hash of the exported content and
the time it was first exported with that content. It is our own small JSON file
in the data directory (``export_state.json``), written atomically.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from quizcnn.atomic import write_atomic
from quizcnn.paths import data_home

STATE_FILE = "export_state.json"
STATE_VERSION = 1


class ExportError(Exception):
    """An export that cannot go ahead; the message is one line for the user."""


class StateError(ExportError):
    """The state file exists but cannot be read as ours."""


def state_path() -> Path:
    return data_home() / STATE_FILE


def content_hash(parts: Iterable[str]) -> str:
    """A stable digest of a note's exported text (fields, tags, ...): each part's
    UTF-8 bytes after their length as 8 big-endian bytes (no ambiguity), hashed
    in one go."""
    chunks = []
    for part in parts:
        data = part.encode("utf-8")
        chunks.append(len(data).to_bytes(8, "big"))
        chunks.append(data)
    return hashlib.sha256(b"".join(chunks)).hexdigest()


@dataclass
class ExportState:
    """Content hash and modification time (Unix seconds) per key (a card id)."""

    path: Path
    entries: dict[str, dict[str, object]] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)  # keys whose time moved in this run
    added: set[str] = field(default_factory=set)  # keys seen for the first time

    @classmethod
    def load(cls, path: Path | None = None) -> ExportState:
        path = path or state_path()
        if not path.exists():
            return cls(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") != STATE_VERSION or not isinstance(data.get("notes"), dict):
                raise ValueError(f"not a version-{STATE_VERSION} quizcnn export state")
            entries = {
                str(k): {"hash": str(v["hash"]), "mod": int(v["mod"])}
                for k, v in data["notes"].items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StateError(
                f"cannot read the export state {path}: {exc}; move it aside to start "
                "afresh (the next import then updates every note, overwriting edits made in Anki)"
            ) from None
        return cls(path, entries)

    def stamp(self, key: str, digest: str, now: int) -> int:
        """The modification time for this content: the old one if unchanged, else now
        (and always later than the time it had before)."""
        entry = self.entries.get(key)
        if entry is not None and entry["hash"] == digest:
            return int(entry["mod"])  # type: ignore[arg-type]
        mod = now if entry is None else max(now, int(entry["mod"]) + 1)  # type: ignore[arg-type]
        (self.added if entry is None else self.changed).add(key)
        self.entries[key] = {"hash": digest, "mod": mod}
        return mod

    def save(self) -> None:
        """Write atomically: a crash leaves the old file or the new one, never half."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"version": STATE_VERSION, "notes": dict(sorted(self.entries.items()))}
        # one line: json's C encoder only runs without indent (10,000 notes)
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        write_atomic(self.path, text, durable=True)
