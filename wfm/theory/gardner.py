r"""Replica-symmetric Gardner entropy of the perceptron: binary and spherical weights.

Storage problem: ``P = alpha N`` patterns with i.i.d. entries and random labels; a
solution has every stability ``Delta = sigma (W . xi)/sqrt(N) > kappa``. All quantities
are per weight (``1/N ln``) and natural logarithms.

Binary weights, ``W in {-1, +1}^N`` (Gardner & Derrida 1988; Krauth & Mézard 1989)::

    s(alpha) = extr_{q, qh} [ -qh (1 - q)/2 + int Dz ln 2cosh(sqrt(qh) z)
                              + alpha int Dz ln H(u) ],
    u = (kappa - sqrt(q) z)/sqrt(1-q)

with saddle-point equations (``phi/H`` is ``-d ln H/du``)::

    q  = int Dz tanh^2(sqrt(qh) z)
    qh = alpha/(1 - q) int Dz [phi(u)/H(u)]^2

``s(alpha -> 0) = ln 2``; ``s`` vanishes at the Krauth–Mézard capacity
``alpha_c ~ 0.833`` (kappa = 0); the RS solution itself stays finite up to
``alpha = 4/pi``, which is *not* the capacity of binary weights.

Spherical weights, ``|W|^2 = N`` (Gardner 1988). Convention: the entropy is the log of
the *fraction* of the sphere's surface occupied by solutions, so ``s(alpha=0) = 0`` and
``s <= 0``::

    s(alpha) = extr_q [ ln(1 - q)/2 + q/(2(1 - q)) + alpha int Dz ln H(u) ]
    q/(1 - q) = alpha int Dz [phi(u)/H(u)]^2

(the additive constant of the full sphere, ``(1 + ln 2 pi)/2``, is left out). Since the
solution space is convex, RS is exact; ``q -> 1`` at the capacity
``alpha_c(kappa) = 1 / int_{-kappa}^inf Dt (t + kappa)^2`` (``= 2`` at ``kappa = 0``).
Solving the saddle point for ``alpha`` at fixed ``q`` gives
``alpha(q) = q / ((1 - q) int Dz [phi(u)/H(u)]^2``, whose limit ``q -> 1`` is the same
``alpha_c``.

Teacher–student binary perceptron (Györgyi 1990; Sompolinsky, Tishby & Seung 1990):
Gibbs learning of a random ``±1`` teacher, RS with the Nishimori condition ``R = q``::

    s(alpha) = ln 2 + extr_{q, r} [ -r q/2 - r/2 + int Dz ln cosh(sqrt(r) z + r)
                                   + alpha Psi(q) ],  w = sqrt(q/(1-q)) z
    q = int Dz tanh(sqrt(r) z + r),   r = 2 alpha dPsi/dq,
    Psi(q) = 2 int Dz H(-w) ln H(-w)

and ``epsilon = arccos(q)/pi``. The poor-generalisation branch has ``s = 0`` at
``alpha ~ 1.245``, where the system jumps (first order) to perfect generalisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import integrate, optimize

from ._gauss import log_2cosh, log_H, ratio_NH, uniform_nodes

__all__ = [
    "GardnerResult",
    "GeneralizationResult",
    "binary_free_entropy",
    "binary_saddle_residual",
    "gardner_binary",
    "capacity_binary",
    "spherical_free_entropy",
    "gardner_spherical",
    "spherical_capacity",
    "spherical_capacity_from_rs",
    "spherical_alpha_of_q",
    "generalization_error_binary",
]


@dataclass(frozen=True)
class GardnerResult:
    """RS saddle point of the Gardner entropy.

    Attributes
    ----------
    value : float
        The RS entropy ``s(alpha)`` per weight (nats).
    q : float
        Overlap between two solutions, ``W . W'/N``.
    qhat : float
        Its conjugate (``nan`` for the spherical model, where it is eliminated).
    converged : bool
        Whether the saddle-point solver met its tolerance.
    residual : float
        Max absolute violation of the saddle-point equations at the returned point.
    iterations : int
        Solver iterations.
    alpha, kappa : float
        Load ``P/N`` and margin.
    model : str
        ``"perceptron-binary"`` or ``"perceptron-spherical"``.
    approximation : str
        Level of the theory (``"RS"``).
    k : int, float or None
        Hidden units of a tree committee/parity machine (``math.inf`` for the
        large-``K`` limit); ``None`` for perceptrons.
    """

    value: float
    q: float
    qhat: float
    converged: bool
    residual: float
    iterations: int
    alpha: float
    kappa: float
    model: str
    approximation: str = "RS"
    k: float | None = None

    @property
    def typical_distance(self) -> float:
        """Distance between two typical solutions, ``d* = (1 - q)/2`` (binary)."""
        return 0.5 * (1.0 - self.q)

    def attrs(self) -> dict:
        """Scalar parameters and results (for HDF5 attributes)."""
        return {
            "kind": "gardner",
            "model": self.model,
            "alpha": self.alpha,
            "kappa": self.kappa,
            "approximation": self.approximation,
            "value": self.value,
            "q": self.q,
            "qhat": self.qhat,
            "converged": bool(self.converged),
            "residual": self.residual,
            "iterations": self.iterations,
            **({} if self.k is None else {"k": float(self.k)}),
        }


# --------------------------------------------------------------------------- binary
def _energetic_terms(q: float, kappa: float):
    """``(int Dz ln H(u), int Dz [phi/H]^2(u))``, ``u = (k - sqrt q z)/sqrt(1-q)``."""
    z, w = uniform_nodes()
    u = (kappa - np.sqrt(q) * z) / np.sqrt(1.0 - q)
    return float(w @ log_H(u)), float(w @ ratio_NH(u) ** 2)


def _entropic_terms(qhat: float):
    """``(int Dz ln 2cosh(sqrt(qh) z), int Dz tanh^2(sqrt(qh) z))``."""
    z, w = uniform_nodes()
    h = np.sqrt(qhat) * z
    return float(w @ log_2cosh(h)), float(w @ np.tanh(h) ** 2)


def binary_free_entropy(q: float, qhat: float, alpha: float, kappa: float = 0.0):
    """The RS free-entropy functional of the binary perceptron (before extremisation).

    ``-qh (1-q)/2 + int Dz ln 2cosh(sqrt(qh) z) + alpha int Dz ln H(u)``; its
    stationary point in ``(q, qhat)`` is the Gardner entropy (module docstring).
    """
    g_s, _ = _entropic_terms(qhat)
    g_e, _ = _energetic_terms(q, kappa)
    return -0.5 * qhat * (1.0 - q) + g_s + alpha * g_e


def _qhat_of_q(q, alpha, kappa):
    return alpha / (1.0 - q) * _energetic_terms(q, kappa)[1]


def binary_saddle_residual(q, qhat, alpha, kappa=0.0):
    """Max violation of the two binary saddle-point equations at ``(q, qhat)``."""
    r1 = _entropic_terms(qhat)[1] - q
    r2 = _qhat_of_q(q, alpha, kappa) - qhat
    return max(abs(r1), abs(r2))


def gardner_binary(
    alpha: float,
    kappa: float = 0.0,
    *,
    tol: float = 1e-12,
    max_iter: int = 5000,
    damping: float = 0.5,
) -> GardnerResult:
    """RS Gardner entropy of the binary perceptron (module docstring for equations).

    Damped fixed-point iteration on ``q``; if that does not reach ``tol``, the
    fixed point is polished with Brent's method on ``q -> F(q) - q``.
    """
    model = "perceptron-binary"
    if alpha == 0.0:
        return GardnerResult(np.log(2.0), 0.0, 0.0, True, 0.0, 0, 0.0, kappa, model)

    def fmap(q):
        return _entropic_terms(_qhat_of_q(q, alpha, kappa))[1]

    q = 0.3
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007
        q_new = fmap(q)
        if abs(q_new - q) < tol:
            q = q_new
            converged = True
            break
        q = damping * q + (1.0 - damping) * q_new
    if not converged:
        lo, hi = max(q - 0.05, 1e-12), min(q + 0.05, 1.0 - 1e-9)
        try:
            q = optimize.brentq(lambda x: fmap(x) - x, lo, hi, xtol=tol)
            converged = True
        except ValueError:
            pass
    qhat = _qhat_of_q(q, alpha, kappa)
    residual = binary_saddle_residual(q, qhat, alpha, kappa)
    converged = converged and residual < 1e3 * tol + 1e-10
    value = binary_free_entropy(q, qhat, alpha, kappa)
    return GardnerResult(value, q, qhat, converged, residual, it, alpha, kappa, model)


@lru_cache(maxsize=64)
def capacity_binary(kappa: float = 0.0) -> float:
    """Zero of the RS entropy of the binary perceptron (Krauth–Mézard, 0.833 at k=0)."""

    def s(a):
        return gardner_binary(a, kappa).value

    hi = 4.0 / np.pi
    while s(hi) > 0:  # only for kappa < 0
        hi *= 1.5
    return optimize.brentq(s, 1e-3, hi, xtol=1e-10)


# ------------------------------------------------------------------------ spherical
def spherical_free_entropy(q: float, alpha: float, kappa: float = 0.0) -> float:
    """RS functional ``ln(1-q)/2 + q/(2(1-q)) + alpha int Dz ln H(u)`` (sphere)."""
    g_e, _ = _energetic_terms(q, kappa)
    return 0.5 * np.log1p(-q) + 0.5 * q / (1.0 - q) + alpha * g_e


def _spherical_ratio_integral(q: float, kappa: float) -> float:
    """``int Dz [phi(u)/H(u)]^2`` by adaptive quadrature (accurate up to q -> 1)."""
    sq, s1 = np.sqrt(q), np.sqrt(1.0 - q)

    def f(z):
        return (
            np.exp(-0.5 * z * z)
            / np.sqrt(2 * np.pi)
            * ratio_NH((kappa - sq * z) / s1) ** 2
        )

    z0 = kappa / sq
    w = 30.0 * s1 / sq  # width of the crossover of [phi/H]^2 around z0
    pts = [z0 - w, z0, z0 + w]
    val = 0.0
    edges = [-40.0, *pts, 40.0]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        val += integrate.quad(f, a, b, epsabs=0.0, epsrel=1e-12, limit=200)[0]
    return val


def spherical_alpha_of_q(q: float, kappa: float = 0.0) -> float:
    """Load at which the RS overlap of the spherical perceptron equals ``q``.

    ``alpha(q) = q / ((1-q) int Dz [phi(u)/H(u)]^2)``, from the saddle-point equation.
    """
    return q / ((1.0 - q) * _spherical_ratio_integral(q, kappa))


def spherical_capacity(kappa: float = 0.0) -> float:
    """Gardner capacity ``1 / int_{-kappa}^inf Dt (t+kappa)^2`` in closed form.

    ``int_{-k}^inf Dt (t+k)^2 = (1 + k^2) H(-k) + k phi(k)``.
    """
    phi = np.exp(-0.5 * kappa**2) / np.sqrt(2 * np.pi)
    big_h = np.exp(log_H(-kappa))
    return float(1.0 / ((1.0 + kappa**2) * big_h + kappa * phi))


def spherical_capacity_from_rs(kappa: float = 0.0, eps: float = 1e-8) -> float:
    """Capacity as the ``q -> 1`` limit of the RS solution, ``alpha(q = 1 - eps)``.

    ``alpha(q)`` approaches ``alpha_c`` with corrections ``O(sqrt(1 - q))``; a
    Richardson step on ``1 - q = eps, 4 eps`` removes the leading one.
    """
    a1 = spherical_alpha_of_q(1.0 - eps, kappa)
    a4 = spherical_alpha_of_q(1.0 - 4.0 * eps, kappa)
    return 2.0 * a1 - a4


def gardner_spherical(alpha: float, kappa: float = 0.0, *, tol=1e-13) -> GardnerResult:
    """RS Gardner entropy (log volume fraction) of the spherical perceptron.

    Solves ``q/(1-q) = alpha int Dz [phi/H]^2`` with Brent's method; ``alpha`` must be
    below the capacity (``q -> 1`` there and the entropy diverges to ``-inf``).
    """
    model = "perceptron-spherical"
    if alpha == 0.0:
        return GardnerResult(0.0, 0.0, np.nan, True, 0.0, 0, 0.0, kappa, model)

    def res(q):
        return q / (1.0 - q) - alpha * _energetic_terms(q, kappa)[1]

    qmax = 1.0 - 1e-7
    if res(qmax) <= 0:
        raise ValueError(
            f"alpha must be < spherical capacity {spherical_capacity(kappa):.6g}, "
            f"got {alpha}"
        )
    q, info = optimize.brentq(res, 0.0, qmax, xtol=tol, full_output=True)
    residual = abs(res(q)) * (1.0 - q)
    value = spherical_free_entropy(q, alpha, kappa)
    return GardnerResult(
        value,
        q,
        np.nan,
        bool(info.converged),
        residual,
        info.iterations,
        alpha,
        kappa,
        model,
    )


# -------------------------------------------------------------- teacher-student
@dataclass(frozen=True)
class GeneralizationResult:
    """Gibbs-learning generalisation error of the binary teacher–student perceptron.

    Attributes
    ----------
    alpha : float
    epsilon : float
        Generalisation error ``arccos(R)/pi`` (0 on the perfect-generalisation side).
    q : float
        Student–student overlap = student–teacher overlap ``R`` (Nishimori).
    qhat : float
        Conjugate of ``q``.
    entropy : float
        RS entropy of the version space on the poor-generalisation branch.
    phase : str
        ``"poor"`` (RS branch with ``R < 1``) or ``"perfect"`` (``R = 1``).
    converged : bool
    residual : float
    approximation : str
    """

    alpha: float
    epsilon: float
    q: float
    qhat: float
    entropy: float
    phase: str
    converged: bool
    residual: float
    approximation: str = "RS, Nishimori (Gibbs learning)"
    extra: dict = field(default_factory=dict)


def _ts_output(q: float):
    """``(Psi_out(q), dPsi_out/dq)`` of the sign channel."""
    z, w = uniform_nodes()
    sq = np.sqrt(q / (1.0 - q))
    lh = log_H(-sq * z)
    psi = 2.0 * float(w @ (np.exp(lh) * lh))
    # dPsi/dq = 2 int Dz ln H(-w) phi(w) dw/dq (the "+1" from d(H ln H) integrates to 0)
    phi_w = np.exp(-0.5 * (sq * z) ** 2) / np.sqrt(2.0 * np.pi)
    dpsi = float(w @ (z * phi_w * lh)) / (np.sqrt(q) * (1.0 - q) ** 1.5)
    return psi, dpsi


def _ts_prior(r: float):
    z, w = uniform_nodes()
    h = np.sqrt(r) * z + r
    return float(w @ (log_2cosh(h) - np.log(2.0))) - 0.5 * r, float(w @ np.tanh(h))


def _ts_solve(alpha: float, tol=1e-12, max_iter=20000, damping=0.5):
    q = 0.5
    it = 0
    converged = False
    for it in range(1, max_iter + 1):  # noqa: B007
        r = 2.0 * alpha * _ts_output(q)[1]
        q_new = _ts_prior(r)[1]
        if abs(q_new - q) < tol:
            q = q_new
            converged = True
            break
        q = damping * q + (1.0 - damping) * q_new
        q = min(q, 1.0 - 1e-12)
    r = 2.0 * alpha * _ts_output(q)[1]
    psi_p, q_check = _ts_prior(r)
    entropy = np.log(2.0) + psi_p + alpha * _ts_output(q)[0] - 0.5 * r * q
    return q, r, entropy, converged, abs(q_check - q), it


@lru_cache(maxsize=1)
def perfect_generalization_alpha() -> float:
    """Load where the RS poor-generalisation entropy vanishes (``~ 1.245``)."""
    return optimize.brentq(lambda a: _ts_solve(a)[2], 1.0, 1.45, xtol=1e-8)


def generalization_error_binary(alpha: float) -> GeneralizationResult:
    """RS generalisation error of Gibbs learning, binary teacher and student."""
    if alpha == 0.0:
        return GeneralizationResult(0.0, 0.5, 0.0, 0.0, np.log(2.0), "poor", True, 0.0)
    q, r, s, conv, res, _ = _ts_solve(alpha)
    if alpha >= perfect_generalization_alpha():
        return GeneralizationResult(
            alpha,
            0.0,
            1.0,
            np.inf,
            0.0,
            "perfect",
            True,
            0.0,
            extra={
                "rs_branch_q": q,
                "rs_branch_entropy": s,
                "rs_branch_converged": conv,
            },
        )
    eps = float(np.arccos(np.clip(q, -1.0, 1.0)) / np.pi)
    return GeneralizationResult(alpha, eps, q, r, s, "poor", conv, res)
