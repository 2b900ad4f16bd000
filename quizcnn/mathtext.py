"""LaTeX math as plain Unicode for a terminal: ``\\frac{\\partial L}{\\partial x}`` -> ``(∂L)/(∂x)``.

A terminal cannot typeset LaTeX, and raw backslashes are hard to read while
drilling. This covers the subset the bank uses (Greek letters, operators,
fractions, roots, hats, sub/superscripts); anything unknown is left as written,
so nothing is ever lost. Anki gets the original LaTeX (MathJax renders it).
"""

from __future__ import annotations

import re

# fmt: off
SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε",
    "zeta": "ζ", "eta": "η", "theta": "θ", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν",
    "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ", "varphi": "φ",
    "chi": "χ", "psi": "ψ", "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ",
    "Lambda": "Λ", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
    "sum": "Σ", "prod": "∏", "partial": "∂", "nabla": "∇", "infty": "∞", "int": "∫",
    "cdot": "·", "times": "×", "div": "÷", "pm": "±", "mp": "∓", "le": "≤", "leq": "≤",
    "ge": "≥", "geq": "≥", "ne": "≠", "neq": "≠", "approx": "≈", "sim": "∼", "propto": "∝",
    "equiv": "≡", "to": "→", "rightarrow": "→", "leftarrow": "←", "Rightarrow": "⇒",
    "mapsto": "↦", "in": "∈", "notin": "∉", "subset": "⊂", "cup": "∪", "cap": "∩",
    "forall": "∀", "exists": "∃", "ldots": "…", "cdots": "⋯", "dots": "…",
    "lfloor": "⌊", "rfloor": "⌋", "lceil": "⌈", "rceil": "⌉", "langle": "⟨", "rangle": "⟩",
    "odot": "⊙", "otimes": "⊗", "circ": "∘", "top": "ᵀ", "log": "log", "ln": "ln",
    "exp": "exp", "max": "max", "min": "min", "arg": "arg", "sign": "sign", "tanh": "tanh",
    "Var": "Var", "quad": "  ", "qquad": "    ", ",": " ", ";": " ", "!": "", " ": " ",
    "left": "", "right": "", "big": "", "Big": "", "bigl": "", "bigr": "",
    "{": "{", "}": "}", "|": "‖", "%": "%",
}
# fmt: on
SUPERSCRIPTS = str.maketrans("0123456789+-=()nTi", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿᵀⁱ")
SUBSCRIPTS = str.maketrans("0123456789+-=()", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎")
# commands whose braced argument is shown as it is (fonts and text)
_KEEP_ARGUMENT = (
    "mathbf",
    "mathrm",
    "mathcal",
    "mathbb",
    "boldsymbol",
    "text",
    "operatorname",
    "textrm",
)
_GROUP = r"\{((?:[^{}]|\{[^{}]*\})*)\}"  # one brace level of nesting is enough for the bank


def latex_to_unicode(text: str) -> str:
    """Rewrite one LaTeX math span as readable Unicode text."""
    out = text
    for _ in range(3):  # fractions and roots may nest
        out = re.sub(r"\\sqrt" + _GROUP, lambda m: "√" + _wrap(m.group(1)), out)
        out = re.sub(r"\\[dt]?frac" + _GROUP + _GROUP, lambda m: _frac(m.group(1), m.group(2)), out)
        out = re.sub(r"\\(?:" + "|".join(_KEEP_ARGUMENT) + r")\s*" + _GROUP, r"\1", out)
    out = re.sub(r"\\(?:" + "|".join(_KEEP_ARGUMENT) + r")\s+(\w)", r"\1", out)
    out = re.sub(r"\\(?:hat|widehat)\s*\{?([A-Za-z])\}?", "\\1\u0302", out)
    out = re.sub(r"\\(?:bar|overline)\s*\{?([A-Za-z])\}?", "\\1\u0304", out)
    out = re.sub(r"\\(?:tilde|widetilde)\s*\{?([A-Za-z])\}?", "\\1\u0303", out)
    out = re.sub(r"\\([A-Za-z]+|[,;! {}|%])", lambda m: SYMBOLS.get(m.group(1), m.group(0)), out)
    out = re.sub(
        r"\^\{([^{}]*)\}|\^(\S)",
        lambda m: _script(m.group(1) or m.group(2), SUPERSCRIPTS, "^"),
        out,
    )
    out = re.sub(r"_\{([^{}]*)\}", lambda m: _script(m.group(1), SUBSCRIPTS, "_"), out)
    out = re.sub(r"_([0-9])", lambda m: m.group(1).translate(SUBSCRIPTS), out)
    return re.sub(r"[ \t]{2,}", " ", out).strip()


def _frac(top: str, bottom: str) -> str:
    return f"{_wrap(top)}/{_wrap(bottom)}"


def _wrap(expr: str) -> str:
    expr = expr.strip()
    if re.fullmatch(r"[\w.\\√]+", expr) or re.fullmatch(r"√\((?:[^()]|\([^()]*\))*\)", expr):
        return expr
    return f"({expr})"


def _script(body: str, table: dict, mark: str) -> str:
    translated = body.translate(table)
    # only use Unicode scripts when every character has one; else keep ^(...)/_(...)
    if all(ch != orig or ch.isspace() for ch, orig in zip(translated, body, strict=True)):
        return translated
    return f"{mark}{body}" if len(body) == 1 else f"{mark}({body})"
