"""Other languages: overlays of a bank's text, kept in step with the English they translate.

A language is a folder beside the topic files (``questions/zh/``) holding one
overlay per topic (``zh/<topic>.yaml``): the topic's title and aliases in that
language, and per card id the translated ``question``, ``answer``,
``explanation``, ``choices``, ``points`` (each point's text and the terms that
show it was said, in that language) and ``task``, whichever the card has. Each
translated card records ``source``: a hash of the English fields it was made
from, so a translation whose English changed since is found (stale), never
shown silently. Numbers, code, ids and proof names are not translated: the
overlay has no key for them. A card with no translation falls back to English,
marked as such.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from quizcnn.cards import Card, Point

TRANSLATED_FIELDS = ("question", "answer", "explanation", "choices", "points", "task")


def english_fields(card: Card) -> dict[str, Any]:
    """What a translation of the card is made from: its translatable English text."""
    fields: dict[str, Any] = {
        "question": card.question,
        "answer": card.answer,
        "explanation": card.explanation,
    }
    if card.choices:
        fields["choices"] = list(card.choices)
    if card.points:
        fields["points"] = [p.text for p in card.points]
    if card.task:
        fields["task"] = card.task
    return fields


def source_hash(card: Card) -> str:
    """12 hex digits of SHA-256 over the card's translatable English (canonical JSON)."""
    import hashlib  # loads OpenSSL: only when translations are checked

    text = json.dumps(english_fields(card), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Translation:
    """One card's text in another language."""

    card_id: str
    source: str  # the source_hash of the English it was made from
    question: str | None = None
    answer: str | None = None
    explanation: str | None = None
    choices: tuple[str, ...] = ()
    points: tuple[Point, ...] = ()
    task: str | None = None
    path: Path = Path(".")
    line: int = 0

    def stale(self, card: Card) -> bool:
        return self.source != source_hash(card)


_CJK = "\u2e80-\u9fff\u3000-\u303f\uff00-\uffef"
_CJK_BREAK = None


def join_cjk_lines(text: str) -> str:
    """Chinese has no spaces between words: a line break (or the space YAML's > folding
    and Markdown make of one) between two CJK characters is dropped, so a paragraph
    wrapped in the file reads as one sentence on screen."""
    import re

    global _CJK_BREAK
    if _CJK_BREAK is None:
        _CJK_BREAK = re.compile(rf"(?<=[{_CJK}])[ \t]*\n?[ \t]*(?=[{_CJK}])")
    return _CJK_BREAK.sub("", text)


def translated(card: Card, translation: Translation | None) -> tuple[Card, bool]:
    """The card in the overlay's language (and True), or the English card (and False)
    when there is no translation or it is stale. The correct choice follows its index."""
    if translation is None or translation.stale(card):
        return card, False
    changes: dict[str, Any] = {}
    for key in ("question", "answer", "explanation", "task"):
        value = getattr(translation, key)
        if value:
            changes[key] = join_cjk_lines(value)
    if translation.choices and len(translation.choices) == len(card.choices):
        changes["choices"] = translation.choices
        if card.correct in card.choices:
            changes["correct"] = translation.choices[card.choices.index(card.correct)]
    if translation.points and len(translation.points) == len(card.points):
        changes["points"] = translation.points
    return replace(card, **changes), True


GLOSSARY_FILE = "glossary.yaml"


@dataclass(frozen=True)
class Overlay:
    """One topic's file in a language folder."""

    lang: str
    topic: str
    title: str | None
    aliases: tuple[str, ...]
    translations: dict[str, Translation]
    path: Path


def overlay_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.yaml") if p.name != GLOSSARY_FILE)


def localize(card: Card, translation: Translation | None, lang: str) -> Card:
    """The card as a user of ``lang`` ('zh', or 'zh+en' for both) sees it: translated, or
    English marked as a fallback (lang 'en'); either way it keeps the English card."""
    shown, ok = translated(card, translation)
    return replace(shown, lang=lang if ok else "en", english=card)


# -- the app's own words ------------------------------------------------------------------

DOMAIN = "quizcnn"


def locale_dir() -> Path:
    return Path(__file__).resolve().parent / "locale"


def messages(lang: str):
    """The message catalog (standard gettext) for ``lang``; English passes through."""
    import gettext

    return gettext.translation(DOMAIN, locale_dir(), languages=[lang], fallback=True)


def compile_po(text: str) -> bytes:
    """A .po catalog (msgid/msgstr pairs, one line each) as gettext's .mo bytes: what
    `msgfmt` writes, so the catalog needs no tool beyond Python (make catalog)."""
    import ast
    import struct

    pairs: dict[str, str] = {}
    msgid = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("msgid "):
            msgid = ast.literal_eval(line[6:])
        elif line.startswith("msgstr ") and msgid is not None:
            pairs[msgid] = ast.literal_eval(line[7:])
            msgid = None
    keys = sorted(pairs)
    ids = [k.encode("utf-8") for k in keys]
    strs = [pairs[k].encode("utf-8") for k in keys]
    header = 7 * 4
    ids_start = header + 16 * len(keys)
    offsets, blob = [], b""
    for data in ids:
        offsets.append((len(data), ids_start + len(blob)))
        blob += data + b"\0"
    strs_start = ids_start + len(blob)
    str_offsets, str_blob = [], b""
    for data in strs:
        str_offsets.append((len(data), strs_start + len(str_blob)))
        str_blob += data + b"\0"
    out = struct.pack("Iiiiiii", 0x950412DE, 0, len(keys), header, header + 8 * len(keys), 0, 0)
    out += b"".join(struct.pack("ii", n, o) for n, o in offsets)
    out += b"".join(struct.pack("ii", n, o) for n, o in str_offsets)
    return out + blob + str_blob


# -- the glossary ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """How interviewers say an English term in a language: kept in English, or rendered."""

    english: str
    rendering: str | None  # None: said in English
    english_first: bool = False  # on first use, the rendering with the English in parentheses


def load_glossary(folder: Path) -> list[Term]:
    """The glossary of a language folder (glossary.yaml), [] when there is none."""
    import yaml

    path = folder / GLOSSARY_FILE
    if not path.is_file():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    terms = []
    for english, entry in (data.get("terms") or {}).items():
        entry = entry or {}
        rendering = None if entry.get("keep") else entry.get("zh") or entry.get("rendering")
        terms.append(Term(str(english), rendering, bool(entry.get("en_first"))))
    return terms


def glossary_mismatches(english: Card, shown: Card, terms: list[Term]) -> list[str]:
    """Terms the English card uses that its translation renders some other way."""
    import re

    source = " ".join(str(v) for v in english_fields(english).values())
    target = " ".join(str(v) for v in english_fields(shown).values())
    found = []
    for term in terms:
        # an acronym (mAP, BN) matches as written; a plain word in any case
        flags = 0 if any(ch.isupper() for ch in term.english) else re.IGNORECASE
        if not re.search(rf"(?<![\w-]){re.escape(term.english)}(?![\w-])", source, flags):
            continue
        wanted = [term.english] if term.rendering is None else [term.rendering, term.english]
        if not any(w.lower() in target.lower() for w in wanted):
            said = term.rendering or term.english
            found.append(
                f"glossary: {term.english!r} is said {said!r} (questions/zh/{GLOSSARY_FILE})"
            )
    return found
