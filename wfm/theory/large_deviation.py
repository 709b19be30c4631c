r"""Local entropy of the densest regions: RS large deviation, ``y -> inf``.

Approximation implemented (stored as ``approximation`` in the results):
``"RS, y->inf, unconstrained reference"``.

Which ensemble, and why
-----------------------
The local entropy of a reference ``W~`` at distance ``d`` is
``S(W~, d) = (1/N) ln N_d(W~)``, ``N_d(W~) = #{W solution : W . W~ = p N}``,
``p = 1 - 2d``.  The large-deviation ("robust") ensemble weights references by
``N_d(W~)^y``; for ``y -> inf`` it selects the densest regions,

    S_LD(d) = lim_{y->inf} (1/(N y)) E ln sum_W~ mu(W~) N_d(W~)^y
            = (1/N) E max_{W~ in supp mu} ln N_d(W~).

Two choices of the reference's own measure ``mu`` are in the literature:

* ``mu(W~) = X_xi(W~)`` (the reference must itself be a solution): Baldassi,
  Ingrosso, Lucibello, Saglietti & Zecchina, PRL 115, 128101 (2015),
  arXiv:1509.05753, and PRE 93, 052313 (2016), arXiv:1602.04129.  This is the
  analysis [P1] (Baldassi, Pittorino & Zecchina, PNAS 117, 161 (2020),
  arXiv:1905.07833) builds on for the binary perceptron: a *wide flat minimum* is a
  minimiser of the training error surrounded by other minimisers, so the centre is
  required to be a minimiser (zero errors) itself.
* ``mu(W~) = 1`` (free centre, the robust ensemble of Baldassi et al., PNAS 113,
  E7655 (2016), arXiv:1605.06444, whose centre is what fBP/rSGD/EdMC track): this
  module.  It is simpler (five order parameters, one-dimensional integrals) and it is
  an upper bound of the constrained curve (maximum over a larger set), equal to it
  wherever the densest centre is itself a solution.  PRL 115 reports that the two
  give nearly identical curves at small ``d``.  The constrained variant is not
  implemented; see ``docs/theory.md`` for where the two must differ.

Derivation
----------
Replicas: ``n -> 0`` references ``W~^a``, each with ``y`` constrained replicas
``W^{a alpha}``.  RS overlaps: references ``q~``; reference-own replicas ``p``
(fixed); reference-other replicas ``p0``; replicas of one reference ``q1``, of
different references ``q0``; conjugates with hats.  For ``y -> inf``:
``q~ -> 1``, ``p0 -> p``, ``q0 -> q1`` with ``dq = y (q1 - q0)`` finite and
``q1h - q0h = Dh / y``; the conjugates of ``y (1 - q~)`` and ``y (p - p0)`` vanish
at the saddle point (those overlaps enter linearly), so the reference carries no
field of its own and is fixed by the replicas' shared field ``v ~ N(0, q0h)``:
``W~ = argmax_{±1} M(v + rh W~) = sign(v)``, ``rh = ph - p0h``.  Per ``N y``::

    S_LD(d) = extr_{q1, dq, q0h, Dh, rh} Phi,
    Phi = -rh p - q0h (1 - q1 + dq)/2 - Dh q1/2
          + E_z M(sqrt(q0h) |z| + rh) + alpha G_E(q1, dq)

    M(h)  = extr_s [-s^2/2 + ln 2cosh(h + sqrt(Dh) s)]
          = ln 2cosh t - Dh tanh(t)^2/2,        t - Dh tanh t = h
    G_E   = int Dz max_s [-s^2/2 + ln H((kappa - sqrt(q1) z - sqrt(dq) s)/sqrt(1-q1))]
          = int Dz [ln H(c) - B R(c)^2/2],        c + B R(c) = a,
    a = (kappa - sqrt(q1) z)/sqrt(1 - q1),  B = dq/(1 - q1),  R = phi/H.

(``M`` and ``G_E`` are the ``y -> inf`` Laplace limits of
``(1/y) ln int Du [2cosh(v + sqrt(Dh/y) u + rh W~)]^y`` and
``(1/y) ln int Dv H(...)^y``; ``M`` continues analytically to ``Dh < 0``.)
Stationarity (``m = tanh t``, ``m' = dm/dh = (1 - m^2)/(1 - Dh (1 - m^2))``)::

    p          = E m                        (d/d rh)
    q1         = E m^2                      (d/d Dh)
    1 - q1 + dq = E[m |z|]/sqrt(q0h)
               = 2 phi(0) m(rh)/sqrt(q0h) + E m'      (d/d q0h, by parts)
    q0h        = alpha/(1 - q1) int Dz R(c)^2          (d/d dq)
    Dh         = q0h + 2 alpha dG_E/dq1                (d/d q1)

Checks built into the tests: ``alpha -> 0`` gives ``S = H2(d)``; stationarity of
``Phi`` in all five parameters; the exact end point below.

End point and saturation.  At ``rh = Dh = dq = 0`` the equations reduce to the
Gardner ones (``q1 = q``, ``q0h = qh``), so the branch starts at

    d_c = (1 - E|tanh(sqrt(qh) z)|)/2,   S_LD(d_c) = s(alpha),

the distance of the solutions from the clipped centre of mass ``sign<W>`` of the
whole solution space.  For ``d >= d_c``, ``S_LD(d) = s(alpha)`` exactly: no
reference sees more than all ``e^{N s}`` solutions, and moving ``W~`` from
``sign<W>`` towards a random configuration sweeps their typical distance over
``[d_c, 1/2)``.  Those points are reported with ``regime = 1``.

Small ``d``.  ``q0h -> 0`` (like ``exp(-c(alpha)/d)``), ``dq -> inf``, ``Dh -> 0``,
``q1 -> p^2``, ``rh -> atanh p``, and ``Phi -> H2(d)``: at the degenerate point the
replicas are independent configurations at distance ``d`` from ``W~``.  ``S_LD/H2
-> 1`` as ``d -> 0`` while ``rh >= 0`` along the whole branch.

Domain.  The construction needs ``rh >= 0`` (for ``rh < 0`` the optimal reference
would be ``-sign(v)``, at distance ``> 1/2``); since ``dS/dd = 2 rh``, the
unconstrained RS ``y -> inf`` theory cannot describe a local entropy that decreases
with ``d``.  That happens for ``alpha`` above ``alpha_U ~ 0.77`` (the curves
become non-monotonic; Baldassi et al. 2015 find the same threshold for the
constrained ensemble and read it as the break-up of the dense regions); formal
solutions with ``rh < 0`` are returned with ``regime = -1`` and
``converged = False``.  RSB corrections and finite ``y`` are left out.

Numerics
--------
Unknowns ``(ln q0h, Dh, rh)``: the entropic integrals give ``(q1, dq)``
explicitly, the energetic ones give ``(q0h', Dh')``; Newton on
``(E m - p, ln q0h' - ln q0h, Dh' - Dh)`` with the analytic Jacobian (implicit
differentiation of both inner extremisations: ``dt/dh = 1/(1 - Dh (1 - m^2))``,
``dc/da = 1/(1 + B R'(c))``, ``R' = R (R - c)``), backtracking on the max-norm.
``ln q0h`` stays well scaled where ``q0h ~ 1e-70`` (``d = 0.001``, alpha = 0.4).
Quadratures: the energetic ``z`` integral by the trapezoidal rule in ``u`` with
``z = z0 + 0.05 sqrt(1 - q1) sinh u`` (``z0 = kappa/sqrt(q1)``, where the integrand
varies on the scale ``sqrt(1 - q1)``); the entropic one by Gauss–Legendre panels on
the half line (smooth integrand).  Doubling both changes ``S`` by < 1e-13 at
alpha = 0.6 (< 1e-9 at alpha = 0.8, d = 0.05, where ``Dh ~ 1``).  Inner equations
by monotone Newton (``t`` from ``h + Dh``; ``c`` from an asymptotic estimate).
Curves by continuation in ``ln d`` with a tangent predictor
``dy/d ln d = -J^{-1} dF/d ln d``: down from the exact start at ``d_c``, and (for
points the down-scan does not reach) up from the small-``d`` degenerate start
``(ln q0h, Dh, rh) = (-30, 0, atanh p)``, from which Newton converges directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import erfcx, log_ndtr

from wfm._math import binary_entropy

from ._gauss import half_line_legendre, log_2cosh, sinh_nodes
from ._results import LocalEntropyCurve
from .gardner import gardner_binary

__all__ = [
    "APPROXIMATION",
    "critical_distance",
    "ld_binary",
    "ld_binary_curve",
    "ld_functional",
    "ld_residual",
]

APPROXIMATION = "RS, y->inf, unconstrained reference"

_PHI0 = 1.0 / np.sqrt(2.0 * np.pi)
_SQRT_2_OVER_PI = np.sqrt(2.0 / np.pi)
_N_ENERGETIC = 241
_SINH_SCALE = 0.05
_LQ_MIN = -600.0  # below: q0h underflows, S = H2(d) to machine precision
_TOL = 1e-12
_CONVERGED = 1e-10


# ------------------------------------------------------------------ inner problems
def _ratio(c):
    """``R(c) = phi(c)/H(c)`` via ``erfcx`` (no overflow for large ``c``)."""
    return _SQRT_2_OVER_PI / erfcx(c / np.sqrt(2.0))


def _solve_t(h, dh, n_iter=80):
    """Largest root of ``t - dh tanh t = h`` (``h >= 0``): the maximiser in ``M``.

    Newton from ``t0 = h + dh``: for ``dh >= 0`` the function is convex on
    ``t > 0`` and ``f(t0) >= 0`` (monotone descent to the largest root); for
    ``dh < 0`` the root is unique.
    """
    t = h + dh
    for _ in range(n_iter):
        m = np.tanh(t)
        step = (t - dh * m - h) / (1.0 - dh * (1.0 - m * m))
        t = t - step
        if np.max(np.abs(step)) < 1e-15 * (1.0 + np.max(np.abs(t))):
            break
    return t


def _solve_c(a, big_b, n_iter=100):
    """Root of ``c + B R(c) = a`` (increasing and convex in ``c`` for ``B > -1``)."""
    c = a / (1.0 + big_b)
    if big_b > 1.0:
        # left branch, R ~ phi: B phi(c) = a - c
        lb = np.log(big_b)
        cl = np.full_like(a, -np.sqrt(2.0 * lb))
        for _ in range(3):
            la = lb - 0.5 * np.log(2.0 * np.pi) - np.log(np.maximum(a - cl, 1e-3))
            cl = -np.sqrt(2.0 * np.maximum(la, 0.0))
        c = np.minimum(c, cl)
    c = np.minimum(c, a)
    for _ in range(n_iter):
        r = _ratio(c)
        step = (c + big_b * r - a) / (1.0 + big_b * r * (r - c))
        c = c - step
        if np.max(np.abs(step)) < 1e-14 * (1.0 + np.max(np.abs(c))):
            break
    return c


def _sech2(t):
    """``1 - tanh(t)^2`` without cancellation."""
    e = np.exp(-2.0 * np.abs(t))
    return 4.0 * e / (1.0 + e) ** 2


# ------------------------------------------------------------------------ entropic
def _entropic(lq, dh, rh):
    """Entropic averages and their Jacobian in ``(ln q0h, Dh, rh)``.

    Returns ``(P, Q, D, EM)`` with ``P = E m``, ``Q = E m^2``,
    ``D = E[m |z|]/sqrt(q0h)``, ``EM = E M`` (``h = sqrt(q0h)|z| + rh``), and the
    3x3 Jacobian of ``(P, Q, D)`` (columns ``ln q0h, Dh, rh``).
    """
    z, w = half_line_legendre()
    sq = np.exp(0.5 * lq)
    h = np.concatenate(([rh], sq * z + rh))
    t = _solve_t(h, dh)
    m = np.tanh(t)
    chi = _sech2(t)
    ds = 1.0 - dh * chi
    big_m = log_2cosh(t) - 0.5 * dh * m * m
    m0, chi0, ds0 = m[0], chi[0], ds[0]
    m, chi, ds, big_m = m[1:], chi[1:], ds[1:], big_m[1:]
    mp = chi / ds  # dm/dh
    p_ = w @ m
    q_ = w @ (m * m)
    d_ = 2.0 * _PHI0 * m0 / sq + w @ mp
    em = w @ big_m
    dh_dl = 0.5 * sq * z  # dh/d ln q0h
    dm_ddh = chi * m / ds
    mpp = -2.0 * m * chi / ds**3
    dmp_ddh = chi / ds**3 * (chi * ds - 2.0 * m * m)
    jac = np.empty((3, 3))
    jac[0] = (w @ (mp * dh_dl), w @ dm_ddh, w @ mp)
    jac[1] = (w @ (2 * m * mp * dh_dl), w @ (2 * m * dm_ddh), w @ (2 * m * mp))
    mp0 = chi0 / ds0
    jac[2] = (
        -_PHI0 * m0 / sq + w @ (mpp * dh_dl),
        2.0 * _PHI0 * chi0 * m0 / ds0 / sq + w @ dmp_ddh,
        2.0 * _PHI0 * mp0 / sq + w @ mpp,
    )
    return (p_, q_, d_, em), jac


# ----------------------------------------------------------------------- energetic
def _energetic(q1, dq, kappa):
    """Energetic term: ``G_E``, ``I1 = int R(c)^2``, ``dG_E/dq1`` and derivatives.

    Returns ``G, I1, Gq, (dlnI1/dq1, dlnI1/ddq, dGq/dq1, dGq/ddq)``; the
    log-derivatives of ``I1`` are formed from rescaled ratios (``I1`` reaches
    ``1e-260`` at small ``d``, its plain derivatives would underflow).
    """
    eps = 1.0 - q1
    sq1, se = np.sqrt(q1), np.sqrt(eps)
    z, w = sinh_nodes(kappa / sq1, _SINH_SCALE * se, _N_ENERGETIC)
    a = (kappa - sq1 * z) / se
    big_b = dq / eps
    c = _solve_c(a, big_b)
    r = _ratio(c)
    rp = r * (r - c)
    den = 1.0 + big_b * rp
    g = w @ (log_ndtr(-c) - 0.5 * big_b * r * r)
    i1 = w @ (r * r)
    a_q = -z / (2.0 * sq1 * se) + a / (2.0 * eps)
    b_q, b_d = big_b / eps, 1.0 / eps
    gq = w @ (-r * a_q + 0.5 * r * r * b_q)
    r_q = rp * (a_q - r * b_q) / den
    r_d = -rp * r * b_d / den
    scale = np.max(r)
    rs = r / scale
    norm = w @ (rs * rs)
    a_qq = 0.25 * z * (sq1 * se) ** -3 * (eps - q1) + a_q / (2 * eps) + a / (2 * eps**2)
    b_qq, b_qd = 2.0 * big_b / eps**2, 1.0 / eps**2
    derivs = (
        w @ (2.0 * rs * (r_q / scale)) / norm,
        w @ (2.0 * rs * (r_d / scale)) / norm,
        w @ (-r_q * a_q - r * a_qq + r * r_q * b_q + 0.5 * r * r * b_qq),
        w @ (-r_d * a_q + r * r_d * b_q + 0.5 * r * r * b_qd),
    )
    return g, i1, gq, derivs


def _conjugates(q1, dq, alpha, kappa):
    """``(ln q0h, Dh, G_E, d(ln q0h, Dh)/d(q1, dq))`` from the energetic term."""
    g, i1, gq, (li_q, li_d, gq_q, gq_d) = _energetic(q1, dq, kappa)
    eps = 1.0 - q1
    lq = np.log(alpha * i1 / eps)
    qh0 = np.exp(lq)
    dh = qh0 + 2.0 * alpha * gq
    lq_q = li_q + 1.0 / eps
    lq_d = li_d
    jac = np.array(
        [
            [lq_q, lq_d],
            [qh0 * lq_q + 2 * alpha * gq_q, qh0 * lq_d + 2 * alpha * gq_d],
        ]
    )
    return lq, dh, g, jac


# ----------------------------------------------------------- energetic terms
@dataclass(frozen=True)
class Energetic:
    """The model-specific part of the ``y -> inf`` theory (the entropic part is the
    same for every binary-weight model with one overlap per weight block).

    Attributes
    ----------
    model : str
    kappa : float
    conjugates : callable
        ``(q1, dq, alpha) -> (ln q0h, Dh, G_E, J)``, ``J = d(ln q0h, Dh)/d(q1, dq)``
        (2x2), from ``q0h = 2 alpha dG_E/ddq``, ``Dh = q0h + 2 alpha dG_E/dq1``.
    gardner : callable
        ``alpha -> GardnerResult`` (the exact start of the branch at ``d_c``).
    value : callable
        ``(q1, dq) -> G_E``.
    approximation : str
    tol : float
        Newton's target residual.
    converged_tol : float
        Residual below which a point is reported converged.
    max_step : float
        Largest continuation step in ``ln d``.
    """

    model: str
    kappa: float
    conjugates: Callable
    gardner: Callable
    value: Callable
    approximation: str = APPROXIMATION
    tol: float = _TOL
    converged_tol: float = _CONVERGED
    max_step: float = 0.3


def perceptron_energetic(kappa=0.0) -> Energetic:
    """The binary perceptron's energetic term (module docstring)."""
    return Energetic(
        model="perceptron-binary",
        kappa=float(kappa),
        conjugates=lambda q1, dq, alpha: _conjugates(q1, dq, alpha, kappa),
        gardner=lambda alpha: gardner_binary(alpha, kappa),
        value=lambda q1, dq: _energetic(q1, dq, kappa)[0],
    )


