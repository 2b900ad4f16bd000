"""The generated numeric cards agree with real torch layers.

Each draw's question names a concrete layer (``nn.Conv2d(...)``, ``nn.MaxPool2d(...)``)
or a stack; the test rebuilds exactly what the question says and measures the
answer with torch: output shapes, ``sum(p.numel())``, PyTorch's own FLOP counter,
and the gradient of one output pixel with respect to the input.
"""

from __future__ import annotations

import random
import re
import sys

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from quizcnn.generators import (  # noqa: E402
    GENERATORS,
    Drawn,
    conv_out,
    draw,
    pool_out_ceil,
    receptive_field,
)

DRAWS = 300
LAYER_RE = re.compile(r"A (\d+)x\1 input goes through (nn\.\w+\(.*?\))\.")


def _draws(name: str, seed: int = 1234) -> list[Drawn]:
    rng = random.Random(seed)
    return [draw(name, rng) for _ in range(DRAWS)]


def _layer_from(question: str) -> tuple[int, nn.Module]:
    """The input size and the layer a question names, built on the meta device (no compute)."""
    match = LAYER_RE.search(question)
    assert match, f"question names no layer: {question}"
    with torch.device("meta"):
        layer = eval(match.group(2), {"nn": nn})  # our own generated text, in a test
    return int(match.group(1)), layer


def _in_channels(layer: nn.Module) -> int:
    return layer.in_channels if isinstance(layer, nn.Conv2d) else 1


def test_every_generator_is_registered_and_draws_a_complete_card():
    # the convolution module's four; each topic's module registers its own beside them
    from quizcnn.generators import conv

    assert set(conv.GENERATORS) == {
        "conv_output_size",
        "conv_params",
        "conv_macs",
        "receptive_field",
    }
    assert set(conv.GENERATORS) <= set(GENERATORS)
    for name in GENERATORS:
        drawn = draw(name, random.Random(0))
        assert drawn.question.endswith("?") or "Answer in" in drawn.question
        assert drawn.tolerance >= 0
        assert drawn.working


def test_every_generator_is_used_by_a_shipped_card():
    from quizcnn.bank import load_bank

    used = {card.generator for card in load_bank().cards if card.generator}
    assert set(GENERATORS) - used == set()


def test_same_seed_same_question_other_seed_other_numbers():
    for name in GENERATORS:
        assert draw(name, random.Random(7)) == draw(name, random.Random(7))
        questions = {draw(name, random.Random(seed)).question for seed in range(20)}
        assert len(questions) > 5, f"{name} hardly varies"


def test_unknown_generator_names_the_known_ones():
    with pytest.raises(KeyError, match="conv_output_size"):
        draw("conv_ouptut_size", random.Random(0))


