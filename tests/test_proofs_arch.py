"""The architecture proofs hold on CPU, and their key numbers match values computed here.

Every count below is recomputed in the test from the published layer shapes,
independently of the proofs' own code and verdicts.
"""

import pytest

from quizcnn.proofs import run_proof

ARCH_PROOFS = [
    "residual_vs_plain",
    "resnet50_params",
    "lenet_shapes",
    "depthwise_separable",
    "inception_cost",
]


@pytest.fixture(scope="module")
def results(proof_result):
    return {name: proof_result(name) for name in ARCH_PROOFS}


def measured(result, key):
    return result.claim(key).measured


# --- ResNet -----------------------------------------------------------------


def bottleneck_resnet_params(blocks_per_stage):
    """Conv weights plus BN (2 per channel) plus FC, block by block."""
    total = 3 * 64 * 49 + 2 * 64  # stem conv + BN
    cin = 64
    for width, blocks in zip((64, 128, 256, 512), blocks_per_stage, strict=True):
        cout = 4 * width
        for i in range(blocks):
            c = cin if i == 0 else cout
            total += c * width + 2 * width  # 1x1 reduce + BN
            total += 9 * width * width + 2 * width  # 3x3 + BN
            total += width * cout + 2 * cout  # 1x1 expand + BN
            if i == 0:
                total += cin * cout + 2 * cout  # projection shortcut + BN
        cin = cout
    return total + 2048 * 1000 + 1000


def resnet50_macs(stride_on_3x3):
    """Sum of H_out * W_out * C_in * C_out * k^2 over the conv layers, plus the FC."""
    layers = [(112, 3, 64, 7)]  # (output size, C_in, C_out, kernel)
    cin, size_before = 64, 56
    for width, blocks, size in zip((64, 128, 256, 512), (3, 4, 6, 3), (56, 28, 14, 7), strict=True):
        for i in range(blocks):
            c = cin if i == 0 else 4 * width
            first_size = size_before if (i == 0 and stride_on_3x3) else size
            layers += [
                (first_size, c, width, 1),
                (size, width, width, 3),
                (size, width, 4 * width, 1),
            ]
            if i == 0:
                layers.append((size, c, 4 * width, 1))
        cin, size_before = 4 * width, size
    return sum(s * s * ci * co * k * k for s, ci, co, k in layers) + 2048 * 1000


def test_resnet50_parameter_count(results):
    r = results["resnet50_params"]
    assert bottleneck_resnet_params((3, 4, 6, 3)) == 25_557_032
    assert measured(r, "resnet50_params") == 25_557_032
    assert measured(r, "resnet50_closed_form") == 25_557_032
    stages = {row[0]: row[1] for row in r.tables[0].rows}
    assert stages["fc 2048 -> 1000"] == 2048 * 1000 + 1000
    assert stages["total"] == sum(v for k, v in stages.items() if k != "total")


def test_resnet152_parameter_count(results):
    assert bottleneck_resnet_params((3, 8, 36, 3)) == 60_192_808
    assert measured(results["resnet50_params"], "resnet152_params") == 60_192_808


def test_resnet50_multiply_adds(results):
    r = results["resnet50_params"]
    assert measured(r, "resnet50_macs_hooks_match_shapes") == resnet50_macs(stride_on_3x3=True)
    paper_layout = resnet50_macs(stride_on_3x3=False)
    assert measured(r, "resnet50_paper_layout_hooks_match_shapes") == paper_layout
    assert measured(r, "resnet50_gmacs") == pytest.approx(4.09, abs=0.01)
    # He et al. Table 1: 3.8e9 "FLOPs"; the multiply-adds match it, twice them do not.
    assert paper_layout / 3.8e9 == pytest.approx(1.0, abs=0.05)
    assert 2 * paper_layout / 3.8e9 > 1.9


def test_family_table_matches_the_papers_table_1(results):
    """He et al. Table 1 FLOPs (multiply-adds, paper layout), in billions."""
    table = next(t for t in results["resnet50_params"].tables if "GMACs paper layout" in t.columns)
    paper = {"resnet18": 1.8, "resnet34": 3.6, "resnet50": 3.8, "resnet101": 7.6, "resnet152": 11.3}
    rows = {row[0]: row for row in table.rows}
    for name, gflops in paper.items():
        assert float(rows[name][3]) == pytest.approx(gflops, abs=0.07), name
    assert rows["vgg16"][1] == 138_357_544
    assert float(rows["resnet152"][2]) < float(rows["vgg16"][2])


