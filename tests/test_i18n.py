"""Translations: overlays beside the bank, found stale when the English changes, every
problem positioned; the fallback marker; --lang zh+en; full-width input; Chinese
aliases; a drill in Chinese in a real terminal at 80 columns."""

from __future__ import annotations

import io
import os
import shutil
import sys
from pathlib import Path

import pexpect
import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from quizcnn.bank import load_bank, load_translations, localized
from quizcnn.cli import app
from quizcnn.grading import expected, parse_number, verdict
from quizcnn.i18n import source_hash
from quizcnn.languages import parse_language

FIXTURE = Path(__file__).parent / "fixtures" / "i18nbank"
runner = CliRunner()


@pytest.fixture
def bank_dir(tmp_path) -> Path:
    folder = tmp_path / "bank"
    shutil.copytree(FIXTURE, folder)
    return folder


def check(folder: Path, *args: str):
    return runner.invoke(
        app, ["--no-builtin", "--bank", str(folder), "--lang", "zh", "check", *args]
    )


def lines(result) -> list[str]:
    return [line for line in result.output.splitlines() if ".yaml:" in line]


def at(path: Path, needle: str) -> str:
    text = path.read_text(encoding="utf-8")
    index = text.index(needle)
    line = text.count("\n", 0, index) + 1
    return f"{path}:{line}:{index - (text.rfind(chr(10), 0, index) + 1) + 1}"


def test_the_fixture_is_translated_but_for_one_card(bank_dir):
    result = check(bank_dir, "--strict")
    assert result.exit_code == 1
    assert lines(result) == [
        f"{at(bank_dir / 'zh' / 'norms.yaml', 'tr-bn-axes:')}: tr-untranslated: no zh translation"
    ]
    assert check(bank_dir).exit_code == 0  # without --strict: a warning


def test_an_english_edit_makes_its_translation_stale(bank_dir):
    topic = bank_dir / "norms.yaml"
    topic.write_text(
        topic.read_text(encoding="utf-8").replace("Per channel, over (N, H, W).", "Per channel."),
        encoding="utf-8",
    )
    new = source_hash(load_bank([bank_dir], include_builtin=False).by_id["tr-bn-axes"])
    result = check(bank_dir, "--strict")
    overlay = bank_dir / "zh" / "norms.yaml"
    assert (
        f"{at(overlay, '769021a38577')}: tr-bn-axes: stale: the English changed since this "
        f"translation (made from 769021a38577, now {new}); update it"
    ) in lines(result)
    # a stale translation is never shown: the English card is, marked
    bank = load_bank([bank_dir], include_builtin=False)
    overlays, _, _ = load_translations(bank, "zh", [bank_dir], include_builtin=False)
    card = localized(bank, overlays, "zh").by_id["tr-bn-axes"]
    assert card.question == "Over which axes does BatchNorm2d normalize?" and card.lang == "en"


def test_unknown_cards_fields_and_short_choice_lists_are_positioned_errors(bank_dir):
    overlay = bank_dir / "zh" / "norms.yaml"
    text = overlay.read_text(encoding="utf-8")
    text = text.replace('    choices: ["64", "128", 没有]', '    choices: ["64", "128"]')
    text = text.replace(
        "    explanation: 每个通道一个均值和一个方差。",
        "    explanation: 每个通道一个均值和一个方差。\n    value: 4",
    )
    text += "  tr-no-such-card:\n    source: abc\n    question: 问？\n"
    overlay.write_text(text, encoding="utf-8")
    result = check(bank_dir)
    assert result.exit_code == 1
    found = lines(result)
    assert any(
        line.startswith(at(overlay, "value: 4")) and "unknown key 'value'" in line for line in found
    ), found
    assert (
        f"{at(overlay, 'tr-no-such-card')}: tr-no-such-card: no card 'tr-no-such-card' in topic 'norms'"
        in found[-1]
        or any("no card 'tr-no-such-card' in topic 'norms'" in line for line in found)
    )
    assert any(
        line.startswith(at(overlay, '["64", "128"]'))
        and "2 translated choices, the English has 3" in line
        for line in found
    ), found


