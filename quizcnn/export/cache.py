"""The rendered half of each note, kept beside the export state, so an export
renders again only the cards whose source changed.

Per card id: the card's ``source_key`` (a digest of every card field the half
depends on, see fields.py) and what was rendered from it: GUID, deck, tags and
the card's own fields; then the note's digest with the ``ident`` of the proof
part it was computed with. The file as a whole carries the renderer's key,
``RENDER_VERSION`` and a digest of the code that renders (fields.py, html.py
and grading.py), so a changed renderer ignores every old entry.

It is a cache and nothing more: a missing, unreadable, damaged or foreign file,
or an entry of the wrong shape, is ignored (that card is rendered), never an
error. The Proof field is not in it: that comes from the proof results given to
each export. It is written only when something in it changed, with the same
atomic write as the state (quizcnn.atomic), as soon as every note of the export
is known: by a forked child, while the parent writes the package (the export
waits for it before it returns).

The format is made to be quick to read for 10,000 notes (about 15 MB, several
times faster than JSON): a header line with a SHA-256
of the rest, so a damaged file is recognised as a whole; then the records,
separated by RS (0x1e), each its values separated by US (0x1f), in UTF-8. A
record whose values would hold RS or US is not written.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import signal
import sys
from collections.abc import Iterable
from pathlib import Path

from quizcnn.atomic import write_atomic

MAGIC = "quizcnn render cache"
CACHE_VERSION = 1
RS, US = "\x1e", "\x1f"
RS_BYTE, US_BYTE = RS.encode(), US.encode()
# A card's half of its note as a record: what the cache keeps and what a render
# worker sends back (fields.py): a list of strings in this order. The tags are
# joined by spaces (a tag has none); the digest is the whole note's, made with
# the proof part named by the ident.
CARD_ID, KEY, GUID, DECK, TAGS, FRONT, BACK, EXPLANATION, SOURCES, ID, PROOF_IDENT, DIGEST = range(
    12
)
RECORD_SIZE = 12


def cache_path(state_path: Path) -> Path:
    """export_state.json -> export_state.render-cache, in the same folder."""
    return state_path.with_name(f"{state_path.stem}.render-cache")


def encode_record(record: list[str]) -> bytes | None:
    """A record as the file spells it (UTF-8, values joined by US); None if a value
    holds RS or US, as a record that cannot be written."""
    text = US.join(record)
    if RS in text or text.count(US) != RECORD_SIZE - 1:
        return None
    return text.encode("utf-8")


class RenderCache:
    """Card id -> its record. The records read from the file stay UTF-8 bytes
    until asked for; those put since are lists. ``keep``: the ids whose records
    are worth keeping (the bank's cards: those of topics not exported this time
    stay); the others are dropped when it is written."""

    def __init__(
        self,
        path: Path,
        renderer: str,
        stored: dict[str, bytes] | None = None,
        keep: Iterable[str] | None = None,
    ):
        self.path = path
        self.renderer = renderer
        self._stored = stored or {}  # id -> UTF-8 record, as in the file
        self._fresh: dict[str, list[str]] = {}
        self._keep = None if keep is None else list(dict.fromkeys(keep))
        self._writer = 0  # the forked child writing it, if any
        self.hits = 0  # records served
        self.dirty = self._keep is not None and not set(self._keep).issuperset(self._stored)

    @classmethod
    def load(cls, path: Path, renderer: str, keep: Iterable[str] | None = None) -> RenderCache:
        """The cache at ``path`` if it was made by ``renderer`` (fields.renderer_key),
        else an empty one; never an error."""
        try:
            raw = path.read_bytes()
        except OSError:  # missing or unreadable
            return cls(path, renderer, keep=keep)
        start = raw.find(b"\n") + 1
        expected = f"{MAGIC} {CACHE_VERSION} {renderer} ".encode()
        body = memoryview(raw)[start:]
        if not start or raw[: start - 1] != expected + hashlib.sha256(body).hexdigest().encode():
            return cls(path, renderer, keep=keep)  # another version or renderer, or damaged
        records = raw[start:].split(RS_BYTE) if start < len(raw) else []
        try:
            stored = {r[: r.find(US_BYTE)].decode("utf-8"): r for r in records}
        except UnicodeDecodeError:
            return cls(path, renderer, keep=keep)
        return cls(path, renderer, stored, keep)

    def __contains__(self, card_id: str) -> bool:
        return card_id in self._fresh or card_id in self._stored

    def get(self, card_id: str, key: str) -> list[str] | None:
        """The record rendered from the source with this key, or None."""
        record = self._fresh.get(card_id)
        if record is None:
            stored = self._stored.get(card_id)
            if stored is None:
                return None
            try:
                record = stored.decode("utf-8").split(US)
            except UnicodeDecodeError:
                return None
        if len(record) != RECORD_SIZE or record[KEY] != key:
            return None
        self.hits += 1
        return record

    def put(self, card_id: str, record: list[str]) -> None:
        self._fresh[card_id] = record
        self.dirty = True

    def save(self) -> None:
        """Write it (if anything changed) and wait for that; a failed write only
        costs the next export its reuse."""
        self.save_in_background()
        self.finish()

    def save_in_background(self) -> None:
        """Start writing it, if anything changed: in a forked child where there is
        fork (Linux), so that the writing overlaps what the export does next; else
        here and now. ``finish()`` waits for it. Nothing may be put after this."""
        if not self.dirty or self._writer:
            return
        self.dirty = False
        if sys.platform.startswith("linux") and hasattr(os, "fork"):
            sys.stdout.flush()  # nothing buffered may be written twice
            sys.stderr.flush()
            try:
                self._writer = os.fork()
            except OSError:
                self._writer = 0
            else:
                if self._writer == 0:  # the child: write, and leave without cleanup
                    code = 1
                    try:
                        gc.disable()  # (a collection would copy the parent's whole heap)
                        sys.setprofile(None)
                        sys.settrace(None)
                        signal.signal(signal.SIGINT, signal.SIG_DFL)
                        code = 0 if self._write() else 1
                    finally:
                        os._exit(code)
                return
        self._write()

    def finish(self) -> None:
        """Wait for the writing started by save_in_background."""
        if self._writer:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._writer, 0)
            self._writer = 0

    def _write(self) -> bool:
        ids = self._keep if self._keep is not None else dict.fromkeys([*self._stored, *self._fresh])
        records = []
        for card_id in ids:
            fresh = self._fresh.get(card_id)
            encoded = self._stored.get(card_id) if fresh is None else encode_record(fresh)
            if encoded is not None:
                records.append(encoded)
        body = RS_BYTE.join(records)
        header = f"{MAGIC} {CACHE_VERSION} {self.renderer} {hashlib.sha256(body).hexdigest()}\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, header.encode() + body)
        except OSError:
            return False
        return True
