"""Perceptron with binary (or real) weights: plain-numpy reference (science.md §1).

Stability of pattern ``mu``: ``Delta^mu = sigma^mu (W . xi^mu) / sqrt(N)``; the pattern
is learned when ``Delta^mu > kappa``; the training error is the number of patterns with
``Delta^mu <= kappa``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["output", "preactivations", "stabilities", "train_errors"]


def preactivations(w: np.ndarray, patterns: np.ndarray) -> np.ndarray:
    """``W . xi^mu / sqrt(N)`` for every pattern, float64 ``(P,)``."""
    w = np.asarray(w, dtype=np.float64)
    x = np.asarray(patterns, dtype=np.float64)
    return x @ w / np.sqrt(w.shape[-1])


def output(w: np.ndarray, patterns: np.ndarray) -> np.ndarray:
    """``sign(W . xi / sqrt(N))`` as int8 ±1 (a zero field counts as +1)."""
    return np.where(preactivations(w, patterns) >= 0.0, 1, -1).astype(np.int8)


def stabilities(w: np.ndarray, patterns: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``Delta^mu = sigma^mu (W . xi^mu) / sqrt(N)``, float64 ``(P,)``."""
    return np.asarray(labels, dtype=np.float64) * preactivations(w, patterns)


def train_errors(
    w: np.ndarray, patterns: np.ndarray, labels: np.ndarray, kappa: float = 0.0
) -> int:
    """Number of patterns with stability ``<= kappa``.

    Compared as ``sigma W . xi <= kappa sqrt(N)`` (exact for integer patterns, the
    same test as the BP kernels' error count).
    """
    w = np.asarray(w, dtype=np.float64)
    fields = np.asarray(labels, dtype=np.float64) * (
        np.asarray(patterns, dtype=np.float64) @ w
    )
    return int(np.count_nonzero(fields <= kappa * np.sqrt(w.shape[-1])))
