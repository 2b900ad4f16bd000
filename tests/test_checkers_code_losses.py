"""The checkers of questions/code_losses.yaml: right code passes, realistic wrong code fails.

Every card's solution passes and its starter fails (a bug hunt's starter at the
case its bug breaks, with the hint that names it). The mistakes people make are
written out as whole files below, each with the case it must fail first and
words from the hint the checker gives (for the row sum without keepdim, words
from the error it raises). A wrong solution that passed would be a defect of
the checker.
"""

from __future__ import annotations

import pytest
from checkercheck import assert_fails_first_at, assert_passes, bank, card, check_code

# the wrong solutions overflow on purpose: numpy's warnings are what they would print
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

CARDS = [
    "impl-loss-softmax",
    "impl-loss-log-softmax",
    "impl-loss-cross-entropy",
    "impl-loss-bce-logits",
    "impl-loss-label-smoothing",
    "impl-optim-sgd-momentum",
    "impl-optim-adam",
    "bug-loss-softmax-before-ce",
    "bug-loss-softmax-dim",
]

SM_NAIVE = """\
import numpy as np


def softmax(z, axis=-1):
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)
"""

SM_GLOBALMAX = """\
import numpy as np


def softmax(z, axis=-1):
    e = np.exp(z - z.max())
    return e / e.sum(axis=axis, keepdims=True)
"""

SM_AXIS0 = """\
import numpy as np


def softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)
"""

SM_LASTAXIS = """\
import numpy as np


def softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
"""

LSM_LOG = """\
import numpy as np


def log_softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return np.log(e / e.sum(axis=axis, keepdims=True))
"""

LSM_NOMAX = """\
import numpy as np


def log_softmax(z, axis=-1):
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))
"""

LSM_NOADDBACK = """\
import numpy as np


def log_softmax(z, axis=-1):
    m = z.max(axis=axis, keepdims=True)
    lse = np.log(np.exp(z - m).sum(axis=axis, keepdims=True))
    return z - lse
"""

CE_NON = """\
import numpy as np


def cross_entropy(logits, targets):
    n = logits.shape[0]
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = -logp[np.arange(n), targets].mean()
    d = np.exp(logp)
    d[np.arange(n), targets] -= 1
    return loss, d
"""

CE_SUM = """\
import numpy as np


def cross_entropy(logits, targets):
    n = logits.shape[0]
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = -logp[np.arange(n), targets].sum()
    d = np.exp(logp)
    d[np.arange(n), targets] -= 1
    return loss, d
"""

CE_DOUBLE = """\
import numpy as np


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(logits, targets):
    n = logits.shape[0]
    probs = _softmax(logits)
    p = _softmax(probs)  # treats probabilities as logits
    loss = -np.log(p[np.arange(n), targets]).mean()
    d = p.copy()
    d[np.arange(n), targets] -= 1
    return loss, d / n
"""

CE_NAIVE = """\
import numpy as np


def cross_entropy(logits, targets):
    n = logits.shape[0]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(n), targets]).mean()
    d = p.copy()
    d[np.arange(n), targets] -= 1
    return loss, d / n
"""

CE_CLIP = """\
import numpy as np


def cross_entropy(logits, targets):
    n = logits.shape[0]
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    loss = -np.log(np.clip(p[np.arange(n), targets], 1e-12, 1.0)).mean()
    d = p.copy()
    d[np.arange(n), targets] -= 1
    return loss, d / n
"""

CE_INPLACE = """\
import numpy as np


def cross_entropy(logits, targets):
    n = logits.shape[0]
    logits -= logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    loss = -logp[np.arange(n), targets].mean()
    d = np.exp(logp)
    d[np.arange(n), targets] -= 1
    return loss, d / n
"""

BCE_NAIVE = """\
import numpy as np


def bce_with_logits(z, y):
    p = 1 / (1 + np.exp(-z))
    return np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)))
"""

BCE_CLIP = """\
import numpy as np


def bce_with_logits(z, y):
    p = np.clip(1 / (1 + np.exp(-z)), 1e-7, 1 - 1e-7)
    return np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)))
"""

BCE_UNSTABLE = """\
import numpy as np


def bce_with_logits(z, y):
    return np.mean(np.log(1 + np.exp(z)) - z * y)
"""

BCE_SUM = """\
import numpy as np


def bce_with_logits(z, y):
    return np.sum(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
"""