def _as_energetic(energy) -> Energetic:
    """A margin ``kappa`` (the perceptron) or an :class:`Energetic` as it is."""
    return energy if isinstance(energy, Energetic) else perceptron_energetic(energy)


# ------------------------------------------------------------------------- system
def _system(y, p, alpha, energy):
    """Residual ``F``, Jacobian ``dF/dy`` and the saddle point at ``y``.

    ``y = (ln q0h, Dh, rh)``; ``F = (E m - p, ln q0h' - ln q0h, Dh' - Dh)``;
    ``energy``: a margin ``kappa`` (perceptron) or an :class:`Energetic`.
    """
    lq, dh, rh = y
    (p_, q_, d_, em), js = _entropic(lq, dh, rh)
    q1 = q_
    dq = d_ - 1.0 + q_
    lqn, dhn, g, je = _as_energetic(energy).conjugates(q1, dq, alpha)
    f = np.array([p_ - p, lqn - lq, dhn - dh])
    jc = je @ np.vstack([js[1], js[2] + js[1]])  # d(ln q0h', Dh')/d(y)
    jac = np.vstack([js[0], jc])
    jac[1, 0] -= 1.0
    jac[2, 1] -= 1.0
    qh0 = np.exp(lq)
    value = -rh * p - 0.5 * qh0 * (1.0 - q1 + dq) - 0.5 * dh * q1 + em + alpha * g
    info = {"q1": q1, "dq1": dq, "q0hat": qh0, "dhat": dh, "rhat": rh, "value": value}
    return f, jac, info