def test_the_fallback_marker_and_zh_plus_en(bank_dir):
    base = ["--no-builtin", "--bank", str(bank_dir)]
    zh = runner.invoke(app, [*base, "--lang", "zh", "explain", "norms"])
    assert zh.exit_code == 0, zh.output
    assert "BatchNorm2d 沿哪些轴做归一化？" in zh.output
    assert "Over which axes" not in zh.output  # Chinese alone
    assert "(English: no translation yet)" in zh.output and "What is 2 + 2?" in zh.output
    both = runner.invoke(app, [*base, "--lang", "zh+en", "explain", "tr-bn-axes"])
    assert "BatchNorm2d 沿哪些轴做归一化？" in both.output and "Over which axes" in both.output
    env = runner.invoke(app, [*base, "explain", "tr-bn-params"], env={"QUIZCNN_LANG": "zh"})
    assert "有多少个可学习参数" in env.output
    bad = runner.invoke(app, [*base, "--lang", "fr", "explain", "norms"])
    assert bad.exit_code == 2 and "unknown language 'fr'" in bad.output


def test_full_width_letters_and_numbers_are_accepted(bank_dir):
    bank = load_bank([bank_dir], include_builtin=False)
    choice = bank.by_id["tr-bn-params"]
    right = verdict(choice, expected(choice, None), "Ｂ")
    assert right.correct is True and right.attempt.startswith("b)")
    assert parse_number("０.２５") == 0.25 and parse_number("１，０２４".replace("，", ",")) == 1024
    number = bank.by_id["tr-untranslated"]
    assert verdict(number, expected(number, None), "４").correct is True


def test_a_chinese_alias_resolves_with_or_without_lang(bank_dir):
    base = ["--no-builtin", "--bank", str(bank_dir)]
    for extra in ([], ["--lang", "zh"]):
        result = runner.invoke(app, [*base, *extra, "explain", "归一化测试"])
        assert result.exit_code == 0, result.output
        assert "归一化（翻译测试）" in result.output


def test_language_names():
    assert parse_language("zh") == ("zh", False)
    assert parse_language("ZH+en") == ("zh", True)
    with pytest.raises(ValueError):
        parse_language("en+en")


def test_a_drill_in_chinese_in_a_real_terminal_at_80_columns(bank_dir, tmp_path):
    env = {**os.environ, "QUIZCNN_HOME": str(tmp_path / "home"), "TERM": "dumb", "TZ": "UTC"}
    env["QUIZCNN_NOW"] = "2026-03-02T10:00:00Z"
    command = [sys.executable, "-m", "quizcnn.cli", "--no-builtin", "--bank", str(bank_dir)]
    command += ["--lang", "zh+en", "drill"]
    child = pexpect.spawn(
        command[0], command[1:], env=env, encoding="utf-8", dimensions=(50, 80), timeout=30
    )
    child.logfile_read = io.StringIO()  # the whole screen, to measure every line
    child.expect("BatchNorm2d 沿哪些轴做归一化")
    child.expect("Over which axes")
    child.sendline("按通道，在 n, h, w 上")
    child.expect("每个通道一个统计量")
    child.sendline("")
    child.expect("良好")  # the grades in Chinese too
    child.sendline("3")
    child.expect("有多少个可学习参数")
    child.sendline("ｂ")  # a full-width letter
    child.expect("正确")
    child.sendline("q")
    child.expect(pexpect.EOF)
    screen = child.logfile_read.getvalue().replace("\r", "")
    assert "？" in screen  # wide characters were drawn
    for line in screen.split("\n"):
        assert cell_len(line) <= 80, line  # nothing drawn past the edge, so nothing cut


def test_the_message_catalogs_are_compiled_from_their_po_files():
    from quizcnn.i18n import compile_po, locale_dir

    catalogs = sorted(locale_dir().glob("*/LC_MESSAGES/quizcnn.po"))
    assert catalogs, "no catalog"
    for po in catalogs:
        assert po.with_suffix(".mo").read_bytes() == compile_po(po.read_text(encoding="utf-8")), (
            f"{po}: run make catalog"
        )


