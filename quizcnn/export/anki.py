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

import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

import genanki

from quizcnn.atomic import atomic_path
from quizcnn.bank import Bank, Card
from quizcnn.export.fields import (
    FIELDS,
    NOTETYPE_NAME,
    NoteContent,
    deck_id,
    deck_name,
    guid,
    note_content,
    proof_reference_html,
)
from quizcnn.export.proof_html import proof_result_html
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


# genanki stamps every note and the note type with one package-wide time; these
# subclasses give each its own, which is what makes updates selective.
class TimedNote(genanki.Note):
    """A note written with its own modification time (``mod``, Unix seconds)."""

    def __init__(self, *args, mod: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.mod = mod

    def write_to_db(self, cursor, timestamp, deck_id, id_gen):
        super().write_to_db(cursor, self.mod, deck_id, id_gen)


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
    """
    check_output_name(out)
    cards = bank.select(topics)
    state = ExportState.load(state_path)
    now = int(time.time()) if now is None else int(now)
    model = quizcnn_model(state.stamp(MODEL_STATE_KEY, model_hash(), now))
    notes, media = build_notes(bank, cards, model, proof_results, state, now)
    decks = _decks(bank, cards, notes)
    _write_package(out, decks, media, max([n.mod for n in notes], default=now))
    state.save()  # only once the package is safely on disk
    return AnkiExport(
        out,
        len(notes),
        len(decks),
        len(media),
        new=[c.id for c in cards if c.id in state.added],
        changed=[c.id for c in cards if c.id in state.changed],
    )


def build_notes(
    bank: Bank,
    cards: Sequence[Card],
    model: TimedModel,
    proof_results: Mapping[str, ProofResult] | None,
    state: ExportState,
    now: int,
) -> tuple[list[TimedNote], dict[str, bytes]]:
    """Cards in bank order -> genanki notes (due = position) and the media they cite."""
    from quizcnn.proofs import proof_titles

    titles = proof_titles()
    rendered = {name: proof_result_html(r) for name, r in (proof_results or {}).items()}
    media: dict[str, bytes] = {}
    notes = []
    for position, card in enumerate(cards):
        topic = bank.topics[card.topic]
        proof = rendered.get(card.proof or "")
        if proof is not None:
            content = note_content(card, topic, proof.html)
            digest = note_hash(content, proof.fingerprint)
            media.update(proof.media)
        else:
            content = note_content(card, topic, proof_reference_html(card, titles))
            digest = note_hash(content)
        mod = state.stamp(card.id, digest, now)
        notes.append(
            TimedNote(
                model=model,
                fields=list(content.fields),
                tags=list(content.tags),
                guid=guid(card.id),
                due=position,
                mod=mod,
            )
        )
    return notes, media


def note_hash(content: NoteContent, proof_fingerprint: str | None = None) -> str:
    """What decides "changed": every field (the Proof field by its fingerprint) and tag."""
    fields = list(content.fields)
    if proof_fingerprint is not None:
        fields[FIELDS.index("Proof")] = proof_fingerprint
    return content_hash([*fields, "\x1e", *content.tags])


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


def _decks(bank: Bank, cards: Sequence[Card], notes: list[TimedNote]) -> list[genanki.Deck]:
    """One deck per topic, quizcnn::<title>, in bank order."""
    decks: dict[str, genanki.Deck] = {}
    for card, note in zip(cards, notes, strict=True):
        topic = bank.topics[card.topic]
        if topic.name not in decks:
            description = f"quizcnn topic {topic.name}: {len(topic.cards)} cards"
            decks[topic.name] = genanki.Deck(deck_id(topic.name), deck_name(topic), description)
        decks[topic.name].add_note(note)
    return list(decks.values())


def _write_package(
    out: Path, decks: list[genanki.Deck], media: dict[str, bytes], timestamp: int
) -> None:
    """Media to a scratch folder, the package to a temporary file, then an atomic rename."""
    with tempfile.TemporaryDirectory(prefix="quizcnn-export-") as scratch:
        paths = []
        for name, data in sorted(media.items()):
            path = Path(scratch) / name
            path.write_bytes(data)
            paths.append(str(path))
        with atomic_path(out, suffix=".apkg.tmp") as tmp:
            genanki.Package(decks, media_files=paths).write_to_file(str(tmp), timestamp=timestamp)
