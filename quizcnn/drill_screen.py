"""The drill on a terminal: draw the drill's events, read keys, until it is done.

``quizcnn drill`` (typer, in ``quizcnn.cli``) and the bare ``quizcnn drill`` that
``quizcnn.entry`` runs without typer both call ``run_drill``; nothing here
imports typer.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import NamedTuple

from quizcnn import render
from quizcnn.cli_context import (
    GlobalOptions,
    assert_never,
    clock,
    console,
    err_console,
    load_english_bank,
    selected_cards,
    shown_in_language,
    store_session,
)


class DrillRequest(NamedTuple):
    """What `quizcnn drill` was asked for; the defaults are the bare command's."""

    topics: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    new: int | None = None
    limit: int | None = None
    cram: bool = False
    device: str = "auto"


def run_drill(config: GlobalOptions, request: DrillRequest) -> None:
    """A whole drill session: every grade is saved as it is given."""
    from quizcnn.drill import Drill, Options
    from quizcnn.runner import WarmChecks

    english = load_english_bank(config)  # a broken bank stops before a database is made
    now = clock()
    with store_session() as store:
        bank = shown_in_language(english, config, store)  # one open of the database
        cards = selected_cards(bank, list(request.topics), list(request.tags))
        options = Options(request.topics, request.tags, request.new, request.limit, request.cram)
        session = Drill(store, cards, options, clock=now, bank_cards=bank.cards)
        code = WarmChecks()
        try:
            _loop(session, session.start(), request.device, now, code)
        finally:
            code.close()


def _loop(session, events: list, device: str, now, code) -> None:
    while True:
        while events:  # opening the editor or a check can bring more events
            events = _draw(events, session, device, now(), code)
        if session.done:
            return
        _collect_from_now_on()
        try:
            events = session.press(console.input("[bold]>[/] "))
        except (EOFError, KeyboardInterrupt):  # each grade is saved, or rolled back
            console.print()
            events = [session.stop("quit")]


def _collect_from_now_on() -> None:
    """The bare drill starts with the garbage collector off (quizcnn.entry): its start
    allocates tens of thousands of objects that live as long as the process, and
    collecting them over and over is a sixth of the time to the first card. Once the
    first screen is up they are frozen (kept out of every later collection) and
    collection resumes, so a long session never grows without bound."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def _draw(events: list, session, device: str, now, code) -> list:
    """Draw the events; what the editor or a check produced comes back, to draw next."""
    from quizcnn.cards import Kind
    from quizcnn.drill import (
        CardShown,
        Checked,
        CheckRequested,
        EditRequested,
        ExplanationShown,
        Finished,
        Graded,
        Invalid,
        NothingDue,
        Notice,
        Phase,
        PointsChecklist,
        PointsConfirmed,
        ProofRequested,
        Revealed,
        Undone,
    )

    prompt_keys = False
    more: list = []
    for event in events:
        match event:
            case CardShown():
                render.drill_card(console, event.shown, event.counts, event.cram)
                if event.shown.card.kind is Kind.IMPLEMENT:
                    code.prepare(event.shown.card)  # torch imports while the task is read
                else:
                    code.close()
                prompt_keys = True
            case EditRequested():
                if open_editor(event.path):
                    more += session.edited()
                prompt_keys = True
            case CheckRequested():
                with render.spinner(console, f"checking {event.path.name}..."):
                    report = code.run(event.card, event.path)
                more += session.checked(report)
            case Checked():
                render.check_report(console, event.report, event.runs)
                prompt_keys = True
            case Revealed():
                render.drill_reveal(console, event.shown)
                prompt_keys = True
            case PointsChecklist():
                render.drill_points(console, event.shown)
                prompt_keys = True
            case PointsConfirmed():
                render.drill_grades(console, event.shown.previews, event.shown.suggested)
                prompt_keys = True
            case ExplanationShown():
                render.drill_explanation(console, event.card)
                prompt_keys = True
            case ProofRequested():
                _run_proof(event.proof, device)
                prompt_keys = True
            case Graded():
                render.drill_graded(console, event)
            case Undone():
                render.drill_undone(console, event)
            case Notice():
                render.drill_notice(console, event.text)
                prompt_keys = prompt_keys or session.phase is Phase.EMPTY
            case Invalid():
                render.drill_invalid(console, event.text, event.keys)
                prompt_keys = False
            case NothingDue():
                render.drill_nothing_due(console, event, now)
                prompt_keys = True
            case Finished():
                render.drill_summary(console, event.summary)
            case _:
                assert_never(event)
    if prompt_keys and not session.done and not more:
        render.drill_keys(console, session.valid_keys())
    return more


def open_editor(path: Path) -> bool:
    """The user's editor on their attempt file, waited for; False (said in one line)
    when it cannot start, so nothing is checked."""
    import subprocess

    from quizcnn.runner import editor_command

    command = [*editor_command(), str(path)]
    try:
        subprocess.run(command, check=False)
    except OSError as exc:
        render.error_line(
            err_console, f"cannot start the editor {command[0]!r}: {exc.strerror}; set EDITOR"
        )
        return False
    return True


def _run_proof(name: str, device: str) -> None:
    """Run a card's proof inside the drill (torch is imported only now); a proof that
    cannot run is one line, and the drill goes on."""
    from quizcnn.devices import DeviceError, resolve_device
    from quizcnn.proofs import ProofError, run_proof

    try:
        chosen = resolve_device(device)
        with render.spinner(console, f"running proof {name} on {chosen}..."):
            result = run_proof(name, device=chosen)
    except (DeviceError, ProofError) as exc:
        render.error_line(err_console, str(exc))
        return
    except KeyboardInterrupt:
        render.drill_notice(console, "proof interrupted")
        return
    render.proof_result(console, result)
