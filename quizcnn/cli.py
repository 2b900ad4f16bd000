"""The quizcnn command line: parse options, call the core, hand results to render.

Kept thin on purpose: every command loads what it needs lazily so that
``quizcnn --help`` and ``quizcnn drill`` never import torch.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from quizcnn import __version__, render
from quizcnn.bank import Bank, UnknownName
from quizcnn.cli_context import (
    EXIT_INVALID,
    EXIT_USAGE,
    GlobalOptions,
    assert_never,
    console,
    err_console,
    exit_now,
    fail,
    guarded,
    load_shown_bank,
    print_json,
    store_session,
    translated_bank,
)
from quizcnn.cli_context import clock as _clock
from quizcnn.cli_context import language as _language
from quizcnn.drill_screen import DrillRequest, open_editor, run_drill

APP_SETTINGS = dict(
    name="quizcnn",
    help="Deep-learning interview drills with spaced repetition and runnable PyTorch proofs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
app = typer.Typer(**APP_SETTINGS)


def global_options(ctx: typer.Context) -> GlobalOptions:
    root = ctx.find_root()
    if not isinstance(root.obj, GlobalOptions):
        root.obj = GlobalOptions()
    return root.obj


def get_bank(ctx: typer.Context, strict: bool = False, cached: bool = True) -> Bank:
    """Load the bank in the user's language, or stop with every problem listed."""
    return load_shown_bank(global_options(ctx), strict=strict, cached=cached)


def language(ctx: typer.Context) -> str:
    """--lang, else QUIZCNN_LANG, else the `lang` setting, else English."""
    return _language(global_options(ctx))


def _glossary_mismatches(shown: Bank, lang: str) -> list:
    """(card, message) where a translated card renders a glossary term another way."""
    from quizcnn.i18n import glossary_mismatches, load_glossary
    from quizcnn.paths import questions_dir

    terms = load_glossary(questions_dir() / lang.split("+")[0])
    return [
        (card, message)
        for card in shown.cards
        if card.english is not None and card.lang != "en"
        for message in glossary_mismatches(card.english, card, terms)
    ]


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
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            help="The cards' language: en, zh, or zh+en (Chinese with the English under it); "
            "also QUIZCNN_LANG and the lang setting.",
            metavar="LANG",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    config = global_options(ctx)
    config.bank_dirs = list(bank or [])
    config.include_builtin = not no_builtin
    config.lang = lang


@app.command()
def check(
    ctx: typer.Context,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Also require registered sources on every card, key points on recall cards, "
            "a proof and an opener in every topic.",
        ),
    ] = False,
) -> None:
    """Validate the question bank (and your --bank folders) and summarise it."""
    from quizcnn.proofs import proof_names

    english = global_options(ctx).lang
    global_options(ctx).lang = "en"  # the English bank first; its translation below
    bank = get_bank(ctx, strict=strict, cached=False)  # check always reads every file
    global_options(ctx).lang = english
    lang = language(ctx)
    if lang != "en":
        shown, warnings = translated_bank(bank, lang, global_options(ctx), strict=strict)
        render.bank_issues(err_console, warnings)
        render.glossary_warnings(err_console, _glossary_mismatches(shown, lang))
    render.check_summary(console, bank, proof_names(), strict)
    _report_removed_ids(bank)