def _newton(y, p, alpha, energy, tol=None, max_iter=40):
    """Damped Newton; returns ``(y, residual, iterations, info, status)``.

    ``status`` is ``"ok"``, ``"fail"`` or ``"degenerate"`` (an iterate went below
    ``ln q0h = _LQ_MIN``: the solution is the ``d -> 0`` degenerate point to machine
    precision, ``S = H2(d)``).
    """
    energy = _as_energetic(energy)
    tol = energy.tol if tol is None else tol
    with np.errstate(all="ignore"):
        f, jac, info = _system(y, p, alpha, energy)
    res = float(np.max(np.abs(f)))
    if not np.isfinite(res):
        return y, np.inf, 0, info, "fail"
    for it in range(1, max_iter + 1):
        if res < tol:
            return y, res, it - 1, info, "ok"
        try:
            dy = np.linalg.solve(jac, -f)
        except np.linalg.LinAlgError:
            return y, res, it, info, "fail"
        if y[0] + dy[0] < _LQ_MIN:
            return y, res, it, info, "degenerate"
        lam = 1.0
        for _ in range(8):
            yn = y + lam * dy
            with np.errstate(all="ignore"):
                fn, jn, infon = _system(yn, p, alpha, energy)
            rn = float(np.max(np.abs(fn)))
            good = np.isfinite(rn) and np.all(np.isfinite(jn))
            if good and rn < (1 - 1e-4 * lam) * res:
                break
            lam *= 0.5
        else:
            return y, res, it, info, "ok" if res < tol else "fail"
        y, f, jac, info, res = yn, fn, jn, infon, rn
    return y, res, max_iter, info, "ok" if res < tol else "fail"


