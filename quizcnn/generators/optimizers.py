"""Generators of the optimizers topic."""

from __future__ import annotations

import random
from collections.abc import Callable

from quizcnn.generators.drawn import Drawn

GENERATORS: dict[str, Callable[[random.Random], Drawn]] = {}
