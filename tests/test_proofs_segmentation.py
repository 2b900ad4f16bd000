"""The segmentation proofs hold on CPU, and their key numbers match values computed here.

Every number checked below is worked out in this file in plain Python (overlap
counts, interpolation coordinates, sum sets of dilated offsets, U-Net sizes and
parameter counts, IoU of hand-made masks), independently of the proofs' code.
The segmentation generators are checked against real torch layers.
"""

from __future__ import annotations

import itertools
import math
import random
import re

import pytest

from quizcnn.generators import GENERATORS, draw

SEG_PROOFS = ["transposed_conv", "upsample_dilation", "segmentation_nets"]
SEG_GENERATORS = ["convtranspose_output_size", "unet_skip_params", "dilated_coverage"]


@pytest.fixture(scope="module")
def results(proof_result):
    return {name: proof_result(name) for name in SEG_PROOFS}


def table(result, title_start: str):
    for t in result.tables:
        if t.title.startswith(title_start):
            return t
    raise AssertionError(f"{result.name} has no table starting {title_start!r}")


def test_every_segmentation_proof_holds(results):
    for name, result in results.items():
        assert not result.error, (name, result.error)
        assert result.passed, [c.key for c in result.claims if not c.passed]
        assert len(result.claims) >= 5 and result.tables, name


# -- transposed_conv ---------------------------------------------------------------


def convt_size(h, k, s, p, a, d):
    return (h - 1) * s - 2 * p + d * (k - 1) + a + 1


def test_output_size_grid_is_every_valid_setting(results):
    r = results["transposed_conv"]
    expected = sum(
        1
        for h, k, s, p, d in itertools.product(
            (1, 2, 3, 5, 8), (1, 2, 3, 4, 5), (1, 2, 3), (0, 1, 2), (1, 2)
        )
        for a in range(max(s, d))
        if convt_size(h, k, s, p, a, d) >= 1
    )
    assert r.claim("shape_grid_cases").measured == expected == 909
    assert r.claim("shape_grid_mismatches").measured == 0
    for h, k, s, p, d, a, formula, got in table(r, "ConvTranspose2d output size").rows:
        assert formula == got == convt_size(h, k, s, p, a, d)


def test_output_padding_resolves_the_stride_ambiguity(results):
    r = results["transposed_conv"]

    def conv_size(n, k=3, s=2, p=1):
        return (n + 2 * p - k) // s + 1

    assert conv_size(7) == conv_size(8) == 4
    assert r.claim("conv_maps_7_and_8_to_4").detail == f"output sides {[4, 4]}"
    assert [convt_size(4, 3, 2, 1, a, 1) for a in (0, 1)] == [7, 8]
    assert r.claim("output_padding_picks_size").detail == "output sides [7, 8]"
    assert r.claim("output_padding_gradient").measured < 1e-12
    assert r.claim("extra_row_not_zero").measured > 0.1


def overlap_1d(n_in: int, k: int, s: int) -> list[int]:
    """Inputs that write into each output position of a 1-D transposed conv (no padding)."""
    n_out = (n_in - 1) * s + k
    return [sum(1 for i in range(n_in) if 0 <= o - s * i < k) for o in range(n_out)]


def test_checkerboard_overlap_counts(results):
    r = results["transposed_conv"]
    rows = {row[0]: row for row in table(r, "Inputs reaching").rows}
    for k in (2, 3, 4, 5):
        counts = overlap_1d(8, k, 2)[k:-k]  # the proof's 8x8 input, interior only
        lo, hi = min(counts), max(counts)
        assert rows[k][3] == lo * lo and rows[k][4] == hi * hi, k
        assert (rows[k][2] == "yes") == (k % 2 == 0)
    assert r.claim("k3s2_uneven_ratio").measured == (2 * 2) / (1 * 1)
    assert r.claim("k4s2_even").measured == 0
    # k = 5, s = 3 on one axis: 12 inputs, interior outputs receive 2, 2, 1 in turn.
    counts = overlap_1d(12, 5, 3)[5:-5]
    assert set(counts) == {1, 2}
    assert all(sorted(counts[i : i + 3]) == [1, 2, 2] for i in range(len(counts) - 2))
    assert r.claim("k5s3_per_axis_counts").passed
    assert r.claim("random_k4s2_still_periodic").measured > 0.05
    assert r.claim("resize_conv_constant").measured < 1e-12