def ld_residual(distance, q0hat, dhat, rhat, alpha, kappa=0.0) -> float:
    """Max violation of the saddle-point equations at ``(q0h, Dh, rh)``.

    (``q1`` and ``dq`` are eliminated by their own equations.)
    """
    f, _, _ = _system(
        np.array([np.log(q0hat), dhat, rhat]), 1.0 - 2.0 * distance, alpha, kappa
    )
    return float(np.max(np.abs(f)))


def ld_functional(p, q1, dq, qh0, dh, rh, alpha, kappa=0.0) -> float:
    """The functional ``Phi`` (module docstring) at arbitrary order parameters."""
    z, w = half_line_legendre()
    t = _solve_t(np.sqrt(qh0) * z + rh, dh)
    em = w @ (log_2cosh(t) - 0.5 * dh * np.tanh(t) ** 2)
    g = _as_energetic(kappa).value(q1, dq)
    return float(-rh * p - 0.5 * qh0 * (1.0 - q1 + dq) - 0.5 * dh * q1 + em + alpha * g)


def _start_point(alpha, energy):
    """Exact solution at ``d_c``: ``(d_c, y_c, GardnerResult)``."""
    g = _as_energetic(energy).gardner(alpha)
    z, w = half_line_legendre()
    p_c = float(w @ np.tanh(np.sqrt(g.qhat) * z))
    with np.errstate(divide="ignore"):  # qh = 0 (q = 0 branch): no start, d_c = 1/2
        return 0.5 * (1.0 - p_c), np.array([np.log(g.qhat), 0.0, 0.0]), g


