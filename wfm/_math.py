"""Small numerical helpers shared by measures, theory and plots (numpy only)."""

from __future__ import annotations

import numpy as np

__all__ = ["binary_entropy"]


def binary_entropy(d):
    """``H2(d) = -d ln d - (1-d) ln(1-d)`` in nats; 0 at ``d = 0`` and ``d = 1``.

    The log-count per weight of the binary configurations at normalised Hamming
    distance ``d`` from a reference: the upper bound of every local entropy.
    """
    d = np.asarray(d, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = -d * np.log(d) - (1.0 - d) * np.log1p(-d)
    return np.where((d == 0.0) | (d == 1.0), 0.0, out)
