"""LaTeX in explanations reads as Unicode math in the terminal, and nothing is lost."""

import pytest

from quizcnn.mathtext import latex_to_unicode


@pytest.mark.parametrize(
    ("latex", "shown"),
    [
        (
            r"\hat x_i = \frac{x_i - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}}",
            "x̂_i = (x_i - μ_B)/√(σ_B² + ε)",
        ),
        (r"\mathrm{Var}(W) = \frac{2}{n_{in} + n_{out}}", "Var(W) = 2/(n_(in) + n_(out))"),
        (r"\frac{1}{\sqrt{n}}", "1/√n"),
        (r"\lfloor (H + 2p - d(k-1) - 1)/s \rfloor + 1", "⌊ (H + 2p - d(k-1) - 1)/s ⌋ + 1"),
        (r"\sum_i \partial L / \partial x_i = 0", "Σ_i ∂ L / ∂ x_i = 0"),
        (r"BN(x + c\mathbf 1)", "BN(x + c1)"),
        (r"10^{-8} \cdot \|w\|_2^2", "10⁻⁸ · ‖w‖₂²"),
        (r"e^{-z}", "e^(-z)"),
    ],
)
def test_common_math_reads_as_unicode(latex, shown):
    assert latex_to_unicode(latex) == shown


def test_unknown_commands_are_kept_as_written():
    assert latex_to_unicode(r"\weird{x} + \alpha") == r"\weird{x} + α"