def test_transpose_adjoint_and_zero_stuffing(results):
    r = results["transposed_conv"]
    # Dumoulin & Visin's example: (4 - 3 + 1)^2 = 4 outputs from 16 inputs.
    assert r.claim("matrix_shapes").detail == f"{(4, 16)} and {(16, 4)}"
    assert r.claim("convT_is_matrix_transpose").measured == 0
    assert r.claim("adjoint_identity").measured < 1e-12
    assert r.claim("autograd_is_convT").measured < 1e-12
    assert r.claim("zero_stuffing_equivalence").measured < 1e-12
    assert r.claim("flip_is_needed").measured > 0.1
    assert r.claim("not_an_inverse").measured > 0.5


# -- upsample_dilation -------------------------------------------------------------


def src_coord(o: int, n_in: int, n_out: int, align: bool) -> float:
    if align:
        return o * (n_in - 1) / (n_out - 1)
    return min(max((o + 0.5) * n_in / n_out - 0.5, 0.0), n_in - 1)


def test_align_corners_values_of_a_ramp(results):
    r = results["upsample_dilation"]
    rows = dict(table(r, "F.interpolate([0, 1]").rows)
    for align in (True, False):
        expected = [src_coord(o, 2, 4, align) for o in range(4)]  # values of a 0-1 ramp
        shown = [float(v) for v in rows[str(align)].split(", ")]
        assert shown == pytest.approx(expected, abs=1e-4)
    assert r.claim("align_true_second_value").measured == pytest.approx(1 / 3)
    assert r.claim("align_false_second_value").measured == pytest.approx(0.25)
    assert r.claim("bilinear_formula_align_true").measured < 1e-12
    assert r.claim("bilinear_formula_align_false").measured < 1e-12


def test_tent_kernel_layers(results):
    r = results["upsample_dilation"]
    for f, k, stride, pad, interior, border in table(r, "Bilinear x f").rows:
        assert k == 2 * f - f % 2 and stride == f and pad == math.ceil((f - 1) / 2)
        assert float(interior) < 1e-12 < float(border)
    # f = 2: centre 1.5, weights 1 - |i - 1.5| / 2.
    assert [1 - abs(i - 1.5) / 2 for i in range(4)] == [0.25, 0.75, 0.75, 0.25]
    assert r.claim("nearest_is_convT_ones").measured == 0
    assert r.claim("atrous_subsample_equals_strided").measured < 1e-12


