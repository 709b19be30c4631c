r"""Local entropy of the densest regions: RS large deviation, ``y -> inf``.

Approximation implemented (stored as ``approximation`` in the results):
``"RS, y->inf, unconstrained reference"``.  The reference (centre) ``W~ in {±1}^N`` is
weighted by ``exp(y N S(W~, d))`` *without* requiring it to be a solution itself
(the centre of the robust ensemble, Baldassi et al. PNAS 113, E7655 (2016),
arXiv:1605.06444); Baldassi et al. PRL 115, 128101 (2015), arXiv:1509.05753, show that
the two choices give nearly identical curves at small ``d``.  Since ``y -> inf``,
``S_LD(d) = lim (1/(N y)) E ln sum_W~ N_d(W~)^y = (1/N) E max_W~ ln N_d(W~)``: the
largest local entropy at distance ``d``.  ``S_LD(d) <= H2(d)`` and
``S_LD >= S_typical`` (Franz–Parisi).

Derivation.  Replicas: ``n -> 0`` references, each with ``y`` constrained replicas.
RS overlaps: references ``q~``; reference–own replicas ``p = 1 - 2d``; reference–other
replicas ``p0``; replicas of the same reference ``q1``, of different references ``q0``.
As ``y -> inf``: ``q~ -> 1``, ``p0 -> p``, ``q0 -> q1`` with ``dq1 = y (q1 - q0)``
finite, ``q1h - q0h = Dh / y``; stationarity in ``y(1 - q~)`` and ``y(p - p0)`` sets the
references' own Gaussian field to zero, so the reference aligns with the sign of the
replicas' shared field ``v`` (``W~ = sign v``).  The result (per ``N y``)::

    S_LD = extr [ -rh p - q0h (1 - q1 + dq1)/2 - Dh q1/2
                  + E_v M(|v| + rh) + alpha G_E ],           v ~ N(0, q0h)

    M(h)  = max_s [ -s^2/2 + ln 2cosh(h + sqrt(Dh) s) ]
    G_E   = int Dz max_s [ -s^2/2 + ln H(c) ],
    c     = (kappa - sqrt(q1) z - sqrt(dq1) s)/sqrt(1-q1)

Saddle-point equations (``m(h) = tanh(h + sqrt(Dh) s*)``, ``c*`` at the inner maximum)::

    p   = E_v m(|v| + rh)                 q1 = E_v m(|v| + rh)^2
    1 - q1 + dq1 = E_z[ m(sqrt(q0h)|z| + rh) |z| ] / sqrt(q0h)
    q0h = alpha/(1 - q1) int Dz [phi(c*)/H(c*)]^2
    Dh  = q0h + 2 alpha dG_E/dq1

At ``alpha = 0`` the solution is ``q0h = Dh = 0``, ``p = tanh rh`` and ``S_LD = H2(d)``.
Left out: the constrained-reference variant, finite ``y``, and RSB (the RS ``y -> inf``
solution is known to become unreliable close to capacity; Baldassi et al. 2015).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from wfm._math import binary_entropy

from ._gauss import half_line_nodes, log_2cosh, log_H, ratio_NH, uniform_nodes
from ._results import LocalEntropyCurve

__all__ = ["ld_binary", "ld_binary_curve", "APPROXIMATION"]

APPROXIMATION = "RS, y->inf, unconstrained reference"


def _bisect(fun, lo, hi, n_iter=64):
    """Vectorised bisection, decreasing ``fun`` with ``fun(lo) >= 0 >= fun(hi)``."""
    for _ in range(n_iter):
        mid = 0.5 * (lo + hi)
        pos = fun(mid) > 0
        lo = np.where(pos, mid, lo)
        hi = np.where(pos, hi, mid)
    return 0.5 * (lo + hi)


def _energetic(q1, dq1, kappa):
    """``(G_E, int Dz [phi(c*)/H(c*)]^2)`` of the ``y -> inf`` energetic term."""
    z, w = uniform_nodes()
    s1 = np.sqrt(1.0 - q1)
    a = (kappa - np.sqrt(q1) * z) / s1
    b = np.sqrt(max(dq1, 0.0)) / s1
    # -s + b R(a - b s) is decreasing in s, positive at 0, <= 0 at b R(a)
    s = _bisect(
        lambda s: b * ratio_NH(a - b * s) - s, np.zeros_like(a), b * ratio_NH(a)
    )
    c = a - b * s
    g_e = float(w @ (-0.5 * s * s + log_H(c)))
    return g_e, float(w @ ratio_NH(c) ** 2)


def _entropic(q0h, dh, rh):
    """``(E M, E m, E m^2, E[m |z|])`` with ``h = sqrt(q0h)|z| + rh``."""
    z, w = half_line_nodes()
    h = np.sqrt(q0h) * z + rh
    sd = np.sqrt(max(dh, 0.0))
    ah = np.abs(h)
    s = _bisect(lambda s: sd * np.tanh(ah + sd * s) - s, np.zeros_like(h), sd + 0 * h)
    m = np.sign(h) * np.tanh(ah + sd * s)
    big_m = -0.5 * s * s + log_2cosh(ah + sd * s)
    return float(w @ big_m), float(w @ m), float(w @ m**2), float(w @ (m * z))


def _functional(p, q1, dq1, q0h, dh, rh, alpha, kappa):
    e_m = _entropic(q0h, dh, rh)[0]
    g_e = _energetic(q1, dq1, kappa)[0]
    return -rh * p - 0.5 * q0h * (1.0 - q1 + dq1) - 0.5 * dh * q1 + e_m + alpha * g_e


def _conjugates(q1, dq1, alpha, kappa, step=1e-6):
    _, r2 = _energetic(q1, dq1, kappa)
    q0h = alpha / (1.0 - q1) * r2
    dg = _energetic(q1 + step, dq1, kappa)[0] - _energetic(q1 - step, dq1, kappa)[0]
    dh = q0h + 2.0 * alpha * dg / (2.0 * step)
    return q0h, dh


def _solve_rh(p, q0h, dh):
    def f(rh):
        return _entropic(q0h, dh, rh)[1] - p

    lo, hi = 0.0, 1.0
    if f(lo) > 0:
        return np.nan
    while f(hi) < 0:
        hi *= 2.0
        if hi > 1e4:
            return np.nan
    return optimize.brentq(f, lo, hi, xtol=1e-14)


def _ld_map(x, p, alpha, kappa):
    q1, dq1 = x
    q0h, dh = _conjugates(q1, dq1, alpha, kappa)
    rh = _solve_rh(p, q0h, dh)
    if not np.isfinite(rh) or q0h <= 0:
        return np.array([np.nan, np.nan]), (q0h, dh, rh)
    _, _, m2, mz = _entropic(q0h, dh, rh)
    dq1_new = mz / np.sqrt(q0h) - (1.0 - m2)
    return np.array([m2, dq1_new]), (q0h, dh, rh)


def ld_binary(distance, alpha, kappa=0.0, guess=None, tol=1e-10, max_iter=400):
    """Solve the ``y -> inf`` saddle point at one distance; returns a dict."""
    p = 1.0 - 2.0 * distance
    x = np.array(guess if guess is not None else (p * p, 1.0), dtype=float)
    damping = 0.5
    residual = np.inf
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007
        new, _ = _ld_map(x, p, alpha, kappa)
        if not np.all(np.isfinite(new)):
            break
        new[0] = min(new[0], 1.0 - 1e-12)
        new[1] = max(new[1], 0.0)
        residual = float(np.max(np.abs(new - x)))
        x = damping * x + (1.0 - damping) * new
        if residual < tol:
            break
    q1, dq1 = x
    q0h, dh, rh = _ld_map(x, p, alpha, kappa)[1]
    value = _functional(p, q1, dq1, q0h, dh, rh, alpha, kappa)
    return {
        "q1": q1,
        "dq1": dq1,
        "q0hat": q0h,
        "dhat": dh,
        "rhat": rh,
        "value": float(value),
        "residual": residual,
        "converged": bool(residual < 1e-8 and np.isfinite(value)),
        "iterations": it,
    }


def ld_binary_curve(alpha, distances, kappa=0.0, progress=False) -> LocalEntropyCurve:
    """Large-deviation (``y -> inf``, RS) local-entropy curve; continuation in ``d``.

    ``progress`` shows a bar over the distances (seconds to tens of seconds each).
    """
    from tqdm.auto import tqdm

    distances = np.asarray(distances, dtype=float)
    n = distances.size
    keys = ("q1", "dq1", "q0hat", "dhat", "rhat", "value", "residual")
    out = {k: np.full(n, np.nan) for k in keys}
    conv = np.zeros(n, dtype=bool)
    guess = None
    # from large d (where the map converges from a generic start) down to small d
    order = np.argsort(distances)[::-1]
    bar = tqdm(
        order, disable=not progress, desc="large deviation", unit="d", leave=False
    )
    for i in bar:
        r = ld_binary(distances[i], alpha, kappa, guess=guess)
        for k in keys:
            out[k][i] = r[k]
        conv[i] = r["converged"]
        if r["converged"]:
            guess = (r["q1"], r["dq1"])
    return LocalEntropyCurve(
        kind="large-deviation",
        model="perceptron-binary",
        alpha=float(alpha),
        kappa=float(kappa),
        approximation=APPROXIMATION,
        distances=distances,
        local_entropy=out["value"],
        order_parameters={k: out[k] for k in keys[:5]},
        converged=conv,
        residual=out["residual"],
        reference={"upper_bound_at_min_d": float(binary_entropy(distances.min()))},
    )
