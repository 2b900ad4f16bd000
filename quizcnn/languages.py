"""The languages a bank can be shown in, and how a user names one (en, zh, zh+en).

A leaf of its own: the drill resolves the language before anything else and
must not pay for the translation machinery (``quizcnn.i18n``) to do so.
"""

from __future__ import annotations

LANGUAGES = ("en", "zh")  # a new language is a new folder and a name here


def parse_language(value: str) -> tuple[str, bool]:
    """'zh' -> ('zh', False); 'zh+en' -> ('zh', True): the English shown under it too."""
    lang, _, second = value.strip().lower().partition("+")
    if lang not in LANGUAGES or (second and second != "en") or (second and lang == "en"):
        known = ", ".join([*LANGUAGES, *(f"{x}+en" for x in LANGUAGES if x != "en")])
        raise ValueError(f"unknown language {value!r}: use one of {known}")
    return lang, bool(second)
