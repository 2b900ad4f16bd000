"""The export's render cache, its forked render workers and the HTML renderer's fast paths.

The cache (quizcnn/export/cache.py) keeps each card's rendered fields beside the
export state, keyed by a digest of the card's source; the tests count which
cards an export renders, and check that what comes out of the cache (or out of
a worker) is exactly what rendering would give.
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
import shutil
from pathlib import Path

import genanki
import pytest
from test_export_anki import FIXTURES, T0, fake_result, fixture_bank, package_tables

from quizcnn.export import cache as render_cache
from quizcnn.export import fields
from quizcnn.export.anki import export_anki
from quizcnn.export.cache import RenderCache, cache_path
from quizcnn.export.html import inline_html, markdown_html, source_html
from quizcnn.export.workers import Forked

ALL_IDS = {"ax-rf-two-convs", "ax-momentum", "ax-bn-axes", "ax-script", "ax-bn-params"}
# ax-gen-output-size draws a worked example from its generator, whose code no key
# covers: it is rendered at every export.
GENERATED = "ax-gen-output-size"


@pytest.fixture
def rendered(monkeypatch) -> list[str]:
    """The ids of the cards each export renders (in this process), in order."""
    seen: list[str] = []
    real = fields.NoteContents._render

    def counting(self, i):
        seen.append(self.cards[i].id)
        return real(self, i)

    monkeypatch.setattr(fields.NoteContents, "_render", counting)
    return seen


def notes_of(path: Path, tmp_path: Path) -> list[tuple]:
    """(guid, mod, tags, fields) of every note in an .apkg."""
    return [
        (guid, mod, tags, flds) for guid, _, mod, tags, flds in package_tables(path, tmp_path)[0]
    ]


def fresh_export(bank, tmp_path: Path, name: str, **kwargs) -> list[tuple]:
    """What an export with no state and no cache writes."""
    folder = tmp_path / f"fresh-{name}"
    folder.mkdir()
    export_anki(bank, folder / "x.apkg", state_path=folder / "state.json", **kwargs)
    return notes_of(folder / "x.apkg", tmp_path)


# -- the cache is used -----------------------------------------------------------------


def test_the_cache_lies_beside_the_state_and_an_unchanged_export_renders_nothing(
    tmp_path, isolated_home, rendered
):
    bank = fixture_bank()
    export_anki(bank, tmp_path / "a.apkg", now=T0)
    assert sorted(rendered) == sorted([*ALL_IDS, GENERATED])
    assert (isolated_home / "export_state.render-cache").is_file()

    rendered.clear()
    state_before = (isolated_home / "export_state.json").stat().st_mtime_ns
    done = export_anki(bank, tmp_path / "b.apkg", now=T0 + 60)
    assert rendered == [GENERATED]
    assert done.new == [] and done.changed == []
    assert notes_of(tmp_path / "b.apkg", tmp_path) == notes_of(tmp_path / "a.apkg", tmp_path)
    # nothing changed: the state is not written again
    assert (isolated_home / "export_state.json").stat().st_mtime_ns == state_before


def test_an_edited_card_alone_is_rendered_again(tmp_path, rendered):
    folder = tmp_path / "bank"
    shutil.copytree(FIXTURES, folder)
    export_anki(fixture_bank(folder), tmp_path / "a.apkg", now=T0)
    topic_file = folder / "axconv.yaml"
    text = topic_file.read_text(encoding="utf-8")
    topic_file.write_text(text.replace("0.1 · batch.", "0.1 · <batch>."), encoding="utf-8")

    rendered.clear()
    done = export_anki(fixture_bank(folder), tmp_path / "b.apkg", now=T0 + 60)
    assert sorted(rendered) == ["ax-gen-output-size", "ax-momentum"]
    assert done.changed == ["ax-momentum"]
    notes = notes_of(tmp_path / "b.apkg", tmp_path)
    assert [n[3] for n in notes] == [
        n[3] for n in fresh_export(fixture_bank(folder), tmp_path, "e")
    ]
    assert any("0.1 · &lt;batch&gt;." in n[3] for n in notes)


@pytest.mark.parametrize(
    "change",
    [
        {"question": "Another question?"},
        {"answer": "Another answer."},
        {"explanation": "Another *explanation*."},
        {"choices": ("64", "128", "512")},
        {"correct": "64"},
        {"value": 0.2},
        {"tolerance": 0.5},
        {"unit": "mm"},
        {"generator": "conv_output_size"},
        {"tags": ("other",)},
        {"topic": "elsewhere"},
        {"id": "ax-other"},
        {"sources": ()},
    ],
)
def test_the_source_key_moves_with_every_field_a_note_shows(change):
    card = next(c for c in fixture_bank().cards if c.id == "ax-bn-params")
    key = fields.source_key(card, "quizcnn::deck")
    assert fields.source_key(dataclasses.replace(card, **change), "quizcnn::deck") != key
    assert fields.source_key(card, "quizcnn::another deck") != key
    assert fields.source_key(card, "quizcnn::deck") == key  # and stays put otherwise


def test_the_source_key_is_unambiguous_even_with_nul_in_a_text():
    card = next(c for c in fixture_bank().cards if c.id == "ax-bn-params")
    one = dataclasses.replace(card, question="a\x00b", answer="c")
    other = dataclasses.replace(card, question="a", answer="b\x00c")
    assert fields.source_key(one, "d") != fields.source_key(other, "d")


# -- ... and not used where it must not be -------------------------------------------------


def test_a_new_proof_result_reaches_the_notes_though_the_cards_are_not_rendered_again(
    tmp_path, rendered
):
    """The cache keeps a card's own fields, never its Proof field: a new result is
    in the note (and marks it changed) without the card being rendered again, and
    round-off in the result is no change."""
    bank = fixture_bank()
    export_anki(
        bank, tmp_path / "a.apkg", proof_results={"activations": fake_result("activations")}, now=T0
    )
    rendered.clear()
    same = export_anki(
        bank,
        tmp_path / "b.apkg",
        proof_results={"activations": fake_result("activations", residual=6e-16)},
        now=T0 + 1,
    )
    assert same.changed == [] and rendered == [GENERATED]
    results = {"activations": fake_result("activations", slope=0.6)}
    moved = export_anki(bank, tmp_path / "c.apkg", proof_results=results, now=T0 + 2)
    assert moved.changed == ["ax-bn-axes", "ax-bn-params"]
    assert rendered == [GENERATED, GENERATED]
    notes = notes_of(tmp_path / "c.apkg", tmp_path)
    fresh = fresh_export(bank, tmp_path, "proof", proof_results=results, now=T0 + 2)
    assert [n[3] for n in notes] == [n[3] for n in fresh]
    proof = next(n[3] for n in notes if "ax-bn-params" in n[3]).split("\x1f")[3]
    assert "fitted slope" in proof and "0.6" in proof

    rendered.clear()  # and back to no results: the reference to the proof, still no rendering
    export_anki(bank, tmp_path / "d.apkg", now=T0 + 3)
    assert rendered == [GENERATED]
    assert [n[3] for n in notes_of(tmp_path / "d.apkg", tmp_path)] == [
        n[3] for n in fresh_export(bank, tmp_path, "none", now=T0 + 3)
    ]


def test_a_new_renderer_version_renders_everything_and_changes_no_note(
    tmp_path, rendered, monkeypatch
):
    bank = fixture_bank()
    export_anki(bank, tmp_path / "a.apkg", now=T0)
    monkeypatch.setattr(fields, "RENDER_VERSION", fields.RENDER_VERSION + 1)
    rendered.clear()
    done = export_anki(bank, tmp_path / "b.apkg", now=T0 + 60)
    assert sorted(rendered) == sorted([*ALL_IDS, GENERATED])
    assert done.changed == []  # the same HTML: no note moves
    rendered.clear()
    export_anki(bank, tmp_path / "c.apkg", now=T0 + 120)
    assert rendered == [GENERATED]  # the cache was rewritten under the new version


def damage_garbage(path: Path) -> None:
    path.write_bytes(os.urandom(4000))


def damage_truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-500])


def damage_flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x20  # one character of some field
    path.write_bytes(bytes(data))


def damage_empty(path: Path) -> None:
    path.write_bytes(b"")


def damage_other_version(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data.replace(b"render cache 1 ", b"render cache 99 ", 1))


def damage_records(path: Path) -> None:
    """A record short of values, under a header whose digest matches."""
    import hashlib

    header, _, body = path.read_bytes().partition(b"\n")
    body = body.replace(render_cache.US_BYTE, b"", 3)
    digest = hashlib.sha256(body).hexdigest().encode()
    path.write_bytes(header.rsplit(b" ", 1)[0] + b" " + digest + b"\n" + body)


def damage_folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


@pytest.mark.parametrize(
    "damage",
    [
        damage_garbage,
        damage_truncate,
        damage_flip,
        damage_empty,
        damage_other_version,
        damage_records,
        damage_folder,
    ],
)
def test_a_damaged_cache_is_ignored_never_fatal(tmp_path, isolated_home, rendered, damage):
    bank = fixture_bank()
    export_anki(bank, tmp_path / "a.apkg", now=T0)
    damage(isolated_home / "export_state.render-cache")

    rendered.clear()
    done = export_anki(bank, tmp_path / "b.apkg", now=T0 + 60)
    assert done.changed == [] and done.new == []
    assert notes_of(tmp_path / "b.apkg", tmp_path) == notes_of(tmp_path / "a.apkg", tmp_path)
    if damage is damage_records:  # the file's digest holds: only the broken record is out
        assert sorted(rendered) == sorted(["ax-rf-two-convs", GENERATED])
    else:  # not ours, or a byte changed anywhere: nothing of it is trusted
        assert sorted(rendered) == sorted([*ALL_IDS, GENERATED])
    if damage is not damage_folder:  # written whole again: the next export renders nothing
        rendered.clear()
        export_anki(bank, tmp_path / "c.apkg", now=T0 + 120)
        assert rendered == [GENERATED]


def with_card(bank, card_id: str, **changes):
    """The bank with one card changed."""
    card = dataclasses.replace(bank.by_id[card_id], **changes)
    topic = bank.topics[card.topic]
    cards = tuple(card if c.id == card_id else c for c in topic.cards)
    topics = {**bank.topics, topic.name: topic._replace(cards=cards)}
    return dataclasses.replace(
        bank, topics=topics, cards=[card if c.id == card_id else c for c in bank.cards]
    )


def test_a_value_that_cannot_be_stored_is_rendered_every_time(tmp_path, rendered):
    bank = with_card(fixture_bank(), "ax-momentum", answer="0.1\x1f since new = 0.9 old")
    export_anki(bank, tmp_path / "a.apkg", now=T0)
    rendered.clear()
    export_anki(bank, tmp_path / "b.apkg", now=T0 + 60)
    assert sorted(rendered) == ["ax-gen-output-size", "ax-momentum"]
    assert notes_of(tmp_path / "b.apkg", tmp_path) == notes_of(tmp_path / "a.apkg", tmp_path)


def test_an_old_cache_entry_of_a_card_no_longer_in_the_bank_is_dropped(tmp_path, isolated_home):
    bank = fixture_bank()
    export_anki(bank, tmp_path / "a.apkg", now=T0)
    path = isolated_home / "export_state.render-cache"
    assert "ax-script" in RenderCache.load(path, fields.renderer_key())
    smaller = dataclasses.replace(bank, cards=[c for c in bank.cards if c.id != "ax-script"])
    export_anki(smaller, tmp_path / "b.apkg", now=T0 + 60)
    kept = RenderCache.load(path, fields.renderer_key())
    assert "ax-script" not in kept and "ax-momentum" in kept


# -- forked workers --------------------------------------------------------------------


@pytest.fixture
def forced_workers(monkeypatch) -> list[int]:
    """Every batch, however small, rendered with two forked workers; the list
    holds the number of chunks of each batch that went to the workers."""
    forks: list[int] = []

    class Counted(Forked):
        def __init__(self, work, chunks, workers):
            super().__init__(work, chunks, workers)
            forks.append(len(chunks))

    monkeypatch.setattr(fields, "worker_count", lambda tasks, minimum: 2 if tasks else 0)
    monkeypatch.setattr(fields, "Forked", Counted)
    return forks


def exports_of(bank, edited_bank, tmp_path: Path, name: str) -> tuple:
    folder = tmp_path / name
    folder.mkdir()
    export_anki(bank, folder / "a.apkg", state_path=folder / "s.json", now=T0)  # all new: deferred
    export_anki(edited_bank, folder / "b.apkg", state_path=folder / "s.json", now=T0 + 60)
    return (
        notes_of(folder / "a.apkg", tmp_path),
        notes_of(folder / "b.apkg", tmp_path),
        (folder / "s.json").read_text(),
        cache_path(folder / "s.json").read_bytes(),
    )


def edited_bank():
    bank = fixture_bank()
    for card_id in ("ax-momentum", "ax-bn-params", "ax-script"):
        bank = with_card(bank, card_id, answer=f"A new answer for {card_id} <b>.")
    return bank


def test_forked_workers_write_exactly_what_the_parent_alone_writes(tmp_path, request):
    bank, changed = fixture_bank(), edited_bank()
    alone = exports_of(bank, changed, tmp_path, "alone")
    forks = request.getfixturevalue("forced_workers")
    forked = exports_of(bank, changed, tmp_path, "forked")
    assert forked == alone
    assert len(forks) == 2 and all(forks)  # both exports had chunks rendered by workers


def test_a_worker_that_fails_costs_only_speed(tmp_path, monkeypatch, capfd, forced_workers):
    parent = os.getpid()
    real = fields.NoteContents._render_chunk

    def failing_in_children(self, chunk):
        if os.getpid() != parent:
            raise RuntimeError("a child that breaks")
        return real(self, chunk)

    bank = fixture_bank()
    expected = fresh_export(bank, tmp_path, "expected", now=T0)
    monkeypatch.setattr(fields.NoteContents, "_render_chunk", failing_in_children)
    assert fresh_export(bank, tmp_path, "failing", now=T0) == expected
    assert forced_workers  # (it did fork)
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # the children leave quietly


def test_without_fork_the_parent_renders_alone(tmp_path, monkeypatch, forced_workers):
    bank = fixture_bank()
    expected = fresh_export(bank, tmp_path, "expected", now=T0)

    def no_fork():
        raise BlockingIOError("Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    assert fresh_export(bank, tmp_path, "no-fork", now=T0) == expected


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_forked_results_come_back_in_order_and_children_are_reaped(workers):
    chunks = [list(range(k, k + 3)) for k in range(0, 30, 3)]

    def work(chunk):
        return [i * i for i in chunk]

    with Forked(work, chunks, workers) as forked:
        pids = list(forked._pids)
        assert [forked.result(k) for k in range(len(chunks))] == [work(c) for c in chunks]
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


@pytest.mark.skipif(not hasattr(__import__("fcntl"), "F_GETPIPE_SZ"), reason="Linux pipes")
def test_a_childs_results_pipe_holds_several_chunks():
    """A chunk's result is larger than a pipe's default 64 KiB; with it, a child
    waited on the parent's reader thread for about 40% of a 10,000-card export."""
    import fcntl

    limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
    with Forked(lambda chunk: ["x" * 100_000 for _ in chunk], [[0], [1]], 1) as forked:
        sizes = [fcntl.fcntl(c.fileno(), fcntl.F_GETPIPE_SZ) for c in forked._conns]
        assert [forked.result(k) for k in range(2)] == [["x" * 100_000]] * 2
    assert sizes == [min(1 << 20, limit)] or limit < 1 << 20