def critical_distance(alpha, kappa=0.0) -> float:
    """``d_c = (1 - E|tanh(sqrt(qh) z)|)/2``; ``S_LD = s(alpha)`` for ``d >= d_c``."""
    return _start_point(alpha, kappa)[0]


# ------------------------------------------------------------------ continuation
def _tangent(jac, d):
    """``dy/d ln d`` on the branch: ``dF/d ln d = (2 d, 0, 0)``."""
    return -np.linalg.solve(jac, np.array([2.0 * d, 0.0, 0.0]))


def _scan(t_start, y_start, jac_start, targets, alpha, energy, h_max=None):
    """Continuation in ``t = ln d`` from ``(t_start, y_start)`` through ``targets``.

    ``targets`` (pairs ``(t, key)``) are visited in the given order, which must be
    monotone away from ``t_start``.  Returns ``{key: (y, residual, iters, info)}``
    for the targets reached; stops at the first failure.
    """
    out = {}
    t, y, jac = t_start, y_start, jac_start
    h_max = _as_energetic(energy).max_step if h_max is None else h_max
    h = h_max
    for tt, key in targets:
        sign = 1.0 if tt > t else -1.0
        while sign * (tt - t) > 1e-14:
            step = min(h, sign * (tt - t))
            tn = t + sign * step
            try:
                y_pred = y + _tangent(jac, np.exp(t)) * (tn - t)
            except np.linalg.LinAlgError:
                y_pred = y
            yn, res, it, info, status = _newton(
                y_pred, 1.0 - 2.0 * np.exp(tn), alpha, energy, max_iter=12
            )
            if status != "ok":
                h *= 0.5
                if h < 4e-3:
                    return out
                continue
            with np.errstate(all="ignore"):
                _, jac, _ = _system(yn, 1.0 - 2.0 * np.exp(tn), alpha, energy)
            t, y = tn, yn
            h = min(h * 1.5, h_max) if it <= 4 else (h * 0.7 if it > 8 else h)
        out[key] = (y, res, it, info)
    return out


