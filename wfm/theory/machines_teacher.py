r"""Local entropy around the teacher of a tree committee / parity machine (RS).

Teacher–student storage with a binary teacher ``W~`` of the machine's own
architecture (``K`` disjoint blocks of ``N/K`` weights, sign hidden units, output
``f(tau) = sign(sum_l tau_l)`` for the committee, ``prod_l tau_l`` for the parity
machine), binary students, ``P = alpha N`` patterns with i.i.d. entries, labels
``sigma = f(sign(W~_l . xi_l))``.  By the Nishimori property the teacher is a uniform
sample of the version space (a *typical* solution of this ensemble), and its local
entropy

    S(d) = (1/N) E ln #{W : f(W, xi) = sigma for all patterns, W . W~ = p N},

``p = 1 - 2d``, is the Franz–Parisi potential of the teacher–student ensemble (as for
the perceptron, :mod:`wfm.theory.teacher_student`).  The same overlaps ``p``
(student–teacher) and ``q1`` (student–student) in every block, RS.

Derivation.  Gauge ``W~ = +1``.  In block ``l`` the teacher's field is
``y_l ~ N(0, 1)`` and a student replica's field is
``p y_l + sqrt(q1 - p^2) v_l + sqrt(1 - q1) eta_l`` (``v_l`` shared by the replicas,
``eta_l`` their own).  Given the shared part ``w_l = p y_l + sqrt(q1 - p^2) v_l``
(``w_l ~ N(0, q1)``), the teacher's hidden unit is ``+1`` with probability
``Phi(p w_l / sqrt(q1 (q1 - p^2)))`` and a student's with probability
``Phi(w_l / sqrt(1 - q1))``.  With ``w = sqrt(q1) z``::

    S(p) = extr_{q1, q1h, ph} [ -ph p - q1h (1 - q1)/2
                                + int Dt ln 2cosh(sqrt(q1h) t + ph) + alpha G_E ]

    G_E(p, q1) = E_{z in R^K} sum_{s = ±1} P_f^s(Phi(a z)) ln P_f^s(Phi(b z)),
    a = p / sqrt(q1 - p^2),   b = sqrt(q1 / (1 - q1)),

where ``P_f^s(h)`` is the probability that ``f(tau) = s`` for independent hidden
units with ``P(tau_l = +1) = h_l`` (committee: a Poisson-binomial tail; parity:
``(1 + s prod_l (2 h_l - 1))/2``).  ``K = 1`` is the perceptron's
``2 int_0^inf Dy int Dv ln H(c)`` (tested to 1e-10).  Saddle point::

    q1 = int Dt tanh^2(h),   p = int Dt tanh(h),   h = sqrt(q1h) t + ph,
    q1h = -2 alpha dG_E/dq1 (p fixed).

At the teacher–student (Gibbs) saddle point the Nishimori conditions hold,
``q1 = p = R`` and ``q1h = ph``: the curve is maximal there, at ``d* = (1 - R)/2``,
with the teacher–student entropy as value (RS is exact at that point).  Away from it
RS is an assumption.

Large ``K``: committee — the output field ``sum_l tau_l / sqrt K`` becomes Gaussian,
with teacher–student and student–student output overlaps ``(2/pi) arcsin p`` and
``(2/pi) arcsin q1``, so ``G_E`` is the perceptron's at those overlaps.  Parity —
``P_f^s -> 1/2`` for every ``p < 1`` and ``G_E = -ln 2``: ``S(d) = H2(d) - alpha ln 2``
(a student at any distance ``d > 0`` from the teacher is as good as a random one).

References: Schwarze & Hertz, Europhys. Lett. 20, 375 (1992) and Schwarze, J. Phys. A
26, 5781 (1993) (generalisation in tree committee machines); Hansel, Mato & Meunier,
Europhys. Lett. 20, 471 (1992) (parity machine); Engel & Van den Broeck, *Statistical
Mechanics of Learning* (CUP 2001), ch. 12; Franz & Parisi, J. Phys. I 5, 1401 (1995);
Huang & Kabashima, PRE 90, 052813 (2014) for the potential around a typical solution.

Numerics: the ``K``-dimensional expectation by the symmetric tensor trapezoidal rule
of :mod:`wfm.theory.machines` (sorted index tuples with multinomial weights; nodes
``z = s sinh u`` crowd at ``z = 0`` with ``s = min(1, 1/max(a, b))`` fixed by the
solution at the previous distance, so that ``G_E`` is a smooth function of ``q1`` at
fixed nodes); ``dG_E/dq1`` analytically (derivatives of ``P_f`` with respect to the
hidden-unit probabilities); the parity's ``ln P`` in log space.  The saddle point
at fixed ``p`` is a one-dimensional root in ``q1 in (p^2, 1)`` (``ph`` from
``p = <tanh h>``), by Brent's method.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize
from scipy.special import log_ndtr, ndtr

from ._results import LocalEntropyCurve
from .machines import _axis_nodes, _tuples
from .teacher_student import _energetic as _perceptron_ts_energetic
from .teacher_student import _entropic, _ph_of

__all__ = ["APPROXIMATION", "ts_machine_energetic", "ts_machine_curve"]

APPROXIMATION = (
    "RS (Franz-Parisi, reference = teacher, same overlaps in every block; exact at d*)"
)
_LOG2 = math.log(2.0)
_NODES = {1: 200, 2: 100, 3: 64, 4: 40, 5: 30, 6: 22, 7: 18}  # even: no node at 0


def _nodes(k, scale, n=None):
    """Symmetric tensor nodes: ``(z tuples (M, k), weights (M,))``."""
    n = n or _NODES.get(k, 16)
    z, w = _axis_nodes(1.0 / scale, n)
    idx, mult = _tuples(n, k)
    return z[idx], mult * np.prod(w[idx], axis=1)


def _majority(h):
    """``Prob[sum_l tau_l > 0]`` for independent ``tau_l = +1`` w.p. ``h_l`` (odd K).

    Poisson-binomial distribution of the number of ``+1`` units, by recursion.
    """
    m, k = h.shape
    dist = np.zeros((m, k + 1))
    dist[:, 0] = 1.0
    for j in range(k):
        hc = h[:, j : j + 1]
        new = dist * (1.0 - hc)
        new[:, 1 : j + 2] += dist[:, : j + 1] * hc
        dist = new
    return dist[:, (k + 1) // 2 :].sum(axis=1)


def _log_committee(x):
    """``(ln P^+, ln P^-)`` of the committee, hidden units ``+1`` w.p. ``Phi(x_l)``.

    ``P^+`` and ``P^- = 1 - P^+`` each from its own tail (no cancellation), floored
    at the smallest double.
    """
    tiny = np.finfo(float).tiny
    p_plus = _majority(ndtr(x))
    p_minus = _majority(ndtr(-x))
    return np.log(np.maximum(p_plus, tiny)), np.log(np.maximum(p_minus, tiny))


def _log_parity(x):
    """``(ln P^+, ln P^-)`` of the parity machine, ``P^s = (1 + s prod m_l)/2``.

    ``m_l = 2 Phi(x_l) - 1``; ``1 - prod |m_l|`` in log space through
    ``eps_l = 1 - |m_l| = 2 Phi(-|x_l|)`` (it underflows otherwise).
    """
    le = log_ndtr(-np.abs(x)) + _LOG2  # ln eps_l
    eps = np.exp(le)
    log_abs_prod = np.sum(np.log1p(-eps), axis=1)  # ln prod |m_l| <= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.where(eps > 1e-8, np.log(-np.log1p(-eps) / eps), 0.5 * eps)
    ln_neg = np.logaddexp.reduce(le + corr, axis=1)  # ln(-ln prod |m|)
    neg = np.exp(ln_neg)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(neg > 1e-10, -np.expm1(log_abs_prod) / neg, 1.0 - 0.5 * neg)
    log_small = ln_neg + np.log(ratio) - _LOG2  # ln (1 - prod|m|)/2
    log_big = np.log1p(np.exp(log_abs_prod)) - _LOG2  # ln (1 + prod|m|)/2
    positive = np.prod(np.sign(x), axis=1) >= 0  # sign of prod m
    log_plus = np.where(positive, log_big, log_small)
    return log_plus, np.where(positive, log_small, log_big)


_LOG_P = {"committee": _log_committee, "parity": _log_parity}


def _tie_gradient(kind, x):
    """``dP^+/dh_l`` at ``h = Phi(x)``: committee ``Prob[the others tie]``, parity
    ``prod_{k != l} m_k`` (``m = 2h - 1``)."""
    k = x.shape[1]
    out = np.empty_like(x)
    for ell in range(k):
        others = np.delete(x, ell, axis=1)
        if kind == "parity":
            out[:, ell] = np.prod(2.0 * ndtr(others) - 1.0, axis=1)
            continue
        h = ndtr(others)
        dist = np.zeros((x.shape[0], k))
        dist[:, 0] = 1.0
        for j in range(k - 1):
            new = dist * (1.0 - h[:, j : j + 1])
            new[:, 1 : j + 2] += dist[:, : j + 1] * h[:, j : j + 1]
            dist = new
        out[:, ell] = dist[:, (k - 1) // 2]
    return out


def _g_fixed_nodes(p, q1, kind, z, w):
    """``(G_E, dG_E/dq1)`` at fixed ``p`` on fixed nodes (module docstring).

    ``h_l = Phi(c z_l)`` with ``c = a`` (teacher) or ``b`` (student), so
    ``dh_l/dq1 = phi(c z_l) z_l dc/dq1`` and::

        dG/dq1 = E[ sum_l D_l(T) phi(a z_l) z_l a' (ln P^+(S) - ln P^-(S))
                    + sum_l D_l(S) phi(b z_l) z_l b' (P^+(T)/P^+(S) - P^-(T)/P^-(S)) ]

    with ``D_l = dP^+/dh_l`` (:func:`_tie_gradient`), ``P^- = 1 - P^+``.
    """
    a = p / math.sqrt(q1 - p * p)
    b = math.sqrt(q1 / (1.0 - q1))
    da = -0.5 * p * (q1 - p * p) ** -1.5
    db = 0.5 / (math.sqrt(q1) * (1.0 - q1) ** 1.5)
    lt_plus, lt_minus = _LOG_P[kind](a * z)
    ls_plus, ls_minus = _LOG_P[kind](b * z)
    g = w @ (np.exp(lt_plus) * ls_plus + np.exp(lt_minus) * ls_minus)
    phi_t = np.exp(-0.5 * (a * z) ** 2) / math.sqrt(2.0 * math.pi) * z * da
    phi_s = np.exp(-0.5 * (b * z) ** 2) / math.sqrt(2.0 * math.pi) * z * db
    term_t = np.sum(_tie_gradient(kind, a * z) * phi_t, axis=1) * (ls_plus - ls_minus)
    ratio = np.exp(lt_plus - ls_plus) - np.exp(lt_minus - ls_minus)
    term_s = np.sum(_tie_gradient(kind, b * z) * phi_s, axis=1) * ratio
    return float(g), float(w @ (term_t + term_s))


def _g_inf(p, q1, kind):
    """``K -> inf``: ``(G_E, dG_E/dq1)`` from the perceptron's at the output overlaps.

    The perceptron's ``dG/dQ1 = -I/(2 (1 - Q1))`` (heat equation, ``I`` its
    ``int R^2`` term), times ``dQ1/dq1 = (2/pi)/sqrt(1 - q1^2)``.
    """
    if kind == "parity":
        return -_LOG2, 0.0
    big_p, big_q = 2.0 / math.pi * math.asin(p), 2.0 / math.pi * math.asin(q1)
    g, i_r2 = _perceptron_ts_energetic(big_q, big_p)
    return g, -i_r2 / (2.0 * (1.0 - big_q)) * 2.0 / math.pi / math.sqrt(1.0 - q1 * q1)


def ts_machine_energetic(p, q1, kind, k, scale=None, n=None):
    """``(G_E(p, q1), dG_E/dq1)`` (module docstring).

    ``scale`` fixes the quadrature nodes (default from ``(p, q1)`` themselves);
    ``n`` nodes per axis.  The derivative is analytic (:func:`_g_fixed_nodes`,
    :func:`_g_inf`).
    """
    if not (p * p < q1 < 1.0):
        raise ValueError(f"need p^2 < q1 < 1, got p = {p}, q1 = {q1}")
    if math.isinf(k):
        return _g_inf(p, q1, kind)
    if scale is None:
        scale = _scale(p, q1)
    z, w = _nodes(int(k), scale, n)
    return _g_fixed_nodes(p, q1, kind, z, w)


def _scale(p, q1):
    """Node scale ``min(1, 1/max(a, b))``: the width of the integrand's features."""
    a = p / math.sqrt(q1 - p * p)
    b = math.sqrt(q1 / (1.0 - q1))
    return min(1.0, 1.0 / max(a, b))


