"""Parity machine (tree) with binary weights: plain-numpy reference (science.md §1).

``K`` hidden units on disjoint blocks of ``n = N/K`` inputs (as the tree committee of
:mod:`wfm.models.committee`); the output is the product of the hidden signs,
``prod_l sign(h_l)``, with ``sign(0) = 0``: a hidden tie (even ``n`` only) makes the
output 0, which is never a label (the convention of :mod:`wfm.kernels.enumerate`).
"""

from __future__ import annotations

import numpy as np

from wfm.models.committee import hidden_fields as _hidden_fields
from wfm.models.committee import hidden_signs as _hidden_signs

__all__ = ["hidden_fields", "hidden_signs", "output", "train_errors"]


def hidden_fields(w, patterns, k: int) -> np.ndarray:
    """``h_l^mu = W_l . xi_l^mu / sqrt(n)``, float64 ``(P, K)``."""
    return _hidden_fields(w, patterns, k, False)


def hidden_signs(w, patterns, k: int) -> np.ndarray:
    """``sign(h_l^mu)`` as int8 ``(P, K)``."""
    return _hidden_signs(w, patterns, k, False)


def output(w, patterns, k: int) -> np.ndarray:
    """``prod_l sign(h_l)`` as int8 ``(P,)``."""
    return np.prod(hidden_signs(w, patterns, k), axis=1).astype(np.int8)


def train_errors(w, patterns, labels, k: int) -> int:
    """Number of patterns whose parity output differs from the label."""
    out = output(w, patterns, k).astype(np.int64)
    return int(np.count_nonzero(out != np.asarray(labels, dtype=np.int64)))
