"""'Did you mean ...?': one matcher for every unknown name a user or an author types."""

from __future__ import annotations

from collections.abc import Iterable

# 0.55: a typo of a long id still matches (it scores about 0.6), an unrelated word does not
CUTOFF = 0.55


def suggest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates closest to ``name`` (case-insensitive), best first."""
    import difflib  # only on a mistyped name, not on every start

    return difflib.get_close_matches(str(name).lower(), list(candidates), n=n, cutoff=CUTOFF)


def did_you_mean(name: str, candidates: Iterable[str], n: int = 3, quote: bool = False) -> str:
    """'; did you mean a, b?' for a message, or '' when nothing is close."""
    close = suggest(name, candidates, n)
    if not close:
        return ""
    shown = [repr(c) for c in close] if quote else close
    return f"; did you mean {', '.join(shown)}?"
