r"""RS Gardner entropy and capacity of tree committee and tree parity machines.

Architecture (Barkai, Hansel & Kanter, PRL 65, 2312 (1990) for the parity machine;
Barkai, Hansel & Sompolinsky, PRA 45, 4146 (1992) and Engel, Köhler, Tschepke,
Vollmayr & Zippelius, PRA 45, 7590 (1992) for the committee machine): ``N`` weights
split into ``K`` disjoint blocks of ``N/K``; hidden unit ``l`` outputs
``tau_l = sign(W_l . xi_l)``; the output is ``sign(sum_l tau_l)`` (committee, ``K``
odd) or ``prod_l tau_l`` (parity).  Storage of ``P = alpha N`` random patterns with
random labels (``alpha`` per weight, as for ``wfm``'s ``committee-tree``/``parity``
models), sign activations, no margin.  Weights either binary (``W = ±1``; models
``"committee-tree"``, ``"parity"``) or spherical (``|W_l|^2 = N/K``; models
``"committee-tree-spherical"``, ``"parity-spherical"``, entropy = log volume fraction).

Replica-symmetric ansatz with the same overlap ``q`` in every block (the ansatz of the
papers above; permutation symmetry between hidden units is not an issue for tree
architectures).  Given the shared part of its field, hidden unit ``l`` of a replica
outputs ``+1`` with probability ``h_l = H(-sigma z_l)``, ``sigma = sqrt(q/(1-q))``,
``z_l ~ N(0, 1)`` i.i.d.; the energetic term is the log-probability that the output
is right::

    G_K(q) = E_z ln P(z),   P = Prob[sum_l tau_l > 0]              (committee)
                            P = (1 + prod_l (2 h_l - 1))/2          (parity)
                         (parity: G_K = -ln 2 + E ln(1 - prod_l m_l^2)/2, m = 2h - 1)

with ``tau_l`` independent, ``P(tau_l = +1) = h_l``.  ``K = 1`` is the perceptron.
Per weight, with ``q``, ``qh`` the same in every block::

    binary:     s = extr [-qh (1 - q)/2 + int Dz ln 2cosh(sqrt(qh) z) + alpha G_K(q)]
                q = E tanh^2(sqrt(qh) z),   qh = -2 alpha G_K'(q)
    spherical:  s = extr [ln(1 - q)/2 + q/(2 (1 - q)) + alpha G_K(q)]
                q/(2 (1 - q)^2) = -alpha G_K'(q)

Both are solved along ``q``: ``alpha(q)`` follows from the stationarity equation in
closed form (binary: ``qh(q)`` from inverting the entropic equation), so ``s(alpha)``
and the capacity are one-dimensional root searches in ``q`` (no nested solves).
Binary capacity: zero of ``s`` (Krauth–Mézard criterion).  Spherical capacity:
``q -> 1`` limit of ``alpha(q)``: as ``q -> 1``, ``ln P ~ -sigma^2 C(z)/2`` with
``C`` the smallest sum of ``z_l^2`` over sets of hidden units whose flip corrects
the output, so ``alpha_c = 1/E[C]``, from order statistics of half-normal variables (1-D
integrals): parity ``E C = E[min_l z_l^2]/2``; committee ``E C = sum_m 2^-K
binom(K, m) sum_{j <= m - (K-1)/2} E[X_(j:m)]`` over ``m >= (K+1)/2`` wrong units,
``X_(j:m)`` the ``j``-th smallest of ``m`` squared normals.

Large ``K``.  Committee: the output field ``sum tau_l/sqrt K`` becomes Gaussian with
replica overlap ``Q = (2/pi) arcsin q``, so ``G_inf(q) = int Dz ln H(-sqrt(Q/(1-Q)) z)``
(``k = math.inf``).  Parity: ``prod m_l^2 -> 0`` at any ``q < 1``, ``G_inf = -ln 2``:
``s = (1 - alpha) ln 2`` (binary, ``q = 0``, capacity 1, the information bound) and
an infinite RS capacity for spherical weights.

Numerics: the ``K``-dimensional expectation by a tensor trapezoidal rule in ``u``,
``z = s sinh u`` (``s = min(1, 1/sigma)``: nodes crowd where ``h(z)`` switches), reduced
by the permutation symmetry of the integrand to non-decreasing index tuples with
multinomial weights (``n = 64, 64, 64, 40, 32, 24, 20`` nodes per axis for
``K = 1..7``); the parity integrand in log space (``1 - |m|`` underflows).  ``K = 1``
matches the perceptron to 1e-12.  Finite ``K > 7`` is refused.
"""

from __future__ import annotations

import math
from functools import lru_cache
from itertools import combinations_with_replacement

