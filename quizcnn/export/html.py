"""Bank text -> safe HTML for Anki fields.

Everything a bank author wrote is HTML-escaped first, so a ``<script>`` in a
question shows as text and never runs. A deliberately small markdown subset is
then rebuilt on the escaped text: paragraphs, ``-``/``1.`` lists, ``#`` headings,
``**bold**``, ``*italic*``/``_italic_``, inline code and fenced code blocks.
Math spans ``\\( … \\)`` and ``\\[ … \\]`` are kept verbatim (escaped, delimiters
intact) so that Anki's MathJax renders them; markdown never looks inside them
(``seq\\_len`` or ``x_i`` stay as written).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

# Spans markdown must not touch, leftmost first: code `...`, \( ... \), \[ ... \],
# and a backslash-escaped markdown character such as \* or \_.
_PROTECTED = re.compile(r"(`+)(.+?)\1|\\\((.+?)\\\)|\\\[(.+?)\\\]|\\([*_`#])", re.DOTALL)
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*", re.DOTALL)
_ITALIC_STAR = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])", re.DOTALL)
# Underscores emphasise only at word edges, so snake_case names stay as they are.
_ITALIC_UNDERSCORE = re.compile(r"(?<![\w_])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![\w_])", re.DOTALL)
_PLACEHOLDER = re.compile("\x00(\\d+)\x00")
_FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)\s*$")
_BULLET = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s{0,3}\d{1,9}[.)]\s+(.*)$")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:)\]]")
_ARXIV = re.compile(r"arXiv:(\d{4}\.\d{4,5}(?:v\d+)?)", re.IGNORECASE)


def escape(text: str) -> str:
    """Text -> HTML text: ``<``, ``>`` and ``&`` become entities."""
    return html.escape(text.replace("\x00", ""), quote=False)


def attr(text: str) -> str:
    """Text -> a double-quoted attribute value (quotes escaped too)."""
    return html.escape(text.replace("\x00", ""), quote=True)


def inline_html(text: str) -> str:
    """One short text (a question, an answer, a choice): escaped, inline markdown,
    math kept, line breaks as ``<br>``."""
    body, spans = _protect(text.replace("\x00", "").strip())
    body = _inline(body).replace("\n", "<br>")
    return _restore(body, spans)


def markdown_html(text: str) -> str:
    """A markdown explanation -> HTML blocks (``<p>``, ``<ul>``, ``<ol>``, ``<pre>``)."""
    blocks: list[str] = []
    lines = text.replace("\x00", "").replace("\r\n", "\n").split("\n")
    prose: list[str] = []
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is None:
            prose.append(lines[i])
            i += 1
            continue
        blocks.append(_prose_html("\n".join(prose)))
        prose = []
        marker, language = fence.group(1), fence.group(2)
        code: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(marker):
            code.append(lines[i])
            i += 1
        i += 1  # the closing fence (or the end of the text)
        blocks.append(code_block_html("\n".join(code), language))
    blocks.append(_prose_html("\n".join(prose)))
    return "\n".join(b for b in blocks if b)


def code_block_html(code: str, language: str = "") -> str:
    # MathJax skips <pre> and <code>, so a backslash in code is never typeset.
    cls = f' class="language-{attr(language)}"' if language else ""
    return f"<pre><code{cls}>{html.escape(code, quote=False)}</code></pre>"


def source_html(source: str) -> str:
    """A citation with its URLs and arXiv ids as links; everything else escaped."""
    if "http" not in source and ":" not in source:
        return escape(source)
    out: list[str] = []
    last = 0
    for match in _URL.finditer(source):
        out.append(_arxiv_links(source[last : match.start()]))
        url = match.group(0)
        out.append(f'<a href="{attr(url)}">{escape(url)}</a>')
        last = match.end()
    out.append(_arxiv_links(source[last:]))
    return "".join(out)


def table_html(
    columns: Sequence[object], rows: Sequence[Sequence[object]], caption: str = "", cls: str = ""
) -> str:
    """A plain HTML table; every cell escaped. Styling lives in the note type's CSS."""
    class_attr = f' class="{attr(cls)}"' if cls else ""
    parts = [f"<table{class_attr}>"]
    if caption:
        parts.append(f"<caption>{escape(caption)}</caption>")
    if columns:
        parts.append("<tr>" + "".join(f"<th>{escape(str(c))}</th>" for c in columns) + "</tr>")
    for row in rows:
        parts.append("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>")
    parts.append("</table>")
    return "".join(parts)


