"""The bank as Anki-headed text (tab-separated), for Anki's File > Import.

Anki 2.1.55+ reads ``#key:value`` header lines at the top of a text file: the
separator, that fields are HTML, and which columns hold each note's GUID, note
type, deck and tags. Fields are quoted the CSV way where they hold a tab, a
quote or a line break (code blocks keep their line breaks).

Limits, compared with the .apkg:
- the note type "quizcnn" must already exist in the collection (import the
  .apkg once first); a text file cannot create it;
- no media, so no proof charts: the Proof field names the proof and how to run it;
- no modification times: on a GUID match Anki's "update" option overwrites the
  note with the file's fields, including edits you made in Anki;
- new notes land in the deck column's deck; existing notes stay where they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from quizcnn.atomic import write_atomic
from quizcnn.bank import Bank
from quizcnn.export.fields import FIELDS, NOTETYPE_NAME, Proofs, note_contents
from quizcnn.export.state import ExportError

# Columns, 1-based as the headers count them. The note type comes first: a line
# that starts with "#" is a comment to Anki, and a GUID can start with "#"
# (genanki's alphabet has it), which would silently drop that note. Then the
# note type's fields in order (Anki maps the remaining columns to fields in
# order), then tags.
COLUMNS = ("notetype", "deck", "guid", *FIELDS, "tags")
NOTETYPE_COLUMN = 1
DECK_COLUMN = 2
GUID_COLUMN = 3
TAGS_COLUMN = len(COLUMNS)


@dataclass
class TsvExport:
    path: Path
    notes: int


def header_lines() -> list[str]:
    return [
        "#separator:tab",
        "#html:true",
        f"#guid column:{GUID_COLUMN}",
        f"#notetype column:{NOTETYPE_COLUMN}",
        f"#deck column:{DECK_COLUMN}",
        f"#tags column:{TAGS_COLUMN}",
        "#columns:" + "\t".join(COLUMNS),
    ]


def tsv_text(bank: Bank, topics: Sequence[str] = ()) -> tuple[str, int]:
    """The whole file as text, and how many notes it holds."""
    from quizcnn.proofs import proof_titles

    buffer = io.StringIO()
    for line in header_lines():
        buffer.write(line + "\n")
    writer = csv.writer(buffer, delimiter="\t", quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    cards = bank.select(topics)
    # no proof results: a text file carries no media, so the Proof field is the reference
    for content in note_contents(cards, bank.topics, Proofs(titles=proof_titles())):
        writer.writerow(
            [NOTETYPE_NAME, content.deck, content.guid, *content.fields, " ".join(content.tags)]
        )
    return buffer.getvalue(), len(cards)


def export_tsv(bank: Bank, out: Path, *, topics: Sequence[str] = ()) -> TsvExport:
    if out.is_dir():
        raise ExportError(f"{out} is a folder; give a file name such as {out / 'quizcnn.txt'}")
    if not out.parent.is_dir():
        raise ExportError(f"cannot write {out}: folder {out.parent} does not exist")
    text, count = tsv_text(bank, topics)
    write_atomic(out, text)
    return TsvExport(out, count)
