r"""Local entropy around *typical* solutions of the SPHERICAL perceptron (RS FP).

Storage problem, ``|W|^2 = N``, margin ``kappa``; reference ``W~`` drawn uniformly
from the solution space.  Convention (log of a volume *fraction*, as for the spherical
Gardner entropy in :mod:`wfm.theory.gardner`)::

    S(q) = (1/N) E ln [ vol{W on the sphere, solution, W . W~/N = q} / vol(sphere) ]

reported against the overlap ``q`` and against ``d = (1 - q)/2`` (as the binary
curves).  The density of the overlap of a uniform point of the sphere with a fixed one
is ``prop. (1 - q^2)^{(N-3)/2}``, so the unconstrained bound (every point at overlap
``q``) is ``S_0(q) = (1/2) ln(1 - q^2)``; ``S(q) <= min(S_0(q), s(alpha))``, with
equality to the Gardner entropy ``s(alpha)`` at the typical overlap ``q = Q``.

Derivation (same replicas as :mod:`wfm.theory.franz_parisi`: ``s -> 0`` references with
mutual overlap ``Q``, ``n -> 0`` constrained replicas at overlap ``p`` with reference 1,
``q1`` among themselves and ``p0`` with the other references).  On the sphere the
entropic term is the log-volume of vectors with a given Gram matrix ``M``, ``(1/2) ln
det M`` per weight (fraction convention: ``0`` for ``M = 1``).  With ``M`` = [[A, B],
[B^T, C]], ``A = (1-Q) 1 + Q 11^T`` (``s x s``), ``C = (1-q1) 1 + q1 11^T``
(``n x n``), ``B = u 1^T``, ``u = (p, p0, ..., p0)``, the Schur complement gives
``ln det M = ln det A + (n-1) ln(1-q1) + ln(1 - q1 + n (q1 - c))``,
``c = u^T A^{-1} u``; ``d/dn`` at ``n = 0``, then ``s -> 0``::

    S(p) = extr_{q1, p0} [ (1/2) ln(1 - q1) + (q1 - c)/(2 (1 - q1)) + alpha G_E ]
    c    = (p - p0) (p (1 - 2Q) + p0) / (1 - Q)^2

``G_E(q1, p, Q, p0)`` is the energetic term of the binary calculation (it only sees the
Gaussian stabilities): stabilities of the constrained replicas given the reference's
stability, itself conditioned on the reference being a solution (see
:mod:`wfm.theory.franz_parisi`).  Saddle-point equations (``R = phi/H``)::

    (q1 - c)/(1 - q1) = alpha < R(c')^2 >_E          (= -2 alpha (1-q1) dG_E/dq1)
    (p0 - Q p)/((1 - q1)(1 - Q)^2) = -alpha dG_E/dp0

No conjugate parameters survive (they are eliminated in closed form by the Gaussian
entropic term).  Checks: at ``p = Q`` the solution is ``q1 = p0 = Q`` and
``S = s(alpha)`` (the ``q1`` equation is the Gardner one,
``Q/(1-Q) = alpha int Dz R^2``);
``alpha -> 0`` (so ``Q -> 0``): ``p0 = Q p``, ``c = p^2``, ``q1 = p^2`` and ``S = (1/2)
ln(1 - p^2)``, the bound.  RS is exact here (convex solution space), and the reference
overlap ``Q`` is the spherical Gardner ``q``.

``q -> 1``: typical solutions of the spherical perceptron are not isolated (they lie
inside a convex body of positive volume fraction); the energetic cost vanishes like
``sqrt(1 - q)`` (finite density of reference stabilities at the threshold) while the
bound goes like ``(1/2) ln(2 (1 - q))``, so ``S(q) - S_0(q) -> 0``.  Measured
(kappa = 0): ``S_0 - S = 0.0344, 0.0109`` at ``1 - q = 1e-2, 1e-3`` (alpha = 0.5) and
``0.0985, 0.0313`` (alpha = 1), i.e. ``~ C(alpha) sqrt(1 - q)``, ``C ~ 0.34, 0.99``.

Solver: unknowns ``(sigma, p0)``, ``q1 = p0^2/Q + (p - p0)^2/(1 - Q) + sigma^2``;
residuals scaled by ``(1 - q1)`` (bounded as ``q1 -> 1``); Newton–Broyden with
continuation in ``p`` from the exact point ``p = Q``.
"""

from __future__ import annotations

import numpy as np

from ._results import LocalEntropyCurve
from .franz_parisi import _energetic, _energetic_all, _newton_broyden, _q1_min
from .gardner import gardner_spherical

__all__ = [
    "fp_spherical_functional",
    "fp_spherical",
    "fp_spherical_curve",
    "spherical_overlap_bound",
]

APPROXIMATION = "RS (Franz-Parisi, reference from the Gardner measure; exact, convex)"


def spherical_overlap_bound(q):
    """``(1/2) ln(1 - q^2)``: log-fraction of the sphere at overlap ``q``."""
    q = np.asarray(q, dtype=float)
    with np.errstate(divide="ignore"):
        return 0.5 * np.log1p(-q * q)


def _c(p, p0, Q):
    return (p - p0) * (p * (1.0 - 2.0 * Q) + p0) / (1.0 - Q) ** 2