LS_KM1 = """\
import numpy as np


def label_smoothed_cross_entropy(logits, targets, eps):
    n, k = logits.shape
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    q = np.full((n, k), eps / (k - 1))
    q[np.arange(n), targets] = 1 - eps
    return np.mean(-(q * logp).sum(axis=1))
"""

LS_PROBS = """\
import numpy as np


def label_smoothed_cross_entropy(logits, targets, eps):
    n, k = logits.shape
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    p = (1 - eps) * p + eps / k
    return np.mean(-np.log(p[np.arange(n), targets]))
"""

LS_LOGSOFTMAX = """\
import numpy as np


def label_smoothed_cross_entropy(logits, targets, eps):
    n, k = logits.shape
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    logp = np.log(p)
    q = np.full((n, k), eps / k)
    q[np.arange(n), targets] += 1 - eps
    return np.mean(-(q * logp).sum(axis=1))
"""

SGD_SUTSKEVER = """\
def sgd_momentum_step(params, grads, velocities, lr, momentum, weight_decay=0.0, nesterov=False):
    new_params, new_velocities = [], []
    for p, g, v in zip(params, grads, velocities):
        g = g + weight_decay * p
        v = momentum * (0 if v is None else v) - lr * g
        if nesterov:
            p = p + momentum * v - lr * g
        else:
            p = p + v
        new_params.append(p)
        new_velocities.append(v)
    return new_params, new_velocities
"""

SGD_DECAY_AFTER = """\
def sgd_momentum_step(params, grads, velocities, lr, momentum, weight_decay=0.0, nesterov=False):
    new_params, new_velocities = [], []
    for p, g, v in zip(params, grads, velocities):
        v = g.copy() if v is None else momentum * v + g
        step = g + momentum * v if nesterov else v
        new_params.append(p - lr * (step + weight_decay * p))
        new_velocities.append(v)
    return new_params, new_velocities
"""

SGD_NO_NESTEROV = """\
def sgd_momentum_step(params, grads, velocities, lr, momentum, weight_decay=0.0, nesterov=False):
    new_params, new_velocities = [], []
    for p, g, v in zip(params, grads, velocities):
        g = g + weight_decay * p
        v = g.copy() if v is None else momentum * v + g
        new_params.append(p - lr * v)
        new_velocities.append(v)
    return new_params, new_velocities
"""

SGD_EMA = """\
import numpy as np


def sgd_momentum_step(params, grads, velocities, lr, momentum, weight_decay=0.0, nesterov=False):
    new_params, new_velocities = [], []
    for p, g, v in zip(params, grads, velocities):
        g = g + weight_decay * p
        v = np.zeros_like(p) if v is None else v
        v = momentum * v + (1 - momentum) * g
        step = g + momentum * v if nesterov else v
        new_params.append(p - lr * step)
        new_velocities.append(v)
    return new_params, new_velocities
"""

ADAM_NOBC = """\
import numpy as np


def adam_step(param, grad, m, v, t, lr, betas, eps, weight_decay=0.0, decoupled=False):
    b1, b2 = betas
    if weight_decay and decoupled:
        param = param * (1 - lr * weight_decay)
    elif weight_decay:
        grad = grad + weight_decay * param
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad * grad
    return param - lr * m / (np.sqrt(v) + eps), m, v
"""

ADAM_EPSIN = """\
import numpy as np


def adam_step(param, grad, m, v, t, lr, betas, eps, weight_decay=0.0, decoupled=False):
    b1, b2 = betas
    if weight_decay and decoupled:
        param = param * (1 - lr * weight_decay)
    elif weight_decay:
        grad = grad + weight_decay * param
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad * grad
    m_hat = m / (1 - b1**t)
    v_hat = v / (1 - b2**t)
    return param - lr * m_hat / np.sqrt(v_hat + eps), m, v
"""

ADAM_L2 = """\
import numpy as np


def adam_step(param, grad, m, v, t, lr, betas, eps, weight_decay=0.0, decoupled=False):
    b1, b2 = betas
    grad = grad + weight_decay * param  # the same L2 for Adam and AdamW
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad * grad
    m_hat = m / (1 - b1**t)
    v_hat = v / (1 - b2**t)
    return param - lr * m_hat / (np.sqrt(v_hat) + eps), m, v
"""

