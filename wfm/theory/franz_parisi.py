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
from scipy.special import expit, logit

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


def _entropic(q1h, ph, Q, Qh, p0h=None):
    """Entropic term: ``(G_S, <tanh^2 h>, <W~ tanh h>, dG_S/dp0h)``."""
    if p0h is None:
        p0h = Qh
    z0, wz = hermite_nodes(_N_Z0)
    t, wt = uniform_nodes(_N_T, 10.0)
    sqh = np.sqrt(Qh)
    var_t = q1h - p0h**2 / Qh
    if var_t < 0:
        return np.nan, np.nan, np.nan, np.nan
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
    sx = np.sqrt(1.0 - Q)
    x0 = kappa - np.sqrt(Q) * z0  # threshold on x for the reference to be a solution
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
    m = (p0 / np.sqrt(Q)) * z0[:, None] + (p - p0) / (1.0 - Q) * x
    c = (kappa - m[..., None] - sig * v) / np.sqrt(1.0 - q1)
    inner_lh = log_H(c) @ wv
    inner_r2 = ratio_NH(c) ** 2 @ wv
    g_e = wz @ np.sum(wx * inner_lh, axis=1)
    r2 = wz @ np.sum(wx * inner_r2, axis=1)
    return g_e, r2


def _energetic_dp0(q1, p, Q, kappa, p0, step=1e-6):
    """``dG_E/dp0`` by central differences (``G_E`` is smooth in ``p0``)."""
    gp = _energetic(q1, p, Q, kappa, p0 + step)[0]
    gm = _energetic(q1, p, Q, kappa, p0 - step)[0]
    return (gp - gm) / (2.0 * step)


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


def _fp_equations(p, q1, ph, p0, p0h, alpha, kappa, Q, Qh):
    """Residuals of the four Franz–Parisi saddle-point equations, and ``q1h``."""
    _, r2 = _energetic(q1, p, Q, kappa, p0)
    q1h = alpha / (1.0 - q1) * r2
    _, tanh2, mtanh, dgs = _entropic(q1h, ph, Q, Qh, p0h)
    dge = _energetic_dp0(q1, p, Q, kappa, p0)
    res = np.array([tanh2 - q1, mtanh - p, -dgs - p0, -alpha * dge - p0h])
    return res, q1h


def _newton(fun, x0, tol=1e-11, max_iter=40, step=1e-5):
    """Damped Newton with a central-difference Jacobian and backtracking.

    The step ``1e-5`` keeps quadrature noise (~1e-12) and the inner finite difference
    in ``p0`` out of the Jacobian (scipy's ``hybr`` uses ~1e-8 and stalls here).
    """
    x = np.asarray(x0, dtype=float).copy()
    f = fun(x)
    norm = np.max(np.abs(f))
    for it in range(max_iter):
        if norm < tol:
            return x, it
        jac = np.empty((f.size, x.size))
        for j in range(x.size):
            e = np.zeros_like(x)
            e[j] = step
            jac[:, j] = (fun(x + e) - fun(x - e)) / (2.0 * step)
        try:
            dx = np.linalg.solve(jac, -f)
        except np.linalg.LinAlgError:
            dx = np.linalg.lstsq(jac, -f, rcond=None)[0]
        lam = 1.0
        while lam > 1e-4:
            x_new = x + lam * dx
            f_new = fun(x_new)
            n_new = np.max(np.abs(f_new))
            if np.isfinite(n_new) and n_new < norm:
                break
            lam *= 0.5
        else:
            return x, it
        x, f, norm = x_new, f_new, n_new
    return x, max_iter


def _solve_point(p, alpha, kappa, Q, Qh, guess, tol=1e-11):
    """Solve the Franz–Parisi saddle point at overlap ``p``; returns a dict.

    Unknowns ``(q1, ph, p0, p0h)``, reparametrised so that every Gaussian variance
    stays non-negative: ``q1 = q1_min(p0) + (1 - q1_min) expit(x0)`` and
    ``p0h = sqrt(Qh q1h) tanh(x3)``.
    """

    def unpack(x):
        qmin = _q1_min(p, Q, x[2])
        q1 = qmin + (1.0 - qmin) * expit(x[0])
        q1h = alpha / (1.0 - q1) * _energetic(q1, p, Q, kappa, x[2])[1]
        p0h = np.sqrt(Qh * q1h) * np.tanh(x[3])
        return q1, x[1], x[2], p0h

    def equations(x):
        q1, ph, p0, p0h = unpack(x)
        res, _ = _fp_equations(p, q1, ph, p0, p0h, alpha, kappa, Q, Qh)
        return np.where(np.isfinite(res), res, 1e3)

    q1_0, ph_0, p0_0, p0h_0 = guess
    qmin = _q1_min(p, Q, p0_0)
    frac = np.clip((q1_0 - qmin) / (1.0 - qmin), 1e-3, 1 - 1e-6)
    q1_0 = qmin + (1.0 - qmin) * frac
    q1h_0 = alpha / (1.0 - q1_0) * _energetic(q1_0, p, Q, kappa, p0_0)[1]
    ratio = np.clip(p0h_0 / np.sqrt(Qh * q1h_0), -0.999, 0.999)
    x0 = np.array([logit(frac), ph_0, p0_0, np.arctanh(ratio)])
    x, _ = _newton(equations, x0, tol=tol)
    q1, ph, p0, p0h = unpack(x)
    res, q1h = _fp_equations(p, q1, ph, p0, p0h, alpha, kappa, Q, Qh)
    residual = float(np.max(np.abs(res))) if np.all(np.isfinite(res)) else np.inf
    value = fp_functional(p, q1, q1h, ph, alpha, Q, Qh, kappa, p0, p0h)
    return {
        "q1": q1,
        "q1hat": q1h,
        "phat": ph,
        "p0": p0,
        "p0hat": p0h,
        "value": float(value),
        "residual": residual,
        "converged": bool(residual < 1e-7),
    }