def test_bottleneck_and_shortcut_counts(results):
    r = results["resnet50_params"]
    bottleneck = 256 * 64 + 64 * 64 * 9 + 64 * 256
    assert measured(r, "bottleneck_conv_weights") == bottleneck == 69_632
    assert measured(r, "basic_block_conv_weights") == 2 * 9 * 64 * 64 == 73_728
    assert measured(r, "identity_shortcut_params") == 0
    assert measured(r, "projection_shortcut_params") == 256 * 512 + 2 * 512
    assert measured(r, "projection_doubles_bottleneck") == pytest.approx(
        (bottleneck + 256 * 256) / bottleneck
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_degradation_holds_for_other_seeds(seed):
    result = run_proof("residual_vs_plain", device="cpu", seed=seed)
    assert result.passed, [c.key for c in result.claims if not c.passed]


def test_residual_vs_plain_story(results):
    r = results["residual_vs_plain"]
    # No vanishing: the plain net's first layer gets a larger gradient than its last.
    assert measured(r, "plain_grads_do_not_vanish") > 1
    # Degradation and its cure, with wide margins.
    assert measured(r, "degradation_deeper_plain_worse") > 10
    assert measured(r, "residual_trains_better") < 0.1
    layers = {row[0]: row[1] for row in r.tables[0].rows}
    assert layers == {"plain-10": 10, "plain-34": 34, "residual-34": 34, "preact-34": 34}
    curves = r.series[0].lines
    assert set(curves) == {"plain-10", "plain-34", "residual-34", "preact-34"}
    assert curves["plain-34"][-1] > curves["residual-34"][-1]
    assert curves["plain-34"][-1] > curves["preact-34"][-1]
    grads = r.series[1].lines["plain-34"]
    assert len(grads) == 32  # two Linear layers in each of 16 blocks


# --- LeNet and friends ---------------------------------------------------------


def test_lenet_counts(results):
    r = results["lenet_shapes"]
    modern = (
        (25 * 6 + 6) + (6 * 25 * 16 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
    )
    assert modern == 61_706
    assert measured(r, "lenet_modern_params") == modern
    # Table I: 6 maps see 3 inputs, 9 see 4, 1 sees all 6; one bias per map.
    c3 = (6 * 3 + 9 * 4 + 1 * 6) * 25 + 16
    assert measured(r, "c3_partial_params") == c3 == 1_516
    assert measured(r, "c3_dense_params") == 6 * 16 * 25 + 16
    trainable = 156 + 2 * 6 + c3 + 2 * 16 + (400 * 120 + 120) + (120 * 84 + 84)
    assert measured(r, "lenet1998_trainable") == trainable == 60_000
    connections = 156 * 28 * 28 + 5 * 6 * 14 * 14 + c3 * 100 + 5 * 16 * 25 + 48_120 + 10_164 + 840
    assert measured(r, "lenet1998_connections") == connections == 340_908
    shapes = [row[1] for row in r.tables[0].rows]
    assert shapes == ["6 x 28 x 28", "6 x 14 x 14", "16 x 10 x 10", "16 x 5 x 5"] + [
        "400",
        "120",
        "84",
        "10",
    ]


def test_1989_net_and_alexnet_vgg(results):
    r = results["lenet_shapes"]
    net1989 = (12 * 25 + 12 * 64) + (12 * 8 * 25 + 12 * 16) + 30 * (192 + 1) + 10 * (30 + 1)
    assert measured(r, "net1989_params") == net1989 == 9_760
    alexnet = (
        (96 * 3 * 121 + 96)
        + (256 * 48 * 25 + 256)
        + (384 * 256 * 9 + 384)
        + (384 * 192 * 9 + 384)
        + (256 * 192 * 9 + 256)
        + (9216 * 4096 + 4096)
        + (4096 * 4096 + 4096)
        + (4096 * 1000 + 1000)
    )
    assert measured(r, "alexnet_params") == alexnet
    assert measured(r, "zfnet_conv1_params") == 96 * 3 * 7 * 7 + 96
    convs = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256)] + [(256, 256)] * 2
    convs += [(256, 512)] + [(512, 512)] * 5
    vgg = (
        sum(9 * a * b + b for a, b in convs)
        + (25088 * 4096 + 4096)
        + (4096 * 4096 + 4096)
        + 4_097_000
    )
    assert measured(r, "vgg16_params") == vgg == 138_357_544


