"""The CNN-basics proofs hold on CPU, and their key numbers match values computed here.

Each proof's verdict is not trusted alone: the numbers it measured are compared
with closed forms worked out in this file (and, for multiply-adds, with
PyTorch's own FLOP counter).
"""

from __future__ import annotations

import math

import pytest

CONV_PROOFS = [
    "conv1x1",
    "output_size",
    "receptive_field",
    "conv_counts",
    "translation_equivariance",
    "pooling_backward",
]


@pytest.fixture(scope="module")
def results(proof_result):
    return {name: proof_result(name) for name in CONV_PROOFS}


# -- conv1x1 --------------------------------------------------------------------


def test_conv1x1_is_a_per_pixel_linear_layer(results):
    r = results["conv1x1"]
    assert r.claim("linear_equivalence").measured < 1e-5
    assert r.claim("changed_pixels").measured == 1
    assert r.claim("changed_channels").measured == 8  # the proof's C_out


def test_bottleneck_counts_match_closed_forms(results):
    r = results["conv1x1"]
    bottleneck = 256 * 64 * 1 * 1 + 64 * 64 * 3 * 3 + 64 * 256 * 1 * 1
    plain = 256 * 256 * 3 * 3
    assert bottleneck == 69_632 and plain == 589_824
    assert r.claim("params_bottleneck").measured == bottleneck
    assert r.claim("params_plain").measured == plain
    assert r.claim("macs_bottleneck").measured == 56 * 56 * bottleneck == 218_365_952
    assert r.claim("macs_plain").measured == 56 * 56 * plain == 1_849_688_064
    assert r.claim("bottleneck_saving").measured == pytest.approx(plain / bottleneck)


def test_bottleneck_macs_agree_with_torch_flop_counter(results):
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    nn = torch.nn
    with torch.device("meta"):
        block = nn.Sequential(
            nn.Conv2d(256, 64, 1, bias=False),
            nn.Conv2d(64, 64, 3, padding=1, bias=False),
            nn.Conv2d(64, 256, 1, bias=False),
        )
        x = torch.empty(1, 256, 56, 56)
    with FlopCounterMode(display=False) as counter:
        block(x)
    # the counter reports FLOPs, two per multiply-add
    assert counter.get_total_flops() == 2 * results["conv1x1"].claim("macs_bottleneck").measured


def test_no_activation_means_one_linear_map(results):
    r = results["conv1x1"]
    assert r.claim("two_1x1_fold_into_one").measured < 1e-10
    assert r.claim("1x1_then_3x3_fold_into_one").measured < 1e-10
    assert r.claim("no_relu_is_linear").measured < 1e-10
    assert r.claim("relu_is_nonlinear").measured > 0.1
    assert r.claim("params_fc_vs_1x1").measured == 14 * 14


def test_inception_reduction_and_projection_shortcut(results):
    r = results["conv1x1"]
    direct = 28 * 28 * 32 * 5 * 5 * 192
    reduced = 28 * 28 * 16 * 192 + 28 * 28 * 32 * 5 * 5 * 16
    assert r.claim("inception_5x5_macs").measured == direct == 120_422_400
    assert r.claim("inception_reduced_macs").measured == reduced == 12_443_648
    assert r.claim("stride2_projection").measured < 1e-12
    # a stride-2 1x1 on an 8x8 map touches rows and columns 0, 2, 4, 6 only
    touched = len(range(0, 8, 2)) ** 2
    assert r.claim("stride2_reads_quarter").measured == touched / 64 == 0.25
    assert r.claim("avgpool_shortcut_reads_all").measured == 1.0


# -- output_size ------------------------------------------------------------------


def _floor_size(h, k, s=1, p=0, d=1):
    return math.floor((h + 2 * p - d * (k - 1) - 1) / s) + 1