def test_a_child_that_dies_leaves_its_chunks_to_the_parent():
    parent = os.getpid()

    def work(chunk):
        if os.getpid() != parent and chunk[0] >= 6:
            os._exit(3)  # killed half way
        return [i + 1 for i in chunk]

    chunks = [[i, i + 1] for i in range(0, 12, 2)]
    with Forked(work, chunks, 1) as forked:
        assert [forked.result(k) for k in range(len(chunks))] == [
            [i + 1, i + 2] for i in range(0, 12, 2)
        ]


# -- the renderer's fast paths ---------------------------------------------------------------


def test_guids_are_genankis():
    ids = [f"card-{i}" for i in range(3000)] + ["", "ünï-ç0de", "ax-bn-axes"]
    assert [fields.guid(i) for i in ids] == [genanki.guid_for("quizcnn", i) for i in ids]


# Outputs of the renderer before it was made fast (regex substitutions, one pass each),
# for inputs that reach every branch of the new code: the HTML must not change, since
# a note whose HTML changes counts as changed and overwrites edits made in Anki.
MARKDOWN = {
    "``a`b`` and `c` and ``` `` ```": "<p><code>a`b</code> and <code>c</code> and <code>``</code></p>",
    "\\(\\) x \\) and \\( unclosed": "<p>\\(\\) x \\) and \\( unclosed</p>",
    "\\[ a\n  b \\] then *it* and **bold** and _und_ and snake_case_name": (
        "<p>\\[ a\n  b \\] then <em>it</em> and <strong>bold</strong> and <em>und</em> and "
        "snake_case_name</p>"
    ),
    "# Title #\n## sub\n####### seven": "<h3>Title</h3>\n<h4>sub</h4>\n<p>####### seven</p>",
    "- one\n  continued\n- two\n1. three\n2) four\n\npara\n- five": (
        "<ul><li>one continued</li><li>two</li></ul>\n<ol><li>three</li><li>four</li></ol>\n"
        "<p>para</p>\n<ul><li>five</li></ul>"
    ),
    "para line\n- item after para\n  indented\nnext": (
        "<p>para line</p>\n<ul><li>item after para indented next</li></ul>"
    ),
    "```python\nx < 1\n~~~\n```\nafter\n~~~\nunclosed <b>": (
        '<pre><code class="language-python">x &lt; 1\n~~~</code></pre>\n<p>after</p>\n'
        "<pre><code>unclosed &lt;b&gt;</code></pre>"
    ),
    "````\n```\ninner\n````\ntail *x*": "<pre><code>```\ninner</code></pre>\n<p>tail <em>x</em></p>",
    "\\* not em \\* and \\_ and \\` and \\# h": "<p>* not em * and _ and ` and # h</p>",
    "a & b < c > d \x00 e\r\nf": "<p>a &amp; b &lt; c &gt; d  e f</p>",
    "  \n\n  ": "",
    "***both*** and **a*b** and *a**b*": (
        "<p><strong><em>both</strong></em> and <strong>a*b</strong> and <em>a**b</em></p>"
    ),
}
INLINE = {
    "64": "64",
    "a<b & c": "a&lt;b &amp; c",
    "`<tag>` & **b**": "<code>&lt;tag&gt;</code> &amp; <strong>b</strong>",
    "line\nbreak *em*": "line<br>break <em>em</em>",
    "\\( x < y \\) and \\[ z \\]": "\\( x &lt; y \\) and \\[ z \\]",
    "  padded  ": "padded",
    "x\x00y": "xy",
}
SOURCES = {
    "Ioffe & Szegedy, arXiv:1502.03167 <x>": (
        'Ioffe &amp; Szegedy, <a href="https://arxiv.org/abs/1502.03167">arXiv:1502.03167</a> '
        "&lt;x&gt;"
    ),
    "see https://a.org/x?y=1&z=2, then": (
        'see <a href="https://a.org/x?y=1&amp;z=2">https://a.org/x?y=1&amp;z=2</a>, then'
    ),
    "plain <b>": "plain &lt;b&gt;",
    "no: colon <i>": "no: colon &lt;i&gt;",
}


