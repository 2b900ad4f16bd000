"""A proof's result -> the HTML of the Proof field, plus its charts as PNG media.

Only what the proof measured goes in (claims, tables, series), never the time it
took. A note's modification time must move only when its content does, yet a few
proofs measure round-off (a residual of 5e-16 one run, 6e-16 the next). So each
field also comes with a *fingerprint*: the same HTML with every number below
1e-9 in size written as "~0" and charts named by their numbers instead of their
pixels. The note's change detection hashes the fingerprint, so round-off never
counts as a change, while the card still shows the number that was measured.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from quizcnn.export.html import attr, escape, table_html
from quizcnn.export.png import PALETTE, bar_chart_png
from quizcnn.results import Claim, ProofResult, Series, describe_expected, format_measured

ROUND_OFF = 1e-9  # below this, a measured number is round-off for change detection


@dataclass
class ProofHtml:
    html: str
    fingerprint: str  # html with round-off hidden: what change detection hashes
    media: dict[str, bytes] = field(default_factory=dict)  # file name -> PNG bytes


def media_name(png: bytes) -> str:
    """Content-hashed: the same chart keeps its name, a changed chart gets a new one."""
    return f"quizcnn-{hashlib.sha256(png).hexdigest()[:20]}.png"


def proof_result_html(result: ProofResult) -> ProofHtml:
    media: dict[str, bytes] = {}
    names = []
    for series in result.series:
        png = bar_chart_png(series)
        names.append(media_name(png))
        media[names[-1]] = png
    html = _render(result, names, stable=False)
    fingerprint = _render(result, ["chart"] * len(names), stable=True)
    return ProofHtml(html, fingerprint, media)


def _render(result: ProofResult, image_names: list[str], stable: bool) -> str:
    held = sum(c.passed for c in result.claims)
    verdict = "pass" if result.passed else "FAIL"
    parts = [
        f'<div class="qz-proof-head"><span class="qz-{verdict.lower()}">{verdict}</span> '
        f"{escape(result.title)} <code>{escape(result.name)}</code></div>"
        f'<div class="qz-muted">{held} of {len(result.claims)} claims hold on '
        f"{escape(result.device)}, torch {escape(result.torch_version)}, "
        f"seed {result.seed}</div>",
        claims_table_html(result.claims, stable),
    ]
    if result.error:
        parts.append(f'<div class="qz-fail">error: {escape(result.error)}</div>')
    for extra in result.tables:
        rows = [[_number_text(v, stable) for v in row] for row in extra.rows]
        parts.append(table_html(extra.columns, rows, caption=extra.title, cls="qz-table"))
    for series, name in zip(result.series, image_names, strict=True):
        parts.append(series_html(series, name, stable))
    return "".join(parts)


def claims_table_html(claims: list[Claim], stable: bool = False) -> str:
    rows = []
    for claim in claims:
        if claim.op == "is":
            measured = "true" if claim.passed else "false"
        else:
            measured = _number_text(claim.measured, stable)
        text = escape(claim.text) + (
            f' <span class="qz-muted">({escape(claim.detail)})</span>' if claim.detail else ""
        )
        mark = (
            '<span class="qz-pass">pass</span>'
            if claim.passed
            else '<span class="qz-fail">FAIL</span>'
        )
        rows.append(
            f'<tr><td>{text}</td><td class="qz-num">{escape(measured)}</td>'
            f'<td class="qz-num">{escape(describe_expected(claim))}</td><td>{mark}</td></tr>'
        )
    header = "<tr><th>claim</th><th>measured</th><th>expected</th><th></th></tr>"
    return f'<table class="qz-table qz-claims">{header}{"".join(rows)}</table>'


def series_html(series: Series, image_name: str, stable: bool = False) -> str:
    """The chart image, then its numbers: labels and values live in HTML, not pixels."""
    scale = "log scale" if series.log_y else "linear scale"
    names = list(series.lines)
    header = "".join(
        f'<th><span class="qz-swatch qz-c{k % len(PALETTE)}"></span>{escape(n)}</th>'
        for k, n in enumerate(names)
    )
    rows = []
    for i, x in enumerate(series.x):
        line_values = [series.lines[n] for n in names]
        cells = "".join(
            f'<td class="qz-num">{escape(_number_text(v[i], stable) if i < len(v) else "")}</td>'
            for v in line_values
        )
        rows.append(f"<tr><td>{escape(str(x))}</td>{cells}</tr>")
    return (
        f'<div class="qz-chart"><div class="qz-chart-title">{escape(series.title)} '
        f'<span class="qz-muted">({escape(series.y_label)}, {scale}; bars left to right '
        f"follow the rows below)</span></div>"
        f'<img src="{attr(image_name)}" alt="{attr(series.title)}">'
        f'<table class="qz-table"><tr><th>{escape(series.x_label)}</th>{header}</tr>'
        f"{''.join(rows)}</table></div>"
    )


def _number_text(value: object, stable: bool = False) -> str:
    """Floats as the terminal shows them; round-off as "~0" in a fingerprint."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if stable and 0 < abs(value) < ROUND_OFF:
        return "~0"
    return format_measured(value)
