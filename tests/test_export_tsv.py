"""`quizcnn export tsv`: Anki-headed text, imported with Anki's own text importer."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import genanki
from anki.collection import Collection, ImportCsvRequest
from anki_collection import import_package, new_collection, notes_by_id
from typer.testing import CliRunner

from quizcnn.bank import load_bank
from quizcnn.cli import app
from quizcnn.export.anki import export_anki
from quizcnn.export.fields import FIELDS
from quizcnn.export.tsv import export_tsv

FIXTURES = Path(__file__).parent / "fixtures" / "anki_bank"
runner = CliRunner()


def import_text(col: Collection, path: Path):
    metadata = col.get_csv_metadata(str(path), None)  # read from the file's own headers
    return col.import_csv(ImportCsvRequest(path=str(path), metadata=metadata)).log


def test_the_file_starts_with_anki_headers_and_has_one_row_per_card(tmp_path):
    out = tmp_path / "quizcnn.txt"
    result = runner.invoke(
        app, ["--no-builtin", "--bank", str(FIXTURES), "export", "tsv", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[:6] == [
        "#separator:tab",
        "#html:true",
        "#guid column:3",
        "#notetype column:1",
        "#deck column:2",
        "#tags column:10",
    ]
    columns = lines[6].removeprefix("#columns:").split("\t")
    assert columns == ["notetype", "deck", "guid", *FIELDS, "tags"]

    body = text.split("\n", 7)[7]  # after the seven header lines
    rows = list(csv.reader(io.StringIO(body), delimiter="\t"))
    assert len(rows) == 6 and {len(r) for r in rows} == {10}
    by_id = {r[3 + FIELDS.index("Id")]: r for r in rows}
    axes = by_id["ax-bn-axes"]
    assert axes[:3] == [
        "quizcnn",
        "quizcnn::Anki fixture: normalization",
        genanki.guid_for("quizcnn", "ax-bn-axes"),
    ]
    assert axes[9] == "quizcnn::axnorm quizcnn::tag::normalization quizcnn::tag::pytorch"
    assert "&lt;script&gt;" in by_id["ax-script"][3]


def test_anki_imports_it_into_existing_notes_and_updates_a_changed_answer(tmp_path):
    folder = tmp_path / "bank"
    shutil.copytree(FIXTURES, folder)
    package = tmp_path / "quizcnn.apkg"
    export_anki(load_bank([folder], include_builtin=False), package, now=1_700_000_000)
    col = new_collection(tmp_path)
    import_package(col, package)

    topic_file = folder / "axnorm.yaml"
    text = topic_file.read_text(encoding="utf-8")
    topic_file.write_text(
        text.replace("answer: 128, a scale and a shift per channel.", "answer: 128 = 2 x 64."),
        encoding="utf-8",
    )
    out = tmp_path / "quizcnn.txt"
    export_tsv(load_bank([folder], include_builtin=False), out)
    log = import_text(col, out)
    assert not log.new and not log.missing_notetype
    assert [n.fields[FIELDS.index("Id")] for n in log.updated] == ["ax-bn-params"]
    notes = notes_by_id(col)
    assert col.note_count() == 6
    assert "128 = 2 x 64." in notes["ax-bn-params"]["Back"]
    # a quoted field keeps the line breaks of a code block
    assert "<pre><code" in notes["ax-bn-axes"]["Explanation"]
    assert "mu = x.mean(dim=(0, 2, 3))" in notes["ax-bn-axes"]["Explanation"]


def test_without_the_note_type_anki_imports_nothing(tmp_path):
    """The documented limit: import the .apkg once first, text cannot create the note type."""
    out = tmp_path / "quizcnn.txt"
    export_tsv(load_bank([FIXTURES], include_builtin=False), out)
    col = new_collection(tmp_path)
    log = import_text(col, out)
    assert len(log.missing_notetype) == 6 and not log.new
    assert col.note_count() == 0


def test_a_guid_starting_with_a_hash_is_not_read_as_a_comment(tmp_path):
    """genanki GUIDs may start with "#", which starts a comment line in Anki's text import."""
    card_id = next(
        f"ax-hash-{i}"
        for i in range(100_000)
        if genanki.guid_for("quizcnn", f"ax-hash-{i}").startswith("#")
    )
    folder = tmp_path / "bank"
    shutil.copytree(FIXTURES, folder)
    (folder / "axhash.yaml").write_text(
        "format_version: 1\ntopic: axhash\ntitle: Hash\ncards:\n"
        f"  - id: {card_id}\n    kind: recall\n    question: q\n    answer: a\n"
        "    explanation: e\n    sources: [s]\n",
        encoding="utf-8",
    )
    bank = load_bank([folder], include_builtin=False)
    package = tmp_path / "quizcnn.apkg"
    export_anki(load_bank([FIXTURES], include_builtin=False), package, now=1_700_000_000)
    col = new_collection(tmp_path)
    import_package(col, package)
    out = tmp_path / "quizcnn.txt"
    export_tsv(bank, out)
    log = import_text(col, out)
    assert [n.fields[FIELDS.index("Id")] for n in log.new] == [card_id]
    assert notes_by_id(col)[card_id].guid.startswith("#")
