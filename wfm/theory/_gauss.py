"""Gaussian measures, quadratures and log-space Gaussian tails for the replica theory.

Everything here is private to :mod:`wfm.theory`. Conventions:

* ``Dz`` is the standard Gaussian measure, ``phi(z) = exp(-z^2/2)/sqrt(2 pi)``.
* ``H(x) = int_x^inf Dz = erfc(x/sqrt 2)/2``; ``log_H(x) = log_ndtr(-x)`` never
  underflows (needed close to capacity, where the arguments of ``H`` are large).
* ``ratio_NH(x) = phi(x)/H(x)`` is the derivative ``-d ln H/dx``, computed in log space.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.special import log_ndtr

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


def log_H(x):
    """``ln H(x)`` with ``H(x) = erfc(x/sqrt(2))/2``, stable for any real ``x``."""
    return log_ndtr(-np.asarray(x, dtype=float))


def ratio_NH(x):
    """``phi(x)/H(x) = -d ln H(x)/dx`` in log space (``~ x`` for large ``x``)."""
    x = np.asarray(x, dtype=float)
    return np.exp(-0.5 * x * x - _LOG_SQRT_2PI - log_ndtr(-x))


def log_2cosh(x):
    """``ln 2cosh(x)`` without overflow."""
    ax = np.abs(np.asarray(x, dtype=float))
    return ax + np.log1p(np.exp(-2.0 * ax))


@lru_cache(maxsize=16)
def hermite_nodes(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Hermite nodes/weights for the measure ``Dz`` (weights sum to one)."""
    z, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / w.sum()
    return z, w


@lru_cache(maxsize=16)
def uniform_nodes(n: int = 4001, half_width: float = 10.0):
    """Composite Simpson rule for ``Dz`` on ``[-L, L]`` (weights sum to one).

    A fine uniform grid resolves integrands with sharp features (width down to a few
    grid spacings, e.g. ``H((k - sqrt(q) z)/sqrt(1-q))`` with ``1-q ~ 1e-4``), where
    Gauss–Hermite with a few hundred nodes would be too coarse.
    """
    if n % 2 == 0:
        n += 1
    z = np.linspace(-half_width, half_width, n)
    h = z[1] - z[0]
    c = np.ones(n)
    c[1:-1:2] = 4.0
    c[2:-1:2] = 2.0
    w = c * h / 3.0 * np.exp(-0.5 * z * z - _LOG_SQRT_2PI)
    w = w / w.sum()
    return z, w


@lru_cache(maxsize=16)
def half_line_nodes(n: int = 2001, width: float = 10.0):
    """Simpson rule for ``E f(|z|)``, ``z ~ N(0,1)``: nodes on ``[0, L]``, sum 1."""
    if n % 2 == 0:
        n += 1
    z = np.linspace(0.0, width, n)
    h = z[1] - z[0]
    c = np.ones(n)
    c[1:-1:2] = 4.0
    c[2:-1:2] = 2.0
    w = c * h / 3.0 * 2.0 * np.exp(-0.5 * z * z - _LOG_SQRT_2PI)
    w = w / w.sum()
    return z, w


@lru_cache(maxsize=16)
def legendre_nodes(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes/weights on ``[0, 1]``."""
    x, w = np.polynomial.legendre.leggauss(n)
    return 0.5 * (x + 1.0), 0.5 * w


def graded_panels(length, n_panels: int = 14, n_per_panel: int = 6, ratio=1e-4):
    """Nodes/weights on ``[0, length]`` (``length`` an array) with geometric panels.

    Panels are ``[0, r L], [r L, r^(1-1/K) L], ..., [., L]``: dense near 0, where the
    integrands of the Franz–Parisi energetic term vary on the scale ``sqrt(1 - q1)``.
    Returns arrays of shape ``length.shape + (n_panels * n_per_panel,)``.
    """
    length = np.asarray(length, dtype=float)
    edges = np.concatenate(([0.0], np.geomspace(ratio, 1.0, n_panels)))
    x, w = legendre_nodes(n_per_panel)
    widths = np.diff(edges)
    nodes = (edges[:-1, None] + widths[:, None] * x[None, :]).ravel()
    weights = (widths[:, None] * w[None, :]).ravel()
    return length[..., None] * nodes, length[..., None] * weights


def sinh_nodes(center: float, scale: float, n: int = 241, half_width: float = 12.0):
    """Trapezoidal rule for ``Dz`` in the variable ``u``, ``z = center + scale sinh u``.

    Nodes crowd around ``center`` with spacing ``~ scale * h`` and thin out
    exponentially away from it, up to ``|z| = half_width``; for integrands that are
    analytic in ``z`` the trapezoidal rule in ``u`` converges exponentially in ``n``.
    Resolves features of width ``scale`` (e.g. ``H((k - sqrt(q) z)/sqrt(1 - q))``
    with ``1 - q ~ 1e-3``) with a few hundred nodes.  The nodes move continuously
    with ``center`` and ``scale`` (no jumps when a solver varies them).
    Returns ``(z, w)``; ``w`` includes the Gaussian density (``sum w ~ 1``).
    """
    u_lo = -np.arcsinh((half_width + center) / scale)
    u_hi = np.arcsinh((half_width - center) / scale)
    u = np.linspace(u_lo, u_hi, n)
    h = u[1] - u[0]
    z = center + scale * np.sinh(u)
    w = h * scale * np.cosh(u) * np.exp(-0.5 * z * z - _LOG_SQRT_2PI)
    w[0] *= 0.5
    w[-1] *= 0.5
    return z, w


@lru_cache(maxsize=8)
def half_line_legendre(n_panels: int = 8, n_per_panel: int = 12, width: float = 11.0):
    """Gauss–Legendre panels for ``E f(|z|)``, ``z ~ N(0,1)``: nodes on ``[0, L]``.

    Weights include the half-normal density ``2 phi(z)`` and sum to one.
    """
    edges = np.linspace(0.0, width, n_panels + 1)
    x, w = legendre_nodes(n_per_panel)
    widths = np.diff(edges)
    z = (edges[:-1, None] + widths[:, None] * x[None, :]).ravel()
    wz = (widths[:, None] * w[None, :]).ravel()
    wz = wz * 2.0 * np.exp(-0.5 * z * z - _LOG_SQRT_2PI)
    return z, wz / wz.sum()