@pytest.mark.parametrize("text", MARKDOWN)
def test_markdown_renders_as_before(text):
    assert markdown_html(text) == MARKDOWN[text]


@pytest.mark.parametrize("text", INLINE)
def test_inline_text_renders_as_before(text):
    assert inline_html(text) == INLINE[text]


@pytest.mark.parametrize("text", SOURCES)
def test_sources_render_as_before(text):
    assert source_html(text) == SOURCES[text]


TOKENS = [
    "a", "x_i", " ", "\n", "\n\n", "*", "**", "_", "`", "```", "~~~", "\\(", "\\)", "\\[",
    "\\]", "\\*", "\\", "#", "- ", "1. ", "<", ">", "&", '"', "<script>", "&amp;", "\x00",
    "http://x.org/?a=1&b=<2>", "arXiv:1502.03167", "é", "中",
]  # fmt: skip
OUR_TAGS = re.compile(
    r'</?(?:p|ul|ol|li|em|strong|code|pre|br|h[3-6])>|<code class="language-[\w+-]*">'
    r'|<a href="[^"<>]*">|</a>'
)


def test_every_character_the_author_wrote_is_escaped():
    """Whatever the markdown, the only tags are the renderer's own and every & starts
    an entity: no text reaches the HTML unescaped, on any of the fast paths."""
    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(rng.choice(TOKENS) for _ in range(rng.randint(0, 25)))
        for html in (markdown_html(text), inline_html(text), source_html(text)):
            rest = OUR_TAGS.sub("", html)
            assert "<" not in rest and ">" not in rest, (text, html)
            assert not re.search(r"&(?!amp;|lt;|gt;|quot;|#x27;)", rest), (text, html)
            assert "\x00" not in html


def test_a_reference_to_a_proof_escapes_its_title_and_names():
    bank = fixture_bank()
    proofs = fields.Proofs(titles={"activations": 'Gates <b>"open"</b> & shut'})
    notes = {n.card_id: n for n in fields.note_contents(bank.cards, bank.topics, proofs)}
    proof = notes["ax-bn-axes"].fields[fields.FIELDS.index("Proof")]
    assert proof == (
        '<div class="qz-proof-head"><code>activations</code> - Gates &lt;b&gt;"open"&lt;/b&gt; '
        '&amp; shut</div><div class="qz-muted">Run it: <code>quizcnn explain ax-bn-axes '
        "--run</code></div>"
    )
    assert notes["ax-momentum"].fields[fields.FIELDS.index("Proof")] == ""  # cites no proof
