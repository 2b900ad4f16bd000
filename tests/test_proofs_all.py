"""Every proof in demos/ runs on CPU and every one of its claims holds.

One parametrized test over the demos folder itself, so a new proof is run by
CI the moment its file exists; the test_proofs_<area> files then check each
proof's key numbers against values they compute themselves.
"""

from __future__ import annotations

import pytest
from proofcheck import assert_every_claim_holds

from quizcnn.proofs import available

# The floors the first release's per-area tests set: a proof in these areas
# makes at least this many claims, and these proofs each draw a table.
MIN_CLAIMS = {
    **dict.fromkeys(
        [
            "conv1x1",
            "output_size",
            "receptive_field",
            "conv_counts",
            "translation_equivariance",
            "pooling_backward",
        ],
        6,
    ),
    **dict.fromkeys(
        [
            "ce_vs_mse",
            "loss_gradients",
            "multilabel_vs_multiclass",
            "logistic_regression",
            "class_imbalance",
            "gd_vs_newton",
        ],
        8,
    ),
}
SHOWS_A_TABLE = {
    "bn_vs_ln",
    "bn_large_lr",
    "bn_placement",
    "bn_deep_gradients",
    "residual_vs_plain",
    "resnet50_params",
    "lenet_shapes",
    "depthwise_separable",
    "inception_cost",
    "vanishing_gradients",
    "init_scale",
    "zero_init_symmetry",
    "default_init",
}
PROOFS = sorted(available())


def test_the_demos_folder_has_proofs():
    assert len(PROOFS) >= 29
    assert set(MIN_CLAIMS) | SHOWS_A_TABLE <= set(PROOFS)


@pytest.mark.parametrize("name", PROOFS)
def test_every_claim_holds_on_cpu(proof_result, name):
    result = proof_result(name)
    assert_every_claim_holds(result, min_claims=MIN_CLAIMS.get(name, 1))
    if name in SHOWS_A_TABLE:
        assert result.tables, "this proof shows a table"
