"""The quizcnn command line: parse options, call the core, hand results to render.

Kept thin on purpose: every command loads what it needs lazily so that
``quizcnn --help`` and ``quizcnn drill`` never import torch.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from quizcnn import __version__, render
from quizcnn.bank import Bank, BankError, UnknownName, load_bank

app = typer.Typer(
    name="quizcnn",
    help="Deep-learning interview drills with spaced repetition and runnable PyTorch proofs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
console = Console()
err_console = Console(stderr=True)

# Exit codes: 1 = the bank or a proof is wrong, 2 = bad usage or input.
EXIT_INVALID = 1
EXIT_USAGE = 2


@dataclass
class Settings:
    bank_dirs: list[Path] = field(default_factory=list)
    include_builtin: bool = True


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    render.error_line(err_console, message)
    raise typer.Exit(code)


def settings(ctx: typer.Context) -> Settings:
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        root.obj = Settings()
    return root.obj


def get_bank(ctx: typer.Context, strict: bool = False) -> Bank:
    """Load the bank or stop with every problem listed, one per line."""
    try:
        config = settings(ctx)
        return load_bank(config.bank_dirs, include_builtin=config.include_builtin, strict=strict)
    except BankError as exc:
        render.bank_issues(err_console, exc.issues)
        raise typer.Exit(EXIT_INVALID) from None


def _version(value: bool) -> None:
    if value:
        console.print(f"quizcnn {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    bank: Annotated[
        list[Path] | None,
        typer.Option(
            "--bank",
            help="Add a folder of your own topic files (repeatable; also QUIZCNN_BANK=dir1:dir2).",
            metavar="DIR",
            file_okay=False,
        ),
    ] = None,
    no_builtin: Annotated[
        bool,
        typer.Option(
            "--no-builtin",
            help="Use only your own banks (--bank, QUIZCNN_BANK), not the shipped one.",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    config = settings(ctx)
    config.bank_dirs = list(bank or [])
    config.include_builtin = not no_builtin


@app.command()
def check(
    ctx: typer.Context,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Also require sources on every card and a proof in every topic."
        ),
    ] = False,
) -> None:
    """Validate the question bank (and your --bank folders) and summarise it."""
    from quizcnn.proofs import proof_names

    bank = get_bank(ctx, strict=strict)
    if strict:
        missing = [t for t in bank.topics.values() if not any(c.proof for c in t.cards)]
        if missing:
            for topic in missing:
                render.error_line(
                    err_console,
                    f"{topic.path}:1:1: -: topic {topic.name!r} has no card with a proof",
                )
            raise typer.Exit(EXIT_INVALID)
    render.check_summary(console, bank, proof_names(), strict)


@app.command("list")
def list_cards(
    ctx: typer.Context,
    topic: Annotated[
        str | None, typer.Option("--topic", "-t", help="Show one topic's cards.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List the topics with their card counts, or one topic's cards."""
    bank = get_bank(ctx)
    if topic is None:
        if as_json:
            rows = [
                {
                    "topic": t.name,
                    "title": t.title,
                    "aliases": list(t.aliases),
                    "cards": len(t.cards),
                }
                for t in bank.topics.values()
            ]
            print(json.dumps(rows, indent=2, ensure_ascii=False))
        else:
            render.topic_list(console, bank)
        return
    chosen = bank.topic_of(topic)
    if chosen is None:
        fail(str(UnknownName(topic, bank.suggest(topic))))
    if as_json:
        rows = [
            {"id": c.id, "kind": c.kind, "proof": c.proof, "question": c.question}
            for c in chosen.cards
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        render.card_list(console, f"{chosen.title} ({chosen.name})", chosen.cards)


def main() -> None:
    """Console-script entry: a user sees one line for any failure, never a traceback."""
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # a bug: keep the traceback for those who ask for it
        if os.environ.get("QUIZCNN_DEBUG"):
            raise
        render.error_line(
            err_console,
            f"internal error: {type(exc).__name__}: {exc} (set QUIZCNN_DEBUG=1 for details)",
        )
        sys.exit(70)


if __name__ == "__main__":
    main()