def _small_d_start(d, alpha, energy):
    """Newton from the degenerate small-``d`` point ``(lq0, 0, atanh p)``.

    Returns ``("ok", (y, residual, iters, info, jac))``, ``("degenerate", None)`` or
    ``("fail", None)``.
    """
    p = 1.0 - 2.0 * d
    degenerate = False
    for lq0 in (-30.0, -80.0, -10.0):
        y, res, it, info, status = _newton(
            np.array([lq0, 0.0, np.arctanh(p)]), p, alpha, energy, max_iter=60
        )
        if status == "ok":
            with np.errstate(all="ignore"):
                _, jac, _ = _system(y, p, alpha, energy)
            return "ok", (y, res, it, info, jac)
        degenerate = degenerate or status == "degenerate"
    return ("degenerate" if degenerate else "fail"), None


# ---------------------------------------------------------------------- public
_KEYS = ("q1", "dq1", "q0hat", "dhat", "rhat")


def ld_binary_curve(
    alpha, distances, kappa=0.0, progress=False, path="auto"
) -> LocalEntropyCurve:
    """Large-deviation (``y -> inf``, RS, free centre) local-entropy curve.

    Parameters
    ----------
    alpha : float
    kappa : float or Energetic
        Margin of the binary perceptron, or the energetic term of another model
        (:class:`Energetic`, e.g. :func:`wfm.theory.machines_ld.machine_energetic`).
    distances : array_like
        Distances in ``(0, 1/2)``, any order.
    progress : bool
        Show a bar over the distances (each takes milliseconds).
    path : {"auto", "down", "up"}
        Continuation path: ``"down"`` from the exact start at ``d_c``, ``"up"``
        from the smallest distance (degenerate start), ``"auto"`` down first and up
        for whatever the down-scan does not reach.  At convergence the result does
        not depend on the path (tested).

    Returns
    -------
    LocalEntropyCurve
        ``kind="large-deviation"``; order parameters ``q1, dq1, q0hat, dhat, rhat``
        and ``regime`` (0: regular branch; 1: ``d >= d_c``, ``S = s(alpha)``;
        -1: formal solution with ``rhat < 0``, outside the ensemble's domain,
        ``converged=False``; 2: ``q0hat`` below ``e^-600``, ``S = H2(d)`` to machine
        precision, ``residual=nan``).  ``reference`` holds ``d_c``, ``s(alpha)``,
        Gardner ``q, qhat``.
    """
    from tqdm.auto import tqdm

    if path not in ("auto", "down", "up"):
        raise ValueError(f"path must be 'auto', 'down' or 'up', got {path!r}")
    distances = np.asarray(distances, dtype=float)
    n = distances.size
    out = {k: np.full(n, np.nan) for k in (*_KEYS, "value", "residual", "regime")}
    energy = kappa = _as_energetic(kappa)  # built once for the whole curve
    d_c, y_c, g = _start_point(alpha, kappa)

    sat = distances >= d_c
    out["value"][sat] = g.value
    out["residual"][sat] = g.residual
    out["regime"][sat] = 1.0

    below = np.unique(distances[~sat])  # ascending
    solved = {}
    bar = tqdm(total=below.size, disable=not progress, desc="large deviation", unit="d")
    # no down-scan from a q = 0 Gardner point (qh = 0, d_c = 1/2: binary parity
    # machines below their q > 0 branch); the up-scan covers those curves
    if below.size and path in ("auto", "down") and g.qhat > 0:
        with np.errstate(all="ignore"):
            _, jac_c, _ = _system(y_c, 1.0 - 2.0 * d_c, alpha, kappa)
        targets = [(np.log(d), float(d)) for d in below[::-1]]
        solved.update(_scan(np.log(d_c), y_c, jac_c, targets, alpha, kappa))
        bar.update(len(solved))
    missing = [float(d) for d in below if float(d) not in solved]
    degenerate = set()
    if missing and path in ("auto", "up"):
        # start points, ascending: the missing distances, and d = 1e-3 first if all
        # of them are larger (the degenerate start is reliable at small d)
        starts = ([1e-3] if missing[0] > 1e-3 else []) + missing
        for k, d0 in enumerate(starts):
            status, start = _small_d_start(d0, alpha, kappa)
            if status == "degenerate":
                degenerate.add(d0)
                continue
            if status == "fail":
                continue
            y0, res0, it0, info0, jac0 = start
            if d0 in missing:
                solved[d0] = (y0, res0, it0, info0)
            targets = [(np.log(d), d) for d in starts[k + 1 :] if d in missing]
            solved.update(_scan(np.log(d0), y0, jac0, targets, alpha, kappa))
            break
    bar.update(below.size - bar.n)
    bar.close()

    for i, d in enumerate(distances):
        if sat[i]:
            continue
        key = float(d)
        if key in solved:
            y, res, _, info = solved[key]
            for k in _KEYS:
                out[k][i] = info[k]
            out["value"][i] = info["value"]
            out["residual"][i] = res
            out["regime"][i] = 0.0 if info["rhat"] >= 0.0 else -1.0
        elif key in degenerate:
            p = 1.0 - 2.0 * d
            out["q1"][i], out["dq1"][i], out["q0hat"][i] = p * p, np.inf, 0.0
            out["dhat"][i], out["rhat"][i] = 0.0, np.arctanh(p)
            out["value"][i] = float(binary_entropy(d))
            out["regime"][i] = 2.0
    converged = (out["regime"] >= 0) & (
        (out["residual"] < energy.converged_tol) | (out["regime"] == 2.0)
    )
    return LocalEntropyCurve(
        kind="large-deviation",
        model=energy.model,
        alpha=float(alpha),
        kappa=energy.kappa,
        approximation=energy.approximation,
        distances=distances,
        local_entropy=out["value"],
        order_parameters={k: out[k] for k in (*_KEYS, "regime")},
        converged=converged,
        residual=out["residual"],
        reference={
            "critical_distance": float(d_c),
            "gardner_entropy": float(g.value),
            "gardner_q": float(g.q),
            "gardner_qhat": float(g.qhat),
        },
    )