@app.command("list")
def list_cards(
    ctx: typer.Context,
    topic: Annotated[
        str | None, typer.Option("--topic", "-t", help="Show one topic's cards.")
    ] = None,
    tags: Annotated[
        bool, typer.Option("--tags", help="List the tags (for drill --tag) with card counts.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List the topics with their card counts, one topic's cards, or the tags."""
    bank = get_bank(ctx)
    if tags:
        try:
            counts = bank.tag_counts(topic)
        except UnknownName as exc:
            fail(str(exc))
        if as_json:
            print_json(counts)
        else:
            render.tag_list(console, counts)
        return
    if topic is None:
        if as_json:
            print_json([t.to_dict() for t in bank.topics.values()])
        else:
            render.topic_list(console, bank)
        return
    chosen = bank.topic_of(topic)
    if chosen is None:
        fail(str(UnknownName(topic, bank.suggest(topic))))
    if as_json:
        print_json([c.summary_dict() for c in chosen.cards])
    else:
        render.card_list(console, f"{chosen.title} ({chosen.name})", chosen.cards)


DeviceOption = Annotated[
    str,
    typer.Option(
        "--device", "-d", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps."
    ),
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed every generator the proof uses.")]


def _resolve_device(requested: str) -> str:
    from quizcnn.devices import DeviceError, resolve_device

    try:
        return resolve_device(requested)
    except DeviceError as exc:
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
    from quizcnn.proofs import proof_titles

    bank = get_bank(ctx)
    if not name.isascii() and language(ctx) == "en":
        # a Chinese name (批归一化): the topic in the language its name is in
        bank = translated_bank(bank, "zh", global_options(ctx), strict=False)[0]
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
            render.explain_cards(console, heading, cards, proof_titles())
        if names:
            results = _run_proofs(names, chosen, seed, status)
        elif not as_json:
            console.print("no proof behind these cards: nothing to run")
    elif not as_json:
        render.explain_cards(console, heading, cards, proof_titles())
    if as_json:
        payload = {
            "query": name,
            "cards": [c.to_dict() for c in cards],
            "proofs": [r.to_dict() for r in results],
        }
        print_json(payload)
    else:
        for result in results:
            render.proof_result(console, result)
    if any(not r.passed for r in results):
        raise typer.Exit(EXIT_INVALID)


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
    from quizcnn.proofs import proof_titles

    bank = get_bank(ctx)
    citing: dict[str, list[str]] = {}
    for card in bank.cards:
        if card.proof:
            citing.setdefault(card.proof, []).append(card.id)
    rows = [(n, title, citing.get(n, [])) for n, title in proof_titles().items()]
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
    from quizcnn.proofs import ProofError, check_names, proof_titles, run_proof

    wanted = list(dict.fromkeys(names)) if names else list(proof_titles())
    try:
        check_names(wanted)
    except ProofError as exc:
        fail(str(exc))
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
        print_json([r.to_dict() for r in results])
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
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            metavar="LANG",
            help="Write the cards in this language: zh, or zh+en (both); same as the global --lang.",
        ),
    ] = None,
) -> None:
    """Write an Anki package, one deck per topic; re-importing it updates only changed notes."""
    if lang is not None:
        global_options(ctx).lang = lang
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


# -- drill, stats and the review database ---------------------------------------
#
# The clock: QUIZCNN_NOW=2025-01-06T09:00:00Z fixes "now" (ISO, UTC unless it names
# a zone) for tests and demos; time then stands still. Unset, the real clock runs.

TopicsOption = Annotated[
    list[str] | None,
    typer.Option("--topic", "-t", metavar="TOPIC", help="Only this topic or alias (repeatable)."),
]
TagsOption = Annotated[
    list[str] | None,
    typer.Option("--tag", "-g", metavar="TAG", help="Only cards with this tag (repeatable)."),
]


@app.command()
def drill(
    ctx: typer.Context,
    topic: TopicsOption = None,
    tag: TagsOption = None,
    new: Annotated[
        int | None,
        typer.Option(
            "--new",
            min=0,
            help="New cards this session (default: what is left of today's limit, 10).",
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            min=0,
            help="Reviews + new cards this session (default: what is left of today's limit, 200).",
        ),
    ] = None,
    cram: Annotated[
        bool,
        typer.Option("--cram", help="Practise ahead: every card, logged as cram, schedules kept."),
    ] = False,
    device: DeviceOption = "auto",
) -> None:
    """Review today's due cards, scheduled by FSRS; every grade is saved at once.

    Type an attempt (or just Enter) to reveal; grade 1 Again, 2 Hard, 3 Good, 4 Easy
    (choice and numeric cards grade themselves: Enter accepts); e explanation,
    p run the proof, u undo, q quit. Piped input works for scripts.
    """
    run_drill(
        global_options(ctx),
        DrillRequest(tuple(topic or ()), tuple(tag or ()), new, limit, cram, device),
    )


@app.command()
def solve(
    ctx: typer.Context,
    card_id: Annotated[str, typer.Argument(metavar="CARD", help="A code card's id.")],
    file: Annotated[
        Path | None,
        typer.Argument(metavar="[FILE]", help="The Python file to check.", dir_okay=False),
    ] = None,
    edit: Annotated[
        bool,
        typer.Option("--edit", help="Open your own attempt file in your editor, then check it."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check your implementation of a code card against torch; exit 0 when every case passes."""
    from quizcnn.runner import check_file, prepare_attempt, unchanged_from_starter

    bank = get_bank(ctx)
    card = _code_card(bank, card_id)
    if edit == (file is not None):
        fail("give a FILE to check, or --edit to write your own attempt (not both)")
    if edit:
        file = prepare_attempt(card)
        if not open_editor(file):
            raise typer.Exit(EXIT_USAGE)
        if unchanged_from_starter(card, file):
            fail(f"edit the file first: {file} still holds the starter")
    assert file is not None
    if not file.is_file():
        fail(f"{file}: no such file")
    with render.spinner(err_console if as_json else console, f"checking {file.name}..."):
        report = check_file(card, file)
    if as_json:
        print_json(report.to_dict())
    else:
        render.check_report(console, report, 1)
    if not report.passed:
        raise typer.Exit(EXIT_INVALID)


def _code_card(bank: Bank, card_id: str):
    from quizcnn.cards import Kind

    card = bank.by_id.get(card_id.lower())
    if card is None:
        fail(str(UnknownName(card_id, bank.suggest(card_id))))
    if card.kind is not Kind.IMPLEMENT:
        fail(
            f"{card.id} is a {card.kind} card, not a code card; `quizcnn list --tags` shows code-card tags"
        )
    return card


@app.command()
def interview(
    ctx: typer.Context,
    minutes: Annotated[int, typer.Option("--minutes", "-m", help="The session's length.")] = 30,
    topic: TopicsOption = None,
    practice: Annotated[
        bool, typer.Option("--practice", help="Leave every card's schedule untouched.")
    ] = False,
    history: Annotated[
        bool, typer.Option("--history", help="List past interviews with their scores.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """A timed mock interview: openers, follow-ups as deep as your answers earn, a report.

    Answer each question (typed or aloud) and press Enter; then tick the key points
    you covered (their numbers, a for all) and Enter. q ends the session with its report.
    """
    from quizcnn.interview import Interview, InterviewError, rank_by_recall
    from quizcnn.plan import active_in_force
    from quizcnn.schedule import make_scheduler

    bank = get_bank(ctx)
    clock = _clock()
    with store_session() as store:
        if history:
            sessions = store.interview_sessions()
            if as_json:
                print_json([s._asdict() for s in sessions])
            else:
                render.interview_history(console, sessions)
            return
        settings = store.settings()
        try:
            session = Interview(
                store,
                bank,
                minutes=minutes,
                topics=list(topic or []),
                practice=practice,
                clock=clock,
                scheduler_for=lambda: make_scheduler(
                    settings.parameters, settings.desired_retention
                ),
                weakest=rank_by_recall(bank, store, clock(), settings.parameters),
                plan=active_in_force(store, bank.cards, settings, clock()),
            )
        except InterviewError as exc:
            fail(str(exc))
        events = session.start()
        while True:
            _draw_interview(events, session, as_json)
            if session.done:
                break
            try:
                events = session.press(console.input("[bold]>[/] "))
            except (EOFError, KeyboardInterrupt):  # every answer given is already saved
                console.print()
                events = [session.stop("quit")]


def _draw_interview(events: list, session, as_json: bool) -> None:
    from quizcnn.interview import Checklist, Finished, Invalid, Question, Saved

    for event in events:
        match event:
            case Question():
                render.interview_question(console, event.asked, event.session_left_s)
            case Checklist():
                render.interview_checklist(console, event.asked)
            case Saved():
                render.interview_saved(console, event.answer, event.deeper)
            case Invalid():
                render.drill_invalid(console, event.text, [])
            case Finished():
                if as_json:
                    print_json(event.report.to_dict())
                else:
                    render.interview_report(console, event.report, session.bank)
            case _:
                assert_never(event)


@app.command()
def stats(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Cards by state, reviews per day, due forecast, true retention, weak topics, streak."""
    from quizcnn.stats import compute

    bank = get_bank(ctx)
    clock = _clock()
    with store_session() as store:
        result = compute(store, bank.cards, clock())
    if as_json:
        print_json(result.to_dict())
    else:
        render.stats_report(console, result)


@app.command("plan")
def plan_command(
    ctx: typer.Context,
    day: Annotated[
        str | None,
        typer.Argument(metavar="[DATE]", help="The interview day, YYYY-MM-DD (sets the plan)."),
    ] = None,
    topic: TopicsOption = None,
    tag: TagsOption = None,
    ceiling: Annotated[
        str | None,
        typer.Option(
            "--ceiling", metavar="N", help="Most new cards a day the plan may ask for (1-1000)."
        ),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="End the plan.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Plan for the interview day: pace new cards, pull reviews in before it, predict recall.

    `quizcnn plan 2027-01-18 --topic bn` sets the day and scope and prints the plan;
    `quizcnn plan` shows where you stand; `quizcnn plan --clear` ends it (it also ends
    by itself once the day has passed).
    """
    from quizcnn.plan import PlanError, handle

    bank = get_bank(ctx)
    clock = _clock()
    with store_session() as store:
        try:
            view = handle(
                store,
                bank,
                clock(),
                date_text=day,
                topics=list(topic or []),
                tags=list(tag or []),
                ceiling=ceiling,
                clear=clear,
            )
        except PlanError as exc:
            fail(str(exc))
    if as_json:
        print_json(view.to_dict())
    else:
        render.plan_view(console, view)


CardNames = Annotated[
    list[str],
    typer.Argument(metavar="ID...", help="Card ids, or topics/aliases (all their cards)."),
]


def _card_ids(bank: Bank, names: list[str], known: set[str]) -> list[str]:
    """Card ids for names: a card id, a topic or alias, or an id only the database has."""
    ids: list[str] = []
    for name in names:
        if name in known and name not in bank.by_id:
            ids.append(name)  # a card removed from the bank: still yours to control
            continue
        try:
            ids.extend(card.id for card in bank.find(name))
        except UnknownName as exc:
            fail(str(exc))
    return list(dict.fromkeys(ids))


def _set_suspended(ctx: typer.Context, names: list[str], suspended: bool) -> None:
    bank = get_bank(ctx)
    clock = _clock()
    with store_session() as store:
        ids = _card_ids(bank, names, store.card_ids())
        changed = store.set_suspended(ids, suspended, clock())
    verb = "suspended" if suspended else "unsuspended"
    render.id_list_line(console, verb, changed, f"nothing to do: already {verb}")


@app.command()
def suspend(ctx: typer.Context, names: CardNames) -> None:
    """Keep cards out of drills until unsuspended (their schedule and history stay)."""
    _set_suspended(ctx, names, True)


@app.command()
def unsuspend(ctx: typer.Context, names: CardNames) -> None:
    """Bring suspended cards (leeches included) back into drills."""
    _set_suspended(ctx, names, False)


@app.command()
def reset(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None,
        typer.Argument(metavar="[ID]...", help="Card ids, or topics/aliases (all their cards)."),
    ] = None,
    all_cards: Annotated[bool, typer.Option("--all", help="Reset every card.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask to confirm.")] = False,
) -> None:
    """Make cards new again (schedule and lapses cleared); the review log is kept."""
    if bool(names) == all_cards:
        fail("name the cards to reset, or pass --all (not both)")
    bank = get_bank(ctx)
    clock = _clock()
    with store_session() as store:
        known = store.started_ids()  # a card only ever suspended is still new
        ids = (
            sorted(known)
            if all_cards
            else [i for i in _card_ids(bank, names or [], known) if i in known]
        )
        if not ids:
            console.print("nothing to reset: these cards are already new")
            return
        if not yes:
            what = f"all {len(ids)} cards" if all_cards else f"{len(ids)} card(s)"
            try:
                confirmed = typer.confirm(f"Reset {what} to new? The review history is kept")
            except typer.Abort:
                confirmed = False
            if not confirmed:
                fail("nothing was reset (pass --yes to reset without asking)", EXIT_INVALID)
        done = store.reset(ids, clock())
    render.id_list_line(console, "reset", done)


@app.command()
def optimize(ctx: typer.Context) -> None:
    """Fit FSRS parameters to your own review log (fsrs's Optimizer; needs torch)."""
    from quizcnn.schedule import OptimizeRefused
    from quizcnn.schedule import optimize as fit_to_log

    clock = _clock()
    with store_session() as store:
        try:
            outcome = fit_to_log(
                store,
                clock(),
                fitting=lambda n: render.spinner(console, f"fitting FSRS to {n} reviews..."),
            )
        except OptimizeRefused as exc:
            fail(str(exc), EXIT_INVALID)
    render.optimize_report(console, outcome)


@app.command("settings")
def settings_command(
    key: Annotated[str | None, typer.Argument(help="A setting to change.")] = None,
    value: Annotated[str | None, typer.Argument(help="Its new value.")] = None,
) -> None:
    """Show the study settings, or change one: `quizcnn settings new_per_day 20`."""
    from quizcnn.settings import SettingError, change, shown

    with store_session() as store:
        try:
            current = change(store, key, value) if key is not None else store.settings()
        except SettingError as exc:
            fail(str(exc))
    render.settings_table(console, shown(current))


def _report_removed_ids(bank: Bank) -> None:
    """`check`: ids in the review database that the bank no longer has."""
    from quizcnn.store import StoreError, open_existing

    try:
        store = open_existing()
    except StoreError as exc:
        render.error_line(err_console, str(exc))
        return
    if store is None:
        return
    try:
        with store:
            ids = sorted((store.card_ids() | store.reviewed_ids()) - set(bank.by_id))
    except StoreError as exc:
        render.error_line(err_console, str(exc))
        return
    render.removed_ids(console, ids, store.path)


@app.command()
def glossary(
    ctx: typer.Context,
    word: Annotated[str | None, typer.Argument(help="An English term (or part of one).")] = None,
) -> None:
    """How interviewers say each term in Chinese: kept in English, or its rendering."""
    from quizcnn.i18n import load_glossary
    from quizcnn.paths import questions_dir

    terms = load_glossary(questions_dir() / "zh")
    if word is not None:
        terms = [
            t
            for t in terms
            if word.lower() in t.english.lower() or (t.rendering and word in t.rendering)
        ]
        if not terms:
            fail(f"no glossary term matches {word!r}; `quizcnn glossary` lists them all")
    render.glossary_table(console, terms)


GLOBAL_OPTIONS_WITH_VALUE = ("--bank", "--lang")


def app_for(argv: list[str]) -> typer.Typer:
    """The app holding only the command being run. typer turns every registered
    command into a click command at start (a fifth of the drill's start); one
    command needs only its own. Help, --version, a group (proofs, export) or an
    unknown name get the whole app, so their output is unchanged."""
    command = _command_name(argv[1:])
    for info in app.registered_commands:
        if command is not None and command == _registered_name(info):
            lean = typer.Typer(**APP_SETTINGS)
            lean.registered_callback = app.registered_callback
            lean.registered_commands = [info]
            return lean
    return app


def _command_name(args: list[str]) -> str | None:
    """The first word after the global options, or None if an option comes first."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in GLOBAL_OPTIONS_WITH_VALUE:
            skip = True
        elif arg == "--no-builtin" or arg.startswith(
            tuple(f"{o}=" for o in GLOBAL_OPTIONS_WITH_VALUE)
        ):
            continue
        elif arg.startswith("-"):
            return None
        else:
            return arg
    return None


def _registered_name(info) -> str:
    return info.name or info.callback.__name__.replace("_", "-")


def main() -> None:
    """`python -m quizcnn.cli`: run, then exit at once with the command's exit code."""
    exit_now(run())


def run() -> int:
    """Run the command in sys.argv through typer; returns the exit code."""
    return guarded(lambda: app_for(sys.argv)())


if __name__ == "__main__":
    main()
