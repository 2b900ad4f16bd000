"""The parsed-bank cache: same bank as a full load, and never stale."""

from __future__ import annotations

import marshal
import shutil
import zlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quizcnn.bank import Card, load_bank
from quizcnn.bank_cache import MAGIC, ROW_FIELDS, cache_path, load_bank_cached
from quizcnn.cli import app

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def bank_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("QUIZCNN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("QUIZCNN_BANK", raising=False)
    target = tmp_path / "bank"
    shutil.copytree(FIXTURES / "drillbank", target)
    return target


def load(bank_dir: Path, **kwargs):
    return load_bank_cached([bank_dir], include_builtin=False, **kwargs)


def forge(change) -> None:
    """Rewrite the cache with ``change`` applied to its card rows, under a valid CRC
    and the right key: what a damaged disk could not do, only a deliberate edit."""
    payload = cache_path().read_bytes()[len(MAGIC) + 4 :]
    key, (paths, rows, topics, warnings) = marshal.loads(payload)
    rows = [change(list(row)) for row in rows]
    payload = marshal.dumps((key, (paths, tuple(rows), topics, warnings)))
    cache_path().write_bytes(MAGIC + zlib.crc32(payload).to_bytes(4, "big") + payload)


def test_the_cached_builtin_bank_equals_a_full_load(tmp_path, monkeypatch):
    monkeypatch.setenv("QUIZCNN_HOME", str(tmp_path))
    fresh = load_bank()
    load_bank_cached()  # writes the cache
    assert cache_path().is_file()
    cached = load_bank_cached()
    assert cached.cards == fresh.cards and cached.topics == fresh.topics
    assert [vars(c) for c in cached.cards] == [vars(c) for c in fresh.cards]  # every field
    assert not hasattr(Card, "__post_init__")  # which the cache's constructor would skip
    assert [(c.path, c.line) for c in cached.cards] == [(c.path, c.line) for c in fresh.cards]
    assert cached.warnings == fresh.warnings


def test_an_edited_topic_file_is_read_again(bank_dir):
    assert load(bank_dir).find("dx-bn-axes")[0].answer.startswith("Per channel")
    topic = bank_dir / "dnorm.yaml"
    text = topic.read_text(encoding="utf-8")
    topic.write_text(text.replace("Per channel, over", "For each channel, over"), "utf-8")
    # same second, same size or not: the key holds nanosecond mtimes and sizes
    assert load(bank_dir).find("dx-bn-axes")[0].answer.startswith("For each channel")


def test_a_new_and_a_removed_topic_file_are_noticed(bank_dir):
    assert set(load(bank_dir).topics) == {"dnorm", "dsizes"}
    (bank_dir / "dsizes.yaml").rename(bank_dir / "dsizes.txt")
    assert set(load(bank_dir).topics) == {"dnorm"}
    shutil.copy(FIXTURES / "bank" / "valid" / "norms.yaml", bank_dir / "norms.yaml")
    assert "norms" in load(bank_dir).topics


def test_a_damaged_cache_is_replaced_by_a_full_load(bank_dir):
    load(bank_dir)
    whole = cache_path().read_bytes()
    cache_path().write_bytes(whole[: len(whole) // 2])  # cut short
    assert len(load(bank_dir).cards) == len(load_bank([bank_dir], include_builtin=False).cards)
    assert cache_path().read_bytes() == whole  # rewritten whole
    cache_path().write_bytes(whole[:-1] + bytes([whole[-1] ^ 1]))  # one bit flipped
    assert load(bank_dir).find("dx-bn-axes")
    assert cache_path().read_bytes() == whole
    cache_path().write_text("{}", encoding="utf-8")
    assert load(bank_dir).find("dx-bn-axes")


def test_a_forged_cache_with_the_right_key_but_wrong_shape_is_ignored(bank_dir):
    load(bank_dir)
    forge(lambda row: [*row, "no such field"])
    assert load(bank_dir).find("dx-bn-axes")
    forge(lambda row: row[:-1])
    assert load(bank_dir).find("dx-bn-axes")


def test_an_unwritable_cache_costs_nothing_but_speed(bank_dir):
    # "cache" is a file, so the cache folder cannot be made (for root too)
    cache_path().parent.parent.mkdir(parents=True)
    cache_path().parent.write_text("not a folder", encoding="utf-8")
    assert load(bank_dir).find("dx-bn-axes") and load(bank_dir).find("dx-bn-axes")


def test_a_broken_bank_is_never_cached_and_fails_every_time(bank_dir):
    (bank_dir / "dnorm.yaml").write_text("topic: [unclosed\n", encoding="utf-8")
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(app, ["--no-builtin", "--bank", str(bank_dir), "list"])
        assert result.exit_code == 1 and "dnorm.yaml:" in result.output
    assert not cache_path().exists()


def test_check_validates_the_files_even_when_a_cache_exists(bank_dir):
    runner = CliRunner()
    args = ["--no-builtin", "--bank", str(bank_dir)]
    assert runner.invoke(app, [*args, "list"]).exit_code == 0 and cache_path().exists()
    # a cache with the right key that claims dx-ln-axes has a proof: list trusts it,
    # check reads the files again and still reports the card without a proof
    at_id, at_proof = ROW_FIELDS.index("id"), ROW_FIELDS.index("proof")

    def claim_a_proof(row: list) -> list:
        if row[at_id] == "dx-ln-axes":
            row[at_proof] = "gd_vs_newton"
        return row

    forge(claim_a_proof)
    listed = runner.invoke(app, [*args, "list", "--topic", "dnorm"])
    checked = runner.invoke(app, [*args, "check"])
    assert "gd_vs_newton" in listed.output  # the cache is what list read
    assert checked.exit_code == 0 and "without a proof       dx-ln-axes" in checked.output