# --- depthwise separable, grouped, MobileNetV2, SE --------------------------------


def test_depthwise_separable_ratio(results):
    r = results["depthwise_separable"]
    m, n, k, f = 64, 128, 3, 112
    assert measured(r, "standard_macs") == k * k * m * n * f * f == 924_844_032
    assert measured(r, "separable_macs") == k * k * m * f * f + m * n * f * f
    assert measured(r, "macs_ratio") == pytest.approx(1 / n + 1 / k**2, rel=1e-12)
    assert measured(r, "params_ratio") == pytest.approx(1 / n + 1 / k**2, rel=1e-12)
    assert 1 / 9 < measured(r, "macs_ratio") < 1 / 8


def test_multipliers_and_grouped_counts(results):
    r = results["depthwise_separable"]
    # Width multiplier 0.5 on a 256 -> 256 separable layer: depthwise scales by α, pointwise by α².
    expected = (9 * 128 + 128 * 128) / (9 * 256 + 256 * 256)
    assert measured(r, "width_multiplier") == pytest.approx(expected, rel=1e-12)
    assert measured(r, "resolution_multiplier") == 0.25
    assert measured(r, "grouped_conv_params") == 128 * 128 * 9 / 32 == 4_608
    assert measured(r, "resnext_block_weights") == 256 * 128 + 4_608 + 128 * 256 == 70_144
    assert measured(r, "v2_expansion") == 6
    assert measured(r, "v2_block_conv_weights") == 24 * 144 + 144 * 9 + 144 * 24
    assert measured(r, "se_params") == (256 * 16 + 16) + (16 * 256 + 256)
    # A point of the spiral survives ReLU(T x) when >= 2 of the n units are positive,
    # each independently with probability 1/2: P = 1 - P(0 positive) - P(1 positive).
    assert measured(r, "relu_recovery_3d") == pytest.approx(1 - (1 + 3) / 8, abs=0.05)
    table = next(t for t in r.tables if t.title.startswith("ReLU(T x)"))
    for n, share, _ in table.rows:
        assert float(share) == pytest.approx(1 - (1 + n) / 2**n, abs=0.1), n
    widths = [256] * 3 + [512] * 4 + [1024] * 6 + [2048] * 3
    se_extra = sum(2 * c * c // 16 + c // 16 + c for c in widths)
    assert measured(r, "se_resnet50_extra") == pytest.approx(se_extra / 1e6)


# --- Inception and DenseNet -------------------------------------------------------


def test_inception_3a_costs(results):
    r = results["inception_cost"]
    hw = 28 * 28
    branches = [(192, 64, 1), (192, 96, 1), (96, 128, 3), (192, 16, 1), (16, 32, 5), (192, 32, 1)]
    macs = sum(hw * a * b * k * k for a, b, k in branches)
    assert macs == 128_049_152
    assert measured(r, "inception3a_macs_closed_form") == macs
    naive = hw * (192 * 64 + 192 * 128 * 9 + 192 * 32 * 25)
    assert measured(r, "naive_module_macs") == naive
    assert measured(r, "five_by_five_naive_millions") * 1e6 == pytest.approx(hw * 192 * 32 * 25)
    assert measured(r, "two_3x3_vs_5x5_weights") == pytest.approx(1 - 0.28)
    # VGG §2.3: three 3x3 layers have 3 * 9 C² weights, one 7x7 has 49 C².
    assert measured(r, "three_3x3_vs_7x7_weights") == pytest.approx(3 * 9 / 7**2)
    assert measured(r, "asymmetric_3_weights") == pytest.approx(2 / 3)
    assert measured(r, "asymmetric_7_weights") == pytest.approx(2 / 7)


def densenet121_params(k=32, blocks=(6, 12, 24, 16)):
    total = 3 * 64 * 49 + 2 * 64
    c = 64
    for i, n in enumerate(blocks):
        for _ in range(n):
            total += 2 * c + c * 4 * k + 2 * 4 * k + 4 * k * k * 9
            c += k
        if i < len(blocks) - 1:
            total += 2 * c + c * (c // 2)
            c //= 2
    return total + 2 * c + c * 1000 + 1000


def test_densenet_counts(results):
    r = results["inception_cost"]
    assert measured(r, "dense_block_out_channels") == 64 + 6 * 32
    assert measured(r, "dense_block_reuses_input") == 0
    assert densenet121_params() == 7_978_856
    assert measured(r, "densenet121_params") == densenet121_params()