def test_the_sessions_own_words_come_from_the_catalog(bank_dir):
    from quizcnn.i18n import messages

    zh = messages("zh")
    assert zh.gettext("Again") == "忘记" and zh.gettext("undo") == "撤销"
    assert messages("en").gettext("Again") == "Again"
    base = ["--no-builtin", "--bank", str(bank_dir), "--lang", "zh", "drill"]
    result = runner.invoke(app, base, input="\n\nq\n", env={"QUIZCNN_NOW": "2026-03-02T10:00:00Z"})
    assert result.exit_code == 0, result.output
    assert "显示答案" in result.output and "撤销" in result.output  # the keys' help
    assert "良好" in result.output  # the grades
    from quizcnn import render

    render.use_language("en")  # the CLI set it for this process; leave English for others


def test_glossary_lists_terms_and_check_warns_on_a_term_rendered_otherwise(bank_dir):
    listed = runner.invoke(app, ["glossary", "stride"])
    assert listed.exit_code == 0 and "步长" in listed.output
    assert runner.invoke(app, ["glossary", "no-such-term"]).exit_code == 2
    from quizcnn.i18n import Term, glossary_mismatches

    bank = load_bank([bank_dir], include_builtin=False)
    overlays, _, _ = load_translations(bank, "zh", [bank_dir], include_builtin=False)
    card = localized(bank, overlays, "zh").by_id["tr-bn-axes"]
    terms = [Term("channel", "通道"), Term("mean", "均值"), Term("mAP", None)]
    assert glossary_mismatches(card.english, card, terms) == []
    assert glossary_mismatches(card.english, card, [Term("channel", "频道")]) == [
        "glossary: 'channel' is said '频道' (questions/zh/glossary.yaml)"
    ]


def test_line_breaks_inside_chinese_sentences_are_joined():
    from quizcnn.i18n import join_cjk_lines

    assert (
        join_cjk_lines("梯度，\n  不会消失 and BN\n层。\n\n下一段")
        == "梯度，不会消失 and BN\n层。\n\n下一段"
    )


def test_the_shipped_bank_is_translated_and_fresh():
    """check --strict --lang zh on the shipped bank: every card translated, none stale."""
    result = runner.invoke(app, ["--lang", "zh", "check", "--strict"])
    assert result.exit_code == 0, "\n".join(lines(result)[:20])
    bank = load_bank()
    overlays, issues, warnings = load_translations(bank, "zh", strict=True)
    assert issues == [] and warnings == []
    assert set(overlays) == set(bank.topics)


def test_the_plans_sentences_come_from_the_catalog(isolated_home, monkeypatch):
    monkeypatch.setenv("QUIZCNN_NOW", "2026-12-01T10:00:00Z")
    result = runner.invoke(app, ["--lang", "zh", "plan", "2026-12-20", "--topic", "bn"])
    assert result.exit_code == 0, result.output
    assert "计划已设置" in result.output and "范围内卡片" in result.output
    assert "面试日预测记忆率" in result.output and "plan set" not in result.output
    from quizcnn import render

    render.use_language("en")


def test_input_errors_are_said_in_the_sessions_language():
    from quizcnn import render
    from quizcnn.grading import Message

    message = Message("pick a letter from {first} to {last}", first="a", last="d")
    assert message == "pick a letter from a to d"  # the core's English, as before
    render.use_language("zh")
    try:
        assert render._(message) == "请选 a 到 d 之间的字母"
        assert render._(Message("{key!r} is not a number", key="x")) == "'x' 不是数字"
    finally:
        render.use_language("en")


def test_the_lang_setting_chooses_the_language(bank_dir, isolated_home):
    base = ["--no-builtin", "--bank", str(bank_dir)]
    bad = runner.invoke(app, ["settings", "lang", "fr"])
    assert bad.exit_code == 2 and "lang must be one of en, zh, zh+en, not 'fr'" in bad.output
    assert runner.invoke(app, ["settings", "lang", "zh"]).exit_code == 0
    shown = runner.invoke(app, [*base, "explain", "tr-bn-params"])
    assert "有多少个可学习参数" in shown.output
    english = runner.invoke(app, [*base, "--lang", "en", "explain", "tr-bn-params"])
    assert "How many learnable parameters" in english.output  # --lang wins over the setting
    from quizcnn import render

    render.use_language("en")
