"""Committee machines with binary weights: plain-numpy reference (science.md §1).

Two architectures with ``K`` hidden units (``K`` odd, so that the vote has no tie):

tree (``fully_connected=False``)
    Unit ``l`` sees the disjoint block ``xi[:, l n:(l+1) n]`` of ``N = K n`` inputs with
    weights ``W[l n:(l+1) n]``; the weights are stored flat, ``(N,)``, or ``(K, n)``.
fully connected (``fully_connected=True``)
    Every unit sees all ``N`` inputs; weights ``(K, N)`` (flattened row-major to ``K N``
    bits, as in :mod:`wfm.kernels.enumerate`).

Hidden fields ``h_l^mu = W_l . xi_l^mu / sqrt(n_in)`` (``n_in = n`` or ``N``), hidden
signs ``tau_l = sign(h_l)`` with ``sign(0) = 0``, output ``sign(sum_l tau_l)`` and a
pattern is learned iff ``sigma^mu sum_l tau_l^mu > 0`` — the convention of
:mod:`wfm.kernels.enumerate`, so a hidden tie (possible only for an even fan-in) never
helps. Signs are taken on the unnormalised integer fields, exact for ±1 patterns.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "hidden_fields",
    "hidden_signs",
    "output",
    "unit_weights",
    "train_errors",
]


def unit_weights(w: np.ndarray, k: int, fully_connected: bool) -> np.ndarray:
    """The weights as a ``(K, n_in)`` float64 array (one row per hidden unit)."""
    w = np.asarray(w, dtype=np.float64)
    return w if (fully_connected and w.ndim == 2) else w.reshape(k, -1)


def _unnormalised_fields(w, patterns, k, fully_connected):
    wk = unit_weights(w, k, fully_connected)
    x = np.asarray(patterns, dtype=np.float64)
    if not fully_connected:
        p = x.shape[0]
        # (P, K, n) . (K, n) -> (P, K)
        return np.einsum("pkn,kn->pk", x.reshape(p, k, -1), wk), wk.shape[1]
    return x @ wk.T, wk.shape[1]


def hidden_fields(w, patterns, k: int, fully_connected: bool = False) -> np.ndarray:
    """``h_l^mu = W_l . xi_l^mu / sqrt(n_in)``, float64 ``(P, K)``."""
    fields, n_in = _unnormalised_fields(w, patterns, k, fully_connected)
    return fields / np.sqrt(n_in)


def hidden_signs(w, patterns, k: int, fully_connected: bool = False) -> np.ndarray:
    """``sign(h_l^mu)`` as int8 ``(P, K)``, ``sign(0) = 0``."""
    fields, _ = _unnormalised_fields(w, patterns, k, fully_connected)
    return np.sign(fields).astype(np.int8)


def output(w, patterns, k: int, fully_connected: bool = False) -> np.ndarray:
    """``sign(sum_l sign(h_l))`` as int8 (``0`` only after hidden ties)."""
    return np.sign(hidden_signs(w, patterns, k, fully_connected).sum(axis=1)).astype(
        np.int8
    )


def train_errors(w, patterns, labels, k: int, fully_connected: bool = False) -> int:
    """Number of patterns with ``sigma^mu sum_l sign(h_l^mu) <= 0``."""
    votes = hidden_signs(w, patterns, k, fully_connected).sum(axis=1).astype(np.int64)
    return int(np.count_nonzero(np.asarray(labels, dtype=np.int64) * votes <= 0))