ADAM_DECAY_AFTER = """\
import numpy as np


def adam_step(param, grad, m, v, t, lr, betas, eps, weight_decay=0.0, decoupled=False):
    b1, b2 = betas
    if weight_decay and not decoupled:
        grad = grad + weight_decay * param
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad * grad
    m_hat = m / (1 - b1**t)
    v_hat = v / (1 - b2**t)
    param = param - lr * m_hat / (np.sqrt(v_hat) + eps)
    if decoupled:
        param = param - lr * weight_decay * param
    return param, m, v
"""

BUGCE_NLL_LOG = """\
import torch
import torch.nn.functional as F


def loss_fn(logits, targets):
    return F.nll_loss(torch.log(torch.softmax(logits, dim=1)), targets)
"""

BUGCE_NLL_PROBS = """\
import torch
import torch.nn.functional as F


def loss_fn(logits, targets):
    return F.nll_loss(torch.softmax(logits, dim=1), targets)
"""

BUGDIM_SIGMOID = """\
import torch


def class_probabilities(logits):
    return torch.sigmoid(logits)
"""

BUGDIM_GLOBAL = """\
import torch


def class_probabilities(logits):
    e = torch.exp(logits - logits.max())
    return e / e.sum()
"""

BUGDIM_NAIVE = """\
import torch


def class_probabilities(logits):
    e = torch.exp(logits)
    return e / e.sum(dim=1, keepdim=True)
"""

BUGDIM_NOKEEPDIM = """\
import torch


def class_probabilities(logits):
    e = torch.exp(logits - logits.max())
    return e / e.sum(dim=1)
"""

