"""`quizcnn export anki`, checked by importing the package with Anki's own library.

Each test builds a fresh Anki collection (`anki.collection.Collection`) and
imports with `import_anki_package`, the same code path as Anki's File > Import.
The fixture bank (tests/fixtures/anki_bank) is loaded on its own (--no-builtin),
so these tests do not depend on the shipped bank.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
import zipfile
from pathlib import Path

import genanki
import pytest
from anki.collection import Collection
from anki.scheduler.v3 import CardAnswer
from anki_collection import import_package, new_collection, notes_by_id
from typer.testing import CliRunner

from quizcnn.bank import load_bank
from quizcnn.cli import app
from quizcnn.export.anki import CSS, MODEL_ID, export_anki
from quizcnn.export.fields import FIELDS
from quizcnn.results import Claim, ProofResult, Series

FIXTURES = Path(__file__).parent / "fixtures" / "anki_bank"
BANK_ORDER = [  # files in name order, cards in file order
    "ax-rf-two-convs",
    "ax-momentum",
    "ax-gen-output-size",
    "ax-bn-axes",
    "ax-script",
    "ax-bn-params",
]
T0 = 1_700_000_000  # export clock for the tests: Unix seconds
runner = CliRunner()


def cli(*args: str):
    return runner.invoke(app, ["--no-builtin", "--bank", str(FIXTURES), *args])


def fixture_bank(folder: Path = FIXTURES):
    return load_bank([folder], include_builtin=False)


def package_tables(path: Path, tmp_path: Path) -> tuple[list[tuple], dict, dict[str, str]]:
    """(notes rows, note types JSON, media map) read straight from the .apkg."""
    folder = tmp_path / f"unzipped-{path.stem}"
    with zipfile.ZipFile(path) as archive:
        archive.extractall(folder)
    db = sqlite3.connect(folder / "collection.anki2")
    try:
        notes = db.execute("SELECT guid, mid, mod, tags, flds FROM notes ORDER BY guid").fetchall()
        (models,) = db.execute("SELECT models FROM col").fetchone()
    finally:
        db.close()
    media = json.loads((folder / "media").read_text())
    return notes, json.loads(models), media


def fake_result(
    name: str, residual: float = 5e-16, slope: float = 0.5, depth: int = 3
) -> ProofResult:
    """A proof result as the runner returns it: claims, a table and a chart series."""
    claims = [
        Claim("residual", "round-off residual of an exact identity", residual, 1e-10, "<", 0, True),
        Claim("slope", "fitted slope", slope, 0.5, "≈", 0.2, abs(slope - 0.5) <= 0.2),
    ]
    series = Series(
        "gradient by depth",
        "layer",
        "grad norm",
        list(range(1, depth + 1)),
        {"sigmoid": [10.0**-k for k in range(depth)], "relu": [1.0] * depth},
        log_y=True,
    )
    return ProofResult(
        name=name,
        title=f"Fake proof {name}",
        device="cpu",
        seed=0,
        seconds=0.01,
        torch_version="test",
        claims=claims,
        series=[series],
    )


def answer_easy(col: Collection, card_id: int) -> None:
    """Review a card the way the Anki reviewer does: it becomes a review card."""
    card = col.get_card(card_id)
    card.start_timer()
    states = col._backend.get_scheduling_states(card_id)
    col.sched.answer_card(col.sched.build_answer(card=card, states=states, rating=CardAnswer.EASY))


def scheduling(col: Collection, card_id: int) -> tuple:
    return tuple(
        col.db.first(
            "SELECT type, queue, due, ivl, factor, reps, lapses FROM cards WHERE id = ?", card_id
        )
    )


# -- first import -------------------------------------------------------------------


def test_first_import_puts_each_note_in_its_topic_deck_with_fields_and_tags(tmp_path):
    out = tmp_path / "quizcnn.apkg"
    result = cli("export", "anki", "-o", str(out), "--no-proofs")
    assert result.exit_code == 0, result.output
    assert "6 notes in 2 deck(s)" in " ".join(result.output.split())

    col = new_collection(tmp_path)
    log = import_package(col, out)
    assert len(log.new) == 6 and not log.duplicate and not log.conflicting

    notetype = col.models.by_name("quizcnn")
    assert notetype is not None and notetype["id"] == MODEL_ID
    assert [f["name"] for f in notetype["flds"]] == list(FIELDS)
    notes = notes_by_id(col)
    assert set(notes) == set(BANK_ORDER)
    for card_id, note in notes.items():
        assert note.note_type()["name"] == "quizcnn"
        assert note.guid == genanki.guid_for("quizcnn", card_id)

    def deck_of(card_id: str) -> str:
        return col.decks.name(notes[card_id].cards()[0].did)

    assert {deck_of(i) for i in BANK_ORDER[:3]} == {"quizcnn::Anki fixture: convolutions"}
    assert {deck_of(i) for i in BANK_ORDER[3:]} == {"quizcnn::Anki fixture: normalization"}
    assert sorted(notes["ax-bn-axes"].tags) == [
        "quizcnn::axnorm",
        "quizcnn::tag::normalization",
        "quizcnn::tag::pytorch",
    ]
    assert notes["ax-momentum"].tags == ["quizcnn::axconv", "quizcnn::tag::normalization"]

    # new cards come in bank order
    cards = sorted((n.cards()[0] for n in notes.values()), key=lambda c: c.due)
    assert [col.get_note(c.nid)["Id"] for c in cards] == BANK_ORDER


def test_fields_keep_math_markdown_choices_and_numbers(tmp_path):
    out = tmp_path / "quizcnn.apkg"
    assert cli("export", "anki", "-o", str(out), "--no-proofs").exit_code == 0
    col = new_collection(tmp_path)
    import_package(col, out)
    notes = notes_by_id(col)

    axes = notes["ax-bn-axes"]
    # math delimiters and LaTeX arrive as written; only <, >, & are entities
    assert r"\[ \mu_c = \frac{1}{NHW} \sum_{n,h,w} x_{nchw}, \qquad" in axes["Explanation"]
    assert r"\( \text{seq\_len} \)" in axes["Explanation"]
    assert r"\( x_i &lt; y_i \)" in axes["Explanation"]
    assert r"\( \mu_c = \frac{1}{NHW}\sum x \)" in axes["Back"]
    assert "<strong>per channel</strong>" in axes["Explanation"]
    assert "<ul><li>LayerNorm instead uses <em>one sample</em>;</li>" in axes["Explanation"]
    assert (
        '<pre><code class="language-python">mu = x.mean(dim=(0, 2, 3))  # a &lt; b stays text'
        in axes["Explanation"]
    )
    assert 'href="https://arxiv.org/abs/1502.03167"' in axes["Sources"]
    assert "Run it: <code>quizcnn explain ax-bn-axes --run</code>" in axes["Proof"]

    choice = notes["ax-bn-params"]
    assert re.findall(r"<li>(.*?)</li>", choice["Front"]) == ["64", "128", "256"]
    assert "b) 128" in choice["Back"]

    numeric = notes["ax-momentum"]
    assert "within ± 0.0001" in numeric["Front"]
    assert "0.1 <span" in numeric["Back"]
    assert "Answer with a number in px (exact)." in notes["ax-rf-two-convs"]["Front"]
    assert "5 px <span" in notes["ax-rf-two-convs"]["Back"]

    generated = notes["ax-gen-output-size"]
    assert "Recall the formula" in generated["Front"]
    assert r"\( \lfloor (H + 2p - d(k-1) - 1)/s \rfloor + 1 \)" in generated["Back"]
    assert "Worked example" in generated["Back"]


def test_a_script_in_a_question_is_stored_escaped(tmp_path):
    out = tmp_path / "quizcnn.apkg"
    assert cli("export", "anki", "-o", str(out), "--no-proofs").exit_code == 0
    col = new_collection(tmp_path)
    import_package(col, out)
    note = notes_by_id(col)["ax-script"]
    assert (
        '&lt;script&gt;alert("owned")&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;' in note["Front"]
    )
    assert "1 &lt; 2 &amp; 3 &gt; 2" in note["Back"]
    assert "&lt;em&gt;never&lt;/em&gt;" in note["Explanation"]
    rendered = note.cards()[0].question() + note.cards()[0].answer()
    assert "<script>alert" not in rendered and "<b>bold" not in rendered


def test_css_and_fields_carry_no_inline_colours(tmp_path):
    out = tmp_path / "quizcnn.apkg"
    bank = fixture_bank()
    results = {
        "activations": fake_result("activations"),
        "receptive_field": fake_result("receptive_field"),
    }
    export_anki(bank, out, proof_results=results, now=T0)
    notes, models, _ = package_tables(out, tmp_path)
    model = models[str(MODEL_ID)]
    for _, _, _, _, flds in notes:
        assert "style=" not in flds and "color" not in flds
    for template in model["tmpls"]:
        assert "style=" not in template["qfmt"] + template["afmt"]
    card_rule = re.search(r"\.card \{([^}]*)\}", CSS).group(1)
    assert "color" not in card_rule and "background" not in card_rule  # the theme decides
    assert ".nightMode " in CSS and ".night_mode " in CSS


# -- re-imports -----------------------------------------------------------------------


def test_unchanged_reexport_has_the_same_guids_and_model_and_adds_nothing(tmp_path):
    bank = fixture_bank()
    first, second = tmp_path / "first.apkg", tmp_path / "second.apkg"
    export_anki(bank, first, now=T0)
    done = export_anki(bank, second, now=T0 + 3600)
    assert done.new == [] and done.changed == []

    notes_1, models_1, _ = package_tables(first, tmp_path)
    notes_2, models_2, _ = package_tables(second, tmp_path)
    assert [n[0] for n in notes_1] == [n[0] for n in notes_2]  # GUIDs
    assert models_1 == models_2  # the note type, its modification time included
    assert [n[2] for n in notes_1] == [n[2] for n in notes_2] == [T0] * 6

    col = new_collection(tmp_path)
    import_package(col, first)
    # the user edits a note in Anki; an unchanged export must not overwrite it
    momentum = notes_by_id(col)["ax-momentum"]
    momentum["Back"] = "my own words"
    col.update_note(momentum)

    log = import_package(col, second)
    assert not log.new and not log.updated and not log.conflicting
    assert len(log.duplicate) == 6  # found, already up to date: nothing added
    assert col.note_count() == 6 and col.card_count() == 6
    names = [m.name for m in col.models.all_names_and_ids()]
    assert names.count("quizcnn") == 1 and not [n for n in names if n.startswith("quizcnn+")]
    assert notes_by_id(col)["ax-momentum"]["Back"] == "my own words"


def test_an_edited_answer_updates_exactly_that_note_and_keeps_its_scheduling(tmp_path):
    folder = tmp_path / "bank"
    shutil.copytree(FIXTURES, folder)
    first, second = tmp_path / "first.apkg", tmp_path / "second.apkg"
    export_anki(fixture_bank(folder), first, now=T0)

    col = new_collection(tmp_path)
    import_package(col, first)
    before = notes_by_id(col)
    card_id = before["ax-momentum"].cards()[0].id
    answer_easy(col, card_id)
    reviewed = scheduling(col, card_id)
    assert reviewed[0] == 2 and reviewed[3] > 0  # a review card with an interval
    reviews = col.db.scalar("SELECT count() FROM revlog WHERE cid = ?", card_id)
    other_mtimes = {i: n.mod for i, n in before.items() if i != "ax-momentum"}

    topic_file = folder / "axconv.yaml"
    old = "answer: 0.1, since new = 0.9 · old + 0.1 · batch."
    assert old in topic_file.read_text(encoding="utf-8")
    topic_file.write_text(
        topic_file.read_text(encoding="utf-8").replace(
            old, "answer: 0.1, because PyTorch's momentum weights the NEW value."
        ),
        encoding="utf-8",
    )
    done = export_anki(fixture_bank(folder), second, now=T0 + 3600)
    assert done.changed == ["ax-momentum"] and done.new == []
    # the note type did not change, so it keeps its time: styling edited in Anki survives
    assert package_tables(first, tmp_path)[1] == package_tables(second, tmp_path)[1]
    notetype = col.models.by_name("quizcnn")
    notetype["css"] += "\n.card { font-size: 30px; }"
    col.models.update_dict(notetype)

    log = import_package(col, second)
    assert [n.fields[FIELDS.index("Id")] for n in log.updated] == ["ax-momentum"]
    assert not log.new and not log.conflicting
    after = notes_by_id(col)
    assert "weights the NEW value" in after["ax-momentum"]["Back"]
    assert scheduling(col, card_id) == reviewed
    assert col.db.scalar("SELECT count() FROM revlog WHERE cid = ?", card_id) == reviews
    assert {i: n.mod for i, n in after.items() if i != "ax-momentum"} == other_mtimes
    assert col.note_count() == 6
    assert col.models.by_name("quizcnn")["css"].endswith(".card { font-size: 30px; }")


# -- proofs and media -----------------------------------------------------------------


def test_every_media_reference_resolves_to_a_file_in_the_package(tmp_path):
    out = tmp_path / "quizcnn.apkg"
    results = {
        "activations": fake_result("activations"),
        "receptive_field": fake_result("receptive_field", depth=5),
        "unused": fake_result("unused", depth=7),  # cited by no exported card
    }
    done = export_anki(fixture_bank(), out, proof_results=results, now=T0)
    assert done.media == 2  # one chart per cited proof; the unused one is left out

    notes, _, media = package_tables(out, tmp_path)
    referenced = {src for *_, flds in notes for src in re.findall(r'<img src="([^"]+)"', flds)}
    assert referenced and referenced == set(media.values())
    with zipfile.ZipFile(out) as archive:
        for index, name in media.items():
            data = archive.read(index)
            assert data.startswith(b"\x89PNG\r\n\x1a\n")
            assert name == f"quizcnn-{hashlib.sha256(data).hexdigest()[:20]}.png"

    col = new_collection(tmp_path)
    import_package(col, out)
    media_dir = Path(col.media.dir())
    for note in notes_by_id(col).values():
        for src in re.findall(r'<img src="([^"]+)"', note["Proof"]):
            assert (media_dir / src).is_file()
    proof = notes_by_id(col)["ax-bn-axes"]["Proof"]
    assert "2 of 2 claims hold on cpu" in proof
    assert "round-off residual of an exact identity" in proof and "5.000e-16" in proof


def test_round_off_in_a_proof_is_not_a_change_but_a_new_value_is(tmp_path):
    bank = fixture_bank()
    export_anki(
        bank, tmp_path / "a.apkg", proof_results={"activations": fake_result("activations")}, now=T0
    )
    same = export_anki(
        bank,
        tmp_path / "b.apkg",
        proof_results={"activations": fake_result("activations", residual=6e-16)},
        now=T0 + 1,
    )
    assert same.changed == []
    moved = export_anki(
        bank,
        tmp_path / "c.apkg",
        proof_results={"activations": fake_result("activations", slope=0.6)},
        now=T0 + 2,
    )
    assert moved.changed == ["ax-bn-axes", "ax-bn-params"]  # the cards citing it


def test_with_proofs_runs_each_linked_proof_once_on_cpu(tmp_path, monkeypatch):
    import quizcnn.proofs

    calls = []
    real_run = quizcnn.proofs.run_proof

    def counting_run(name, device="cpu", **kwargs):
        calls.append((name, device))
        return real_run(name, device=device, **kwargs)

    monkeypatch.setattr(quizcnn.proofs, "run_proof", counting_run)
    out = tmp_path / "proofs.apkg"
    result = cli("export", "anki", "-o", str(out), "--with-proofs")
    assert result.exit_code == 0, result.output
    assert sorted(calls) == [("activations", "cpu"), ("receptive_field", "cpu")]

    notes, _, media = package_tables(out, tmp_path)
    fields = {f.split("\x1f")[FIELDS.index("Id")]: f.split("\x1f") for *_, f in notes}
    proof = fields["ax-rf-two-convs"][FIELDS.index("Proof")]
    assert re.search(r"\d+ of \d+ claims hold on cpu", proof)
    assert '<table class="qz-table qz-claims">' in proof
    referenced = {src for *_, flds in notes for src in re.findall(r'<img src="([^"]+)"', flds)}
    assert referenced and referenced <= set(media.values())


# -- refusals and errors -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["collection.apkg", "Collection.apkg", "backup-2024-01-01.apkg"])
def test_refuses_names_anki_treats_as_a_collection_restore(tmp_path, name):
    result = cli("export", "anki", "-o", str(tmp_path / name), "--no-proofs")
    assert result.exit_code == 2
    assert "full-collection restore" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / name).exists()


def test_a_topic_option_exports_only_that_topic(tmp_path):
    out = tmp_path / "one.apkg"
    result = cli("export", "anki", "-o", str(out), "--no-proofs", "--topic", "ax-bn")
    assert result.exit_code == 0, result.output
    notes, _, _ = package_tables(out, tmp_path)
    ids = sorted(flds.split("\x1f")[FIELDS.index("Id")] for *_, flds in notes)
    assert ids == ["ax-bn-axes", "ax-bn-params", "ax-script"]

    unknown = cli("export", "anki", "-o", str(out), "--no-proofs", "--topic", "axnrom")
    assert unknown.exit_code == 2 and "axnorm" in unknown.output


def test_an_unreadable_state_file_is_one_line_and_writes_nothing(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "export_state.json").write_text("{not json", encoding="utf-8")
    out = tmp_path / "x.apkg"
    result = cli("export", "anki", "-o", str(out), "--no-proofs")
    assert result.exit_code == 2
    assert "export state" in result.output and "Traceback" not in result.output
    assert not out.exists()


# -- the HTML and PNG pieces on their own ---------------------------------------------------


def test_markdown_leaves_math_and_identifiers_alone():
    from quizcnn.export.html import inline_html, markdown_html

    assert inline_html(r"snake_case_name and \( a*b*c \) and *x*") == (
        r"snake_case_name and \( a*b*c \) and <em>x</em>"
    )
    assert inline_html("`<tag>` & **b**") == "<code>&lt;tag&gt;</code> &amp; <strong>b</strong>"
    assert inline_html(r"a literal \* star") == "a literal * star"
    html = markdown_html("1. one\n2. two\n\npara *it*\n\n```\n<b>\n```\n")
    assert (
        html
        == "<ol><li>one</li><li>two</li></ol>\n<p>para <em>it</em></p>\n<pre><code>&lt;b&gt;</code></pre>"
    )


def test_charts_are_valid_deterministic_pngs():
    import struct
    import zlib

    from quizcnn.export.png import bar_chart_png

    series = Series("t", "x", "y", ["a", "b", "c"], {"one": [-1.0, 2.0, 3.5], "two": [1, 1, 1]})
    data = bar_chart_png(series)
    assert data == bar_chart_png(series)  # same numbers, same bytes, same file name
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    chunks, offset = {}, 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + body)
        chunks[kind] = body
        offset += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 6)  # 8-bit RGBA
    assert len(zlib.decompress(chunks[b"IDAT"])) == height * (1 + 4 * width)
    assert b"IEND" in chunks


def test_a_chinese_export_imports_and_a_zh_en_re_export_updates_the_same_notes(tmp_path):
    """GUIDs come from card ids alone: switching language updates notes, adds none."""
    from anki_collection import import_package, new_collection, notes_by_id

    runner = CliRunner()
    topics = ["--topic", "bn", "--topic", "code_layers", "--no-proofs"]
    zh = tmp_path / "zh.apkg"
    result = runner.invoke(app, ["--lang", "zh", "export", "anki", "-o", str(zh), *topics])
    assert result.exit_code == 0, result.output
    col = new_collection(tmp_path)
    try:
        import_package(col, zh)
        first = notes_by_id(col)
        count = len(first)
        assert "沿哪些轴" in first["bn-normalizes-over"]["Front"]
        assert "Over which axes" not in first["bn-normalizes-over"]["Front"]
        assert "☐" in first["bn-normalizes-over"]["Back"]  # the key points, a checklist
        code = first["code-bn-forward"]
        assert (
            "def batchnorm_forward" in code["Front"]
            and "quizcnn solve code-bn-forward" in code["Back"]
        )
        both = tmp_path / "both.apkg"
        again = runner.invoke(app, ["export", "anki", "--lang", "zh+en", "-o", str(both), *topics])
        assert again.exit_code == 0, again.output
        import_package(col, both)
        second = notes_by_id(col)
        assert len(second) == count  # updated in place, none added
        assert "沿哪些轴" in second["bn-normalizes-over"]["Front"]
        assert "Over which axes" in second["bn-normalizes-over"]["Front"]
    finally:
        col.close()


def test_a_timed_note_writes_the_rows_genanki_itself_writes(tmp_path):
    """TimedNote writes its note and card rows itself; they are genanki's, value for
    value, with the note's own modification time where genanki puts the package's."""
    import itertools

    from genanki.apkg_schema import APKG_SCHEMA

    from quizcnn.export.anki import CARD_INSERT, NOTE_INSERT, TimedNote, quizcnn_model

    model = quizcnn_model(T0)
    fields = ["<b>front</b>", "back", "<p>why</p>", "proof", "sources", "ax-id"]
    tags = ["normalization", "quizcnn::bn"]
    rows = []
    for name in ("genanki", "timed"):
        db = sqlite3.connect(tmp_path / f"{name}.db")
        db.executescript(APKG_SCHEMA)
        ids = itertools.count(1_000)
        if name == "genanki":
            note = genanki.Note(model=model, fields=fields, tags=tags, guid="g#1", due=7)
            note.write_to_db(db.cursor(), T0 + 60, 42, ids)
        else:
            note, card = TimedNote(model, fields, tags, "g#1", 7, T0 + 60).rows(42, ids)
            db.execute(NOTE_INSERT, note)
            db.execute(CARD_INSERT, card)
        rows.append(
            (
                db.execute("SELECT * FROM notes").fetchall(),
                db.execute("SELECT * FROM cards").fetchall(),
            )
        )
        db.close()
    assert rows[0] == rows[1]
    assert len(rows[0][0]) == 1 and len(rows[0][1]) == 1


def test_genanki_finds_no_raw_html_tag_in_any_field_of_the_shipped_bank():
    """The check a TimedNote skips (genanki warns of tags that look unescaped) is
    silent on every field of the real bank, Proof fields with tables and charts too."""
    from quizcnn.export.fields import Proofs, note_contents
    from quizcnn.proofs import proof_titles

    bank = load_bank()
    titles = proof_titles()
    results = {name: fake_result(name) for name in titles}
    with_results = list(note_contents(bank.cards, bank.topics, Proofs(results, titles)))
    without = list(note_contents(bank.cards, bank.topics, Proofs(None, titles)))
    flagged = [
        (content.card_id, tag)
        for content in [*with_results, *without]
        for field in content.fields
        for tag in genanki.Note._find_invalid_html_tags_in_field(field)
    ]
    assert flagged == []
    assert len(with_results) == len(bank.cards) > 500
    assert genanki.Note._find_invalid_html_tags_in_field("x <- y > z")  # what it would flag


def test_an_export_leaves_nothing_in_the_temporary_folder(tmp_path, monkeypatch):
    """genanki's own write_to_file leaves its collection database in the system's
    temporary folder at every export; ours zips it from a scratch folder it removes."""
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out = tmp_path / "quizcnn.apkg"
    results = {"activations": fake_result("activations")}  # a chart: a media file too
    export_anki(fixture_bank(), out, proof_results=results, now=T0)
    assert list(scratch.iterdir()) == []
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        media = json.loads(archive.read("media"))
    assert names[:2] == ["collection.anki2", "media"] and len(names) == 2 + len(media) > 2
    assert sorted(media) == [str(i) for i in range(len(media))]
