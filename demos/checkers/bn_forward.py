"""BatchNorm's forward pass on (N, D), training and eval, running statistics included

Checks ``batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum,
eps, training)`` -> ``(y, new_running_mean, new_running_var)`` against
``torch.nn.functional.batch_norm`` (which updates copies of the running
statistics in place) on seeded random batches, a batch of one in eval mode,
odd feature counts and large magnitudes, in float64. One training case uses
momentum 0.3 and eps 1e-3 (the others PyTorch's 0.1 and 1e-5), so neither may
be written into the code; and every case checks that the arrays passed in are
unchanged afterwards (the task forbids updating them in place).

Recognized mistakes: normalizing with the unbiased variance, the momentum
weights swapped (``m * running + (1 - m) * batch``), the biased variance stored
in the running estimate, and eval mode still using the batch's statistics.
"""

from __future__ import annotations

FUNCTION = "batchnorm_forward"
ARGUMENTS = ("x", "gamma", "beta", "running_mean", "running_var")


def run(check, fn) -> None:
    np, torch = check.np, check.torch
    # name, N, D, training, scale, shift, momentum, eps
    cases = [
        ("training, N=8, D=4", 8, 4, True, 1.0, 0.0, 0.1, 1e-5),
        ("training, N=32, D=17 (odd D), momentum 0.3, eps 1e-3", 32, 17, True, 1.0, 0.0, 0.3, 1e-3),
        ("training, N=2 (smallest batch)", 2, 5, True, 1.0, 0.0, 0.1, 1e-5),
        ("training, large magnitudes (x·1e3 + 1e4)", 16, 3, True, 1e3, 1e4, 0.1, 1e-5),
        ("eval, N=8", 8, 4, False, 1.0, 0.0, 0.1, 1e-5),
        ("eval, batch of one", 1, 6, False, 1.0, 0.0, 0.1, 1e-5),
    ]
    for k, (name, n, d, training, scale, shift, momentum, eps) in enumerate(cases):
        check.reseed(k)
        x = np.random.randn(n, d) * scale + shift
        gamma = np.random.rand(d) + 0.5
        beta = np.random.randn(d)
        running_mean = np.random.randn(d) * 0.1
        running_var = np.random.rand(d) + 0.5
        expected = _reference(
            torch, x, gamma, beta, running_mean, running_var, momentum, eps, training
        )
        inputs = (
            f"x: ({n}, {d}) float64, scale {scale:g}, shift {shift:g}; training={training}; "
            f"momentum={momentum}, eps={eps:g}"
        )
        args = (x, gamma, beta, running_mean, running_var)
        check.compare(
            name,
            lambda args=args, training=training, momentum=momentum, eps=eps: check.untouched(
                fn, ARGUMENTS, args, momentum=momentum, eps=eps, training=training
            ),
            expected,
            inputs=inputs,
            atol=1e-6 * max(1.0, scale),
            rtol=1e-6,
            mistakes=_mistakes(
                np, x, gamma, beta, running_mean, running_var, momentum, eps, training
            ),
        )


def _reference(torch, x, gamma, beta, running_mean, running_var, momentum, eps, training):
    rm = torch.tensor(running_mean.copy())
    rv = torch.tensor(running_var.copy())
    y = torch.nn.functional.batch_norm(
        torch.tensor(x),
        rm,
        rv,
        torch.tensor(gamma),
        torch.tensor(beta),
        training=training,
        momentum=momentum,
        eps=eps,
    )
    return y.numpy(), rm.numpy(), rv.numpy()


def _mistakes(np, x, gamma, beta, running_mean, running_var, m, eps, training) -> dict:
    n = x.shape[0]
    mean, var = x.mean(0), x.var(0)
    unbiased = var * n / max(n - 1, 1)

    def out(v_norm, new_mean, new_var, mu=mean):
        return gamma * (x - mu) / np.sqrt(v_norm + eps) + beta, new_mean, new_var

    good_mean = (1 - m) * running_mean + m * mean
    good_var = (1 - m) * running_var + m * unbiased
    if not training:
        return {
            "in eval mode, normalize with running_mean and running_var, not the batch's "
            "statistics (and leave the running estimates unchanged)": out(
                var, running_mean, running_var
            )
        }
    return {
        "normalize with the biased variance (divide by N); the unbiased N−1 variance is "
        "only what the running estimate stores": out(unbiased, good_mean, good_var),
        "the momentum weights are swapped: PyTorch's update is (1 − m)·running + m·batch "
        f"with m = {m:g}": out(
            var, m * running_mean + (1 - m) * mean, m * running_var + (1 - m) * unbiased
        ),
        "the running variance stores the unbiased variance of the batch (N/(N−1) times "
        "the biased one)": out(var, good_mean, (1 - m) * running_var + m * var),
    }
