"""Everything rich draws: cards, tables, charts, summaries.

render is called by the CLI and never calls back into it; each function takes
plain data and a Console and draws, nothing else.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from quizcnn.bank import Bank, BankIssue, Card


def error_line(console: Console, message: str) -> None:
    """One clear line for bad input: what is wrong, where, what to do."""
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)


def bank_issues(console: Console, issues: Sequence[BankIssue]) -> None:
    # one plain line per issue: editors and grep understand path:line:col
    for issue in issues:
        console.print(str(issue), markup=False, highlight=False, soft_wrap=True)
    console.print(f"[bold red]{len(issues)} problem(s)[/] in the question bank", highlight=False)


def check_summary(console: Console, bank: Bank, proofs_available: set[str], strict: bool) -> None:
    kinds = Counter(card.kind for card in bank.cards)
    cited = Counter(card.proof for card in bank.cards if card.proof)
    without = [card.id for card in bank.cards if not card.proof]
    table = Table(title="quizcnn check", show_header=False, box=None, pad_edge=False)
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
    table = Table(title="Topics")
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


def card_list(console: Console, title: str, cards: Sequence[Card]) -> None:
    table = Table(title=title)
    table.add_column("id", style="bold cyan", no_wrap=True)
    table.add_column("kind")
    table.add_column("proof", style="green")
    table.add_column("question")
    for card in cards:
        table.add_row(card.id, card.kind, card.proof or "-", card.question)
    console.print(table)
