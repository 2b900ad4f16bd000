"""Generated numeric cards: fresh numbers at every review, and the right answer.

A card with ``generator: NAME`` asks a concrete question drawn from a
``random.Random``; the drill grades the typed number against ``Drawn.value``
within ``Drawn.tolerance`` and then shows ``Drawn.working``. One module per
topic registers its generators in its own ``GENERATORS``; this package merges
them. No torch import here: drawing is pure Python.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from quizcnn.generators import (
    attention,
    conv,
    detection,
    norm_family,
    numerics,
    optimizers,
    regularization,
    segmentation,
    transfer,
)
from quizcnn.generators.conv import (
    Layer,
    conv_mac_count,
    conv_out,
    conv_param_count,
    pool_out_ceil,
    receptive_field,
)
from quizcnn.generators.drawn import Drawn

_MODULES = (
    conv,
    optimizers,
    norm_family,
    detection,
    segmentation,
    regularization,
    attention,
    numerics,
    transfer,
)
GENERATORS: dict[str, Callable[[random.Random], Drawn]] = {}
for _module in _MODULES:
    for _name, _generator in _module.GENERATORS.items():
        if _name in GENERATORS:  # pragma: no cover - caught by the first test run
            raise RuntimeError(f"generator {_name!r} is registered twice")
        GENERATORS[_name] = _generator


def draw(name: str, rng: random.Random) -> Drawn:
    """One fresh question from the named generator; unknown names raise KeyError."""
    try:
        generator = GENERATORS[name]
    except KeyError:
        raise KeyError(f"unknown generator {name!r}: use one of {', '.join(GENERATORS)}") from None
    return generator(rng)


__all__ = [
    "GENERATORS",
    "Drawn",
    "Layer",
    "conv_mac_count",
    "conv_out",
    "conv_param_count",
    "draw",
    "pool_out_ceil",
    "receptive_field",
]