def test_conv_output_size_matches_torch_over_many_draws():
    kinds = set()
    for drawn in _draws("conv_output_size"):
        size, layer = _layer_from(drawn.question)
        out = layer(torch.empty(1, _in_channels(layer), size, size, device="meta"))
        assert drawn.value == out.shape[-1], drawn.question
        assert drawn.value == out.shape[-2]
        assert drawn.tolerance == 0
        kinds.add((type(layer).__name__, getattr(layer, "ceil_mode", None)))
        if isinstance(layer, nn.Conv2d):
            kinds.add(("dilated", layer.dilation[0] > 1))
    # the draws cover convs, dilation, and pooling with and without ceil_mode
    assert {("Conv2d", None), ("MaxPool2d", True), ("MaxPool2d", False), ("dilated", True)} <= kinds


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_size_formulas_match_torch_on_a_full_grid(ceil_mode):
    """Every small (H, k, s, p) a pooling layer accepts, including windows PyTorch drops."""
    dropped = 0
    for size in range(1, 20):
        for kernel in range(1, 6):
            for stride in range(1, 5):
                for padding in range(0, kernel // 2 + 1):
                    if size + 2 * padding < kernel:
                        continue
                    pool = nn.MaxPool2d(kernel, stride, padding, ceil_mode=ceil_mode)
                    got = pool(torch.empty(1, 1, size, size, device="meta")).shape[-1]
                    if ceil_mode:
                        assert pool_out_ceil(size, kernel, stride, padding) == got
                        plain_ceil = -(-(size + 2 * padding - kernel) // stride) + 1
                        dropped += plain_ceil != got
                    else:
                        assert conv_out(size, kernel, stride, padding) == got
    if ceil_mode:
        assert dropped > 0  # the grid reaches PyTorch's "last window must start inside" rule


def test_conv_params_match_counted_parameters():
    for drawn in _draws("conv_params"):
        match = re.search(r"does (nn\.Conv2d\(.*?\)) have", drawn.question)
        assert match, drawn.question
        with torch.device("meta"):
            layer = eval(match.group(1), {"nn": nn})
        assert drawn.value == sum(p.numel() for p in layer.parameters()), drawn.question
        assert drawn.tolerance == 0


def test_conv_macs_match_torch_flop_counter():
    for drawn in _draws("conv_macs"):
        size, layer = _layer_from(drawn.question)
        x = torch.empty(1, layer.in_channels, size, size, device="meta")
        with FlopCounterMode(display=False) as counter:
            layer(x)
        # PyTorch counts 2 FLOPs (a multiply and an add) per multiply-add
        macs = counter.get_total_flops() / 2
        assert drawn.unit == "M MACs"
        assert drawn.value * 1e6 == pytest.approx(macs, rel=1e-12), drawn.question
        assert drawn.tolerance == pytest.approx(0.01 * drawn.value)


STEP_RE = re.compile(r"\((\d+)\) (conv|max-pool) (\d+)x\3, stride (\d+)(?:, dilation (\d+))?")


def _measured_receptive_field(question: str, side: int) -> int:
    """Gradient of the first output pixel w.r.t. the input: the nonzero extent.

    Convs get all-ones weights so no contribution cancels; a max-pool becomes an
    average pool of the same geometry, because max pooling sends the gradient to
    one argmax only and would hide the rest of the window.
    """
    steps = STEP_RE.findall(question)
    assert steps, question
    layers: list[nn.Module] = []
    for _, kind, kernel, stride, dilation in steps:
        k, s, d = int(kernel), int(stride), int(dilation or 1)
        if kind == "conv":
            conv = nn.Conv2d(1, 1, k, stride=s, dilation=d, bias=False).double()
            nn.init.ones_(conv.weight)
            layers.append(conv)
        else:
            layers.append(nn.AvgPool2d(k, s))
    net = nn.Sequential(*layers)
    x = torch.zeros(1, 1, side, side, dtype=torch.float64, requires_grad=True)
    net(x)[0, 0, 0, 0].backward()
    rows = x.grad[0, 0].abs().sum(dim=1).nonzero().flatten()
    cols = x.grad[0, 0].abs().sum(dim=0).nonzero().flatten()
    extent_rows = int(rows.max() - rows.min() + 1)
    assert extent_rows == int(cols.max() - cols.min() + 1)
    return extent_rows


def test_receptive_field_matches_gradient_extent():
    torch.set_num_threads(1)
    for drawn in _draws("receptive_field"):
        # an input a little larger than the claimed field: a larger true field
        # would still show, as an extent beyond the claimed one
        side = int(drawn.value) + 16
        assert drawn.value == _measured_receptive_field(drawn.question, side), drawn.question
        assert drawn.unit == "px"


def test_receptive_field_recurrence_on_known_stacks():
    from quizcnn.generators import Layer

    three = [Layer("conv", 3, 1)] * 3
    assert receptive_field(three[:2]) == 5 and receptive_field(three) == 7
    # VGG-style block: two 3x3 convs then a 2x2 pool, twice
    block = [Layer("conv", 3, 1), Layer("conv", 3, 1), Layer("maxpool", 2, 2)]
    assert receptive_field(block * 2) == 16
    assert receptive_field([Layer("conv", 3, 1, dilation=2)]) == 5


def test_generators_module_does_not_import_torch():
    import subprocess

    code = "import sys, quizcnn.generators; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