import numpy as np
from scipy import integrate, optimize
from scipy.special import log_ndtr, ndtr

from ._gauss import log_2cosh, log_H, ratio_NH, uniform_nodes
from .gardner import GardnerResult

__all__ = [
    "MACHINE_MODELS",
    "machine_energetic",
    "gardner_machine",
    "capacity_machine",
    "spherical_capacity_limit",
]

MACHINE_MODELS = (
    "committee-tree",
    "parity",
    "committee-tree-spherical",
    "parity-spherical",
)
_MAX_K = 7
_LOG2 = math.log(2.0)


def _kind(model):
    return "committee" if model.startswith("committee") else "parity"


def _spherical(model):
    return model.endswith("spherical")


# ---------------------------------------------------------------- quadrature
_NODES = {1: 64, 2: 64, 3: 64, 4: 40, 5: 32, 6: 24, 7: 20}


@lru_cache(maxsize=16)
def _tuples(n, k):
    """Non-decreasing index tuples of length ``k`` over ``n`` nodes, multiplicities.

    The multiplicity of a sorted tuple is ``k!/prod(run lengths)!``; the product of
    the factorials is the product of each position's rank within its run.
    """
    idx = np.array(list(combinations_with_replacement(range(n), k)), dtype=np.int32)
    rank = np.ones(idx.shape[0])
    log_fact = np.zeros(idx.shape[0])
    for i in range(1, k):
        rank = np.where(idx[:, i] == idx[:, i - 1], rank + 1.0, 1.0)
        log_fact += np.log(rank)
    return idx, np.exp(math.lgamma(k + 1) - log_fact)


def _axis_nodes(sigma, n, width=9.0):
    s = 1.0 / max(sigma, 1.0)
    umax = np.arcsinh(width / s)
    u = np.linspace(-umax, umax, n)
    h = u[1] - u[0]
    z = s * np.sinh(u)
    w = h * s * np.cosh(u) * np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)
    w[0] *= 0.5
    w[-1] *= 0.5
    return z, w / w.sum()