# card, what the mistake is, the code, the first case it fails, words of the hint
WRONG = [
    (
        "impl-loss-softmax",
        "no max subtraction",
        SM_NAIVE,
        "large logits (±1000)",
        "subtract the max",
    ),
    (
        "impl-loss-softmax",
        "the max over the whole array",
        SM_GLOBALMAX,
        "large logits (±1000)",
        "not over the whole array",
    ),
    (
        "impl-loss-softmax",
        "normalized over axis 0",
        SM_AXIS0,
        "random logits (4, 5), axis=-1",
        "normalizes over axis 0",
    ),
    (
        "impl-loss-softmax",
        "axis ignored (always the last)",
        SM_LASTAXIS,
        "3-D input (2, 3, 4), axis=0",
        "normalizes over axis 2",
    ),
    (
        "impl-loss-log-softmax",
        "log of the softmax",
        LSM_LOG,
        "very negative logits (−1000), one whole row",
        "log(softmax(z))",
    ),
    (
        "impl-loss-log-softmax",
        "no max subtraction",
        LSM_NOMAX,
        "very negative logits (−1000), one whole row",  # log(sum of zeros) there
        "m = max(z) along the axis",
    ),
    (
        "impl-loss-log-softmax",
        "the max not added back",
        LSM_NOADDBACK,
        "random logits (4, 5), axis=-1",
        "not added back",
    ),
    (
        "impl-loss-cross-entropy",
        "gradient not divided by N",
        CE_NON,
        "random logits (8, 5)",
        "divide the gradient by N",
    ),
    ("impl-loss-cross-entropy", "sum reduction", CE_SUM, "random logits (8, 5)", "summed loss"),
    (
        "impl-loss-cross-entropy",
        "double softmax",
        CE_DOUBLE,
        "random logits (8, 5)",
        "double softmax",
    ),
    (
        "impl-loss-cross-entropy",
        "no max subtraction",
        CE_NAIVE,
        "large logits (±1000)",
        "max subtracted",
    ),
    (
        "impl-loss-cross-entropy",
        "probabilities clipped at 1e-12",
        CE_CLIP,
        "a target with probability ~0 (its logit 60 below)",
        "do not clip",
    ),
    (
        "impl-loss-cross-entropy",
        "max subtracted in place",
        CE_INPLACE,
        "logits left unchanged",
        "must not change",
    ),
    (
        "impl-loss-bce-logits",
        "sigmoid then log",
        BCE_NAIVE,
        "large logits (z = ±100)",
        "sigmoid then log",
    ),
    (
        "impl-loss-bce-logits",
        "sigmoid clipped then log",
        BCE_CLIP,
        "large logits (z = ±100)",
        "rounds to exactly 1 or 0",
    ),
    (
        "impl-loss-bce-logits",
        "log(1 + exp(z)) unstable",
        BCE_UNSTABLE,
        "very large logits (z = ±1000)",
        "log(1 + exp(z)) overflows",
    ),
    (
        "impl-loss-bce-logits",
        "sum reduction",
        BCE_SUM,
        "random logits, 0/1 targets (16,)",
        "sum over elements",
    ),
    (
        "impl-loss-label-smoothing",
        "ε/(K − 1) on the other classes",
        LS_KM1,
        "ε = 0.1, K = 5, (8, 5)",
        "ε/(K − 1)",
    ),
    (
        "impl-loss-label-smoothing",
        "smoothed probabilities",
        LS_PROBS,
        "ε = 0.1, K = 5, (8, 5)",
        "smooths the predicted probabilities",
    ),
    (
        "impl-loss-label-smoothing",
        "log of the softmax",
        LS_LOGSOFTMAX,
        "large logits (±1000, one row 2000 lower), ε = 0.1",
        "never log(softmax)",
    ),
    (
        "impl-optim-sgd-momentum",
        "Sutskever's form",
        SGD_SUTSKEVER,
        "lr changes between steps (0.1, 0.03, 0.01)",
        "Sutskever",
    ),
    (
        "impl-optim-sgd-momentum",
        "weight decay after the momentum",
        SGD_DECAY_AFTER,
        "weight decay 0.01",
        "added after the momentum",
    ),
    (
        "impl-optim-sgd-momentum",
        "nesterov ignored",
        SGD_NO_NESTEROV,
        "nesterov",
        "nesterov is ignored",
    ),
    (
        "impl-optim-sgd-momentum",
        "dampened buffer started at zero",
        SGD_EMA,
        "momentum 0.9, 3 steps",
        "started at 0",
    ),
    (
        "impl-optim-adam",
        "no bias correction",
        ADAM_NOBC,
        "Adam, 5 steps (the defaults)",
        "no bias correction",
    ),
    (
        "impl-optim-adam",
        "eps inside the square root",
        ADAM_EPSIN,
        "Adam, 5 steps (the defaults)",
        "eps is inside the square root",
    ),
    (
        "impl-optim-adam",
        "AdamW's decay as L2",
        ADAM_L2,
        "AdamW, weight decay 0.1 (decoupled)",
        "applied as L2",
    ),
    (
        "impl-optim-adam",
        "decoupled decay after the update",
        ADAM_DECAY_AFTER,
        "AdamW, weight decay 0.1 (decoupled)",
        "comes first",
    ),
    (
        "bug-loss-softmax-before-ce",
        "nll_loss of log(softmax)",
        BUGCE_NLL_LOG,
        "large logits (±1000)",
        "log(softmax(z)) underflows",
    ),
    (
        "bug-loss-softmax-before-ce",
        "nll_loss of probabilities",
        BUGCE_NLL_PROBS,
        "random logits (8, 5)",
        "log-probabilities",
    ),
    ("bug-loss-softmax-dim", "sigmoid", BUGDIM_SIGMOID, "non-square batch (4, 6)", "sigmoid"),
    (
        "bug-loss-softmax-dim",
        "one normalization over the batch",
        BUGDIM_GLOBAL,
        "non-square batch (4, 6)",
        "whole batch",
    ),
    (
        "bug-loss-softmax-dim",
        "exp without the max",
        BUGDIM_NAIVE,
        "large logits (±1000, one row 2000 lower)",
        "without subtracting the max",
    ),
    (
        "bug-loss-softmax-dim",
        "row sum without keepdim",
        BUGDIM_NOKEEPDIM,
        "non-square batch (4, 6)",
        "RuntimeError",
    ),
]


def test_the_cards_are_the_topic_and_have_their_checkers():
    topic = [c.id for c in bank().cards if c.topic == "code_losses"]
    assert sorted(topic) == sorted(CARDS)
    assert all(card(c).checker for c in CARDS)


@pytest.mark.parametrize("card_id", CARDS)
def test_the_solution_passes(card_id, tmp_path):
    assert_passes(check_code(card_id, card(card_id).solution, tmp_path))


@pytest.mark.parametrize("card_id", [c for c in CARDS if c.startswith("impl-")])
def test_the_starter_fails_at_the_first_case(card_id, tmp_path):
    report = check_code(card_id, card(card_id).starter, tmp_path)
    assert not report.passed
    assert report.first_failure is report.cases[0]
    assert "NotImplementedError" in report.first_failure.got