def fp_binary(distance, alpha, kappa=0.0, gardner=None, guess=None):
    """Franz–Parisi local entropy of the binary perceptron at a single distance."""
    g = gardner_binary(alpha, kappa) if gardner is None else gardner
    p = 1.0 - 2.0 * distance
    if guess is None:
        guess = (max(g.q, _q1_min(p, g.q)) + 1e-3, g.qhat, g.q, g.qhat)
    return _solve_point(p, alpha, kappa, g.q, g.qhat, guess)


def fp_binary_curve(alpha, distances, kappa=0.0) -> LocalEntropyCurve:
    """Franz–Parisi curve at the given distances (continuation from ``d*``)."""
    distances = np.asarray(distances, dtype=float)
    g = gardner_binary(alpha, kappa)
    Q, Qh = g.q, g.qhat
    d_star = 0.5 * (1.0 - Q)
    n = distances.size
    keys = ("q1", "q1hat", "phat", "p0", "p0hat", "value", "residual", "converged")
    out = {k: np.full(n, np.nan) for k in keys}
    out["converged"] = np.zeros(n, dtype=bool)
    # continuation from the exact solution at d*: geometric intermediate steps so that
    # Newton always starts close to the solution
    below_t = np.sort(distances[distances <= d_star])[::-1]
    above_t = np.sort(distances[distances > d_star])
    path_below = np.unique(
        np.concatenate([below_t, d_star * 0.85 ** np.arange(1, 60)])
    )[::-1]
    path_below = path_below[path_below >= (below_t.min() if below_t.size else d_star)]
    path_above = np.unique(np.concatenate([above_t, np.arange(d_star, 0.5, 0.03)[1:]]))
    path_above = path_above[path_above <= (above_t.max() if above_t.size else d_star)]
    solved = {}
    for path in (path_below, path_above):
        guess = (Q, Qh, Q, Qh)
        for d in path:
            r = fp_binary(d, alpha, kappa, gardner=g, guess=guess)
            solved[d] = r
            if r["converged"]:
                guess = (r["q1"], r["phat"], r["p0"], r["p0hat"])
    for i, d in enumerate(distances):
        r = solved[d]
        for k in keys:
            out[k][i] = r[k]
    params = ("q1", "q1hat", "phat", "p0", "p0hat")
    return LocalEntropyCurve(
        kind="typical",
        model="perceptron-binary",
        alpha=float(alpha),
        kappa=float(kappa),
        approximation="RS (Franz-Parisi, reference from the Gardner measure)",
        distances=distances,
        local_entropy=out["value"],
        order_parameters={k: out[k] for k in params},
        converged=out["converged"],
        residual=out["residual"],
        reference={"q": Q, "qhat": Qh, "gardner_entropy": g.value, "d_star": d_star},
    )


def fp_positive_distance(alpha, kappa=0.0, d_lo=1e-3, xtol=1e-6) -> float:
    """Smallest ``d`` above which the typical Franz–Parisi curve becomes positive.

    Scans a grid on ``[d_lo, d*]`` and refines the sign change with Brent's method.
    """
    g = gardner_binary(alpha, kappa)
    d_star = 0.5 * (1.0 - g.q)
    grid = np.geomspace(d_lo, d_star, 30)
    curve = fp_binary_curve(alpha, grid, kappa)
    s = curve.local_entropy
    idx = np.nonzero(s > 0)[0]
    if idx.size == 0 or idx[0] == 0:
        return float("nan") if idx.size == 0 else float(grid[0])
    i = idx[0]
    op = curve.order_parameters
    guess = {"q": tuple(op[k][i] for k in ("q1", "phat", "p0", "p0hat"))}

    def f(d):
        r = fp_binary(d, alpha, kappa, gardner=g, guess=guess["q"])
        return r["value"]

    return optimize.brentq(f, grid[i - 1], grid[i], xtol=xtol)
