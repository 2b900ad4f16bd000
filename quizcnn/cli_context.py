"""What every command shares, without typer: the consoles, the global options, the
bank in the user's language, the review database for one command, the clock, and
the one wrapper that turns any failure into one line and an exit code.

Kept apart from ``quizcnn.cli`` so that the daily ``quizcnn drill`` can run
(through ``quizcnn.entry``) without importing typer at all.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from rich.console import Console

from quizcnn import render
from quizcnn.bank import Bank, BankError, UnknownName, bank_dirs, load_bank
from quizcnn.bank_cache import load_bank_cached

if TYPE_CHECKING:
    from quizcnn.store import Store

# emoji=False: a card's ":name:" stays as written, and rich's emoji table is never loaded
console = Console(emoji=False)
err_console = Console(stderr=True, emoji=False)

# Exit codes: 1 = the bank or a proof is wrong, 2 = bad usage or input.
EXIT_INVALID = 1
EXIT_USAGE = 2


@dataclass
class GlobalOptions:
    """The options given before the command."""

    bank_dirs: list[Path] = field(default_factory=list)
    include_builtin: bool = True
    lang: str | None = None  # --lang, else QUIZCNN_LANG, else the `lang` setting


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """One line on stderr, then the exit code (typer and the bare drill end alike)."""
    render.error_line(err_console, message)
    raise SystemExit(code)


def print_json(data) -> None:
    """JSON for scripts, on stdout, exactly as the core's to_dict() gave it."""
    print(json.dumps(data, indent=2, ensure_ascii=False))


def assert_never(event: NoReturn) -> NoReturn:
    """A type checker flags any call that can be reached: an event case the match missed."""
    raise AssertionError(f"unhandled event {event!r}")


def load_english_bank(config: GlobalOptions, strict: bool = False, cached: bool = True) -> Bank:
    """The bank as written, or stop with every problem listed, one per line."""
    if not config.include_builtin and not bank_dirs(config.bank_dirs, include_builtin=False):
        fail("--no-builtin leaves no cards: add --bank DIR or set QUIZCNN_BANK")
    load = load_bank_cached if cached else load_bank
    try:
        return load(config.bank_dirs, include_builtin=config.include_builtin, strict=strict)
    except BankError as exc:
        render.bank_issues(err_console, exc.issues)
        raise SystemExit(EXIT_INVALID) from None


def load_shown_bank(config: GlobalOptions, strict: bool = False, cached: bool = True) -> Bank:
    """The bank in the language the user reads (see ``language``)."""
    return shown_in_language(load_english_bank(config, strict=strict, cached=cached), config)


def shown_in_language(bank: Bank, config: GlobalOptions, store: Store | None = None) -> Bank:
    """The English bank as the user reads it; ``store``, when the command has the
    database open already, is where the `lang` setting is read."""
    lang = language(config, store)
    if lang == "en":
        return bank
    render.use_language(lang)  # the session's own words in the same language
    return translated_bank(bank, lang, config, strict=False)[0]


def language(config: GlobalOptions, store: Store | None = None) -> str:
    """--lang, else QUIZCNN_LANG, else the `lang` setting (from ``store`` if given,
    else from the database if there is one), else English."""
    from quizcnn.languages import parse_language

    chosen = config.lang or os.environ.get("QUIZCNN_LANG")
    if not chosen:
        chosen = store.settings().lang if store is not None else _saved_language()
    try:
        lang, both = parse_language(chosen or "en")
    except ValueError as exc:
        fail(str(exc))
    return f"{lang}+en" if both else lang


def _saved_language() -> str | None:
    """The `lang` setting, if there is a database (a report never creates one)."""
    from quizcnn.store import StoreError, open_existing

    try:
        store = open_existing()
    except StoreError:
        return None
    if store is None:
        return None
    with store:
        return store.settings().lang


def translated_bank(bank: Bank, lang: str, config: GlobalOptions, strict: bool):
    """The bank in ``lang`` and the translation issues; bad overlays stop with each listed."""
    from quizcnn.bank import load_translations, localized

    base = lang.split("+")[0]
    overlays, issues, warnings = load_translations(
        bank, base, config.bank_dirs, include_builtin=config.include_builtin, strict=strict
    )
    if issues:
        render.bank_issues(err_console, issues)
        raise SystemExit(EXIT_INVALID)
    return localized(bank, overlays, lang), warnings


@contextmanager
def store_session() -> Iterator[Store]:
    """The review database for one command, closed after it. A StoreError, opening or
    later, is one clear line naming the file and exit 1; what was saved stays saved."""
    from quizcnn.store import StoreError, open_store

    try:
        store = open_store()
    except StoreError as exc:
        fail(str(exc), EXIT_INVALID)
    try:
        yield store
    except StoreError as exc:
        fail(str(exc), EXIT_INVALID)
    finally:
        store.close()


def clock():
    """The command's clock: QUIZCNN_NOW when set (time stands still), else the real one."""
    from quizcnn.schedule import clock_from_env

    try:
        return clock_from_env()
    except ValueError as exc:
        fail(f"QUIZCNN_NOW is not an ISO time such as 2025-01-06T09:00:00Z: {exc}")


def selected_cards(bank: Bank, topics: list[str], tags: list[str]) -> list:
    try:
        cards = bank.select(topics, tags)
    except UnknownName as exc:
        fail(str(exc))
    if not cards:
        fail(
            f"no card has the tag(s) {', '.join(tags)} in the chosen topics; see `quizcnn list --tags`"
        )
    return cards


def guarded(command: Callable[[], object]) -> int:
    """Run a command; a user sees one line for any failure, never a traceback.
    Returns the exit code."""
    try:
        command()
        code = 0
    except SystemExit as exc:  # typer, and fail(), end every command this way
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            err_console.print(str(exc.code))
    except KeyboardInterrupt:
        err_console.print("interrupted")
        code = 130
    except Exception as exc:  # a bug: keep the traceback for those who ask for it
        if os.environ.get("QUIZCNN_DEBUG"):
            raise
        render.error_line(
            err_console,
            f"internal error: {type(exc).__name__}: {exc} (set QUIZCNN_DEBUG=1 for details)",
        )
        code = 70
    return code


def exit_now(code: int) -> NoReturn:
    """Exit without the interpreter's teardown: every file and the database are closed
    by now, and tearing down hundreds of cards and modules is a third of a drill's end."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # `quizcnn ... | head` closed the pipe
        pass
    os._exit(code)
