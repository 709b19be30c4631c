r"""Local entropy around *typical* solutions: the RS Franz–Parisi potential.

For the binary perceptron (storage, margin ``kappa``) and a reference ``W~`` drawn from
the flat measure on solutions,

    S(d) = (1/N) E_xi E_W~ ln #{ W solution : W . W~ = p N },   p = 1 - 2 d.

References: S. Franz & G. Parisi, J. Phys. I 5, 1401 (1995); H. Huang, K. Y. M. Wong &
Y. Kabashima, J. Phys. A 46, 375002 (2013); H. Huang & Y. Kabashima, PRE 90, 052813
(2014), arXiv:1408.1784; C. Baldassi et al., PRL 115, 128101 (2015) (``y = 0`` of their
ensemble); C. Baldassi, F. Pittorino & R. Zecchina, PNAS 117, 161 (2020).

Derivation (replicas: ``s -> 0`` references ``W~^a`` carrying the Gardner measure, and
``n -> 0`` constrained replicas ``W^b`` attached to reference 1).  RS overlaps::

    W~^a . W~^a' = Q      (a != a')          conjugate Qh   (Gardner saddle point)
    W~^1 . W^b   = p      (fixed, = 1 - 2d)  conjugate ph
    W^b  . W^b'  = q1                        conjugate q1h
    W~^a . W^b   = p0     (a != 1)           conjugate p0h

``p0`` and ``p0h`` are genuine order parameters: the constrained ``W`` is *not*
marginally an equilibrium solution (its law is tilted by its own number of neighbours at
distance ``d``), and indeed the solution has ``p0 != Q`` away from ``d*``.  Taking
``d/dn`` at ``n = 0``, ``s = 0``::

    S = extr_{q1, q1h, ph, p0, p0h} [ -ph p - q1h (1 - q1)/2 + p0h p0
                                      + G_S + alpha G_E ]

    G_S = int Dz0 sum_{W~=±1} e^{sqrt(Qh) z0 W~}/(2 cosh sqrt(Qh) z0)
              int Dt ln 2cosh(h),
    h   = (p0h/sqrt Qh) z0 + sqrt(q1h - p0h^2/Qh) t + (ph - p0h) W~

    G_E = int Dz0 E_x[ int Dv ln H((kappa - m - sigma v)/sqrt(1 - q1))
                       | x > kappa - sqrt(Q) z0 ]

where ``x ~ N(0, 1 - Q)`` is the reference's stability (minus its shared part
``sqrt(Q) z0``), conditioned on the reference being a solution, and
``m = (p0/sqrt Q) z0 + (p - p0) x/(1 - Q)``,
``sigma^2 = q1 - p0^2/Q - (p - p0)^2/(1 - Q)`` are the conditional mean and variance of
the constrained replicas' common stability.  Saddle-point equations (``h`` the field in
``G_S``, expectations over the same measures; the ``q1`` derivative of ``G_E`` follows
from the heat equation obeyed by ``H((kappa - mu)/sqrt(eps))``)::

    q1  = < tanh^2 h >_S
    p   = < W~ tanh h >_S
    q1h = alpha/(1 - q1) < [phi(c)/H(c)]^2 >_E,   c = (kappa - m - sigma v)/sqrt(1-q1)
    p0  = -dG_S/dp0h,        p0h = -alpha dG_E/dp0

At ``p = Q`` (the typical distance ``d* = (1 - Q)/2``) the solution is
``q1 = p0 = Q``, ``ph = q1h = p0h = Qh`` and ``S(d*)`` equals the Gardner entropy;
at ``alpha -> 0``, ``S(d) -> H2(d)``.  For the binary perceptron ``S(d) < 0`` on an
interval ``0 < d < d_0(alpha)`` at every ``alpha > 0``
(typical solutions are isolated; Huang & Kabashima 2014).

Numerics: ``z0`` and ``v`` by Gauss–Hermite, ``t`` by a fine Simpson grid, and the
truncated-Gaussian ``x`` by geometrically graded Gauss–Legendre panels from the
threshold (self-normalised: deep tails of ``z0`` are handled in log space).  The saddle
point is solved by damped Newton (central-difference Jacobian) in
``(q1, ph, p0, p0h)``, by
continuation in geometric steps from the exact solution at ``d*`` outwards.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from ._gauss import (
    graded_panels,
    hermite_nodes,
    log_2cosh,
    log_H,
    ratio_NH,
    uniform_nodes,
)
from ._results import LocalEntropyCurve
from .gardner import gardner_binary

__all__ = ["fp_functional", "fp_binary", "fp_binary_curve", "fp_positive_distance"]

_N_Z0 = 64
_N_V = 40
_N_T = 1201


def _entropic(q1h, ph, Q, Qh, p0h=None, clip=False):
    """Entropic term: ``(G_S, <tanh^2 h>, <W~ tanh h>, dG_S/dp0h)``.

    ``clip=True`` continues the terms to ``q1h < p0h^2/Qh`` by setting the variance
    of ``t`` to zero (for the solver's trial points; never at a solution).
    """
    if p0h is None:
        p0h = Qh
    z0, wz = hermite_nodes(_N_Z0)
    t, wt = uniform_nodes(_N_T, 10.0)
    sqh = np.sqrt(Qh)
    var_t = q1h - p0h**2 / Qh
    if var_t < 0 and not clip:
        return np.nan, np.nan, np.nan, np.nan
    var_t = max(var_t, 0.0)
    # gauge W~ = +1: weight e^{sqrt(Qh) z0}/(2 cosh) for both signs -> (1 + tanh)
    wref = wz * (1.0 + np.tanh(sqh * z0))
    h = ((p0h / sqh) * z0 + (ph - p0h))[:, None] + np.sqrt(var_t) * t[None, :]
    th = np.tanh(h)
    g_s = wref @ (log_2cosh(h) @ wt)
    tanh2 = wref @ ((th * th) @ wt)
    mtanh = wref @ (th @ wt)
    # dh/dp0h = z0/sqrt(Qh) - (p0h/Qh) t/sqrt(var_t) - W~; Stein's lemma on t
    ztanh = (wref * z0) @ (th @ wt)
    dg_dp0h = ztanh / sqh - (p0h / Qh) * (1.0 - tanh2) - mtanh
    return g_s, tanh2, mtanh, dg_dp0h


def _reference_stability_nodes(z0, Q, kappa):
    """Quadrature of the reference's stability given that it is a solution.

    For each ``z0`` the cavity part ``x ~ N(0, 1 - Q)`` is truncated at the threshold
    ``x0 = kappa - sqrt(Q) z0`` (the reference satisfies the pattern); graded panels
    from the threshold resolve the Gaussian tail. Returns nodes ``x`` (n_z0, n_x) and
    weights ``wx`` normalised per ``z0``.
    """
    sx = np.sqrt(1.0 - Q)
    x0 = kappa - np.sqrt(Q) * z0
    length = np.where(
        x0 > 0,
        np.minimum(40.0 * sx**2 / np.maximum(x0, 1e-300), 10.0 * sx),
        -x0 + 10.0 * sx,
    )
    e, we = graded_panels(length)
    x = x0[:, None] + e
    logw = np.log(we) - 0.5 * (x / sx) ** 2
    logw -= logw.max(axis=1, keepdims=True)
    wx = np.exp(logw)
    wx /= wx.sum(axis=1, keepdims=True)
    return x, wx


def _energetic(q1, p, Q, kappa, p0=None):
    """Energetic term: ``(G_E, <[phi(c)/H(c)]^2>_E)``."""
    if p0 is None:
        p0 = Q
    sig2 = q1 - p0**2 / Q - (p - p0) ** 2 / (1.0 - Q)
    if sig2 < -1e-5 or q1 >= 1.0:  # tolerance: finite differences at sigma = 0
        return np.nan, np.nan
    sig = np.sqrt(max(sig2, 0.0))
    z0, wz = hermite_nodes(_N_Z0)
    v, wv = hermite_nodes(_N_V)
    x, wx = _reference_stability_nodes(z0, Q, kappa)
    m = (p0 / np.sqrt(Q)) * z0[:, None] + (p - p0) / (1.0 - Q) * x
    c = (kappa - m[..., None] - sig * v) / np.sqrt(1.0 - q1)
    inner_lh = log_H(c) @ wv
    inner_r2 = ratio_NH(c) ** 2 @ wv
    g_e = wz @ np.sum(wx * inner_lh, axis=1)
    r2 = wz @ np.sum(wx * inner_r2, axis=1)
    return g_e, r2


def _energetic_all(q1, p, Q, kappa, p0):
    """One pass over the energetic measure: ``(G_E, q1h, dG_E/dp0)`` (q1h w/o alpha).

    ``dG_E/dp0`` analytically: ``d ln H(c)/dp0 = R(c) (dm/dp0 + v dsigma/dp0)/s``
    with ``R = phi/H``, ``s = sqrt(1 - q1)``; the ``v`` term by Stein's lemma,
    ``E_v[v R(c)] = -(sigma/s) E_v[R'(c)]``, ``R' = R (R - c)``, so that only
    ``sigma dsigma/dp0 = -p0/Q + (p - p0)/(1 - Q)`` appears (no ``1/sigma``).
    Returns ``nan``s outside the domain (``sigma^2 < 0`` or ``q1 >= 1``).
    """
    sig2 = q1 - p0**2 / Q - (p - p0) ** 2 / (1.0 - Q)
    if not (sig2 >= -1e-12 and q1 < 1.0):
        return np.nan, np.nan, np.nan
    sig = np.sqrt(max(sig2, 0.0))
    z0, wz = hermite_nodes(_N_Z0)
    v, wv = hermite_nodes(_N_V)
    s1 = np.sqrt(1.0 - q1)
    x, wx = _reference_stability_nodes(z0, Q, kappa)
    w2 = wz[:, None] * wx  # joint weight of (z0, x)
    m = (p0 / np.sqrt(Q)) * z0[:, None] + (p - p0) / (1.0 - Q) * x
    c = (kappa - m[..., None] - sig * v) / s1
    lh = log_H(c)
    r = ratio_NH(c)
    g_e = np.sum(w2 * (lh @ wv))
    r1 = r @ wv
    r2 = np.sum(w2 * ((r * r) @ wv))
    rprime = np.sum(w2 * ((r * (r - c)) @ wv))
    dm = z0[:, None] / np.sqrt(Q) - x / (1.0 - Q)
    sds = -p0 / Q + (p - p0) / (1.0 - Q)
    dg_dp0 = np.sum(w2 * r1 * dm) / s1 - sds / (1.0 - q1) * rprime
    return float(g_e), float(r2 / (1.0 - q1)), float(dg_dp0)


def _energetic_dp0(q1, p, Q, kappa, p0):
    """``dG_E/dp0`` (analytic, see :func:`_energetic_all`)."""
    return _energetic_all(q1, p, Q, kappa, p0)[2]


def fp_functional(p, q1, q1h, ph, alpha, Q, Qh, kappa=0.0, p0=None, p0h=None):
    """The RS Franz–Parisi functional (module docstring) before extremisation."""
    p0 = Q if p0 is None else p0
    p0h = Qh if p0h is None else p0h
    g_s = _entropic(q1h, ph, Q, Qh, p0h)[0]
    g_e = _energetic(q1, p, Q, kappa, p0)[0]
    return -ph * p - 0.5 * q1h * (1.0 - q1) + p0h * p0 + g_s + alpha * g_e


def _q1_min(p, Q, p0=None):
    p0 = Q if p0 is None else p0
    return p0**2 / Q + (p - p0) ** 2 / (1.0 - Q)


def _fp_map(p, sig2, p0, ph, alpha, kappa, Q, Qh):
    """Saddle-point map at fixed ``p``; unknowns ``(sigma^2, p0, ph)``.

    The energetic side gives the conjugates of the overlaps,
    ``q1h = alpha <R^2>/(1-q1)`` and ``p0h = -alpha dG_E/dp0`` (both analytic);
    the entropic side gives back ``(q1, p, p0)``.  Returns the residuals
    ``(<tanh^2 h> - q1, <W~ tanh h> - p, -dG_S/dp0h - p0)`` and the point.
    """
    q1 = _q1_min(p, Q, p0) + sig2
    g_e, r2, dge = _energetic_all(q1, p, Q, kappa, p0)
    q1h = alpha * r2
    p0h = -alpha * dge
    if not np.isfinite(q1h):
        return np.full(3, np.nan), None
    g_s, tanh2, mtanh, dgs = _entropic(q1h, ph, Q, Qh, p0h, clip=True)
    res = np.array([tanh2 - q1, mtanh - p, -dgs - p0])
    value = -ph * p - 0.5 * q1h * (1.0 - q1) + p0h * p0 + g_s + alpha * g_e
    point = {"q1": q1, "q1hat": q1h, "phat": ph, "p0": p0, "p0hat": p0h}
    return res, (point, float(value))


def _jacobian(fun, x, f, scale):
    jac = np.empty((f.size, x.size))
    for j in range(x.size):
        h = 1e-6 * scale[j]
        e = np.zeros_like(x)
        e[j] = h
        jac[:, j] = (fun(x + e) - f) / h
    return jac


def _newton_broyden(
    fun, x0, jac=None, scale=None, tol=1e-10, max_iter=30, positive=None
):
    """Newton with forward-difference Jacobian, Broyden updates, backtracking.

    ``jac`` (from the previous continuation point) is reused when given; it is
    recomputed by finite differences whenever a step fails to reduce the residual.
    ``positive`` indexes an unknown kept strictly positive (fraction-to-boundary).
    Returns ``(x, f, jac, n_evaluations)``.
    """
    x = np.asarray(x0, dtype=float).copy()
    scale = np.ones_like(x) if scale is None else scale
    f = fun(x)
    n_eval = 1
    if not np.all(np.isfinite(f)):
        return x, f, None, n_eval
    fresh = False
    if jac is None:
        jac = _jacobian(fun, x, f, scale)
        n_eval += x.size
        fresh = True
    for _ in range(max_iter):
        norm = np.max(np.abs(f))
        if norm < tol:
            break
        dx = np.linalg.lstsq(jac, -f, rcond=None)[0]
        lam = 1.0
        if positive is not None and dx[positive] < -0.9 * x[positive]:
            lam = -0.9 * x[positive] / dx[positive]  # stay inside x[positive] > 0
        ok = False
        while lam > 1e-3:
            x_new = x + lam * dx
            f_new = fun(x_new)
            n_eval += 1
            if np.all(np.isfinite(f_new)) and np.max(np.abs(f_new)) < norm:
                ok = True
                break
            lam *= 0.25
        if not ok:
            if fresh:
                break
            jac = _jacobian(fun, x, f, scale)
            n_eval += x.size
            fresh = True
            continue
        s = x_new - x
        jac = jac + np.outer(f_new - f - jac @ s, s) / (s @ s)  # Broyden update
        fresh = False
        x, f = x_new, f_new
    return x, f, jac, n_eval


def _solve_point(p, alpha, kappa, Q, Qh, guess, jac=None, tol=1e-10):
    """Solve the Franz–Parisi saddle point at overlap ``p``.

    ``guess = (sigma^2, p0, ph)``; returns ``(result dict, unknowns, jacobian)``,
    the unknowns being ``(sigma^2, p0, ph)``.
    """

    # unknown sigma (the map is even in it): no positivity constraint to enforce,
    # and the map is close to linear in sigma (sigma ~ |d - d*| near d*)
    def fun(x):
        return _fp_map(p, x[0] ** 2, x[1], x[2], alpha, kappa, Q, Qh)[0]

    x0 = np.asarray(guess, dtype=float).copy()
    x0[0] = np.sqrt(max(x0[0], 1e-12))
    x, _, jac, n_eval = _newton_broyden(fun, x0, jac=jac, tol=tol)
    x[0] = x[0] ** 2
    res, extra = _fp_map(p, x[0], x[1], x[2], alpha, kappa, Q, Qh)
    if extra is None:
        nan = float("nan")
        point = dict.fromkeys(("q1", "q1hat", "phat", "p0", "p0hat"), nan)
        value, residual = nan, float("inf")
    else:
        point, value = extra
        residual = float(np.max(np.abs(res)))
    out = {k: float(v) for k, v in point.items()}
    out.update(
        value=value,
        residual=residual,
        converged=bool(residual < 1e-8),
        evaluations=n_eval,
    )
    return out, x, jac


def fp_binary(distance, alpha, kappa=0.0, gardner=None, guess=None):
    """Franz–Parisi local entropy at a single distance (continuation from ``d*``).

    ``guess = (sigma^2, p0, ph)`` starts Newton directly; without it the curve is
    followed from the typical distance ``d*`` (cold starts far from ``d*`` fail).
    """
    g = gardner_binary(alpha, kappa) if gardner is None else gardner
    if guess is not None:
        p = 1.0 - 2.0 * distance
        return _solve_point(p, alpha, kappa, g.q, g.qhat, guess)[0]
    return _follow(alpha, np.array([distance]), kappa, g)[distance]


def _path(distances, d_star, ratio=0.8, step_above=0.04):
    """Continuation path from ``d*``: geometric steps below, linear above."""
    below = distances[distances < d_star]
    above = distances[distances >= d_star]
    paths = []
    if below.size:
        n = int(np.ceil(np.log(below.min() / d_star) / np.log(ratio)))
        grid = d_star * np.concatenate(([0.98, 0.94], ratio ** np.arange(1, n + 1)))
        grid = grid[grid > below.min()]
        paths.append(np.unique(np.concatenate([grid, below]))[::-1])
    if above.size:
        grid = np.arange(d_star + step_above, above.max(), step_above)
        paths.append(np.unique(np.concatenate([grid, above])))
    return paths


def _follow(alpha, distances, kappa, g):
    """Solve at every distance by continuation from the exact point at ``d*``.

    Predictor: linear extrapolation of ``(sigma, p0, ph)`` in ``d`` from the
    last two solutions; corrector: Newton–Broyden, the Jacobian carried along.
    """
    Q, Qh = g.q, g.qhat
    d_star = 0.5 * (1.0 - Q)
    solved = {}
    for path in _path(np.unique(distances), d_star):
        # sigma ~ |d - d*| close to d* (sigma = 0 at d*): extrapolate sigma, not
        # sigma^2; the first step uses that slope (measured ~1 at alpha = 0.3-0.7)
        hist = [(d_star, np.array([0.0, Q, Qh]))]
        jac = None
        for d in path:
            if len(hist) >= 2:
                (da, ya), (db, yb) = hist[-2], hist[-1]
                y = yb + (yb - ya) * (d - db) / (db - da)
            else:
                y = np.array([abs(d - d_star), Q, Qh])
            guess = np.array([max(y[0], 1e-6) ** 2, y[1], y[2]])
            r, x, jac_new = _solve_point(1.0 - 2.0 * d, alpha, kappa, Q, Qh, guess, jac)
            # fallbacks: fresh Jacobian, smaller sigma (sigma -> 0 as alpha -> 0)
            for shrink in (1.0, 0.3, 0.1, 0.03):
                if r["converged"]:
                    break
                guess[0] = (shrink * max(y[0], abs(d - d_star))) ** 2
                r, x, jac_new = _solve_point(1.0 - 2.0 * d, alpha, kappa, Q, Qh, guess)
            solved[d] = r
            if r["converged"]:
                hist.append((d, np.array([np.sqrt(x[0]), x[1], x[2]])))
                jac = jac_new
    return solved


def fp_binary_curve(alpha, distances, kappa=0.0) -> LocalEntropyCurve:
    """Franz–Parisi curve at the given distances (continuation from ``d*``)."""
    distances = np.asarray(distances, dtype=float)
    g = gardner_binary(alpha, kappa)
    Q, Qh = g.q, g.qhat
    d_star = 0.5 * (1.0 - Q)
    solved = _follow(alpha, distances, kappa, g)
    params = ("q1", "q1hat", "phat", "p0", "p0hat")
    rows = [solved[d] for d in distances]
    return LocalEntropyCurve(
        kind="typical",
        model="perceptron-binary",
        alpha=float(alpha),
        kappa=float(kappa),
        approximation="RS (Franz-Parisi, reference from the Gardner measure)",
        distances=distances,
        local_entropy=np.array([r["value"] for r in rows]),
        order_parameters={k: np.array([r[k] for r in rows]) for k in params},
        converged=np.array([r["converged"] for r in rows], dtype=bool),
        residual=np.array([r["residual"] for r in rows]),
        reference={"q": Q, "qhat": Qh, "gardner_entropy": g.value, "d_star": d_star},
    )


def fp_positive_distance(alpha, kappa=0.0, d_lo=2e-4, xtol=1e-7) -> float:
    """Smallest ``d`` above which the typical Franz–Parisi curve becomes positive.

    Follows the curve from ``d*`` down to ``d_lo`` and refines the sign change with
    Brent's method (Newton started from the bracketing solution).
    """
    g = gardner_binary(alpha, kappa)
    d_star = 0.5 * (1.0 - g.q)
    grid = d_star * 0.8 ** np.arange(1, int(np.log(d_lo / d_star) / np.log(0.8)) + 1)
    curve = fp_binary_curve(alpha, grid, kappa)
    s = np.where(curve.converged, curve.local_entropy, np.nan)
    neg = np.nonzero(s < 0)[0]
    if neg.size == 0:
        return float("nan")
    i = neg[0]  # grid is decreasing: grid[i-1] > 0 > grid[i]
    op = curve.order_parameters
    p_hi = 1.0 - 2.0 * grid[i - 1]
    q1_min = _q1_min(p_hi, g.q, op["p0"][i - 1])
    guess = (op["q1"][i - 1] - q1_min, op["p0"][i - 1], op["phat"][i - 1])

    def f(d):
        return fp_binary(d, alpha, kappa, gardner=g, guess=guess)["value"]

    return optimize.brentq(f, grid[i], grid[i - 1], xtol=xtol)
