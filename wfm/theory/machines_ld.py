r"""Densest regions of tree committee and parity machines: RS large deviation, y -> inf.

The ``y -> inf`` large-deviation theory of :mod:`wfm.theory.large_deviation` (free
centre, RS) for the tree machines of :mod:`wfm.theory.machines` (``K`` disjoint blocks
of ``N/K`` binary weights, sign hidden units, output ``f(tau)`` = majority or parity,
``alpha`` patterns per weight, no margin).

Only the energetic term changes.  With the same overlaps in every block (``q1``,
``dq = y (q1 - q0)``, the ansatz of the Gardner computation in
:mod:`wfm.theory.machines`), the entropic part per weight is the perceptron's (every
block carries ``N/K`` weights with the same order parameters), and in block ``l`` a
replica's field is ``sqrt(q0) z_l + sqrt(dq/y) v_l + sqrt(1 - q1) eta_l`` (``z``
shared by all replicas, ``v`` by the ``y`` replicas of one centre).  The Laplace limit
``y -> inf`` of ``(1/y) ln int Dv [P_f(v)]^y`` (``v = sqrt(y) s``) gives::

    G_E(q1, dq) = E_{z in R^K} max_{x in R^K} [ -|x - x0|^2/(2B) + L(x) ],
    x0 = sqrt(q1/(1 - q1)) z,   B = dq/(1 - q1),
    L(x) = ln P_f^+(Phi(x)) = ln sum_{tau: f(tau) = +1} prod_l Phi(tau_l x_l),

(``x_l`` the rescaled hidden field of block ``l``; ``K = 1`` is the perceptron's
``int Dz max_s [-s^2/2 + ln H(...)]``).  By the envelope theorem, with
``g = grad L(x*) = (x* - x0)/B``::

    dG_E/ddq = E|g|^2 / (2 (1 - q1)),
    dG_E/dq1 = E[g . z] / (2 sqrt(q1) (1 - q1)^(3/2)) + E|g|^2 dq / (2 (1 - q1)^2),

and the conjugates are ``q0h = 2 alpha dG_E/ddq``, ``Dh = q0h + 2 alpha dG_E/dq1``
(as for the perceptron).  The branch starts exactly at the machine's Gardner point
(``dq = 0``: ``x* = x0``, ``G_E = G_K(q)``, ``q0h = qh``, ``Dh = 0``) at
``d_c = (1 - E|tanh(sqrt(qh) z)|)/2``, and ``S_LD = s(alpha)`` for ``d >= d_c``.
As ``d -> 0`` the same degenerate limit as for the perceptron gives ``S -> H2(d)``
(``G_E -> 0`` when ``dq -> inf``).

The inner maximisation is not concave for ``K >= 2`` (``L`` is the log of a sum over
the internal representations ``tau`` that give the right output): it is started
from the ``2^(K-1)`` representations (each coordinate from the perceptron's 1-D
solution ``c + B R(c) = -tau_l x0_l``, ``x_l = -tau_l c``), followed by a damped,
shifted Newton ascent, and the best local maximum is kept.  Where the global
maximiser jumps between representations (large ``B``, small ``d``) the integrand has
a kink, which a fixed quadrature resolves only to within its node spacing; the
saddle-point residual reported per point says how well Newton closed nonetheless.

Large ``K`` (committee only, ``k = math.inf``): the output field is Gaussian with
overlaps ``(2/pi) arcsin`` of the hidden ones, so ``G_E`` is the perceptron's at
``Q1 = (2/pi) arcsin q1`` and ``dQ = (2/pi) dq / sqrt(1 - q1^2)`` (the ``y -> inf``
limit of ``y (arcsin q1 - arcsin q0)``).  Parity, ``K -> inf``: ``L = -ln 2`` at any
``q1 < 1``, so ``S_LD(d) = H2(d) - alpha ln 2`` (no dense region at all; returned in
closed form).

Numerics: ``z`` by the symmetric tensor trapezoidal rule of
:mod:`wfm.theory.machines` (sorted index tuples, multinomial weights), nodes
``z = s sinh u`` with ``s = min(1, sqrt(1 - q1))`` (they move continuously with
``q1``; ``n = 48, 40, 18`` per axis for ``K = 2, 3, 5``, ``K <= 5``); the Jacobian of
``(ln q0h, Dh)`` in ``(q1, dq)`` by forward differences; everything else
(Newton on ``(ln q0h, Dh, rh)``, continuation in ``ln d``, the exact start at
``d_c``, the degenerate start at small ``d``) is
:func:`wfm.theory.large_deviation.ld_binary_curve` with this energetic term.

References: Baldassi, Pittorino & Zecchina, PNAS 117, 161 (2020), arXiv:1905.07833
(local entropy of committee and parity machines, the architecture comparison); Baldassi
et al., PRL 115, 128101 (2015) (``y -> inf`` large deviation of the perceptron);
Barkai, Hansel & Sompolinsky, PRA 45, 4146 (1992) (tree committee, RS).
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

import numpy as np
from scipy.special import erfcx, log_ndtr

from . import large_deviation as ld
from .machines import _check_k, _tuples, gardner_machine

__all__ = ["APPROXIMATION", "machine_energetic", "machine_energetic_value"]

APPROXIMATION = "RS, y->inf, unconstrained reference, same overlaps in every block"
_NODES = {1: 120, 2: 48, 3: 32, 4: 22, 5: 16}
_MAX_K = 5
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_LOG2 = math.log(2.0)


@lru_cache(maxsize=8)
def _representations(kind, k):
    """Internal representations with output ``+1``: array ``(R, K)`` of ``±1``."""
    taus = np.array(list(itertools.product((1.0, -1.0), repeat=k)))
    out = taus.sum(axis=1) > 0 if kind == "committee" else taus.prod(axis=1) > 0
    return taus[out]


def _ratio(c):
    """``phi(c)/H(c)`` via ``erfcx``."""
    return _SQRT_2_OVER_PI / erfcx(c / math.sqrt(2.0))


def _log_p(x, taus):
    """``L(x) = ln P_f^+(Phi(x))``, its gradient and Hessian, for rows of ``x``.

    ``L = logsumexp_tau sum_l ln Phi(tau_l x_l)`` over the right representations;
    with softmax weights ``w_tau`` and ``e_l(tau) = tau_l R(-tau_l x_l)``
    (the derivative of ``ln Phi(tau_l x_l)``)::

        grad_l = sum_tau w e_l,
        hess_lm = sum_tau w [e_l e_m - delta_lm R'(c)] - grad_l grad_m,
        c = -tau_l x_l, R' = R (R - c).
    """
    c = -x[:, None, :] * taus[None, :, :]  # (M, R, K)
    terms = log_ndtr(-c).sum(axis=2)  # ln prod_l Phi(tau_l x_l)
    top = terms.max(axis=1, keepdims=True)
    wt = np.exp(terms - top)
    norm = wt.sum(axis=1, keepdims=True)
    value = (top + np.log(norm))[:, 0]
    wt /= norm
    r = _ratio(c)
    e = taus[None, :, :] * r
    grad = np.einsum("mr,mrk->mk", wt, e)
    rprime = r * (r - c)
    hess = np.einsum("mr,mrk,mrl->mkl", wt, e, e)
    hess -= np.einsum("mk,ml->mkl", grad, grad)
    idx = np.arange(x.shape[1])
    hess[:, idx, idx] -= np.einsum("mr,mrk->mk", wt, rprime)
    return value, grad, hess


def _inner_max(x0, big_b, taus, n_iter=40, tol=1e-13):
    """``max_x [-|x - x0|^2/(2B) + L(x)]`` for rows of ``x0``: ``(F*, x*, g)``.

    One ascent per right representation, each started from the perceptron's 1-D
    maximisers; shifted Newton steps (Hessian of ``F`` made negative definite),
    halved until ``F`` does not decrease.
    """
    m, k = x0.shape
    n_rep = taus.shape[0]
    # starts: x_l = -tau_l c_l, c from c + B R(c) = -tau_l x0_l
    a = -(taus[None, :, :] * x0[:, None, :]).reshape(-1)
    c = ld._solve_c(a, big_b)
    x = (-taus[None, :, :] * c.reshape(m, n_rep, k)).reshape(m * n_rep, k)
    xx0 = np.repeat(x0, n_rep, axis=0)

    def objective(xs, centre):
        val, grad, hess = _log_p(xs, taus)
        diff = xs - centre
        return -0.5 * np.sum(diff * diff, axis=1) / big_b + val, grad, hess

    f, grad, hess = objective(x, xx0)
    eye = np.eye(k)
    active = np.arange(x.shape[0])
    for _ in range(n_iter):
        g_f = grad[active] - (x[active] - xx0[active]) / big_b
        done = np.max(np.abs(g_f), axis=1) < tol * (1.0 + np.abs(x[active]).max(axis=1))
        active, g_f = active[~done], g_f[~done]
        if active.size == 0:
            break
        h_f = hess[active] - eye / big_b
        h_f[~np.isfinite(h_f).all(axis=(1, 2))] = -eye / big_b  # overflowed rows
        lam_max = np.linalg.eigvalsh(h_f)[:, -1]
        shift = np.maximum(0.0, lam_max + 1e-3 / big_b)
        h_f = h_f - shift[:, None, None] * eye
        step = np.linalg.solve(h_f, -g_f[..., None])[..., 0]
        rows, t = active, np.ones(active.size)
        for _ in range(12):  # halve the step of the rows where F decreased
            x_new = x[rows] + t[:, None] * step
            f_new, g_new, h_new = objective(x_new, xx0[rows])
            ok = f_new >= f[rows] - 1e-14 * np.abs(f[rows])
            acc = rows[ok]
            x[acc], f[acc] = x_new[ok], f_new[ok]
            grad[acc], hess[acc] = g_new[ok], h_new[ok]
            rows, t, step = rows[~ok], 0.5 * t[~ok], step[~ok]
            if rows.size == 0:
                break
        # rows without an ascent step are at a maximum to machine precision
        active = np.setdiff1d(active, rows, assume_unique=True)
    f = f.reshape(m, n_rep)
    best = np.argmax(f, axis=1)
    rows = np.arange(m)
    x_best = x.reshape(m, n_rep, k)[rows, best]
    return f[rows, best], x_best, (x_best - x0) / big_b


def _nodes(k, q1, n=None):
    n = n or _NODES[k]
    s = min(1.0, math.sqrt(1.0 - q1))
    umax = math.asinh(9.0 / s)
    u = np.linspace(-umax, umax, n)
    z = s * np.sinh(u)
    w = (u[1] - u[0]) * s * np.cosh(u) * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    w[0] *= 0.5
    w[-1] *= 0.5
    w /= w.sum()
    idx, mult = _tuples(n, k)
    return z[idx], mult * np.prod(w[idx], axis=1)


def _finite_terms(q1, dq, kind, k, n=None):
    """``(G_E, dG_E/dq1, dG_E/ddq)`` at finite ``K`` (module docstring)."""
    z, w = _nodes(k, q1, n)
    eps = 1.0 - q1
    x0 = math.sqrt(q1 / eps) * z
    taus = _representations(kind, k)
    if dq <= 0.0:  # Gardner point: x* = x0, g = grad L(x0)
        f, g = _log_p(x0, taus)[:2]
    else:
        f, _, g = _inner_max(x0, dq / eps, taus)
    g2 = w @ np.sum(g * g, axis=1)
    gz = w @ np.sum(g * z, axis=1)
    d_dq = g2 / (2.0 * eps)
    d_q1 = gz / (2.0 * math.sqrt(q1) * eps**1.5) + g2 * dq / (2.0 * eps**2)
    return float(w @ f), float(d_q1), float(d_dq)


def _inf_terms(q1, dq):
    """Large-``K`` committee: the perceptron's terms at ``(Q1, dQ)`` (chain rule)."""
    big_q = 2.0 / math.pi * math.asin(q1)
    s = math.sqrt(1.0 - q1 * q1)
    big_dq = 2.0 / math.pi * dq / s
    g, i1, gq, _ = ld._energetic(big_q, big_dq, 0.0)
    g_dq = i1 / (2.0 * (1.0 - big_q))  # dG/ddQ of the perceptron
    dq_dq1 = 2.0 / math.pi / s
    ddq_dq1 = 2.0 / math.pi * dq * q1 / s**3
    return g, gq * dq_dq1 + g_dq * ddq_dq1, g_dq * 2.0 / math.pi / s


def _terms(q1, dq, kind, k, n=None):
    if math.isinf(k):
        return _inf_terms(q1, dq)
    return _finite_terms(q1, dq, kind, int(k), n)


@lru_cache(maxsize=64)
def _conjugates(q1, dq, alpha, kind, k, n=None):
    """``(ln q0h, Dh, G_E, d(ln q0h, Dh)/d(q1, dq))`` (forward differences).

    Cached: the continuation asks again for the Jacobian at the accepted point.
    """

    def conj(a, b):
        g, d_q1, d_dq = _terms(a, b, kind, k, n)
        q0h = 2.0 * alpha * d_dq
        return np.array([math.log(q0h), q0h + 2.0 * alpha * d_q1]), g

    base, g = conj(q1, dq)
    h1 = 1e-6 * min(q1, 1.0 - q1)
    h2 = 1e-6 * max(dq, 1e-3)
    jac = np.empty((2, 2))
    jac[:, 0] = (conj(q1 + h1, dq)[0] - base) / h1
    jac[:, 1] = (conj(q1, dq + h2)[0] - base) / h2
    jac.flags.writeable = False
    return base[0], base[1], g, jac


def machine_energetic_value(q1, dq, kind, k, n=None) -> float:
    """``G_E(q1, dq)`` (module docstring)."""
    return _terms(q1, dq, kind, k, n)[0]


def machine_energetic(model, k, n=None) -> ld.Energetic:
    """The :class:`~wfm.theory.large_deviation.Energetic` of a tree machine.

    ``model`` is ``"committee-tree"`` or ``"parity"`` (binary weights); ``k`` odd
    (committee) and ``<= 5``, or ``math.inf`` for the committee.  ``n`` overrides the
    nodes per axis (accuracy checks).
    """
    k = _check_k(model, k)
    kind = "committee" if model.startswith("committee") else "parity"
    if not math.isinf(k) and k > _MAX_K:
        raise ValueError(f"k must be <= {_MAX_K} for the large deviation, got {k}")
    if math.isinf(k) and kind == "parity":
        raise ValueError("the parity machine's K -> inf limit is H2(d) - alpha ln 2")
    approx = APPROXIMATION + (", K -> inf" if math.isinf(k) else "")
    return ld.Energetic(
        model=model,
        kappa=0.0,
        conjugates=lambda q1, dq, alpha: _conjugates(
            float(q1), float(dq), float(alpha), kind, k, n
        ),
        gardner=lambda alpha: gardner_machine(alpha, model, k),
        value=lambda q1, dq: machine_energetic_value(q1, dq, kind, k, n),
        approximation=approx,
        # the fixed quadrature of a kinked integrand (module docstring) limits how
        # far Newton can close; the acceptance threshold is 1e-8
        tol=1e-10,
        converged_tol=1e-8,
        max_step=0.5,
    )
