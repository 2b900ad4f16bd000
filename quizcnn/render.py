"""Everything rich draws: cards, tables, charts, summaries.

render is called by the CLI and never calls back into it; each function takes
plain data and a Console and draws, nothing else.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from quizcnn.bank import Bank, BankIssue, Card, Kind
from quizcnn.grading import RATING_NAMES, choice_letters, correct_letter
from quizcnn.mathtext import latex_to_unicode

if TYPE_CHECKING:
    # imported where used: together ~40 ms, which `quizcnn drill` does not pay
    # until a user asks for an explanation or a proof
    from rich.markdown import Markdown
    from rich.progress import Progress
    from rich.table import Table

    from quizcnn.results import ProofResult, Series
    from quizcnn.results import Table as ProofTable


def _(text: str) -> str:
    """The app's own words in the chosen language (see ``use_language``); a core
    Message is translated by its template and filled in with its values."""
    template = getattr(text, "template", None)
    if template is not None:
        return _catalog.gettext(template).format(**text.values)
    return _catalog.gettext(text)


class _English:
    @staticmethod
    def gettext(text: str) -> str:
        return text


_catalog = _English()


def use_language(lang: str) -> None:
    """Draw the app's own words (keys, grades, labels) from the gettext catalog of
    ``lang`` ('zh' or 'zh+en'), so a session reads in one language."""
    global _catalog
    base = lang.split("+")[0]
    if base == "en":
        _catalog = _English()
        return
    from quizcnn.i18n import messages

    _catalog = messages(base)


def new_table(*args, **kwargs) -> Table:
    """rich's Table, imported at the first table drawn: the first card of a drill
    is a panel, so the drill starts without it (~10 ms with its imports)."""
    from rich.table import Table as RichTable

    return RichTable(*args, **kwargs)


def error_line(console: Console, message: str) -> None:
    """One clear line for bad input: what is wrong, where, what to do. The message is
    plain text: a path or a name may hold [brackets] that are not markup."""
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def bank_issues(console: Console, issues: Sequence[BankIssue]) -> None:
    # one plain line per issue: editors and grep understand path:line:col
    for issue in issues:
        console.print(str(issue), markup=False, highlight=False, soft_wrap=True)
    console.print(f"[bold red]{len(issues)} problem(s)[/] in the question bank", highlight=False)


def check_summary(console: Console, bank: Bank, proofs_available: set[str], strict: bool) -> None:
    kinds = Counter(card.kind for card in bank.cards)
    cited = Counter(card.proof for card in bank.cards if card.proof)
    without = [card.id for card in bank.cards if not card.proof]
    table = new_table(title="quizcnn check", show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("topics", str(len(bank.topics)))
    table.add_row(
        "cards", f"{len(bank.cards)}  (" + ", ".join(f"{k} {kinds[k]}" for k in sorted(kinds)) + ")"
    )
    table.add_row("proofs", f"{len(cited)} referenced of {len(proofs_available)} in demos/")
    share = 100 * (len(bank.cards) - len(without)) / max(len(bank.cards), 1)
    table.add_row("with a proof", f"{share:.0f}% of cards")
    table.add_row("without a proof", ", ".join(without) if without else "none")
    unused = sorted(proofs_available - set(cited))
    if unused:
        table.add_row("proofs no card cites", ", ".join(unused))
    console.print(table)
    for warning in bank.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    mode = "strict " if strict else ""
    console.print(f"[bold green]ok[/]: the bank passes {mode}validation", highlight=False)


def topic_list(console: Console, bank: Bank) -> None:
    table = new_table(title="Topics")
    table.add_column("topic", style="bold cyan")
    table.add_column("title")
    table.add_column("aliases", style="dim")
    table.add_column("cards", justify="right")
    table.add_column("with proof", justify="right")
    for topic in bank.topics.values():
        proved = sum(1 for c in topic.cards if c.proof)
        table.add_row(
            topic.name, topic.title, ", ".join(topic.aliases), str(len(topic.cards)), str(proved)
        )
    table.caption = f"{len(bank.cards)} cards in {len(bank.topics)} topics"
    console.print(table)


def tag_list(console: Console, counts: dict[str, int]) -> None:
    table = new_table(title="Tags")
    table.add_column("tag", style="bold cyan")
    table.add_column("cards", justify="right")
    for tag, count in counts.items():
        table.add_row(tag, str(count))
    console.print(table)
    console.print("[dim]drill one with: quizcnn drill --tag TAG[/]")


def card_list(console: Console, title: str, cards: Sequence[Card]) -> None:
    table = new_table(title=title)
    table.add_column("id", style="bold cyan", no_wrap=True)
    table.add_column("kind")
    table.add_column("proof", style="green")
    table.add_column("question")
    for card in cards:
        table.add_row(card.id, card.kind, card.proof or "-", card.question)
    console.print(table)


# -- explain and proofs ------------------------------------------------------

_INLINE_MATH = re.compile(r"\\\((.+?)\\\)", re.DOTALL)
_DISPLAY_MATH = re.compile(r"\\\[(.+?)\\\]", re.DOTALL)
BAR_WIDTH = 40


def terminal_markdown(text: str) -> Markdown:
    """Markdown for a terminal: LaTeX spans become Unicode math in code spans,
    which markdown leaves alone (no stray italics from x_i ... y_j)."""
    from rich.markdown import Markdown

    text = _DISPLAY_MATH.sub(lambda m: "\n```\n" + latex_to_unicode(m.group(1)) + "\n```\n", text)
    text = _INLINE_MATH.sub(
        lambda m: "`" + latex_to_unicode(" ".join(m.group(1).split())) + "`", text
    )
    return Markdown(text)


def citation(source) -> str:
    """A source as rich markup: the full citation, then its link (clickable where the
    terminal supports hyperlinks, and printed so it can be copied where not)."""
    text = escape(source.text)
    if source.url and source.url not in source.text:
        url = escape(source.url)
        return f"{text} [link={url}][blue]{url}[/][/link]"
    return text


def explain_cards(
    console: Console, heading: str, cards: Sequence[Card], proof_titles: dict[str, str]
) -> None:
    """Question, answer, explanation, sources and proof of each card."""
    console.rule(f"[bold]{escape(heading)}[/]")
    for card in cards:
        console.print()
        console.print(f"[bold cyan]{escape(card.id)}[/] [dim]({card.kind})[/]", highlight=False)
        question = question_markup(card, card.question, correct_mark=True)
        console.print(f"[bold]{_('Q:')}[/] {question}", highlight=False)
        if card.kind is Kind.NUMERIC and card.generator:
            console.print(f"[dim]{_('numbers drawn at review time')} ({card.generator})[/]")
        elif card.kind is Kind.NUMERIC and card.value is not None:
            unit = f" {card.unit}" if card.unit else ""
            console.print(
                f"[bold]{_('Value:')}[/] {card.value:g}{unit} (± {card.tolerance or 0:g})",
                highlight=False,
            )
        if card.kind is Kind.IMPLEMENT:
            console.print(terminal_markdown(card.task or ""))
            console.print(f"[dim]check a file: quizcnn solve {card.id} FILE[/]", highlight=False)
            code_solution(console, card)
        else:
            console.print(
                f"[bold]{_('A:')}[/] {escape(card.answer)}{english_under(card, 'answer')}",
                highlight=False,
            )
        console.print(terminal_markdown(card.explanation))
        if card.with_english:
            console.print(terminal_markdown(card.english.explanation), style="dim")
        if card.sources:
            console.print(f"[bold]{_('Sources')}[/]")
            for source in card.sources:
                console.print(f"  • {citation(source)}", highlight=False, soft_wrap=True)
        if card.proof:
            title = proof_titles.get(card.proof, "")
            console.print(
                f"[bold]{_('Proof:')}[/] [green]{card.proof}[/]"
                + (f" - {escape(title)}" if title else ""),
                highlight=False,
            )


def spinner(console: Console, text: str):
    """A context manager that shows a spinner while the body runs."""
    return console.status(text, spinner="dots")


def proof_progress(console: Console) -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def proof_result(console: Console, result: ProofResult) -> None:
    """A proof's claims as a table, then its own tables and bar charts."""
    from quizcnn.results import describe_expected, format_measured  # only once a proof ran

    verdict = "[bold green]PASS[/]" if result.passed else "[bold red]FAIL[/]"
    console.print()
    console.print(
        f"{verdict} [bold]{escape(result.title)}[/] [dim]({result.name}: {result.device}, "
        f"seed {result.seed}, {result.seconds:.2f} s, torch {result.torch_version})[/]",
        highlight=False,
    )
    table = new_table(show_lines=False)
    table.add_column("claim")
    table.add_column("measured", justify="right", no_wrap=True)
    table.add_column("expected", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    for claim in result.claims:
        measured = (
            ("true" if claim.passed else "false")
            if claim.op == "is"
            else format_measured(claim.measured)
        )
        mark = "[green]pass[/]" if claim.passed else "[bold red]FAIL[/]"
        text = escape(claim.text) + (f" [dim]({escape(claim.detail)})[/]" if claim.detail else "")
        table.add_row(text, measured, describe_expected(claim), mark)
    console.print(table)
    if result.error:
        console.print(f"[bold red]error:[/] {escape(result.error)}", highlight=False)
    for extra in result.tables:
        data_table(console, extra)
    for series in result.series:
        bar_chart(console, series)


def data_table(console: Console, table_data: ProofTable) -> None:
    table = new_table(title=escape(table_data.title))
    for column in table_data.columns:
        table.add_column(escape(str(column)))
    for row in table_data.rows:
        table.add_row(*[_cell(value) for value in row])
    console.print(table)


def _cell(value) -> str:
    from quizcnn.results import format_measured

    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return escape(str(value))
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return format_measured(float(value)) if isinstance(value, float) else str(value)


def bar_chart(console: Console, series: Series) -> None:
    """Horizontal bars, one per x value and line; log scale when the series asks for it."""
    values = [v for line in series.lines.values() for v in line]
    scale = _bar_scale(values, series.log_y)
    scale_note = "log scale" if series.log_y else "linear scale"
    console.print(
        f"[bold]{escape(series.title)}[/] [dim]({escape(series.y_label)}, {scale_note})[/]"
    )
    label_width = max(len(str(x)) for x in series.x) if series.x else 1
    name_width = max(len(name) for name in series.lines) if len(series.lines) > 1 else 0
    colours = ["cyan", "magenta", "yellow", "green", "blue"]
    for i, x in enumerate(series.x):
        for k, (name, line) in enumerate(series.lines.items()):
            value = line[i] if i < len(line) else float("nan")
            label = str(x).rjust(label_width) if k == 0 else " " * label_width
            tag = f" {name.ljust(name_width)}" if name_width else ""
            bar = "█" * scale(value)
            colour = colours[k % len(colours)]
            console.print(
                f"{escape(label)}{escape(tag)} [{colour}]{bar}[/] {_value_text(value)}",
                highlight=False,
            )
    console.print(f"[dim]{escape(series.x_label)}[/]")


def _bar_scale(values: Sequence[float], log_y: bool):
    usable = [v for v in values if math.isfinite(v) and (v > 0 or not log_y)]
    if not usable:
        return lambda v: 0
    if log_y:
        low, high = math.log10(min(usable)), math.log10(max(usable))

        def length(v: float) -> int:
            if not math.isfinite(v) or v <= 0:
                return 0
            if high == low:
                return BAR_WIDTH
            return 1 + round((math.log10(v) - low) / (high - low) * (BAR_WIDTH - 1))

        return length
    top = max(abs(v) for v in usable) or 1.0
    return lambda v: round(abs(v) / top * BAR_WIDTH) if math.isfinite(v) else 0


def _value_text(value: float) -> str:
    from quizcnn.results import format_measured

    return str(value) if not math.isfinite(value) else format_measured(value)


def proofs_table(console: Console, rows: Sequence[tuple[str, str, Sequence[str]]]) -> None:
    """name | what it shows | cards citing it."""
    table = new_table(title="Proofs")
    table.add_column("proof", style="green", no_wrap=True)
    table.add_column("what it shows")
    table.add_column("cited by", style="cyan", overflow="fold")
    for name, title, cards in rows:
        table.add_row(name, escape(title), ", ".join(cards) if cards else "[dim]-[/]")
    table.caption = f"{len(rows)} proofs; run them with: quizcnn proofs run [NAME]..."
    console.print(table)


def proofs_summary(console: Console, results: Sequence[ProofResult], device: str) -> None:
    """One row per proof, then every failing claim spelled out."""
    from quizcnn.results import describe_expected, format_measured

    table = new_table(title=f"Proofs on {device}")
    table.add_column("proof", no_wrap=True)
    table.add_column("claims", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("verdict")
    for result in results:
        held = sum(c.passed for c in result.claims)
        verdict = "[green]pass[/]" if result.passed else "[bold red]FAIL[/]"
        table.add_row(result.name, f"{held}/{len(result.claims)}", f"{result.seconds:.2f}", verdict)
    console.print(table)
    for result in results:
        for claim in result.claims:
            if not claim.passed:
                console.print(
                    f"[bold red]FAIL[/] {result.name}.{claim.key}: {escape(claim.text)}: measured "
                    f"{format_measured(claim.measured)}, expected {describe_expected(claim)}",
                    highlight=False,
                    soft_wrap=True,
                )
        if result.error:
            console.print(
                f"[bold red]error[/] {result.name}: {escape(result.error)}", highlight=False
            )
        elif not result.claims:
            console.print(f"[bold red]FAIL[/] {result.name}: recorded no claims", highlight=False)
    passed = sum(r.passed for r in results)
    colour = "green" if passed == len(results) else "red"
    console.print(f"[bold {colour}]{passed}/{len(results)} proofs pass[/] on {device}")


# -- export --------------------------------------------------------------------


def export_summary(console: Console, done, failing_proofs: Sequence[str] = ()) -> None:
    """What `export anki` wrote (``done`` is an AnkiExport) and how to import it."""
    charts = f", {done.media} chart(s)" if done.media else ""
    console.print(
        f"[bold green]wrote[/] {escape(str(done.path))}: {done.notes} notes in "
        f"{done.decks} deck(s){charts}",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"  {len(done.new)} new and {len(done.changed)} changed since the last export; "
        "unchanged notes keep their old time, so a re-import leaves your Anki edits alone",
        highlight=False,
        soft_wrap=True,
    )
    for name in failing_proofs:
        console.print(
            f"[yellow]warning:[/] proof {escape(name)} has failing claims on this torch; "
            "its Proof field shows them as FAIL",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        "  import it in Anki with File > Import; your reviews are kept",
        highlight=False,
        soft_wrap=True,
    )


def export_tsv_summary(console: Console, path, notes: int) -> None:
    console.print(
        f"[bold green]wrote[/] {escape(str(path))}: {notes} notes", highlight=False, soft_wrap=True
    )
    console.print(
        "  import it in Anki with File > Import; the note type 'quizcnn' must exist "
        "(import the .apkg once first)",
        highlight=False,
        soft_wrap=True,
    )


# -- drill ---------------------------------------------------------------------

GRADE_NAMES = RATING_NAMES
GRADE_COLOURS = {1: "red", 2: "yellow", 3: "green", 4: "cyan"}


def inline_math(text: str) -> str:
    """Plain text with its \\( ... \\) and \\[ ... \\] spans as Unicode math."""
    text = _DISPLAY_MATH.sub(lambda m: latex_to_unicode(" ".join(m.group(1).split())), text)
    return _INLINE_MATH.sub(lambda m: latex_to_unicode(" ".join(m.group(1).split())), text)


def format_interval(delta) -> str:
    """Anki's short intervals: <1m, 10m, 5h, 3d, 2.1mo, 1.3y."""
    seconds = delta.total_seconds()
    if seconds < 60:
        return "<1m"
    if seconds < 3600:
        return f"{round(seconds / 60)}m"
    if seconds < 86400:
        return f"{round(seconds / 3600)}h"
    days = seconds / 86400
    if days < 30:
        return f"{round(days)}d"
    if days < 365:
        return f"{days / 30:.1f}mo"
    return f"{days / 365:.1f}y"


def drill_card(console: Console, shown, counts: tuple[int, int, int], cram: bool) -> None:
    """A card's panel: topic, kind and state above, the question (and choices) inside."""
    card = shown.card
    body = question_markup(card, shown.question)
    if card.kind is Kind.NUMERIC and shown.unit:
        body += f"\n[dim](answer in {escape(shown.unit)})[/]"
    if card.kind is Kind.IMPLEMENT:
        from rich.console import Group

        from quizcnn.runner import attempt_path

        where = f"[dim]o opens your file: {escape(str(attempt_path(card)))}[/]"
        body = Group(body, terminal_markdown(card.task or ""), where)
    learning, review, new = counts
    left = f"cram: {review} left" if cram else f"learning {learning} · review {review} · new {new}"
    title = f"[bold cyan]{escape(card.topic)}[/] · {card.kind} · {shown.label}"
    question_panel(console, body, title, f"{escape(card.id)} · {left}")


def question_markup(card, question: str, correct_mark: bool = False) -> str:
    """The question as shown (a generator's draw, say), with a choice card's options
    (the correct one ticked for `explain`); in --lang zh+en the English under each,
    dimmer; an untranslated card is marked."""
    body = escape(inline_math(question))
    english = card.english if card.with_english else None
    if english is not None and question == card.question:
        body += f"\n[dim]{escape(inline_math(english.question))}[/]"
    for i, (letter, choice) in enumerate(zip(choice_letters(card), card.choices, strict=True)):
        mark = " [green]✓[/]" if correct_mark and choice == card.correct else ""
        body += f"\n  [bold]{letter})[/] {escape(inline_math(choice))}{mark}"
        if english is not None and english.choices[i] != choice:
            body += f" [dim]{escape(inline_math(english.choices[i]))}[/]"
    if card.untranslated:
        body += f"\n[dim]{UNTRANSLATED}[/]"
    return body


UNTRANSLATED = "(English: no translation yet)"


def english_under(card, field: str) -> str:
    """The English of a field, dimmer, for --lang zh+en (empty otherwise)."""
    if not card.with_english:
        return ""
    return f"\n[dim]{escape(inline_math(getattr(card.english, field) or ''))}[/]"


def question_panel(console: Console, body, title: str, subtitle: str) -> None:
    """A question in its box: what it is above, where it stands below (dim)."""
    from rich.panel import Panel
    from rich.text import Text

    console.print()
    console.print(
        Panel(
            body,
            # as Text: a str title would be parsed with emoji codes on (and load their table)
            title=Text.from_markup(title, emoji=False),
            title_align="left",
            subtitle=Text.from_markup(f"[dim]{subtitle}[/]", emoji=False),
            subtitle_align="right",
            padding=(0, 1),
        ),
        highlight=False,
    )


def drill_keys(console: Console, keys: Sequence[tuple[str, str]]) -> None:
    console.print(
        "[dim]"
        + " · ".join(f"[bold]{escape(_(k))}[/bold] {escape(_(v))}" for k, v in keys)
        + "[/]",
        highlight=False,
    )


def drill_reveal(console: Console, shown) -> None:
    """The answer beside what was typed, the verdict of a checked answer, then the grades."""
    card = shown.card
    if card.kind is Kind.IMPLEMENT:
        code_solution(console, card, shown)
        drill_grades(console, shown.previews, shown.suggested)
        return
    answer = escape(inline_math(card.answer)) + english_under(card, "answer")
    if card.kind is Kind.CHOICE:
        letter = correct_letter(card) or "?"
        answer = f"[bold]{letter}) {escape(inline_math(card.correct or ''))}[/]\n{answer}"
    elif card.kind is Kind.NUMERIC and shown.value is not None:
        unit = f" {escape(shown.unit)}" if shown.unit else ""
        tolerance = f" ± {shown.tolerance:g}" if shown.tolerance else ""
        answer = f"[bold]{shown.value:g}{unit}{tolerance}[/]\n{answer}"
        if shown.working:
            answer += f"\n[dim]{escape(inline_math(shown.working))}[/]"
    marks = {True: f"[bold green]✓ {_('right')}[/]", False: f"[bold red]✗ {_('wrong')}[/]"}
    verdict = marks.get(shown.correct)
    if shown.attempt is None:
        console.print(f"[bold]{_('Answer')}[/]\n{answer}", highlight=False)
    else:
        table = new_table(show_header=True, box=None, padding=(0, 2), expand=True)
        table.add_column(_("your answer") + (f"  {verdict}" if verdict else ""), ratio=1)
        table.add_column(_("answer"), ratio=1)
        table.add_row(escape(shown.attempt), answer)
        console.print(table, highlight=False)
    if not card.points:  # with key points, the grades come once they are ticked
        drill_grades(console, shown.previews, shown.suggested)


def drill_points(console: Console, shown) -> None:
    """The key points as a checklist: ✓ where the attempt said them (or the user ticked)."""
    points = shown.card.points
    for i, point in enumerate(points, 1):
        mark = "[green]✓[/]" if i - 1 in shown.ticked else "[dim]·[/]"
        console.print(f"  {mark} [bold]{i}[/] {escape(inline_math(point.text))}", highlight=False)
    share = _("{covered}/{total} key points").format(covered=len(shown.ticked), total=len(points))
    rule = _("all: Good, at least half: Hard, fewer: Again")
    console.print(f"[dim]{share} · {rule}[/]", highlight=False)


def code_solution(console: Console, card, shown=None) -> None:
    """The reference solution, the short answer, and how the user's runs went."""
    from rich.panel import Panel
    from rich.syntax import Syntax

    code = Syntax(card.solution or "", "python", theme="ansi_dark", line_numbers=False)
    console.print(Panel(code, title="reference solution", title_align="left"))
    console.print(f"[bold]Answer[/]\n{escape(inline_math(card.answer))}", highlight=False)
    if shown is not None and shown.runs:
        state = "[green]passing[/]" if shown.correct else "[red]still failing[/]"
        console.print(f"[dim]your file: {shown.runs} run(s), {state}[/]", highlight=False)


def check_report(console: Console, report, runs: int) -> None:
    """A checker's verdict: one line per case, the first failure in full, the time."""
    if report.error:
        error_line(console, report.error)
    else:
        table = new_table(title=f"{report.checker}: {report.function}() · run {runs}", box=None)
        table.add_column("case")
        table.add_column("", justify="center")
        table.add_column("max |error|", justify="right")
        for case in report.cases:
            mark = "[green]✓[/]" if case.passed else "[red]✗[/]"
            error = "-" if case.max_abs_error is None else f"{case.max_abs_error:.2g}"
            table.add_row(escape(case.name), mark, error)
        console.print(table, highlight=False)
        failure = report.first_failure
        if failure is not None:
            lines = [
                f"[bold]input[/]     {escape(failure.inputs)}",
                f"[bold]expected[/]  {escape(failure.expected)}",
                f"[bold]got[/]       {escape(failure.got)}",
            ]
            if failure.tolerance:
                lines.append(f"[bold]tolerance[/] {escape(failure.tolerance)}")
            if failure.hint:
                lines.append(f"[bold yellow]hint[/]      {escape(failure.hint)}")
            console.print(f"[bold red]first failure:[/] {escape(failure.name)}", highlight=False)
            for line in lines:
                console.print("  " + line, highlight=False, soft_wrap=True)
    passed = sum(c.passed for c in report.cases)
    verdict = "[bold green]all cases pass[/]" if report.passed else "[bold red]not yet[/]"
    console.print(
        f"{verdict} [dim]· {passed}/{len(report.cases)} cases · {report.seconds:.2f} s "
        f"(limit {report.time_limit_s:g} s)[/]",
        highlight=False,
    )
    if report.output_bytes:
        console.print(
            f"[dim]your code printed {report.output_bytes:,} characters; the start:[/] "
            f"{escape(report.output[:300])}",
            highlight=False,
            soft_wrap=True,
        )


def drill_grades(console: Console, previews: dict, suggested: int | None) -> None:
    """The four grades with the interval each would set underneath, as in Anki."""
    table = new_table(show_header=False, box=None, padding=(0, 3))
    for _rating in GRADE_NAMES:
        table.add_column(justify="center")
    names = []
    for rating, name in GRADE_NAMES.items():
        mark = " ⏎" if rating == suggested else ""
        names.append(f"[bold {GRADE_COLOURS[rating]}]{rating} {_(name)}{mark}[/]")
    table.add_row(*names)
    if previews:
        table.add_row(*[format_interval(previews[r]) for r in GRADE_NAMES])
    else:
        table.add_row(*[f"[dim]{_('cram')}[/]"] * 4)
    console.print(table, highlight=False)


def drill_explanation(console: Console, card) -> None:
    from rich.panel import Panel

    console.print(
        Panel(terminal_markdown(card.explanation), title=_("explanation"), title_align="left")
    )
    if card.with_english:
        console.print(terminal_markdown(card.english.explanation), style="dim")
    for source in card.sources:
        console.print(
            f"  [dim]{_('source:')}[/] {citation(source)}", highlight=False, soft_wrap=True
        )


def drill_graded(console: Console, graded) -> None:
    colour = GRADE_COLOURS[graded.rating]
    text = f"[{colour}]{_(GRADE_NAMES[graded.rating])}[/]"
    if graded.cram:
        text += f" [dim]({_('cram: schedule unchanged')})[/]"
    elif graded.interval is not None:
        text += f" [dim]· {_('next in')} {format_interval(graded.interval)}[/]"
    console.print(text, highlight=False)
    if graded.leech:
        card_id = escape(graded.card.id)
        console.print(
            f"[bold yellow]leech:[/] {card_id} lapsed {graded.lapses} times; it is marked a leech and "
            f"suspended (`quizcnn stats` lists leeches). Rewrite it for yourself, then `quizcnn unsuspend {card_id}`",
            highlight=False,
            soft_wrap=True,
        )


def drill_undone(console: Console, undone) -> None:
    console.print(
        f"[magenta]undone:[/] {GRADE_NAMES[undone.rating]} on {escape(undone.card.id)}",
        highlight=False,
    )


def drill_notice(console: Console, text: str) -> None:
    console.print(f"[yellow]{escape(_(text))}[/]", highlight=False, soft_wrap=True)


def drill_invalid(console: Console, text: str, keys: Sequence[tuple[str, str]]) -> None:
    valid = ", ".join(f"{_(k)} ({_(v)})" for k, v in keys)
    console.print(
        f"[yellow]{escape(_(text))}[/]; {_('valid keys:')} {escape(valid)}",
        highlight=False,
        soft_wrap=True,
    )


def _local_time(moment) -> str:
    return moment.astimezone().strftime("%a %Y-%m-%d %H:%M")


def drill_nothing_due(console: Console, event, now) -> None:
    """Nothing (more) due: when the next card is, and how to practise ahead."""
    head = _("Nothing due now.") if event.at_start else _("All done for now.")
    if event.cram:
        what = "No card to cram in this selection." if event.at_start else "Every card crammed."
        console.print(f"[bold]{what}[/] Schedules are as they were.", highlight=False)
        return
    if event.next_due is not None:
        wait = event.next_due - now
        when = "now" if wait.total_seconds() <= 0 else f"in {format_interval(wait)}"
        head += f" The next card is due {when} ({_local_time(event.next_due)})."
    console.print(f"[bold]{head}[/]", highlight=False, soft_wrap=True)
    if event.at_start:
        console.print(
            "  Practise ahead with [bold]quizcnn drill --cram[/] (logged as cram; schedules "
            "stay as they are), or take more new cards with [bold]--new N[/].",
            highlight=False,
            soft_wrap=True,
        )


def drill_summary(console: Console, summary) -> None:
    title = _("session") + (f" ({_('cram')})" if summary.cram else "")
    table = new_table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row(_("reviewed"), str(summary.reviewed))
    table.add_row(_("again-rate"), f"{100 * summary.again_rate:.0f}% ({summary.again})")
    table.add_row(_("minutes"), f"{summary.minutes:.1f}")
    table.add_row(_("due later today"), str(summary.due_later_today))
    table.add_row(_("due tomorrow"), str(summary.due_tomorrow))
    table.add_row(_("due within 7 days"), str(summary.due_week))
    console.print(table)


# -- stats ---------------------------------------------------------------------

_HEAT_GLYPHS = ["·", "░", "▒", "▓", "█"]


def _heat_level(count: int, top: int) -> int:
    if count <= 0 or top <= 0:
        return 0
    return min(4, 1 + (count * 4 - 1) // top)


def stats_report(console: Console, stats) -> None:
    """Card states, a 12-week heatmap, a 30-day forecast, retention, weak topics, streak."""
    states = new_table(title="cards", show_header=True)
    for name in stats.states:
        states.add_column(name, justify="right")
    states.add_row(*[str(n) for n in stats.states.values()])
    console.print(states)
    if stats.leeches:
        console.print(
            f"[yellow]leeches[/] (suspended at 8 lapses): {escape(', '.join(stats.leeches))}",
            highlight=False,
            soft_wrap=True,
        )
    if stats.removed:
        console.print(
            f"[dim]{stats.removed} card id(s) with history are no longer in the bank "
            "(kept, skipped; `quizcnn check` lists them)[/]",
            highlight=False,
        )
    stats_heatmap(console, stats.heatmap)
    stats_forecast(console, stats.forecast)
    retention = new_table(title="true retention (first review of a card per day; Again = fail)")
    retention.add_column("")
    periods = list(stats.retention)
    for period in periods:
        retention.add_column(period.replace("_", " "), justify="right")
    for group in ("young", "mature", "all"):
        label = {"young": "young (<21d)", "mature": "mature (≥21d)", "all": "all"}[group]
        cells = []
        for period in periods:
            r = stats.retention[period][group]
            cells.append("-" if r.rate is None else f"{100 * r.rate:.1f}% ({r.passed}/{r.total})")
        retention.add_row(label, *cells)
    console.print(retention)
    if stats.weakest:
        weak = new_table(title="weakest topics (again-rate)")
        weak.add_column("topic", style="cyan")
        weak.add_column("reviews", justify="right")
        weak.add_column("again", justify="right")
        weak.add_column("again-rate", justify="right")
        for t in stats.weakest:
            weak.add_row(t.topic, str(t.reviews), str(t.again), f"{100 * t.rate:.0f}%")
        console.print(weak)
    days = "day" if stats.streak == 1 else "days"
    console.print(
        f"[bold]streak:[/] {stats.streak} {days} · reviews today {stats.reviews_today} · "
        f"all time {stats.reviews_total}",
        highlight=False,
    )
    if getattr(stats, "plan", None):
        stats_plan_line(console, stats.plan)


def stats_heatmap(console: Console, heatmap: Sequence) -> None:
    """Reviews per day, one column per week (Monday on top), the newest week last."""
    if not heatmap:
        return
    first_day = heatmap[0][0]
    start = first_day.toordinal() - first_day.weekday()  # the Monday of the first week
    weeks = (heatmap[-1][0].toordinal() - start) // 7 + 1
    grid = [[" "] * weeks for _ in range(7)]
    top = max(n for _, n in heatmap)
    for day, count in heatmap:
        offset = day.toordinal() - start
        grid[offset % 7][offset // 7] = _HEAT_GLYPHS[_heat_level(count, top)]
    console.print(f"[bold]reviews per day[/] [dim](last {len(heatmap) // 7} weeks, max {top})[/]")
    for row, name in zip(grid, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True):
        console.print(f"  {name} [green]{' '.join(row)}[/]", highlight=False)
    console.print(f"  [dim]less {' '.join(_HEAT_GLYPHS)} more[/]", highlight=False)


def stats_forecast(console: Console, forecast: Sequence) -> None:
    """Cards due per day for the next 30 days, as bars (today includes the overdue)."""
    top = max((n for _, n in forecast), default=0)
    console.print(f"[bold]due forecast[/] [dim](next {len(forecast)} days)[/]")
    for k, (day, count) in enumerate(forecast):
        label = "today" if k == 0 else day.strftime("%a %m-%d")
        bar = "█" * (round(count / top * BAR_WIDTH) if top else 0)
        console.print(f"  {label:>9} [cyan]{bar}[/] {count}", highlight=False)


def stats_plan_line(console: Console, line: dict) -> None:
    """The interview plan's line in stats: days left, predicted recall on the day."""
    unseen = line["unseen_on_the_day"]
    left = f", {unseen} still unseen" if unseen else ""
    console.print(
        f"[bold]interview plan:[/] {line['interview_date']} · {line['days_left']} day(s) left · "
        f"predicted recall on the day {_pct(line['recall_on_the_day'])} with the plan "
        f"({line['cards']} cards{left}; {_pct(line['recall_if_you_stopped_now'])} if you "
        "stopped now) · [dim]quizcnn plan[/] for the details",
        highlight=False,
        soft_wrap=True,
    )


# -- the interview plan --------------------------------------------------------------


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def plan_view(console: Console, view) -> None:
    """What `quizcnn plan` did, then the plan itself."""
    if view.ceiling_saved is not None:
        console.print(
            _("[bold]ceiling saved:[/] at most {n} new cards a day").format(n=view.ceiling_saved),
            highlight=False,
        )
    if view.action == "cleared":
        console.print(
            _(
                "[bold]plan cleared[/] (interview {day}): FSRS schedules as usual; reviews "
                "the plan pulled in stay where they are"
            ).format(day=view.plan.interview_date),
            highlight=False,
        )
        return
    if view.action == "none":
        if view.ended is not None:
            console.print(
                _("your plan for {day} ended when its day passed: FSRS schedules as usual").format(
                    day=view.ended.interview_date
                ),
                highlight=False,
            )
        console.print(
            _("no interview plan; set one with [bold]quizcnn plan YYYY-MM-DD[/]")
            + " [dim][--topic T] [--tag G] [--ceiling N][/]",
            highlight=False,
        )
        return
    if view.action == "set":
        console.print(f"[bold green]{_('plan set')}[/]", highlight=False)
    plan_report(console, view.report)


def plan_report(console: Console, report) -> None:
    """Days left, scope, pacing, the forecast chart, recall on the day per topic."""
    scope = ", ".join(report.topics) if report.topics else _("every topic")
    if report.tags:
        scope += "; " + _("tags {tags}").format(tags=", ".join(report.tags))
    day = report.interview_date.strftime("%a %Y-%m-%d")
    console.print(
        _("[bold]interview[/] {day} · [bold]{left}[/] day(s) left · scope: {scope}").format(
            day=day, left=report.days_left, scope=escape(scope)
        ),
        highlight=False,
    )
    c = report.cards
    total = c["new"] + c["learning"] + c["review"]
    aside = " · " + _("{n} suspended, left out").format(n=c["suspended"]) if c["suspended"] else ""
    console.print(
        _("cards in scope: {total} (new {new} · learning {learning} · review {review})").format(
            total=total, new=c["new"], learning=c["learning"], review=c["review"]
        )
        + aside,
        highlight=False,
    )
    _plan_pacing(console, report)
    console.print(
        _(
            "[bold]deadline:[/] a review FSRS would place on or after the day, leaving a card "
            "below {target} on it, is pulled in before the day (plan_recall_target)"
        ).format(target=_pct(report.target)),
        highlight=False,
        soft_wrap=True,
    )
    _plan_chart(console, report)
    for day, count in report.overloaded[:3]:
        console.print(
            _(
                "[yellow]heavy day:[/] {day} needs about {count} cards, over reviews_per_day "
                "({limit}): the rest wait a day"
            ).format(
                day=day.strftime("%a %m-%d"), count=f"{count:.0f}", limit=report.reviews_per_day
            ),
            highlight=False,
        )
    unseen = (
        ", " + _("{n} cards unseen").format(n=report.unseen_without_plan)
        if report.unseen_without_plan
        else ""
    )
    console.print(
        _(
            "[bold]predicted recall on the day:[/] [bold green]{plan}[/] with the plan · "
            "{without} without it{unseen} · {now} if you stopped now"
        ).format(
            plan=_pct(report.recall_with_plan),
            without=_pct(report.recall_without_plan),
            unseen=unseen,
            now=_pct(report.recall_now),
        ),
        highlight=False,
        soft_wrap=True,
    )
    console.print(f"  [dim]without the plan: {escape(report.without_plan_method)}[/]")
    table = new_table(title=_("predicted recall on the day, per topic"))
    table.add_column(_("topic"), style="cyan")
    table.add_column(_("cards"), justify="right")
    table.add_column(_("with the plan"), justify="right")
    table.add_column(_("without"), justify="right")
    table.add_column(_("if you stopped now"), justify="right")
    for t in sorted(report.per_topic, key=lambda t: (t.with_plan, t.topic)):
        unseen_note = " (" + _("{n} unseen").format(n=t.unseen) + ")" if t.unseen else ""
        table.add_row(
            t.topic,
            str(t.cards),
            _pct(t.with_plan) + unseen_note,
            _pct(t.without_plan),
            _pct(t.now),
        )
    console.print(table)
    if report.weakest:
        console.print(
            _("[bold]weakest topics on the day:[/] {topics}").format(
                topics=escape(", ".join(report.weakest))
            ),
            highlight=False,
        )


def _plan_pacing(console: Console, report) -> None:
    last = report.last_new_day.strftime("%a %m-%d")
    if report.cards["new"] == 0:
        console.print(_("[bold]pacing:[/] every card in scope has been seen: reviews only"))
    elif report.unseen_on_the_day == 0:
        console.print(
            _(
                "[bold]pacing:[/] {n} new cards a day until {last}, then {buffer} day(s) of "
                "reviews only (ceiling {ceiling})"
            ).format(n=report.new_per_day, last=last, buffer=report.buffer, ceiling=report.ceiling),
            highlight=False,
        )
    else:
        fixes = []
        if report.ceiling_to_fit is not None:
            fixes.append(
                _("raise the ceiling to {n}").format(n=report.ceiling_to_fit)
                + f" (quizcnn plan {report.interview_date} --ceiling {report.ceiling_to_fit})"
            )
        if report.drop_topics:
            dropped = ", ".join(f"{t} ({n} {_('new')})" for t, n in report.drop_topics)
            fixes.append(_("drop {topics} from the scope").format(topics=dropped))
        console.print(
            _(
                "[bold]pacing:[/] [bold red]the ceiling of {ceiling} new cards a day leaves "
                "{unseen} card(s) unseen on the day[/] ({needed} a day would cover the scope "
                "by {last})"
            ).format(
                ceiling=report.ceiling,
                unseen=report.unseen_on_the_day,
                needed=report.new_per_day_needed,
                last=last,
            )
            + (": " + _("; or ").join(escape(f) for f in fixes) if fixes else ""),
            highlight=False,
            soft_wrap=True,
        )


def _plan_chart(console: Console, report) -> None:
    """Cards per day until the day: reviews (█) and new cards (▒); a week a line when long."""
    rows = [(d.strftime("%a %m-%d"), r, n) for d, r, n in report.forecast]
    title = "per day"
    if len(rows) > 31:
        title = "a week a line, mean per day"
        grouped = []
        for k in range(0, len(report.forecast), 7):
            week = report.forecast[k : k + 7]
            grouped.append(
                (
                    "wk " + week[0][0].strftime("%m-%d"),
                    sum(r for _, r, _ in week) / len(week),
                    sum(n for _, _, n in week) / len(week),
                )
            )
        rows = grouped
    if rows:
        rows[0] = (_("today"), *rows[0][1:]) if title == "per day" else rows[0]
    top = max((r + n for _, r, n in rows), default=0)
    console.print(
        f"[bold]{_('forecast until the day')}[/] [dim]({_(title)}: [cyan]█[/] {_('reviews')}, "
        f"[green]▒[/] {_('new')})[/]",
        highlight=False,
    )
    for label, r, n in rows:
        width_r = round(r / top * BAR_WIDTH) if top else 0
        width_n = round(n / top * BAR_WIDTH) if top else 0
        console.print(
            f"  {label:>9} [cyan]{'█' * width_r}[/][green]{'▒' * width_n}[/] {r:.0f}"
            + (f" + {n:.0f} {_('new')}" if n else ""),
            highlight=False,
        )


# -- control and optimize ----------------------------------------------------------


def id_list_line(console: Console, verb: str, ids: Sequence[str], unchanged: str = "") -> None:
    shown = ", ".join(ids[:12]) + (f", ... ({len(ids)} in all)" if len(ids) > 12 else "")
    if ids:
        console.print(f"[bold]{verb}[/] {len(ids)} card(s): {escape(shown)}", highlight=False)
    elif unchanged:
        console.print(unchanged, highlight=False)


def removed_ids(console: Console, ids: Sequence[str], path) -> None:
    """Ids with review history that the bank no longer has (kept, skipped by the drill)."""
    if not ids:
        return
    console.print(
        f"[yellow]note:[/] {len(ids)} card id(s) in {escape(str(path))} are not in the bank "
        f"(history kept, skipped in drills): {escape(', '.join(ids))}",
        highlight=False,
        soft_wrap=True,
    )


OPTIMIZE_LABELS = {
    "defaults": "FSRS-6 defaults",
    "current": "your current fit",
    "fitted": "fitted now",
}
OPTIMIZE_KEPT = {
    "fitted": "the new fit, saved for future reviews",
    "current": "the previous parameters: the new fit is no better on your history",
    "defaults": "the previous parameters: the new fit is no better on your history",
}


def optimize_report(console: Console, outcome) -> None:
    table = new_table(title=f"FSRS fit on {outcome.reviews} reviews (log loss, lower is better)")
    table.add_column("parameters")
    table.add_column("log loss", justify="right")
    for name, loss in outcome.losses.items():
        table.add_row(OPTIMIZE_LABELS[name], f"{loss:.4f}")
    console.print(table)
    kept = OPTIMIZE_KEPT[outcome.chosen]
    numbers = ", ".join(f"{p:.4f}" for p in outcome.parameters)
    console.print(
        f"[bold]kept:[/] {escape(kept)} [dim]({numbers})[/]",
        highlight=False,
        soft_wrap=True,
    )


def settings_table(console: Console, values: dict) -> None:
    table = new_table(title="settings", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in values.items():
        table.add_row(key, escape(str(value)))
    console.print(table)


# -- mock interview -----------------------------------------------------------------


def _clock_text(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


def interview_question(console: Console, asked, session_left_s: float) -> None:
    """The question, its place in the chain, and the session's clock."""
    body = question_markup(asked.card, asked.expected.question)
    depth = _("opener") if asked.depth == 0 else _("follow-up {n}").format(n=asked.depth)
    title = f"[bold cyan]Q{asked.number}[/] · {escape(asked.topic)} · {depth}"
    left = _("{time} left in the session · the clock runs").format(time=_clock_text(session_left_s))
    question_panel(console, body, title, left)
    console.print(f"[dim]{_('answer (typed, or aloud then Enter)')}[/]", highlight=False)


def interview_checklist(console: Console, asked) -> None:
    """The model answer and the key points, ticked where the answer covered them."""
    console.print(
        f"[dim]{_('answered in')} {_clock_text(asked.seconds)}[/]  [bold]{_('model answer:')}[/] "
        f"{escape(inline_math(asked.card.answer))}",
        highlight=False,
        soft_wrap=True,
    )
    for i, text in enumerate(asked.points, 1):
        mark = "[green]✓[/]" if i - 1 in asked.ticked else "[dim]·[/]"
        console.print(f"  {mark} [bold]{i}[/] {escape(inline_math(text))}", highlight=False)
    console.print(
        "[dim]"
        + _("tick what you said: point numbers (again to untick) · a all · Enter when done")
        + "[/]",
        highlight=False,
    )


def interview_saved(console: Console, answer, deeper: bool) -> None:
    covered = f"{len(answer.covered)}/{answer.points} points"
    nxt = _("digging deeper") if deeper else _("next topic")
    colour = GRADE_COLOURS[answer.rating]
    console.print(
        f"[{colour}]{_(GRADE_NAMES[answer.rating])}[/] [dim]· {covered} · {nxt}[/]",
        highlight=False,
    )


def interview_report(console: Console, report, bank) -> None:
    """Per topic: the points covered and the time per answer; what to say next time."""
    console.print()
    console.rule(f"[bold]{_('interview report')}[/]")
    if not report.topics:
        console.print(_("no question was answered"), highlight=False)
        return
    for topic in report.topics:
        share = topic.covered / topic.points if topic.points else 0.0
        console.print(
            f"[bold cyan]{escape(topic.topic)}[/]  {topic.covered}/{topic.points} points "
            f"({share:.0%})",
            highlight=False,
        )
        for card, answer in topic.answers:
            console.print(
                f"  {escape(card.id)} [dim]{_clock_text(answer.seconds)}[/] "
                f"{len(answer.covered)}/{answer.points}",
                highlight=False,
            )
            texts = [p.text for p in card.points] if card.points else [card.answer]
            for i, text in enumerate(texts):
                if i not in answer.covered:
                    console.print(
                        f"    [yellow]{_('say next time:')}[/] {escape(inline_math(text))}",
                        highlight=False,
                        soft_wrap=True,
                    )
    total = sum(t.covered for t in report.topics), sum(t.points for t in report.topics)
    kind = _("practice, schedules untouched") if report.practice else _("logged as reviews")
    score = _("{covered}/{total} points").format(covered=total[0], total=total[1])
    console.print(f"[bold]{_('score')}[/] {score} [dim]({kind})[/]", highlight=False)
    if report.to_drill:
        console.print(
            f"[bold]{_('cards to drill (points missed):')}[/] {escape(', '.join(report.to_drill))}",
            highlight=False,
            soft_wrap=True,
        )


def interview_history(console: Console, sessions) -> None:
    if not sessions:
        console.print("no mock interview yet: quizcnn interview")
        return
    table = new_table(title="mock interviews")
    for column in ("#", "started", "minutes", "topics", "answers", "score", ""):
        table.add_column(column)
    for s in sessions:
        score = f"{s.covered}/{s.points}" + (f" ({s.covered / s.points:.0%})" if s.points else "")
        notes = ("practice " if s.practice else "") + ("" if s.ended_at else "interrupted")
        table.add_row(
            str(s.id),
            s.started_at[:16].replace("T", " "),
            str(s.minutes),
            escape(", ".join(s.topics)),
            str(s.answers),
            score,
            notes,
        )
    console.print(table)


def glossary_warnings(console: Console, found) -> None:
    for card, message in found:
        console.print(
            f"{escape(str(card.path))}:{card.line}:1: {escape(card.id)}: warning: {escape(message)}",
            highlight=False,
            soft_wrap=True,
        )


def glossary_table(console: Console, terms) -> None:
    table = new_table(title="glossary (zh)")
    table.add_column("English")
    table.add_column("interviewers say")
    for term in terms:
        said = "[dim]in English[/]" if term.rendering is None else escape(term.rendering)
        if term.rendering and term.english_first:
            said += f" [dim]（{escape(term.english)}） on first use[/]"
        table.add_row(escape(term.english), said)
    console.print(table)
