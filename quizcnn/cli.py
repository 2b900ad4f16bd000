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


DeviceOption = Annotated[
    str,
    typer.Option(
        "--device", "-d", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps."
    ),
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed every generator the proof uses.")]


CARD_JSON_KEYS = (
    "id",
    "topic",
    "kind",
    "question",
    "answer",
    "explanation",
    "choices",
    "correct",
    "value",
    "tolerance",
    "unit",
    "generator",
    "proof",
    "sources",
    "tags",
)


def _card_dict(card) -> dict:
    values = {key: getattr(card, key) for key in CARD_JSON_KEYS}
    return {key: list(v) if isinstance(v, tuple) else v for key, v in values.items()}


def _resolve_device(requested: str) -> str:
    from quizcnn.proofs import ProofError, resolve_device

    try:
        return resolve_device(requested)
    except ProofError as exc:
        fail(str(exc))


def _run_proofs(names: list[str], device: str, seed: int, status_console: Console) -> list:
    """Run proofs one by one behind a spinner; a proof that cannot load stops with one line."""
    from quizcnn.proofs import ProofError, run_proof

    results = []
    for name in names:
        with render.spinner(status_console, f"running proof {name} on {device}..."):
            try:
                results.append(run_proof(name, device=device, seed=seed))
            except ProofError as exc:
                fail(str(exc), EXIT_INVALID)
    return results


@app.command()
def explain(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="TOPIC_OR_ID", help="A topic, alias or card id.")],
    run: Annotated[bool, typer.Option("--run", help="Run the proofs behind the answers.")] = False,
    device: DeviceOption = "auto",
    seed: SeedOption = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Show the answer and explanation of a topic or card; --run proves it on your PyTorch."""
    from quizcnn.proofs import available

    bank = get_bank(ctx)
    try:
        cards = bank.find(name)
    except UnknownName as exc:
        fail(str(exc))
    topic = bank.topic_of(name)
    heading = f"{topic.title} ({topic.name})" if topic else cards[0].id
    names = list(dict.fromkeys(c.proof for c in cards if c.proof))
    results = []
    if run:
        chosen = _resolve_device(device)
        status = err_console if as_json else console
        if not as_json:
            render.explain_cards(console, heading, cards, _proof_titles(available()))
        if names:
            results = _run_proofs(names, chosen, seed, status)
        elif not as_json:
            console.print("no proof behind these cards: nothing to run")
    elif not as_json:
        render.explain_cards(console, heading, cards, _proof_titles(available()))
    if as_json:
        payload = {
            "query": name,
            "cards": [_card_dict(c) for c in cards],
            "proofs": [r.to_dict() for r in results],
        }
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        for result in results:
            render.proof_result(console, result)
    if any(not r.passed for r in results):
        raise typer.Exit(EXIT_INVALID)


def _proof_titles(infos: dict) -> dict[str, str]:
    return {name: info.title for name, info in infos.items()}


proofs_app = typer.Typer(
    help="List the proofs and the cards citing each; `proofs run` checks them on your PyTorch.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(proofs_app, name="proofs")


@proofs_app.callback()
def proofs_list(ctx: typer.Context) -> None:
    """List the proofs and the cards that cite each."""
    if ctx.invoked_subcommand is not None:
        return
    from quizcnn.proofs import available

    bank = get_bank(ctx)
    citing: dict[str, list[str]] = {}
    for card in bank.cards:
        if card.proof:
            citing.setdefault(card.proof, []).append(card.id)
    rows = [(n, info.title, citing.get(n, [])) for n, info in available().items()]
    render.proofs_table(console, rows)


@proofs_app.command("run")
def proofs_run(
    names: Annotated[
        list[str] | None, typer.Argument(metavar="[NAME]...", help="Proofs to run (default: all).")
    ] = None,
    device: DeviceOption = "auto",
    seed: SeedOption = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Run proofs with a progress bar and a summary; exit 1 if any claim fails."""
    import difflib

    from quizcnn.proofs import ProofError, available, run_proof

    known = available()
    wanted = list(dict.fromkeys(names)) if names else list(known)
    for name in wanted:
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else "; see `quizcnn proofs`"
            fail(f"no proof named {name!r}{hint}")
    chosen = _resolve_device(device)
    results = []
    with render.proof_progress(err_console if as_json else console) as progress:
        task = progress.add_task(f"proofs on {chosen}", total=len(wanted))
        for name in wanted:
            progress.update(task, description=f"{name} on {chosen}")
            try:
                results.append(run_proof(name, device=chosen, seed=seed))
            except ProofError as exc:
                fail(str(exc), EXIT_INVALID)
            progress.advance(task)
    if as_json:
        print(json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False))
    else:
        render.proofs_summary(console, results, chosen)
    if any(not r.passed for r in results):
        raise typer.Exit(EXIT_INVALID)


# -- export -----------------------------------------------------------------------

export_app = typer.Typer(
    help="Export the bank to Anki: a .apkg that updates cleanly, or Anki-headed text.",
    no_args_is_help=True,
)
app.add_typer(export_app, name="export")

ExportTopicsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--topic", "-t", metavar="TOPIC", help="Export only this topic or alias (repeatable)."
    ),
]


@export_app.command("anki")
def export_anki_command(
    ctx: typer.Context,
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="FILE.apkg", help="The package to write.")
    ] = Path("quizcnn.apkg"),
    topic: ExportTopicsOption = None,
    with_proofs: Annotated[
        bool,
        typer.Option(
            "--with-proofs/--no-proofs",
            help="Run each linked proof on CPU and put its claim table and charts in the card.",
        ),
    ] = True,
) -> None:
    """Write an Anki package, one deck per topic; re-importing it updates only changed notes."""
    from quizcnn.export import ExportError
    from quizcnn.export.anki import check_output_name, export_anki

    bank = get_bank(ctx)
    topics = list(topic or [])
    try:
        check_output_name(output)  # before minutes of proofs, not after
        cards = bank.select(topics)
    except (ExportError, UnknownName) as exc:
        fail(str(exc))
    results = _export_proof_results(cards) if with_proofs else None
    try:
        done = export_anki(bank, output, topics=topics, proof_results=results)
    except ExportError as exc:
        fail(str(exc))
    failing = [r.name for r in (results or {}).values() if not r.passed]
    render.export_summary(console, done, failing)


def _export_proof_results(cards) -> dict:
    """Each proof the cards cite, run once on CPU behind a progress bar."""
    from quizcnn.proofs import ProofError, run_proof

    names = list(dict.fromkeys(c.proof for c in cards if c.proof))
    results = {}
    with render.proof_progress(console) as progress:
        task = progress.add_task("proofs on cpu", total=len(names))
        for name in names:
            progress.update(task, description=f"{name} on cpu")
            try:
                results[name] = run_proof(name, device="cpu")
            except ProofError as exc:
                fail(str(exc), EXIT_INVALID)
            progress.advance(task)
    return results


@export_app.command("tsv")
def export_tsv_command(
    ctx: typer.Context,
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="FILE", help="The text file to write.")
    ] = Path("quizcnn.txt"),
    topic: ExportTopicsOption = None,
) -> None:
    """Write Anki-headed tab-separated text (the note type must exist: import the .apkg once)."""
    from quizcnn.export import ExportError
    from quizcnn.export.tsv import export_tsv

    bank = get_bank(ctx)
    try:
        done = export_tsv(bank, output, topics=list(topic or []))
    except (ExportError, UnknownName) as exc:
        fail(str(exc))
    render.export_tsv_summary(console, done.path, done.notes)


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