@pytest.mark.parametrize(
    ("card_id", "case_name", "hint"),
    [
        (
            "bug-loss-softmax-before-ce",
            "random logits (8, 5)",
            "already applies log_softmax",
        ),
        ("bug-loss-softmax-dim", "non-square batch (4, 6)", "softmax over dim=0"),
    ],
)
def test_a_bug_hunts_starter_fails_with_the_hint_naming_its_bug(card_id, case_name, hint, tmp_path):
    assert_fails_first_at(check_code(card_id, card(card_id).starter, tmp_path), case_name, hint)


@pytest.mark.parametrize(
    ("card_id", "mistake", "code", "case_name", "hint"),
    WRONG,
    ids=[f"{c}: {m}" for c, m, *_ in WRONG],
)
def test_a_realistic_mistake_fails_first_where_it_breaks(
    card_id, mistake, code, case_name, hint, tmp_path
):
    report = check_code(card_id, code, tmp_path)
    if hint == "RuntimeError":  # an error in the user's code, not a recognized output
        assert_fails_first_at(report, case_name)
        assert hint in report.first_failure.got
    else:
        assert_fails_first_at(report, case_name, hint)


def test_every_card_has_at_least_two_wrong_solutions():
    for card_id in CARDS:
        assert sum(1 for c, *_ in WRONG if c == card_id) >= 2, card_id


def test_the_velocities_case_catches_a_step_stored_as_the_velocity(tmp_path):
    """Sutskever's form passes the constant-lr parameter cases and still fails the
    velocities: it stores −lr·b, not PyTorch's buffer b."""
    report = check_code("impl-optim-sgd-momentum", SGD_SUTSKEVER, tmp_path)
    by_name = {c.name: c for c in report.cases}
    assert by_name["momentum 0.9, 3 steps"].passed
    assert by_name["nesterov"].passed
    velocities = by_name["velocities are PyTorch's momentum buffers (after 3 steps)"]
    assert not velocities.passed and "Sutskever" in velocities.hint


def test_a_torch_solution_of_a_bug_hunt_must_keep_the_graph(tmp_path):
    detached = """\
import torch.nn.functional as F


def loss_fn(logits, targets):
    return F.cross_entropy(logits.detach(), targets)
"""
    report = check_code("bug-loss-softmax-before-ce", detached, tmp_path)
    assert_fails_first_at(report, "random logits (8, 5)")
    assert "autograd" in report.first_failure.got


# Found by probing the checkers with a candidate's slips (each once passed): an input
# changed in place, and a max taken over the whole array or a mean shift, which only
# fail when rows sit at very different scales.
SM_IN_PLACE = """\
import numpy as np


def softmax(z, axis=-1):
    z -= z.max(axis=axis, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=axis, keepdims=True)
    return z
"""
LSM_GLOBAL_MAX = """\
import numpy as np


def log_softmax(z, axis=-1):
    m = z.max()
    return z - m - np.log(np.exp(z - m).sum(axis=axis, keepdims=True))
"""
LSM_MEAN_SHIFT = LSM_GLOBAL_MAX.replace("m = z.max()", "m = z.mean(axis=axis, keepdims=True)")
BUGDIM_HAND_GLOBAL = """\
import torch


def class_probabilities(logits):
    e = torch.exp(logits - logits.max())
    return e / e.sum(dim=1, keepdim=True)
"""
PROBED = [
    ("impl-loss-softmax", SM_IN_PLACE, "random logits (4, 5), axis=-1"),
    ("impl-loss-log-softmax", LSM_GLOBAL_MAX, "very negative logits (−1000), one whole row"),
    ("impl-loss-log-softmax", LSM_MEAN_SHIFT, "very positive logits (+1000), one row ±1000"),
    (
        "impl-loss-label-smoothing",
        card("impl-loss-label-smoothing").solution.replace(
            "logits.max(axis=1, keepdims=True)", "logits.max()"
        ),
        "large logits (±1000, one row 2000 lower), ε = 0.1",
    ),
    ("bug-loss-softmax-dim", BUGDIM_HAND_GLOBAL, "large logits (±1000, one row 2000 lower)"),
]


@pytest.mark.parametrize("card_id, text, case", PROBED, ids=[f"{c}: {w}" for c, _, w in PROBED])
def test_a_probed_slip_fails_at_its_case(card_id, text, case, tmp_path):
    assert text != card(card_id).solution
    report = check_code(card_id, text, tmp_path)
    assert_fails_first_at(report, case)
    if text is SM_IN_PLACE:
        assert "z was modified in place" in report.first_failure.got