def test_valid_taps_match_a_count_per_axis(results):
    r = results["upsample_dilation"]
    n = 65
    for rate, mean, fraction, most in table(r, "3x3 filter with rate r").rows:
        per_axis = sum(sum(1 for t in (-rate, 0, rate) if 0 <= i + t < n) for i in range(n)) / n
        assert float(mean) == pytest.approx(per_axis**2, abs=5e-4)
        assert float(fraction) == pytest.approx(per_axis**2 / 9, abs=5e-4)
        assert most == (9 if rate <= n // 2 else 4 if rate < n else 1)
    assert r.claim("valid_taps_rate24").measured == pytest.approx((147 / 65) ** 2)
    assert r.claim("valid_taps_rate65").measured == 1


def reach_1d(rates) -> set[int]:
    offsets = {0}
    for r in rates:
        offsets = {o + t for o in offsets for t in (-r, 0, r)}
    return offsets


def m2(rates) -> int:
    m = rates[-1]
    for r in reversed(rates[1:-1]):
        m = max(m - 2 * r, m - 2 * (m - r), r)
    return m


def test_gridding_table_matches_sum_sets(results):
    r = results["upsample_dilation"]
    for rates_text, side, read, area, _fraction, hdc in table(r, "Three stacked").rows:
        rates = tuple(int(x) for x in rates_text.strip("()").split(","))
        reach = reach_1d(rates)
        assert side == 1 + 2 * sum(rates) == max(reach) - min(reach) + 1
        assert read == len(reach) ** 2 and area == side * side
        assert hdc == m2(rates)
    assert r.claim("coprime_129_holes").measured == pytest.approx((21 / 25) ** 2)
    # Yu & Koltun's doubling from 1 covers its 15x15 field; the card's table has that row.
    assert reach_1d((1, 2, 4)) == set(range(-7, 8))
    assert r.claim("doubling_from_1_full").passed
    assert r.claim("gridding_neighbours_disjoint").measured == 0
    # Offsets of (2, 2, 2) are all even; shifting by one pixel lands on the odd lattice.
    assert not reach_1d((2, 2, 2)) & {o + 1 for o in reach_1d((2, 2, 2))}


# -- segmentation_nets -------------------------------------------------------------


def unet_walk(side: int):
    """Sizes through the original U-Net: (pool inputs, crops, output side)."""
    pools, skips = [], []
    for _ in range(4):
        side -= 4
        skips.append(side)
        pools.append(side)
        side //= 2
    side -= 4
    crops = []
    for skip in reversed(skips):
        side *= 2
        crops.append((skip, side))
        side -= 4
    return pools, crops, side


def test_unet_sizes(results):
    r = results["segmentation_nets"]
    pools, crops, out = unet_walk(572)
    assert out == r.claim("unet_572_output").measured == 388
    assert r.claim("unet_crops").detail == f"{crops}"
    assert r.claim("unet_pools_even").detail == f"{pools}"
    for side, valid, pooled, _odd, output in table(r, "U-Net tile sizes").rows:
        pools, _, expected_out = unet_walk(side)
        assert pooled == str(pools) and output == expected_out
        assert valid == all(p % 2 == 0 for p in pools) == ((side - 124) % 16 == 0)
        if valid:
            assert side - output == 184


def unet_params(merge: str, widths=(64, 128, 256, 512, 1024), in_ch=1, classes=2) -> int:
    def conv(cin, cout, k):
        return cout * cin * k * k + cout

    total, cin = 0, in_ch
    for w in widths:
        total += conv(cin, w, 3) + conv(w, w, 3)
        cin = w
    for hi, lo in zip(widths[:0:-1], widths[-2::-1], strict=True):
        total += conv(hi, lo, 2)  # 2x2 up-convolution
        total += conv(2 * lo if merge == "concat" else lo, lo, 3) + conv(lo, lo, 3)
    return total + conv(widths[0], classes, 1)


def test_unet_parameter_counts(results):
    r = results["segmentation_nets"]
    assert r.claim("unet_params").measured == unet_params("concat") == 31_030_658
    assert r.claim("unet_params_add").measured == unet_params("add") == 27_897_218
    assert r.claim("unet_conv_layers").measured == 5 * 2 + 4 * 3 + 1 == 23
    for stage, c, in_cat, in_add, p_cat, p_add in table(r, "U-Net decoder").rows:
        assert c == 1024 >> stage and in_cat == 2 * c and in_add == c
        assert p_cat == c * 2 * c * 9 + c and p_add == c * c * 9 + c
    assert r.claim("concat_contains_add").measured < 1e-12


def test_fcn_skip_costs(results):
    r = results["segmentation_nets"]
    assert r.claim("fcn_pool4_score_params").measured == 512 * 21 + 21 == 10_773
    assert r.claim("fcn_up2_params").measured == 21 * 21 * 4 * 4 == 7_056
    assert r.claim("fcn_zero_init_unchanged").measured == 0


def iou(pred, target, cls):
    inter = sum(1 for p, t in zip(pred, target, strict=True) if p == cls and t == cls)
    union = sum(1 for p, t in zip(pred, target, strict=True) if p == cls or t == cls)
    return inter / union


def test_miou_and_dice_numbers(results):
    r = results["segmentation_nets"]
    target = [0] * 90 + [1] * 10
    pred = [0] * 100
    assert r.claim("pixel_acc_all_background").measured == pytest.approx(0.9)
    assert r.claim("miou_all_background").measured == pytest.approx(
        (iou(pred, target, 0) + iou(pred, target, 1)) / 2
    )
    # Accumulated: 50 object pixels found, 2 missed; per image: 1.0 and 0.0.
    assert r.claim("object_iou_accumulated").measured == pytest.approx(50 / (50 + 2))
    assert r.claim("object_iou_per_image_mean").measured == pytest.approx((1.0 + 0.0) / 2)
    a, b = set(range(0, 60)), set(range(20, 100))  # IoU 40/100
    dice = 2 * len(a & b) / (len(a) + len(b))
    j = len(a & b) / len(a | b)
    assert dice == pytest.approx(2 * j / (1 + j))
    assert r.claim("dice_from_iou").measured < 1e-12
    assert r.claim("ignore_index_mean").measured < 1e-12


# -- generators --------------------------------------------------------------------


def test_segmentation_generators_are_registered_and_deterministic():
    for name in SEG_GENERATORS:
        assert name in GENERATORS
        assert draw(name, random.Random(11)) == draw(name, random.Random(11))
        questions = {draw(name, random.Random(seed)).question for seed in range(30)}
        assert len(questions) > 10, name
        drawn = draw(name, random.Random(0))
        assert drawn.question.endswith("?") and drawn.working and drawn.tolerance == 0


def test_convtranspose_output_size_matches_torch():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    pattern = re.compile(r"A (\d+)x\1 input goes through (nn\.ConvTranspose2d\(.*?\))\.")
    rng = random.Random(2024)
    for _ in range(200):
        drawn = draw("convtranspose_output_size", rng)
        match = pattern.search(drawn.question)
        assert match, drawn.question
        with torch.device("meta"):  # shapes only, no compute
            layer = eval(match.group(2), {"nn": nn})  # our own generated text, in a test
        side = int(match.group(1))
        out = layer(torch.empty(1, 64, side, side, device="meta"))
        assert drawn.value == out.shape[-1] == out.shape[-2], drawn.question


def test_unet_skip_params_match_torch():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    pattern = re.compile(
        r"upsamples to (\d+) channels; the encoder skip has (\d+) channels\. The two are "
        r"(concatenated|added).*nn\.Conv2d\(\?, (\d+), kernel_size=3, bias=(True|False)\)"
    )
    rng = random.Random(77)
    seen = set()
    for _ in range(200):
        drawn = draw("unet_skip_params", rng)
        match = pattern.search(drawn.question)
        assert match, drawn.question
        c_up, c_skip, how, c_out, bias = match.groups()
        c_up, c_skip, c_out, bias = int(c_up), int(c_skip), int(c_out), bias == "True"
        layers = []
        if how == "concatenated":
            layers.append(nn.Conv2d(c_up + c_skip, c_out, 3, bias=bias, device="meta"))
        else:
            if c_skip != c_up:
                layers.append(nn.Conv2d(c_skip, c_up, 1, device="meta"))
            layers.append(nn.Conv2d(c_up, c_out, 3, bias=bias, device="meta"))
        seen.add((how, c_skip == c_up))
        assert drawn.value == sum(p.numel() for m in layers for p in m.parameters())
    assert len(seen) == 4  # concat and add, with equal and unequal channels


def test_dilated_coverage_matches_gradients():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    pattern = re.compile(r"dilation rates \(([\d, ]+)\).*field is (\d+)x\2 ")
    rng = random.Random(5)
    for _ in range(40):
        drawn = draw("dilated_coverage", rng)
        match = pattern.search(drawn.question)
        assert match, drawn.question
        rates = [int(x) for x in match.group(1).split(", ")]
        side = int(match.group(2))
        n = 2 * side + 1
        x = torch.zeros(1, 1, n, n, dtype=torch.float64, requires_grad=True)
        h = x
        for r in rates:
            h = F.conv2d(h, torch.ones(1, 1, 3, 3, dtype=torch.float64), padding=r, dilation=r)
        h[0, 0, n // 2, n // 2].backward()
        hit = x.grad[0, 0] != 0
        rows = hit.any(dim=1).nonzero().flatten()
        assert int(rows.max() - rows.min() + 1) == side
        assert drawn.value == int(hit.sum()), drawn.question
