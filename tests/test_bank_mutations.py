"""`quizcnn check` on mutated copies of the real topic files never crashes: every
mutation is answered with positioned issues (path:line:col: card: message) and exit 1.

Hypothesis draws the mutations: required keys deleted, values of the wrong type,
forbidden bytes, deep nesting, huge strings, YAML anchors and aliases (recursive
ones and a billion laughs), and tabs for indentation.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from quizcnn.bank import REQUIRED_CARD_KEYS, topic_files
from quizcnn.cli import app
from quizcnn.paths import BIBLIOGRAPHY_FILE, questions_dir

TOPIC_FILES = topic_files(questions_dir())
POSITIONED = re.compile(r"^\S+\.ya?ml:\d+:\d+: \S+: .+$", re.MULTILINE)
runner = CliRunner()
MUTATIONS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,  # the same draws on every run: CI is reproducible
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def check_folder(folder: Path):
    return runner.invoke(app, ["--no-builtin", "--bank", str(folder), "check"])


def bank_with(tmp_path: Path, name: str, content: bytes) -> Path:
    """A bank folder holding one (mutated) topic file and the shipped bibliography."""
    folder = tmp_path / "bank"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    shutil.copy(questions_dir() / BIBLIOGRAPHY_FILE, folder / BIBLIOGRAPHY_FILE)
    (folder / name).write_bytes(content)
    return folder


def assert_rejected_with_positions(result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert POSITIONED.search(result.output), result.output


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def dump(data) -> bytes:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10_000).encode()


topic_file = st.sampled_from(TOPIC_FILES)
wrong_value = st.one_of(
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def test_every_unmutated_copy_passes(tmp_path):
    for path in TOPIC_FILES:
        result = check_folder(bank_with(tmp_path, path.name, path.read_bytes()))
        assert result.exit_code == 0, result.output


@MUTATIONS
@given(path=topic_file, data=st.data())
def test_a_deleted_required_key(tmp_path, path, data):
    topic = load(path)
    if data.draw(st.booleans(), label="topic level"):
        key = data.draw(st.sampled_from(["format_version", "topic", "title", "cards"]))
        del topic[key]
    else:
        card = data.draw(st.sampled_from(topic["cards"]))
        del card[data.draw(st.sampled_from(REQUIRED_CARD_KEYS))]
    assert_rejected_with_positions(check_folder(bank_with(tmp_path, path.name, dump(topic))))


@MUTATIONS
@given(path=topic_file, data=st.data(), value=wrong_value)
def test_a_value_of_the_wrong_type(tmp_path, path, data, value):
    topic = load(path)
    card = data.draw(st.sampled_from(topic["cards"]))
    key = data.draw(st.sampled_from([k for k in REQUIRED_CARD_KEYS if k != "id"] + ["tags"]))
    if key == "tags" and (value is None or isinstance(value, list) and not value):
        value = 3  # an empty or null tag list is allowed
    card[key] = value
    assert_rejected_with_positions(check_folder(bank_with(tmp_path, path.name, dump(topic))))


@MUTATIONS
@given(
    path=topic_file,
    where=st.floats(0, 1),
    byte=st.sampled_from([b"\x00", b"\x07", b"\x1b", b"\x7f", b"\x80", b"\xfe\xff", b"\xff"]),
)
def test_a_forbidden_byte_anywhere(tmp_path, path, where, byte):
    raw = path.read_bytes()
    at = int(where * len(raw))
    while at < len(raw) and 0x80 <= raw[at] < 0xC0:  # not inside a UTF-8 sequence
        at += 1
    mutated = raw[:at] + byte + raw[at:]
    assert_rejected_with_positions(check_folder(bank_with(tmp_path, path.name, mutated)))


@MUTATIONS
@given(path=topic_file, data=st.data(), depth=st.integers(2, 20_000))
def test_deep_nesting(tmp_path, path, data, depth):
    text = path.read_text(encoding="utf-8")
    lines = [m for m in re.finditer(r"^    kind: \w+$", text, re.MULTILINE)]
    match = data.draw(st.sampled_from(lines))
    nested = "    kind: " + "[" * depth + "]" * depth
    mutated = text[: match.start()] + nested + text[match.end() :]
    assert_rejected_with_positions(check_folder(bank_with(tmp_path, path.name, mutated.encode())))


@MUTATIONS
@given(path=topic_file, data=st.data(), size=st.integers(10_000, 400_000))
def test_a_huge_string(tmp_path, path, data, size):
    topic = load(path)
    card = data.draw(st.sampled_from(topic["cards"]))
    key = data.draw(st.sampled_from(["kind", "proof", "id"]))
    card[key] = ("x" if key != "id" else "Not A Slug ") * (size // 10)
    assert_rejected_with_positions(check_folder(bank_with(tmp_path, path.name, dump(topic))))


@MUTATIONS
@given(path=topic_file, which=st.sampled_from(["recursive", "laughs", "shared"]))
def test_anchors_and_aliases(tmp_path, path, which):
    text = path.read_text(encoding="utf-8")
    if which == "recursive":  # a list that contains itself, as the cards
        mutated = re.sub(r"^cards:", "cards: &loop [*loop]\nold_cards:", text, flags=re.M)
    elif which == "laughs":  # nine levels of nine aliases: 387 million leaves if expanded
        bomb = "x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for i in range(1, 10):
            bomb += f"x{i}: &x{i} [" + ", ".join([f"*x{i - 1}"] * 9) + "]\n"
        mutated = re.sub(r"^cards:", bomb + "cards:", text, flags=re.M)
    else:  # one anchored card used twice: its id is then a duplicate
        mutated = text.replace("cards:\n  - id:", "cards:\n  - &first\n    id:", 1)
        mutated = mutated.rstrip("\n") + "\n  - *first\n"
    assert_rejected_with_positions(check_folder(bank_with(tmp_path, path.name, mutated.encode())))


@MUTATIONS
@given(path=topic_file, data=st.data())
def test_a_tab_for_indentation(tmp_path, path, data):
    text = path.read_text(encoding="utf-8")
    keys = [m for m in re.finditer(r"^( +)(?=[a-z_]+:)", text, re.MULTILINE)]
    match = data.draw(st.sampled_from(keys))
    mutated = text[: match.start()] + "\t" + text[match.end() :]
    assert_rejected_with_positions(check_folder(bank_with(tmp_path, path.name, mutated.encode())))


@pytest.mark.parametrize("content", [b"", b"---\n", b"[]", b"42", b"cards: [", b"\xef\xbb\xbf"])
def test_degenerate_files(tmp_path, content):
    assert_rejected_with_positions(check_folder(bank_with(tmp_path, "degenerate.yaml", content)))