def _solve_point(d, alpha, kind, k, t_guess=0.3, scale=None):
    """Saddle point at distance ``d``: root in ``q1`` of ``<tanh^2> - q1``.

    ``t_guess`` is the guess of ``t = (q1 - p^2)/(1 - p^2)`` in ``(0, 1)``.
    """
    p = 1.0 - 2.0 * d
    lo_q, hi_q = p * p, 1.0
    if scale is None:
        scale = _scale(p, lo_q + t_guess * (hi_q - lo_q))

    def parts(q1):
        g, dg = ts_machine_energetic(p, q1, kind, k, scale=scale)
        q1h = -2.0 * alpha * dg
        ph = _ph_of(p, q1h)
        g_s, m, m2 = _entropic(q1h, ph)
        return g, q1h, ph, g_s, m, m2

    def residual(t):
        q1 = lo_q + t * (hi_q - lo_q)
        return parts(q1)[5] - q1

    # residual > 0 at q1 -> p^2 (<tanh^2> > <tanh>^2) and < 0 at q1 -> 1; brackets
    # are searched near the previous solution first, and away from both ends
    # (q1 -> 1 drives ph out of range, q1 -> p^2 makes the teacher term a step)
    t0 = t_guess
    below = [t0 - 0.02, t0 - 0.1, 0.5 * t0, 0.1, 0.03, 0.01, 1e-3]
    above = [t0 + 0.02, t0 + 0.1, 0.5 * (1.0 + t0), 0.8, 0.95, 0.99, 0.999]
    t_lo = next((t for t in below if 0 < t < 1 and residual(t) > 0), None)
    t_hi = next((t for t in above if t_lo is not None and t_lo < t < 1
                 and residual(t) < 0), None)  # fmt: skip
    if t_lo is None or t_hi is None:
        raise ValueError(f"no saddle point bracketed at d = {d}")
    t = optimize.brentq(residual, t_lo, t_hi, xtol=1e-14, rtol=1e-14)
    q1 = lo_q + t * (hi_q - lo_q)
    g, q1h, ph, g_s, m, m2 = parts(q1)
    value = -ph * p - 0.5 * q1h * (1.0 - q1) + g_s + alpha * g
    res = max(abs(m2 - q1), abs(m - p))
    return {
        "q1": q1,
        "q1hat": q1h,
        "phat": ph,
        "value": float(value),
        "residual": float(res),
        "converged": bool(res < 1e-9),
        "t": t,
    }


