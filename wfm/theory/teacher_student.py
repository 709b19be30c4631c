r"""Local entropy around the teacher: the teacher–student Franz–Parisi potential.

Binary teacher ``W~ in {±1}^N``, binary students, ``P = alpha N`` patterns with i.i.d.
entries, labels ``sigma = sign(W~ . xi)`` (margin ``kappa = 0``).  The teacher is a
solution, and by the Nishimori property the pair (teacher, labels) has the same law as
(uniform sample of the version space, labels): the teacher *is* a typical solution of
the teacher–student ensemble.  Its local entropy

    S(d) = (1/N) E ln #{ W : sign(W . xi) = sigma for all patterns, W . W~ = p N },
    p = 1 - 2 d,

is therefore the Franz–Parisi potential of that ensemble, and the reference needs no
replicas of its own: the constrained replicas see patterns labelled by the reference
itself, so the constraint and the source of the labels coincide.

Derivation (gauge ``W~ = +1``; ``n -> 0`` student replicas ``W^b``).  RS overlaps
``W^b . W~ = p`` (fixed, conjugate ``ph``) and ``W^b . W^b' = q1`` (conjugate
``q1h``).  The teacher's field ``y = W~ . xi/sqrt N ~ N(0, 1)`` gives the label
``sign y``; a student's field is ``u = p y + sqrt(q1 - p^2) v + sqrt(1 - q1) eta``.
Hence::

    S(p) = extr_{q1, q1h, ph} [ -ph p - q1h (1 - q1)/2
                                + int Dt ln 2cosh(sqrt(q1h) t + ph) + alpha G_E ]
    G_E  = 2 int_0^inf Dy int Dv ln H(c),   c = -(p y + sqrt(q1 - p^2) v)/sqrt(1 - q1)

Saddle-point equations (the ``q1`` derivative of ``G_E`` at fixed ``p`` by the heat
equation, as for the Gardner volume)::

    q1  = int Dt tanh^2(sqrt(q1h) t + ph),     p = int Dt tanh(sqrt(q1h) t + ph)
    q1h = alpha/(1 - q1) * 2 int_0^inf Dy int Dv [phi(c)/H(c)]^2

At the typical distance ``d* = (1 - R)/2`` (``R`` the RS/Nishimori teacher–student
overlap of :func:`wfm.theory.gardner.generalization_error_binary`) the solution is
``q1 = p = R``, ``q1h = ph = r`` and ``S(d*)`` equals the teacher–student entropy;
``S(d) <= H2(d)`` (and ``-> H2(d)`` as ``alpha -> 0``).  RS is exact at ``d*``
(Nishimori line); away from it the constrained measure is a tilted one and RS is an
assumption.  As for storage, the teacher's stabilities have a finite density at zero, so
the energetic cost is ``O(sqrt d)`` and ``S(d) < 0`` at small ``d``: the teacher is an
isolated solution.  References: Franz & Parisi, J. Phys. I 5, 1401 (1995); Huang &
Kabashima, PRE 90, 052813 (2014); Györgyi, PRA 41, 7097 (1990); Sompolinsky, Tishby &
Seung, PRL 65, 1683 (1990).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from ._gauss import half_line_nodes, log_2cosh, log_H, ratio_NH, uniform_nodes
from ._results import LocalEntropyCurve
from .gardner import generalization_error_binary

__all__ = ["APPROXIMATION", "ts_functional", "ts_local_entropy", "ts_binary_curve"]

APPROXIMATION = "RS (Franz-Parisi, reference = teacher; exact at d* on Nishimori line)"

_N_Y = 601
_N_V = 801


def _energetic(q1, p):
    """``(G_E, 2 int_0^inf Dy int Dv R(c)^2)`` for the sign channel of the teacher."""
    sig2 = q1 - p * p
    if not (sig2 >= -1e-14 and q1 < 1.0):
        return np.nan, np.nan
    y, wy = half_line_nodes(_N_Y, 10.0)
    v, wv = uniform_nodes(_N_V, 10.0)
    c = -(p * y[:, None] + np.sqrt(max(sig2, 0.0)) * v[None, :]) / np.sqrt(1.0 - q1)
    # half_line_nodes already integrates E f(|z|) = 2 int_0^inf Dy f(y)
    return float(wy @ (log_H(c) @ wv)), float(wy @ (ratio_NH(c) ** 2 @ wv))


def _entropic(q1h, ph):
    """``(int Dt ln 2cosh(h), <tanh h>, <tanh^2 h>)``, ``h = sqrt(q1h) t + ph``."""
    t, wt = uniform_nodes(_N_V, 10.0)
    h = np.sqrt(max(q1h, 0.0)) * t + ph
    th = np.tanh(h)
    return float(wt @ log_2cosh(h)), float(wt @ th), float(wt @ th**2)


def ts_functional(p, q1, q1h, ph, alpha):
    """The RS functional (module docstring) before extremisation."""
    g_s = _entropic(q1h, ph)[0]
    g_e = _energetic(q1, p)[0]
    return -ph * p - 0.5 * q1h * (1.0 - q1) + g_s + alpha * g_e


def _ph_of(p, q1h):
    """Solve ``<tanh(sqrt(q1h) t + ph)> = p`` for ``ph`` (monotone)."""
    return optimize.brentq(lambda x: _entropic(q1h, x)[1] - p, -40.0, 40.0, xtol=1e-14)


def ts_local_entropy(distance, alpha, guess=None, tol=1e-11, max_iter=500):
    """Solve the saddle point at one distance by damped iteration on ``q1``."""
    p = 1.0 - 2.0 * distance
    q1 = max(p * p + 1e-6, guess if guess is not None else p)
    converged = False
    q1h = ph = np.nan
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007
        q1h = alpha / (1.0 - q1) * _energetic(q1, p)[1]
        ph = _ph_of(p, q1h)
        q1_new = _entropic(q1h, ph)[2]
        if not np.isfinite(q1_new):
            break
        if abs(q1_new - q1) < tol:
            q1 = q1_new
            converged = True
            break
        q1 = max(0.5 * (q1 + q1_new), p * p)
    q1h = alpha / (1.0 - q1) * _energetic(q1, p)[1]
    ph = _ph_of(p, q1h)
    _, m, m2 = _entropic(q1h, ph)
    residual = max(abs(m2 - q1), abs(m - p))
    value = ts_functional(p, q1, q1h, ph, alpha)
    return {
        "q1": q1,
        "q1hat": q1h,
        "phat": ph,
        "value": float(value),
        "residual": float(residual),
        "converged": bool(converged and residual < 1e-9),
        "iterations": it,
    }


def ts_binary_curve(alpha, distances, progress=False) -> LocalEntropyCurve:
    """Teacher–student Franz–Parisi curve, by continuation from ``d* = (1-R)/2``.

    ``progress`` shows a bar over the distances (about a second each).
    """
    from tqdm.auto import tqdm

    distances = np.asarray(distances, dtype=float)
    gen = generalization_error_binary(alpha)
    if gen.phase != "poor":
        raise ValueError(
            f"alpha must be below the perfect-generalisation transition, got {alpha}"
        )
    d_star = 0.5 * (1.0 - gen.q)
    rows = {}
    bar = tqdm(total=distances.size, disable=not progress, desc="teacher",
               unit="d", leave=False)  # fmt: skip
    for side in (distances[distances < d_star], distances[distances >= d_star]):
        guess = gen.q
        for d in sorted(side, key=lambda x: abs(x - d_star)):
            r = ts_local_entropy(d, alpha, guess=guess)
            rows[d] = r
            bar.update()
            if r["converged"]:
                guess = r["q1"]
    bar.close()
    out = [rows[d] for d in distances]
    params = ("q1", "q1hat", "phat")
    return LocalEntropyCurve(
        kind="teacher",
        model="perceptron-binary",
        alpha=float(alpha),
        kappa=0.0,
        approximation=APPROXIMATION,
        distances=distances,
        local_entropy=np.array([r["value"] for r in out]),
        order_parameters={k: np.array([r[k] for r in out]) for k in params},
        converged=np.array([r["converged"] for r in out], dtype=bool),
        residual=np.array([r["residual"] for r in out]),
        reference={
            "teacher_overlap": gen.q,
            "teacher_student_entropy": gen.entropy,
            "d_star": d_star,
        },
    )
