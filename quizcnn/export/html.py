r"""Bank text -> safe HTML for Anki fields.

Everything a bank author wrote is HTML-escaped first, so a ``<script>`` in a
question shows as text and never runs. A deliberately small markdown subset is
then rebuilt on the escaped text: paragraphs, ``-``/``1.`` lists, ``#`` headings,
``**bold**``, ``*italic*``/``_italic_``, inline code and fenced code blocks.
Math spans ``\( … \)`` and ``\[ … \]`` are kept verbatim (escaped, delimiters
intact) so that Anki's MathJax renders them; markdown never looks inside them
(``seq\_len`` or ``x_i`` stay as written).

An export renders every card of the bank, so this runs in as few passes as it
can: code and math spans are found with str.find and stand in the text as
single-NUL placeholders (the input's own NULs are dropped first); the text is
escaped once, with three str.replace; each emphasis pattern starts with its
marker (so the regex engine jumps from marker to marker) and runs only where
that marker occurs, with search rather than a substitution (Python 3.11
expands a substitution's template in Python, match by match); a line goes
through the list and heading patterns only when its first character could
start one; fenced code is looked for only on lines holding ``` or ~~~; a short
text with nothing to escape or mark up comes back as it is. The output is the
same, character for character, as that of the one-regex-pass-per-rule version
before it (tests/test_export_cache.py keeps its answers for the odd cases).
fields.RENDER_VERSION names this output: change what any function here returns
and bump it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Spans markdown must not touch, leftmost first: code `...`, \( ... \), \[ ... \],
# and a backslash-escaped markdown character such as \* or \_. The math spans and
# the escapes are found with str.find (see _protect); code spans with this:
_CODE = re.compile(r"`(`*)(.+?)`\1", re.DOTALL)
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*", re.DOTALL)
# The emphasis patterns start with their marker, not with the lookbehind that
# checks the character before it: a pattern that starts with a literal lets the
# regex engine jump from marker to marker.
_ITALIC_STAR = re.compile(r"\*(?<![\w*]\*)(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])", re.DOTALL)
# Underscores emphasise only at word edges, so snake_case names stay as they are.
_ITALIC_UNDERSCORE = re.compile(r"_(?<![\w_]_)(?=[^\s_])(.+?)(?<=[^\s_])_(?![\w_])", re.DOTALL)
_FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)\s*$")
_BULLET = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s{0,3}\d{1,9}[.)]\s+(.*)$")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:)\]]")
_ARXIV = re.compile(r"arXiv:(\d{4}\.\d{4,5}(?:v\d+)?)", re.IGNORECASE)
_BULLET_START = frozenset("-*+")
# A text with none of these characters comes out of inline_html as it went in.
_INLINE_PLAIN = re.compile(r"[^\\`*_&<>\n]*")


def escape(text: str) -> str:
    """Text -> HTML text: ``<``, ``>`` and ``&`` become entities."""
    return text.replace("\x00", "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def attr(text: str) -> str:
    """Text -> a double-quoted attribute value (quotes escaped too)."""
    return (
        text.replace("\x00", "")
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#x27;")
    )


def _escape(text: str) -> str:
    # text already free of NUL (a placeholder's delimiters must survive)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def inline_html(text: str) -> str:
    """One short text (a question, an answer, a choice): escaped, inline markdown,
    math kept, line breaks as ``<br>``."""
    text = text.replace("\x00", "").strip()
    if _INLINE_PLAIN.fullmatch(text):  # nothing to escape or mark up: a number, a word
        return text
    body, spans = _protect(text)
    return _restore(_emphasis(_escape(body)).replace("\n", "<br>"), spans)


def markdown_html(text: str) -> str:
    """A markdown explanation -> HTML blocks (``<p>``, ``<ul>``, ``<ol>``, ``<pre>``)."""
    text = text.replace("\x00", "").replace("\r\n", "\n")
    if "```" not in text and "~~~" not in text:  # no fence can open: all prose
        return _prose_html(text)
    lines = text.split("\n")
    # Only a line holding ``` or ~~~ can open or close a fence.
    candidates = [i for i, line in enumerate(lines) if "```" in line or "~~~" in line]
    blocks: list[str] = []
    start = 0  # first line not yet in a block
    k = 0
    while k < len(candidates):
        i = candidates[k]
        k += 1
        if i < start or (fence := _FENCE.match(lines[i])) is None:
            continue
        blocks.append(_prose_html("\n".join(lines[start:i])))
        marker, language = fence.group(1), fence.group(2)
        close = len(lines)  # an unclosed fence runs to the end of the text
        while k < len(candidates):
            j = candidates[k]
            k += 1
            if lines[j].strip().startswith(marker):
                close = j
                break
        blocks.append(code_block_html("\n".join(lines[i + 1 : close]), language))
        start = close + 1  # after the closing fence
    blocks.append(_prose_html("\n".join(lines[start:])))
    return "\n".join([b for b in blocks if b])


def code_block_html(code: str, language: str = "") -> str:
    # MathJax skips <pre> and <code>, so a backslash in code is never typeset.
    cls = f' class="language-{attr(language)}"' if language else ""
    return f"<pre><code{cls}>{_escape(code)}</code></pre>"


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
    r"""Swap code and math spans for placeholders holding their finished HTML.

    The spans, leftmost first, are what this regex (DOTALL) would find:
    ``(`+)(.+?)\1|\\\((.+?)\\\)|\\\[(.+?)\\\]|\\([*_`#])``: inline code, \( math \),
    \[ math \] and an escaped markdown character. The two math branches and the
    escapes are found with str.find instead (a regex tries each character of the
    text in turn, which costs several times more): at each backslash or backtick
    in turn, the one branch that can start there is tried; a math span's body is
    at least one character long and ends at the first closing delimiter.

    ``text`` has no NUL of its own, so a placeholder is a single NUL: the spans
    go back in order (_restore), and no pattern that runs in between (emphasis,
    lists, headings) takes a NUL for a space, a word character or a marker."""
    backslash, tick = text.find("\\"), text.find("`")
    if backslash < 0 and tick < 0:
        return text, []
    spans: list[str] = []
    out: list[str] = []
    last = pos = 0
    while True:
        if 0 <= backslash < pos:
            backslash = text.find("\\", pos)
        if 0 <= tick < pos:
            tick = text.find("`", pos)
        if tick < 0 or 0 <= backslash < tick:
            if backslash < 0:
                break
            at, after = backslash, text[backslash + 1 : backslash + 2]
            end = -1
            if after == "(":
                close = text.find("\\)", at + 3)
                if close >= 0:  # math: delimiters and content kept, only <, >, & escaped
                    span, end = f"\\({_escape(text[at + 2 : close])}\\)", close + 2
            elif after == "[":
                close = text.find("\\]", at + 3)
                if close >= 0:
                    span, end = f"\\[{_escape(text[at + 2 : close])}\\]", close + 2
            elif after and after in "*_`#":  # \* shows a literal *
                span, end = after, at + 2
        else:
            at = tick
            code = _CODE.match(text, at)
            end = -1
            if code is not None:
                span, end = f"<code>{_escape(code.group(2).strip())}</code>", code.end()
        if end < 0:
            pos = at + 1
            continue
        out.append(text[last:at])
        spans.append(span)
        last = pos = end
    if not spans:
        return text, spans
    out.append(text[last:])
    return "\x00".join(out), spans


def _restore(text: str, spans: list[str]) -> str:
    if not spans:
        return text
    pieces: list[str] = [""] * (2 * len(spans) + 1)
    pieces[0::2] = text.split("\x00")  # a ValueError if a placeholder went missing
    pieces[1::2] = spans
    return "".join(pieces)


def _wrap(pattern: re.Pattern, open_tag: str, close_tag: str, text: str) -> str:
    """pattern.sub(open_tag + group 1 + close_tag), without the substitution's
    template (Python 3.11 expands one in Python, match by match)."""
    match = pattern.search(text)
    if match is None:
        return text
    out = []
    last = 0
    while match is not None:
        out += (text[last : match.start()], open_tag, match.group(1), close_tag)
        last = match.end()
        match = pattern.search(text, last)  # (its lookbehind still sees text[:last])
    out.append(text[last:])
    return "".join(out)


def _emphasis(escaped: str) -> str:
    if "*" in escaped:
        if "**" in escaped:
            escaped = _wrap(_BOLD, "<strong>", "</strong>", escaped)
        escaped = _wrap(_ITALIC_STAR, "<em>", "</em>", escaped)
    if "_" in escaped:
        escaped = _wrap(_ITALIC_UNDERSCORE, "<em>", "</em>", escaped)
    return escaped


def _prose_html(text: str) -> str:
    """Paragraphs, lists and headings of text with no fenced code in it."""
    if not text.strip():
        return ""
    # Math may span lines (a display equation over two lines); protect it across
    # the whole text before splitting it into blocks. Escaping touches only <, >
    # and &, which no block marker uses, so the whole text is escaped at once.
    body, spans = _protect(text)
    blocks: list[str] = []
    paragraph: list[str] = []
    items: list[list[str]] = []
    list_tag = ""

    for line in _escape(body).split("\n"):
        stripped = line.strip()
        if not stripped:
            if paragraph:
                blocks.append(_paragraph_html(paragraph))
                paragraph = []
            if items:
                blocks.append(_list_html(list_tag, items))
                items = []
            list_tag = ""
            continue
        first = stripped[0]
        heading = bullet = numbered = None
        if first == "#":
            heading = _HEADING.match(line)
        elif first in _BULLET_START:
            bullet = _BULLET.match(line)
        elif first.isdecimal():
            numbered = _NUMBERED.match(line)
        if heading is not None:
            if paragraph:
                blocks.append(_paragraph_html(paragraph))
                paragraph = []
            if items:
                blocks.append(_list_html(list_tag, items))
                items = []
            list_tag = ""
            level = min(len(heading.group(1)) + 2, 6)  # h3..h6: a card has no page title
            blocks.append(f"<h{level}>{_emphasis(heading.group(2))}</h{level}>")
        elif bullet is not None or numbered is not None:
            if paragraph:
                blocks.append(_paragraph_html(paragraph))
                paragraph = []
            tag = "ul" if bullet is not None else "ol"
            if list_tag and tag != list_tag and items:
                blocks.append(_list_html(list_tag, items))
                items = []
            list_tag = tag
            items.append([(bullet or numbered).group(1)])
        elif items and (line[:1].isspace() or not paragraph):
            items[-1].append(stripped)  # a continuation line of the last item
        else:
            if items:
                blocks.append(_list_html(list_tag, items))
                items = []
            list_tag = ""
            paragraph.append(stripped)
    if paragraph:
        blocks.append(_paragraph_html(paragraph))
    if items:
        blocks.append(_list_html(list_tag, items))
    return _restore("\n".join(blocks), spans)


def _paragraph_html(lines: list[str]) -> str:
    return f"<p>{_emphasis(' '.join(lines))}</p>"


def _list_html(tag: str, items: list[list[str]]) -> str:
    lis = "".join([f"<li>{_emphasis(' '.join(item))}</li>" for item in items])
    return f"<{tag}>{lis}</{tag}>"


def _arxiv_links(text: str) -> str:
    if ":" not in text:  # no "arXiv:" id in it
        return escape(text)
    out: list[str] = []
    last = 0
    for match in _ARXIV.finditer(text):
        out.append(escape(text[last : match.start()]))
        href = f"https://arxiv.org/abs/{match.group(1)}"
        out.append(f'<a href="{href}">{escape(match.group(0))}</a>')
        last = match.end()
    out.append(escape(text[last:]))
    return "".join(out)