def ld_binary(distance, alpha, kappa=0.0, guess=None):
    """Saddle point at one distance; returns a dict.

    Keys ``q1, dq1, q0hat, dhat, rhat, value, residual, converged, iterations,
    regime``.  ``guess = (ln q0hat, dhat, rhat)`` starts Newton there; otherwise the
    point is reached by continuation (:func:`ld_binary_curve`).
    """
    if guess is not None:
        p = 1.0 - 2.0 * distance
        y, res, it, info, status = _newton(np.asarray(guess, float), p, alpha, kappa)
        ok = status == "ok"
        regime = 0.0 if info["rhat"] >= 0 else -1.0
        return {
            **{k: float(info[k]) for k in _KEYS},
            "value": float(info["value"]),
            "residual": res,
            "converged": bool(ok and res < _CONVERGED and regime == 0.0),
            "iterations": it,
            "regime": regime,
        }
    c = ld_binary_curve(alpha, [distance], kappa)
    arr = c.to_arrays()
    return {
        **{k: float(arr[k][0]) for k in _KEYS},
        "value": float(arr["local_entropy"][0]),
        "residual": float(arr["residual"][0]),
        "converged": bool(arr["converged"][0]),
        "iterations": -1,
        "regime": float(arr["regime"][0]),
    }