def _entropic_sph(q1, p, p0, Q):
    return 0.5 * np.log1p(-q1) + 0.5 * (q1 - _c(p, p0, Q)) / (1.0 - q1)


def fp_spherical_functional(p, q1, p0, alpha, Q, kappa=0.0):
    """The RS Franz–Parisi functional of the sphere (module docstring), before extr."""
    return _entropic_sph(q1, p, p0, Q) + alpha * _energetic(q1, p, Q, kappa, p0)[0]


def _map(p, sig, p0, alpha, kappa, Q):
    q1 = _q1_min(p, Q, p0) + sig * sig
    if not q1 < 1.0:
        return np.full(2, np.nan), None
    g_e, r2q, dge = _energetic_all(q1, p, Q, kappa, p0)
    if not np.isfinite(g_e):
        return np.full(2, np.nan), None
    s1 = 1.0 - q1
    res = np.array(
        [
            q1 - _c(p, p0, Q) - alpha * s1 * s1 * r2q,
            (p0 - Q * p) / (1.0 - Q) ** 2 + alpha * s1 * dge,
        ]
    )
    value = _entropic_sph(q1, p, p0, Q) + alpha * g_e
    return res, (q1, float(value))


def _solve(p, alpha, kappa, Q, guess, jac=None, tol=1e-11):
    def fun(x):
        return _map(p, x[0], x[1], alpha, kappa, Q)[0]

    x, _, jac, n_eval = _newton_broyden(fun, np.asarray(guess, float), jac=jac, tol=tol)
    res, extra = _map(p, x[0], x[1], alpha, kappa, Q)
    if extra is None:
        nan = float("nan")
        out = {"q1": nan, "p0": nan, "value": nan, "residual": float("inf")}
    else:
        q1, value = extra
        out = {"q1": q1, "p0": float(x[1]), "value": value}
        out["residual"] = float(np.max(np.abs(res)))
    out["converged"] = bool(out["residual"] < 1e-8)
    out["evaluations"] = n_eval
    return out, x, jac


def _path(overlaps, Q, step=0.05, ratio=0.7):
    """Continuation paths from ``Q``: linear steps towards 0, geometric in 1-p to 1."""
    paths = []
    below = overlaps[overlaps < Q]
    above = overlaps[overlaps >= Q]
    if below.size:
        grid = np.arange(Q - step, below.min(), -step)
        paths.append(np.unique(np.concatenate([grid, below]))[::-1])
    if above.size:
        g = 1.0 - (1.0 - Q) * ratio ** np.arange(1, 200)
        g = g[(g > Q + 0.01) & (g < above.max())]
        paths.append(np.unique(np.concatenate([g, above])))
    return paths


def _follow(alpha, overlaps, kappa, Q):
    solved = {}
    for path in _path(np.unique(overlaps), Q):
        hist = [(Q, np.array([0.0, Q]))]
        jac = None
        for p in path:
            if len(hist) >= 2:
                (pa, ya), (pb, yb) = hist[-2], hist[-1]
                y = yb + (yb - ya) * (p - pb) / (pb - pa)
            else:
                y = np.array([0.5 * abs(p - Q), Q])
            r, x, jac_new = _solve(p, alpha, kappa, Q, y, jac)
            for shrink in (1.0, 0.3, 3.0, 0.1):
                if r["converged"]:
                    break
                y2 = np.array([shrink * max(abs(y[0]), 1e-3), y[1]])
                r, x, jac_new = _solve(p, alpha, kappa, Q, y2)
            solved[p] = r
            if r["converged"]:
                hist.append((p, np.array([abs(x[0]), x[1]])))
                jac = jac_new
    return solved


def fp_spherical(overlap, alpha, kappa=0.0):
    """Spherical Franz–Parisi saddle point at one overlap (continuation from ``Q``)."""
    Q = gardner_spherical(alpha, kappa).q
    return _follow(alpha, np.array([overlap]), kappa, Q)[float(overlap)]


def fp_spherical_curve(alpha, distances, kappa=0.0) -> LocalEntropyCurve:
    """Spherical Franz–Parisi curve at ``d = (1 - q)/2`` (continuation from ``Q``)."""
    distances = np.asarray(distances, dtype=float)
    g = gardner_spherical(alpha, kappa)
    Q = g.q
    overlaps = 1.0 - 2.0 * distances
    solved = _follow(alpha, overlaps, kappa, Q)
    rows = [solved[p] for p in overlaps]
    return LocalEntropyCurve(
        kind="typical",
        model="perceptron-spherical",
        alpha=float(alpha),
        kappa=float(kappa),
        approximation=APPROXIMATION,
        distances=distances,
        local_entropy=np.array([r["value"] for r in rows]),
        order_parameters={
            "overlap": overlaps,
            "q1": np.array([r["q1"] for r in rows]),
            "p0": np.array([r["p0"] for r in rows]),
        },
        converged=np.array([r["converged"] for r in rows], dtype=bool),
        residual=np.array([r["residual"] for r in rows]),
        reference={
            "q": Q,
            "gardner_entropy": g.value,
            "d_star": 0.5 * (1.0 - Q),
        },
    )