# --------------------------------------------------------------- energetic
def _committee_p(h):
    """``P(sum tau > 0)`` and ``dP/dh_l`` for rows of unit probabilities ``h``."""
    m, k = h.shape

    def count_dist(cols):
        dist = np.zeros((m, len(cols) + 1))
        dist[:, 0] = 1.0
        for j, c in enumerate(cols):
            hc = h[:, c : c + 1]
            new = dist * (1.0 - hc)
            new[:, 1 : j + 2] += dist[:, : j + 1] * hc
            dist = new
        return dist

    full = count_dist(range(k))
    p = full[:, (k + 1) // 2 :].sum(axis=1)
    dp = np.empty_like(h)
    for ell in range(k):
        others = count_dist([c for c in range(k) if c != ell])
        dp[:, ell] = others[:, (k - 1) // 2]  # the others tie: unit l decides
    return p, dp


def _finite_energetic(q, kind, k):
    """``(G_K(q), G_K'(q))`` at finite ``K`` by the symmetric tensor rule."""
    sigma = math.sqrt(q / (1.0 - q))
    n = _NODES[k]
    z, w = _axis_nodes(sigma, n)
    idx, mult = _tuples(n, k)
    weight = mult * np.prod(w[idx], axis=1)
    zz = z[idx]
    dsig = 1.0 / (2.0 * sigma * (1.0 - q) ** 2)
    dh = np.exp(-0.5 * (sigma * zz) ** 2) / np.sqrt(2 * np.pi) * zz * dsig  # dh/dq
    if kind == "committee":
        h = ndtr(sigma * zz)
        p, dp = _committee_p(h)
        p = np.maximum(p, 1e-300)
        g = weight @ np.log(p)
        dg = weight @ (np.sum(dp * dh, axis=1) / p)
        return float(g), float(dg)
    # parity: G = -ln2 + E ln(1 - prod m^2)/2, m = 2 Phi(sigma z) - 1; everything in
    # log space: eps_l = 1 - |m_l| = 2 Phi(-sigma |z_l|) underflows at large sigma|z|
    az = np.abs(zz)
    le = log_ndtr(-sigma * az) + _LOG2  # ln eps
    eps = np.exp(le)
    lm2 = 2.0 * np.log1p(-eps)  # ln m^2 <= 0
    s = lm2.sum(axis=1)
    # ln(-ln m^2) = ln 2 + ln eps + ln(-log1p(-eps)/eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.where(eps > 1e-8, np.log(-np.log1p(-eps) / eps), 0.5 * eps)
    ln_neg_s = np.logaddexp.reduce(_LOG2 + le + corr, axis=1)  # ln(-s)
    neg_s = np.exp(ln_neg_s)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(neg_s > 1e-10, -np.expm1(s) / neg_s, 1.0 + 0.5 * s)
    log_one_minus = ln_neg_s + np.log(ratio)  # ln(1 - prod m^2)
    g = -_LOG2 + 0.5 * weight @ log_one_minus
    # dG/dq = (1/2) E[-e^s/(1 - e^s) ds/dq], ds/dq = sum_l 4 phi(sigma z) |z| dsig/|m|
    log_phi = -0.5 * (sigma * zz) ** 2 - 0.5 * math.log(2.0 * math.pi)
    terms = np.exp(
        np.log(4.0 * dsig * az) + log_phi - np.log1p(-eps) - log_one_minus[:, None]
    )
    dg = -0.5 * weight @ (np.exp(s) * terms.sum(axis=1))
    return float(g), float(dg)


def _perceptron_energetic(q):
    """``(int Dz ln H(-sigma z), d/dq)`` (the ``K = 1`` term), fine uniform grid."""
    z, w = uniform_nodes()
    sq, s1 = math.sqrt(q), math.sqrt(1.0 - q)
    u = -sq * z / s1
    g = float(w @ log_H(u))
    # d/dq ln H(u) = -R(u) du/dq, du/dq = -z/(2 sq s1^3)
    dg = float(w @ (ratio_NH(u) * z)) / (2.0 * sq * s1**3)
    return g, dg


def machine_energetic(q, kind, k):
    """``(G_K(q), dG_K/dq)`` for ``kind`` in {"committee", "parity"}, ``k`` or inf."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must lie in (0, 1), got {q}")
    if k == 1:
        return _perceptron_energetic(q)
    if math.isinf(k):
        if kind == "parity":
            return -_LOG2, 0.0
        big_q = 2.0 / math.pi * math.asin(q)
        g, dg = _perceptron_energetic(big_q)
        return g, dg * 2.0 / math.pi / math.sqrt(1.0 - q * q)
    return _finite_energetic(q, kind, int(k))


# ----------------------------------------------------------- entropic (binary)
def _entropic_binary(qhat):
    """``(E ln 2cosh(sqrt(qh) z), E tanh^2(sqrt(qh) z))``."""
    z, w = uniform_nodes()
    x = math.sqrt(qhat) * z
    return float(w @ log_2cosh(x)), float(w @ np.tanh(x) ** 2)


def _qhat_of_q(q):
    """Invert ``q = E tanh^2(sqrt(qh) z)`` (increasing in ``qh``)."""
    hi = 1.0
    while _entropic_binary(hi)[1] < q:
        hi *= 2.0
    return optimize.brentq(
        lambda x: _entropic_binary(x)[1] - q, 0.0, hi, xtol=1e-14, rtol=1e-14
    )


def _along_q(q, model, k):
    """``(alpha(q), s(q), qhat(q))`` on the RS saddle-point line."""
    g, dg = machine_energetic(q, _kind(model), k)
    if _spherical(model):
        alpha = -q / (2.0 * (1.0 - q) ** 2 * dg)
        s = 0.5 * math.log1p(-q) + 0.5 * q / (1.0 - q) + alpha * g
        return alpha, s, math.nan
    qhat = _qhat_of_q(q)
    alpha = -qhat / (2.0 * dg)
    s = -0.5 * qhat * (1.0 - q) + _entropic_binary(qhat)[0] + alpha * g
    return alpha, s, qhat


def _q_of_alpha(alpha, model, k, q_max=0.995):
    """Root of ``alpha(q) = alpha`` on the branch ``alpha(q)`` increasing to ``q -> 1``.

    Returns ``0.0`` for a parity machine below the smallest ``alpha`` of its
    non-trivial branch (there ``q = 0`` is the only RS solution).
    """
    lo = 1e-6
    if _kind(model) == "parity" and k >= 2:
        q_min, a_min = _parity_branch_start(model, k)
        if alpha < a_min:
            return 0.0
        lo = q_min
    hi = max(0.5, lo + 0.5 * (1.0 - lo))
    while _along_q(hi, model, k)[0] < alpha:
        lo, hi = hi, 1.0 - 0.5 * (1.0 - hi)
        if hi > q_max:
            raise ValueError(
                f"alpha = {alpha} is beyond the RS solution of {model} (k = {k})"
            )
    return optimize.brentq(
        lambda x: _along_q(x, model, k)[0] - alpha, lo, hi, xtol=1e-13, rtol=1e-13
    )


@lru_cache(maxsize=64)
def _parity_branch_start(model, k):
    """``(q_min, alpha_min)``: where the non-trivial parity branch ``alpha(q)`` starts.

    For ``K >= 2``, ``G_K'(0) = 0`` so ``q = 0`` solves the RS equations at every
    ``alpha``; the ``q > 0`` branch exists from the minimum of ``alpha(q)``.
    """
    grid = np.linspace(0.02, 0.98, 49)
    alphas = np.array([_along_q(q, model, k)[0] for q in grid])
    i = int(np.argmin(alphas))
    if i == 0:
        return 1e-6, float(_along_q(1e-6, model, k)[0])
    res = optimize.minimize_scalar(
        lambda q: _along_q(q, model, k)[0],
        bounds=(grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]),
        method="bounded",
        options={"xatol": 1e-8},
    )
    return float(res.x), float(res.fun)


def _check_k(model, k):
    if k is None:
        raise ValueError(f"model {model!r} needs k (number of hidden units)")
    if isinstance(k, bool) or not (
        isinstance(k, (int, np.integer)) or (isinstance(k, float) and math.isinf(k))
    ):
        raise ValueError(f"k must be a positive integer or math.inf, got {k!r}")
    if math.isinf(k):
        return math.inf
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if _kind(model) == "committee" and k % 2 == 0:
        raise ValueError(f"k must be odd for {model}, got {k}")
    if k > _MAX_K:
        raise ValueError(
            f"k must be <= {_MAX_K} (exact K-dimensional integrals) or math.inf, "
            f"got {k}"
        )
    return k


def gardner_machine(alpha, model, k) -> GardnerResult:
    """RS Gardner entropy of a tree committee/parity machine (module docstring)."""
    k = _check_k(model, k)
    approx = "RS" if not math.isinf(k) else "RS, K -> inf"
    if alpha == 0.0:
        value = 0.0 if _spherical(model) else _LOG2
        return GardnerResult(value, 0.0, 0.0, True, 0.0, 0, 0.0, 0.0, model, approx, k)
    if _kind(model) == "parity" and math.isinf(k):
        value = -alpha * _LOG2 + (0.0 if _spherical(model) else _LOG2)
        return GardnerResult(
            value, 0.0, 0.0, True, 0.0, 0, alpha, 0.0, model, approx, k
        )
    q = _q_of_alpha(alpha, model, k)
    if q == 0.0:  # parity below its non-trivial branch: the annealed value
        value = -alpha * _LOG2 + (0.0 if _spherical(model) else _LOG2)
        return GardnerResult(
            value, 0.0, 0.0, True, 0.0, 0, alpha, 0.0, model, approx, k
        )
    a_q, s, qhat = _along_q(q, model, k)
    residual = abs(a_q - alpha) / alpha
    return GardnerResult(
        s, q, qhat, residual < 1e-9, residual, 0, alpha, 0.0, model, approx, k
    )


@lru_cache(maxsize=64)
def capacity_machine(model, k) -> float:
    """RS capacity: zero of ``s`` (binary) or the ``q -> 1`` limit (spherical)."""
    k = _check_k(model, k)
    if _spherical(model):
        return spherical_capacity_limit(_kind(model), k)
    if _kind(model) == "parity" and k >= 2:
        # s = (1 - alpha) ln 2 on the q = 0 branch; capacity 1 if the non-trivial
        # branch only starts beyond it (checked, K = 2..7: alpha_min >= 1.25)
        if math.isinf(k) or _parity_branch_start(model, k)[1] > 1.0:
            return 1.0
    q0 = optimize.brentq(
        lambda x: _along_q(x, model, k)[1], 0.05, 0.98, xtol=1e-12, rtol=1e-12
    )
    return float(_along_q(q0, model, k)[0])


# ------------------------------------------------ spherical capacity (q -> 1)
def _order_stat_mean(j, m):
    """``E[X_(j:m)]``: ``j``-th smallest of ``m`` i.i.d. ``z^2``, ``z ~ N(0,1)``."""

    def survival(u):  # P(X_(j:m) > u^2), integrate over u with dt = 2u du
        f = 1.0 - 2.0 * float(ndtr(-u))  # P(z^2 <= u^2)
        return sum(math.comb(m, i) * f**i * (1.0 - f) ** (m - i) for i in range(j))

    return integrate.quad(lambda u: 2.0 * u * survival(u), 0.0, np.inf, limit=200)[0]


def spherical_capacity_limit(kind, k) -> float:
    """``alpha_c = 1/E[C]`` (module docstring); ``inf`` for ``K -> inf``."""
    if math.isinf(k):
        return math.inf
    if kind == "parity":
        return 1.0 / (0.5 * _order_stat_mean(1, k))
    cost = 0.0
    for m in range((k + 1) // 2, k + 1):
        flips = m - (k - 1) // 2
        cost += (
            math.comb(k, m)
            / 2.0**k
            * sum(_order_stat_mean(j, m) for j in range(1, flips + 1))
        )
    return 1.0 / cost
