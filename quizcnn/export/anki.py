"""The bank as an Anki package (.apkg, via genanki) that re-imports cleanly.

How a re-import stays clean, in Anki's own terms:
- one note type "quizcnn" with a hard-coded id and frozen field and template
  names, so Anki recognises it and never adds a "quizcnn+" copy;
- each note's GUID comes from its card id alone, so a re-import finds the note
  it made last time instead of adding a duplicate;
- Anki overwrites a note only when the package's note is newer, so each note's
  modification time moves only when its content does (see state.py): an
  unchanged note never overwrites what you edited in Anki, a changed one does
  update, and cards (with their scheduling) are never replaced;
- the note type's own modification time follows the same rule, so your edits
  to its styling survive until we change ours.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import os
import sqlite3
import tempfile
import time
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

import genanki

from quizcnn.atomic import atomic_path
from quizcnn.bank import Bank, Card
from quizcnn.export.cache import RenderCache, cache_path
from quizcnn.export.fields import (
    FIELDS,
    NOTETYPE_NAME,
    Proofs,
    deck_id,
    deck_name,
    note_contents,
    renderer_key,
)
from quizcnn.export.state import ExportError, ExportState, content_hash
from quizcnn.results import ProofResult

MODEL_ID = 1_607_392_385  # hard-coded forever: Anki knows the note type by this id
MODEL_STATE_KEY = f"notetype:{NOTETYPE_NAME}"  # not a card id: those are slugs
TEMPLATE_NAME = "quizcnn"  # frozen like the fields
# Names Anki treats as a whole-collection restore (it would replace the user's collection).
REFUSED_NAMES = ("collection.apkg", "backup-*.apkg")

FRONT_TEMPLATE = '<div class="qz qz-front">{{Front}}</div>'
BACK_TEMPLATE = """{{FrontSide}}
<hr id="answer">
<div class="qz qz-back">{{Back}}</div>
{{#Explanation}}<div class="qz qz-explanation">{{Explanation}}</div>{{/Explanation}}
{{#Proof}}<div class="qz qz-proof"><div class="qz-label">Proof</div>{{Proof}}</div>{{/Proof}}
{{#Sources}}<div class="qz qz-src"><div class="qz-label">Sources</div>{{Sources}}</div>{{/Sources}}
<div class="qz qz-id">{{Id}}</div>"""

# No colour on text or background: the card inherits Anki's light or night
# theme. Lines and shading are translucent grey, which reads on both; the few
# coloured marks get a lighter shade under .nightMode (desktop, iOS) and
# .night_mode (AnkiDroid).
CSS = """\
.card { font-family: -apple-system, "Segoe UI", Roboto, "Noto Sans", Arial, sans-serif;
  font-size: 19px; line-height: 1.5; text-align: left; }
.qz { max-width: 46em; margin: 0 auto 0.8em auto; }
.qz-question { font-weight: 600; }
.qz-choices { margin: 0.5em 0; padding-left: 1.8em; }
.qz-choices li { margin: 0.2em 0; }
.qz-hint, .qz-muted, .qz-id { opacity: 0.7; font-size: 0.9em; }
.qz-id { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.75em; }
.qz-correct { font-weight: 700; margin-bottom: 0.3em; }
.qz-label { font-size: 0.8em; font-weight: 700; text-transform: uppercase;
  letter-spacing: 0.05em; opacity: 0.7; margin-bottom: 0.2em; }
.qz-example, .qz-proof { border-left: 3px solid rgba(127, 127, 127, 0.45);
  padding-left: 0.8em; }
.qz-explanation p { margin: 0.4em 0; }
.qz code, .qz pre { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.88em;
  background: rgba(127, 127, 127, 0.15); border-radius: 4px; }
.qz code { padding: 0.05em 0.3em; }
.qz pre { padding: 0.6em 0.8em; overflow-x: auto; line-height: 1.35; }
.qz pre code { background: none; padding: 0; font-size: 1em; }
.qz-table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.85em; }
.qz-table caption { text-align: left; font-weight: 600; padding-bottom: 0.2em; }
.qz-table th, .qz-table td { border: 1px solid rgba(127, 127, 127, 0.4);
  padding: 0.15em 0.5em; vertical-align: top; }
.qz-table th { background: rgba(127, 127, 127, 0.12); }
.qz-num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.qz-chart { margin: 0.6em 0; }
.qz-chart img { max-width: 100%; display: block; margin: 0.3em 0; }
.qz-swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.3em;
  border-radius: 2px; vertical-align: baseline; }
.qz-c0 { background: #1f77b4; } .qz-c1 { background: #ff7f0e; } .qz-c2 { background: #2ca02c; }
.qz-c3 { background: #d62728; } .qz-c4 { background: #9467bd; }
.qz-pass { color: #1a7f37; font-weight: 700; }
.qz-fail { color: #c62828; font-weight: 700; }
.nightMode .qz-pass, .night_mode .qz-pass { color: #56d364; }
.nightMode .qz-fail, .night_mode .qz-fail { color: #ff7b72; }
.qz-sources { margin: 0; padding-left: 1.2em; font-size: 0.85em; }
.qz a { color: inherit; }
"""


# genanki stamps every note and the note type with one package-wide time; TimedNote and
# TimedModel give each its own, which is what makes updates selective.
class TimedNote:
    """A note as genanki writes one, with its own modification time (``mod``, Unix
    seconds): its row and its one card's (the quizcnn note type has one template).

    Not a genanki.Note: that one checks again, for every note, what holds for all
    of ours by construction (the field count of the one note type, no deprecated
    built-in model, tags without spaces, no raw HTML tags: html.py escapes every
    text) and resolves three properties on the way, about a quarter of what an
    export of 10,000 notes adds to genanki's own time. The rows are genanki's,
    value for value: tests/test_export_anki.py writes a note both ways and
    compares the rows, and holds genanki's HTML-tag check silent on every field of
    the shipped bank."""

    __slots__ = ("model", "fields", "tags", "guid", "due", "mod")

    def __init__(self, model, fields, tags, guid, due, mod):
        self.model, self.fields, self.tags = model, fields, tags
        self.guid, self.due, self.mod = guid, due, mod

    def rows(self, deck_id: int, id_gen) -> tuple[tuple, tuple]:
        """The note's row and its card's, ids drawn in genanki's order."""
        note_id, fields = next(id_gen), self.fields
        note = (note_id, self.guid, self.model.model_id, self.mod, -1)  # id, guid, mid, mod, usn
        note += (f" {' '.join(self.tags)} ", "\x1f".join(fields), fields[0], 0, 0, "")
        card = (next(id_gen), note_id, deck_id, 0, self.mod, -1, 0, 0, self.due)  # .. queue, due
        card += (0, 0, 0, 0, 0, 0, 0, 0, "")  # ivl, factor, reps, lapses, left, odue, odid, ..
        return note, card


NOTE_INSERT = "INSERT INTO notes VALUES(?,?,?,?,?,?,?,?,?,?,?);"  # genanki's statements
CARD_INSERT = "INSERT INTO cards VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?);"


class TimedModel(genanki.Model):
    """A note type written with its own modification time."""

    mod = 0

    def to_json(self, timestamp, deck_id):
        return super().to_json(self.mod, deck_id)


@dataclass
class AnkiExport:
    """What an export wrote, for the CLI to report."""

    path: Path
    notes: int
    decks: int
    media: int
    new: list[str] = field(default_factory=list)  # card ids exported for the first time
    changed: list[str] = field(default_factory=list)  # card ids whose note content changed


def check_output_name(path: Path) -> None:
    """Refuse what Anki would misread; raise ExportError with one line."""
    name = path.name.lower()
    for pattern in REFUSED_NAMES:
        if fnmatch(name, pattern):
            raise ExportError(
                f"refusing to write {path.name!r}: Anki treats {pattern!r} as a full-collection "
                "restore that replaces your collection; choose another name, such as quizcnn.apkg"
            )
    if path.suffix.lower() != ".apkg":
        raise ExportError(f"{path}: an Anki package must end in .apkg (for example quizcnn.apkg)")
    if path.is_dir():
        raise ExportError(f"{path} is a folder; give a file name such as {path / 'quizcnn.apkg'}")
    if not path.parent.is_dir():
        raise ExportError(f"cannot write {path}: folder {path.parent} does not exist")


def export_anki(
    bank: Bank,
    out: Path,
    *,
    topics: Sequence[str] = (),
    proof_results: Mapping[str, ProofResult] | None = None,
    state_path: Path | None = None,
    now: int | None = None,
) -> AnkiExport:
    """Write the chosen topics (all by default) as one .apkg at ``out``.

    With ``proof_results`` (proof name -> result), each card's Proof field holds
    its proof's claim table and charts; without, the proof's name and how to run
    it. ``now`` (Unix seconds) stamps the notes whose content changed.

    The path is straight: fields.py gives each note's whole content (from the
    render cache beside the state where the card did not change); here each is
    stamped (state.py) and written. A new note's time is ``now`` whatever it
    holds, so for a large export the new notes are rendered by forked workers
    while genanki writes the decks before theirs (fields.NoteContents).
    """
    from quizcnn.proofs import proof_titles

    check_output_name(out)
    with _collector_paused():
        return _export(bank, out, topics, proof_results, state_path, now, proof_titles())


def _export(
    bank: Bank,
    out: Path,
    topics: Sequence[str],
    proof_results: Mapping[str, ProofResult] | None,
    state_path: Path | None,
    now: int | None,
    titles: Mapping[str, str],
) -> AnkiExport:
    cards = bank.select(topics)
    state = ExportState.load(state_path)
    keep = [card.id for card in bank.cards]  # a topic not exported now keeps its records
    cache = RenderCache.load(cache_path(state.path), renderer_key(), keep)
    now = int(time.time()) if now is None else int(now)
    proofs = Proofs(proof_results, titles)
    new = {card.id for card in cards if card.id not in state.entries}
    try:
        with note_contents(cards, bank.topics, proofs, cache, defer=new) as contents:
            model = quizcnn_model(state.stamp(MODEL_STATE_KEY, model_hash(), now))
            # A deferred note is new: its time is now, whatever it holds, and it
            # is stamped when genanki comes to write it (its content known then).
            deferred = {i for i in range(len(cards)) if contents.deferred(i)}
            mods = [
                now if i in deferred else state.stamp(card.id, contents[i].digest, now)
                for i, card in enumerate(cards)
            ]

            def notes(positions: list[int]) -> Iterator[TimedNote]:
                for i in positions:
                    content = contents[i]
                    if i in deferred:
                        mods[i] = state.stamp(content.card_id, content.digest, now)
                    yield TimedNote(model, content.fields, content.tags, content.guid, i, mods[i])

            decks = _decks(bank, cards, model, notes)
            media = proofs.media
            _write_package(out, decks, media, max(mods, default=now))
        if state.added or state.changed or not state.path.exists():
            state.save()  # only once the package is safely on disk
        cache.save()  # (it started, in the background, once every note was known)
    finally:
        cache.finish()
    return AnkiExport(
        out,
        len(cards),
        len(decks),
        len(media),
        new=[c.id for c in cards if c.id in state.added],
        changed=[c.id for c in cards if c.id in state.changed],
    )


@contextlib.contextmanager
def _collector_paused():
    """No cyclic garbage collection during an export. It makes some ten containers
    a note (fields, tags, notes, records), which reference counting frees (they
    form no cycles); each collection would only walk the whole heap, the bank
    included, over and over: about a third of what the export adds to genanki's
    own time, for 10,000 cards (bench/bench_export.py)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def model_hash() -> str:
    return content_hash([NOTETYPE_NAME, *FIELDS, TEMPLATE_NAME, FRONT_TEMPLATE, BACK_TEMPLATE, CSS])


def quizcnn_model(mod: int) -> TimedModel:
    """The one note type, "quizcnn"; ``mod`` is its modification time."""
    model = TimedModel(
        MODEL_ID,
        NOTETYPE_NAME,
        fields=[{"name": name} for name in FIELDS],
        templates=[{"name": TEMPLATE_NAME, "qfmt": FRONT_TEMPLATE, "afmt": BACK_TEMPLATE}],
        css=CSS,
        model_type=genanki.Model.FRONT_BACK,
        sort_field_index=0,
    )
    model.mod = mod
    return model


class StreamedDeck(genanki.Deck):
    """A deck whose notes are made one by one as genanki writes them: genanki
    writes the deck and its note type (with no notes), then the notes are made in
    order (a note still being rendered holds up only itself) and go in together."""

    def __init__(self, deck_id: int, name: str, description: str, model, make_notes):
        super().__init__(deck_id, name, description)
        self.add_model(model)
        self.make_notes = make_notes  # () -> an iterator of notes

    def write_to_db(self, cursor, timestamp, id_gen):
        super().write_to_db(cursor, timestamp, id_gen)  # the deck and the note type
        notes, cards = [], []
        for note in self.make_notes():
            note_row, card_row = note.rows(self.deck_id, id_gen)
            notes.append(note_row)
            cards.append(card_row)
        # one executemany a table: a third of the time of a statement per row
        cursor.executemany(NOTE_INSERT, notes)
        cursor.executemany(CARD_INSERT, cards)


def _decks(bank: Bank, cards: Sequence[Card], model, notes) -> list[genanki.Deck]:
    """One deck per topic, quizcnn::<title>, in bank order; ``notes(positions)``
    makes the notes of the cards at those positions, one by one."""
    positions: dict[str, list[int]] = {}
    for i, card in enumerate(cards):
        positions.setdefault(card.topic, []).append(i)
    decks = []
    for name, where in positions.items():
        topic = bank.topics[name]
        description = f"quizcnn topic {topic.name}: {len(topic.cards)} cards"
        decks.append(
            StreamedDeck(
                deck_id(name),
                deck_name(topic),
                description,
                model,
                lambda where=where: notes(where),
            )
        )
    return decks


def _write_package(
    out: Path, decks: list[genanki.Deck], media: dict[str, bytes], timestamp: int
) -> None:
    """The collection and media in a scratch folder, zipped as genanki's
    Package.write_to_file zips them, to a temporary file, then an atomic rename.

    Not write_to_file itself: it leaves its collection database behind in the
    system's temporary folder at every export (the size of the package), and
    commits it with a full sync, which a scratch file never needs."""
    with tempfile.TemporaryDirectory(prefix="quizcnn-") as folder:
        scratch = Path(folder)
        paths = []
        for name, data in sorted(media.items()):
            (scratch / name).write_bytes(data)
            paths.append(str(scratch / name))
        collection = scratch / "collection.anki2"
        conn = sqlite3.connect(collection)
        try:
            conn.execute("PRAGMA journal_mode = OFF")  # scratch: nothing to roll back to
            conn.execute("PRAGMA synchronous = OFF")
            ids = itertools.count(int(timestamp * 1000))  # as write_to_file counts them
            genanki.Package(decks, media_files=paths).write_to_db(conn.cursor(), timestamp, ids)
            conn.commit()
        finally:
            conn.close()
        with atomic_path(out, suffix=".apkg.tmp") as tmp, zipfile.ZipFile(tmp, "w") as package:
            package.write(collection, "collection.anki2")
            package.writestr(
                "media", json.dumps({i: os.path.basename(p) for i, p in enumerate(paths)})
            )
            for i, path in enumerate(paths):
                package.write(path, str(i))