# -- inside ------------------------------------------------------------------------


def _protect(text: str) -> tuple[str, list[str]]:
    """Swap code and math spans for placeholders holding their finished HTML."""
    spans: list[str] = []
    if "`" not in text and "\\" not in text:
        return text, spans  # nothing to protect: the common case for short texts

    def keep(match: re.Match) -> str:
        if match.group(1):  # inline code
            spans.append(f"<code>{html.escape(match.group(2).strip(), quote=False)}</code>")
        elif match.group(5):  # \* shows a literal *
            spans.append(match.group(5))
        else:  # math: delimiters and content kept, only <, >, & escaped
            spans.append(html.escape(match.group(0), quote=False))
        return f"\x00{len(spans) - 1}\x00"

    return _PROTECTED.sub(keep, text), spans


def _restore(text: str, spans: list[str]) -> str:
    return _PLACEHOLDER.sub(lambda m: spans[int(m.group(1))], text)


def _emphasis(escaped: str) -> str:
    if "*" not in escaped and "_" not in escaped:
        return escaped
    escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
    escaped = _ITALIC_STAR.sub(r"<em>\1</em>", escaped)
    return _ITALIC_UNDERSCORE.sub(r"<em>\1</em>", escaped)


def _prose_html(text: str) -> str:
    """Paragraphs, lists and headings of text with no fenced code in it."""
    if not text.strip():
        return ""
    # Math may span lines (a display equation over two lines); protect it across
    # the whole text before splitting it into blocks.
    body, spans = _protect(text)
    blocks: list[str] = []
    paragraph: list[str] = []
    items: list[list[str]] = []
    list_tag = ""

    def flush_paragraph() -> None:
        if paragraph:
            blocks.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()

    def flush_list() -> None:
        nonlocal list_tag
        if items:
            lis = "".join(f"<li>{_inline(' '.join(item))}</li>" for item in items)
            blocks.append(f"<{list_tag}>{lis}</{list_tag}>")
            items.clear()
        list_tag = ""

    for line in body.split("\n"):
        stripped = line.strip()
        bullet, numbered, heading = _BULLET.match(line), _NUMBERED.match(line), _HEADING.match(line)
        if not stripped:
            flush_paragraph()
            flush_list()
        elif heading:
            flush_paragraph()
            flush_list()
            level = min(len(heading.group(1)) + 2, 6)  # h3..h6: a card has no page title
            blocks.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif bullet or numbered:
            flush_paragraph()
            tag = "ul" if bullet else "ol"
            if list_tag and tag != list_tag:
                flush_list()
            list_tag = tag
            items.append([(bullet or numbered).group(1)])
        elif items and (line[:1].isspace() or not paragraph):
            items[-1].append(stripped)  # a continuation line of the last item
        else:
            flush_list()
            paragraph.append(stripped)
    flush_paragraph()
    flush_list()
    return _restore("\n".join(blocks), spans)


def _inline(text: str) -> str:
    # placeholders (NUL-delimited) survive: html.escape leaves NUL alone
    return _emphasis(html.escape(text, quote=False))


def _arxiv_links(text: str) -> str:
    out: list[str] = []
    last = 0
    for match in _ARXIV.finditer(text):
        out.append(escape(text[last : match.start()]))
        href = f"https://arxiv.org/abs/{match.group(1)}"
        out.append(f'<a href="{href}">{escape(match.group(0))}</a>')
        last = match.end()
    out.append(escape(text[last:]))
    return "".join(out)