def ts_machine_curve(alpha, distances, kind, k, progress=False) -> LocalEntropyCurve:
    """Teacher–student local entropy of a tree machine at the given distances.

    Parameters
    ----------
    alpha : float
        Patterns per weight.
    distances : array_like
        Distances in ``(0, 1/2)``.
    kind : {"committee", "parity"}
    k : int or math.inf
        Hidden units (committee: odd).
    progress : bool

    Returns
    -------
    LocalEntropyCurve
        ``kind="teacher"``, order parameters ``q1, q1hat, phat``.  Points are solved
        from the largest distance down, each bracketed near the previous solution.
    """
    from tqdm.auto import tqdm

    distances = np.asarray(distances, dtype=float)
    rows = {}
    t_prev = 0.3
    bar = tqdm(total=distances.size, disable=not progress, desc="teacher", unit="d")
    for d in sorted(set(distances.tolist()), reverse=True):
        try:
            r = _solve_point(d, alpha, kind, k, t_guess=t_prev)
            # nodes sized at the solution itself (the guess only sized the search)
            p = 1.0 - 2.0 * d
            r = _solve_point(d, alpha, kind, k, r["t"], scale=_scale(p, r["q1"]))
        except ValueError:  # no sign change: no saddle point found
            r = dict.fromkeys(("q1", "q1hat", "phat", "value"), math.nan)
            r.update(residual=math.inf, converged=False)
        rows[d] = r
        if r["converged"]:
            t_prev = r["t"]
        bar.update()
    bar.close()
    out = [rows[float(d)] for d in distances]
    model = "committee-tree" if kind == "committee" else "parity"
    approx = APPROXIMATION + (", K -> inf" if math.isinf(k) else "")
    return LocalEntropyCurve(
        kind="teacher",
        model=model,
        alpha=float(alpha),
        kappa=0.0,
        approximation=approx,
        distances=distances,
        local_entropy=np.array([r["value"] for r in out]),
        order_parameters={
            name: np.array([r[name] for r in out]) for name in ("q1", "q1hat", "phat")
        },
        converged=np.array([r["converged"] for r in out], dtype=bool),
        residual=np.array([r["residual"] for r in out]),
        reference={"k": float(k)},
    )