def test_output_sizes_of_known_layers(results):
    r = results["output_size"]
    assert r.claim("conv_grid_mismatches").measured == 0
    assert r.claim("pool_floor_mismatches").measured == 0
    assert r.claim("pool_ceil_mismatches").measured == 0
    assert r.claim("ceil_last_window_dropped").measured > 0
    assert r.claim("resnet_stem").measured == _floor_size(224, 7, 2, 3) == 112
    assert r.claim("resnet_maxpool").measured == _floor_size(112, 3, 2, 1) == 56
    assert r.claim("alexnet_conv1").measured == _floor_size(227, 11, 4) == 55
    assert r.claim("dilated_3x3").measured == _floor_size(32, 3, 1, 2, 2) == 32
    for k in (3, 5, 7):
        assert r.claim(f"same_padding_k{k}").measured == _floor_size(32, k, 1, (k - 1) // 2)
    assert r.claim("pool_floor_56").measured == 27
    assert r.claim("pool_ceil_56").measured == math.ceil((56 - 3) / 2) + 1 == 28
    # 5 -> k2 s2 p1: ceil((5 + 2 - 2)/2) + 1 = 4, but window 4 starts at 6 = H + p: dropped
    assert math.ceil((5 + 2 - 2) / 2) + 1 == 4
    assert r.claim("ceil_dropped_example").measured == 3
    assert r.claim("strided_conv_like_pool").measured == _floor_size(56, 3, 2, 1) == 56 // 2
    # AlexNet's overlapping pool: same side as 2x2/2 on 55, one less on 56
    assert _floor_size(55, 3, 2) == _floor_size(55, 2, 2) == 27
    assert r.claim("overlap_pool_55").measured == _floor_size(55, 2, 2) - _floor_size(55, 3, 2)
    assert r.claim("overlap_pool_56").measured == _floor_size(56, 2, 2) - _floor_size(56, 3, 2) == 1


# -- receptive_field --------------------------------------------------------------


def test_receptive_fields_follow_the_recurrence(results):
    r = results["receptive_field"]
    for n, name in [(1, "one_3x3"), (2, "two_3x3"), (3, "three_3x3")]:
        assert r.claim(f"rf_{name}").measured == 1 + 2 * n
    assert r.claim("rf_one_5x5").measured == 5
    assert r.claim("rf_one_7x7").measured == 7
    assert r.claim("rf_ten_3x3").measured == 21
    # conv3, pool2/2, conv3, conv3 d2: 1 + 2 + 1 + 2*2 + 2*2*2
    assert r.claim("rf_strided_stack").measured == 1 + 2 + 1 + 4 + 8
    assert r.claim("rf_stride_first").measured == 1 + 2 + 2 * 2 + 2 * 2
    assert r.claim("rf_dilated_3x3").measured == 2 * (3 - 1) + 1
    assert r.claim("dilated_pixels_touched").measured == 9


def test_small_kernels_use_fewer_weights(results):
    r = results["receptive_field"]
    c = 64
    assert r.claim("params_two_3x3").measured == 18 * c * c < r.claim("params_one_5x5").measured
    assert r.claim("params_one_5x5").measured == 25 * c * c
    assert r.claim("params_three_3x3").measured == 27 * c * c
    assert r.claim("params_one_7x7").measured == 49 * c * c
    assert r.claim("seven_vs_three_ratio").measured == pytest.approx(
        1.8148, abs=1e-4
    )  # VGG's "81% more"


# -- conv_counts ------------------------------------------------------------------


def _connections_per_axis(side: int, k: int, pad: int) -> int:
    """(output position, input position) pairs along one axis that a window links."""
    return sum(
        1
        for out in range(side)
        for i in range(side)
        if 0 <= i - (out - pad) < k  # input i lies inside the window of output out
    )


def test_conv_is_a_sparse_weight_shared_dense_layer(results):
    r = results["conv_counts"]
    c_in, c_out, side, k = 2, 3, 6, 3
    pairs = _connections_per_axis(side, k, pad=1)
    assert pairs == 16
    assert r.claim("local_connectivity").measured == c_out * c_in * pairs**2
    assert r.claim("weight_sharing").measured == c_out * c_in * k * k
    assert r.claim("dense_matrix_matches").measured < 1e-12


def test_conv_vs_fully_connected_and_flops(results):
    r = results["conv_counts"]
    assert r.claim("conv_params_32").measured == 3 * 16 * 9 + 16
    assert r.claim("fc_params_32").measured == (3 * 32 * 32) * (16 * 32 * 32) + 16 * 32 * 32
    assert r.claim("params_formula").measured == 0
    rows = {row[0]: row[2] for row in r.tables[0].rows}  # layer -> counted parameters
    assert rows["Conv2d(96, 96, 7, groups=96, bias=False) depthwise 7x7"] == 49 * 96
    assert rows["Conv2d(96, 96, 7, bias=False) dense 7x7"] == 49 * 96 * 96
    assert rows["Conv2d(3, 64, 7, bias=False) ResNet stem"] == 64 * 3 * 49 == 9408
    # the stem's output side is floor((224 + 6 - 7)/2) + 1 = 112
    assert r.claim("stem_macs").measured == 112 * 112 * 9408 == 118_013_952
    # stride 2, padding 1 on 10x10: 5x5 outputs, each a dot product of length 8*3*3
    assert r.claim("macs_im2col").measured == 5 * 5 * 16 * 8 * 3 * 3
    assert r.claim("muls_per_value").measured == 8 * 3 * 3
    assert r.claim("flops_per_mac").measured == 2
    assert r.claim("no_kernel_flip").measured > 0.1


# -- translation_equivariance ------------------------------------------------------


def test_equivariance_and_its_limits(results):
    r = results["translation_equivariance"]
    assert r.claim("conv_equivariant").measured < 1e-10
    assert r.claim("zero_padding_equivariant").measured < 1e-10
    assert r.claim("stride_multiple_ok").measured < 1e-10
    assert r.claim("stride_breaks_equivariance").measured > 0.1
    # a dot stays in its 2x2 window under a 1-px shift exactly when its column is even
    assert r.claim("maxpool_invariant_share_1px").measured == sum(c % 2 == 0 for c in range(8)) / 8
    assert r.claim("maxpool_invariant_share_2px").measured == 0
    assert r.claim("cnn_invariant_2px").measured < 1e-10 < r.claim("cnn_not_invariant_1px").measured


# -- pooling_backward --------------------------------------------------------------


def test_pooling_gradients(results):
    r = results["pooling_backward"]
    assert r.claim("max_grad_to_argmax").measured < 1e-12
    assert r.claim("max_nonzero_per_window").measured == 1
    assert r.claim("avg_share_k2").measured == pytest.approx(1 / 4)
    assert r.claim("avg_share_k3").measured == pytest.approx(1 / 9)
    assert abs(r.claim("max_grad_conserved").measured) < 1e-12
    assert abs(r.claim("overlap_grad_conserved").measured) < 1e-12


def test_overlapping_pool_windows_per_input(results):
    r = results["pooling_backward"]
    # 3x3 windows at stride 2 on a 9-wide axis start at 0, 2, 4, 6: index 2 lies in two
    starts = range(0, 9 - 3 + 1, 2)
    per_axis = sum(1 for s in starts if s <= 2 < s + 3)
    assert per_axis == 2
    assert r.claim("overlap_max_windows").measured == per_axis**2 == 4
    assert r.claim("overlap_multiple_wins").measured <= per_axis**2
    assert abs(r.claim("overlap_spike_gradient").measured) < 1e-12


def test_max_and_average_each_win_their_task(results):
    rows = {row[0]: row[1:] for row in results["pooling_backward"].tables[0].rows}
    spot_max, spot_avg = rows["one +4 spot somewhere"]
    glow_max, glow_avg = rows["every pixel +0.2"]
    assert spot_max > spot_avg and glow_avg > glow_max
    # the mean of 256 unit-variance pixels has std 1/16: a +0.2 shift is 3.2 std,
    # so the best threshold (halfway) is right with probability Phi(1.6) ~ 0.945
    assert glow_avg == pytest.approx(0.5 * (1 + math.erf(1.6 / math.sqrt(2))), abs=0.04)


def test_global_average_pooling_head(results):
    r = results["pooling_backward"]
    assert r.claim("gap_params").measured == 0
    assert r.claim("gap_head_params").measured == 512 * 10 + 10
    assert r.claim("fc_head_params").measured == 512 * 7 * 7 * 10 + 10
    assert r.claim("gap_any_size").passed
